"""Survival models for HCC patients treated with TACE, compatible with scikit-learn and scikit-survival.

>>> from sksurv_tace import ClinicalCox, FusionSurvival, make_tace_cohort, make_survival_scorer
"""

__version__ = "0.1.0"

from . import metrics
from .cnncox import CNNCox
from .cox import ClinicalCox, ClinicalPreprocessor, CoxFeatureSelector, cox_table
from .datasets import load_hcc_tace_seg, load_manifest, make_tace_cohort, write_manifest
from .fusion import CTSurvival, FusionSurvival
from .imaging import CTPreprocessor, read_image
from .metrics import make_survival_scorer, make_survival_scorers
from .radiomics import RadiomicsCox, RadiomicsExtractor
from .reproduce import paper_models, reproduce

__all__ = [
    "__version__",
    "FusionSurvival",
    "CTSurvival",
    "CNNCox",
    "RadiomicsCox",
    "ClinicalCox",
    "CoxFeatureSelector",
    "ClinicalPreprocessor",
    "RadiomicsExtractor",
    "CTPreprocessor",
    "cox_table",
    "read_image",
    "make_tace_cohort",
    "load_manifest",
    "write_manifest",
    "load_hcc_tace_seg",
    "make_survival_scorer",
    "make_survival_scorers",
    "metrics",
    "paper_models",
    "reproduce",
]
