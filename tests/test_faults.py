"""Faults during fit: divergence, interruption, warm starts and checkpoints."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, Checkpoint, LoadInitState

import sksvdd._svdd._detector as detector_module
from sksvdd import DeepSVDDDetector
from sksvdd._svdd._training import TrainingDivergedWarning

FAST = dict(max_epochs=3, random_state=0)


class _Raise(Callback):
    """Raise ``KeyboardInterrupt`` at an epoch's end, or after its ``batch``-th batch."""

    def __init__(self, epoch=2, batch=None):
        self.epoch = epoch
        self.batch = batch

    def on_epoch_begin(self, net, **kwargs):
        self._seen = 0

    def on_batch_end(self, net, training=False, **kwargs):
        self._seen += 1
        if self.batch is not None and len(net.history) == self.epoch and self._seen == self.batch:
            raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) == self.epoch:
            raise KeyboardInterrupt


class _Poison(Callback):
    """Put a NaN into the first layer's weights before the first batch of ``epoch``."""

    def __init__(self, epoch=3):
        self.epoch = epoch

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            with torch.no_grad():
                net.module_.projection[0].weight[0, 0] = float("nan")


class _PoisonLastBatch(Callback):
    """Put a NaN into the weights after the last batch of ``epoch``: every loss stays finite."""

    def __init__(self, epoch=3):
        self.epoch = epoch

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self._left = -(-len(dataset_train) // net.batch_size)

    def on_batch_end(self, net, training=False, **kwargs):
        self._left -= 1
        if training and self._left == 0 and len(net.history) == self.epoch:
            with torch.no_grad():
                net.module_.projection[0].weight[0, 0] = float("nan")


class _Collapse(Callback):
    """Zero the last layer after every batch of ``epoch``: every pixel maps onto 0."""

    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            with torch.no_grad():
                net.module_.projection[2].weight.zero_()


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _interrupt_call(function, n):
    """``function``, but its ``n``-th call (1-based) raises KeyboardInterrupt instead."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return function(*args, **kwargs)

    return wrapped


# --- non-finite loss ----------------------------------------------------------------


@pytest.mark.parametrize("patience", [5, None])
def test_huge_learning_rate_stops_with_warning_and_phase1_weights(blobs, patience):
    X, _ = blobs
    with pytest.warns(TrainingDivergedWarning, match="non-finite.*epoch 1.*Lower lr"):
        det = DeepSVDDDetector(lr=1e6, patience=patience, **FAST).fit(X)
    assert issubclass(TrainingDivergedWarning, RuntimeWarning)
    assert det.n_iter_ == 0 and det.history_ == []
    scores = det.score_samples(X)
    assert np.all(np.isfinite(scores)) and np.isfinite(det.offset_)
    # Nothing of the diverged training is left: this is the phase-1 model.
    phase1 = DeepSVDDDetector(lr=1e6, patience=patience, random_state=0, max_epochs=0).fit(X)
    np.testing.assert_array_equal(scores, phase1.score_samples(X))


@pytest.mark.parametrize("patience", [5, None])
def test_divergence_in_a_later_epoch_keeps_the_good_epochs(blobs, patience):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=5, patience=patience, callbacks=[_Poison(epoch=3)],
                           random_state=0)
    with pytest.warns(TrainingDivergedWarning, match=r"epoch 3, batch 1.*epoch 2 were restored"):
        det.fit(X)
    assert det.n_iter_ == 2 and [row["epoch"] for row in det.history_] == [1, 2]
    assert all(np.isfinite(row["loss"]) for row in det.history_)
    state = det.net_.module_.state_dict()
    assert all(bool(torch.isfinite(t).all()) for t in state.values())
    # The weights are those after epoch 2: the same as a run of 2 epochs.
    two = DeepSVDDDetector(max_epochs=2, patience=patience, random_state=0).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), two.score_samples(X))


def test_divergence_found_at_an_epoch_end_drops_that_epoch(blobs):
    # The loss of every batch of epoch 3 is finite; only the weights after it are not.
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=5, callbacks=[_PoisonLastBatch(epoch=3)], random_state=0)
    with pytest.warns(TrainingDivergedWarning, match=r"in epoch 3 of phase 2.*epoch 2 were"):
        det.fit(X)
    assert det.n_iter_ == 2 and [row["epoch"] for row in det.history_] == [1, 2]
    two = DeepSVDDDetector(max_epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), two.score_samples(X))


def test_huge_but_finite_input_gives_finite_scores(blobs):
    X, _ = blobs
    big = X.astype(np.float64) * 1e30
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingDivergedWarning)
        det = DeepSVDDDetector(lr=1e-3, **FAST).fit(big)
    assert np.all(np.isfinite(det.score_samples(big)))
    assert np.all(np.isfinite(det.predict(big * 10)))


def test_no_warning_when_training_is_fine(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDivergedWarning)
        DeepSVDDDetector(**FAST).fit(blobs[0])


# --- divergence that stays finite -----------------------------------------------------


def test_runaway_loss_stops_with_warning_and_phase1_weights(blobs):
    # lr=10 drives the loss to ~1e9 without a non-finite value and maps every pixel
    # onto the same point: without the check, every score would be equal.
    X, y = blobs
    with pytest.warns(TrainingDivergedWarning, match=r"ran away in epoch 1 .*phase 1 were "
                                                     r"restored.*Lower lr \(now 10\)"):
        det = DeepSVDDDetector(lr=10, **FAST).fit(X)
    assert det.n_iter_ == 0 and det.history_ == []
    scores = det.score_samples(X)
    assert np.all(np.isfinite(scores)) and np.ptp(scores) > 0
    assert np.mean(det.predict(X) == -1) > 0
    phase1 = DeepSVDDDetector(max_epochs=0, random_state=0).fit(X)
    np.testing.assert_array_equal(scores, phase1.score_samples(X))


def test_runaway_loss_with_single_pixel_batches(blobs):
    # lr=1e6 with batch_size=1: distances of ~1e29, still finite.
    X, _ = blobs
    with pytest.warns(TrainingDivergedWarning, match="ran away|non-finite"):
        det = DeepSVDDDetector(lr=1e6, batch_size=1, max_epochs=2, random_state=0).fit(X)
    scores = det.score_samples(X)
    assert np.all(np.isfinite(scores)) and np.ptp(scores) > 0
    assert np.abs(scores).max() < 1e6


def test_collapsed_scores_stop_with_warning_and_keep_the_good_epochs(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=4, callbacks=[_Collapse(epoch=2)], random_state=0)
    with pytest.warns(TrainingDivergedWarning, match=r"collapsed in epoch 2 .*epoch 1 were"):
        det.fit(X)
    assert det.n_iter_ == 1
    one = DeepSVDDDetector(max_epochs=1, random_state=0).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), one.score_samples(X))
    assert np.ptp(det.score_samples(X)) > 0


# --- KeyboardInterrupt ----------------------------------------------------------------


def test_keyboard_interrupt_at_epoch_end_leaves_a_usable_model(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=6, callbacks=[_Raise(epoch=2)], random_state=0).fit(X)
    assert det.n_iter_ == 2 and [row["epoch"] for row in det.history_] == [1, 2]
    two = DeepSVDDDetector(max_epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), two.score_samples(X))
    assert det.offset_ == two.offset_
    assert set(np.unique(det.predict(X))) <= {-1, 1}


def test_keyboard_interrupt_mid_epoch_drops_the_partial_epoch(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=6, batch_size=64, callbacks=[_Raise(epoch=3, batch=2)],
                           random_state=0).fit(X)
    assert det.n_iter_ == 2 and len(det.history_) == 2
    assert len(det.net_.history) == 2
    scores = det.score_samples(X)
    assert np.all(np.isfinite(scores)) and np.isfinite(det.offset_)
    assert np.ptp(scores) > 0


def test_keyboard_interrupt_mid_epoch_keeps_weights_and_history_consistent(blobs):
    # Without early stopping nothing else restores an epoch: the weights must be those
    # of the last complete epoch, the one history_ ends with.
    X, _ = blobs
    params = dict(batch_size=64, patience=None, random_state=0)
    det = DeepSVDDDetector(max_epochs=6, callbacks=[_Raise(epoch=3, batch=2)], **params)
    det.fit(X)
    assert det.n_iter_ == 2 and [row["epoch"] for row in det.history_] == [1, 2]
    two = DeepSVDDDetector(max_epochs=2, **params).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), two.score_samples(X))
    assert det.offset_ == two.offset_ and det.radius_ == two.radius_


@pytest.mark.parametrize("where", ["_statistical_phase", "score_dataset"])
def test_keyboard_interrupt_outside_phase2_leaves_the_detector_unfitted(blobs, monkeypatch,
                                                                        where):
    # Ctrl-C in phase 1 (or in the threshold pass) propagates; nothing half-fitted stays.
    X, _ = blobs
    monkeypatch.setattr(detector_module, where, _interrupt)
    det = DeepSVDDDetector(**FAST)
    with pytest.raises(KeyboardInterrupt):
        det.fit(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(det)
    assert not hasattr(det, "n_features_in_") and not hasattr(det, "net_")
    monkeypatch.undo()
    np.testing.assert_array_equal(det.fit(X).score_samples(X),
                                  DeepSVDDDetector(**FAST).fit(X).score_samples(X))


@pytest.mark.parametrize("warm_start, where, call", [
    (False, "_statistical_phase", 1),  # phase 1
    (False, "score_dataset", 1),       # the trimming pass, between the phases
    (False, "score_dataset", 2),       # the threshold pass, after phase 2
    (True, "score_dataset", 1),        # a warm start's trimming pass, before phase 2
    (True, "score_dataset", 2),        # ... and its threshold pass, after phase 2
])
def test_keyboard_interrupt_in_a_refit_keeps_the_previous_model(blobs, monkeypatch, warm_start,
                                                                where, call):
    X, _ = blobs
    det = DeepSVDDDetector(warm_start=warm_start, **FAST).fit(X)
    before = {"scores": det.score_samples(X), "predict": det.predict(X), "net": det.net_,
              "history": [dict(row) for row in det.history_], "offset": det.offset_,
              "state": {k: v.clone() for k, v in det.net_.module_.state_dict().items()}}
    monkeypatch.setattr(detector_module, where,
                        _interrupt_call(getattr(detector_module, where), call))
    # Other data (other features too, for a cold refit) and other parameters.
    refit_X = X if warm_start else X[:, :6] * 3
    with pytest.raises(KeyboardInterrupt):
        det.set_params(lr=1e-3, max_epochs=2).fit(refit_X)
    assert det.net_ is before["net"] and det.n_features_in_ == X.shape[1]
    assert det.history_ == before["history"] and len(det.net_.history) == det.n_iter_ == 3
    for key, value in det.net_.module_.state_dict().items():
        assert torch.equal(value, before["state"][key]), key
    np.testing.assert_array_equal(det.score_samples(X), before["scores"])
    np.testing.assert_array_equal(det.predict(X), before["predict"])
    assert det.offset_ == before["offset"]


def test_early_stopping_restores_best_weights_after_an_interrupt(blobs):
    """The interrupt goes through skorch's on_train_end: restore-best still applies."""
    X, _ = blobs

    class Worsen(Callback):
        # Epoch 3 is made worse on purpose, then training is interrupted.
        def on_batch_begin(self, net, training=False, **kwargs):
            if training and len(net.history) == 3:
                with torch.no_grad():
                    net.module_.projection[2].weight.mul_(3.0)

    det = DeepSVDDDetector(max_epochs=6, callbacks=[Worsen(), _Raise(epoch=3)],
                           random_state=0).fit(X)
    assert det.n_iter_ == 3 and det.history_[-1]["loss_best"] is False
    two = DeepSVDDDetector(max_epochs=2, random_state=0).fit(X)
    # The module (weights, centre, radius) of epoch 2 was restored.
    for key, value in two.net_.module_.state_dict().items():
        assert torch.equal(det.net_.module_.state_dict()[key], value), key


# --- warm start -------------------------------------------------------------------------


def test_warm_start_continues_training(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=2, random_state=0).fit(X)
    mean0 = det.net_.module_.encoder.mean0.clone()
    before = det.score_samples(X)
    det.set_params(warm_start=True, max_epochs=3, lr=2e-5).fit(X)
    assert det.n_iter_ == 5 and [row["epoch"] for row in det.history_] == [1, 2, 3, 4, 5]
    # Phase 1 was skipped: the encoder statistics were not recomputed.
    assert torch.equal(det.net_.module_.encoder.mean0, mean0)
    assert det.history_[2]["lr"] == pytest.approx(2e-5)
    after = det.score_samples(X)
    assert np.all(np.isfinite(after)) and not np.array_equal(before, after)
    # warm_start=False starts over.
    det.set_params(warm_start=False, max_epochs=2, lr=1e-5).fit(X)
    assert det.n_iter_ == 2
    np.testing.assert_array_equal(det.score_samples(X), before)


def test_warm_start_on_an_unfitted_detector_is_a_normal_fit(blobs):
    X, _ = blobs
    cold = DeepSVDDDetector(**FAST).fit(X)
    warm = DeepSVDDDetector(warm_start=True, **FAST).fit(X)
    np.testing.assert_array_equal(warm.score_samples(X), cold.score_samples(X))
    assert clone(warm).warm_start is True


def test_warm_start_refuses_another_architecture_or_width(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(warm_start=True, **FAST).fit(X)
    with pytest.raises(ValueError, match="rep_dim"):
        det.set_params(rep_dim=5).fit(X)
    with pytest.raises(ValueError, match="12 features"):
        det.set_params(rep_dim=32).fit(X[:, :5])


def test_warm_start_is_validated():
    with pytest.raises(ValueError, match="warm_start"):
        DeepSVDDDetector(warm_start="yes").fit(np.zeros((10, 2)))


def test_resume_from_a_checkpoint_in_a_new_detector(blobs, tmp_path):
    X, _ = blobs
    cp = Checkpoint(dirname=str(tmp_path), monitor="train_loss_best")
    first = DeepSVDDDetector(max_epochs=3, callbacks=[cp], random_state=0).fit(X)
    assert (tmp_path / "params.pt").is_file() and (tmp_path / "history.json").is_file()
    best = max(row["epoch"] for row in first.history_ if row["loss_best"])
    # The checkpoint holds the module of the first run's best epoch.
    reloaded = DeepSVDDDetector(max_epochs=0, random_state=0).fit(X)
    reloaded.net_.load_params(f_params=str(tmp_path / "params.pt"))
    assert best == first.n_iter_ == 3  # the loss improved in every epoch
    for key, value in first.net_.module_.state_dict().items():
        assert torch.equal(reloaded.net_.module_.state_dict()[key], value), key

    resumed = DeepSVDDDetector(max_epochs=2, callbacks=[cp, LoadInitState(cp)], random_state=0)
    resumed.fit(X)
    assert resumed.n_iter_ == best + 2
    assert [row["loss"] for row in resumed.history_[:best]] == [
        row["loss"] for row in first.history_[:best]
    ]
    assert np.all(np.isfinite(resumed.score_samples(X)))
