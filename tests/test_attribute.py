"""AttributeResidual: area-attribute residuals of the whitened principal components."""

import numpy as np
import pytest
from skimage.morphology import area_closing, area_opening
from sklearn.base import clone

from sksvdd import (
    AttributeResidual, DeepSVDDDetector, DualWindowResidual, ImageDetector, RXDetector, load,
    save,
)


def _cube(rows=30, cols=30, bands=6, seed=0):
    rng = np.random.RandomState(seed)
    base = rng.normal(size=bands) * 3
    return base + rng.normal(scale=0.3, size=(rows, cols, bands))


def test_matches_an_independent_computation():
    # PCA by eigendecomposition of the covariance, numpy's "symmetric" padding (scipy's
    # "reflect"), and skimage's filters called directly.
    cube = _cube(25, 21, 5, seed=1)
    step = AttributeResidual(n_components=2, areas=(4, 9)).fit(cube)
    out = step.transform(cube)
    X = cube.reshape(-1, 5)
    mean = X.mean(0)
    cov = np.cov(X - mean, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:2]
    z = (X - mean) @ vectors[:, order] / np.sqrt(values[order])
    z = z.reshape(25, 21, 2)
    assert out.shape == (25, 21, 4)
    for a, area in enumerate((4, 9)):
        for k in range(2):
            p = np.pad(z[:, :, k], area - 1, mode="symmetric")
            expected = 2 * p - area_opening(p, area) - area_closing(p, area)
            expected = expected[area - 1:area - 1 + 25, area - 1:area - 1 + 21]
            got = out[:, :, a * 2 + k]
            sign = np.sign(np.sum(got * expected))  # a principal axis' sign is arbitrary
            np.testing.assert_allclose(got, sign * expected, atol=1e-9)


def _scene_with_square(side, contrast, seed=0):
    rng = np.random.RandomState(seed)
    cube = rng.normal(scale=0.05, size=(40, 40, 3))
    cube[..., 0] += np.linspace(0, 1, 40)[None, :]  # smooth background variation
    cube[10:10 + side, 10:10 + side, :] += contrast
    return cube


def test_keeps_a_target_smaller_than_the_area_whole_where_a_ring_hollows_it():
    cube = _scene_with_square(4, 3.0)  # 16 pixels
    out = AttributeResidual(n_components=1, areas=(25,)).fit(cube).transform(cube)[..., 0]
    target = np.abs(out[10:14, 10:14])
    background = np.abs(out[25:, 25:])
    assert target.min() > 10 * background.max()
    # The interior is as strong as the rim (not hollow) ...
    assert target[1:3, 1:3].min() > 0.8 * target.max()
    # ... unlike a 5/1 ring residual, whose ring lies inside the target at its centre.
    ring = DualWindowResidual().fit(cube).transform(cube)
    ring = np.linalg.norm(ring, axis=2)
    assert ring[11:13, 11:13].max() < 0.5 * ring[10:14, 10:14].max()


def test_a_structure_larger_than_the_area_is_background_and_dark_is_negative():
    big = _scene_with_square(8, 3.0)  # 64 pixels > 25
    out = AttributeResidual(n_components=1, areas=(25,)).fit(big).transform(big)[..., 0]
    assert np.abs(out[11:17, 11:17]).max() < 0.5
    dark = _scene_with_square(3, -3.0)
    step = AttributeResidual(n_components=1, areas=(25,)).fit(dark)
    out = step.transform(dark)[..., 0]
    # The component's sign follows the data: the target is the component's extreme.
    value = out[11, 11]
    projected = ((dark[11, 11] - step.mean_) @ step.components_.T)[0]
    background = ((dark[30, 30] - step.mean_) @ step.components_.T)[0]
    assert np.sign(value) == np.sign(projected - background)
    assert abs(value) > 10 * np.abs(out[25:, 25:]).max()


def test_output_depends_only_on_the_halo():
    cube = _cube(40, 40, 4, seed=2)
    step = AttributeResidual(n_components=2, areas=(5, 8)).fit(cube)
    assert step.halo == 7
    full = step.transform(cube)
    # A tile read with `halo` pixels of context gives the whole image's interior ...
    tile = step.transform(cube[10 - 7:25 + 7, 12 - 7:30 + 7])
    np.testing.assert_array_equal(tile[7:-7, 7:-7], full[10:25, 12:30])
    # ... and changing pixels further away changes nothing.
    changed = cube.copy()
    changed[:, 30:] += 50.0
    np.testing.assert_array_equal(step.transform(changed)[:, :22], full[:, :22])


def test_score_cube_with_an_attribute_branch_is_exact():
    pytest.importorskip("dask")
    from sksvdd.parallel import score_cube

    cube = _cube(30, 26, 5, seed=3)
    cube[12:14, 5:8] += 2.0
    det = ImageDetector(spatial=AttributeResidual(n_components=3, areas=(6,)),
                        detector=RXDetector()).fit(cube)
    scores = score_cube(det, cube, chunks=(11, 9)).compute()
    np.testing.assert_allclose(scores, det.score_samples(cube), rtol=1e-12)


def test_batch_list_dtype_and_bands():
    a, b = _cube(12, 10, 4, seed=4), _cube(9, 14, 4, seed=5)
    step = AttributeResidual(n_components=2, areas=(4,)).fit([a, b])
    listed = step.transform([a, b])
    assert [x.shape for x in listed] == [(12, 10, 2), (9, 14, 2)]
    np.testing.assert_array_equal(listed[1], step.transform(b))
    assert step.transform(a.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="bands"):
        step.transform(np.ones((5, 5, 3)))


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"areas": ()}, np.ones((5, 5, 3)), "areas must be a non-empty tuple"),
        ({"areas": (1,)}, np.ones((5, 5, 3)), "areas must be"),
        ({"areas": (5000,)}, np.ones((5, 5, 3)), "areas must be"),
        ({"areas": (4.5,)}, np.ones((5, 5, 3)), "areas must be"),
        ({"areas": "16"}, np.ones((5, 5, 3)), "'areas' parameter"),
        ({"n_components": 0}, np.ones((5, 5, 3)), "'n_components' parameter"),
        ({"connectivity": 3}, np.ones((5, 5, 3)), "'connectivity' parameter"),
        ({"n_components": 2}, np.ones((1, 2, 3)), "2 principal components need more than 2"),
        ({}, np.ones((25, 3)), r"image of shape \(rows, cols, bands\)"),
        ({}, [], "empty list"),
    ],
)
def test_bad_input(params, X, match):
    params = {"n_components": 1, **params}
    with pytest.raises(ValueError, match=match):
        AttributeResidual(**params).fit(X)


def test_nan_image_is_refused():
    cube = _cube(6, 6, 3)
    cube[2, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AttributeResidual(n_components=1, areas=(4,)).fit(cube)


def test_image_detector_round_trips_through_save_load(tmp_path):
    cube = _cube(20, 20, 5, seed=6)
    det = ImageDetector(
        spatial=AttributeResidual(n_components=3, areas=(4, 9)),
        detector=DeepSVDDDetector(encoder="whiten", max_epochs=0, random_state=0)).fit(cube)
    assert det.detector_.n_features_in_ == 6
    save(det, tmp_path / "m.sksvdd")
    loaded = load(tmp_path / "m.sksvdd")
    assert isinstance(loaded.spatial_, AttributeResidual)
    np.testing.assert_array_equal(loaded.score_samples(cube), det.score_samples(cube))
    assert clone(det).get_params()["spatial__areas"] == (4, 9)


def test_internal_tiles_give_the_whole_image_result(monkeypatch):
    import sksvdd.image._attribute as module

    cube = _cube(37, 29, 4, seed=7)
    cube[3:6, 20:24] += 1.5
    step = AttributeResidual(n_components=3, areas=(5, 12)).fit(cube)
    monkeypatch.setattr(module, "_TILE", 10_000)
    whole = step.transform(cube)
    monkeypatch.setattr(module, "_TILE", 7)  # tiles smaller than the halo, ragged at the edges
    np.testing.assert_array_equal(step.transform(cube), whole)


def test_images_with_fewer_bands_than_components_filter_all_of_them(tmp_path):
    cube = _cube(12, 12, 3, seed=8)
    step = AttributeResidual(n_components=5, areas=(4, 9)).fit(cube)
    assert step.n_components_ == 3 and step.components_.shape == (3, 3)
    assert step.transform(cube).shape == (12, 12, 6)
    det = ImageDetector(spatial=AttributeResidual(n_components=5, areas=(4,)),
                        detector=RXDetector()).fit(cube)
    save(det, tmp_path / "m.sksvdd")
    np.testing.assert_array_equal(load(tmp_path / "m.sksvdd").score_samples(cube),
                                  det.score_samples(cube))


def test_directions_without_variance_are_not_blown_up():
    # Three constant bands and one that varies: new data off the training plane must not
    # be multiplied by 1/sqrt(0).
    cube = np.ones((12, 12, 4))
    cube[:, :, 1] += np.linspace(0, 1, 12)[None, :]
    step = AttributeResidual(n_components=3, areas=(4,)).fit(cube)
    assert np.abs(step.components_).max() < 1e7
    new = cube.copy()
    new[5, 5] += 1.0
    out = step.transform(new)
    assert np.isfinite(out).all() and np.abs(out).max() < 1e7
    flat = AttributeResidual(n_components=2, areas=(4,)).fit(np.ones((6, 6, 3)))
    assert np.isfinite(flat.components_).all() and np.abs(flat.components_).max() <= 1.0
