"""Sphinx configuration of the sksurv_tace documentation (built in CI by tests/test_docs.py)."""

from __future__ import annotations

import importlib
import os
import re
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import sksurv_tace  # noqa: E402

project = "sksurv_tace"
author = "sksurv_tace developers"
copyright = "2026, sksurv_tace developers"
version = release = sksurv_tace.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
]

# No network at build time: no intersphinx, no remote images.
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_theme_options = {"description": "Survival models for HCC patients treated with TACE", "fixed_sidebar": True}
html_static_path: list[str] = []
html_show_sourcelink = False

autosummary_generate = False  # the API page documents every name with automodule; no generated stub files
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections already give the types
# inherited members too (the deep models and the Cox models get predict/score from private bases), not BaseEstimator's
autodoc_default_options = {"members": True, "inherited-members": "BaseEstimator,Module,Exception,_MetadataRequester,_SetOutputMixin", "show-inheritance": False}

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

# `.. public-names:: sksurv_tace.metrics` expands to an autosummary table of the module's __all__, so the
# API page lists every public name without a hand-kept copy of each module's __all__.
_PUBLIC_NAMES = re.compile(r"^\.\. public-names:: (\S+)[ \t]*$", re.MULTILINE)


def _autosummary_of_all(match: re.Match) -> str:
    module = importlib.import_module(match.group(1))
    names = "\n".join(f"   {name}" for name in module.__all__)
    return f".. currentmodule:: {match.group(1)}\n\n.. autosummary::\n   :nosignatures:\n\n{names}\n"


def _expand_public_names(app, docname, source):
    source[0] = _PUBLIC_NAMES.sub(_autosummary_of_all, source[0])


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn adds set_{fit,transform,...}_request methods to estimators whose methods take extra
    # arguments; they are metadata-routing boilerplate whose docstrings point into sklearn's own docs.
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("source-read", _expand_public_names)
    app.connect("autodoc-skip-member", _skip_metadata_routing)
