"""Clinical summaries at a horizon: operating point, risk groups, calibration (decision curves: ``decision.py``).

Re-exported by :mod:`sksurv_tace.metrics`. Risk scores: higher = higher risk.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.metrics import roc_curve
from sksurv.compare import compare_survival
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from sksurv_tace.metrics import _core as core

__all__ = [
    "youden_cutoff",
    "confusion_at_cutoff",
    "risk_groups",
    "RiskGroups",
    "calibration_at_horizon",
    "CalibrationResult",
]

_CENSORING = ("exclude", "ipcw")


def _horizon_status(time, event, horizon, censoring):
    """Case indicator (death by the horizon) and weights; censored before the horizon get weight 0.

    ``"exclude"``: weight 1 for known status. ``"ipcw"``: cases ``1/G(T_i-)``, controls
    ``1/G(t)`` with ``G`` the censoring Kaplan–Meier of the sample, deaths leaving its risk
    set before censorings at the same time (``core.censoring_km``, R ``pec::ipcw``'s weights).
    """
    if censoring not in _CENSORING:
        raise ValueError(f"censoring must be one of {_CENSORING}; got {censoring!r}")
    case = event & (time <= horizon)
    control = time > horizon
    if censoring == "exclude":
        return case, (case | control).astype(float)
    uniq, g = core.censoring_km(time, event)
    w = np.zeros(len(time))
    w[case] = 1.0 / core.step_at(uniq, g, time[case], left=True)
    w[control] = 1.0 / float(core.step_at(uniq, g, horizon))
    return case, w


def _prepare(y, risk, horizon, name="risk"):
    event, time = core.check_target(y)
    horizon = core.check_horizon(horizon, time, event)
    risk = core.check_risk(risk, len(time), name=name)
    return event, time, risk, horizon


def youden_cutoff(y, risk, horizon: float, *, censoring: str = "ipcw") -> float:
    """Cut-off of the risk score maximising Youden's J for death by ``horizon``.

    Patients with ``risk >= cutoff`` are called high risk (predicted to die by the
    horizon); sensitivity/specificity are those of :func:`confusion_at_cutoff` with the
    same ``censoring`` handling. Choose it on one cohort and apply it to another.
    Ties in J keep the highest cut-off (as :func:`sklearn.metrics.roc_curve` lists them).

    Parameters
    ----------
    y : structured array
    risk : array-like, shape (n_samples,)
        Risk score, higher = higher risk.
    horizon : float
    censoring : {"ipcw", "exclude"}, default="ipcw"
        Patients censored before the horizon are dropped (``"exclude"``) or the others
        are inverse-probability-of-censoring weighted (``"ipcw"``).

    Returns
    -------
    float

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 1, 0, 0, 0], [1.0, 2, 3, 8, 9, 10])
    >>> youden_cutoff(y, [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], 5.0)
    0.7
    """
    event, time, risk, horizon = _prepare(y, risk, horizon)
    case, w = _horizon_status(time, event, horizon, censoring)
    keep = w > 0
    if case[keep].all() or not case[keep].any():
        raise ValueError(f"no control alive after horizon={horizon:g}: Youden's J is undefined")
    fpr, tpr, thr = roc_curve(case[keep], risk[keep], sample_weight=w[keep], drop_intermediate=False)
    j = tpr - fpr
    j[~np.isfinite(thr)] = -np.inf
    return float(thr[int(np.argmax(j))])


def confusion_at_cutoff(y, risk, cutoff: float, horizon: float, *, censoring: str = "ipcw") -> dict:
    """Classification metrics at a risk cut-off for death by ``horizon``.

    Positive = ``risk >= cutoff`` (high risk); a case died by the horizon (event with
    ``T <= horizon``), a control is alive after it. Accuracy = (TP+TN)/all, sensitivity
    (recall) = TP/(TP+FN), specificity = TN/(TN+FP), PPV (precision) = TP/(TP+FP),
    NPV = TN/(TN+FN), prevalence = (TP+FN)/all. Patients censored before the horizon
    have unknown status: ``"exclude"`` drops them (biased towards early deaths when
    censoring is heavy), ``"ipcw"`` weights cases by ``1/G(T_i-)`` and controls by
    ``1/G(t)`` (censoring Kaplan–Meier), the weighting of Uno et al. (2007) / timeROC.

    Parameters
    ----------
    y : structured array
    risk : array-like, shape (n_samples,)
        Risk score, higher = higher risk.
    cutoff : float
    horizon : float
    censoring : {"ipcw", "exclude"}, default="ipcw"

    Returns
    -------
    dict
        ``accuracy, sensitivity, specificity, ppv, npv, prevalence`` and the (weighted)
        counts ``tp, fp, tn, fn`` plus ``n_excluded`` (censored before the horizon). A ratio
        with an empty denominator (e.g. ``ppv`` when no patient is at or above the cut-off)
        is NaN, with a :class:`RuntimeWarning` naming it.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 0, 0], [1.0, 2, 3, 8, 9])
    >>> m = confusion_at_cutoff(y, [0.9, 0.4, 0.5, 0.6, 0.1], 0.5, 5.0)
    >>> m["sensitivity"], m["specificity"], m["n_excluded"]
    (0.5, 0.5, 1)
    """
    event, time, risk, horizon = _prepare(y, risk, horizon)
    core.check_number(cutoff, "cutoff")
    case, w = _horizon_status(time, event, horizon, censoring)
    pos = risk >= cutoff
    tp = float(w[case & pos].sum())
    fn = float(w[case & ~pos].sum())
    fp = float(w[~case & pos].sum())
    tn = float(w[~case & ~pos].sum())
    total = tp + fn + fp + tn

    undefined = []

    def ratio(a, b, name):
        if b > 0:
            return a / b
        undefined.append(name)
        return float("nan")

    result = dict(
        accuracy=ratio(tp + tn, total, "accuracy"),
        sensitivity=ratio(tp, tp + fn, "sensitivity"),
        specificity=ratio(tn, tn + fp, "specificity"),
        ppv=ratio(tp, tp + fp, "ppv"),
        npv=ratio(tn, tn + fn, "npv"),
        prevalence=ratio(tp + fn, total, "prevalence"),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        n_excluded=int((w == 0).sum()),
    )
    if undefined:
        warnings.warn(
            f"confusion_at_cutoff: {', '.join(undefined)} undefined at cutoff={cutoff!r} (no patient with known "
            "status at the horizon in its denominator); NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


@dataclass(frozen=True)
class RiskGroups:
    """Kaplan–Meier curves of risk groups and their log-rank test.

    Attributes
    ----------
    curves : DataFrame
        ``group, time, survival, lower, upper`` (log-log confidence band), one row per time.
    summary : DataFrame
        ``group, n, events, median, median_lower, median_upper`` (inf = not reached).
    chisq, p_value : float
        Log-rank test (:func:`sksurv.compare.compare_survival`).
    cutoff : float
    hazard_ratio, hazard_ratio_lower, hazard_ratio_upper : float
        Hazard ratio of the high- vs the low-risk group with its Wald confidence interval (Cox
        regression on the group indicator, Efron ties, :class:`lifelines.CoxPHFitter`); NaN,
        with a :class:`RuntimeWarning`, when a group has no death (infinite or zero ratio).
    at_risk : DataFrame or None
        Event table ``group, time, at_risk, events, censored``: one row per distinct
        observed time of each group, ``at_risk`` = patients with ``T >= time`` (as
        lifelines' ``KaplanMeierFitter.event_table``). None when built by hand without it.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> groups = risk_groups(Surv.from_arrays([1, 0, 1, 1], [1.0, 2, 3, 4]), [2, 2, 1, 1], 1.5)
    >>> groups.summary["n"].tolist()
    [2, 2]
    >>> groups.numbers_at_risk([0, 2.5]).values.tolist()
    [[2, 2], [2, 0]]
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    chisq: float
    p_value: float
    cutoff: float
    at_risk: pd.DataFrame | None = field(default=None, compare=False)
    hazard_ratio: float = np.nan
    hazard_ratio_lower: float = np.nan
    hazard_ratio_upper: float = np.nan

    def numbers_at_risk(self, times) -> pd.DataFrame:
        """Number of patients still at risk (``T >= t``) in each group at ``times``.

        Parameters
        ----------
        times : sequence of float
            Time points, in the unit of the survival times (days).

        Returns
        -------
        DataFrame
            One row per group (index ``group``, in the order of ``summary``), one integer
            column per time point.

        Examples
        --------
        >>> from sksurv.util import Surv
        >>> groups = risk_groups(Surv.from_arrays([1, 1, 0, 1], [1.0, 2, 3, 4]), [2, 2, 1, 1], 1.5)
        >>> groups.numbers_at_risk([1.5, 3.0]).loc["high risk"].tolist()
        [1, 0]
        """
        if self.at_risk is None:
            raise ValueError("these RiskGroups carry no at_risk event table; make them with risk_groups()")
        t = np.atleast_1d(np.asarray(times, dtype=float))
        if t.ndim != 1 or not np.isfinite(t).all():
            raise ValueError(f"times must be a 1-D sequence of finite numbers; got {times!r}")
        rows = {}
        for group in self.summary["group"]:
            table = self.at_risk[self.at_risk["group"] == group]
            leaving = (table["events"] + table["censored"]).to_numpy()
            obs = table["time"].to_numpy()
            rows[group] = [int(leaving[obs >= u].sum()) for u in t]
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(t)).rename_axis("group")


def _first_below(time, values, level=0.5) -> float:
    hit = np.flatnonzero(values <= level)
    return float(time[hit[0]]) if hit.size else float("inf")


def _group_hazard_ratio(event, time, high, confidence_level) -> tuple[float, float, float]:
    if not event[high].any() or not event[~high].any():
        warnings.warn("hazard ratio of the risk groups not estimable: a group has no death", RuntimeWarning,
                      stacklevel=3)  # fmt: skip
        return np.nan, np.nan, np.nan
    from lifelines import CoxPHFitter

    data = pd.DataFrame({"time": time, "event": event, "high": high.astype(float)})
    fitter = CoxPHFitter(alpha=1 - confidence_level).fit(data, "time", "event")
    coef, se = float(fitter.params_["high"]), float(fitter.standard_errors_["high"])
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    return float(np.exp(coef)), float(np.exp(coef - z * se)), float(np.exp(coef + z * se))


def risk_groups(
    y, risk, cutoff: float, *, labels: tuple[str, str] = ("low risk", "high risk"), confidence_level: float = 0.95
) -> RiskGroups:
    """Split patients at a risk cut-off: Kaplan–Meier per group, log-rank p, hazard ratio, median OS with CI.

    High risk: ``risk >= cutoff``. Curves from
    :func:`sksurv.nonparametric.kaplan_meier_estimator` with ``conf_type="log-log"``;
    median = first time the curve is <= 0.5, its CI the first times the lower and upper
    confidence limits are <= 0.5 (Brookmeyer–Crowley inversion, as R ``survfit`` and
    lifelines); ``inf`` when not reached.

    Parameters
    ----------
    y : structured array
    risk : array-like, shape (n_samples,)
        Risk score, higher = higher risk.
    cutoff : float
    labels : (str, str), default=("low risk", "high risk")
    confidence_level : float, default=0.95

    Returns
    -------
    RiskGroups

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 1, 1, 1, 0], [1.0, 2, 3, 7, 8, 9])
    >>> groups = risk_groups(y, [3, 3, 3, 1, 1, 1], 2)
    >>> groups.summary["median"].tolist()
    [8.0, 2.0]
    """
    event, time = core.check_target(y)
    risk = core.check_risk(risk, len(time))
    core.check_number(cutoff, "cutoff")
    if not isinstance(labels, tuple | list) or len(labels) != 2 or labels[0] == labels[1]:
        raise ValueError(f"labels must be two different group names; got {labels!r}")
    high = risk >= cutoff
    if high.all() or not high.any():
        raise ValueError(f"cutoff={cutoff!r} puts every patient in one group; both groups need patients")
    curves, summary, at_risk = [], [], []
    for label, mask in zip(labels, (~high, high), strict=True):
        uniq, inverse = np.unique(time[mask], return_inverse=True)
        removed = np.bincount(inverse, minlength=len(uniq))
        deaths = np.bincount(inverse, weights=event[mask].astype(float), minlength=len(uniq)).astype(int)
        at_risk.append(
            pd.DataFrame({"group": label, "time": uniq, "at_risk": removed[::-1].cumsum()[::-1], "events": deaths,
                          "censored": removed - deaths})
        )  # fmt: skip
        if not event[mask].any():
            t, s = np.unique(time[mask]), np.ones(len(np.unique(time[mask])))
            lo = hi = s
        else:
            t, s, ci = kaplan_meier_estimator(event[mask], time[mask], conf_type="log-log", conf_level=confidence_level)
            lo, hi = ci
        curves.append(pd.DataFrame({"group": label, "time": t, "survival": s, "lower": lo, "upper": hi}))
        summary.append(
            dict(group=label, n=int(mask.sum()), events=int(event[mask].sum()), median=_first_below(t, s),
                 median_lower=_first_below(t, lo), median_upper=_first_below(t, hi))
        )  # fmt: skip
    try:
        chisq, p = compare_survival(Surv.from_arrays(event, time), high.astype(int))
    except np.linalg.LinAlgError:  # zero variance: no death while both groups still had patients at risk
        raise ValueError(
            f"cutoff={cutoff!r}: the log-rank test is undefined, no death occurs while both groups have patients "
            "at risk"
        ) from None
    hr, hr_lower, hr_upper = _group_hazard_ratio(event, time, high, confidence_level)
    return RiskGroups(
        pd.concat(curves, ignore_index=True), pd.DataFrame(summary), float(chisq), float(p), cutoff,
        at_risk=pd.concat(at_risk, ignore_index=True), hazard_ratio=hr, hazard_ratio_lower=hr_lower,
        hazard_ratio_upper=hr_upper,
    )  # fmt: skip


@dataclass(frozen=True)
class CalibrationResult:
    """Calibration of predicted survival at a horizon.

    Attributes
    ----------
    groups : DataFrame
        ``group, n, predicted, observed, lower, upper``: mean predicted ``S(t)`` and
        Kaplan–Meier observed ``S(t)`` (log-log CI) per quantile group of the prediction.
    curve : DataFrame
        ``predicted, observed`` smoothed calibration curve (one row per patient, sorted).
    slope, intercept : float
        Logistic recalibration slope and calibration-in-the-large (ideal 1 and 0). The slope
        is NaN (with a :class:`RuntimeWarning` saying why) when it is not identifiable: one
        predicted risk for every patient with known status, predictions that separate the
        deaths from the survivors (infinite maximum-likelihood slope), or a fit that did not
        converge.
    ici, e50, e90 : float
        Mean, median and 90th percentile of ``|observed - predicted|`` on the curve. NaN, as
        the curve's ``observed`` column, with a :class:`RuntimeWarning` when the curve's Cox
        fit diverges (predictions that separate the deaths from the survivors).
    horizon : float

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(1)
    >>> y = Surv.from_arrays(np.ones(50, bool), rng.exponential(2.0, 50))
    >>> with warnings.catch_warnings(record=True) as caught:  # one prediction for all: no slope
    ...     warnings.simplefilter("always")
    ...     res = calibration_at_horizon(y, np.full(50, np.exp(-0.5)), 1.0, n_groups=2)
    >>> len(res.groups), res.horizon, bool(np.isnan(res.slope)), caught[0].category.__name__
    (2, 1.0, True, 'RuntimeWarning')
    """

    groups: pd.DataFrame
    curve: pd.DataFrame
    slope: float
    intercept: float
    ici: float
    e50: float
    e90: float
    horizon: float


def _rcs_basis(x: np.ndarray, n_knots: int) -> np.ndarray:
    """Harrell's restricted cubic spline basis (linear tails), knots at Harrell's default quantiles."""
    probs = {3: [0.1, 0.5, 0.9], 4: [0.05, 0.35, 0.65, 0.95], 5: [0.05, 0.275, 0.5, 0.725, 0.95]}[n_knots]
    knots = np.unique(np.quantile(x, probs))
    cols = [x]
    if len(knots) >= 3:
        k, norm = knots, (knots[-1] - knots[0]) ** 2
        for j in range(len(k) - 2):
            term = (
                np.maximum(x - k[j], 0) ** 3
                - np.maximum(x - k[-2], 0) ** 3 * (k[-1] - k[j]) / (k[-1] - k[-2])
                + np.maximum(x - k[-1], 0) ** 3 * (k[-2] - k[j]) / (k[-1] - k[-2])
            )
            cols.append(term / norm)
    return np.column_stack(cols)


def _weighted_logistic(outcome, w, x, *, fixed_slope: bool, max_iter: int = 100) -> tuple[float, float, bool]:
    """Weighted maximum likelihood of ``logit P(outcome) = a + b x`` by iteratively reweighted least squares.

    ``fixed_slope`` fits ``a`` alone with ``b = 1`` (``x`` an offset). As R's ``glm.fit``: start
    from ``mu = (w y + 1/2) / (w + 1)``, halve a step that raises the deviance, stop when the
    deviance changes by less than ``1e-10`` (relative). Returns ``(a, b, converged)``.
    """
    design = np.ones((len(x), 1)) if fixed_slope else np.column_stack([np.ones(len(x)), x])
    offset = x if fixed_slope else np.zeros(len(x))

    def deviance(eta):
        return float(-2 * np.sum(w * (outcome * eta - np.logaddexp(0, eta))))

    mu = (w * outcome + 0.5) / (w + 1)
    eta = special.logit(mu)
    beta, dev, converged = None, np.inf, False
    for _ in range(max_iter):
        z = eta - offset + (outcome - mu) / (mu * (1 - mu))
        sw = np.sqrt(w * mu * (1 - mu))
        new = np.linalg.lstsq(design * sw[:, None], z * sw, rcond=None)[0]
        new_dev = deviance(offset + design @ new)
        halvings = 0
        while beta is not None and not (np.isfinite(new_dev) and new_dev <= dev * (1 + 1e-12)) and halvings < 60:
            new = (new + beta) / 2  # step halving, as glm.fit, when the deviance rose or overflowed
            new_dev = deviance(offset + design @ new)
            halvings += 1
        if not np.isfinite(new_dev) or halvings == 60:
            break
        done = abs(new_dev - dev) < 1e-10 * (abs(new_dev) + 0.1)
        beta, dev = new, new_dev
        eta = offset + design @ beta
        mu = np.clip(special.expit(eta), 1e-15, 1 - 1e-15)
        if done:
            converged = True
            break
    if beta is None:
        return float("nan"), float("nan"), False
    return float(beta[0]), (1.0 if fixed_slope else float(beta[1])), converged


def _slope_problem(case: np.ndarray, x: np.ndarray) -> str | None:
    """Why the logistic slope of ``case`` on ``x`` has no finite maximum-likelihood estimate (None if it has)."""
    if np.ptp(x) <= 1e-8 * (1.0 + np.max(np.abs(x))):
        return (
            "every patient with known status at the horizon has the same predicted risk, so the slope "
            "cannot be told apart from the intercept"
        )
    lo_case, hi_case = x[case].min(), x[case].max()
    lo_ctrl, hi_ctrl = x[~case].min(), x[~case].max()
    if lo_case >= hi_ctrl or hi_case <= lo_ctrl:
        side = "higher" if lo_case >= hi_ctrl else "lower"
        return (
            f"the predictions separate the patients who died by the horizon from those alive after it (every "
            f"death has a predicted risk {side} than or equal to every survivor's), so the maximum-likelihood "
            "slope is infinite"
        )
    return None


def calibration_at_horizon(
    y, survival, horizon: float, *, n_groups: int = 5, n_knots: int = 3, confidence_level: float = 0.95
) -> CalibrationResult:
    """Predicted vs observed survival at ``horizon`` (calibration plot, slope, ICI/E50/E90).

    ``survival`` is the predicted probability of being alive at the horizon.

    * Groups: patients split into ``n_groups`` quantile groups of the prediction; per
      group the mean prediction and the Kaplan–Meier ``S(t)`` with its log-log CI.
    * Smooth curve and ICI/E50/E90 (Austin, Harrell & van Klaveren 2020, Stat Med
      39:2714–2742): a Cox model of the observed outcome on a restricted cubic spline
      (``n_knots``) of ``log(-log S_pred)`` — the paper's Cox alternative to hazard
      regression — gives each patient's smoothed observed ``S(t)``; ICI, E50 and E90 are
      the mean, median and 90th percentile of ``|observed - predicted|``.
    * Slope/intercept: logistic recalibration of death by the horizon on
      ``logit(1 - S_pred)``, IPCW-weighted (patients censored before the horizon weigh 0,
      the others ``1/G``): the slope of the two-parameter fit and the intercept of the
      fit with the slope fixed at 1 (calibration-in-the-large). Ideal: 1 and 0. Fitted by
      iteratively reweighted least squares (as R ``glm``); the slope is NaN with a
      :class:`RuntimeWarning` when it has no finite estimate (one predicted risk for
      everyone, predictions that separate deaths from survivors) or the fit does not
      converge. The groups, curve, ICI/E50/E90 and intercept are returned all the same.
      The smoothed curve and ICI/E50/E90 are NaN, with their own :class:`RuntimeWarning`,
      when the curve's Cox fit diverges (its predicted survival leaves [0, 1] or overflows).

    Parameters
    ----------
    y : structured array
    survival : array-like, shape (n_samples,)
        Predicted ``S(horizon)`` in [0, 1].
    horizon : float
    n_groups : int, default=5
    n_knots : {3, 4, 5}, default=3
    confidence_level : float, default=0.95

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> rate = rng.uniform(0.05, 0.5, 200); time = rng.exponential(1 / rate)
    >>> res = calibration_at_horizon(Surv.from_arrays(np.ones(200, bool), time), np.exp(-rate * 2.0), 2.0)
    >>> bool(res.ici < 0.1)
    True
    """
    event, time, surv, horizon = _prepare(y, survival, horizon, name="survival")
    if (surv < 0).any() or (surv > 1).any():
        raise ValueError("survival must be predicted probabilities in [0, 1] (not risk scores)")
    core.check_number(n_groups, "n_groups", low=0, integer=True)
    if n_groups < 1 or n_groups > len(time):
        raise ValueError(f"n_groups must be between 1 and the number of patients; got {n_groups}")
    if n_knots not in (3, 4, 5):
        raise ValueError(f"n_knots must be 3, 4 or 5; got {n_knots}")
    order = np.argsort(-surv, kind="stable")
    rows = []
    for g, idx in enumerate(np.array_split(order, n_groups)):
        e, t = event[idx], time[idx]
        if e.any():
            kt, ks, (lo, hi) = kaplan_meier_estimator(e, t, conf_type="log-log", conf_level=confidence_level)
            obs, lower, upper = (float(core.step_at(kt, v, horizon)) for v in (ks, lo, hi))
        else:
            obs = lower = upper = 1.0
        rows.append(dict(group=g + 1, n=len(idx), predicted=float(surv[idx].mean()), observed=obs,
                         lower=lower, upper=upper))  # fmt: skip
    clipped = np.clip(surv, 1e-6, 1 - 1e-6)
    cll = np.log(-np.log(clipped))
    if np.ptp(cll) < 1e-8:  # one prediction for everyone: the smoothed curve is the Kaplan-Meier estimate
        observed = np.full(len(surv), core.km_survival(time, event, horizon))
    else:
        basis = _rcs_basis(cll, n_knots)
        scale = basis.std(axis=0)
        basis = (basis - basis.mean(axis=0)) / np.where(scale > 0, scale, 1.0)  # same fit, no exp() overflow
        try:
            cox = CoxPHSurvivalAnalysis(ties="breslow", alpha=1e-8).fit(basis, Surv.from_arrays(event, time))
        except ValueError as exc:
            raise ValueError(f"the smoothed calibration curve could not be fitted ({exc})") from None
        with np.errstate(all="ignore"):
            observed = np.array([fn(horizon) for fn in cox.predict_survival_function(basis)])
        if not (np.isfinite(observed).all() and (observed >= -1e-9).all() and (observed <= 1 + 1e-9).all()):
            warnings.warn(
                f"smoothed calibration curve at horizon={horizon:g} is NaN, and so are ICI, E50 and E90: its Cox "
                "model of the outcome on the spline of the prediction diverged (the predictions separate the "
                "deaths from the survivors, so its maximum-likelihood fit is infinite)",
                RuntimeWarning,
                stacklevel=2,
            )
            observed = np.full(len(surv), np.nan)
    err = np.abs(observed - surv)
    case, w = _horizon_status(time, event, horizon, "ipcw")
    keep = w > 0
    logit_risk = special.logit(1 - clipped)
    outcome, weight, x = case[keep].astype(float), w[keep], logit_risk[keep]
    problem = _slope_problem(case[keep], x)
    if problem is None:
        _, slope, converged = _weighted_logistic(outcome, weight, x, fixed_slope=False)
        if not converged or not np.isfinite(slope):
            problem = "the logistic recalibration fit did not converge"
    if problem is not None:
        warnings.warn(f"calibration slope at horizon={horizon:g} is NaN: {problem}", RuntimeWarning, stacklevel=2)
        slope = float("nan")
    intercept, _, converged = _weighted_logistic(outcome, weight, x, fixed_slope=True)
    if not converged or not np.isfinite(intercept):
        warnings.warn(
            f"calibration-in-the-large at horizon={horizon:g} is NaN: the intercept-only logistic fit did not converge",
            RuntimeWarning,
            stacklevel=2,
        )
        intercept = float("nan")
    sort = np.argsort(surv)
    return CalibrationResult(
        groups=pd.DataFrame(rows),
        curve=pd.DataFrame({"predicted": surv[sort], "observed": observed[sort]}),
        slope=slope,
        intercept=intercept,
        ici=float(err.mean()),
        e50=float(np.median(err)),
        e90=float(np.quantile(err, 0.9)),
        horizon=horizon,
    )
