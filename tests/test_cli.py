"""Tests for the ``sksvdd`` command line and the atomic-write helper."""

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from conftest import missing_scene_reason
from sksvdd import DualWindowResidual, FusionDetector
from sksvdd import load as sksvdd_load
from sksvdd.cli import _main as cli
from sksvdd._atomic import atomic_path
from sksvdd.cli import main
from sksvdd.datasets import cube_to_pixels, load_scene, make_hyperspectral_scene

REPO = Path(__file__).resolve().parents[1]
HSI_DIR = REPO.parent / "shared" / "data" / "hsi"
REAL_SCENE = HSI_DIR / "abu-airport-2.mat"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEATMAP_SHAPE = (
    round(cli._HEATMAP_INCHES[1] * cli._HEATMAP_DPI),
    round(cli._HEATMAP_INCHES[0] * cli._HEATMAP_DPI),
)


def run_cli(*args, cwd):
    """Run ``python -m sksvdd ARGS`` in a fresh interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # The small networks gain nothing from intra-op threads, and on a busy
    # machine OpenMP spin-waiting makes each epoch 10-50x slower. Results are
    # the same either way.
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "sksvdd", *map(str, args)],
        check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def parse_table(text):
    """Rows of the Markdown metrics table printed by the CLI, as {detector: {column: float}}."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| detector "))

    def cells(line):
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    header = cells(lines[start])
    rows = {}
    for line in lines[start + 2:]:  # after the header and the alignment row
        if not line.startswith("|"):
            break
        name, *values = cells(line)
        rows[name] = dict(zip(header[1:], map(float, values), strict=True))
    return rows


def read_png(path):
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return matplotlib.image.imread(path)


def anomaly_scores(model_path, scene):
    return -sksvdd_load(model_path).score_samples(scene.cube)


@pytest.fixture(scope="module")
def builtin_npz(tmp_path_factory):
    """A small built-in scene saved as .npz, with mask and wavelengths."""
    scene = make_hyperspectral_scene(n_rows=24, n_cols=24, random_state=0)
    path = tmp_path_factory.mktemp("builtin") / "builtin.npz"
    np.savez(path, data=scene.cube, map=scene.mask, wavelengths=scene.wavelengths)
    return path


@pytest.fixture(scope="module")
def real_model(tmp_path_factory):
    """abu-airport-2 fitted by ``sksvdd fit`` in a subprocess."""
    if not REAL_SCENE.is_file():
        pytest.skip(missing_scene_reason(REAL_SCENE.name))
    folder = tmp_path_factory.mktemp("real")
    result = run_cli("fit", REAL_SCENE, "--param", "max_epochs=2", "--random-state", "0",
                     "-q", "--out", "model.sksvdd", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "Wrote model.sksvdd" in result.stdout
    return folder / "model.sksvdd"


# --------------------------------------------------------------------------- #
# Real scene, in subprocesses
# --------------------------------------------------------------------------- #


def test_real_scene_score_matches_in_process_model(real_model, tmp_path):
    result = run_cli("score", real_model, REAL_SCENE, "--out", "scores.npy",
                     "--png", "map.png", "--mask-out", "mask.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    scene = load_scene(REAL_SCENE)
    scores = np.load(tmp_path / "scores.npy")
    assert scores.shape == scene.cube.shape[:2]
    np.testing.assert_allclose(scores, anomaly_scores(real_model, scene), rtol=1e-6)
    assert read_png(tmp_path / "map.png").shape[:2] == HEATMAP_SHAPE
    mask = read_png(tmp_path / "mask.png")
    (rows, cols), block = scene.cube.shape[:2], mask.shape[0] // scene.cube.shape[0]
    assert mask.shape[:2] == (rows * block, cols * block) and min(mask.shape[:2]) >= 400
    predicted = (sksvdd_load(real_model).predict(scene.cube) == -1).ravel()
    np.testing.assert_array_equal(mask[::block, ::block, 0].ravel() > 0.5, predicted)
    np.testing.assert_array_equal(mask[block - 1::block, block - 1::block, 0].ravel() > 0.5,
                                  predicted)
    assert not list(tmp_path.glob(".*tmp*"))


def test_real_scene_evaluate_auroc_matches_sklearn(real_model, tmp_path):
    result = run_cli("evaluate", real_model, REAL_SCENE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    row = parse_table(result.stdout)["sksvdd"]
    scene = load_scene(REAL_SCENE)
    expected = roc_auc_score(scene.mask.ravel(), anomaly_scores(real_model, scene).ravel())
    assert row["AUROC"] == pytest.approx(expected, abs=5e-5)
    assert set(row) == {"AUROC", "AP", "IoU", "Precision", "Recall"}


def test_real_scene_info(tmp_path):
    if not REAL_SCENE.is_file():
        pytest.skip(missing_scene_reason(REAL_SCENE.name))
    result = run_cli("info", REAL_SCENE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "100 rows x 100 cols" in result.stdout
    assert "bands:        205" in result.stdout
    assert "wavelengths:  unknown" in result.stdout
    assert "anomalies:    87 pixels" in result.stdout


def test_bandpass_without_wavelengths_fails_with_hint(tmp_path, capsys):
    if not REAL_SCENE.is_file():
        pytest.skip(missing_scene_reason(REAL_SCENE.name))
    status = main(["fit", str(REAL_SCENE), "--bandpass", "400", "900",
                   "--out", str(tmp_path / "m.sksvdd")])
    err = capsys.readouterr().err
    assert status == 1
    assert "--bandpass needs band wavelengths" in err and "Hint" in err
    assert not (tmp_path / "m.sksvdd").exists()


# --------------------------------------------------------------------------- #
# Built-in scene
# --------------------------------------------------------------------------- #


def test_demo_writes_model_png_and_table(tmp_path):
    result = run_cli("demo", "--size", "30", "-q", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # -q: no progress
    table = parse_table(result.stdout)
    assert set(table) == {"sksvdd", "RXDetector"}
    for row in table.values():
        assert all(0.0 <= value <= 1.0 for value in row.values())
    model = sksvdd_load(tmp_path / "out" / "model.sksvdd")
    assert isinstance(model, FusionDetector) and model.n_bands_in_ > 0
    assert isinstance(dict(model.detectors_)["residual"].spatial_, DualWindowResidual)
    assert read_png(tmp_path / "out" / "scores.png").shape[:2] == HEATMAP_SHAPE
    assert "out/scores.png" in result.stdout.replace(os.sep, "/")


def scene_bands(path):
    return load_scene(path).cube.shape[2]


def test_builtin_round_trip_in_process(builtin_npz, tmp_path, capsys):
    model_path, scores_path = tmp_path / "model.sksvdd", tmp_path / "scores.npy"
    assert main(["fit", str(builtin_npz), "--bandpass", "500", "none", "--param",
                 "max_epochs=1", "--param", "nu=0.2", "--random-state", "0",
                 "--out", str(model_path)]) == 0
    out, err = capsys.readouterr()
    assert "train_loss" in err and "train_loss" not in out  # progress on stderr, not stdout
    model = sksvdd_load(model_path)
    spectral, attribute, residual = (branch for _, branch in model.detectors_)
    assert spectral.detector_.named_steps["bandpass"].min_wavelength_nm == 500.0
    assert residual.detector_.named_steps["bandpass"].min_wavelength_nm == 500.0
    # The attribute branch's components come from all the bands; its detector sees them.
    assert attribute.spatial_.n_bands_in_ == scene_bands(builtin_npz)
    assert (attribute.detector_.nu, attribute.detector_.max_epochs) == (0.2, 0)
    detector = residual.detector_[-1]
    assert (detector.nu, detector.n_iter_) == (0.2, 1)
    assert (detector.verbose, detector.callbacks) == (0, None)  # progress not saved
    unfitted = dict(model.detectors)["residual"].detector[-1]
    assert (unfitted.verbose, unfitted.callbacks) == (0, None)

    assert main(["score", str(model_path), str(builtin_npz), "--out", str(scores_path)]) == 0
    scene = load_scene(builtin_npz)
    np.testing.assert_allclose(np.load(scores_path), anomaly_scores(model_path, scene),
                               rtol=1e-6)

    capsys.readouterr()
    assert main(["evaluate", str(model_path), str(builtin_npz)]) == 0
    row = parse_table(capsys.readouterr().out)["sksvdd"]
    expected = roc_auc_score(scene.mask.ravel(), np.load(scores_path).ravel())
    assert row["AUROC"] == pytest.approx(expected, abs=5e-5)

    assert main(["info", str(builtin_npz)]) == 0
    assert "400 to 2450 nm" in capsys.readouterr().out


def test_spatial_model_scores_a_scene_of_another_size(builtin_npz, tmp_path, capsys):
    model_path, scores_path = tmp_path / "model.sksvdd", tmp_path / "scores.npy"
    assert main(["fit", str(builtin_npz), "--param", "max_epochs=1", "-q",
                 "--out", str(model_path)]) == 0
    other = make_hyperspectral_scene(n_rows=18, n_cols=31, random_state=1)
    other_path = tmp_path / "other.npz"
    np.savez(other_path, data=other.cube, map=other.mask)
    assert main(["score", str(model_path), str(other_path), "--out", str(scores_path)]) == 0
    expected = -sksvdd_load(model_path).score_samples(other.cube)
    assert expected.shape == (18, 31)
    np.testing.assert_array_equal(np.load(scores_path), expected)


def test_fit_no_spatial_leaves_out_the_spatial_step(builtin_npz, tmp_path):
    model_path = tmp_path / "model.sksvdd"
    assert main(["fit", str(builtin_npz), "--no-spatial", "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 0
    model = sksvdd_load(model_path)
    assert model.spatial is None and model.spatial_ is None


def test_evaluate_without_ground_truth_fails(builtin_npz, tmp_path, capsys):
    path = tmp_path / "no_gt.npy"
    np.save(path, load_scene(builtin_npz).cube)
    assert main(["evaluate", "unused.sksvdd", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sksvdd: error: ") and err.count("\n") == 1
    assert "no ground-truth" in err
    assert main(["info", str(path)]) == 0
    assert "no ground truth" in capsys.readouterr().out


def test_band_mismatch_fails(builtin_npz, tmp_path, capsys):
    model_path = tmp_path / "model.sksvdd"
    assert main(["fit", str(builtin_npz), "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 0
    other = tmp_path / "other.npz"
    np.savez(other, data=np.ones((5, 5, 7), dtype=np.float32))
    assert main(["score", str(model_path), str(other), "--out", str(tmp_path / "s.npy")]) == 1
    assert "fitted on 180 bands" in capsys.readouterr().err
    assert not (tmp_path / "s.npy").exists()


def test_failed_model_write_keeps_previous_file(builtin_npz, tmp_path, monkeypatch, capsys):
    model_path = tmp_path / "model.sksvdd"
    model_path.write_bytes(b"previous model")

    def broken_save(tree_bytes, *args, **kwargs):
        raise OSError("disk full")

    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save", broken_save)
    assert main(["fit", str(builtin_npz), "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 1
    assert "sksvdd: error: Disk full" in capsys.readouterr().err
    assert model_path.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.sksvdd"]


def test_progress_without_tqdm_prints_epochs(builtin_npz, tmp_path, monkeypatch, capsys):
    # Even on a terminal, no ProgressBar when tqdm cannot be imported.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tqdm" else find_spec(name, *a))
    assert main(["fit", str(builtin_npz), "--param", "max_epochs=2",
                 "--out", str(tmp_path / "m.sksvdd")]) == 0
    err = capsys.readouterr().err
    assert "train_loss" in err and "it/s" not in err


# --------------------------------------------------------------------------- #
# Errors and exit codes
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("argv, message", [
    ([], "required: COMMAND"),
    (["frobnicate"], "invalid choice"),
    (["fit", "scene.mat"], "--out"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--param", "max_epoch=2"],
     "Did you mean 'max_epochs'? Valid names: batch_size, center_ema"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--param", "nu"], "NAME=VALUE"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--param", "nu=5"], "'nu' parameter"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--param", "random_state=1"], "--random-state"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--bandpass", "900", "400"], "below MAX"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--bandpass", "x", "400"], "wavelength"),
    (["demo", "--size", "3"], "at least 10"),
    (["score", "model.sksvdd"], "required"),
    (["score", "model.sksvdd", "scene.mat"], "Nothing to write: give --out"),
    (["score", "model.sksvdd", "scene.mat", "--out", "scores.png"],
     "give a name ending in .npy. For a heat map image use --png"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--param", "alpha=0.1"],
     "Did you mean 'center_ema' (the reference tutorial's alpha)?"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--param", "quantile=0.995"],
     "Did you mean 'contamination' (contamination = 1 - quantile"),
    (["fit", "scene.mat", "--out", "m.sksvdd", "--param", "seed=3"],
     "Use --random-state instead."),
])
def test_usage_errors_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: sksvdd" in err and message in err
    assert list(tmp_path.iterdir()) == []


def test_usage_error_exits_2_in_subprocess(tmp_path):
    result = run_cli("fit", "scene.mat", "--out", "m.sksvdd", "--param", "bogus=1",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown detector parameter 'bogus'" in result.stderr
    assert "max_epochs" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGINT")
def test_interrupted_fit_exits_130_without_model(builtin_npz, tmp_path):
    # skorch swallows KeyboardInterrupt and keeps a partly trained net; the
    # CLI must not save that as if training had finished.
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    args = ["fit", builtin_npz, "--param", "max_epochs=100000", "--param", "patience=None",
            "--out", "model.sksvdd"]
    with subprocess.Popen([sys.executable, "-m", "sksvdd", *map(str, args)], cwd=tmp_path,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        for line in proc.stderr:  # wait until training has started
            if line.split()[:1] == ["1"]:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "sksvdd: interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_missing_file_exits_1_with_one_line(tmp_path):
    result = run_cli("info", "missing.mat", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("sksvdd: error: ") and result.stderr.count("\n") == 1
    assert "missing.mat" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [
    ["--debug", "info", "missing.mat"],
    ["info", "missing.mat", "--debug"],
])
def test_debug_shows_traceback(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1].startswith("sksvdd: error: ")


@pytest.mark.parametrize("argv", [
    ["score", "missing.sksvdd", "scene.mat", "--out", "s.npy"],
    ["score", "m.sksvdd", "scene.mat", "--out", "no/such/dir/s.npy"],
    ["fit", "scene.mat", "--out", "."],
])
def test_bad_paths_exit_1(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("sksvdd: error: ") and err.count("\n") == 1


def test_non_model_file_exits_1(builtin_npz, tmp_path, capsys):
    # A zip that is not a model (an .npz scene), and a non-zip file even with --allow-pickle.
    assert main(["evaluate", str(builtin_npz), str(builtin_npz)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sksvdd: error: ") and err.count("\n") == 1
    assert "not an sksvdd model file" in err
    other = tmp_path / "notes.txt"
    other.write_text("not a model")
    assert main(["evaluate", str(other), str(builtin_npz), "--allow-pickle"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sksvdd: error: Cannot read the model file") and err.count("\n") == 1


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("-2", -2), ("0.5", 0.5), ("1e-3", 1e-3), ("True", True), ("false", False),
    ("None", None), ("cuda:1", "cuda:1"), ("one-class", "one-class"),
])
def test_param_values_are_parsed(text, value):
    parsed = cli._parse_value(text)
    assert parsed == value and type(parsed) is type(value)


# --------------------------------------------------------------------------- #
# atomic_path
# --------------------------------------------------------------------------- #


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "scores.npy"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npy" and not tmp.exists()
        np.save(tmp, np.arange(3))  # np.save appends .npy unless the name has it
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["scores.npy"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_path_keeps_previous_file_on_error(error, tmp_path):
    target = tmp_path / "model.sksvdd"
    target.write_bytes(b"previous")
    with pytest.raises(type(error)), atomic_path(target) as tmp:
        tmp.write_bytes(b"half written")
        raise error
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.sksvdd"]


def test_atomic_path_without_previous_file_leaves_nothing(tmp_path):
    with pytest.raises(ValueError), atomic_path(tmp_path / "new.png") as tmp:
        tmp.write_bytes(b"partial")
        raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_nothing_written_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="Nothing was written"), \
            atomic_path(tmp_path / "out.bin"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_joblib_models_are_read_only_with_allow_pickle(builtin_npz, tmp_path, capsys):
    # A .joblib output name writes a pickle by explicit choice; reading one runs code, so
    # score and evaluate refuse it unless --allow-pickle says the file is trusted.
    model_path = tmp_path / "model.joblib"
    assert main(["fit", str(builtin_npz), "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 0
    assert not zipfile.is_zipfile(model_path)
    scores = tmp_path / "s.npy"
    assert main(["score", str(model_path), str(builtin_npz), "--out", str(scores)]) == 1
    err = capsys.readouterr().err
    assert "--allow-pickle" in err and "runs code" in err and not scores.exists()
    assert main(["score", str(model_path), str(builtin_npz), "--out", str(scores),
                 "--allow-pickle"]) == 0
    cube = load_scene(builtin_npz).cube
    np.testing.assert_array_equal(np.load(scores), -joblib.load(model_path).score_samples(cube))
    assert main(["evaluate", str(model_path), str(builtin_npz), "--allow-pickle"]) == 0


def test_default_model_file_is_the_safe_format(builtin_npz, tmp_path):
    model_path = tmp_path / "model.sksvdd"
    assert main(["fit", str(builtin_npz), "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 0
    assert zipfile.is_zipfile(model_path)
    with zipfile.ZipFile(model_path) as archive:
        assert sorted(archive.namelist()) == [
            "arrays.safetensors", "manifest.json", "weights.safetensors"]


# --- fit on a clean reference: several scenes, normal / exclude masks ----------------------


def _save_scene(path, seed, n_rows=20, n_cols=22, n_bands=None):
    kwargs = {} if n_bands is None else {"n_bands": n_bands}
    scene = make_hyperspectral_scene(n_rows=n_rows, n_cols=n_cols, random_state=seed, **kwargs)
    np.savez(path, data=scene.cube, map=scene.mask, wavelengths=scene.wavelengths)
    return scene


def test_fit_on_several_scenes_with_masks_equals_the_python_api(tmp_path):
    import matplotlib.image

    from sksvdd import make_default_detector

    a = _save_scene(tmp_path / "a.npz", 1)
    b = _save_scene(tmp_path / "b.npz", 2, n_rows=16, n_cols=25)
    normal_a = np.zeros(a.mask.shape, bool)
    normal_a[:, :15] = True                     # the left part of a is known to be normal
    np.save(tmp_path / "normal_a.npy", normal_a.astype(np.uint8))
    normal_b = np.ones(b.mask.shape, bool)
    normal_b[:3] = False
    matplotlib.image.imsave(tmp_path / "normal_b.png", normal_b.astype(float), cmap="gray")
    np.savez(tmp_path / "known.npz", flagged=a.mask)
    model_path = tmp_path / "model.sksvdd"
    result = run_cli(
        "fit", "a.npz", "b.npz", "--param", "max_epochs=0", "--random-state", "0", "-q",
        "--normal-mask", "normal_a.npy", "--normal-mask", "normal_b.png",
        "--exclude-mask", "known.npz:flagged", "--exclude-mask", "b.npz",  # b's own ground truth
        "--out", model_path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    n_reference = int((normal_a & ~a.mask).sum() + (normal_b & ~b.mask).sum())
    assert f"of {n_reference} training pixels" in result.stdout
    expected = make_default_detector(random_state=0, max_epochs=0).fit(
        [a.cube, b.cube], normal_mask=[normal_a, normal_b], exclude_mask=[a.mask, b.mask])
    model = sksvdd_load(model_path)
    assert model.n_images_in_ == 2 and model.offset_ == pytest.approx(expected.offset_)
    # score works on new files at the fitted threshold, one file at a time.
    for seed in (3, 4):
        new = _save_scene(tmp_path / f"new{seed}.npz", seed, n_rows=18, n_cols=18)
        out = tmp_path / f"scores{seed}.npy"
        result = run_cli("score", model_path.name, f"new{seed}.npz", "--out", out.name,
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        np.testing.assert_allclose(np.load(out), -expected.score_samples(new.cube),
                                   rtol=1e-5, atol=1e-6)


def test_fit_masks_of_one_scene(builtin_npz, tmp_path):
    from sksvdd import make_default_detector

    scene = load_scene(builtin_npz)
    model_path = tmp_path / "model.sksvdd"
    assert main(["fit", str(builtin_npz), "--no-spatial", "--param", "max_epochs=0",
                 "--random-state", "0", "-q", "--exclude-mask", str(builtin_npz),
                 "--out", str(model_path)]) == 0
    expected = make_default_detector(spatial=False, random_state=0, max_epochs=0).fit(
        scene.cube, exclude_mask=scene.mask)
    np.testing.assert_allclose(sksvdd_load(model_path).score_samples(scene.cube),
                               expected.score_samples(scene.cube), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("extra, status, message", [
    (["--normal-mask", "m.npy"], 2, "--normal-mask is given 1 time(s) for 2 scene(s)"),
    (["--exclude-mask", "small.npy", "--exclude-mask", "m.npy"], 1,
     "--exclude-mask small.npy: The mask in 'small.npy' has shape (4, 4)"),
    (["--exclude-mask", "a.npz:nope", "--exclude-mask", "m.npy"], 1,
     "'a.npz' has no variable 'nope'"),
    (["--normal-mask", "missing.npy", "--normal-mask", "m.npy"], 1, "does not exist"),
])
def test_fit_mask_errors(tmp_path, capsys, monkeypatch, extra, status, message):
    _save_scene(tmp_path / "a.npz", 1)
    _save_scene(tmp_path / "b.npz", 2)
    np.save(tmp_path / "m.npy", np.ones((20, 22)))
    np.save(tmp_path / "small.npy", np.ones((4, 4)))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "a.npz", "b.npz", "--param", "max_epochs=0", "-q", *extra,
                 "--out", "model.sksvdd"]) == status
    assert message in capsys.readouterr().err
    assert not (tmp_path / "model.sksvdd").exists()


def test_fit_scenes_must_share_bands(tmp_path, capsys, monkeypatch):
    _save_scene(tmp_path / "a.npz", 1)
    _save_scene(tmp_path / "b.npz", 2, n_bands=12)
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "a.npz", "b.npz", "-q", "--out", "model.sksvdd"]) == 1
    err = capsys.readouterr().err
    assert "'b.npz' has 12 bands but 'a.npz' has" in err and "same sensor" in err


# --------------------------------------------------------------------------- #
# A newcomer's first hour (issue 16)
# --------------------------------------------------------------------------- #


def test_top_level_help_lists_every_exit_status(capsys):
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for status in ("0 success", "1 failure", "2 usage error", "130 interrupted",
                   "143 terminated"):
        assert status in text


@pytest.fixture()
def cube_with_non_finite(tmp_path):
    """A 12 x 10 scene, 6 bands: NaN in 3 pixels of band 2, inf in 1 pixel of band 5."""
    cube = np.random.default_rng(0).normal(size=(12, 10, 6)).astype(np.float32)
    cube[0, 0, 2] = cube[3, 4, 2] = cube[7, 9, 2] = np.nan
    cube[3, 4, 5] = np.inf  # a pixel already holding a NaN
    path = tmp_path / "holes.npz"
    np.savez(path, data=cube, map=np.eye(12, 10))
    return path


def test_non_finite_values_fail_fit_in_one_line_and_info_counts_them(cube_with_non_finite):
    folder = cube_with_non_finite.parent
    result = run_cli("fit", cube_with_non_finite, "--out", "m.sksvdd", cwd=folder)
    assert result.returncode == 1
    err = result.stderr
    assert err.startswith("sksvdd: error: In ") and err.count("\n") == 1
    assert "3 of 120 pixels hold NaN or inf (3 NaN and 1 inf values) in 2 of 6 bands" in err
    assert "band indices from 0: 2, 5" in err
    assert "Mask those pixels, interpolate them, or drop those bands" in err
    assert "HistGradientBoosting" not in result.stderr
    assert not (folder / "m.sksvdd").exists()

    result = run_cli("info", cube_with_non_finite, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert ("NaN / inf:    3 of 120 pixels hold NaN or inf (3 NaN and 1 inf values) in 2 of "
            "6 bands") in result.stdout


def test_fit_default_random_state_is_0_like_demo(builtin_npz, tmp_path):
    def scores(*seed):
        path = tmp_path / f"m{''.join(seed)}.sksvdd"
        assert main(["fit", str(builtin_npz), "--param", "max_epochs=1", "-q", *seed,
                     "--out", str(path)]) == 0
        return anomaly_scores(path, load_scene(builtin_npz))

    default = scores()
    np.testing.assert_array_equal(default, scores("--random-state", "0"))
    assert not np.array_equal(default, scores("--random-state", "1"))


def test_score_png_only_and_viewable_mask(builtin_npz, tmp_path, capsys):
    model_path = tmp_path / "model.sksvdd"
    assert main(["fit", str(builtin_npz), "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 0
    assert main(["score", str(model_path), str(builtin_npz), "--png", str(tmp_path / "map.png"),
                 "--mask-out", str(tmp_path / "mask.png")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "mask.png", "model.sksvdd"]
    assert read_png(tmp_path / "map.png").shape[:2] == HEATMAP_SHAPE
    mask = read_png(tmp_path / "mask.png")[:, :, 0] > 0.5
    assert mask.shape == (408, 408)  # 24 x 24 pixels, each a 17 x 17 block (>= 400)
    scene = load_scene(builtin_npz)
    predicted = sksvdd_load(model_path).predict(scene.cube) == -1
    assert predicted.any()
    np.testing.assert_array_equal(mask, np.kron(predicted, np.ones((17, 17), dtype=bool)))
    assert "each pixel is a 17 x 17 block" in capsys.readouterr().out


def test_evaluate_names_the_model_sksvdd_and_prints_global_rx(builtin_npz, tmp_path, capsys):
    from sksvdd import RXDetector

    model_path = tmp_path / "model.sksvdd"
    assert main(["fit", str(builtin_npz), "--no-spatial", "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model_path), str(builtin_npz)]) == 0
    table = parse_table(capsys.readouterr().out)
    assert set(table) == {"sksvdd", "RXDetector"}
    scene = load_scene(builtin_npz)
    X = cube_to_pixels(scene.cube)
    rx_scores = -RXDetector().fit(X).score_samples(X)
    expected = roc_auc_score(scene.mask.ravel(), rx_scores)
    assert table["RXDetector"]["AUROC"] == pytest.approx(expected, abs=5e-5)
    model_auroc = roc_auc_score(scene.mask.ravel(), anomaly_scores(model_path, scene).ravel())
    assert table["sksvdd"]["AUROC"] == pytest.approx(model_auroc, abs=5e-5)


def test_error_messages_start_with_a_capital(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "scene.npz", data=np.ones((4, 4, 3)))
    for argv in (["score", "missing.sksvdd", "scene.npz", "--out", "s.npy"],
                 ["info", "missing.mat"],
                 ["evaluate", "missing.sksvdd", "scene.npz"]):
        assert main(argv) == 1
        message = capsys.readouterr().err.removeprefix("sksvdd: error: ")
        assert message[0].isupper() or message[0] in "'-", message


def test_non_finite_values_in_any_scene_fail_fit_in_one_line(cube_with_non_finite):
    folder = cube_with_non_finite.parent
    cube = np.random.default_rng(1).normal(size=(12, 10, 6)).astype(np.float32)
    np.savez(folder / "clean.npz", data=cube)
    result = run_cli("fit", "clean.npz", cube_with_non_finite.name, "--out", "m.sksvdd",
                     cwd=folder)
    assert result.returncode == 1
    err = result.stderr
    assert err.startswith("sksvdd: error: In 'holes.npz', 3 of 120 pixels") and err.count("\n") == 1
    assert not (folder / "m.sksvdd").exists()


def test_fit_reads_back_the_enlarged_mask_that_score_writes(builtin_npz, tmp_path, capsys):
    model_path = tmp_path / "model.sksvdd"
    assert main(["fit", str(builtin_npz), "--no-spatial", "--param", "max_epochs=0", "-q",
                 "--out", str(model_path)]) == 0
    assert main(["score", str(model_path), str(builtin_npz),
                 "--mask-out", str(tmp_path / "flagged.png")]) == 0
    scene = load_scene(builtin_npz)
    flagged = sksvdd_load(model_path).predict(scene.cube) == -1
    assert flagged.any()
    capsys.readouterr()
    assert main(["fit", str(builtin_npz), "--no-spatial", "--param", "max_epochs=0", "-q",
                 "--exclude-mask", str(tmp_path / "flagged.png"),
                 "--out", str(tmp_path / "refit.sksvdd")]) == 0
    assert f"of {flagged.size - flagged.sum()} training pixels" in capsys.readouterr().out
    from sksvdd import make_default_detector

    expected = make_default_detector(spatial=False, random_state=0, max_epochs=0).fit(
        scene.cube, exclude_mask=flagged)
    np.testing.assert_allclose(sksvdd_load(tmp_path / "refit.sksvdd").score_samples(scene.cube),
                               expected.score_samples(scene.cube), rtol=1e-5, atol=1e-6)
