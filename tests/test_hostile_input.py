"""Hostile and odd input: property-based tests over every public estimator and load_scene.

Every case must end in a correct result or a clear ValueError / TypeError: never
another exception, a hang, NaN output or an output of the wrong shape.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.base import clone

from sksvdd import BandpassByWavelength, DeepSVDDDetector, PerPixelUnitNorm, RXDetector
from sksvdd.datasets import load_scene

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
F32_MAX = float(np.finfo(np.float32).max)
NUMERIC = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_]
# Small and quick, with batch_size and sample_n often above the number of pixels.
TINY_SVDD = dict(rep_dim=3, hidden=5, max_epochs=2, batch_size=16, sample_n=8, random_state=0)


@st.composite
def pixels(draw, max_rows=40, max_cols=6):
    """Pixel matrices of many dtypes and shapes, with the odd cases mixed in."""
    n = draw(st.integers(1, max_rows))
    d = draw(st.integers(1, max_cols))
    dtype = np.dtype(draw(st.sampled_from(NUMERIC)))
    if dtype.kind == "f":
        special = draw(st.booleans())
        elements = st.one_of(
            hnp.from_dtype(dtype, allow_nan=special, allow_infinity=special),
            st.floats(-1e3, 1e3, width=8 * dtype.itemsize),
            # Near and beyond the float32 limits (beyond only for float64).
            st.sampled_from([1e37, -3e38] + ([1e39, -1e300] if dtype.itemsize == 8 else [])),
        )
    else:
        elements = None
    X = draw(hnp.arrays(dtype, (n, d), elements=elements))
    trick = draw(st.sampled_from(["none", "duplicated", "constant-band", "fortran",
                                  "strided", "read-only"]))
    if trick == "duplicated":
        X[:] = X[0]
    elif trick == "constant-band":
        X[:, draw(st.integers(0, d - 1))] = X.flat[0]
    elif trick == "fortran":
        X = np.asfortranarray(X)
    elif trick == "strided":
        X = np.repeat(X, 2, axis=1)[:, ::2]
    elif trick == "read-only":
        X.setflags(write=False)
    return X


def _has_non_finite(X):
    return X.dtype.kind == "f" and not np.isfinite(X).all()


def _beyond_float32(X):
    finite = X[np.isfinite(X)].astype(np.float64) if X.dtype.kind == "f" else None
    return finite is not None and bool(np.any(np.abs(finite) > F32_MAX))


def _fits_or_refuses(est, X):
    """Fit; return False where a clear refusal is the right answer, True when fitted."""
    try:
        est.fit(X)
    except (ValueError, TypeError) as exc:
        if _has_non_finite(X):
            assert "NaN" in str(exc) or "infinity" in str(exc)
            return False
        if isinstance(est, DeepSVDDDetector) and _beyond_float32(X):
            assert "exceed float32 range" in str(exc)
            return False
        if isinstance(est, RXDetector) and np.abs(X.astype(np.float64)).max() > 1e150:
            assert "too large for a covariance" in str(exc)
            return False
        raise AssertionError(f"{type(est).__name__} refused valid input: {exc}") from exc
    assert not _has_non_finite(X), "non-finite input was accepted"
    assert not (isinstance(est, DeepSVDDDetector) and _beyond_float32(X))
    return True


def _check_outlier_output(est, X):
    scores = est.score_samples(X)
    assert scores.shape == (X.shape[0],) and scores.dtype == np.float64
    assert np.all(np.isfinite(scores)), scores
    labels = est.predict(X)
    assert labels.shape == (X.shape[0],) and set(np.unique(labels)) <= {-1, 1}
    assert np.isfinite(est.offset_)


@SETTINGS
@given(X=pixels())
def test_deep_svdd_on_odd_pixels(X):
    det = DeepSVDDDetector(**TINY_SVDD)
    if _fits_or_refuses(det, X):
        _check_outlier_output(det, X)


@SETTINGS
@given(X=pixels(max_rows=60, max_cols=8))
def test_rx_on_odd_pixels(X):
    rx = RXDetector()
    if _fits_or_refuses(rx, X):
        _check_outlier_output(rx, X)


@SETTINGS
@given(X=pixels(), center=st.booleans())
def test_unit_norm_on_odd_pixels(X, center):
    norm = PerPixelUnitNorm(center=center)
    if not _fits_or_refuses(norm, X):
        return
    Xt = norm.transform(X)
    assert Xt.shape == X.shape and Xt.dtype == (np.float32 if X.dtype == np.float32
                                                else np.float64)
    assert np.all(np.isfinite(Xt))
    X64 = X.astype(np.float64)
    if center:
        X64 = X64 - X64.mean(axis=1, keepdims=True)
    magnitude = np.abs(X.astype(np.float64)).max(axis=1)
    has_shape = np.abs(X64).max(axis=1) > 1e-6 * np.maximum(magnitude, 1)
    norms = np.linalg.norm(Xt.astype(np.float64), axis=1)
    np.testing.assert_allclose(norms[has_shape], 1.0, rtol=1e-3)


@pytest.mark.parametrize("X", [np.array([[1e155, 0.0]]), np.array([[1e20, 3e20]], np.float32)],
                         ids=["float64", "float32"])
def test_unit_norm_of_huge_rows_is_unit(X):
    Xt = PerPixelUnitNorm(center=False).fit_transform(X)
    np.testing.assert_allclose(np.linalg.norm(Xt.astype(np.float64), axis=1), 1.0, rtol=1e-5)


@SETTINGS
@given(X=pixels(), lo=st.floats(300, 1100), width=st.floats(0, 800))
def test_bandpass_on_odd_pixels(X, lo, width):
    wl = np.linspace(400.0, 1000.0, X.shape[1])
    bp = BandpassByWavelength(wavelengths=wl, min_wavelength_nm=lo, max_wavelength_nm=lo + width)
    keep = (wl >= lo) & (wl <= lo + width)
    try:
        bp.fit(X)
    except ValueError as exc:
        assert _has_non_finite(X) or (not keep.any() and "No band" in str(exc))
        return
    assert keep.any() and not _has_non_finite(X)
    Xt = bp.transform(X)
    assert Xt.shape == (X.shape[0], keep.sum())
    np.testing.assert_array_equal(Xt, np.asarray(X)[:, keep])


# --- dtypes and containers that must be refused ------------------------------------------


ALL = [DeepSVDDDetector(**TINY_SVDD), RXDetector(), PerPixelUnitNorm(),
       BandpassByWavelength(wavelengths=[400.0, 500.0, 600.0], min_wavelength_nm=450.0)]


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("make", [
    lambda X: X.astype(np.complex128) + 1j,
    lambda X: np.array([["a", "b", "c"]] * len(X)),
    lambda X: np.array([[{"k": 1}, 2.0, 3.0]] * len(X), dtype=object),
    lambda X: scipy.sparse.csr_matrix(X),
    lambda X: X[:, :, None],
    lambda X: X[:0],
], ids=["complex", "strings", "object-dicts", "sparse", "3d", "empty"])
def test_refused_inputs_raise_clear_errors(est, make):
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises((ValueError, TypeError)):
        clone(est).fit(make(X))
    fitted = clone(est).fit(X)
    if isinstance(est, BandpassByWavelength) and make(X).ndim == 2:
        # A column selector: like scikit-learn's selectors, transform passes some
        # 2-D containers (strings, objects, sparse) through with the columns kept.
        try:
            out = fitted.transform(make(X))
        except (ValueError, TypeError):
            return
        assert out.shape == (len(X), 2)
        return
    method = getattr(fitted, "score_samples", None) or fitted.transform
    with pytest.raises((ValueError, TypeError)):
        method(make(X))


def test_numeric_object_arrays_are_accepted():
    X = np.random.RandomState(0).normal(size=(30, 3))
    for est in ALL:
        out = clone(est).fit(X.astype(object))
        assert out is not None


@pytest.mark.parametrize("value", [1e39, -1e300])
def test_deep_svdd_refuses_values_beyond_float32(blobs, value):
    X, _ = blobs
    bad = X.astype(np.float64)
    bad[0, 0] = value
    with pytest.raises(ValueError, match="exceed float32 range"):
        DeepSVDDDetector(**TINY_SVDD).fit(bad)
    det = DeepSVDDDetector(**TINY_SVDD).fit(X)
    with pytest.raises(ValueError, match="exceed float32 range"):
        det.score_samples(bad)


def test_deep_svdd_scores_far_pixels_finitely(blobs):
    """Pixels near the float32 limit overflow inside the float32 network: rescored in float64."""
    X, _ = blobs
    det = DeepSVDDDetector(**TINY_SVDD).fit(X)
    far = np.vstack([X[:3], np.full((2, X.shape[1]), 3e38, dtype=np.float32)])
    scores = det.score_samples(far)
    assert np.all(np.isfinite(scores))
    np.testing.assert_array_equal(scores[:3], det.score_samples(X[:3]))
    assert scores[3] < scores[:3].min()


# --- load_scene ------------------------------------------------------------------------------


@SETTINGS
@given(
    cube=hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int16, np.uint16, np.bool_, np.complex64]),
        hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
    ),
    mask_shape=st.one_of(st.none(), hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)),
    n_wl=st.one_of(st.none(), st.integers(0, 6)),
)
def test_load_scene_on_odd_npz(tmp_path_factory, cube, mask_shape, n_wl):
    path = tmp_path_factory.mktemp("npz") / "scene.npz"
    arrays = {"data": cube}
    if mask_shape is not None:
        arrays["map"] = np.zeros(mask_shape, dtype=np.uint8)
    if n_wl is not None:
        arrays["wavelengths"] = np.linspace(400.0, 900.0, n_wl)
    np.savez(path, **arrays)
    try:
        scene = load_scene(path)
    except ValueError as exc:
        assert "scene.npz" in str(exc)
        return
    assert cube.ndim == 3 and cube.dtype.kind != "c"
    assert scene.cube.shape == cube.shape and scene.cube.dtype == np.float32
    assert scene.cube.flags.c_contiguous
    np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
    if scene.mask is not None:
        assert scene.mask.shape == cube.shape[:2] and scene.mask.dtype == bool
    if scene.wavelengths is not None:
        assert scene.wavelengths.shape == (cube.shape[2],)


@SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".npz", ".npy", ".mat", ".hdr"]))
def test_load_scene_on_garbage_bytes(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("garbage") / f"scene{suffix}"
    path.write_bytes(data)
    with pytest.raises((ValueError, ImportError)):
        load_scene(path)


def test_load_scene_on_garbage_mat_raises_value_error(tmp_path):
    path = tmp_path / "scene.mat"
    path.write_bytes(b"\x01\x01\x01\x01" + b"\x00" * 16)
    with pytest.raises(ValueError, match="scene.mat"):
        load_scene(path)


def test_load_scene_refuses_pickled_npy(tmp_path):
    path = tmp_path / "scene.npy"
    np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="scene.npy"):
        load_scene(path)


# --- threads and determinism ---------------------------------------------------------------


def test_concurrent_scoring_matches_sequential(scene_pixels):
    X, _ = scene_pixels
    det = DeepSVDDDetector(max_epochs=2, random_state=0).fit(X)
    rx = RXDetector().fit(X)
    chunks = [X[i::7] for i in range(7)] + [X] * 3
    for est in (det, rx):
        expected = [est.score_samples(c) for c in chunks]
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in range(3):
                got = list(pool.map(est.score_samples, chunks))
                for g, e in zip(got, expected):
                    np.testing.assert_array_equal(g, e)


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_same_random_state_is_bit_identical_across_thread_counts(blobs, restore_threads):
    X, _ = blobs
    results = []
    for threads in (1, 2, 1):
        torch.set_num_threads(threads)
        det = DeepSVDDDetector(max_epochs=4, batch_size=64, random_state=3).fit(X)
        results.append((det.score_samples(X), det.offset_, det.center_))
    for scores, offset, center in results[1:]:
        np.testing.assert_array_equal(scores, results[0][0])
        np.testing.assert_array_equal(center, results[0][2])
        assert offset == results[0][1]


@pytest.mark.parametrize("estimator", [
    DeepSVDDDetector(**TINY_SVDD), RXDetector(), PerPixelUnitNorm(),
    BandpassByWavelength(wavelengths=np.arange(400.0, 450.0, 10.0)),
], ids=lambda est: type(est).__name__)
def test_image_cube_to_pixel_estimator_names_the_ways_forward(estimator):
    cube = np.random.default_rng(0).normal(size=(4, 6, 5))
    with pytest.raises(ValueError) as info:
        clone(estimator).fit(cube)
    message = str(info.value)
    assert f"{type(estimator).__name__} works on pixels" in message
    assert "shape (4, 6, 5)" in message
    assert "sksvdd.datasets.cube_to_pixels(cube)" in message
    assert "sksvdd.ImageDetector" in message
    # The functions it names exist and are what it says: the pixels fit.
    from sksvdd.datasets import cube_to_pixels

    assert clone(estimator).fit(cube_to_pixels(cube)).n_features_in_ == 5


@pytest.mark.parametrize("estimator", [DeepSVDDDetector(**TINY_SVDD), RXDetector()],
                         ids=lambda est: type(est).__name__)
def test_image_cube_to_fitted_detector_is_refused_the_same_way(estimator):
    rng = np.random.default_rng(0)
    fitted = clone(estimator).fit(rng.normal(size=(30, 5)))
    with pytest.raises(ValueError, match="cube_to_pixels"):
        fitted.score_samples(rng.normal(size=(4, 6, 5)))
