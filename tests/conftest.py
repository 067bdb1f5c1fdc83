"""Shared fixtures: small float32 pixel sets and the path to the team's real scenes."""

from pathlib import Path

import numpy as np
import pytest

from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene

# Real scenes live beside the project (never inside it); CI has them too.
SHARED_HSI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hsi"
# Team files that no fetcher downloads, and where they come from.
_NOT_FETCHABLE = {
    "HYDICE1.mat": "Auto-AD's MATLAB v7.3 copy of hydice.mat, from "
                   "https://github.com/RSIDEA-WHU2020/Auto-AD (data/)",
}


def missing_scene_reason(filename):
    """Skip reason for a real scene file absent from ../shared/data/hsi: how to get it."""
    where = f"real scene {filename} not found in {SHARED_HSI}"
    if filename in _NOT_FETCHABLE:
        return f"{where}; it is {_NOT_FETCHABLE[filename]}: place it there"
    stem = filename.removesuffix(".mat")
    return (
        f"{where}; download it there with python -c \"from sksvdd.datasets import "
        f"fetch_scene; fetch_scene('{stem}', data_home='{SHARED_HSI}')\" (needs pooch: "
        "pip install -e '.[data]'), or place the team's copy there"
    )


def real_scene_file(filename):
    """Path of ``filename`` in ../shared/data/hsi, or skip saying how to get it."""
    path = SHARED_HSI / filename
    if not path.is_file():
        pytest.skip(missing_scene_reason(filename))
    return path


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
        pytest.skip(
            f"real HSI scenes not found at {SHARED_HSI}; download them there with "
            f"sksvdd.datasets.fetch_scene(name, data_home='{SHARED_HSI}') (fetch_abu, "
            "fetch_san_diego, ...; needs pooch: pip install -e '.[data]'), or place the "
            "team's copies there"
        )
    return SHARED_HSI
