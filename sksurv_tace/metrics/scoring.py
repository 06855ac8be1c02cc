"""Brier score, integrated Brier score and scikit-learn scorers for survival estimators."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sksurv import metrics as sk_metrics

from sksurv_tace.metrics import _core as core
from sksurv_tace.metrics.discrimination import (
    harrell_c,
    td_auc,
    uno_c,
)

__all__ = ["brier_at", "integrated_brier", "make_survival_scorer", "make_survival_scorers", "SCORER_METRICS"]

SCORER_METRICS = ("c_index", "uno_c", "td_auc", "brier", "ibs")


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
        In ``[0, 1/G(horizon)]``, ``G`` the Kaplan-Meier estimate of the censoring: each
        patient's squared error is weighted by ``1/G``, so in a small, heavily censored sample
        the score can exceed 1 (as :func:`sksurv.metrics.brier_score`).

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> brier_at(y, [0.0, 0.0, 1.0, 1.0, 1.0], 2.5)
    0.0
    """
    event, time, y, train = core.check_targets(y, y_train)
    horizon = core.check_times(horizon, time, event)
    surv = core.check_risk(survival, len(time), name="survival")
    if (surv < 0).any() or (surv > 1).any():
        raise ValueError("survival must be predicted probabilities in [0, 1] (not risk scores)")
    y = _within_training_follow_up(y, train, horizon)
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
    event, time, y, train = core.check_targets(y, y_train)
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or len(times) < 2:
        raise ValueError("integrated_brier needs at least two time points")
    for t in times:
        if t < time.min() or t >= time.max():
            raise ValueError(f"time {t:g} is outside the follow-up [{time.min():g}, {time.max():g})")
    surv = core.check_risk(survival, len(time), name="survival", ndim=(2,), n_cols=len(times))
    if (surv < 0).any() or (surv > 1).any():
        raise ValueError("survival must be predicted probabilities in [0, 1] (not risk scores)")
    y = _within_training_follow_up(y, train, times)
    return float(sk_metrics.integrated_brier_score(train, y, surv, times))


def _within_training_follow_up(y: np.ndarray, train: np.ndarray, times) -> np.ndarray:
    """``y`` with the times past the training follow-up pulled back to its end, when that changes no score.

    scikit-survival computes every evaluation patient's censoring weight, and refuses a time past the
    training follow-up, although the Brier score at ``t`` weighs a patient followed beyond ``t`` by
    ``1/G(t)`` whatever his time: a time past ``max(times)`` can be any time past it.
    """
    last_train, last_time = float(train["time"].max()), float(np.max(times))
    beyond = y["time"] > last_train
    if not beyond.any():
        return y
    if last_time >= last_train:
        raise ValueError(
            f"time {last_time:g} is not before the end of y_train's follow-up ({last_train:g}), and y has patients "
            "followed beyond it: their censoring weight is not estimated; choose an earlier time"
        )
    y = y.copy()
    y["time"] = np.where(beyond, last_train, y["time"])
    return y


def _survival_functions(estimator, X):
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
    return fns


def _survival_matrix(estimator, X, times: np.ndarray) -> np.ndarray:
    return np.vstack([fn(times) for fn in _survival_functions(estimator, X)])


def _default_ibs_times(fns, time: np.ndarray) -> np.ndarray:
    """20 quantiles (10-90%) of the fold's times, kept inside every predicted function's domain.

    A model predicts survival only up to its own follow-up (its step functions' domain); a fold's
    later times would make every score NaN inside ``cross_val_score``.
    """
    times = np.unique(np.quantile(time, np.linspace(0.1, 0.9, 20)))
    domains = np.array([getattr(fn, "domain", (-np.inf, np.inf)) for fn in fns], dtype=float)
    low, high = domains[:, 0].max(), domains[:, 1].min()
    kept = times[(times >= low) & (times <= high)]
    if kept.size == 0:
        raise ValueError(
            f"no time of the evaluation fold's 10-90% range lies inside the model's follow-up [{low:g}, {high:g}]: "
            "pass times= to make_survival_scorer('ibs', times=...)"
        )
    return kept


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
        fns = _survival_functions(estimator, X)
        times = _default_ibs_times(fns, time) if self.times is None else np.asarray(self.times, dtype=float)
        return -integrated_brier(y, np.vstack([fn(times) for fn in fns]), times)


def make_survival_scorer(metric: str, *, horizon: float | None = None, times=None) -> _SurvivalScorer:
    """A ``scoring=`` callable for :func:`~sklearn.model_selection.cross_validate` / ``GridSearchCV``.

    The scorer ``scorer(estimator, X, y)`` evaluates a fitted estimator on the evaluation
    fold only (censoring weights from that fold). Higher is better: ``"c_index"`` (Harrell),
    ``"uno_c"`` (Uno, truncated at ``horizon`` if given), ``"td_auc"`` (timeROC AUC at
    ``horizon``) use ``estimator.predict`` as a risk score (higher = higher risk);
    ``"brier"`` (at ``horizon``) and ``"ibs"`` (over ``times``, default 20 quantiles 10–90%
    of the fold's times, kept inside the model's follow-up) are negated and need ``predict_survival_function`` returning
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
    if horizon is not None:
        core.check_number(horizon, "horizon", low=0.0)
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
