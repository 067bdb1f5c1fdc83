"""Tests for sksvdd.plotting: rendered content of the Display objects."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sksvdd import DeepSVDDDetector, RXDetector, make_default_detector
from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
from sksvdd.plotting import (
    AnomalyMaskDisplay,
    ScoreMapDisplay,
    TrainingHistoryDisplay,
    false_color_rgb,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
imread = pytest.importorskip("matplotlib.image").imread

GREEN, RED, YELLOW = (0.0, 0.8, 0.0), (0.9, 0.1, 0.1), (1.0, 0.85, 0.0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scene():
    return make_hyperspectral_scene(n_rows=30, n_cols=30, random_state=0)


@pytest.fixture(scope="module")
def rx(scene):
    return RXDetector(contamination=0.01).fit(cube_to_pixels(scene.cube))


@pytest.fixture(scope="module")
def deep_pipeline(scene):
    det = make_default_detector(random_state=0, max_epochs=3, patience=None, sample_n=500)
    return det.fit(scene.cube)


# ScoreMapDisplay


def test_score_map_from_estimator_content(scene, rx):
    disp = ScoreMapDisplay.from_estimator(rx, scene.cube, mask=scene.mask)
    expected = -rx.score_samples(cube_to_pixels(scene.cube)).reshape(30, 30)
    np.testing.assert_allclose(disp.im_.get_array(), expected)
    np.testing.assert_allclose(disp.im_.get_clim(), np.percentile(expected, [1.0, 99.5]))
    assert (disp.vmin_, disp.vmax_) == pytest.approx(np.percentile(expected, [1.0, 99.5]))
    assert disp.contour_ is not None
    assert disp.contour_.levels.tolist() == [0.5]
    assert len(disp.contour_.allsegs[0]) > 0
    assert "Anomaly score" in disp.colorbar_.ax.get_ylabel()
    assert disp.ax_.get_title() == "RXDetector anomaly scores"
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == ["ground truth"]
    assert disp.figure_ is disp.ax_.figure


def test_score_map_without_mask_has_no_contour(scene, rx):
    disp = ScoreMapDisplay.from_estimator(rx, scene.cube, clip_percentiles=None)
    assert disp.contour_ is None
    assert disp.ax_.get_legend() is None
    scores = disp.score_map
    assert disp.im_.get_clim() == pytest.approx((scores.min(), scores.max()))


def test_score_map_from_predictions_flat_and_image_agree():
    rng = np.random.RandomState(0)
    scores = rng.gamma(2.0, size=200)
    mask = np.zeros((10, 20), dtype=int)
    mask[2:4, 5:7] = 1
    flat = ScoreMapDisplay.from_predictions(scores, shape=(10, 20), mask=mask,
                                            clip_percentiles=(5, 95), name="x")
    image = ScoreMapDisplay.from_predictions(scores.reshape(10, 20), colorbar=False)
    np.testing.assert_array_equal(flat.im_.get_array(), image.im_.get_array())
    assert flat.im_.get_clim() == pytest.approx(np.percentile(scores, [5, 95]))
    assert "p5-p95" in flat.colorbar_.ax.get_ylabel()
    assert image.colorbar_ is None
    assert flat.ax_.get_title() == "x anomaly scores"


def test_score_map_ignores_nan_pixels():
    scores = np.arange(100.0).reshape(10, 10)
    scores[0] = np.nan
    disp = ScoreMapDisplay(scores).plot(clip_percentiles=(0, 100))
    assert disp.im_.get_clim() == (10.0, 99.0)


def test_score_map_replot_on_given_axes(scene, rx):
    disp = ScoreMapDisplay.from_estimator(rx, scene.cube)
    fig, ax = plt.subplots()
    assert disp.plot(ax=ax, colorbar=False).ax_ is ax
    assert disp.figure_ is fig


@pytest.mark.parametrize(
    "kwargs, match",
    [({"scores": np.zeros(100)}, "pass shape"),
     ({"scores": np.zeros((10, 10)), "shape": (5, 20)}, "shape"),
     ({"scores": np.zeros((2, 2, 2))}, "1-D or 2-D"),
     ({"scores": np.zeros((4, 4)), "mask": np.zeros((4, 5), bool)}, "mask must have shape"),
     ({"scores": np.zeros((4, 4)), "mask": np.full((4, 4), 2)}, "bool or 0/1"),
     ({"scores": np.zeros((4, 4)), "clip_percentiles": (99, 1)}, "clip_percentiles"),
     ({"scores": np.full((4, 4), np.nan)}, "no finite value")],
)
def test_score_map_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ScoreMapDisplay.from_predictions(**kwargs)


# AnomalyMaskDisplay

TP, FP, FN = (1, 1), (2, 7), (8, 0)


def _masks(shape=(10, 10)):
    predicted = np.zeros(shape, dtype=bool)
    truth = np.zeros(shape, dtype=bool)
    predicted[TP] = truth[TP] = True
    predicted[FP] = True
    truth[FN] = True
    return predicted, truth


def test_anomaly_mask_overlay_colours():
    predicted, truth = _masks()
    disp = AnomalyMaskDisplay(np.full((10, 10, 3), 0.5), predicted, true_mask=truth).plot(
        alpha=0.6
    )
    overlay = disp.overlay_image_.get_array()
    for where, colour in [(TP, GREEN), (FP, RED), (FN, YELLOW)]:
        np.testing.assert_allclose(overlay[where], (*colour, 0.6))
    untouched = np.ones((10, 10), dtype=bool)
    for where in (TP, FP, FN):
        untouched[where] = False
    assert np.all(overlay[untouched][:, 3] == 0)  # transparent elsewhere
    assert disp.counts_ == {"tp": 1, "fp": 1, "fn": 1}
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels == ["detected anomaly (TP): 1", "false alarm (FP): 1",
                      "missed anomaly (FN): 1"]


def test_anomaly_mask_rendered_pixels():
    """The colours reach the canvas at the right pixels (20 x 20 screen pixels each)."""
    predicted, truth = _masks()
    fig = plt.figure(figsize=(2, 2), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    AnomalyMaskDisplay(np.full((10, 10, 3), 0.5), predicted, true_mask=truth).plot(
        ax=ax, alpha=1.0, legend=False
    )
    fig.canvas.draw()
    canvas = np.asarray(fig.canvas.buffer_rgba())[:, :, :3] / 255.0
    assert canvas.shape == (200, 200, 3)

    def at(row, col):
        return canvas[20 * row + 10, 20 * col + 10]

    for where, colour in [(TP, GREEN), (FP, RED), (FN, YELLOW), ((5, 5), (0.5, 0.5, 0.5))]:
        np.testing.assert_allclose(at(*where), colour, atol=2 / 255)


def test_anomaly_mask_without_truth_shows_predictions_only():
    predicted, _ = _masks()
    disp = AnomalyMaskDisplay(np.zeros((10, 10, 3)), predicted.astype(int)).plot()
    assert disp.counts_ == {"predicted": 2}
    np.testing.assert_allclose(disp.overlay_[FP][:3], RED)
    assert disp.ax_.get_title() == "Detections"


def test_anomaly_mask_from_estimator(scene, rx):
    disp = AnomalyMaskDisplay.from_estimator(
        rx, scene.cube, wavelengths=scene.wavelengths, mask=scene.mask
    )
    predicted = (rx.predict(cube_to_pixels(scene.cube)) == -1).reshape(30, 30)
    assert disp.counts_ == {
        "tp": int((predicted & scene.mask).sum()),
        "fp": int((predicted & ~scene.mask).sum()),
        "fn": int((~predicted & scene.mask).sum()),
    }
    np.testing.assert_array_equal(disp.image_.get_array(),
                                  false_color_rgb(scene.cube, scene.wavelengths))
    assert disp.ax_.get_title() == "RXDetector detections"


@pytest.mark.parametrize(
    "rgb, predicted, truth, match",
    [(np.zeros((4, 4)), np.zeros((4, 4), bool), None, "rgb must be"),
     (np.zeros((4, 4, 3)), np.zeros((4, 5), bool), None, "predicted_mask must have shape"),
     (np.zeros((4, 4, 3)), np.full((4, 4), -1), None, r"predict\(X\) == -1"),
     (np.zeros((4, 4, 3)), np.zeros((4, 4), bool), np.zeros(16, bool), "true_mask")],
)
def test_anomaly_mask_validation(rgb, predicted, truth, match):
    with pytest.raises(ValueError, match=match):
        AnomalyMaskDisplay(rgb, predicted, true_mask=truth).plot()


# false_color_rgb


def _stretch(band, lo=2.0, hi=98.0):
    low, high = np.percentile(band, [lo, hi])
    return np.clip((band - low) / (high - low), 0, 1)


def test_false_color_rgb_picks_true_colour_bands():
    cube = np.random.RandomState(0).uniform(size=(6, 7, 61))
    wavelengths = np.linspace(400, 1000, 61)  # 10 nm steps: 640 nm is band 24
    rgb = false_color_rgb(cube, wavelengths)
    assert rgb.shape == (6, 7, 3) and rgb.dtype == np.float32
    for channel, band in enumerate([24, 15, 6]):
        np.testing.assert_allclose(rgb[:, :, channel], _stretch(cube[:, :, band]), atol=1e-6)


@pytest.mark.parametrize("wavelengths", [None, np.linspace(1000, 2500, 21)])
def test_false_color_rgb_falls_back_to_evenly_spaced_bands(wavelengths):
    cube = np.random.RandomState(0).uniform(size=(5, 5, 21))
    rgb = false_color_rgb(cube, wavelengths, percentiles=(0, 100))
    for channel, band in enumerate([15, 10, 5]):
        np.testing.assert_allclose(rgb[:, :, channel], _stretch(cube[:, :, band], 0, 100),
                                   atol=1e-6)


def test_false_color_rgb_constant_and_nan_bands():
    cube = np.ones((3, 3, 3))
    cube[0, 0, 1] = np.nan
    rgb = false_color_rgb(cube)
    assert np.all(rgb == 0) and not np.isnan(rgb).any()


@pytest.mark.parametrize(
    "cube, kwargs, match",
    [(np.zeros((3, 3)), {}, "3-D"),
     (np.zeros((3, 3, 4)), {"wavelengths": np.arange(5)}, "wavelengths has 5"),
     (np.zeros((3, 3, 4)), {"percentiles": (50, 10)}, "percentiles")],
)
def test_false_color_rgb_validation(cube, kwargs, match):
    with pytest.raises(ValueError, match=match):
        false_color_rgb(cube, **kwargs)


# TrainingHistoryDisplay


def test_training_history_from_image_detector(deep_pipeline):
    # A detector with several branches plots its first trained Deep SVDD (the default's
    # spectral branch is phase 1 only: an empty history); a branch passed on its own
    # plots that branch's.
    assert deep_pipeline.detectors_[0][1].detector_.history_ == []
    first = TrainingHistoryDisplay.from_estimator(deep_pipeline)
    residual = dict(deep_pipeline.detectors_)["residual"]
    assert first.history == residual.detector_.history_
    history = residual.detector_.history_
    disp = TrainingHistoryDisplay.from_estimator(residual)
    assert len(disp.axes_) == 3
    for key in ("loss", "radius", "outside_frac"):
        line = disp.lines_[key]
        assert len(line.get_xdata()) == len(history) == 3
        np.testing.assert_allclose(line.get_ydata(), [row[key] for row in history])
    assert list(disp.lines_["loss"].get_xdata()) == [row["epoch"] for row in history]
    assert [ax.get_ylabel() for ax in disp.axes_] == [
        "Loss", "Radius R", "Fraction outside sphere"
    ]
    assert disp.axes_[2].get_xlabel() == "epoch"
    assert disp.axes_[0].get_title() == "DeepSVDDDetector training"
    nu_line = disp.axes_[2].get_lines()[1]
    assert list(nu_line.get_ydata()) == [0.1, 0.1]
    assert [t.get_text() for t in disp.axes_[2].get_legend().get_texts()] == ["nu = 0.1"]


def test_training_history_plain_list_on_given_axes():
    history = [{"train_loss": 2.0 / e, "radius": 1.0, "outside_frac": 0.1} for e in (1, 2, 3, 4)]
    fig, axes = plt.subplots(1, 3)
    disp = TrainingHistoryDisplay(history).plot(axes=axes, log_loss=True)
    assert disp.figure_ is fig
    assert list(disp.lines_["loss"].get_xdata()) == [1, 2, 3, 4]
    np.testing.assert_allclose(disp.lines_["loss"].get_ydata(), [2.0, 1.0, 2 / 3, 0.5])
    assert disp.axes_[0].get_yscale() == "log"
    assert len(disp.axes_[2].get_lines()) == 1  # no nu line


def test_training_history_validation(scene, rx):
    with pytest.raises(ValueError, match="has no history_"):
        TrainingHistoryDisplay.from_estimator(rx)
    with pytest.raises(NotFittedError):
        TrainingHistoryDisplay.from_estimator(DeepSVDDDetector())
    with pytest.raises(ValueError, match="max_epochs=0"):
        TrainingHistoryDisplay([]).plot()
    with pytest.raises(ValueError, match="'radius'"):
        TrainingHistoryDisplay([{"loss": 1.0, "outside_frac": 0.1}]).plot()
    _, axes = plt.subplots(1, 2)
    good = [{"loss": 1.0, "radius": 1.0, "outside_frac": 0.1}]
    with pytest.raises(ValueError, match="3 Axes"):
        TrainingHistoryDisplay(good).plot(axes=axes)


# Saved figures


@pytest.mark.parametrize("kind", ["score", "mask", "history"])
def test_savefig_png(kind, scene, rx, deep_pipeline, tmp_path):
    if kind == "score":
        disp = ScoreMapDisplay.from_estimator(rx, scene.cube, mask=scene.mask)
    elif kind == "mask":
        disp = AnomalyMaskDisplay.from_estimator(rx, scene.cube, mask=scene.mask)
    else:
        disp = TrainingHistoryDisplay.from_estimator(deep_pipeline)
    disp.figure_.set_size_inches(4, 3)
    path = tmp_path / f"{kind}.png"
    disp.figure_.savefig(path, dpi=50)
    image = imread(path)
    assert image.shape[:2] == (150, 200)
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_displays_from_an_image_detector_score_the_cube(scene, deep_pipeline):
    scores = ScoreMapDisplay.from_estimator(deep_pipeline, scene.cube).score_map
    np.testing.assert_array_equal(scores, -deep_pipeline.score_samples(scene.cube))
    masks = AnomalyMaskDisplay.from_estimator(deep_pipeline, scene.cube, mask=scene.mask)
    np.testing.assert_array_equal(np.asarray(masks.predicted_mask).reshape(scene.mask.shape),
                                  deep_pipeline.predict(scene.cube) == -1)
