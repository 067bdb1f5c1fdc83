"""The documentation builds, covers the public API, and its examples run.

- ``test_docs_build`` builds the Sphinx site with warnings as errors, in the
  fast mode that does not run the gallery (``SKSVDD_DOCS_PLOT_GALLERY=0``),
  from a copy of ``docs/`` and ``examples/`` into a temporary folder. It is
  skipped when the ``docs`` extra (Sphinx and its extensions) is not installed.
- ``test_example_runs`` runs every ``examples/plot_*.py`` as a script, so the
  gallery cannot rot even where Sphinx is absent (about 2 minutes in all on
  2 CPU cores; each example must finish in under a minute of work).
- ``test_api_reference_lists_every_public_name`` needs neither.

The full build, gallery included, is one command (``docs/README.md``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import ast
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import real_scene_file
from sksvdd import make_default_detector

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
DOCS_REQUIREMENTS = ("sphinx", "pydata_sphinx_theme", "numpydoc", "sphinx_gallery", "myst_parser")
# Outputs of a build in the source folder; never copied into the test's build.
BUILD_OUTPUTS = ("_build", "generated", "auto_examples", "sg_execution_times.rst", "__pycache__")
# Public modules and the names the API reference must document for each.
PUBLIC_MODULES = (
    "sksvdd", "sksvdd.datasets", "sksvdd.metrics", "sksvdd.plotting", "sksvdd.monitoring",
    "sksvdd.parallel",
)
EXAMPLE_SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))
# Generous against a loaded machine; each example takes well under a minute of work.
EXAMPLE_TIMEOUT_S = 150


def _env(**extra):
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.update(extra)
    return env


def _missing_docs_requirements():
    return [name for name in DOCS_REQUIREMENTS if importlib.util.find_spec(name) is None]


def _public_names(module_name):
    """``__all__`` where the module has one, else its own public functions and classes."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return {name for name in module.__all__ if not name.startswith("_")}
    return {
        name for name, obj in vars(module).items()
        if not name.startswith("_") and callable(obj)
        and getattr(obj, "__module__", None) == module_name
    }


def _documented_names():
    """Module name -> names listed in the autosummary tables of docs/api.rst."""
    documented, module, in_table = {}, None, False
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module, in_table = match.group(1), False
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and (match := re.match(r"   ([A-Za-z_]\w*)$", line)):
            documented.setdefault(module, set()).add(match.group(1))
        elif line and not line.startswith(" "):
            in_table = False
    return documented


def test_api_reference_lists_every_public_name():
    documented = _documented_names()
    for module_name in PUBLIC_MODULES:
        missing = _public_names(module_name) - documented.get(module_name, set())
        assert not missing, f"docs/api.rst does not list {module_name}: {sorted(missing)}"


def test_user_guide_pages_exist():
    """Every page named in a toctree exists (the build checks this too, when it runs)."""
    pages = []
    for source in ("index.rst", "user_guide.rst"):
        text = (DOCS / source).read_text(encoding="utf-8")
        for block in re.findall(r"\.\. toctree::\n((?:   .*\n|\n)+)", text):
            pages += [line.strip() for line in block.splitlines()
                      if line.strip() and not line.strip().startswith(":")]
    assert {"install", "user_guide", "tutorial", "api", "scaling", "cli"} <= set(pages)
    for page in pages:
        if page == "auto_examples/index":
            assert (EXAMPLES / "GALLERY_HEADER.rst").is_file()
            continue
        assert any((DOCS / f"{page}{suffix}").is_file() for suffix in (".rst", ".md")), page


@pytest.mark.parametrize("script", EXAMPLE_SCRIPTS, ids=lambda p: p.stem)
def test_example_is_a_gallery_script(script):
    """A docstring with a title, then ``# %%`` cells, and it parses."""
    source = script.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and docstring.splitlines()[0].startswith("="), script.name
    title = docstring.splitlines()[1]
    assert len(docstring.splitlines()[0]) >= len(title), f"{script.name}: overline too short"
    assert "# %%" in source, script.name


def test_docs_build(tmp_path):
    missing = _missing_docs_requirements()
    if missing:
        pytest.skip(
            "the docs extra is not installed (missing: " + ", ".join(missing)
            + "); install it with: pip install -e \".[docs]\""
        )
    # A copy, so that the build's outputs (generated/, auto_examples/) never
    # land in the checkout; conf.py finds the examples beside docs/.
    ignore = shutil.ignore_patterns(*BUILD_OUTPUTS)
    shutil.copytree(DOCS, tmp_path / "docs", ignore=ignore)
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=ignore)
    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(tmp_path / "docs"), str(out)],
        check=False, cwd=tmp_path, env=_env(SKSVDD_DOCS_PLOT_GALLERY="0"),
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"sphinx failed:\n{result.stdout[-5000:]}\n{result.stderr[-8000:]}"
    for page in ("index", "install", "concepts", "hsi_data", "parameters", "deployment",
                 "scaling", "cli", "comparison", "tutorial", "api", "auto_examples/index",
                 "generated/sksvdd.DeepSVDDDetector", "generated/sksvdd.datasets.load_scene",
                 "generated/sksvdd.parallel.score_cube"):
        assert (out / f"{page}.html").is_file(), f"{page}.html was not built"
    for script in EXAMPLE_SCRIPTS:
        assert (out / "auto_examples" / f"{script.stem}.html").is_file(), script.name
    # The API pages show the docstrings, Examples sections included.
    page = (out / "generated" / "sksvdd.DeepSVDDDetector.html").read_text(encoding="utf-8")
    assert "Examples" in page and "contamination" in page and "score_samples" in page


@pytest.mark.parametrize("script", EXAMPLE_SCRIPTS, ids=lambda p: p.stem)
def test_example_runs(script, tmp_path):
    for module in ("matplotlib", "pandas"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the examples need {module} (pip install -e \".[docs]\" or \".[test]\")")
    result = subprocess.run(
        [sys.executable, str(script)], check=False, cwd=tmp_path, env=_env(),
        capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT_S,
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    assert not list(tmp_path.iterdir()), f"{script.name} left files in its working directory"


# --- the README's code ----------------------------------------------------------------------


def _readme_blocks(heading, path=ROOT / "README.md"):
    """The first ```python block under ``heading`` in ``path``, and the ```text block after it.

    The text block (what the page says the code prints) is the next fenced block when it
    is a ```text block, else None.
    """
    text = path.read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}\n"):]
    fences = re.findall(r"^```(\w*)\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    index = next(i for i, (lang, _) in enumerate(fences) if lang == "python")
    following = fences[index + 1] if index + 1 < len(fences) else ("", "")
    return fences[index][1], following[1] if following[0] == "text" else None


def _run_block(code, where, cwd, monkeypatch):
    monkeypatch.chdir(cwd)
    namespace = {"__name__": "__readme__"}
    exec(compile(code, where, "exec"), namespace)  # noqa: S102 - running the docs is the point
    return namespace


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def test_readme_quick_start_prints_what_the_readme_shows(tmp_path, monkeypatch, capsys):
    code, shown = _readme_blocks("## Quick start")
    assert "make_default_detector(random_state=0).fit(scene.cube)" in code
    assert shown is not None, "the quick start must show what it prints"
    _run_block(code, "README.md (quick start)", tmp_path, monkeypatch)
    printed = capsys.readouterr().out.strip().splitlines()
    shown = shown.strip().splitlines()
    assert len(printed) == len(shown), "\n".join(printed)
    for got, expected in zip(printed, shown):
        # Same words; numbers equal up to the last digits (other hardware, library versions).
        assert _NUMBER.sub("#", got) == _NUMBER.sub("#", expected), (got, expected)
        got_numbers = [float(n) for n in _NUMBER.findall(got)]
        assert got_numbers == pytest.approx(
            [float(n) for n in _NUMBER.findall(expected)], rel=1e-3, abs=5e-3), (got, expected)


def test_tutorial_leads_with_the_readme_quick_start():
    """The tutorial opens with the quick start's code and output (tested above), verbatim."""
    assert _readme_blocks("## In short: the recommended detector", DOCS / "tutorial.md") == (
        _readme_blocks("## Quick start"))
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    assert text.index("## In short: the recommended detector") < text.index("```python")


@pytest.mark.parametrize("filename, has_wavelengths", [
    ("abu-airport-2.mat", False),   # ABU scenes carry no wavelengths
    ("gulfport-sub.mat", True),     # 72 bands, 367.7-1043.4 nm
])
def test_readme_own_data_snippet_runs_with_and_without_wavelengths(
        filename, has_wavelengths, tmp_path, monkeypatch):
    source = real_scene_file(filename)
    for name in ("scene.mat", "other.mat"):
        (tmp_path / name).symlink_to(source)
    code, _ = _readme_blocks("## Your own data")
    ns = _run_block(code, "README.md (your own data)", tmp_path, monkeypatch)

    scene, det = ns["scene"], ns["det"]
    assert (scene.wavelengths is not None) == has_wavelengths
    assert ns["anomaly_map"].shape == ns["other_map"].shape == scene.cube.shape[:2]
    assert ns["other_mask"].shape == scene.cube.shape[:2]
    np.testing.assert_array_equal(ns["other_map"], ns["anomaly_map"])  # the same file
    bandpass = {k: v for k, v in det.get_params().items() if k.endswith("bandpass")}
    if has_wavelengths:
        branches = dict(det.detectors_)
        # The attribute branch's components come from all the bands (no band-pass step).
        assert not hasattr(branches.pop("attribute").detector_, "named_steps")
        for branch, fitted in branches.items():
            support = fitted.detector_.named_steps["bandpass"].get_support()
            kept = scene.wavelengths[support]
            assert kept.min() >= 450 and kept.max() <= 900, branch
            assert 0 < kept.size < scene.cube.shape[-1], branch
    else:
        assert not bandpass
        # The call the snippet avoids fails with the hint of `sksvdd fit --bandpass`.
        with pytest.raises(ValueError, match=r"wavelengths is None.*Hint: pass "
                           r"wavelengths=scene.wavelengths.*or fit without a band-pass"):
            make_default_detector(wavelengths=scene.wavelengths, min_wavelength_nm=450,
                                  max_wavelength_nm=900, max_epochs=0).fit(scene.cube)
