"""Hyperspectral scenes: file loading, cube helpers and a built-in scene."""
