"""Cohorts: the built-in synthetic TACE cohort, a user's CSV manifest, the real HCC-TACE-Seg table, a TCIA download.

Every loader returns ``(X, y)``: ``X`` a pandas DataFrame with one row per patient
(clinical columns, and ``ct``/``mask`` paths when there are images), ``y`` a
structured array made by :func:`sksurv.util.Surv.from_arrays` with the event
indicator in field ``event`` and the survival time **in days** in field ``time``.
"""

from ._schema import CLINICAL_COLUMNS, CLINICAL_UNITS, TIME_UNITS  # noqa: F401
from .hcc_tace_seg import load_hcc_tace_seg  # noqa: F401
from .manifest import load_manifest, write_manifest  # noqa: F401
from .synthetic import albi_score, clinical_linear_predictor, make_tace_cohort  # noqa: F401
from .tcia import build_tcia_manifest  # noqa: F401

__all__ = [
    "make_tace_cohort",
    "load_manifest",
    "write_manifest",
    "load_hcc_tace_seg",
    "build_tcia_manifest",
    "albi_score",
    "clinical_linear_predictor",
    "TIME_UNITS",
    "CLINICAL_COLUMNS",
    "CLINICAL_UNITS",
]
