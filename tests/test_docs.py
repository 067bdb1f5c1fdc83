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

import pytest

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
