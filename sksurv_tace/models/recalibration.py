"""Recalibrate a locked survival model on a validation cohort, without refitting it.

A model fitted on one hospital's patients often ranks another hospital's patients well but
predicts their survival badly: the baseline risk differs (calibration-in-the-large) or the
linear predictor is too spread out (overfitting: calibration slope below 1). The simple
updating methods of Van Houwelingen (2000, Stat Med 19:3401-3415) and Steyerberg (Clinical
Prediction Models, 2nd ed. 2019, chapter 20) keep the model's linear predictor ``lp`` and
re-estimate only

* ``method="intercept"``: the baseline cumulative hazard, with ``lp`` as an offset (a Cox model
  whose coefficient is fixed at 1, Breslow's estimator), or
* ``method="slope"``: a calibration slope ``b`` (a one-covariate Cox model on ``lp``) and then the
  baseline hazard of ``b * lp``.

:class:`RecalibratedSurvival` does this as a scikit-learn estimator around an already-fitted
model, which it never refits.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted
from sksurv.functions import StepFunction
from sksurv.linear_model import CoxPHSurvivalAnalysis

from sksurv_tace._survival import survival_at
from sksurv_tace._validation import as_survival_array, check_survival_target
from sksurv_tace.models._score import SurvivalScoreMixin

__all__ = ["RecalibratedSurvival", "breslow_baseline"]


def breslow_baseline(lp: np.ndarray, event: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow's baseline cumulative hazard with the linear predictor ``lp`` as an offset.

    ``H0(t) = sum over event times t_j <= t of d_j / sum_{i: T_i >= t_j} exp(lp_i)``, with ``d_j`` the
    number of deaths at ``t_j`` (the Cox model with its coefficient fixed at 1). Nothing is centred:
    ``S_i(t) = exp(-H0(t) exp(lp_i))``.

    Parameters
    ----------
    lp : ndarray of shape (n_samples,)
        Linear predictor (log relative hazard) of each patient.
    event : ndarray of bool, shape (n_samples,)
    time : ndarray of float, shape (n_samples,)

    Returns
    -------
    unique_times : ndarray of shape (n_unique_times,)
        The sorted unique times (deaths and censorings).
    cumulative_hazard : ndarray of shape (n_unique_times,)
        ``H0`` at ``unique_times`` (a right-continuous step function).

    Examples
    --------
    Two deaths, at 1 (three at risk) and at 3 (one at risk), ``lp = 0``:

    >>> times, h0 = breslow_baseline(np.zeros(3), np.array([True, False, True]), np.array([1.0, 2.0, 3.0]))
    >>> times.tolist(), np.round(h0, 4).tolist()
    ([1.0, 2.0, 3.0], [0.3333, 0.3333, 1.3333])
    """
    lp = np.asarray(lp, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=np.float64)
    unique_times, index = np.unique(time, return_inverse=True)
    deaths = np.bincount(index, weights=event.astype(np.float64), minlength=len(unique_times))
    weight_at = np.bincount(index, weights=np.exp(lp), minlength=len(unique_times))
    at_risk = np.cumsum(weight_at[::-1])[::-1]  # sum of exp(lp) over T_i >= t
    return unique_times, np.cumsum(deaths / at_risk)


def _check_fitted_inner(estimator) -> None:
    if not hasattr(estimator, "fit"):  # a predictor that cannot be fitted is fitted as it is
        return
    try:
        check_is_fitted(estimator)
    except NotFittedError as error:
        raise NotFittedError(
            f"the estimator {type(estimator).__name__} is not fitted: RecalibratedSurvival never fits it. Pass a "
            "fitted model; when the wrapper is cloned (cross_validate, GridSearchCV, clone), wrap the fitted model "
            "in sklearn.frozen.FrozenEstimator so that the clone keeps it fitted"
        ) from error


class RecalibratedSurvival(SurvivalScoreMixin, BaseEstimator):
    """A fitted survival model with its baseline hazard (and slope) re-estimated on a validation cohort.

    ``fit(X, y)`` never refits ``estimator``: it takes its linear predictor ``lp = estimator.predict(X)``
    and re-estimates on ``(X, y)``

    * ``method="intercept"`` (calibration-in-the-large): the Breslow baseline cumulative hazard ``H0``
      with ``lp`` as an offset (slope fixed at 1);
    * ``method="slope"``: the calibration slope ``b``, the coefficient of a one-covariate Cox model on
      ``lp`` (scikit-survival's :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis`, Breslow ties),
      then ``H0`` with ``b * lp`` as the offset. ``b < 1`` means the model's predictions were too
      extreme (overfitting), ``b > 1`` too timid.

    The recalibrated model predicts ``S_i(t) = exp(-H0(t) exp(b * lp_i))`` (``b = 1`` for
    ``"intercept"``), so it ranks patients as ``estimator`` does (when ``b > 0``). These are the
    updating methods of Van Houwelingen (2000, Stat Med 19:3401-3415) and Steyerberg (Clinical
    Prediction Models, 2nd ed. 2019, chapter 20); ``estimator.predict`` is taken as a Cox linear
    predictor (any risk score is treated as one).

    Cloning: as for any scikit-learn meta-estimator, :func:`~sklearn.base.clone` clones ``estimator``
    too, which leaves the clone's copy unfitted (``fit`` then raises a :class:`NotFittedError`; it never
    refits it). To cross-validate the recalibration (``cross_validate``, ``GridSearchCV``, a
    ``Pipeline`` that is cloned), wrap the fitted model in :class:`sklearn.frozen.FrozenEstimator`,
    whose clone is itself, as scikit-learn recommends for prefit models.

    Parameters
    ----------
    estimator : estimator
        A fitted survival estimator with ``predict`` (the linear predictor) and
        ``predict_survival_function``: a model of this package, a scikit-survival Cox model, or a
        :class:`~sklearn.frozen.FrozenEstimator` around one.
    method : {"slope", "intercept"}, default="slope"
        What is re-estimated besides the baseline hazard: the slope of ``lp`` (``"slope"``) or nothing
        (``"intercept"``).

    Attributes
    ----------
    slope_ : float
        Calibration slope ``b`` (1.0 for ``method="intercept"``).
    slope_se_ : float
        Its standard error from the Cox partial likelihood's information (NaN for ``"intercept"``).
    unique_times_ : ndarray
        Unique times of the validation cohort, the grid of ``predict_survival_function(...,
        return_array=True)``.
    baseline_cumulative_hazard_ : ndarray
        Breslow's ``H0`` at ``unique_times_``, for the offset ``b * lp`` (not centred).

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> X, y = make_tace_cohort(200, with_images=False, random_state=0)
    >>> X_val, y_val = make_tace_cohort(200, with_images=False, random_state=1)
    >>> model = ClinicalCox(p_univariate=0.2, p_multivariable=0.2).fit(X, y)
    >>> recalibrated = RecalibratedSurvival(model, method="slope").fit(X_val, y_val)
    >>> bool(0 < recalibrated.slope_ < 3)
    True
    >>> recalibrated.predict_survival_at(X_val.iloc[:2], [365.0, 730.0]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["predict", "predict_survival_function"])],
        "method": [StrOptions({"slope", "intercept"})],
    }

    def __init__(self, estimator, *, method="slope"):
        self.estimator = estimator
        self.method = method

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            tags.input_tags = deepcopy(get_tags(self.estimator).input_tags)
        except (AttributeError, TypeError):  # not an estimator (the constraint check reports it in fit)
            pass
        return tags

    def fit(self, X, y):
        """Re-estimate the slope (``method="slope"``) and the baseline hazard on a validation cohort.

        ``estimator`` is only asked for ``predict(X)``; it is not refitted.

        Parameters
        ----------
        X : DataFrame or array-like
            The validation cohort, as ``estimator.predict`` accepts it.
        y : structured array
            Survival target (event bool or 0/1, time) of the validation cohort.

        Returns
        -------
        self

        Raises
        ------
        NotFittedError
            When ``estimator`` is not fitted.
        ValueError
            For an unknown ``method``, a bad target, or (``"slope"``) a linear predictor that is the same
            for every patient.
        """
        self._validate_params()
        _check_fitted_inner(self.estimator)
        event, time = check_survival_target(y, n_samples=_num_samples(X))
        lp = self._linear_predictor(X)
        if self.method == "slope":
            if np.ptp(lp) == 0:
                raise ValueError("the estimator predicts the same risk for every patient: no slope can be estimated")
            cox = CoxPHSurvivalAnalysis(ties="breslow").fit(lp.reshape(-1, 1), as_survival_array(event, time))
            self.slope_ = float(cox.coef_[0])
            self.slope_se_ = _slope_standard_error(lp, event, time, self.slope_)
        else:
            self.slope_ = 1.0
            self.slope_se_ = float("nan")
        self.unique_times_, self.baseline_cumulative_hazard_ = breslow_baseline(self.slope_ * lp, event, time)
        return self

    def _linear_predictor(self, X) -> np.ndarray:
        lp = np.asarray(self.estimator.predict(X), dtype=np.float64)
        if lp.ndim != 1 or not np.isfinite(lp).all():
            raise ValueError(f"{type(self.estimator).__name__}.predict must return finite 1-D risk scores")
        return lp

    def predict(self, X):
        """The recalibrated linear predictor ``slope_ * estimator.predict(X)`` (higher = worse prognosis).

        Parameters
        ----------
        X : DataFrame or array-like

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        check_is_fitted(self, "baseline_cumulative_hazard_")
        return self.slope_ * self._linear_predictor(X)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Recalibrated cumulative hazards ``H0(t) exp(slope_ * lp)``.

        Parameters
        ----------
        X : DataFrame or array-like
        return_array : bool, default=False
            If True, an array of ``H`` at ``unique_times_``; else :class:`~sksurv.functions.StepFunction`
            objects.

        Returns
        -------
        ndarray
        """
        hazard = np.exp(self.predict(X))[:, np.newaxis] * self.baseline_cumulative_hazard_
        if return_array:
            return hazard
        return np.array([StepFunction(self.unique_times_, row) for row in hazard])

    def predict_survival_function(self, X, return_array=False):
        """Recalibrated survival functions ``exp(-H0(t) exp(slope_ * lp))``.

        Parameters
        ----------
        X : DataFrame or array-like
        return_array : bool, default=False
            If True, an array of ``S`` at ``unique_times_``; else :class:`~sksurv.functions.StepFunction`
            objects.

        Returns
        -------
        ndarray
        """
        survival = np.exp(-self.predict_cumulative_hazard_function(X, return_array=True))
        if return_array:
            return survival
        return np.array([StepFunction(self.unique_times_, row) for row in survival])

    def predict_survival_at(self, X, times):
        """Recalibrated survival probabilities at ``times`` (``S = 1`` before the first time).

        Parameters
        ----------
        X : DataFrame or array-like
        times : float or sequence of float
            Not beyond the last time of the validation cohort.

        Returns
        -------
        ndarray of float64, shape (n_samples, len(times))
        """
        return survival_at(self.predict_survival_function(X, return_array=True), self.unique_times_, times)


def _slope_standard_error(lp: np.ndarray, event: np.ndarray, time: np.ndarray, slope: float) -> float:
    """Standard error of the one-covariate Cox coefficient (Breslow ties) from the observed information."""
    weight = np.exp(slope * lp - np.max(slope * lp))  # shifting by a constant leaves the ratios unchanged
    unique_times, index = np.unique(time, return_inverse=True)
    n = len(unique_times)
    s0, s1, s2 = (np.cumsum(np.bincount(index, weights=weight * lp**k, minlength=n)[::-1])[::-1] for k in range(3))
    deaths = np.bincount(index, weights=event.astype(np.float64), minlength=n)
    information = float(np.sum(deaths * (s2 / s0 - (s1 / s0) ** 2)))
    return float(1.0 / np.sqrt(information)) if information > 0 else float("inf")
