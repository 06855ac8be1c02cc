"""RecalibratedSurvival: slope and calibration-in-the-large recalibration of a locked model (issue 14, item 2)."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sksurv.functions import StepFunction
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from sksurv_tace.datasets import make_tace_cohort
from sksurv_tace.metrics import calibration_at_horizon
from sksurv_tace.models import ClinicalCox, RecalibratedSurvival

HORIZON = 3 * 365.0


class Distorted(BaseEstimator):
    """A fitted Cox-type model made miscalibrated: log hazard ``scale * (lp - centre) + centre + shift``.

    Its survival is the wrapped model's raised to ``exp((scale - 1) * (lp - centre) + shift)``, so it is a
    proportional-hazards model of the distorted linear predictor. It has no ``fit``: it only exists fitted.
    """

    def __init__(self, model, *, centre=0.0, scale=1.0, shift=0.0):
        self.model = model
        self.centre = centre
        self.scale = scale
        self.shift = shift

    def __sklearn_is_fitted__(self):
        return True

    def _extra(self, X):
        return (self.scale - 1.0) * (self.model.predict(X) - self.centre) + self.shift

    def predict(self, X):
        return self.model.predict(X) + self._extra(X)

    def predict_survival_function(self, X, return_array=False):
        return self.model.predict_survival_function(X, return_array=True) ** np.exp(self._extra(X))[:, None]

    def predict_survival_at(self, X, times):
        return self.model.predict_survival_at(X, times) ** np.exp(self._extra(X))[:, None]


class FixedRisk(BaseEstimator):
    """A 'fitted' model whose linear predictor is the first column of ``X``."""

    def __sklearn_is_fitted__(self):
        return True

    def predict(self, X):
        return np.asarray(X, dtype=np.float64)[:, 0]

    def predict_survival_function(self, X, return_array=False):
        raise NotImplementedError


@pytest.fixture(scope="module")
def cohorts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X, y = make_tace_cohort(300, with_images=False, random_state=0)
        X_val, y_val = make_tace_cohort(300, with_images=False, random_state=1)
        model = ClinicalCox(p_univariate=0.2, p_multivariable=0.2).fit(X, y)
    return model, X, X_val, y_val


def _overconfident(cohorts, scale=2.0, shift=0.0):
    model, X, _, _ = cohorts
    return Distorted(model, centre=float(model.predict(X).mean()), scale=scale, shift=shift)


def test_slope_recovers_the_cox_coefficient_and_improves_the_calibration_slope(cohorts):
    _, _, X_val, y_val = cohorts
    inner = _overconfident(cohorts)
    recalibrated = RecalibratedSurvival(inner, method="slope").fit(X_val, y_val)

    lp = inner.predict(X_val)
    reference = CoxPHSurvivalAnalysis().fit(lp.reshape(-1, 1), y_val)
    assert recalibrated.slope_ == pytest.approx(reference.coef_[0], abs=1e-6)
    assert recalibrated.slope_ < 0.8  # the 2x overconfident linear predictor is shrunk
    np.testing.assert_allclose(recalibrated.predict(X_val), recalibrated.slope_ * lp, rtol=1e-15)

    before = calibration_at_horizon(y_val, inner.predict_survival_at(X_val, [HORIZON])[:, 0], HORIZON).slope
    after = calibration_at_horizon(y_val, recalibrated.predict_survival_at(X_val, [HORIZON])[:, 0], HORIZON).slope
    assert abs(after - 1) < abs(before - 1)


def test_slope_standard_error_matches_lifelines():
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(3)
    lp = rng.normal(size=120)
    time = rng.exponential(np.exp(-0.7 * lp))  # continuous: no ties, so Breslow = Efron
    censor = rng.exponential(2.0, size=120)
    event, time = time < censor, np.minimum(time, censor)
    recalibrated = RecalibratedSurvival(FixedRisk()).fit(lp[:, None], Surv.from_arrays(event, time))

    frame = pd.DataFrame({"lp": lp, "time": time, "event": event})
    fitter = lifelines.CoxPHFitter().fit(frame, "time", "event")
    # the two Newton-Raphson fits stop at different tolerances
    assert recalibrated.slope_ == pytest.approx(fitter.params_["lp"], abs=1e-4)
    assert recalibrated.slope_se_ == pytest.approx(fitter.standard_errors_["lp"], rel=1e-4)


def test_intercept_moves_mean_survival_to_kaplan_meier(cohorts):
    _, _, X_val, y_val = cohorts
    inner = _overconfident(cohorts, scale=1.0, shift=np.log(2.5))  # hazards 2.5x too high
    recalibrated = RecalibratedSurvival(inner, method="intercept").fit(X_val, y_val)
    assert recalibrated.slope_ == 1.0 and np.isnan(recalibrated.slope_se_)
    np.testing.assert_array_equal(recalibrated.predict(X_val), inner.predict(X_val))

    times, km = kaplan_meier_estimator(y_val["event"], y_val["time"])
    observed = km[np.searchsorted(times, HORIZON, side="right") - 1]
    before = inner.predict_survival_at(X_val, [HORIZON]).mean()
    after = recalibrated.predict_survival_at(X_val, [HORIZON]).mean()
    assert abs(after - observed) < abs(before - observed)
    assert abs(after - observed) < 0.05


def test_intercept_baseline_is_breslow_by_hand():
    lp = np.array([0.1, -0.2, 0.5, 0.0, 0.3])
    time = np.array([2.0, 4.0, 4.0, 6.0, 8.0])
    event = np.array([1, 1, 0, 1, 0])
    recalibrated = RecalibratedSurvival(FixedRisk(), method="intercept").fit(lp[:, None], Surv.from_arrays(event, time))

    w = np.exp(lp)
    h2 = 1 / w.sum()
    h4 = h2 + 1 / (w[1] + w[2] + w[3] + w[4])
    h6 = h4 + 1 / (w[3] + w[4])
    np.testing.assert_array_equal(recalibrated.unique_times_, [2.0, 4.0, 6.0, 8.0])
    np.testing.assert_allclose(recalibrated.baseline_cumulative_hazard_, [h2, h4, h6, h6], rtol=0, atol=1e-12)

    surv = recalibrated.predict_survival_function(lp[:, None])
    assert all(isinstance(f, StepFunction) for f in surv)
    assert surv[4](5.0) == pytest.approx(np.exp(-h4 * w[4]), abs=1e-12)
    np.testing.assert_allclose(
        recalibrated.predict_survival_function(lp[:, None], return_array=True),
        np.exp(-np.outer(w, [h2, h4, h6, h6])),
        rtol=0,
        atol=1e-12,
    )
    np.testing.assert_allclose(recalibrated.predict_survival_at(lp[:, None], [1.0, 6.0])[:, 0], 1.0)


@pytest.mark.parametrize("method", ["slope", "intercept"])
def test_inner_model_is_never_refitted(cohorts, method):
    model, X, X_val, y_val = cohorts
    params = joblib.hash(model.get_params())
    state = joblib.hash(model)
    risk, surv = model.predict(X_val), model.predict_survival_function(X_val, return_array=True)

    recalibrated = RecalibratedSurvival(model, method=method).fit(X_val, y_val)
    recalibrated.predict_survival_function(X_val.iloc[:3])

    np.testing.assert_array_equal(model.predict(X_val), risk)
    np.testing.assert_array_equal(model.predict_survival_function(X_val, return_array=True), surv)
    assert joblib.hash(model.get_params()) == params and joblib.hash(model) == state
    assert recalibrated.estimator is model


def test_clone_cross_validate_pipeline_and_pickle(cohorts):
    model, _, X_val, y_val = cohorts
    state = joblib.hash(model)

    # a plain clone clones the inner model unfitted: fit refuses rather than refitting it
    with pytest.raises(NotFittedError, match="FrozenEstimator"):
        clone(RecalibratedSurvival(model)).fit(X_val, y_val)

    # FrozenEstimator's clone is itself: cross-validation recalibrates the same locked model on each fold
    frozen = RecalibratedSurvival(FrozenEstimator(model), method="slope")
    scores = cross_validate(frozen, X_val, y_val, cv=3, return_estimator=True)
    assert np.isfinite(scores["test_score"]).all()
    assert all(fitted.estimator.estimator is model for fitted in scores["estimator"])
    assert joblib.hash(model) == state

    pipeline = make_pipeline(RecalibratedSurvival(FrozenEstimator(model), method="intercept")).fit(X_val, y_val)
    direct = RecalibratedSurvival(model, method="intercept").fit(X_val, y_val)
    np.testing.assert_array_equal(
        pipeline.predict_survival_function(X_val, return_array=True),
        direct.predict_survival_function(X_val, return_array=True),
    )
    restored = pickle.loads(pickle.dumps(direct))
    np.testing.assert_array_equal(restored.predict(X_val), direct.predict(X_val))
    assert direct.score(X_val, y_val) == pytest.approx(model.score(X_val, y_val), abs=1e-12)
    assert joblib.hash(model) == state


def test_errors(cohorts):
    model, _, X_val, y_val = cohorts
    with pytest.raises(ValueError, match="method"):
        RecalibratedSurvival(model, method="both").fit(X_val, y_val)
    recalibrated = RecalibratedSurvival(model)
    for method in ("predict", "predict_survival_function", "predict_cumulative_hazard_function"):
        with pytest.raises(NotFittedError):
            getattr(recalibrated, method)(X_val)
    with pytest.raises(NotFittedError, match="ClinicalCox is not fitted.*never fits it"):
        RecalibratedSurvival(ClinicalCox()).fit(X_val, y_val)
    with pytest.raises(ValueError, match="same risk for every patient"):
        RecalibratedSurvival(FixedRisk()).fit(np.ones((4, 1)), Surv.from_arrays([1, 0, 1, 1], [1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(ValueError, match="rows"):
        RecalibratedSurvival(model).fit(X_val.iloc[:10], y_val)
