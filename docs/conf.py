"""Sphinx configuration of the sksvdd documentation.

Build (from the repository root, with ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Fast build without running the gallery examples (what ``tests/test_docs.py``
does)::

    SKSVDD_DOCS_PLOT_GALLERY=0 python -m sphinx -W --keep-going -b html docs docs/_build/html

Environment variables:

- ``SKSVDD_DOCS_PLOT_GALLERY=0`` skips running the gallery examples (their
  pages show the code without outputs).
- ``SKSVDD_DOCS_INTERSPHINX=1`` turns on links into the NumPy, scikit-learn,
  Python, skorch and Dask docs. Off by default because it downloads their
  inventories, and a failed download is a warning, so a ``-W`` build offline
  would fail.
"""

import os
import sys
from pathlib import Path

import sksvdd

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The examples import only the installed package; the path is for
# sphinx-gallery's own bookkeeping of the examples folder.
sys.path.insert(0, str(ROOT))

os.environ.setdefault("MPLBACKEND", "Agg")

# -- Project -----------------------------------------------------------------

project = "sksvdd"
author = "the sksvdd developers"
copyright = "the sksvdd developers, BSD-3-Clause"
release = sksvdd.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions --------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "README.md",                 # how to build these docs, not a page of them
    "make_tutorial_figures.py",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "**/*.pickle",
]

# -- Autodoc / autosummary / numpydoc ---------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"          # the numpydoc docstrings carry the types
# scikit-learn's own layout: the class docstring, then one section per method
# (rendered by the class.rst template), not numpydoc's extra member tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Types stay plain text: numpydoc's cross-referencing of types needs the
# Python and NumPy inventories (intersphinx), which an offline build lacks.
numpydoc_xref_param_type = False
# Report docstring layout problems without failing on style points; the
# checks are the structural ones (unknown sections, bad parameter lists).
numpydoc_validation_checks = set()

# -- MyST (the Markdown pages: tutorial, scaling, user guide) ---------------

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- Sphinx-Gallery ----------------------------------------------------------


def _plot_gallery():
    value = os.environ.get("SKSVDD_DOCS_PLOT_GALLERY", "1").strip().lower()
    return value not in {"0", "false", "no", "off"}


# Sphinx-Gallery reads the top-level ``plot_gallery`` (it overrides the key of
# the same name in sphinx_gallery_conf). ``-D plot_gallery=0`` works too but
# Sphinx then warns that the value is a str, which fails a ``-W`` build: use
# the environment variable for the fast build.
plot_gallery = _plot_gallery()

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": plot_gallery,
    "doc_module": ("sksvdd",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sksvdd": None},
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 2,
    "show_memory": False,
    # Each example must finish in under a minute on 2 CPU cores.
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
}

# -- Intersphinx (opt-in, see the module docstring) --------------------------

if os.environ.get("SKSVDD_DOCS_INTERSPHINX", "0") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }
    sphinx_gallery_conf["reference_url"] = {"sksvdd": None}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sksvdd {release}"
html_static_path = ["_static"]
html_css_files = ["sksvdd.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_context = {"default_mode": "light"}


# -- Members left out of the API pages ---------------------------------------


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Skip ``set_fit_request`` and the like (scikit-learn's metadata routing).

    scikit-learn generates them for estimators whose methods take extra
    arguments (e.g. ``ImageDetector.fit``'s masks); their docstrings refer to
    scikit-learn's glossary, which an offline build cannot resolve, and
    scikit-learn documents them.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
