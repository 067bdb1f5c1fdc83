"""Hyperspectral scenes: file loading (scenes, pixel masks), cube helpers, a built-in scene and public scenes."""

from ._cube import cube_to_pixels, pixels_to_image
from ._fetchers import (
    clear_data_home,
    fetch_abu,
    fetch_gulfport,
    fetch_hydice,
    fetch_san_diego,
    fetch_scene,
    get_data_home,
)
from ._io import load_mask, load_scene
from ._synthetic import load_endmembers, make_hyperspectral_scene

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
