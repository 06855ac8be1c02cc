"""Survival evaluation: discrimination, confidence intervals, model comparison, scorers.

Sign convention everywhere: a **risk score, higher = higher risk** (shorter survival),
as :meth:`predict` of scikit-survival estimators. Functions that need a probability
say so (``survival`` = predicted survival probability, ``risk_at_horizon`` =
predicted probability of death by the horizon). A survival target ``y`` is a
structured array made by :func:`sksurv.util.Surv.from_arrays` (event, time).

Two flavours of inverse-probability-of-censoring weights (IPCW):

* given ``y_train``, the censoring distribution is estimated on the training target,
  exactly as :func:`sksurv.metrics.cumulative_dynamic_auc` /
  :func:`sksurv.metrics.concordance_index_ipcw` do;
* without it (the scorer's case, where only the evaluation fold is known), it is the
  Kaplan–Meier of the censoring times of the evaluation sample, as R ``timeROC``
  (``weighting="marginal"``) does: cases are ``T_i < t`` with an event, weighted by
  ``1 / G(T_i-)`` (left limit), controls ``T_i > t`` weighted by ``1 / G(t)``. This
  reproduces ``timeROC``'s AUC, and the iid standard error of the released ``timeROC`` and
  ``riskRegression::Score``, to 4 decimals (tests/test_r_reference.py).

Both estimate ``G`` by the Kaplan–Meier of the censoring times in which, at a time shared
by deaths and censorings, the deaths leave the risk set first (the rule of R
``prodlim``/``pec::ipcw``, used by ``timeROC``, and of
:class:`sksurv.nonparametric.CensoringDistributionEstimator`). The operating-point and
calibration functions of :mod:`sksurv_tace.metrics.clinical` use the same ``G``.

The functions live in :mod:`sksurv_tace.metrics.discrimination` (C-index, TD AUC, CIs),
:mod:`sksurv_tace.metrics.comparison` (paired tests, FDR), :mod:`sksurv_tace.metrics.clinical`
(operating point, risk groups, calibration), :mod:`sksurv_tace.metrics.decision` (decision curves) and
:mod:`sksurv_tace.metrics.scoring` (Brier, scorers); all are re-exported here.
"""

from .clinical import (  # noqa: F401
    CalibrationResult,
    RiskGroups,
    calibration_at_horizon,
    confusion_at_cutoff,
    risk_groups,
    youden_cutoff,
)
from .comparison import (  # noqa: F401
    Comparison,
    compare_c_index,
    compare_models,
    compare_over_splits,
    compare_td_auc,
    pairwise_td_auc_tests,
)
from .decision import decision_curve  # noqa: F401
from .discrimination import (  # noqa: F401
    ConfidenceInterval,
    c_index_ci,
    harrell_c,
    td_auc,
    td_auc_ci,
    td_roc_curve,
    uno_c,
)
from .scoring import SCORER_METRICS, brier_at, integrated_brier, make_survival_scorer, make_survival_scorers  # noqa: F401

__all__ = [
    "ConfidenceInterval",
    "Comparison",
    "harrell_c",
    "uno_c",
    "td_auc",
    "td_roc_curve",
    "c_index_ci",
    "td_auc_ci",
    "compare_c_index",
    "compare_td_auc",
    "compare_models",
    "pairwise_td_auc_tests",
    "compare_over_splits",
    "brier_at",
    "integrated_brier",
    "make_survival_scorer",
    "make_survival_scorers",
    "SCORER_METRICS",
    "youden_cutoff",
    "confusion_at_cutoff",
    "risk_groups",
    "RiskGroups",
    "calibration_at_horizon",
    "CalibrationResult",
    "decision_curve",
]
