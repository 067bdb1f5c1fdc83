"""Tests of sksvdd.parallel: cluster grid search, out-of-core scoring and fitting."""

import pickle
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from sksvdd import (
    DeepSVDDDetector,
    DualWindowResidual,
    ImageDetector,
    RXDetector,
    make_default_detector,
)
from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
from sksvdd.metrics import anomaly_scorer

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sksvdd.parallel import (  # after the importorskip guards
    _MemmapFile,
    fit_out_of_core,
    predict_cube,
    score_cube,
)


@pytest.fixture(scope="module")
def cube30():
    """(cube, labels) of the built-in scene at 30x30 pixels, 180 bands."""
    scene = make_hyperspectral_scene(n_rows=30, n_cols=30, random_state=0)
    return scene.cube, scene.mask.ravel().astype(int)


@pytest.fixture(scope="module")
def pipeline(cube30):
    cube, _ = cube30
    return Pipeline([("detector", DeepSVDDDetector(random_state=0, max_epochs=2))]).fit(cube_to_pixels(cube))


@pytest.fixture(scope="module")
def client():
    """A 2-process LocalCluster, not installed as the default scheduler.

    ``set_as_default=False`` keeps the other tests on Dask's threaded
    scheduler; the tests here pass the client explicitly.
    """
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _as_source(kind, cube, tmp_path):
    """``cube`` as an array of the given kind, written under ``tmp_path`` if on disk."""
    if kind == "numpy":
        return cube
    if kind == "dask":
        return da.from_array(cube, chunks=(8, 13, -1))
    if kind == "dask-band-chunks":
        return da.from_array(cube, chunks=(16, 16, 50))
    if kind == "memmap":
        mm = np.memmap(tmp_path / "cube.f32", dtype=cube.dtype, mode="w+", shape=cube.shape)
        mm[:] = cube
        mm.flush()
        return np.memmap(tmp_path / "cube.f32", dtype=cube.dtype, mode="r", shape=cube.shape)
    if kind == "h5py":
        with h5py.File(tmp_path / "cube.h5", "w") as f:
            f.create_dataset("cube", data=cube, chunks=(8, 8, cube.shape[2]))
        # Read-only, as distributed requires to ship an HDF5 dataset to workers.
        return h5py.File(tmp_path / "cube.h5", "r")["cube"]
    if kind == "zarr":
        zarr = pytest.importorskip("zarr")
        z = zarr.open_array(
            tmp_path / "cube.zarr", mode="w", shape=cube.shape, dtype=cube.dtype,
            chunks=(10, 10, cube.shape[2]),
        )
        z[:] = cube
        return z
    raise ValueError(kind)


SOURCES = ["numpy", "dask", "dask-band-chunks", "memmap", "h5py", "zarr"]


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("chunks", ["auto", (7, 11)])
def test_score_cube_equals_in_memory_scores(kind, chunks, cube30, pipeline, tmp_path):
    cube, _ = cube30
    scores = score_cube(pipeline, _as_source(kind, cube, tmp_path), chunks=chunks)
    assert isinstance(scores, da.Array)
    assert scores.shape == cube.shape[:2] and scores.dtype == np.float64
    expected = pipeline.score_samples(cube_to_pixels(cube)).reshape(cube.shape[:2])
    np.testing.assert_array_equal(scores.compute(), expected)


def test_score_cube_blocks(cube30, pipeline):
    cube, _ = cube30
    assert score_cube(pipeline, cube, chunks=(7, 11)).chunks == ((7, 7, 7, 7, 2), (11, 11, 8))
    # A Dask array keeps its spatial blocks; its band blocks are merged.
    x = da.from_array(cube, chunks=(10, 15, 60))
    assert score_cube(pipeline, x).chunks == ((10, 10, 10), (15, 15))


@pytest.mark.parametrize("kind", ["numpy", "h5py"])
def test_predict_cube_equals_predict(kind, cube30, pipeline, tmp_path):
    cube, _ = cube30
    labels = predict_cube(pipeline, _as_source(kind, cube, tmp_path), chunks=(9, 9)).compute()
    expected = pipeline.predict(cube_to_pixels(cube)).reshape(cube.shape[:2])
    assert labels.dtype == expected.dtype
    np.testing.assert_array_equal(labels, expected)
    assert set(np.unique(labels)) == {-1, 1}


@pytest.mark.parametrize(
    "estimator", [RXDetector(), IsolationForest(n_estimators=20, random_state=0)],
    ids=["RX", "IsolationForest"],
)
def test_score_cube_other_detectors(estimator, cube30):
    cube, _ = cube30
    X = cube_to_pixels(cube)
    estimator.fit(X)
    scores = score_cube(estimator, cube, chunks=(8, 8)).compute()
    np.testing.assert_allclose(scores.ravel(), estimator.score_samples(X), rtol=1e-12)
    labels = predict_cube(estimator, cube, chunks=(8, 8)).compute()
    np.testing.assert_array_equal(labels.ravel(), estimator.predict(X))


def test_score_cube_validates(cube30, pipeline):
    cube, _ = cube30
    with pytest.raises(ValueError, match="160 bands but Pipeline was fitted on 180"):
        score_cube(pipeline, cube[:, :, :160])
    with pytest.raises(ValueError, match="3-D array"):
        score_cube(pipeline, cube_to_pixels(cube))
    with pytest.raises(ValueError, match="chunks must be"):
        score_cube(pipeline, cube, chunks=(8,))
    with pytest.raises(NotFittedError):
        score_cube(DeepSVDDDetector(), cube)
    with pytest.raises(NotFittedError):
        predict_cube(Pipeline([("detector", DeepSVDDDetector())]), cube)


def test_memmap_source_pickles_as_a_path(tmp_path):
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=(500, 40, 8))
    mm[:] = np.arange(mm.size, dtype=np.float32).reshape(mm.shape)
    mm.flush()
    source = _MemmapFile.wrap(mm)
    assert isinstance(source, _MemmapFile)
    assert len(pickle.dumps(source)) < 1000 < len(pickle.dumps(mm))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(source))[3:7, ::3], mm[3:7, ::3])
    # A slice of a memmap still carries the original's offset: used as is.
    assert _MemmapFile.wrap(mm[10:]) is not None and not isinstance(
        _MemmapFile.wrap(mm[10:]), _MemmapFile
    )


def test_score_cube_on_distributed_cluster(cube30, pipeline, client, tmp_path):
    cube, _ = cube30
    expected = pipeline.score_samples(cube_to_pixels(cube)).reshape(cube.shape[:2])
    for kind in ("numpy", "memmap", "h5py"):
        scores = score_cube(pipeline, _as_source(kind, cube, tmp_path), chunks=(10, 10))
        np.testing.assert_array_equal(scores.compute(scheduler=client), expected)


def test_score_cube_image_detector_on_distributed_cluster(scene40, image_detector, client,
                                                         tmp_path):
    cube = scene40
    scores = score_cube(image_detector, _as_source("h5py", cube, tmp_path), chunks=(10, 10))
    np.testing.assert_array_equal(
        scores.compute(scheduler=client), image_detector.score_samples(cube)
    )


def _grid_search(n_jobs):
    return GridSearchCV(
        Pipeline([("detector", DeepSVDDDetector(random_state=0, max_epochs=2))]),
        {"detector__nu": [0.05, 0.2]},
        scoring=anomaly_scorer("roc_auc"),
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )


def test_grid_search_on_dask_equals_local(cube30, client):
    cube, y = cube30
    X = cube_to_pixels(cube)
    local = _grid_search(n_jobs=None).fit(X, y)
    with joblib.parallel_backend("dask", client=client), \
            distributed.get_task_stream(client=client) as tasks:
        remote = _grid_search(n_jobs=-1).fit(X, y)
    assert len(tasks.data) >= 6  # the 2 x 3 fits ran on the cluster
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(
        remote.best_estimator_.score_samples(X), local.best_estimator_.score_samples(X)
    )


def test_cross_validate_on_dask_equals_local(cube30, client):
    cube, y = cube30
    X = cube_to_pixels(cube)
    kwargs = {
        "scoring": {"auc": anomaly_scorer("roc_auc"), "ap": anomaly_scorer("average_precision")},
        "cv": StratifiedKFold(3, shuffle=True, random_state=0),
    }
    est = Pipeline([("detector", DeepSVDDDetector(random_state=0, max_epochs=2))])
    local = cross_validate(est, X, y, **kwargs)
    with joblib.parallel_backend("dask", client=client):
        remote = cross_validate(est, X, y, n_jobs=-1, **kwargs)
    for key in ("test_auc", "test_ap"):
        np.testing.assert_array_equal(remote[key], local[key])


def _fit_source(kind, X, tmp_path, cube_shape):
    """Pixels ``X`` stored as the given kind; ``-cube`` kinds store the (rows, cols, bands) cube."""
    data = X.reshape(cube_shape) if kind.endswith("-cube") else X
    kind = kind.removesuffix("-cube")
    if kind == "memmap":
        mm = np.memmap(tmp_path / "X.bin", dtype=data.dtype, mode="w+", shape=data.shape)
        mm[:] = data
        mm.flush()
        return mm
    if kind == "h5py":
        f = h5py.File(tmp_path / "X.h5", "w")
        return f.create_dataset("X", data=data, chunks=(16,) + data.shape[1:])
    if kind == "dask":
        return da.from_array(data, chunks=(7,) + data.shape[1:-1] + (-1,))
    return data


@pytest.mark.parametrize(
    "kind", ["memmap", "memmap-cube", "h5py", "h5py-cube", "dask-cube", "numpy"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_out_of_core_equals_fit(kind, dtype, cube30, tmp_path):
    cube, _ = cube30
    X = cube_to_pixels(cube)[:, ::6].astype(dtype)  # 30 bands keep the test quick
    params = {"max_epochs": 2, "sample_n": 300, "batch_size": 64, "patience": None,
              "random_state": 0}
    data = _fit_source(kind, X, tmp_path, cube.shape[:2] + (X.shape[1],))

    streamed = fit_out_of_core(DeepSVDDDetector(**params), data, chunk_rows=100)
    ref = DeepSVDDDetector(**params).fit(X)

    np.testing.assert_array_equal(streamed.score_samples(X), ref.score_samples(X))
    assert streamed.offset_ == ref.offset_
    np.testing.assert_array_equal(streamed.center_, ref.center_)
    assert streamed.radius_ == ref.radius_
    assert [h["loss"] for h in streamed.history_] == [h["loss"] for h in ref.history_]
    assert streamed.n_features_in_ == 30 and streamed.n_iter_ == 2


def test_fit_out_of_core_phase_one_only_and_int_data(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 4000, size=(700, 12)).astype(np.uint16)  # raw sensor counts
    params = {"max_epochs": 0, "sample_n": 200, "random_state": 0}
    streamed = fit_out_of_core(DeepSVDDDetector(**params), _fit_source("h5py", X, tmp_path, None))
    ref = DeepSVDDDetector(**params).fit(X)
    np.testing.assert_array_equal(streamed.score_samples(X), ref.score_samples(X))
    assert streamed.offset_ == ref.offset_


@pytest.mark.parametrize("max_epochs", [0, 1])
def test_fit_out_of_core_rejects_non_finite(max_epochs, tmp_path):
    X = np.random.RandomState(0).normal(size=(500, 6)).astype(np.float32)
    X[321, 2] = np.nan  # outside the phase-1 sample below
    data = _fit_source("memmap", X, tmp_path, None)
    det = DeepSVDDDetector(max_epochs=max_epochs, sample_n=10, random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        fit_out_of_core(det, data)


def test_fit_out_of_core_validates(tmp_path):
    X = np.zeros((50, 4), dtype=np.float32)
    with pytest.raises(TypeError, match="DeepSVDDDetector"):
        fit_out_of_core(Pipeline([("detector", DeepSVDDDetector())]), X)
    with pytest.raises(ValueError, match="chunk_rows"):
        fit_out_of_core(DeepSVDDDetector(), X, chunk_rows=0)
    with pytest.raises(ValueError, match="2-D .* or 3-D"):
        fit_out_of_core(DeepSVDDDetector(), np.zeros(10))
    with pytest.raises(ValueError, match="nu"):
        fit_out_of_core(DeepSVDDDetector(nu=2.0), X)


def test_fit_then_score_large_cube_pipeline(cube30, tmp_path):
    """The out-of-core workflow end to end: fit from HDF5, score the same file lazily."""
    cube, _ = cube30
    f = h5py.File(tmp_path / "scene.h5", "w")
    dset = f.create_dataset("cube", data=cube, chunks=(10, 10, cube.shape[2]))
    det = fit_out_of_core(DeepSVDDDetector(max_epochs=1, random_state=0), dset, chunk_rows=256)
    scores = score_cube(det, dset, chunks=(15, 15)).compute()
    np.testing.assert_array_equal(scores.ravel(), det.score_samples(cube_to_pixels(cube)))


def test_import_without_dask():
    """``import sksvdd.parallel`` works without Dask; scoring says how to install it."""
    code = textwrap.dedent("""
        import doctest, sys
        import numpy as np
        sys.modules["dask"] = sys.modules["dask.array"] = None  # as if not installed
        import sksvdd.parallel as par
        from sksvdd import RXDetector
        X = np.random.RandomState(0).normal(size=(200, 5))
        try:
            par.score_cube(RXDetector().fit(X), X.reshape(20, 10, 5))
        except ImportError as exc:
            assert "sksvdd[dask]" in str(exc), exc
        else:
            raise AssertionError("no ImportError")
        par.fit_out_of_core(par.DeepSVDDDetector(max_epochs=0, random_state=0), X)
        result = doctest.testmod(par, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, result
        print("ok", result.attempted)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    # Only fit_out_of_core's example runs; the Dask ones are skipped.
    assert out.stdout.startswith("ok")


def test_out_of_core_pipeline_workflow(cube30, tmp_path):
    """docs/scaling.md: unit-norm lazily, fit the detector out of core, score with a pipeline."""
    from sklearn.pipeline import Pipeline

    from sksvdd import PerPixelUnitNorm

    cube, _ = cube30
    unitnorm = PerPixelUnitNorm()  # stateless: nothing to fit
    normed = da.from_array(cube, chunks=(10, 10, -1)).map_blocks(
        lambda b: unitnorm.transform(b.reshape(-1, b.shape[2])).reshape(b.shape),
        dtype=cube.dtype,
    )
    normed.to_zarr(str(tmp_path / "normed.zarr"))
    stored = da.from_zarr(str(tmp_path / "normed.zarr"))
    det = fit_out_of_core(DeepSVDDDetector(max_epochs=2, random_state=0), stored)
    pipe = Pipeline([("unitnorm", unitnorm), ("detector", det)])
    scores = score_cube(pipe, cube, chunks=(12, 12)).compute()
    ref = Pipeline([
        ("unitnorm", PerPixelUnitNorm()),
        ("detector", DeepSVDDDetector(max_epochs=2, random_state=0)),
    ]).fit(cube_to_pixels(cube))
    np.testing.assert_array_equal(scores.ravel(), ref.score_samples(cube_to_pixels(cube)))


@pytest.mark.skipif(
    "warm_start" not in DeepSVDDDetector().get_params(), reason="no warm_start in this version"
)
def test_fit_out_of_core_warm_start(cube30, tmp_path):
    cube, _ = cube30
    X = cube_to_pixels(cube)[:, ::6]
    data = _fit_source("h5py", X, tmp_path, None)
    params = {"max_epochs": 1, "patience": None, "random_state": 0, "warm_start": True}
    streamed = fit_out_of_core(fit_out_of_core(DeepSVDDDetector(**params), data), data)
    ref = DeepSVDDDetector(**params).fit(X).fit(X)
    assert streamed.n_iter_ == ref.n_iter_ == 2
    np.testing.assert_array_equal(streamed.score_samples(X), ref.score_samples(X))


# --- Image-level detectors (ImageDetector), scored with a halo -----------------------------

# DualWindowResidual sums each window in a fixed order (or takes an order statistic), so a
# pixel's residual does not depend on where its block starts: image detectors are scored
# block-wise bit for bit.


@pytest.fixture(scope="module")
def scene40():
    """A 40 x 37 x 180 float32 cube: neither side a multiple of the test chunks."""
    return make_hyperspectral_scene(n_rows=40, n_cols=37, random_state=0).cube


@pytest.fixture(scope="module")
def image_detector(scene40):
    """The default detector with a 7/3 dual window (halo 3), fitted on the whole scene.

    The halo of the default 5/1 window would be 2; 3 makes the block-merging
    cases below (blocks of 1-2 rows) distinct from the halo-sized ones.
    """
    det = make_default_detector(random_state=0, max_epochs=1)
    det.set_params(residual__spatial__outer_window=7, residual__spatial__inner_window=3)
    return det.fit(scene40)


@pytest.mark.parametrize(
    "chunks", [(2, 5), (1, 1), (3, 3), (7, 11), (10, 10), (20, 37), (40, 5), (39, 36), "auto"],
)
def test_score_cube_image_detector_equals_whole_image(chunks, scene40, image_detector):
    cube = scene40
    scores = score_cube(image_detector, cube, chunks=chunks)
    assert scores.shape == cube.shape[:2] and scores.dtype == np.float64
    # Blocks smaller than the halo (3) are merged with a neighbour.
    if scores.numblocks[0] > 1:
        assert min(scores.chunks[0]) >= 3
    if scores.numblocks[1] > 1:
        assert min(scores.chunks[1]) >= 3
    np.testing.assert_array_equal(scores.compute(), image_detector.score_samples(cube))


@pytest.mark.parametrize("kind", ["dask", "dask-band-chunks", "memmap", "h5py", "zarr"])
def test_score_cube_image_detector_sources(kind, scene40, image_detector, tmp_path):
    cube = scene40
    scores = score_cube(image_detector, _as_source(kind, cube, tmp_path), chunks=(9, 8))
    np.testing.assert_array_equal(scores.compute(), image_detector.score_samples(cube))


@pytest.mark.parametrize("background", ["median", "mean"])
@pytest.mark.parametrize("chunks", [(2, 5), (7, 11), (13, 37)])
def test_score_cube_spatial_halo_is_exact_with_float64_detector(chunks, background, scene40):
    """With a float64 detector (RX) too: a wrong neighbour or a block-edge reflection
    would show. (RX's own matrix products round differently for different numbers of rows,
    by an ulp, so RX scores are compared to 1e-12, as in test_score_cube_other_detectors.)"""
    cube = scene40.astype(np.float64)
    det = ImageDetector(spatial=DualWindowResidual(background=background),
                        detector=RXDetector()).fit(cube)
    scores = score_cube(det, cube, chunks=chunks).compute()
    np.testing.assert_allclose(scores, det.score_samples(cube), rtol=1e-12)


def test_predict_cube_image_detector_equals_predict(scene40, image_detector):
    cube = scene40
    labels = predict_cube(image_detector, cube, chunks=(7, 11)).compute()
    expected = image_detector.predict(cube)
    assert labels.dtype == expected.dtype
    np.testing.assert_array_equal(labels, expected)
    assert set(np.unique(labels)) == {-1, 1}


def test_score_cube_image_detector_without_spatial_context(scene40):
    det = ImageDetector(detector=RXDetector()).fit(scene40)
    scores = score_cube(det, scene40, chunks=(9, 8))
    np.testing.assert_allclose(scores.compute(), det.score_samples(scene40), rtol=1e-12)


def test_score_cube_image_smaller_than_halo(scene40, image_detector):
    """An axis shorter than twice the halo becomes one block, mirrored as in memory: exact."""
    cube = np.ascontiguousarray(scene40[:5, :4])
    scores = score_cube(image_detector, cube, chunks=(2, 2))
    assert scores.numblocks == (1, 1)
    np.testing.assert_array_equal(scores.compute(), image_detector.score_samples(cube))


def test_score_cube_image_detector_validates(scene40, image_detector):
    cube = scene40
    with pytest.raises(ValueError, match="160 bands but FusionDetector was fitted on 180"):
        score_cube(image_detector, cube[:, :, :160])
    with pytest.raises(ValueError, match="160 bands but FusionDetector was fitted on 180"):
        predict_cube(image_detector, cube[:, :, :160])
