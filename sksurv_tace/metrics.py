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
  reproduces ``timeROC``'s AUC to 4 decimals (tests/data/metrics_timeroc_auc.json).

Clinical summaries (operating point, risk groups, calibration, decision curves) live
in :mod:`sksurv_tace._metrics_clinical` and discrimination in
:mod:`sksurv_tace._metrics_discrimination`; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sksurv import metrics as sk_metrics

from . import _metrics_core as core
from ._metrics_clinical import (
    CalibrationResult,
    RiskGroups,
    calibration_at_horizon,
    confusion_at_cutoff,
    decision_curve,
    risk_groups,
    youden_cutoff,
)
from ._metrics_discrimination import (
    ConfidenceInterval,
    _check_n_bootstrap,
    _harrell_replicates,
    _iid_matrix,
    _percentile,
    _z,
    c_index_ci,
    harrell_c,
    td_auc,
    td_auc_ci,
    td_roc_curve,
    uno_c,
)

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

SCORER_METRICS = ("c_index", "uno_c", "td_auc", "brier", "ibs")


@dataclass(frozen=True)
class Comparison:
    """Paired comparison of two risk scores on the same patients (``a - b``).

    Attributes
    ----------
    estimate_a, estimate_b : float
        The metric of each score on the full sample.
    difference, lower, upper, std_error : float
        ``estimate_a - estimate_b``, its confidence interval and standard error.
    statistic, p_value : float
        Test statistic (z or t) and two-sided p-value.
    method : str

    Examples
    --------
    >>> Comparison(0.8, 0.7, 0.1, 0.02, 0.18, 0.04, 2.5, 0.012, "iid").difference
    0.1
    """

    estimate_a: float
    estimate_b: float
    difference: float
    lower: float
    upper: float
    std_error: float
    statistic: float
    p_value: float
    method: str


# --------------------------------------------------------------------------- comparisons
def compare_c_index(
    y,
    risk_a,
    risk_b,
    *,
    method: str = "bootstrap",
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
    progress: bool | None = None,
) -> Comparison:
    """Compare the Harrell's C of two risk scores on the same patients (``a - b``).

    ``method="bootstrap"`` (paired): both scores are evaluated on the same resamples;
    the difference's percentile interval is reported and the p-value is two-sided from
    ``z = difference / sd(bootstrap differences)`` (assumes a roughly normal bootstrap
    distribution of the difference). ``method="ttest"``: the paper's Student two-sample
    t-test from summary statistics (Welch, ``n`` patients per arm, standard deviations
    ``se·sqrt(n)`` with bootstrap standard errors); it ignores the pairing, so it is
    conservative when the two scores are positively correlated.

    Parameters
    ----------
    y : structured array
    risk_a, risk_b : array-like, shape (n_samples,)
        Risk scores, higher = higher risk.
    method : {"bootstrap", "ttest"}, default="bootstrap"
    n_bootstrap, confidence_level, random_state, progress
        As in :func:`c_index_ci`.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(1)
    >>> time = rng.exponential(10, 80); y = Surv.from_arrays(np.ones(80, bool), time)
    >>> res = compare_c_index(y, -time, rng.normal(size=80), n_bootstrap=200, random_state=0)
    >>> bool(res.difference > 0 and res.p_value < 0.05)
    True
    """
    event, time = core.check_target(y)
    a = core.check_risk(risk_a, len(time), name="risk_a")
    b = core.check_risk(risk_b, len(time), name="risk_b")
    n_bootstrap = _check_n_bootstrap(n_bootstrap)
    z = _z(confidence_level)
    if method not in ("bootstrap", "ttest"):
        raise ValueError(f"method must be 'bootstrap' or 'ttest'; got {method!r}")
    ca, cb = harrell_c(y, a), harrell_c(y, b)
    idx = core.bootstrap_indices(len(time), n_bootstrap, random_state)
    rep = _harrell_replicates(event, time, [a, b], idx, progress)
    diff = ca - cb
    if method == "bootstrap":
        d = rep[0] - rep[1]
        se = float(np.nanstd(d, ddof=1))
        lo, hi = _percentile(d, confidence_level)
        stat = diff / se if se > 0 else (0.0 if diff == 0 else np.inf)
        p = float(2 * stats.norm.sf(abs(stat)))
        return Comparison(ca, cb, diff, lo, hi, se, float(stat), p, "paired bootstrap")
    n = len(time)
    se_a, se_b = np.nanstd(rep[0], ddof=1), np.nanstd(rep[1], ddof=1)
    res = stats.ttest_ind_from_stats(ca, se_a * np.sqrt(n), n, cb, se_b * np.sqrt(n), n, equal_var=False)
    se = float(np.hypot(se_a, se_b))
    return Comparison(ca, cb, diff, diff - z * se, diff + z * se, se, float(res.statistic), float(res.pvalue), "t-test")


def compare_td_auc(
    y, risk_a, risk_b, horizon: float, *, method: str = "iid", confidence_level: float = 0.95
) -> Comparison:
    """Compare the time-dependent AUCs of two risk scores at a horizon (``a - b``).

    ``method="iid"`` (timeROC's ``compare``): IPCW cumulative/dynamic AUCs (cases
    ``T < t``) of both scores; the variance of the difference is the empirical variance
    of the difference of their iid representations over ``n`` (Blanche et al. 2013).
    Assumes independent censoring, estimated by the Kaplan–Meier of this sample, and
    uses every patient. ``method="delong"``: DeLong et al. (1988) test of two correlated
    ROC AUCs on the patients whose status at the horizon is known (cases: event with
    ``T <= t``; controls: ``T > t``); patients censored before the horizon are dropped,
    which is unbiased only if their censoring is unrelated to their risk.

    Parameters
    ----------
    y : structured array
    risk_a, risk_b : array-like, shape (n_samples,)
        Risk scores, higher = higher risk.
    horizon : float
    method : {"iid", "delong"}, default="iid"
    confidence_level : float, default=0.95

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(2)
    >>> time = rng.exponential(10, 100); y = Surv.from_arrays(rng.random(100) < 0.8, time)
    >>> res = compare_td_auc(y, -time, rng.normal(size=100), 8.0, method="delong")
    >>> bool(res.p_value < 0.05)
    True
    """
    event, time = core.check_target(y)
    a = core.check_risk(risk_a, len(time), name="risk_a")
    b = core.check_risk(risk_b, len(time), name="risk_b")
    z = _z(confidence_level)
    if method == "iid":
        core.check_times(horizon, time, event, strict_case=True)
        aa, ia = _iid_matrix(time, event, a, [float(horizon)])
        ab, ib = _iid_matrix(time, event, b, [float(horizon)])
        ea, eb = float(aa[0]), float(ab[0])
        se = float((ia[:, 0] - ib[:, 0]).std(ddof=1) / np.sqrt(len(time)))
    elif method == "delong":
        core.check_times(horizon, time, event)
        known = (event & (time <= horizon)) | (time > horizon)
        label = (time <= horizon)[known]
        if label.all() or not label.any():
            raise ValueError(f"DeLong needs cases and controls with known status at horizon={horizon:g}")
        aucs, cov = core.delong_auc_cov(np.vstack([a[known], b[known]]), label)
        ea, eb = float(aucs[0]), float(aucs[1])
        se = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    else:
        raise ValueError(f"method must be 'iid' or 'delong'; got {method!r}")
    diff = ea - eb
    stat = diff / se if se > 0 else (0.0 if diff == 0 else np.inf)
    p = float(2 * stats.norm.sf(abs(stat)))
    return Comparison(ea, eb, diff, diff - z * se, diff + z * se, se, float(stat), p, method)


def compare_models(
    y,
    risks: Mapping[str, Sequence[float]],
    reference: str | None,
    *,
    metric: str = "c_index",
    horizon: float | None = None,
    method: str | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Compare several models with a reference (or all pairs), with Benjamini–Hochberg FDR.

    Each row is one paired test (:func:`compare_c_index` for ``metric="c_index"``, default
    method paired bootstrap; :func:`compare_td_auc` for ``metric="td_auc"``, default
    method ``"iid"``); ``p_fdr`` are the p-values adjusted together by
    :func:`scipy.stats.false_discovery_control` (``method="bh"``). Scores: higher = higher risk.

    Parameters
    ----------
    y : structured array
    risks : mapping of str to array-like
        Model name -> risk score on the same patients.
    reference : str or None
        Name of the reference model; None compares every pair.
    metric : {"c_index", "td_auc"}
    horizon : float, optional
        Required for ``"td_auc"``.
    method : str, optional
        Test method of the underlying function.
    n_bootstrap, confidence_level, random_state, progress
        As in :func:`compare_c_index`.

    Returns
    -------
    DataFrame
        Columns ``model, reference, metric, method, estimate, reference_estimate,
        difference, lower, upper, p_value, p_fdr``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(3)
    >>> time = rng.exponential(10, 60); y = Surv.from_arrays(np.ones(60, bool), time)
    >>> risks = {"good": -time, "noise1": rng.normal(size=60), "noise2": rng.normal(size=60)}
    >>> table = compare_models(y, risks, "good", n_bootstrap=200, random_state=0)
    >>> table["model"].tolist()
    ['noise1', 'noise2']
    """
    if len(risks) < 2:
        raise ValueError("risks must hold at least two models")
    names = list(risks)
    if reference is not None and reference not in risks:
        raise ValueError(f"reference {reference!r} is not one of the models {names}")
    if metric not in ("c_index", "td_auc"):
        raise ValueError(f"metric must be 'c_index' or 'td_auc'; got {metric!r}")
    if metric == "td_auc" and horizon is None:
        raise ValueError("metric='td_auc' needs a horizon")
    if reference is None:
        pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    else:
        pairs = [(m, reference) for m in names if m != reference]
    rows = []
    for model, ref in pairs:
        if metric == "c_index":
            res = compare_c_index(
                y,
                risks[model],
                risks[ref],
                method=method or "bootstrap",
                n_bootstrap=n_bootstrap,
                confidence_level=confidence_level,
                random_state=random_state,
                progress=progress,
            )
        else:
            res = compare_td_auc(y, risks[model], risks[ref], horizon, method=method or "iid",
                                 confidence_level=confidence_level)  # fmt: skip
        rows.append(
            dict(model=model, reference=ref, metric=metric, method=res.method, estimate=res.estimate_a,
                 reference_estimate=res.estimate_b, difference=res.difference, lower=res.lower,
                 upper=res.upper, p_value=res.p_value)
        )  # fmt: skip
    table = pd.DataFrame(rows)
    table["p_fdr"] = stats.false_discovery_control(table["p_value"].to_numpy(), method="bh")
    return table


def pairwise_td_auc_tests(
    y, risks: Mapping[str, Sequence[float]], horizon: float, *, method: str = "iid", adjust: str | None = "fdr_bh"
) -> pd.DataFrame:
    """Matrix of p-values of the time-dependent AUC difference between every pair of models.

    Each pair is tested with :func:`compare_td_auc` (``method="iid"``: timeROC's paired
    test; ``"delong"``: DeLong's test on the patients with known status at the horizon).
    With ``adjust="fdr_bh"`` the ``k(k-1)/2`` p-values of the distinct pairs (the upper
    triangle) are adjusted together by Benjamini–Hochberg
    (:func:`scipy.stats.false_discovery_control`), as the paper's Figure 4C–D.

    Parameters
    ----------
    y : structured array
    risks : mapping of str to array-like
        Model name -> risk score on the same patients (higher = higher risk); at least two.
    horizon : float
    method : {"iid", "delong"}, default="iid"
    adjust : {"fdr_bh", None}, default="fdr_bh"

    Returns
    -------
    DataFrame
        Square and symmetric, index and columns the model names in the order given,
        NaN on the diagonal. ``attrs`` holds ``auc`` (model -> AUC), ``horizon``, ``method``
        and ``adjust``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(2)
    >>> time = rng.exponential(10, 100); y = Surv.from_arrays(rng.random(100) < 0.8, time)
    >>> risks = {"good": -time, "noise": rng.normal(size=100), "noise2": rng.normal(size=100)}
    >>> p = pairwise_td_auc_tests(y, risks, 8.0)
    >>> p.shape, bool(p.loc["good", "noise"] < 0.05), bool(np.isnan(p.loc["good", "good"]))
    ((3, 3), True, True)
    """
    if not isinstance(risks, Mapping):
        raise ValueError(f"risks must be a mapping of model name to risk scores; got {type(risks).__name__}")
    if len(risks) < 2:
        raise ValueError(f"risks must hold at least two models; got {len(risks)}")
    if adjust not in ("fdr_bh", None):
        raise ValueError(f"adjust must be 'fdr_bh' or None; got {adjust!r}")
    names = list(risks)
    k = len(names)
    rows, cols = np.triu_indices(k, 1)
    auc = {}
    p = np.empty(len(rows))
    for n, (i, j) in enumerate(zip(rows, cols, strict=True)):
        try:
            res = compare_td_auc(y, risks[names[i]], risks[names[j]], horizon, method=method)
        except ValueError as err:
            raise ValueError(f"comparing {names[i]!r} with {names[j]!r}: {err}") from err
        p[n] = res.p_value
        auc.setdefault(names[i], res.estimate_a)
        auc.setdefault(names[j], res.estimate_b)
    if adjust == "fdr_bh":
        p = stats.false_discovery_control(p, method="bh")
    matrix = np.full((k, k), np.nan)
    matrix[rows, cols] = p
    matrix[cols, rows] = p
    table = pd.DataFrame(matrix, index=pd.Index(names, name="model"), columns=pd.Index(names, name="model"))
    table.attrs.update(auc={m: auc[m] for m in names}, horizon=float(horizon), method=method, adjust=adjust)
    return table


# --------------------------------------------------------------------------- Brier
def brier_at(y, survival, horizon: float, *, y_train=None) -> float:
    """Brier score at a horizon of predicted survival probabilities (lower = better).

    :func:`sksurv.metrics.brier_score` with the censoring estimated on ``y_train`` (or on
    ``y`` when None). ``survival`` is the predicted probability of being alive at the
    horizon (not a risk score).

    Parameters
    ----------
    y : structured array
    survival : array-like, shape (n_samples,)
        Predicted ``S(horizon)`` per patient.
    horizon : float
    y_train : structured array, optional

    Returns
    -------
    float

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> brier_at(y, [0.0, 0.0, 1.0, 1.0, 1.0], 2.5)
    0.0
    """
    event, time = core.check_target(y)
    horizon = core.check_times(horizon, time, event)
    surv = core.check_risk(survival, len(time), name="survival")
    train = y if y_train is None else y_train
    core.check_target(train, name="y_train")
    return float(sk_metrics.brier_score(train, y, surv[:, None], horizon)[1][0])


def integrated_brier(y, survival, times, *, y_train=None) -> float:
    """Integrated Brier score over ``times`` (lower = better), :func:`sksurv.metrics.integrated_brier_score`.

    Parameters
    ----------
    y : structured array
    survival : array-like, shape (n_samples, n_times)
        Predicted survival probabilities at ``times``.
    times : sequence of float
        At least two increasing time points inside the follow-up.
    y_train : structured array, optional
        Censoring distribution (default: ``y``).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> round(integrated_brier(y, np.full((5, 2), 0.5), [1.5, 3.5]), 3)
    0.25
    """
    event, time = core.check_target(y)
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or len(times) < 2:
        raise ValueError("integrated_brier needs at least two time points")
    for t in times:
        if t < time.min() or t >= time.max():
            raise ValueError(f"time {t:g} is outside the follow-up [{time.min():g}, {time.max():g})")
    surv = core.check_risk(survival, len(time), name="survival", ndim=(2,), n_cols=len(times))
    train = y if y_train is None else y_train
    core.check_target(train, name="y_train")
    return float(sk_metrics.integrated_brier_score(train, y, surv, times))


# --------------------------------------------------------------------------- scorers
def _survival_matrix(estimator, X, times: np.ndarray) -> np.ndarray:
    if not hasattr(estimator, "predict_survival_function"):
        raise ValueError(
            f"{type(estimator).__name__} has no predict_survival_function: the Brier score and the integrated "
            "Brier score need predicted survival functions (use 'c_index', 'uno_c' or 'td_auc' instead)"
        )
    try:
        fns = estimator.predict_survival_function(X)
    except (AttributeError, ValueError) as exc:
        raise ValueError(
            f"{type(estimator).__name__}.predict_survival_function failed ({exc}); for CoxnetSurvivalAnalysis "
            "set fit_baseline_model=True"
        ) from exc
    if isinstance(fns, np.ndarray) and fns.dtype != object:
        raise ValueError("predict_survival_function must return step functions (sksurv style), not an array")
    return np.vstack([fn(times) for fn in fns])


class _SurvivalScorer:
    """Callable ``scorer(estimator, X, y)``: higher = better (Brier scores negated)."""

    def __init__(self, metric: str, horizon: float | None, times):
        self.metric = metric
        self.horizon = horizon
        self.times = times

    def __repr__(self) -> str:
        return f"make_survival_scorer({self.metric!r}, horizon={self.horizon!r})"

    def __call__(self, estimator, X, y) -> float:
        event, time = core.check_target(y)
        if self.metric in ("c_index", "uno_c", "td_auc"):
            risk = np.asarray(estimator.predict(X), dtype=float)
            if self.metric == "c_index":
                return harrell_c(y, risk)
            if self.metric == "uno_c":
                return uno_c(y, risk, tau=self.horizon)
            return float(td_auc(y, risk, self.horizon)[0])
        if self.metric == "brier":
            surv = _survival_matrix(estimator, X, np.array([float(self.horizon)]))[:, 0]
            return -brier_at(y, surv, self.horizon)
        times = self.times
        if times is None:
            times = np.unique(np.quantile(time, np.linspace(0.1, 0.9, 20)))
        times = np.asarray(times, dtype=float)
        return -integrated_brier(y, _survival_matrix(estimator, X, times), times)


def make_survival_scorer(metric: str, *, horizon: float | None = None, times=None) -> _SurvivalScorer:
    """A ``scoring=`` callable for :func:`~sklearn.model_selection.cross_validate` / ``GridSearchCV``.

    The scorer ``scorer(estimator, X, y)`` evaluates a fitted estimator on the evaluation
    fold only (censoring weights from that fold). Higher is better: ``"c_index"`` (Harrell),
    ``"uno_c"`` (Uno, truncated at ``horizon`` if given), ``"td_auc"`` (timeROC AUC at
    ``horizon``) use ``estimator.predict`` as a risk score (higher = higher risk);
    ``"brier"`` (at ``horizon``) and ``"ibs"`` (over ``times``, default 20 quantiles 10–90%
    of the fold's times) are negated and need ``predict_survival_function`` returning
    scikit-survival step functions. Works with scikit-survival estimators, pipelines and
    the package's models. A horizon beyond a fold's follow-up, or without an event before
    it, raises ``ValueError`` (``GridSearchCV`` then records ``error_score``): choose a
    horizon well inside the follow-up of every fold.

    Parameters
    ----------
    metric : {"c_index", "uno_c", "td_auc", "brier", "ibs"}
    horizon : float, optional
        Required for ``"td_auc"`` and ``"brier"``.
    times : sequence of float, optional
        Time grid for ``"ibs"``.

    Returns
    -------
    callable

    Examples
    --------
    >>> from sksurv.datasets import load_veterans_lung_cancer
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> from sklearn.model_selection import cross_val_score
    >>> X, y = load_veterans_lung_cancer()
    >>> X = X[["Age_in_years", "Karnofsky_score", "Months_from_Diagnosis"]]
    >>> s = cross_val_score(CoxPHSurvivalAnalysis(), X, y, cv=3, scoring=make_survival_scorer("td_auc", horizon=90))
    >>> bool(((s > 0.5) & (s <= 1)).all())
    True
    """
    if metric not in SCORER_METRICS:
        raise ValueError(f"metric must be one of {SCORER_METRICS}; got {metric!r}")
    if metric in ("td_auc", "brier") and horizon is None:
        raise ValueError(f"metric={metric!r} needs a horizon")
    if horizon is not None and (not np.isfinite(horizon) or horizon <= 0):
        raise ValueError(f"horizon must be a positive number; got {horizon!r}")
    return _SurvivalScorer(metric, None if horizon is None else float(horizon), times)


def make_survival_scorers(*, horizon: float | None = None, times=None, metrics: Sequence[str] | None = None) -> dict:
    """A dict ``name -> scorer`` for multi-metric ``cross_validate`` / ``GridSearchCV``.

    Parameters
    ----------
    horizon : float, optional
        Without it only ``"c_index"``, ``"uno_c"`` and ``"ibs"`` are included by default.
    times : sequence of float, optional
        Time grid for ``"ibs"``.
    metrics : sequence of str, optional
        Subset of ``SCORER_METRICS``.

    Returns
    -------
    dict

    Examples
    --------
    >>> sorted(make_survival_scorers(horizon=365.0))
    ['brier', 'c_index', 'ibs', 'td_auc', 'uno_c']
    """
    if metrics is None:
        metrics = SCORER_METRICS if horizon is not None else ("c_index", "uno_c", "ibs")
    return {m: make_survival_scorer(m, horizon=horizon, times=times) for m in metrics}
