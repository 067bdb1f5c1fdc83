"""Monitoring: progress bar, TensorBoard logging, best epoch; the tutorial's code and figures."""

import contextlib
import importlib.util
import io
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from sksvdd import DeepSVDDDetector, PerPixelUnitNorm
from sksvdd.metrics import anomaly_scorer
from sksvdd.monitoring import TensorBoardLogger, best_epoch, progress_bar

DOCS = Path(__file__).resolve().parents[1] / "docs"
HISTORY_TAGS = {"loss", "radius", "center_shift", "outside_frac", "lr", "dur"}


def _scalars(run_dir):
    """``{tag: [(step, value), ...]}`` read back from a TensorBoard run directory."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _runs(log_dir):
    return sorted(p for p in Path(log_dir).iterdir() if p.is_dir())


# --- progress bar -------------------------------------------------------------------------------


def test_progress_bar_clones_and_draws_on_stderr(blobs, capsys):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=2, batch_size=256, callbacks=[("progress", progress_bar())],
                           random_state=0)
    clone(det)
    clone(progress_bar())
    det.fit(X)
    err = capsys.readouterr().err
    # 612 pixels in batches of 256: a bar of 3 batches per epoch (tqdm redraws at most
    # every 0.1 s, so on a fast machine only the empty bars may show).
    assert err.count("0/3") >= 2
    assert det.n_iter_ == 2
    pickle.loads(pickle.dumps(det))  # the tqdm bar does not stay on the fitted net


# --- TensorBoard --------------------------------------------------------------------------------


@pytest.fixture
def tensorboard():
    return pytest.importorskip(
        "tensorboard", reason="tensorboard is not installed (pip install 'sksvdd[tensorboard]')"
    )


def test_tensorboard_logs_history_values_per_epoch(tensorboard, blobs, tmp_path):
    X, _ = blobs
    logger = TensorBoardLogger(tmp_path, comment="nu0.1")
    det = DeepSVDDDetector(max_epochs=4, patience=None, callbacks=[logger],
                           random_state=0).fit(X)
    (run,) = _runs(tmp_path)
    assert re.fullmatch(r"run-\d{8}-\d{6}-\d+-\d+-nu0\.1", run.name)
    scalars = _scalars(run)
    assert set(scalars) == HISTORY_TAGS
    for tag, points in scalars.items():
        assert [step for step, _ in points] == list(range(1, det.n_iter_ + 1)), tag
        expected = [row[tag] for row in det.history_]
        np.testing.assert_allclose([v for _, v in points], expected, rtol=1e-6, err_msg=tag)
    assert not hasattr(logger, "writer_")  # the instance passed in is never used


def test_tensorboard_each_fit_gets_its_own_run_and_no_open_writer(tensorboard, blobs, tmp_path):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=2, callbacks=[TensorBoardLogger(tmp_path / "runs")],
                           random_state=0)
    det.fit(X)
    det.fit(X)
    runs = _runs(tmp_path / "runs")
    assert len(runs) == 2
    assert all(len(_scalars(run)["loss"]) == 2 for run in runs)
    fitted = dict(det.net_.callbacks_)["user_0_TensorBoardLogger"]
    assert fitted.writer is None and fitted.run_dir_ == runs[1]


def test_tensorboard_clone_and_pickle_before_and_after_fit(tensorboard, blobs, tmp_path):
    X, _ = blobs
    logger = TensorBoardLogger(tmp_path, comment="a", keys_ignored="dur")
    assert clone(logger).get_params() == logger.get_params()
    det = DeepSVDDDetector(max_epochs=2, callbacks=[("tb", logger)], random_state=0)
    clone(det)
    det.fit(X)
    fitted = dict(det.net_.callbacks_)["tb"]
    assert fitted is not logger
    assert clone(fitted).get_params() == logger.get_params()
    refit = clone(det).fit(X)
    loaded = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(loaded.score_samples(X), refit.score_samples(X))
    runs = _runs(tmp_path)
    assert len(runs) == 2
    assert set(_scalars(runs[0])) == HISTORY_TAGS - {"dur"}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_tensorboard_in_grid_search(tensorboard, blobs, tmp_path, n_jobs):
    X, y = blobs
    pipe = make_pipeline(
        PerPixelUnitNorm(),
        DeepSVDDDetector(max_epochs=2, callbacks=[TensorBoardLogger(tmp_path)], random_state=0),
    )
    search = GridSearchCV(
        pipe, {"deepsvdddetector__nu": [0.05, 0.2]}, scoring=anomaly_scorer("roc_auc"),
        cv=StratifiedKFold(2, shuffle=True, random_state=0), n_jobs=n_jobs, error_score="raise",
    ).fit(X, y)
    runs = _runs(tmp_path)
    assert len(runs) == 2 * 2 + 1  # every fit of the search, and the refit, in its own run
    assert all(len(_scalars(run)["radius"]) == 2 for run in runs)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_tensorboard_no_run_without_gradient_phase(tensorboard, blobs, tmp_path):
    X, _ = blobs
    DeepSVDDDetector(max_epochs=0, callbacks=[TensorBoardLogger(tmp_path / "runs")]).fit(X)
    assert not (tmp_path / "runs").exists()


def test_tensorboard_missing_package_names_the_extra(blobs, tmp_path, monkeypatch):
    X, _ = blobs
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    det = DeepSVDDDetector(max_epochs=2, callbacks=[TensorBoardLogger(tmp_path)])
    with pytest.raises(ImportError, match=re.escape("sksvdd[tensorboard]")):
        det.fit(X)
    assert list(tmp_path.iterdir()) == []


# --- best epoch ---------------------------------------------------------------------------------


def test_early_stopping_restores_the_last_loss_best_epoch():
    # A learning rate this large makes the loss rise at epoch 4, so patience=1 stops there.
    X = np.random.RandomState(0).normal(size=(500, 8)).astype(np.float32)
    det = DeepSVDDDetector(max_epochs=10, patience=1, lr=0.1, random_state=0).fit(X)
    assert det.n_iter_ < 10, "early stopping did not trigger; the test needs a rising loss"
    best_rows = [row for row in det.history_ if row["loss_best"]]
    last_best = best_rows[-1]
    assert last_best["epoch"] < det.history_[-1]["epoch"]
    assert det.radius_ == last_best["radius"]
    assert det.radius_ != det.history_[-1]["radius"]
    assert best_epoch(det) == last_best["epoch"]
    assert best_epoch(make_pipeline(PerPixelUnitNorm(), clone(det)).fit(X)) is not None


def test_best_epoch_without_early_stopping_or_epochs(blobs):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=3, patience=None, random_state=0).fit(X)
    assert best_epoch(det) == 3
    assert det.radius_ == det.history_[-1]["radius"]
    assert best_epoch(DeepSVDDDetector(max_epochs=0).fit(X)) is None
    with pytest.raises(ValueError, match="history_"):
        from sksvdd import RXDetector

        best_epoch(RXDetector().fit(X))


# --- the tutorial -------------------------------------------------------------------------------


def _load_figure_script():
    spec = importlib.util.spec_from_file_location(
        "make_tutorial_figures", DOCS / "make_tutorial_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tutorial_runs_and_makes_its_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (sksvdd[plot])")
    import matplotlib.image

    script = _load_figure_script()
    assert script.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "AUROC" in out
    expected = {"score_map.png", "anomaly_mask.png", "training_history.png"}
    if (script.DEFAULT_DATA / "gulfport-targets.mat").is_file():
        expected.add("real_score_map.png")
    assert expected <= {p.name for p in tmp_path.glob("*.png")}
    for name in expected:
        path = tmp_path / name
        assert path.stat().st_size < 200_000, f"{name} is over 200 KB"
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) >= 200, name
        assert image[..., :3].std() > 0.05, f"{name} looks blank"


def test_tutorial_links_committed_figures():
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\((images/[^)]+)\)", text)
    assert {"images/score_map.png", "images/anomaly_mask.png",
            "images/training_history.png"} <= set(links)
    for link in links:
        path = DOCS / link
        assert path.is_file(), f"{link} is linked from the tutorial but missing"
        assert path.stat().st_size < 200_000


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _epoch_table(blobs, stream, max_epochs=3):
    X, _ = blobs
    with contextlib.redirect_stdout(stream):
        DeepSVDDDetector(max_epochs=max_epochs, verbose=1, random_state=0).fit(X)
    return stream.getvalue()


def _without_durations(table):
    return [line.split()[:-1] for line in table.splitlines()]


def test_epoch_table_is_coloured_only_on_a_terminal(blobs, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    piped = _epoch_table(blobs, io.StringIO())
    assert "train_loss" in piped and len(piped.splitlines()) == 5  # header, rule, 3 epochs
    assert "\x1b" not in piped
    on_terminal = _epoch_table(blobs, _Terminal())
    assert "\x1b[" in on_terminal
    # The same table (but for the timings), only with the escape codes.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", on_terminal)
    assert _without_durations(plain) == _without_durations(piped)


def test_no_color_turns_the_colour_off_on_a_terminal(blobs, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    table = _epoch_table(blobs, _Terminal(), max_epochs=2)
    assert "train_loss" in table and "\x1b" not in table
