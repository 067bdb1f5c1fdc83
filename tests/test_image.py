"""The image layer: DualWindowResidual on images, and ImageDetector on whole images."""

import joblib
import numpy as np
import pytest
from scipy import ndimage
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sksvdd import (
    BandpassByWavelength,
    DeepSVDDDetector,
    AttributeResidual,
    DualWindowResidual,
    FusionDetector,
    ImageDetector,
    PerPixelUnitNorm,
    RXDetector,
    load,
    make_default_detector,
    save,
)
from sksvdd.datasets import make_hyperspectral_scene

FAST = {"max_epochs": 2, "sample_n": 500}


def _ring_loop(cube, outer, inner, background):
    """The dual-window background by explicit loops over a reflected image."""
    r = outer // 2
    padded = np.pad(cube, ((r, r), (r, r), (0, 0)), mode="symmetric")
    out = np.empty_like(cube)
    keep = np.ones((outer, outer), dtype=bool)
    g = (outer - inner) // 2
    keep[g : g + inner, g : g + inner] = False
    for i in range(cube.shape[0]):
        for j in range(cube.shape[1]):
            ring = padded[i : i + outer, j : j + outer][keep]  # (n_ring, bands)
            if background == "mean":
                out[i, j] = ring.mean(axis=0)
            else:  # the upper of the two middle values of the even-sized ring
                out[i, j] = np.sort(ring, axis=0)[len(ring) // 2]
    return out


@pytest.fixture(scope="module")
def scene():
    return make_hyperspectral_scene(n_rows=30, n_cols=26, random_state=0)


# --- DualWindowResidual -----------------------------------------------------------------


@pytest.mark.parametrize("background", ["median", "mean"])
@pytest.mark.parametrize("outer, inner", [(3, 1), (7, 3), (5, 3), (5, 1)])
def test_dual_window_residual_matches_loop(outer, inner, background):
    cube = np.random.RandomState(0).normal(size=(9, 11, 4))
    out = DualWindowResidual(outer_window=outer, inner_window=inner,
                             background=background).fit_transform(cube)
    expected = cube - _ring_loop(cube, outer, inner, background)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("background", ["median", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dual_window_torch_path_matches_numpy(background, dtype):
    cube = np.random.RandomState(1).normal(size=(13, 9, 5)).astype(dtype)
    numpy_out = DualWindowResidual(background=background).fit_transform(cube)
    torch_out = DualWindowResidual(background=background, device="cpu").fit_transform(cube)
    assert torch_out.dtype == dtype
    if background == "median":  # an order statistic: the same numbers
        np.testing.assert_array_equal(torch_out, numpy_out)
    else:  # sums in another order: float64 rounding, then the input's dtype
        np.testing.assert_allclose(torch_out, numpy_out, rtol=1e-6 if dtype == np.float32
                                   else 1e-12, atol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (2, 2), (3, 5)])
def test_dual_window_torch_path_reflects_tiny_images_as_scipy(shape):
    cube = np.random.RandomState(2).normal(size=(*shape, 3))
    expected = DualWindowResidual().fit_transform(cube)
    np.testing.assert_array_equal(DualWindowResidual(device="cpu").fit_transform(cube), expected)


@pytest.mark.parametrize("n_jobs", [2, 3, -1])
def test_dual_window_median_threads_give_the_same_result(n_jobs):
    cube = np.random.RandomState(0).normal(size=(12, 10, 7)).astype(np.float32)
    one = DualWindowResidual().fit_transform(cube)
    many = DualWindowResidual(n_jobs=n_jobs).fit_transform(cube)
    np.testing.assert_array_equal(many, one)


def test_dual_window_median_background_ignores_a_neighbouring_target():
    # A two-pixel target: each pixel is in the other's ring. The mean lets the
    # neighbour leak into the background, the median does not.
    cube = np.ones((9, 9, 2))
    cube[4, 4] += 6.0
    cube[4, 5] += 6.0
    median = DualWindowResidual().fit_transform(cube)
    mean = DualWindowResidual(background="mean").fit_transform(cube)
    np.testing.assert_allclose(median[4, 4], [6.0, 6.0])
    np.testing.assert_allclose(mean[4, 4], [6.0 - 6.0 / 24] * 2)


def test_dual_window_residual_removes_smooth_background_and_keeps_target():
    rows, cols = np.mgrid[0:20, 0:20]
    background = np.stack([1.0 + 0.01 * rows, 2.0 + 0.02 * cols], axis=2)  # linear ramps
    cube = background.copy()
    cube[10, 10] += 5.0
    out = DualWindowResidual().fit_transform(cube.astype(np.float32))
    assert out.dtype == np.float32
    res = np.abs(out)
    assert res[10, 10].min() > 4.5
    far = np.ones((20, 20), dtype=bool)
    far[5:16, 5:16] = False  # pixels whose window does not reach the target
    far[:3], far[-3:], far[:, :3], far[:, -3:] = False, False, False, False  # reflected borders
    assert res[far].max() < 1e-5


def test_dual_window_takes_a_batch_and_a_list_of_images():
    rng = np.random.RandomState(3)
    batch = rng.normal(size=(3, 8, 9, 4))
    step = DualWindowResidual().fit(batch)
    out = step.transform(batch)
    assert out.shape == batch.shape
    for image, result in zip(batch, out):
        np.testing.assert_array_equal(result, step.transform(image))
    images = [rng.normal(size=(6, 7, 4)), rng.normal(size=(10, 5, 4))]
    listed = step.transform(images)
    assert isinstance(listed, list) and [r.shape for r in listed] == [(6, 7, 4), (10, 5, 4)]
    np.testing.assert_array_equal(listed[1], step.transform(images[1]))


def test_dual_window_output_depends_only_on_the_halo():
    # Changing pixels more than `halo` away leaves a pixel's residual unchanged.
    cube = np.random.RandomState(4).normal(size=(15, 15, 3))
    step = DualWindowResidual(outer_window=7, inner_window=3).fit(cube)
    changed = cube.copy()
    changed[:, 12:] += 100.0  # columns >= 12: more than halo=3 from column 8
    np.testing.assert_array_equal(step.transform(changed)[:, :9], step.transform(cube)[:, :9])


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"outer_window": 4}, np.ones((5, 5, 3)), "must be odd"),
        ({"outer_window": 3, "inner_window": 3}, np.ones((5, 5, 3)), "must be smaller"),
        ({"background": "max"}, np.ones((5, 5, 3)), "'background' parameter"),
        ({"outer_window": 2001}, np.ones((5, 5, 3)), "'outer_window' parameter"),
        ({}, np.ones((25, 3)), r"image of shape \(rows, cols, bands\).*pixels_to_image"),
        ({}, np.ones((0, 5, 3)), "at least one row"),
        ({}, [], "empty list"),
        ({}, [np.ones((4, 4, 3)), np.ones((4, 4, 2))], r"X\[1\] has 2 bands, expected 3"),
        ({"device": "tpu"}, np.ones((5, 5, 3)), "device='tpu'"),
    ],
)
def test_dual_window_residual_bad_input(params, X, match):
    with pytest.raises(ValueError, match=match):
        DualWindowResidual(**params).fit(X)


def test_image_input_with_nan_says_how_many_pixels_and_bands():
    cube = np.ones((6, 6, 4))
    cube[1, 2, 0] = np.nan
    cube[3, 3, 0] = np.inf
    cube[3, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity in 2 pixel\(s\) across 2 band"):
        DualWindowResidual().fit(cube)


def test_dual_window_transform_checks_bands():
    step = DualWindowResidual().fit(np.ones((5, 5, 3)))
    with pytest.raises(ValueError, match="has 4 bands, expected 3"):
        step.transform(np.ones((5, 5, 4)))


# --- ImageDetector ---------------------------------------------------------------------


def test_residual_branch_equals_the_pixel_detector_on_the_residual(scene):
    # The image layer must not change the residual detector's scores (the default before
    # the fused detector, and the default's residual branch): Deep SVDD's (random_state=0)
    # on the 5/1 ring-median residual, computed here independently with scipy.
    cube = scene.cube
    det = dict(make_default_detector(random_state=0, **FAST).fit(cube).detectors_)["residual"]
    footprint = np.ones((5, 5, 1), dtype=bool)
    footprint[2, 2] = False
    residual = cube.astype(np.float64) - ndimage.median_filter(
        cube, footprint=footprint, mode="reflect")
    pixels = residual.astype(cube.dtype).reshape(-1, cube.shape[2])
    pixel_det = DeepSVDDDetector(random_state=0, **FAST).fit(pixels)
    np.testing.assert_array_equal(
        det.score_samples(cube), pixel_det.score_samples(pixels).reshape(cube.shape[:2]))
    np.testing.assert_array_equal(
        det.predict(cube), pixel_det.predict(pixels).reshape(cube.shape[:2]))
    assert det.detector_.offset_ == pixel_det.offset_


def test_image_detector_maps_and_threshold(scene):
    cube = scene.cube
    det = ImageDetector(spatial=DualWindowResidual(), detector=RXDetector(contamination=0.02))
    assert det.fit(cube) is det
    scores = det.score_samples(cube)
    decision = det.decision_function(cube)
    labels = det.predict(cube)
    assert scores.shape == decision.shape == labels.shape == cube.shape[:2]
    np.testing.assert_allclose(decision, scores - det.detector_.offset_)
    assert set(np.unique(labels)) == {-1, 1} and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels == -1, decision < 0)
    np.testing.assert_array_equal(det.fit_predict(cube), labels)
    # The threshold is fitted once: an image of normal pixels only is not forced
    # to 2% outliers.
    flat = np.broadcast_to(np.median(cube, axis=(0, 1)), cube.shape).copy()
    assert (det.predict(flat) == -1).mean() < 0.02


def test_image_detector_fits_several_images_of_different_sizes():
    a = make_hyperspectral_scene(n_rows=20, n_cols=24, random_state=1).cube
    b = make_hyperspectral_scene(n_rows=16, n_cols=30, random_state=2).cube
    det = ImageDetector(spatial=DualWindowResidual(), detector=RXDetector()).fit([a, b])
    assert det.n_images_in_ == 2 and det.n_bands_in_ == a.shape[2]
    # The pixel detector saw the residual pixels of both images, in order.
    residual = DualWindowResidual().fit([a])
    pixels = np.concatenate([residual.transform(x).reshape(-1, a.shape[2]) for x in (a, b)])
    reference = RXDetector().fit(pixels)
    np.testing.assert_allclose(det.detector_.location_, reference.location_)
    maps = det.score_samples([a, b])
    assert [m.shape for m in maps] == [a.shape[:2], b.shape[:2]]
    np.testing.assert_array_equal(maps[1], det.score_samples(b))


def test_image_detector_batch_equals_images_one_by_one():
    batch = np.stack([make_hyperspectral_scene(n_rows=12, n_cols=14, random_state=s).cube
                      for s in range(3)])
    det = ImageDetector(spatial=DualWindowResidual(), detector=RXDetector()).fit(batch)
    scores = det.score_samples(batch)
    assert scores.shape == (3, 12, 14)
    for image, expected in zip(batch, scores):
        np.testing.assert_array_equal(det.score_samples(image), expected)


def test_image_detector_without_spatial_is_the_pixel_detector(scene):
    pixels = scene.cube.reshape(-1, scene.cube.shape[2])
    for spatial in (None, "passthrough"):
        det = ImageDetector(spatial=spatial, detector=RXDetector()).fit(scene.cube)
        assert det.spatial_ is None and det.halo == 0
        np.testing.assert_array_equal(
            det.score_samples(scene.cube).ravel(), RXDetector().fit(pixels).score_samples(pixels))


def test_image_detector_takes_pipelines_and_sklearn_detectors(scene):
    bands = scene.cube.shape[2]
    det = ImageDetector(detector=make_pipeline(
        BandpassByWavelength(wavelengths=scene.wavelengths, max_wavelength_nm=1000.0),
        IsolationForest(random_state=0),
    )).fit(scene.cube)
    assert det.score_samples(scene.cube).shape == scene.cube.shape[:2]
    assert det.n_bands_in_ == bands


def test_default_detector_is_the_fused_spectral_attribute_and_residual_branches(scene):
    cube = scene.cube
    det = make_default_detector(random_state=0, **FAST).fit(cube)
    spectral_detector = DeepSVDDDetector(
        encoder="whiten", whiten_reg=3e-2, random_state=0, **{**FAST, "max_epochs": 0})
    attribute_detector = DeepSVDDDetector(
        encoder="whiten", whiten_reg=1e-2, random_state=0, **{**FAST, "max_epochs": 0})
    reference = FusionDetector([
        ("spectral", ImageDetector(detector=spectral_detector)),
        ("attribute", ImageDetector(spatial=AttributeResidual(n_components=5, areas=(64,)),
                                    detector=attribute_detector)),
        ("residual", ImageDetector(spatial=DualWindowResidual(),
                                   detector=DeepSVDDDetector(random_state=0, **FAST))),
    ], fusion="mean", weights=[2, 1, 1]).fit(cube)
    np.testing.assert_array_equal(det.score_samples(cube), reference.score_samples(cube))
    # The weighted mean of the robust z-scores, computed independently.
    z = []
    for _, branch in det.detectors_:
        a = -branch.score_samples(cube)
        q1, med, q3 = np.percentile(a, [25, 50, 75])
        z.append((a - med) / (q3 - q1))
    np.testing.assert_allclose(-det.score_samples(cube), (2 * z[0] + z[1] + z[2]) / 4,
                               rtol=1e-6, atol=1e-6)
    spectral = make_default_detector(spatial=False, random_state=0, **FAST)
    assert isinstance(spectral, ImageDetector) and spectral.spatial is None
    assert spectral.detector.get_params() == clone(spectral_detector).get_params()
    alone = clone(spectral).fit(cube).score_samples(cube)
    np.testing.assert_array_equal(alone, det.detectors_[0][1].score_samples(cube))


def test_default_detector_routes_whiten_reg_and_refuses_encoder():
    det = make_default_detector(whiten_reg=0.05, nu=0.2)
    params = det.get_params()
    assert params["spectral__detector__whiten_reg"] == 0.05
    assert params["spectral__detector__max_epochs"] == 0 and params["spectral__detector__nu"] == 0.2
    assert params["residual__detector__encoder"] == "standardize"
    # The attribute branch keeps its own whitening, and gets the other parameters.
    assert params["attribute__detector__whiten_reg"] == 1e-2
    assert params["attribute__detector__nu"] == 0.2
    assert params["attribute__detector__max_epochs"] == 0
    assert make_default_detector(spatial=False, whiten_reg=0.05).detector.whiten_reg == 0.05
    assert make_default_detector().get_params()["spectral__detector__whiten_reg"] == 3e-2
    with pytest.raises(ValueError, match="encoder"):
        make_default_detector(encoder="whiten")


def test_image_detector_params_clone_and_not_fitted():
    det = make_default_detector(spatial=False, random_state=0, nu=0.05)
    det.set_params(spatial=DualWindowResidual())
    params = det.get_params()
    assert params["detector__nu"] == 0.05 and params["spatial__outer_window"] == 5
    det.set_params(spatial__outer_window=7, detector__lr=1e-4)
    copy = clone(det)
    assert copy.spatial.outer_window == 7 and copy.detector.lr == 1e-4
    assert copy.halo == 3
    with pytest.raises(NotFittedError):
        copy.score_samples(np.ones((4, 4, 3)))


def test_image_detector_checks_images(scene):
    det = ImageDetector(detector=RXDetector()).fit(scene.cube)
    with pytest.raises(ValueError, match=r"has 5 bands, expected"):
        det.score_samples(scene.cube[:, :, :5])
    with pytest.raises(ValueError, match="pixels_to_image"):
        det.score_samples(scene.cube.reshape(-1, scene.cube.shape[2]))
    with pytest.raises(ValueError, match="'detector' parameter"):
        ImageDetector(detector="rx").fit(scene.cube)
    with pytest.raises(ValueError, match="does not declare its halo"):
        ImageDetector(spatial=PerPixelUnitNorm()).fit(scene.cube)


def test_image_detector_round_trips_through_save_load_and_joblib(scene, tmp_path):
    det = make_default_detector(random_state=0, **FAST).fit(scene.cube)
    expected = det.score_samples(scene.cube)
    save(det, tmp_path / "model.sksvdd")
    loaded = load(tmp_path / "model.sksvdd")
    assert isinstance(loaded, FusionDetector)
    assert isinstance(dict(loaded.detectors_)["residual"].spatial_, DualWindowResidual)
    assert isinstance(dict(loaded.detectors_)["attribute"].spatial_, AttributeResidual)
    np.testing.assert_array_equal(loaded.score_samples(scene.cube), expected)
    np.testing.assert_array_equal(loaded.predict(scene.cube), det.predict(scene.cube))
    joblib.dump(det, tmp_path / "model.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "model.joblib").score_samples(scene.cube), expected)
    # Unfitted detectors round-trip too.
    unfitted = load(save(make_default_detector(nu=0.2), tmp_path / "u.sksvdd") or
                    tmp_path / "u.sksvdd")
    assert unfitted.get_params()["residual__detector__nu"] == 0.2
    assert not hasattr(unfitted, "detectors_")


# --- FusionDetector ---------------------------------------------------------------------


def _branches():
    return [
        ("spectral", ImageDetector(detector=RXDetector())),
        ("residual", ImageDetector(spatial=DualWindowResidual(), detector=RXDetector())),
    ]


@pytest.mark.parametrize("fusion", ["max", "mean"])
def test_fusion_detector_standardises_and_fuses_the_branches(scene, fusion):
    cube = scene.cube
    det = FusionDetector(_branches(), fusion=fusion, contamination=0.01).fit(cube)
    # Independent computation: each branch alone, robust z-scores from its training scores.
    standardised = []
    for _, branch in _branches():
        anomaly = -branch.fit(cube).score_samples(cube)
        q25, q50, q75 = np.percentile(anomaly, [25, 50, 75])
        standardised.append((anomaly - q50) / (q75 - q25))
    stacked = np.stack(standardised)
    fused = stacked.max(axis=0) if fusion == "max" else stacked.mean(axis=0)
    np.testing.assert_allclose(det.score_samples(cube), -fused, rtol=1e-10, atol=1e-12)
    assert det.halo == 2
    labels = det.predict(cube)
    np.testing.assert_array_equal(labels == -1, det.decision_function(cube) < 0)
    assert abs((labels == -1).mean() - 0.01) < 0.002


def test_fusion_detector_keeps_a_target_wider_than_the_window():
    # A 10-pixel-wide block: the 5/1 residual erases its inside (the ring lies in the
    # target), the spectrum alone does not; max fusion keeps the whole block.
    rng = np.random.RandomState(0)
    cube = rng.normal(size=(48, 48, 6))
    cube[10:20, 10:20] += 3.0
    truth = np.zeros((48, 48), bool)
    truth[10:20, 10:20] = True
    residual_only = ImageDetector(spatial=DualWindowResidual(), detector=RXDetector()).fit(cube)
    fused = FusionDetector(_branches()).fit(cube)
    from sklearn.metrics import roc_auc_score

    auc_residual = roc_auc_score(truth.ravel(), -residual_only.score_samples(cube).ravel())
    auc_fused = roc_auc_score(truth.ravel(), -fused.score_samples(cube).ravel())
    assert auc_residual < 0.75 and auc_fused > 0.98


def test_default_detector_keeps_wide_targets_that_hide_from_rx():
    # Four 12 x 12 targets (14% of the image, 3.5% each) in a scene of 150 bands, most of them
    # noise: each target inflates the variance of its own direction, and in plain RX its
    # excess distance drowns in the noise directions, where every pixel has a distance of
    # about the number of bands. The default's spectral branch damps those directions
    # (whiten_reg=3e-2) and keeps the targets, inside included.
    from sklearn.metrics import roc_auc_score

    rng = np.random.RandomState(0)
    n, bands = 64, 150
    coef = rng.normal(size=(n, n, 3)) * [10.0, 5.0, 2.0]
    cube = coef @ rng.normal(size=(3, bands)) + 0.1 * rng.normal(size=(n, n, bands)) + 50.0
    truth = np.zeros((n, n), bool)
    for r, c in [(8, 8), (8, 40), (40, 8), (40, 40)]:
        target = 50.0 + 4.0 * rng.normal(size=bands)
        cube[r:r + 12, c:c + 12] = target + 0.1 * rng.normal(size=(12, 12, bands))
        truth[r:r + 12, c:c + 12] = True

    def auroc(detector):
        return roc_auc_score(truth.ravel(), -detector.fit(cube).score_samples(cube).ravel())

    assert auroc(ImageDetector(detector=RXDetector())) < 0.9
    plain = ImageDetector(detector=DeepSVDDDetector(encoder="whiten", max_epochs=0,
                                                    random_state=0))
    assert auroc(plain) < 0.9  # whiten_reg=1e-6: RX from trimmed statistics, as weak
    assert auroc(make_default_detector(spatial=False, random_state=0)) > 0.99
    assert auroc(make_default_detector(random_state=0, max_epochs=2)) > 0.95


def test_fusion_detector_params_save_load_and_score_cube(scene, tmp_path):
    det = FusionDetector(_branches())
    assert det.get_params()["residual__spatial__outer_window"] == 5
    det.set_params(residual__spatial__outer_window=7, fusion="mean")
    assert clone(det).halo == 3
    det.fit(scene.cube)
    expected = det.score_samples(scene.cube)
    loaded = load(save(det, tmp_path / "fused.sksvdd"))
    np.testing.assert_array_equal(loaded.score_samples(scene.cube), expected)
    np.testing.assert_array_equal(loaded.predict(scene.cube), det.predict(scene.cube))
    pytest.importorskip("dask")
    from sksvdd.parallel import score_cube

    np.testing.assert_allclose(score_cube(det, scene.cube, chunks=(9, 8)).compute(), expected,
                               rtol=1e-12)


@pytest.mark.parametrize(
    "detectors, match",
    [
        ([], "non-empty list"),
        ([("a", RXDetector())], "not an image-level detector"),
        ([("a", ImageDetector()), ("a", ImageDetector())], "unique"),
    ],
)
def test_fusion_detector_rejects_bad_branches(scene, detectors, match):
    with pytest.raises(ValueError, match=match):
        FusionDetector(detectors).fit(scene.cube)


# --- Fitting on a clean reference: normal_mask / exclude_mask ----------------------------


def _reference_images():
    a = make_hyperspectral_scene(n_rows=20, n_cols=24, random_state=1)
    b = make_hyperspectral_scene(n_rows=16, n_cols=30, random_state=2)
    return a, b


def test_image_detector_fits_only_the_reference_pixels_of_whole_image_features():
    a, b = _reference_images()
    rng = np.random.RandomState(0)
    normal = rng.rand(*a.mask.shape) < 0.7
    det = ImageDetector(spatial=DualWindowResidual(), detector=RXDetector())
    det.fit([a.cube, b.cube], normal_mask=[normal, None], exclude_mask=[a.mask, b.mask])
    # Independent computation: features of the whole images, then the selected rows.
    residual = DualWindowResidual().fit(a.cube)
    pixels = np.concatenate([residual.transform(a.cube)[normal & ~a.mask],
                             residual.transform(b.cube)[~b.mask]])
    reference = RXDetector().fit(pixels)
    np.testing.assert_allclose(det.detector_.location_, reference.location_, rtol=1e-12)
    np.testing.assert_allclose(det.detector_.precision_, reference.precision_, rtol=1e-9)
    assert det.detector_.offset_ == pytest.approx(reference.offset_, rel=1e-9)
    # New images are scored at that threshold.
    new = make_hyperspectral_scene(n_rows=18, n_cols=18, random_state=3).cube
    residual_new = residual.transform(new).reshape(-1, new.shape[2])
    np.testing.assert_array_equal(
        det.predict(new).ravel(), reference.predict(residual_new))


def test_image_detector_masks_in_every_image_form(scene):
    cube = scene.cube
    det = ImageDetector(detector=RXDetector())
    single = det.fit(cube, exclude_mask=scene.mask.astype(int)).detector_
    pixels = cube[~scene.mask]
    np.testing.assert_allclose(single.location_, RXDetector().fit(pixels).location_)
    # A batch with a batch of masks, 0/1 as well as bool.
    batch = np.stack([cube, cube[::-1]])
    normal = np.stack([~scene.mask, ~scene.mask[::-1]]).astype(np.uint8)
    batched = clone(det).fit(batch, normal_mask=normal).detector_
    np.testing.assert_allclose(
        batched.location_, RXDetector().fit(np.concatenate([pixels, pixels])).location_)
    assert clone(det).fit(batch, normal_mask=list(normal)).detector_.offset_ == batched.offset_


def test_deep_svdd_image_detector_masked_fit_equals_fit_on_masked_features(scene):
    pixels_det = DeepSVDDDetector(random_state=0, **FAST)
    det = ImageDetector(spatial=DualWindowResidual(), detector=pixels_det)
    det.fit(scene.cube, exclude_mask=scene.mask)
    features = DualWindowResidual().fit(scene.cube).transform(scene.cube)
    reference = clone(pixels_det).fit(features[~scene.mask])
    flat = features.reshape(-1, features.shape[2])
    np.testing.assert_allclose(det.score_samples(scene.cube).ravel(),
                               reference.score_samples(flat), rtol=1e-5, atol=1e-6)
    assert det.detector_.offset_ == pytest.approx(reference.offset_, rel=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"normal_mask": np.ones((5, 5))}, r"normal_mask must have shape \(30, 26\)"),
    ({"exclude_mask": np.full((30, 26), 2)}, "exclude_mask must be bool or 0/1 with 1 = excluded"),
    ({"normal_mask": np.zeros((30, 26))}, "leave no pixel to fit on"),
    ({"normal_mask": np.ones((30, 26)), "exclude_mask": np.ones((30, 26))}, "leave no pixel"),
])
def test_image_detector_rejects_bad_masks(scene, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageDetector(detector=RXDetector()).fit(scene.cube, **kwargs)


def test_image_detector_masks_must_match_the_images():
    a, b = _reference_images()
    det = ImageDetector(detector=RXDetector())
    with pytest.raises(ValueError, match=r"normal_mask holds 1 mask\(s\) for 2 image\(s\)"):
        det.fit([a.cube, b.cube], normal_mask=[a.mask])
    with pytest.raises(ValueError, match=r"exclude_mask\[1\] must have shape \(16, 30\)"):
        det.fit([a.cube, b.cube], exclude_mask=[a.mask, a.mask])
    with pytest.raises(ValueError, match=r"shape \(n_images, rows, cols\)"):
        det.fit(np.stack([a.cube, a.cube]), exclude_mask=a.mask)


def test_fusion_detector_fits_branches_and_threshold_on_the_reference_pixels(scene):
    cube, keep = scene.cube, ~scene.mask
    det = FusionDetector(_branches(), contamination=0.01).fit(cube, exclude_mask=scene.mask)
    standardised = []
    for (_, branch), (_, fitted) in zip(_branches(), det.detectors_):
        alone = branch.fit(cube, normal_mask=keep)
        np.testing.assert_array_equal(fitted.detector_.location_, alone.detector_.location_)
        anomaly = -alone.score_samples(cube)
        q25, q50, q75 = np.percentile(anomaly[keep], [25, 50, 75])
        standardised.append((anomaly - q50) / (q75 - q25))
    fused = np.max(standardised, axis=0)
    np.testing.assert_allclose(det.score_samples(cube), -fused, rtol=1e-10, atol=1e-12)
    assert det.offset_ == pytest.approx(np.percentile(-fused[keep], 1.0), rel=1e-12)


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [1.0, np.nan], [0.0, 0.0], "ab"])
def test_fusion_detector_rejects_bad_weights(scene, weights):
    with pytest.raises(ValueError, match="weights"):
        FusionDetector(_branches(), weights=weights).fit(scene.cube)


def test_fusion_detector_weights_scale_the_branches_and_round_trip(scene, tmp_path):
    equal = FusionDetector(_branches(), fusion="mean").fit(scene.cube)
    ones = FusionDetector(_branches(), fusion="mean", weights=[3, 3]).fit(scene.cube)
    np.testing.assert_array_equal(ones.score_samples(scene.cube), equal.score_samples(scene.cube))
    weighted = FusionDetector(_branches(), fusion="max", weights=(3, 1)).fit(scene.cube)
    np.testing.assert_allclose(weighted.weights_, [1.5, 0.5])
    a = np.stack([-d.score_samples(scene.cube) for _, d in weighted.detectors_])
    z = (a - weighted.location_[:, None, None]) / weighted.scale_[:, None, None]
    np.testing.assert_allclose(-weighted.score_samples(scene.cube),
                               np.maximum(1.5 * z[0], 0.5 * z[1]), rtol=1e-12)
    save(weighted, tmp_path / "w.sksvdd")
    loaded = load(tmp_path / "w.sksvdd")
    assert list(loaded.weights) == [3.0, 1.0]
    np.testing.assert_array_equal(loaded.score_samples(scene.cube),
                                  weighted.score_samples(scene.cube))


def test_default_detector_fits_images_of_few_bands():
    # RGB-like and single-band images: the attribute branch filters all their components.
    rng = np.random.RandomState(0)
    for bands in (1, 3):
        cube = rng.normal(size=(16, 16, bands))
        cube[5:7, 5:7] += 6.0
        det = make_default_detector(random_state=0, **FAST).fit(cube)
        assert dict(det.detectors_)["attribute"].spatial_.n_components_ == bands
        anomaly = -det.score_samples(cube)
        assert anomaly[5:7, 5:7].min() > np.quantile(anomaly, 0.95)
