"""Shared fixtures: small float32 pixel sets and the path to the team's real scenes."""

from pathlib import Path

import numpy as np
import pytest

from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene

# Real scenes live beside the project (never inside it); CI has them too.
SHARED_HSI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hsi"


@pytest.fixture(scope="session")
def blobs():
    """(X, y): 600 normal pixels in 12 bands plus 12 shifted anomalies, float32."""
    rng = np.random.RandomState(0)
    normal = rng.normal(size=(600, 12))
    anomalies = rng.normal(size=(12, 12)) + 5.0
    X = np.vstack([normal, anomalies]).astype(np.float32)
    y = np.r_[np.zeros(600, dtype=int), np.ones(12, dtype=int)]
    return X, y


@pytest.fixture(scope="session")
def scene():
    """The built-in scene at 40x40 pixels: Bunch(cube, mask, wavelengths, ...)."""
    return make_hyperspectral_scene(n_rows=40, n_cols=40, random_state=0)


@pytest.fixture(scope="session")
def scene_pixels(scene):
    """(X, y) pixels of the small built-in scene; y = 1 for anomaly pixels."""
    return cube_to_pixels(scene.cube), scene.mask.ravel().astype(int)


@pytest.fixture(scope="session")
def shared_hsi():
    """Path of ../shared/data/hsi, or skip when the real scenes are absent."""
    if not SHARED_HSI.is_dir():
        pytest.skip(f"real HSI scenes not found at {SHARED_HSI} (only in the team's checkout)")
    return SHARED_HSI
