"""Start-up cost: what ``import sksvdd`` and the light commands import.

``import sksvdd``, ``sksvdd --help`` and ``sksvdd info`` must not import torch,
skorch, Dask, matplotlib or scikit-learn (seconds on a busy machine); the
names of the package are PEP 562 lazy attributes. Each case runs in a fresh
interpreter, since this test process has imported everything already. The
times themselves are measured in ``benchmarks/startup.py``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import sksvdd

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "skorch", "dask", "matplotlib", "sklearn")


def imported_after(code):
    """Which of HEAVY ``code`` leaves in sys.modules, run in a fresh interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.pop("EAGER_IMPORT", None)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def small_mat(tmp_path_factory):
    path = tmp_path_factory.mktemp("startup") / "small.mat"
    scipy.io.savemat(path, {"data": np.ones((6, 7, 5)), "map": np.eye(6, 7)})
    return path


def test_import_sksvdd_imports_no_heavy_module():
    assert imported_after("import sksvdd; sksvdd.__version__") == []


def test_help_imports_no_heavy_module():
    code = ("import contextlib, io\nfrom sksvdd.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert main(['--help']) == 0\n"
            "assert 'COMMAND' in out.getvalue() and '130' in out.getvalue()")
    assert imported_after(code) == []


def test_info_imports_no_heavy_module(small_mat):
    code = ("import contextlib, io\nfrom sksvdd.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            f"    assert main(['info', {str(small_mat)!r}]) == 0\n"
            "assert '6 rows x 7 cols' in out.getvalue()")
    assert imported_after(code) == []


def test_the_probe_sees_heavy_imports():
    # The same probe reports torch and skorch once the detector is used.
    assert {"torch", "skorch", "sklearn"} <= set(
        imported_after("import sksvdd; sksvdd.DeepSVDDDetector"))


def test_public_names_resolve_and_are_listed():
    listed = dir(sksvdd)
    for name in sksvdd.__all__:
        assert name in listed
        assert getattr(sksvdd, name) is not None
    assert {"datasets", "image", "metrics", "plotting"} <= set(listed)
    with pytest.raises(AttributeError, match="Nonexistent"):
        sksvdd.Nonexistent  # noqa: B018


def test_fit_help_lists_the_detector_parameters(capsys):
    from sksvdd.cli import main

    assert main(["fit", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    names = sorted(set(sksvdd.DeepSVDDDetector().get_params()) - {"random_state", "callbacks"})
    assert f"Parameter names for --param: {', '.join(names)}." in text
