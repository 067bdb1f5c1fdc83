"""Hyperspectral scenes: file loading, cube helpers and a built-in scene."""

# Lazy attributes (PEP 562, lazy_loader): `sksvdd info` imports the readers
# only, not scikit-learn and SciPy's ndimage, which the synthetic scene needs.
import lazy_loader as _lazy

__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__,
    submod_attrs={
        "_cube": ["cube_to_pixels", "pixels_to_image"],
        "_io": ["load_scene"],
        "_synthetic": ["load_endmembers", "make_hyperspectral_scene"],
    },
)


def __dir__():
    # The module's own names (as a plain dir() shows them) and the lazy ones.
    return sorted(set(globals()) | set(_lazy_dir()))


__all__ = [
    "cube_to_pixels",
    "load_endmembers",
    "load_scene",
    "make_hyperspectral_scene",
    "pixels_to_image",
]
