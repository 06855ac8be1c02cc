"""Discrimination metrics and their confidence intervals; re-exported by :mod:`sksurv_tace.metrics`.

Risk scores: higher = higher risk. See :mod:`sksurv_tace.metrics` for the two IPCW conventions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sksurv import metrics as sk_metrics
from sksurv.nonparametric import CensoringDistributionEstimator

from sksurv_tace.metrics import _core as core

__all__ = ["ConfidenceInterval", "harrell_c", "uno_c", "td_auc", "td_roc_curve", "c_index_ci", "td_auc_ci"]

_FAST_HARRELL_MIN_N = 5000  # above this, sksurv's O(n^2) loop is slower than the sort-based count


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with its confidence interval.

    Attributes
    ----------
    estimate, lower, upper, std_error : float
        Estimate on the full sample, interval bounds and standard error.
    method : str
        ``"bootstrap"`` (percentile bootstrap) or ``"iid"`` (normal, timeROC variance).
    confidence_level : float
    replicates : ndarray or None
        The bootstrap replicates (NaN where a resample had no comparable pair).

    Examples
    --------
    >>> ConfidenceInterval(0.7, 0.6, 0.8, 0.05, "bootstrap")
    ConfidenceInterval(estimate=0.7, lower=0.6, upper=0.8, std_error=0.05, method='bootstrap', confidence_level=0.95)
    """

    estimate: float
    lower: float
    upper: float
    std_error: float
    method: str
    confidence_level: float = 0.95
    replicates: np.ndarray | None = field(default=None, repr=False, compare=False)


# --------------------------------------------------------------------------- discrimination
def harrell_c(y, risk, *, tied_tol: float = 1e-8) -> float:
    """Harrell's concordance index of a risk score (higher score = higher risk).

    A thin wrapper of :func:`sksurv.metrics.concordance_index_censored` with the package's
    input checks; for more than 5,000 patients an equivalent sort-based
    ``O(n log n)`` computation is used (same pairs, same ties, same value).

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Survival target (event, time).
    risk : array-like, shape (n_samples,)
        Risk score, higher = shorter expected survival.
    tied_tol : float, default=1e-8
        Absolute tolerance under which two risks count as tied (1/2).

    Returns
    -------
    float
        Concordance: 1 = perfect ranking, 0.5 = random, 0 = reversed.

    Raises
    ------
    ValueError
        NaN risks, length mismatch, no event or no comparable pair.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1], [2.0, 4.0, 5.0, 6.0])
    >>> harrell_c(y, [4.0, 3.0, 2.0, 1.0])
    1.0
    """
    event, time = core.check_target(y)
    risk = core.check_risk(risk, len(time))
    if len(time) > _FAST_HARRELL_MIN_N:
        return float(core.harrell_fast(event, time, risk, tied_tol)[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        c = float(sk_metrics.concordance_index_censored(event, time, risk, tied_tol=tied_tol)[0])
    if np.isnan(c):  # the same error as the sort-based path above 5,000 patients
        raise ValueError("no comparable pairs: Harrell's C is undefined (every event is at or after the last time)")
    return c


def uno_c(y, risk, *, y_train=None, tau: float | None = None, tied_tol: float = 1e-8) -> float:
    """Uno's IPCW concordance index (higher score = higher risk).

    A wrapper of :func:`sksurv.metrics.concordance_index_ipcw`: pairs ``(i, j)`` with ``i``
    dead at ``T_i < tau`` and ``T_j > T_i`` (or ``T_j = T_i`` with ``j`` censored), weighted by
    ``1/G(T_i)^2``, tied risks counting 1/2. The censoring distribution ``G`` is estimated on
    ``y_train`` when given, else on ``y`` itself (the scorer's case). R ``survC1::Est.Cval``
    differs only under tied times (by up to 1.2e-3 on R's ``lung``/``gbsg`` test halves): it
    weighs by ``1/G(T_i-)^2``, keeps deaths in the censoring risk set and drops tied-time pairs.

    Parameters
    ----------
    y : structured array
        Evaluation target.
    risk : array-like, shape (n_samples,)
        Risk score, higher = higher risk.
    y_train : structured array, optional
        Target whose censoring distribution gives the weights.
    tau : float, optional
        Truncation time: only pairs with ``T_i < tau`` count; it must lie inside the
        follow-up with an event before it.
    tied_tol : float, default=1e-8

    Returns
    -------
    float

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 0, 1, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> uno_c(y, [5.0, 4.0, 3.0, 2.0, 1.0])
    1.0
    """
    event, time, y, train = core.check_targets(y, y_train)
    risk = core.check_risk(risk, len(time))
    if tau is not None:
        tau = float(core.check_times(tau, time, event, name="tau", strict_case=True)[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        c = float(sk_metrics.concordance_index_ipcw(train, y, risk, tau=tau, tied_tol=tied_tol)[0])
    if not np.isfinite(c):
        raise ValueError(
            "uno_c: no comparable pair (every death ties with the other patients' times, or lies past tau): "
            "the C-index is undefined"
        )
    return c


def td_auc(y, risk, times, *, y_train=None) -> np.ndarray:
    """Cumulative/dynamic time-dependent AUC at one or several horizons (higher = higher risk).

    Cases at ``t`` died by ``t``, controls are alive after ``t``; censored patients are
    handled by inverse probability of censoring weights.

    * ``y_train`` given: :func:`sksurv.metrics.cumulative_dynamic_auc` (cases ``T <= t``,
      censoring Kaplan–Meier of ``y_train``, weights ``1/G(T_i)``).
    * ``y_train=None``: R ``timeROC(weighting="marginal")`` (cases ``T < t``, censoring
      Kaplan–Meier of ``y``, weights ``1/G(T_i-)`` and ``1/G(t)``). Both agree when ``t``
      is not an event time and the censoring is estimated on the same sample.

    Parameters
    ----------
    y : structured array
        Evaluation target.
    risk : array-like, shape (n_samples,) or (n_samples, n_times)
        Risk score, or one column of risk per horizon (e.g. ``1 - S(t)``).
    times : float or sequence of float
        Horizons, inside ``(0, max follow-up)`` with an event before each.
    y_train : structured array, optional

    Returns
    -------
    ndarray, shape (n_times,)

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> td_auc(y, [5.0, 4.0, 3.0, 2.0, 1.0], [2.5, 4.5]).round(3).tolist()
    [1.0, 1.0]
    """
    event, time = core.check_target(y)
    times = core.check_times(times, time, event, name="times", strict_case=y_train is None)
    risk = core.check_risk(risk, len(time), ndim=(1, 2), n_cols=len(times))
    if y_train is not None:
        _, _, y, y_train = core.check_targets(y, y_train)
        return np.asarray(sk_metrics.cumulative_dynamic_auc(y_train, y, risk, times)[0], dtype=float)
    cols = [risk if risk.ndim == 1 else risk[:, k] for k in range(len(times))]
    return np.array([core.timeroc_auc(time, event, m, t) for m, t in zip(cols, times, strict=True)])


def td_roc_curve(y, risk, horizon: float, *, y_train=None, tied_tol: float = 1e-8) -> pd.DataFrame:
    """Cumulative/dynamic ROC curve at a horizon, with the IPCW weights of :func:`td_auc`.

    A patient is called positive when ``risk >= threshold``. Cases died by the horizon,
    controls are alive after it; the true-positive rate is the IPCW-weighted share of
    cases above the threshold, the false-positive rate the share of controls above it.
    The trapezoidal area under the returned points equals :func:`td_auc` at the same
    horizon with the same ``y_train`` (tied scores make a diagonal segment, i.e. count 1/2).

    * ``y_train=None``: R ``timeROC(weighting="marginal")``: cases ``T < t`` with an event,
      weight ``1/G(T_i-)``; controls ``T > t``, equal weights; ``G`` the censoring
      Kaplan–Meier of ``y``; scores tied only when exactly equal.
    * ``y_train`` given: :func:`sksurv.metrics.cumulative_dynamic_auc`: cases ``T <= t``
      with an event, weight ``1/G(T_i)`` with ``G`` estimated on ``y_train``; controls
      ``T > t`` unweighted; scores within ``tied_tol`` are tied.

    Parameters
    ----------
    y : structured array
        Evaluation target.
    risk : array-like, shape (n_samples,)
        Risk score, higher = higher risk.
    horizon : float
        Inside ``(0, max follow-up)`` with an event before it.
    y_train : structured array, optional
        Target whose censoring distribution gives the weights (sksurv convention).
    tied_tol : float, default=1e-8
        Tolerance for tied scores, ``y_train`` convention only (as scikit-survival).

    Returns
    -------
    DataFrame
        ``threshold, fpr, tpr``, from ``(inf, 0, 0)`` to ``(min risk, 1, 1)``, one row per
        distinct score, thresholds decreasing.

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> roc = td_roc_curve(y, [5.0, 3.0, 4.0, 2.0, 1.0], 2.5)
    >>> roc[["fpr", "tpr"]].round(2).values.tolist()
    [[0.0, 0.0], [0.0, 0.5], [0.33, 0.5], [0.33, 1.0], [0.67, 1.0], [1.0, 1.0]]
    >>> bool(np.isclose(np.trapezoid(roc["tpr"], roc["fpr"]), td_auc(y, [5.0, 3.0, 4.0, 2.0, 1.0], 2.5)[0]))
    True
    """
    event, time = core.check_target(y)
    t = core.check_horizon(horizon, time, event, strict_case=y_train is None)
    risk = core.check_risk(risk, len(time))
    if y_train is None:
        _, parts = core.timeroc_auc(time, event, risk, t, return_parts=True)
        w_case, w_ctrl, tol = parts["w_case"], parts["ctrl"].astype(float), 0.0
    else:
        _, _, y, y_train = core.check_targets(y, y_train)
        ipcw = CensoringDistributionEstimator().fit(y_train).predict_ipcw(y)
        w_case = np.where(event & (time <= t), ipcw, 0.0)
        w_ctrl, tol = (time > t).astype(float), float(tied_tol)
    return _weighted_roc(risk, w_case, w_ctrl, tol)


def _weighted_roc(risk: np.ndarray, w_case: np.ndarray, w_ctrl: np.ndarray, tied_tol: float) -> pd.DataFrame:
    """ROC points of weighted cases/controls, ties within ``tied_tol`` merged (scikit-survival's algorithm)."""
    order = np.argsort(-risk, kind="stable")
    r = risk[order]
    tp, fp = np.cumsum(w_case[order]), np.cumsum(w_ctrl[order])
    last = np.append(np.abs(np.diff(r)) > tied_tol, True)  # keep the last score of each tied run
    return pd.DataFrame(
        {
            "threshold": np.r_[np.inf, r[last]],
            "fpr": np.r_[0.0, fp[last] / fp[-1]],
            "tpr": np.r_[0.0, tp[last] / tp[-1]],
        }
    )


# --------------------------------------------------------------------------- confidence intervals
def c_index_ci(
    y,
    risk,
    *,
    method: str = "harrell",
    y_train=None,
    tau: float | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
    progress: bool | None = None,
) -> ConfidenceInterval:
    """C-index with a seeded percentile-bootstrap confidence interval (higher score = higher risk).

    Resample ``b`` takes the patients ``np.random.default_rng(random_state).integers(0, n,
    (n_bootstrap, n))[b]``. Harrell's C of all resamples is computed at once: the pairwise
    comparable/concordant matrices are built once and each resample's numerator and
    denominator are quadratic forms of its multiplicity counts (values identical to a
    loop of :func:`sksurv.metrics.concordance_index_censored` over the resamples).
    Uno's C loops over :func:`uno_c` (tqdm progress bar).

    Parameters
    ----------
    y : structured array
    risk : array-like, shape (n_samples,)
        Risk score, higher = higher risk.
    method : {"harrell", "uno"}, default="harrell"
    y_train, tau : optional
        Passed to :func:`uno_c` (``method="uno"`` only).
    n_bootstrap : int, default=1000
    confidence_level : float, default=0.95
    random_state : int, Generator or None
    progress : bool or None
        Show a progress bar (None: only on a terminal).

    Returns
    -------
    ConfidenceInterval

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> time = rng.exponential(10, 60); y = Surv.from_arrays(rng.random(60) < 0.7, time)
    >>> ci = c_index_ci(y, -time + rng.normal(0, 5, 60), n_bootstrap=200, random_state=0)
    >>> bool(ci.lower <= ci.estimate <= ci.upper)
    True
    """
    event, time = core.check_target(y)
    risk = core.check_risk(risk, len(time))
    n_bootstrap = core.check_n_bootstrap(n_bootstrap)
    core.z_value(confidence_level)
    idx = core.bootstrap_indices(len(time), n_bootstrap, random_state)
    if method == "harrell":
        estimate = harrell_c(y, risk)
        rep = core.harrell_replicates(event, time, [risk], idx, progress)[0]
    elif method == "uno":
        estimate = uno_c(y, risk, y_train=y_train, tau=tau)
        rep = np.array(
            [
                core.nan_on_value_error(uno_c, y[i], risk[i], y_train=y_train, tau=tau)
                for i in core.progress_bar(idx, progress, "Uno's C bootstrap")
            ]
        )
    else:
        raise ValueError(f"method must be 'harrell' or 'uno'; got {method!r}")
    lo, hi = core.percentile_interval(rep, confidence_level)
    return ConfidenceInterval(estimate, lo, hi, float(np.nanstd(rep, ddof=1)), "bootstrap", confidence_level, rep)


def td_auc_ci(
    y,
    risk,
    times,
    *,
    method: str = "iid",
    y_train=None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Time-dependent AUC with 95% confidence intervals (higher score = higher risk).

    ``method="iid"``: normal interval ``AUC ± z·se`` (clipped to [0, 1]) with ``se`` from
    the iid representation of the IPCW estimator (Blanche, Dartigues & Jacqmin-Gadda
    2013, Stat Med 32:5381, as R ``timeROC(iid=TRUE)`` and ``riskRegression::Score``
    compute it); only for the evaluation-sample censoring (``y_train=None``).
    ``method="bootstrap"``: seeded percentile bootstrap of :func:`td_auc` (resamples
    without a case or control are skipped). The iid method holds ``n x n`` matrices
    (about 8·n² bytes each; fine up to a few thousand patients).

    Parameters
    ----------
    y : structured array
    risk : array-like, shape (n_samples,)
        Risk score, higher = higher risk.
    times : float or sequence of float
    method : {"iid", "bootstrap"}, default="iid"
    y_train : structured array, optional
        Training target (sksurv semantics, bootstrap only).
    n_bootstrap, confidence_level, random_state, progress
        As in :func:`c_index_ci`.

    Returns
    -------
    DataFrame
        Columns ``time, auc, std_error, lower, upper``.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1, 0, 1, 1, 0], [1.0, 2, 3, 4, 5, 6, 7, 8])
    >>> td_auc_ci(y, [8.0, 6, 7, 5, 3, 4, 2, 1], 4.5).columns.tolist()
    ['time', 'auc', 'std_error', 'lower', 'upper']
    """
    event, time = core.check_target(y)
    times = core.check_times(times, time, event, name="times", strict_case=y_train is None)
    risk = core.check_risk(risk, len(time))
    z = core.z_value(confidence_level)
    if method == "iid":
        if y_train is not None:
            raise ValueError("method='iid' is timeROC's variance for evaluation-sample censoring; pass y_train=None")
        auc, iid = core.timeroc_iid_matrix(time, event, risk, times)
        se = iid.std(axis=0, ddof=1) / np.sqrt(len(time))
        lower, upper = np.clip(auc - z * se, 0, 1), np.clip(auc + z * se, 0, 1)
    elif method == "bootstrap":
        n_bootstrap = core.check_n_bootstrap(n_bootstrap)
        auc = td_auc(y, risk, times, y_train=y_train)
        idx = core.bootstrap_indices(len(time), n_bootstrap, random_state)
        rep = np.array(
            [_auc_or_nan(y[i], risk[i], times, y_train) for i in core.progress_bar(idx, progress, "TD AUC bootstrap")]
        )
        se = np.nanstd(rep, axis=0, ddof=1)
        bounds = np.array([core.percentile_interval(rep[:, k], confidence_level) for k in range(len(times))])
        lower, upper = bounds[:, 0], bounds[:, 1]
    else:
        raise ValueError(f"method must be 'iid' or 'bootstrap'; got {method!r}")
    return pd.DataFrame({"time": times, "auc": auc, "std_error": se, "lower": lower, "upper": upper})


def _auc_or_nan(y, risk, times, y_train) -> np.ndarray:
    try:
        return td_auc(y, risk, times, y_train=y_train)
    except ValueError:
        return np.full(len(times), np.nan)
