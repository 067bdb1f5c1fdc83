"""Hyperspectral scenes: file loading (scenes, pixel masks), cube helpers, a built-in scene and public scenes."""

# Lazy attributes (PEP 562, lazy_loader): `sksvdd info` imports the readers
# only, not scikit-learn and SciPy's ndimage, which the synthetic scene needs.
import lazy_loader as _lazy

__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__,
    submod_attrs={
        "_cube": ["cube_to_pixels", "pixels_to_image"],
        "_fetchers": [
            "clear_data_home",
            "fetch_abu",
            "fetch_gulfport",
            "fetch_hydice",
            "fetch_san_diego",
            "fetch_scene",
            "get_data_home",
        ],
        "_io": ["load_mask", "load_scene"],
        "_synthetic": ["load_endmembers", "make_hyperspectral_scene"],
    },
)


def __dir__():
    # The module's own names (as a plain dir() shows them) and the lazy ones.
    return sorted(set(globals()) | set(_lazy_dir()))


__all__ = [
    "clear_data_home",
    "cube_to_pixels",
    "fetch_abu",
    "fetch_gulfport",
    "fetch_hydice",
    "fetch_san_diego",
    "fetch_scene",
    "get_data_home",
    "load_endmembers",
    "load_mask",
    "load_scene",
    "make_hyperspectral_scene",
    "pixels_to_image",
]
