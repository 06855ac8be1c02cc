"""Survival models for HCC patients treated with TACE, compatible with scikit-learn and scikit-survival.

Public names are imported lazily (as scikit-learn does), so ``import sksurv_tace.metrics``
loads neither torch nor matplotlib.

>>> from sksurv_tace import ClinicalCox, FusionSurvival, make_tace_cohort, make_survival_scorer
"""

import importlib

from ._version import __version__

#: public name -> module that defines it
_LAZY = {
    "FusionSurvival": "sksurv_tace.models",
    "CTSurvival": "sksurv_tace.models",
    "CNNCox": "sksurv_tace.models",
    "RadiomicsCox": "sksurv_tace.models",
    "ClinicalCox": "sksurv_tace.models",
    "TumourBurdenCox": "sksurv_tace.models",
    "ClinicalBranch": "sksurv_tace.models",
    "RecalibratedSurvival": "sksurv_tace.models",
    "CoxFeatureSelector": "sksurv_tace.preprocessing",
    "ClinicalPreprocessor": "sksurv_tace.preprocessing",
    "RadiomicsExtractor": "sksurv_tace.preprocessing",
    "CTPreprocessor": "sksurv_tace.preprocessing",
    "LesionBurden": "sksurv_tace.preprocessing",
    "cox_table": "sksurv_tace.preprocessing",
    "read_image": "sksurv_tace.preprocessing",
    "make_tace_cohort": "sksurv_tace.datasets",
    "load_manifest": "sksurv_tace.datasets",
    "write_manifest": "sksurv_tace.datasets",
    "load_hcc_tace_seg": "sksurv_tace.datasets",
    "build_tcia_manifest": "sksurv_tace.datasets",
    "make_survival_scorer": "sksurv_tace.metrics",
    "make_survival_scorers": "sksurv_tace.metrics",
    "paper_models": "sksurv_tace.paper",
    "reproduce": "sksurv_tace.paper",
}
_SUBMODULES = ("datasets", "preprocessing", "models", "metrics", "paper", "explain", "cli")

__all__ = ["__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"sksurv_tace.{name}")
    else:
        raise AttributeError(f"module 'sksurv_tace' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
