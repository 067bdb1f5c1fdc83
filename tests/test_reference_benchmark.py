"""The reference-workflow benchmark's machinery (benchmarks/reference.py) on synthetic data.

No real scenes needed: small built-in scenes and hand-made masks.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import jaccard_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
reference = pytest.importorskip("reference")

from sksvdd import RXDetector  # noqa: E402
from sksvdd.datasets import make_hyperspectral_scene  # noqa: E402


def _scene(seed, rows=20, cols=25):
    scene = make_hyperspectral_scene(n_rows=rows, n_cols=cols, n_bands=12, random_state=seed)
    return scene.cube, scene.mask


def test_split_halves_covers_the_scene_without_overlap():
    cube, mask = _scene(0, cols=25)
    (left, left_mask), (right, right_mask) = reference.split_halves(cube, mask)
    assert left.shape[1] == 12 and right.shape[1] == 13
    np.testing.assert_array_equal(np.concatenate([left, right], axis=1), cube)
    np.testing.assert_array_equal(np.concatenate([left_mask, right_mask], axis=1), mask)


def test_halves_cases_need_anomalies_in_both_halves():
    cube = np.zeros((4, 6, 3))
    both, one = np.zeros((4, 6), bool), np.zeros((4, 6), bool)
    both[0, 0] = both[3, 5] = True
    one[1, 1] = True                               # left half only
    cases = list(reference.halves_cases({"both": (cube, both), "one": (cube, one)}))
    assert [c.name for c in cases] == ["both L->R", "both R->L"]
    forward, backward = cases
    np.testing.assert_array_equal(forward.train[0][1], both[:, :3])
    np.testing.assert_array_equal(forward.test[1], both[:, 3:])
    np.testing.assert_array_equal(backward.train[0][1], both[:, 3:])


def test_multi_image_cases_hold_each_scene_out_of_its_group():
    scenes = {name: _scene(seed) for seed, name in enumerate("abc")}
    groups = {"g": ["a", "b", "c", "absent"], "alone": ["x"]}
    cases = list(reference.multi_image_cases(scenes, groups))
    assert [c.name for c in cases] == ["a", "b", "c"]
    for case in cases:
        assert case.test[0] is scenes[case.name][0]
        assert [cube is scenes[case.name][0] for cube, _ in case.train] == [False, False]
        assert len(case.train) == 2


def test_pixel_model_fits_only_normal_reference_pixels_and_thresholds_at_the_quantile():
    train = [_scene(0), _scene(1, rows=15)]
    model = reference.PixelModel(RXDetector(), own_threshold=False).fit(train)
    normal = np.concatenate([cube[~mask] for cube, mask in train])
    np.testing.assert_allclose(model.estimator.location_, normal.astype(np.float64).mean(axis=0))
    reference_scores = -RXDetector().fit(normal).score_samples(normal)
    assert model.threshold_ == pytest.approx(np.quantile(reference_scores, 0.995))
    anomaly, flagged = model.score(train[0][0])
    assert anomaly.shape == flagged.shape == train[0][1].shape
    np.testing.assert_array_equal(flagged, anomaly > model.threshold_)
    # With its own threshold, the flags are the detector's predictions.
    own = reference.PixelModel(RXDetector(contamination=0.05), own_threshold=True).fit(train)
    cube = train[1][0]
    np.testing.assert_array_equal(
        own.score(cube)[1].ravel(), own.estimator.predict(cube.reshape(-1, 12)) == -1)


def test_pixel_model_subsample_is_seeded():
    train = [_scene(0)]
    fits = [reference.PixelModel(RXDetector(), own_threshold=False, subsample=100, seed=s)
            .fit(train).estimator.location_ for s in (0, 0, 1)]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.allclose(fits[0], fits[2])


def test_evaluate_metrics_match_an_independent_computation():
    case = reference.Case("multi-image", "b", [_scene(0)], _scene(1))
    metrics = reference.evaluate(reference.PixelModel(RXDetector(), own_threshold=False), case)
    cube, mask = case.test
    rx = RXDetector().fit(case.train[0][0][~case.train[0][1]])
    anomaly = -rx.score_samples(cube.reshape(-1, 12))
    threshold = np.quantile(-rx.score_samples(case.train[0][0][~case.train[0][1]]), 0.995)
    flagged = anomaly > threshold
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(mask.ravel(), anomaly))
    assert metrics["iou"] == pytest.approx(jaccard_score(mask.ravel(), flagged))
    assert set(metrics) == set(reference.METRICS) | {"fit_s"}


def _records():
    """Two detectors, two cases, two seeds, with known values."""
    values = {  # (detector, case, seed) -> (roc_auc, false_alarms)
        ("a", "c1", 0): (0.9, 1.0), ("a", "c1", 1): (0.7, 3.0),
        ("a", "c2", 0): (0.5, 0.0), ("a", "c2", 1): (0.5, 2.0),
        ("b", "c1", 0): (0.8, 0.0), ("b", "c2", 0): (0.6, 0.0),
    }
    return [dict(protocol="p", case=c, detector=d, seed=s, roc_auc=auc, iou=auc / 2,
                 false_alarms=fa) for (d, c, s), (auc, fa) in values.items()]


def test_summarize_mean_worst_and_seed_spread():
    table = reference.summarize(_records(), metrics=("roc_auc", "iou", "false_alarms"))
    a = table["a"]
    assert a["AUROC"] == pytest.approx(0.65)             # cases 0.8 and 0.5
    assert a["AUROC worst"] == pytest.approx(0.5)
    assert a["AUROC seed spread"] == pytest.approx(0.1)  # seed means 0.7 and 0.6
    assert a["IoU worst"] == pytest.approx(0.25)
    assert a["FA / image"] == pytest.approx(1.5)
    assert table["b"]["AUROC seed spread"] == 0.0        # one seed (deterministic)
    per_case = reference.per_case_table(_records(), "roc_auc")
    assert per_case["c1"] == pytest.approx({"a": 0.8, "b": 0.8})


def test_quick_run_on_synthetic_scenes_and_json_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "SHARED_HSI", tmp_path / "absent")
    monkeypatch.setattr(reference, "synthetic_scenes",
                        lambda: {f"s{i}": _scene(i, rows=16, cols=20) for i in range(3)})
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    reference.main(["--detectors", "RX", "IsolationForest", "--seeds", "0", "1",
                    "--json", str(out), "--markdown", str(md)])
    text = md.read_text()
    assert "### multi-image (3 cases)" in text and "| RX " in text
    import json

    result = json.loads(out.read_text())
    rx = [r for r in result["records"] if r["detector"] == "RX"]
    assert {r["seed"] for r in rx} == {0}                # deterministic: fitted once
    iforest = [r for r in result["records"] if r["detector"] == "IsolationForest"]
    assert {r["seed"] for r in iforest} == {0, 1}
    reference.main(["--from-json", str(out), str(out), "--markdown", str(md)])
    assert "(3 cases)" in md.read_text()  # merged records of the same cases
