"""Tests for sksvdd.metrics: detection_report, anomaly_scorer, per-scene tables."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    get_scorer,
    jaccard_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksvdd import ImageDetector, RXDetector
from sksvdd.metrics import (
    anomaly_scorer,
    detection_report,
    format_table,
    object_detection_report,
    summarize_scenes,
)

METRICS = ["roc_auc", "average_precision", "iou", "f1", "precision", "recall"]


@pytest.fixture
def labelled_pixels():
    """Gaussian pixels with 25 shifted anomalies, y = 1 for them."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 6))
    y = np.zeros(500, dtype=int)
    y[rng.choice(500, 25, replace=False)] = 1
    X[y == 1] += rng.normal(2.5, 1.0, size=(25, 6))
    return X, y


def _report_inputs(seed=0, n=200):
    rng = np.random.RandomState(seed)
    y = rng.rand(n) < 0.1
    y[:2] = [True, False]
    scores = rng.normal(size=n) + 1.5 * y
    return y, scores, scores > 1.0


# detection_report


def test_detection_report_matches_sklearn():
    y, scores, decisions = _report_inputs()
    report = detection_report(y, scores, decisions=decisions)
    assert list(report) == METRICS[:2] + ["iou", "precision", "recall", "f1"]
    assert report["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert report["average_precision"] == pytest.approx(average_precision_score(y, scores))
    assert report["iou"] == pytest.approx(jaccard_score(y, decisions))
    assert report["precision"] == pytest.approx(precision_score(y, decisions))
    assert report["recall"] == pytest.approx(recall_score(y, decisions))
    assert report["f1"] == pytest.approx(f1_score(y, decisions))
    assert all(type(value) is float for value in report.values())


def test_detection_report_without_decisions_has_ranking_metrics_only():
    y, scores, _ = _report_inputs()
    assert list(detection_report(y, scores)) == ["roc_auc", "average_precision"]


def test_detection_report_accepts_images_and_flat_pairs():
    y, scores, decisions = _report_inputs(n=100)
    flat = detection_report(y, scores, decisions=decisions)
    images = detection_report(
        y.reshape(10, 10), scores.reshape(10, 10), decisions=decisions.reshape(10, 10)
    )
    mixed = detection_report(y.reshape(10, 10), scores, decisions=decisions.astype(int))
    assert images == flat
    assert mixed == flat


@pytest.mark.parametrize(
    "y_shape, scores_shape, decisions_shape, bad",
    [((10, 10), (20, 5), (100,), "scores"), ((10, 10), (100,), (20, 5), "decisions"),
     ((20, 5), (20, 5), (10, 10), "decisions"), ((100,), (100,), (10, 10, 1), "decisions")],
)
def test_detection_report_rejects_mismatched_shapes(y_shape, scores_shape, decisions_shape, bad):
    y, scores, decisions = _report_inputs(n=100)
    with pytest.raises(ValueError, match=f"{bad} has shape .* but y_true has shape"):
        detection_report(y.reshape(y_shape), scores.reshape(scores_shape),
                         decisions=decisions.reshape(decisions_shape))


def test_detection_report_rejects_length_mismatch():
    with pytest.raises(ValueError, match="same number of pixels"):
        detection_report([0, 1, 0], [0.1, 0.2])


def test_detection_report_needs_both_classes():
    with pytest.raises(ValueError, match="no anomaly pixels"):
        detection_report(np.zeros(5, dtype=bool), np.arange(5.0))
    with pytest.raises(ValueError, match="no normal pixels"):
        detection_report(np.ones(5, dtype=bool), np.arange(5.0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_detection_report_rejects_non_finite_scores(bad):
    with pytest.raises(ValueError, match="scores contains NaN or infinite"):
        detection_report([0, 1, 0], [0.1, bad, 0.3])


def test_detection_report_rejects_predict_labels_with_a_hint():
    y, scores, decisions = _report_inputs()
    predict_output = np.where(decisions, -1, 1)
    with pytest.raises(ValueError, match=r"decisions = predict\(X\) == -1"):
        detection_report(y, scores, decisions=predict_output)
    with pytest.raises(ValueError, match=r"y_true = predict\(X\) == -1"):
        detection_report(np.where(y, -1, 1), scores)
    with pytest.raises(ValueError, match="decisions must be bool or 0/1"):
        detection_report(y, scores, decisions=np.full(y.shape, 2))


def test_detection_report_no_predicted_anomaly_is_zero_without_warning():
    y, scores, _ = _report_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = detection_report(y, scores, decisions=np.zeros_like(y))
    assert report["precision"] == report["recall"] == report["f1"] == report["iou"] == 0.0


# anomaly_scorer


@pytest.mark.parametrize(
    "estimator",
    [RXDetector(contamination=0.05), IsolationForest(contamination=0.05, random_state=0),
     make_pipeline(StandardScaler(), RXDetector(contamination=0.05))],
    ids=["rx", "iforest", "pipeline"],
)
def test_anomaly_scorer_signs(estimator, labelled_pixels):
    X, y = labelled_pixels
    est = estimator.fit(X)
    auc = anomaly_scorer("roc_auc")(est, X, y)
    assert auc == pytest.approx(roc_auc_score(y, -est.score_samples(X)))
    assert auc > 0.9
    # scikit-learn's own scorer ranks by decision_function (high = inlier):
    assert get_scorer("roc_auc")(est, X, y) == pytest.approx(1.0 - auc)
    assert anomaly_scorer("average_precision")(est, X, y) == pytest.approx(
        average_precision_score(y, -est.score_samples(X))
    )
    predicted = est.predict(X) == -1
    for name, fn in [("f1", f1_score), ("iou", jaccard_score),
                     ("precision", precision_score), ("recall", recall_score)]:
        assert anomaly_scorer(name)(est, X, y) == pytest.approx(fn(y, predicted))
    assert anomaly_scorer("f1")(est, X, y) > 0.5


def test_anomaly_scorer_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="'roc_auc', 'average_precision', 'iou'"):
        anomaly_scorer("accuracy")


def test_anomaly_scorer_validates_y(labelled_pixels):
    X, y = labelled_pixels
    rx = RXDetector().fit(X)
    with pytest.raises(ValueError, match="needs y"):
        anomaly_scorer("roc_auc")(rx, X, None)
    with pytest.raises(ValueError, match=r"predict\(X\) == -1"):
        anomaly_scorer("f1")(rx, X, np.where(y == 1, -1, 1))


def test_anomaly_scorer_in_grid_search_with_refit(labelled_pixels):
    X, y = labelled_pixels
    scoring = {name: anomaly_scorer(name) for name in METRICS}
    search = GridSearchCV(
        RXDetector(), {"contamination": [0.005, 0.05, 0.3]}, scoring=scoring, refit="f1",
        cv=StratifiedKFold(3, shuffle=True, random_state=0), error_score="raise",
    ).fit(X, y)
    assert search.best_params_ == {"contamination": 0.05}
    # AUROC does not depend on the threshold; recall grows with it.
    auc = search.cv_results_["mean_test_roc_auc"]
    assert np.allclose(auc, auc[0]) and auc[0] > 0.9
    assert np.all(np.diff(search.cv_results_["mean_test_recall"]) >= 0)
    assert search.best_estimator_.contamination == 0.05


def test_anomaly_scorer_in_cross_validate_single_and_pickled(labelled_pixels):
    X, y = labelled_pixels
    scorer = pickle.loads(pickle.dumps(anomaly_scorer("roc_auc")))
    assert repr(scorer) == "anomaly_scorer('roc_auc')"
    result = cross_validate(
        make_pipeline(StandardScaler(), RXDetector()), X, y, scoring=scorer,
        cv=StratifiedKFold(2, shuffle=True, random_state=0), error_score="raise",
    )
    assert result["test_score"].shape == (2,)
    assert np.all(result["test_score"] > 0.9)


# summarize_scenes and format_table


def test_summarize_scenes_is_a_macro_average():
    per_scene = {name: _report_inputs(seed, n) for name, seed, n in
                 [("small", 1, 80), ("large", 2, 2000), ("mid", 3, 300)]}
    y, scores, decisions = per_scene["large"]
    per_scene["large"] = (y, scores + 3.0, decisions)  # another image's score scale
    table = summarize_scenes(per_scene)
    assert list(table) == ["small", "large", "mid", "mean", "worst"]
    for name, (y, scores, decisions) in per_scene.items():
        assert table[name] == detection_report(y, scores, decisions=decisions)
    for metric in METRICS:
        values = [table[name][metric] for name in per_scene]
        assert table["mean"][metric] == pytest.approx(np.mean(values))
        assert table["worst"][metric] == pytest.approx(np.min(values))
    ys, scores, _ = zip(*per_scene.values(), strict=True)
    pooled = roc_auc_score(np.concatenate(ys), np.concatenate(scores))
    assert table["mean"]["roc_auc"] - pooled > 0.05


def test_summarize_scenes_accepts_precomputed_reports():
    y, scores, _ = _report_inputs()
    table = summarize_scenes({"a": (y, scores), "b": {"roc_auc": 0.5, "average_precision": 0.1}})
    assert table["worst"] == {"roc_auc": 0.5, "average_precision": 0.1}


@pytest.mark.parametrize(
    "per_scene, match",
    [({}, "non-empty dict"), ([("a", 1)], "non-empty dict"),
     ({"mean": _report_inputs()}, "clash"), ({"a": "oops"}, r"per_scene\['a'\]"),
     ({"a": _report_inputs(), "b": _report_inputs()[:2]}, "different metrics")],
)
def test_summarize_scenes_validation(per_scene, match):
    with pytest.raises(ValueError, match=match):
        summarize_scenes(per_scene)


def test_format_table_scene_table():
    y, scores, decisions = _report_inputs()
    table = summarize_scenes({"scene-1": (y, scores, decisions), "s2": (y, -scores, decisions)})
    lines = format_table(table, digits=2).splitlines()
    assert len(lines) == 2 + 4
    assert [cell.strip() for cell in lines[0].strip("|").split("|")] == [
        "scene", "AUROC", "AP", "IoU", "Precision", "Recall", "F1"
    ]
    assert set(lines[1]) <= set("|-:")
    first = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert first[0] == "scene-1"
    assert first[1] == f"{table['scene-1']['roc_auc']:.2f}"
    assert lines[-1].startswith("| worst")
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_format_table_flat_report_and_missing_values():
    flat = format_table({"roc_auc": 0.91234, "custom": 2.0}, digits=1)
    assert flat.splitlines()[0].split() == ["|", "AUROC", "|", "custom", "|"]
    assert "0.9" in flat.splitlines()[2]
    ragged = format_table({"a": {"roc_auc": 0.5}, "b": {"roc_auc": 0.7, "f1": 0.1}})
    assert ragged.splitlines()[2].split("|")[3].strip() == "-"


@pytest.mark.parametrize("report, kwargs", [({}, {}), ({"a": 0.1}, {"digits": -1}),
                                            ({"a": 0.1, "b": {"x": 1.0}}, {})])
def test_format_table_validation(report, kwargs):
    with pytest.raises(ValueError):
        format_table(report, **kwargs)


# object_detection_report


def _hand_built_masks():
    """Ground truth with known objects and predictions with known hits and false alarms."""
    truth = np.zeros((12, 12), dtype=bool)
    truth[1:3, 1:3] = True                   # A: a 2x2 square
    truth[6, 1:4] = True                     # B: an L
    truth[7:9, 1] = True
    truth[1, 8] = truth[2, 9] = True         # C: two pixels touching by a corner
    truth[10, 10] = True                     # D: one pixel
    predicted = np.zeros_like(truth)
    predicted[2, 2:5] = True                 # overlaps A
    predicted[8, 0:2] = True                 # touches B's foot
    predicted[4, 8] = True                   # false alarm 1
    predicted[9, 5] = predicted[10, 6] = True  # false alarm 2 (8-conn), 2 and 3 (4-conn)
    # C and D are missed.
    return truth, predicted


@pytest.mark.parametrize("connectivity, expected", [
    # 8-connectivity: objects A, B, C, D; hits A, B; false-alarm regions 2.
    (8, dict(n_objects=4, n_detected=2, n_false_alarms=2)),
    # 4-connectivity: C splits in two; the diagonal false alarm splits in two.
    (4, dict(n_objects=5, n_detected=2, n_false_alarms=3)),
])
def test_object_detection_report_on_hand_built_masks(connectivity, expected):
    truth, predicted = _hand_built_masks()
    report = object_detection_report(truth, predicted, connectivity=connectivity)
    assert {k: report[k] for k in expected} == expected
    assert report["n_images"] == 1
    assert report["detection_rate"] == expected["n_detected"] / expected["n_objects"]
    assert report["false_alarms"] == expected["n_false_alarms"]


def test_object_detection_report_sums_over_images_and_forms_agree():
    truth, predicted = _hand_built_masks()
    empty = np.zeros_like(truth)
    batch = object_detection_report(np.stack([truth, truth]), np.stack([predicted, empty]))
    # Second image: 4 objects, none hit, no false alarm.
    assert (batch["n_objects"], batch["n_detected"], batch["n_false_alarms"]) == (8, 2, 2)
    assert batch["detection_rate"] == 0.25 and batch["false_alarms"] == 1.0
    small = np.zeros((3, 4), dtype=bool)
    listed = object_detection_report([truth, small], [predicted, small | True])
    assert listed["n_false_alarms"] == 3 and listed["false_alarms"] == 1.5


def test_object_detection_report_without_objects():
    report = object_detection_report(np.zeros((4, 4), int), np.eye(4, dtype=int))
    assert np.isnan(report["detection_rate"])
    assert report["n_false_alarms"] == 1  # the diagonal is one region with 8-connectivity


def _flood_fill_counts(truth, predicted, connectivity):
    """Objects, hits and false alarms by breadth-first search: independent of scipy."""
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if connectivity == 8:
        steps += [(-1, -1), (-1, 1), (1, -1), (1, 1)]

    def regions(mask):
        seen = np.zeros_like(mask)
        for start in zip(*np.nonzero(mask)):
            if seen[start]:
                continue
            seen[start], queue, region = True, [start], []
            while queue:
                r, c = queue.pop()
                region.append((r, c))
                for dr, dc in steps:
                    q = (r + dr, c + dc)
                    if (0 <= q[0] < mask.shape[0] and 0 <= q[1] < mask.shape[1]
                            and mask[q] and not seen[q]):
                        seen[q] = True
                        queue.append(q)
            yield region

    objects = list(regions(truth))
    hits = sum(any(predicted[p] for p in obj) for obj in objects)
    alarms = sum(not any(truth[p] for p in reg) for reg in regions(predicted))
    return len(objects), hits, alarms


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("connectivity", [4, 8])
def test_object_detection_report_matches_flood_fill(seed, connectivity):
    rng = np.random.RandomState(seed)
    truth, predicted = rng.rand(25, 30) < 0.15, rng.rand(25, 30) < 0.1
    report = object_detection_report(truth, predicted, connectivity=connectivity)
    assert (report["n_objects"], report["n_detected"], report["n_false_alarms"]) == \
        _flood_fill_counts(truth, predicted, connectivity)


@pytest.mark.parametrize("y_true, decisions, kwargs, match", [
    (np.zeros((3, 3)), np.zeros((3, 4)), {}, r"decisions\[0\] has shape \(3, 4\)"),
    (np.zeros((2, 3, 3)), np.zeros((3, 3)), {}, "2 image"),
    (np.zeros((3, 3)), np.full((3, 3), -1), {}, r"predict\(X\) == -1"),
    (np.zeros(9), np.zeros(9), {}, "must be a \\(rows, cols\\) mask"),
    (np.zeros((3, 3)), np.zeros((3, 3)), {"connectivity": 6}, "connectivity must be 4 or 8"),
])
def test_object_detection_report_validation(y_true, decisions, kwargs, match):
    with pytest.raises(ValueError, match=match):
        object_detection_report(y_true, decisions, **kwargs)


@pytest.fixture
def labelled_images():
    """Four 24 x 24 Gaussian images, each with two shifted targets (a pixel, a 2 x 2 block)."""
    rng = np.random.RandomState(0)
    images = rng.normal(size=(4, 24, 24, 5))
    masks = np.zeros((4, 24, 24), dtype=bool)
    masks[:, 4, 4] = True
    masks[:, 15:17, 10:12] = True
    images[masks] += rng.normal(4.0, 0.5, size=(int(masks.sum()), 5))
    return images, masks


def test_anomaly_scorer_on_an_image_level_detector(labelled_images):
    images, masks = labelled_images
    det = ImageDetector(detector=RXDetector(contamination=0.02)).fit(images)
    scores = -det.score_samples(images)
    predicted = det.predict(images) == -1
    assert anomaly_scorer("roc_auc")(det, images, masks) == pytest.approx(
        roc_auc_score(masks.ravel(), scores.ravel()))
    assert anomaly_scorer("iou")(det, images, masks) == pytest.approx(
        jaccard_score(masks.ravel(), predicted.ravel()))
    report = object_detection_report(masks, predicted)
    assert report["n_objects"] == 8
    assert anomaly_scorer("detection_rate")(det, images, masks) == report["detection_rate"]
    assert anomaly_scorer("neg_false_alarms")(det, images, masks) == -report["false_alarms"]
    # A list of images of different sizes, with a list of masks.
    listed = [images[0], images[1, :20]]
    assert anomaly_scorer("detection_rate")(det, listed, [masks[0], masks[1, :20]]) == \
        object_detection_report([masks[0], masks[1, :20]],
                                [m == -1 for m in det.predict(listed)])["detection_rate"]


def test_anomaly_scorer_object_metrics_need_images(labelled_images, labelled_pixels):
    images, masks = labelled_images
    X, y = labelled_pixels
    with pytest.raises(ValueError, match="needs images"):
        anomaly_scorer("detection_rate")(RXDetector().fit(X), X, y)
    det = ImageDetector(detector=RXDetector()).fit(images)
    with pytest.raises(ValueError, match="one \\(rows, cols\\) mask per image"):
        anomaly_scorer("iou")(det, images, masks[:, :20])
    with pytest.raises(ValueError, match="no anomaly object"):
        anomaly_scorer("detection_rate")(det, images, np.zeros_like(masks))


def test_object_scorers_in_grid_search_over_images(labelled_images):
    images, masks = labelled_images
    search = GridSearchCV(
        ImageDetector(detector=RXDetector()),
        {"detector__contamination": [0.001, 0.01, 0.1]},
        scoring={"rate": anomaly_scorer("detection_rate"),
                 "alarms": anomaly_scorer("neg_false_alarms")},
        refit="rate", cv=KFold(2), error_score="raise",
    ).fit(images, masks)
    rate = search.cv_results_["mean_test_rate"]
    alarms = -search.cv_results_["mean_test_alarms"]
    # A lower threshold finds more objects and raises more false alarms.
    assert np.all(np.diff(rate) >= 0) and rate[-1] == 1.0
    assert np.all(np.diff(alarms) >= 0) and alarms[-1] > alarms[0]
