"""Signals and output files of the ``sksvdd`` command, sent as an attacker (or a scheduler) would.

Each test starts ``python -m sksvdd`` on a small scene, sends the signal and
checks the exit status, the one-line message and the output directory: no
temporary file left, any previous output untouched.
"""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sksvdd import make_default_detector, save
from sksvdd._atomic import atomic_path
from sksvdd.cli import main
from sksvdd.datasets import make_hyperspectral_scene

ROOT = Path(__file__).parents[1]
TMP_PREFIX = ".sksvdd-tmp-"

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 20 x 20 scene (.npy) and a model fitted on it."""
    folder = tmp_path_factory.mktemp("scene")
    scene = make_hyperspectral_scene(n_rows=20, n_cols=20, random_state=0)
    np.save(folder / "scene.npy", scene.cube)
    model = make_default_detector(max_epochs=1, random_state=0)
    save(model.fit(scene.cube), folder / "model.sksvdd")
    return folder / "scene.npy", folder / "model.sksvdd"


def _start(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package
    return subprocess.Popen([sys.executable, "-m", "sksvdd", *map(str, args)], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


def _catches(pid, signum):
    """Whether process ``pid`` has a handler for ``signum`` (Linux /proc), else False."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines()
                   if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) >> (signum - 1) & 1)


def _temporaries(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(TMP_PREFIX))


def _finish(process, timeout=120):
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def test_sigterm_during_fit_exits_143_and_keeps_the_previous_model(files, tmp_path):
    scene, _ = files
    previous = tmp_path / "model.sksvdd"
    previous.write_bytes(b"previous model")
    process = _start("fit", scene, "--out", previous, "--param", "max_epochs=100000",
                     cwd=tmp_path)
    # Training has started once the detector prints its first progress line.
    assert "Fitting on" in process.stderr.readline()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    status, _, stderr = _finish(process)
    assert status == 143
    assert stderr.strip().splitlines()[-1] == "sksvdd: terminated"
    assert "Traceback" not in stderr
    assert previous.read_bytes() == b"previous model"
    assert _temporaries(tmp_path) == []


@pytest.mark.parametrize("signum, status, word", [
    (signal.SIGTERM, 143, "terminated"),
    (signal.SIGINT, 130, "interrupted"),
])
def test_signal_during_score_removes_the_temporary_file(files, tmp_path, signum, status, word):
    scene, model = files
    previous = tmp_path / "scores.npy"
    np.save(previous, np.zeros(3))
    before = previous.read_bytes()
    process = _start("score", model, scene, "--out", previous, cwd=tmp_path)
    # The signal lands while the temporary file exists if we see it, else while
    # the command starts or scores: every moment must end the same way.
    # Not before sksvdd's start-up handlers are in place: on a loaded machine the
    # interpreter alone can take seconds to start, and a signal then ends it outright.
    _wait_for(lambda: _catches(process.pid, signal.SIGTERM), timeout=60)
    _wait_for(lambda: _temporaries(tmp_path), timeout=3)
    process.send_signal(signum)
    code, _, stderr = _finish(process)
    if code == 0:
        pytest.skip("the command finished before the signal arrived")
    assert code == status
    assert stderr.strip().splitlines() == [f"sksvdd: {word}"]
    assert previous.read_bytes() == before
    assert _temporaries(tmp_path) == []


@pytest.mark.parametrize("signum, status, word", [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 143, "terminated"),
])
def test_signal_during_startup_prints_one_line(files, tmp_path, signum, status, word):
    scene, _ = files
    process = _start("info", scene, cwd=tmp_path)
    # Signal once sksvdd's start-up handlers are in place (before that, the interpreter
    # itself is starting and a signal ends it outright), while torch and scikit-learn
    # are still being imported (seconds).
    if not _wait_for(lambda: _catches(process.pid, signal.SIGTERM), timeout=60):
        pytest.skip("could not see the start-up handlers being installed (/proc)")
    process.send_signal(signum)
    code, stdout, stderr = _finish(process)
    assert code == status, stderr
    assert stderr == f"sksvdd: {word}\n"
    assert stdout == ""




def test_sigkill_leftover_is_removed_by_the_next_run(files, tmp_path):
    scene, model = files
    writer = (
        "import importlib.util, sys, time\n"
        f"spec = importlib.util.spec_from_file_location('atomic', {str(ROOT / 'sksvdd' / '_atomic.py')!r})\n"
        "atomic = importlib.util.module_from_spec(spec); spec.loader.exec_module(atomic)\n"
        f"with atomic.atomic_path({str(tmp_path / 'scores.npy')!r}) as tmp:\n"
        "    tmp.write_bytes(b'x' * 100000)\n"
        "    print(tmp.name, flush=True)\n"
        "    time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    name = process.stdout.readline().strip()
    process.kill()  # SIGKILL: no clean-up can run
    process.wait(timeout=10)
    process.stdout.close()
    assert _temporaries(tmp_path) == [name]
    assert name.startswith(f"{TMP_PREFIX}{process.pid}-")
    # A temporary file of a live writer (this process) must survive the clean-up.
    with atomic_path(tmp_path / "other.npy") as live:
        live.write_bytes(b"in progress")
        code, _, stderr = _finish(_start("score", model, scene, "--out", tmp_path / "scores.npy",
                                         cwd=tmp_path))
        assert code == 0, stderr
        assert _temporaries(tmp_path) == [live.name]
    assert _temporaries(tmp_path) == []
    assert np.load(tmp_path / "scores.npy").shape == (20, 20)


def test_atomic_path_removes_only_stale_temporaries(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{TMP_PREFIX}{dead.pid}-0123abcd.npy"
    mine = tmp_path / f"{TMP_PREFIX}{os.getpid()}-0123abcd.npy"
    unrelated = tmp_path / f"{TMP_PREFIX}notapid-0123abcd.npy"
    for path in (stale, mine, unrelated):
        path.write_bytes(b"x")
    with atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("done")
    assert not stale.exists() and mine.exists() and unrelated.exists()
    assert (tmp_path / "out.txt").read_text() == "done"


def test_long_output_names(files, tmp_path, capsys):
    scene, model = files
    longest = tmp_path / ("s" * 246 + ".npy")  # 250 characters: valid
    assert main(["score", str(model), str(scene), "--out", str(longest)]) == 0
    assert np.load(longest).shape == (20, 20)
    assert _temporaries(tmp_path) == []
    # One byte over the limit: refused before any work (the model is not even read).
    too_long = tmp_path / ("s" * 252 + ".npy")
    capsys.readouterr()
    assert main(["score", "missing-model.joblib", str(scene), "--out", str(too_long)]) == 1
    error = capsys.readouterr().err
    assert "--out" in error and "cannot be written" in error and "missing-model" not in error
    assert main(["fit", "missing-scene.npy", "--out", str(too_long)]) == 1
    error = capsys.readouterr().err
    assert "cannot be written" in error and "missing-scene" not in error
