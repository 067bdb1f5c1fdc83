"""DeepSVDDDetector: the two phases, the loss, the hypersphere, the outlier API."""

import pickle
import subprocess
import sys
import textwrap
import warnings
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sksvdd import DeepSVDDDetector, PerPixelUnitNorm, RXDetector, load, save
from sksvdd._svdd._hypersphere import CENTER_EPS, _push_from_zero, squared_distance, svdd_loss
from sksvdd._svdd._training import HypersphereTracker, PixelDataset

FAST = dict(max_epochs=3, random_state=0)


def _embed_numpy(det, X):
    """The network's forward pass recomputed with NumPy from its weights."""
    m = det.net_.module_
    mean = m.encoder.mean.detach().numpy().astype(np.float64)
    scale = m.encoder.scale.detach().numpy().astype(np.float64)
    W1 = m.projection[0].weight.detach().numpy().astype(np.float64)
    W2 = m.projection[2].weight.detach().numpy().astype(np.float64)
    z = (np.asarray(X, dtype=np.float64) - mean) / scale
    return np.maximum(z @ W1.T, 0.0) @ W2.T


# --- phase 1 ---------------------------------------------------------------


def test_phase1_statistics_equal_numpy_on_all_pixels(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=0, sample_n=10_000, random_state=0, trim_fraction=0).fit(X)
    enc = det.net_.module_.encoder
    np.testing.assert_allclose(enc.mean.detach().numpy(), X.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(enc.scale.detach().numpy(), X.std(axis=0), rtol=1e-5)


def test_phase1_uses_the_documented_sample(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=0, sample_n=100, random_state=3, trim_fraction=0).fit(X)
    idx = check_random_state(3).choice(len(X), 100, replace=False)
    enc = det.net_.module_.encoder
    np.testing.assert_allclose(enc.mean.detach().numpy(), X[idx].mean(axis=0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(enc.scale.detach().numpy(), X[idx].std(axis=0), rtol=1e-5)
    assert not np.allclose(enc.mean.detach().numpy(), X.mean(axis=0), atol=1e-3)


def test_phase1_centre_is_mean_embedding_pushed_from_zero(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=0, rep_dim=64, random_state=0, trim_fraction=0).fit(X)
    raw = _embed_numpy(det, X).mean(axis=0)
    expected = np.where(np.abs(raw) < CENTER_EPS, np.where(raw < 0, -CENTER_EPS, CENTER_EPS), raw)
    np.testing.assert_allclose(det.center_, expected, rtol=1e-4, atol=1e-6)
    # With 64 coordinates some are small: the push must have happened somewhere.
    assert np.any(np.abs(raw) < CENTER_EPS)
    assert np.all(np.abs(det.center_) >= CENTER_EPS - 1e-7)


def test_phase1_radius_is_quantile_and_model_is_usable(blobs):
    X, y = blobs
    det = DeepSVDDDetector(max_epochs=0, nu=0.2, random_state=0, trim_fraction=0).fit(X)
    dist2 = ((_embed_numpy(det, X) - det.center_) ** 2).sum(axis=1)
    assert det.radius_**2 == pytest.approx(np.quantile(dist2, 0.8), rel=1e-4)
    np.testing.assert_allclose(-det.score_samples(X), dist2, rtol=1e-4)
    assert det.n_iter_ == 0 and det.history_ == []
    assert roc_auc_score(y, -det.score_samples(X)) > 0.9


class _RecordBatches(Callback):
    """Keep every training batch that phase 2 sees."""

    def on_train_begin(self, net, **kwargs):
        self.rows = []

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.rows.append(batch[0].numpy().copy())


def test_trimmed_phase1_leaves_out_the_most_outlying_pixels(blobs):
    X, _ = blobs
    plain = DeepSVDDDetector(max_epochs=0, trim_fraction=0, random_state=0).fit(X)
    dist2 = -plain.score_samples(X)
    inside = dist2 <= np.quantile(dist2, 0.95)
    det = DeepSVDDDetector(max_epochs=0, trim_fraction=0.05, random_state=0).fit(X)
    enc = det.net_.module_.encoder
    np.testing.assert_allclose(enc.mean.detach().numpy(), X[inside].mean(axis=0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(enc.scale.detach().numpy(), X[inside].std(axis=0), rtol=1e-5)
    # Same initial weights; centre and radius from the pixels inside the cut only.
    np.testing.assert_array_equal(det.net_.module_.projection[0].weight.detach().numpy(),
                                  plain.net_.module_.projection[0].weight.detach().numpy())
    emb = _embed_numpy(det, X[inside])
    raw = emb.mean(axis=0)
    center = np.where(np.abs(raw) < CENTER_EPS, np.where(raw < 0, -CENTER_EPS, CENTER_EPS), raw)
    np.testing.assert_allclose(det.center_, center, rtol=1e-4, atol=1e-6)
    assert det.radius_**2 == pytest.approx(
        np.quantile(((emb - center) ** 2).sum(axis=1), 1 - det.nu), rel=1e-4)
    # The threshold is still fitted on every training pixel.
    assert det.offset_ == pytest.approx(np.quantile(det.score_samples(X), det.contamination))


def test_phase2_never_trains_on_the_trimmed_pixels(blobs):
    X, _ = blobs
    X = X.astype(np.float32)
    plain = DeepSVDDDetector(max_epochs=0, trim_fraction=0, random_state=0).fit(X)
    dist2 = -plain.score_samples(X)
    inside = dist2 <= np.quantile(dist2, 0.9)
    recorder = _RecordBatches()
    det = DeepSVDDDetector(max_epochs=2, trim_fraction=0.1, patience=None,
                           callbacks=[("rec", recorder)], random_state=0).fit(X)
    seen = np.concatenate(dict(det.net_.callbacks_)["rec"].rows)
    assert len(seen) == 2 * inside.sum()  # two epochs over the pixels inside the cut

    def rows(A):
        return A[np.lexsort(A.T[::-1])]

    np.testing.assert_array_equal(rows(seen[: inside.sum()]), rows(X[inside]))
    # A warm start trims with the fitted model's scores, without redoing phase 1.
    fitted_dist2 = -det.score_samples(X)
    inside = fitted_dist2 <= np.quantile(fitted_dist2, 0.9)
    det.set_params(warm_start=True, max_epochs=1)
    det.fit(X)
    seen = np.concatenate(dict(det.net_.callbacks_)["rec"].rows)
    np.testing.assert_array_equal(rows(seen), rows(X[inside]))


def test_phase2_uses_the_fused_adam_on_cpu(blobs):
    # benchmarks/speed.py: the fused kernel is what brings an epoch near a bare loop.
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=1, random_state=0).fit(X)
    assert isinstance(det.net_.optimizer_, torch.optim.Adam)
    assert det.net_.optimizer_.defaults["fused"] is True


def test_push_from_zero():
    c = torch.tensor([0.0, 0.05, -0.05, 0.3, -0.2, -1e-9])
    np.testing.assert_allclose(
        _push_from_zero(c, 0.1).numpy(), [0.1, 0.1, -0.1, 0.3, -0.2, -0.1], rtol=1e-6
    )


# --- loss and hypersphere tracking --------------------------------------------


@pytest.mark.parametrize("nu", [0.05, 0.1, 0.5])
def test_soft_boundary_loss_matches_hand_computation(nu):
    d = np.array([0.1, 0.4, 2.0, 3.5, 0.9])
    R2 = 1.0
    expected = R2 + (1.0 / nu) * np.mean(np.maximum(0.0, d - R2))
    got = svdd_loss(torch.tensor(d), torch.tensor(R2), nu, "soft-boundary")
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_one_class_loss_is_mean_squared_distance():
    d = np.array([0.1, 0.4, 2.0, 3.5, 0.9])
    got = svdd_loss(torch.tensor(d), torch.tensor(100.0), 0.1, "one-class")
    assert float(got) == pytest.approx(d.mean(), rel=1e-12)


def test_net_loss_is_the_objective_of_the_embeddings(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=0, nu=0.3, random_state=0).fit(X)
    Xt = torch.as_tensor(X[:64])
    with torch.no_grad():
        emb = det.net_.module_(Xt)
        loss = float(det.net_.get_loss(emb, None, X=Xt, training=True))
    d = ((emb.numpy().astype(np.float64) - det.center_) ** 2).sum(axis=1)
    R2 = det.radius_**2
    assert loss == pytest.approx(R2 + np.maximum(0, d - R2).mean() / 0.3, rel=1e-5)


class _FakeHistory(list):
    """skorch's History as the tracker sees it: one dict per epoch, ``record`` into the last."""

    def record(self, key, value):
        self[-1][key] = value


def _fake_net(center, radius2=0.0):
    module = SimpleNamespace(center=torch.tensor(center), radius2=torch.tensor(radius2))
    optimizer = SimpleNamespace(param_groups=[{"lr": 0.01}])
    return SimpleNamespace(module_=module, optimizer_=optimizer, history=_FakeHistory([{}]))


def test_center_ema_update_after_each_batch():
    net = _fake_net([1.0, -2.0, 0.5])
    tracker = HypersphereTracker(center_ema=0.25, nu=0.1)
    tracker.on_epoch_begin(net)
    batch = torch.tensor([[3.0, 2.0, 0.5], [1.0, 0.0, 1.5]])
    tracker.on_batch_end(net, training=True, y_pred=batch,
                         dist2=squared_distance(batch, net.module_.center))
    expected = 0.75 * np.array([1.0, -2.0, 0.5]) + 0.25 * batch.numpy().mean(axis=0)
    np.testing.assert_allclose(net.module_.center.numpy(), expected, rtol=1e-6)
    tracker.on_batch_end(net, training=False, y_pred=batch * 100)  # validation: no update
    np.testing.assert_allclose(net.module_.center.numpy(), expected, rtol=1e-6)


def test_center_ema_zero_keeps_phase1_centre(blobs):
    X, _ = blobs
    phase1 = DeepSVDDDetector(max_epochs=0, center_ema=0.0, random_state=0).fit(X)
    trained = DeepSVDDDetector(max_epochs=4, center_ema=0.0, random_state=0).fit(X)
    np.testing.assert_array_equal(trained.center_, phase1.center_)
    assert all(row["center_shift"] == 0.0 for row in trained.history_)


def test_radius_follows_quantile_after_warm_up():
    net = _fake_net([0.0, 0.0], radius2=5.0)
    tracker = HypersphereTracker(center_ema=0.0, nu=0.2, warm_up_epochs=2)
    emb = torch.stack([torch.arange(1.0, 11.0, dtype=torch.float64).sqrt(), torch.zeros(10)], 1)
    dist2 = (emb**2).sum(dim=1).numpy()
    q = float(np.quantile(dist2, 0.8))
    # (epoch, R^2 the epoch trained with, R^2 after the epoch)
    for epoch, before, expected_r2 in [(1, 5.0, 5.0), (2, 5.0, q), (3, q, q)]:
        if epoch > 1:
            net.history.append({})
        tracker.on_epoch_begin(net)
        for part in (emb[:4], emb[4:]):
            tracker.on_batch_end(net, training=True, y_pred=part,
                                 dist2=squared_distance(part, net.module_.center))
        tracker.on_epoch_end(net)
        assert float(net.module_.radius2) == pytest.approx(expected_r2, rel=1e-6)
        assert net.history[-1]["radius"] == pytest.approx(np.sqrt(expected_r2), rel=1e-6)
        assert net.history[-1]["outside_frac"] == pytest.approx(np.mean(dist2 > before))


def test_history_records_every_epoch(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=4, patience=None, random_state=0).fit(X)
    assert det.n_iter_ == 4 == len(det.history_)
    assert [row["epoch"] for row in det.history_] == [1, 2, 3, 4]
    for row in det.history_:
        assert set(row) == {
            "epoch", "loss", "loss_best", "radius", "center_shift", "outside_frac", "lr", "dur"
        }
        assert np.isfinite(row["loss"]) and row["radius"] > 0
        assert 0.0 <= row["outside_frac"] <= 1.0
    # After warm-up R follows the (1 - nu) quantile: about nu of the pixels lie outside.
    assert det.history_[-1]["outside_frac"] == pytest.approx(0.1, abs=0.05)


def test_early_stopping_stops_and_restores_best(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=50, patience=2, lr=1e-9, random_state=0).fit(X)
    assert det.n_iter_ < 50
    losses = [row["loss"] for row in det.history_]
    best = int(np.argmin(losses))
    assert det.history_[best]["loss_best"]
    assert not any(row["loss_best"] for row in det.history_[best + 1 :])
    assert det.radius_ == pytest.approx(det.history_[best]["radius"], rel=1e-6)


# --- threshold and outlier API ------------------------------------------------


@pytest.mark.parametrize("contamination", [0.005, 0.05, 0.25])
def test_contamination_sets_fraction_predicted_outlier(blobs, contamination):
    X, _ = blobs
    det = DeepSVDDDetector(contamination=contamination, **FAST).fit(X)
    pred = det.predict(X)
    assert pred.dtype.kind == "i" and set(np.unique(pred)) <= {-1, 1}
    assert abs(np.mean(pred == -1) - contamination) <= 1.0 / len(X)
    np.testing.assert_allclose(det.decision_function(X), det.score_samples(X) - det.offset_)
    np.testing.assert_array_equal(det.fit_predict(X), pred)


def test_same_random_state_gives_identical_scores(blobs):
    X, _ = blobs
    s1 = DeepSVDDDetector(**FAST).fit(X).score_samples(X)
    s2 = DeepSVDDDetector(**FAST).fit(X).score_samples(X)
    s3 = DeepSVDDDetector(max_epochs=3, random_state=1).fit(X).score_samples(X)
    np.testing.assert_array_equal(s1, s2)
    assert not np.allclose(s1, s3)


def test_scores_do_not_depend_on_batching(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(**FAST).fit(X)
    full = det.score_samples(X)
    parts = np.concatenate([det.score_samples(X[i : i + 7]) for i in range(0, len(X), 7)])
    np.testing.assert_array_equal(full, parts)


def test_finds_shifted_anomalies(blobs):
    X, y = blobs
    det = DeepSVDDDetector(contamination=0.02, **FAST).fit(X)
    assert roc_auc_score(y, -det.score_samples(X)) > 0.95


def test_guard_against_hypersphere_collapse(scene_pixels):
    """The classic Deep SVDD failure: constant scores and a centre at zero."""
    X, _ = scene_pixels
    det = make_pipeline(PerPixelUnitNorm(), DeepSVDDDetector(random_state=0)).fit(X)
    scores = det.score_samples(X)
    svdd = det[-1]
    assert np.std(scores) > 1e-3 * np.abs(scores).mean()
    assert len(np.unique(scores)) > 0.9 * len(scores)
    assert np.linalg.norm(svdd.center_) > 0.5 * CENTER_EPS * np.sqrt(svdd.rep_dim)
    assert svdd.radius_ > 0


def test_default_pipeline_beats_random_on_builtin_scene(scene_pixels):
    X, y = scene_pixels
    pipe = make_pipeline(PerPixelUnitNorm(), DeepSVDDDetector(random_state=0)).fit(X)
    assert roc_auc_score(y, -pipe.score_samples(X)) > 0.7


def test_default_pipeline_beats_random_on_a_real_scene(shared_hsi):
    from sksvdd.datasets import cube_to_pixels, load_scene

    scene = load_scene(shared_hsi / "abu-beach-2.mat")
    X, y = cube_to_pixels(scene.cube), scene.mask.ravel()
    pipe = make_pipeline(PerPixelUnitNorm(), DeepSVDDDetector(random_state=0)).fit(X)
    scores = pipe.score_samples(X)
    assert np.std(scores) > 0
    assert roc_auc_score(y, -scores) > 0.6


# --- composition, persistence, data frames ---------------------------------------


def test_pipeline_and_grid_search(blobs):
    X, y = blobs

    def auroc(est, X, y):
        return roc_auc_score(y, -est.score_samples(X))

    pipe = make_pipeline(PerPixelUnitNorm(), DeepSVDDDetector(**FAST))
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)  # anomalies in every fold
    search = GridSearchCV(pipe, {"deepsvdddetector__nu": [0.05, 0.2]}, scoring=auroc, cv=cv)
    search.fit(X, y)
    assert search.best_params_["deepsvdddetector__nu"] in (0.05, 0.2)
    assert search.best_estimator_[-1].nu == search.best_params_["deepsvdddetector__nu"]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_joblib_round_trip_in_a_new_process(blobs, tmp_path):
    X, _ = blobs
    pipe = make_pipeline(PerPixelUnitNorm(), DeepSVDDDetector(**FAST)).fit(X)
    np.save(tmp_path / "X.npy", X)
    joblib.dump(pipe, tmp_path / "model.joblib")
    code = textwrap.dedent(f"""
        import joblib, numpy as np
        model = joblib.load({str(tmp_path / 'model.joblib')!r})
        X = np.load({str(tmp_path / 'X.npy')!r})
        np.save({str(tmp_path / 'scores.npy')!r}, model.score_samples(X))
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "scores.npy"), pipe.score_samples(X))


def test_cuda_fitted_model_loads_and_scores_on_cpu(blobs):
    """skorch maps a net pickled on CUDA to the CPU when CUDA is unavailable."""
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, _ = blobs
    det = DeepSVDDDetector(**FAST).fit(X)
    expected = det.score_samples(X)
    det.net_.device = "cuda"  # as if fitted with device="cuda"
    blob = pickle.dumps(det)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == "cpu"
    assert any("cuda" in str(w.message) for w in caught)
    np.testing.assert_array_equal(loaded.score_samples(X), expected)


def test_dataframe_feature_names_are_kept_and_checked(blobs):
    X, _ = blobs
    df = pd.DataFrame(X, columns=[f"b{i}" for i in range(X.shape[1])])
    det = DeepSVDDDetector(**FAST).fit(df)
    np.testing.assert_array_equal(det.feature_names_in_, df.columns)
    with pytest.warns(UserWarning, match="valid feature names"):
        from_array = det.score_samples(X)
    np.testing.assert_array_equal(det.score_samples(df), from_array)
    with pytest.raises(ValueError, match="feature names"):
        det.score_samples(df.rename(columns={"b0": "other"}))


class _Counter(Callback):
    def __init__(self, start=0):
        self.start = start

    def initialize(self):
        self.epochs_ = self.start
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def test_user_callbacks_are_cloned_not_mutated(blobs):
    X, _ = blobs
    user_cb = _Counter()
    det = DeepSVDDDetector(max_epochs=3, patience=None, callbacks=[user_cb], random_state=0)
    det.fit(X)
    assert not hasattr(user_cb, "epochs_")
    used = dict(det.net_.callbacks_)["user_0__Counter"]
    assert used is not user_cb and used.epochs_ == 3
    clone(det).fit(X)  # clones and refits fine


def test_device_auto_resolves(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=1, device="auto", random_state=0).fit(X)
    assert det.net_.device == ("cuda" if torch.cuda.is_available() else "cpu")


# --- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"nu": 0.0}, "nu"),
        ({"nu": 1.5}, "nu"),
        ({"contamination": 0.0}, "contamination"),
        ({"contamination": 0.6}, "contamination"),
        ({"center_ema": -0.1}, "center_ema"),
        ({"objective": "svdd"}, "objective"),
        ({"rep_dim": 0}, "rep_dim"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"max_epochs": -1}, "max_epochs"),
        ({"patience": 0}, "patience"),
        ({"device": "tpu"}, "device"),
        ({"device": "not a device"}, "device"),
    ],
)
def test_invalid_parameters_raise_value_error(blobs, params, match):
    with pytest.raises(ValueError, match=match):
        DeepSVDDDetector(**params).fit(blobs[0])


def test_cuda_requested_without_cuda_raises(blobs):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        DeepSVDDDetector(device="cuda").fit(blobs[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("est", [DeepSVDDDetector(**FAST), RXDetector()], ids=["svdd", "rx"])
def test_non_finite_input_raises(blobs, bad, est):
    X, _ = blobs
    X_bad = X.copy()
    X_bad[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        clone(est).fit(X_bad)
    fitted = clone(est).fit(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        fitted.score_samples(X_bad)


@pytest.mark.parametrize("est", [DeepSVDDDetector(**FAST), RXDetector()], ids=["svdd", "rx"])
def test_wrong_number_of_features_and_empty_input_raise(blobs, est):
    X, _ = blobs
    fitted = clone(est).fit(X)
    with pytest.raises(ValueError, match="12 features"):
        fitted.predict(X[:, :5])
    with pytest.raises(ValueError, match="0 sample"):
        clone(est).fit(X[:0])
    with pytest.raises(ValueError, match="0 sample"):
        fitted.score_samples(X[:0])
    with pytest.raises(ValueError, match="2D array"):
        fitted.score_samples(X[0])


# --- fit on a torch Dataset of pixels -------------------------------------------


class _MinimalPixels(torch.utils.data.Dataset):
    """Only the required protocol: ``__len__`` and ``__getitems__`` -> (float32 batch, None)."""

    def __init__(self, X):
        self.X = np.asarray(X, dtype=np.float32)

    def __len__(self):
        return len(self.X)

    def __getitems__(self, indices):
        return torch.from_numpy(self.X[np.asarray(indices)]), None


@pytest.mark.parametrize("make", [_MinimalPixels, lambda X: PixelDataset(X.copy())],
                         ids=["minimal", "PixelDataset"])
@pytest.mark.parametrize("trim_fraction", [0.0, 0.05])
def test_fit_on_a_dataset_equals_fit_on_the_array(blobs, make, trim_fraction):
    X, _ = blobs
    params = dict(max_epochs=2, sample_n=200, patience=None, trim_fraction=trim_fraction,
                  random_state=0)
    ref = DeepSVDDDetector(**params).fit(X)
    det = DeepSVDDDetector(**params).fit(make(X))
    np.testing.assert_array_equal(det.score_samples(X), ref.score_samples(X))
    assert det.offset_ == ref.offset_ and det.radius_ == ref.radius_
    assert det.n_features_in_ == X.shape[1] and not hasattr(det, "feature_names_in_")
    assert [row["loss"] for row in det.history_] == [row["loss"] for row in ref.history_]


@pytest.mark.parametrize("max_epochs, trim_fraction", [(0, 0.02), (1, 0.0)])
def test_fit_on_a_dataset_rejects_non_finite_pixels(blobs, max_epochs, trim_fraction):
    X, _ = blobs
    X_bad = X.copy()
    X_bad[400, 3] = np.nan
    det = DeepSVDDDetector(max_epochs=max_epochs, trim_fraction=trim_fraction, sample_n=10,
                           random_state=0)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        det.fit(_MinimalPixels(X_bad))
    assert not hasattr(det, "net_")


# --- encoder="whiten": phase 1 is RX, phase 2 a correction of it ---------------

WHITEN_P1 = dict(encoder="whiten", max_epochs=0, trim_fraction=0, random_state=0)


@pytest.fixture(scope="module")
def correlated():
    """800 correlated Gaussian pixels in 8 bands with very unequal variances, float32."""
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(8, 8)) * np.logspace(0, -3, 8)[:, None]
    X = rng.normal(size=(800, 8)) @ mixing + 5.0
    return X.astype(np.float32)


def test_whiten_phase1_ranks_pixels_as_rx(correlated):
    X = correlated
    det = DeepSVDDDetector(**WHITEN_P1).fit(X)
    rx = RXDetector().fit(X)
    X_new = X[:200] + np.random.RandomState(1).normal(size=(200, 8)).astype(np.float32) * 0.01
    for data in (X, X_new):
        scores, expected = det.score_samples(data), rx.score_samples(data)
        assert spearmanr(scores, expected)[0] > 0.999
        # The same number, not only the same order: Mahalanobis distance, centre ~0.
        np.testing.assert_allclose(scores, expected, rtol=1e-3)
    assert np.abs(det.center_).max() < 1e-4  # the whitened sample's mean, not pushed out


def test_whiten_buffer_whitens_the_training_sample(correlated):
    X = correlated
    module = DeepSVDDDetector(**WHITEN_P1).fit(X).net_.module_
    W = module.encoder.whitening.numpy().astype(np.float64)
    mu = module.encoder.mean.numpy().astype(np.float64)
    Z = (X.astype(np.float64) - mu) @ W.T
    cov = Z.T @ Z / len(Z)
    # W (Sigma + ridge I) W^T = I, so cov(Z) = I - ridge W W^T: the identity up to the
    # ridge, which here (variances over six decades) is felt in the weakest directions.
    Xd = X.astype(np.float64)
    ridge = 1e-6 * np.trace(np.cov(Xd.T, bias=True)) / 8
    np.testing.assert_allclose(cov, np.eye(8) - ridge * W @ W.T, atol=1e-4)
    assert np.abs(cov[:5, :5] - np.eye(5)).max() < 1e-2
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-4)
    # Rows in decreasing order of the variance they whiten (increasing norm).
    assert np.all(np.diff(np.linalg.norm(W, axis=1)) >= 0)
    # Fixed statistics: nothing of the encoder is trainable.
    assert not any(p.requires_grad for p in module.encoder.parameters())
    assert {"encoder.mean", "encoder.whitening"} <= set(module.state_dict())


def test_whiten_trimmed_phase1_is_rx_without_the_trimmed_pixels(correlated):
    X = correlated.copy()
    X[:10] += 0.5  # a few anomalies, which the trimming leaves out of the statistics
    det = DeepSVDDDetector(encoder="whiten", max_epochs=0, trim_fraction=0.05,
                           random_state=0).fit(X)
    rx_all = RXDetector().fit(X).score_samples(X)
    inside = -rx_all <= np.quantile(-rx_all, 0.95)
    expected = RXDetector().fit(X[inside]).score_samples(X)
    assert spearmanr(det.score_samples(X), expected)[0] > 0.999


def test_whiten_phase2_changes_the_correction_and_keeps_scores_spread(correlated):
    X = correlated
    phase1 = DeepSVDDDetector(**WHITEN_P1).fit(X)
    trained = DeepSVDDDetector(**{**WHITEN_P1, "max_epochs": 5, "lr": 1e-3}).fit(X)
    before = phase1.net_.module_.state_dict()
    after = trained.net_.module_.state_dict()
    assert not torch.equal(before["projection.2.weight"], after["projection.2.weight"])
    assert torch.count_nonzero(before["projection.2.weight"]) == 0  # the correction starts at 0
    # The whitening is not trained; the trailing coordinates keep RX's geometry.
    assert torch.equal(before["encoder.whitening"], after["encoder.whitening"])
    scores = trained.score_samples(X)
    assert np.std(scores) > 1e-3 * np.abs(scores).mean()
    assert trained.center_.shape == (8,) and trained.n_iter_ >= 1


def test_whiten_rep_dim_bounds_the_bent_coordinates(correlated):
    X = correlated
    det = DeepSVDDDetector(encoder="whiten", rep_dim=3, max_epochs=3, lr=1e-2,
                           random_state=0).fit(X)
    module = det.net_.module_
    with torch.no_grad():
        x = torch.as_tensor(X[:50])
        emb, z = module(x), module.encoder(x)
    torch.testing.assert_close(emb[:, 3:], z[:, 3:], rtol=0, atol=0)
    assert not torch.equal(emb[:, :3], z[:, :3])
    # rep_dim above n_features bends every coordinate.
    wide = DeepSVDDDetector(encoder="whiten", rep_dim=32, max_epochs=0).fit(X)
    assert wide.net_.module_.projection[2].weight.shape == (8, 128)


def test_whiten_save_load_round_trip_is_bit_identical(correlated, tmp_path):
    X = correlated
    det = DeepSVDDDetector(encoder="whiten", rep_dim=4, max_epochs=3, lr=1e-3,
                           random_state=0).fit(X)
    loaded = load(save(det, tmp_path / "whiten.sksvdd"))
    assert loaded.encoder == "whiten"
    for key, value in det.net_.module_.state_dict().items():
        assert torch.equal(loaded.net_.module_.state_dict()[key], value), key
    np.testing.assert_array_equal(loaded.center_, det.center_)
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), det.predict(X))


def test_whiten_chunked_scoring_and_dataset_fit_are_bit_identical(correlated):
    X = correlated
    params = dict(encoder="whiten", max_epochs=2, lr=1e-3, patience=None, trim_fraction=0.05,
                  random_state=0)
    det = DeepSVDDDetector(**params).fit(X)
    whole = det.score_samples(X)
    np.testing.assert_array_equal(np.concatenate([det.score_samples(X[i : i + 77])
                                                  for i in range(0, len(X), 77)]), whole)
    streamed = DeepSVDDDetector(**params).fit(PixelDataset(X.copy()))
    np.testing.assert_array_equal(streamed.score_samples(X), whole)


def test_whiten_warm_start_continues_and_refuses_another_encoder(correlated):
    X = correlated
    det = DeepSVDDDetector(encoder="whiten", max_epochs=2, lr=1e-3, patience=None,
                           warm_start=True, random_state=0).fit(X)
    whitening = det.net_.module_.encoder.whitening.clone()
    det.fit(X)
    assert det.n_iter_ == 4
    assert torch.equal(det.net_.module_.encoder.whitening, whitening)
    with pytest.raises(ValueError, match="encoder='standardize'"):
        det.set_params(encoder="standardize").fit(X)


@parametrize_with_checks([DeepSVDDDetector(encoder="whiten", max_epochs=3, random_state=0)])
def test_whiten_passes_the_estimator_checks(estimator, check, monkeypatch):
    # As in test_common.py: check_array_api_input needs the flag to run with NumPy input.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


# --------------------------------------------------------------------------- #
# n_jobs: torch's CPU threads during fit and scoring
# --------------------------------------------------------------------------- #


class _ThreadSpy(Callback):
    """Records torch's thread count at every epoch of a fit, in the class's list.

    (The detector clones its callbacks, parameters included, so the record
    cannot live on the instance.)
    """

    seen = []

    def on_epoch_end(self, net, **kwargs):
        _ThreadSpy.seen.append(torch.get_num_threads())


@pytest.fixture()
def torch_threads_3():
    """torch's count set to 3 (not 1, not 2) for the test, then put back."""
    _ThreadSpy.seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_jobs, during", [(None, 1), (1, 1), (2, 2), (-1, "cores")])
def test_n_jobs_sets_torch_threads_during_fit_and_score_and_restores(
        blobs, monkeypatch, torch_threads_3, n_jobs, during):
    import os

    import sksvdd._svdd._detector as detector_module

    expected = os.cpu_count() if during == "cores" else during
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=2, n_jobs=n_jobs, callbacks=[_ThreadSpy()],
                           random_state=0).fit(X)
    assert _ThreadSpy.seen == [expected, expected]
    assert torch.get_num_threads() == torch_threads_3

    score_pixels = detector_module.score_pixels
    scoring = []
    monkeypatch.setattr(detector_module, "score_pixels", lambda *a: (
        scoring.append(torch.get_num_threads()), score_pixels(*a))[1])
    det.score_samples(X)
    det.predict(X)
    assert scoring == [expected, expected]
    assert torch.get_num_threads() == torch_threads_3


def test_n_jobs_none_follows_joblib_parallel_config(blobs, torch_threads_3):
    X, _ = blobs
    with joblib.parallel_config(n_jobs=2):
        DeepSVDDDetector(max_epochs=1, callbacks=[_ThreadSpy()], random_state=0).fit(X)
    assert _ThreadSpy.seen == [2] and torch.get_num_threads() == torch_threads_3


def test_n_jobs_restores_threads_after_a_failed_fit(torch_threads_3):
    bad = np.ones((50, 4), dtype=np.float32)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError):
        DeepSVDDDetector(max_epochs=1, callbacks=[_ThreadSpy()]).fit(bad)
    assert torch.get_num_threads() == torch_threads_3


def test_n_jobs_does_not_change_results_and_concurrent_scoring_restores(blobs, torch_threads_3):
    from concurrent.futures import ThreadPoolExecutor

    X, _ = blobs
    one = DeepSVDDDetector(max_epochs=2, random_state=0).fit(X)
    two = DeepSVDDDetector(max_epochs=2, n_jobs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(one.score_samples(X), two.score_samples(X))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda det: det.score_samples(X), [one, two] * 4))
    for scores in results:
        np.testing.assert_array_equal(scores, results[0])
    assert torch.get_num_threads() == torch_threads_3


def test_n_jobs_survives_save_and_load(blobs, tmp_path):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=1, n_jobs=2, random_state=0).fit(X)
    save(det, tmp_path / "model.sksvdd")
    loaded = load(tmp_path / "model.sksvdd")
    assert loaded.n_jobs == 2
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))
