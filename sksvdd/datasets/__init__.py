"""Hyperspectral scenes: file loading (scenes, pixel masks), cube helpers and a built-in scene."""

from ._cube import cube_to_pixels, pixels_to_image
from ._io import load_mask, load_scene
from ._synthetic import load_endmembers, make_hyperspectral_scene

__all__ = [
    "cube_to_pixels",
    "load_endmembers",
    "load_mask",
    "load_scene",
    "make_hyperspectral_scene",
    "pixels_to_image",
]
