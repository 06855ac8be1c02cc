"""Survival times of 0 are valid (scikit-survival, lifelines and R's survival accept them); negative ones are not.

scikit-survival's ``flchain`` (7874 patients) holds three deaths at time 0. Every metric, scorer, fit and the
manifest loader must take them and give the value scikit-survival or lifelines gives, never NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index as lifelines_c
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sksurv.datasets import load_flchain
from sksurv.metrics import brier_score, concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc
from sksurv.util import Surv

from sksurv_tace import ClinicalCox, make_survival_scorer, make_survival_scorers
from sksurv_tace import metrics as M
from sksurv_tace.datasets import load_manifest

COLUMNS = ["age", "sex", "kappa", "lambda"]


@pytest.fixture(scope="module")
def flchain():
    """600 random flchain patients plus its three deaths at time 0, as ``(X, y)``."""
    X, y = load_flchain()
    zero = np.flatnonzero(y["futime"] == 0)
    assert len(zero) == 3 and y["death"][zero].all()
    keep = np.union1d(zero, np.random.default_rng(0).choice(len(y), 600, replace=False))
    y = Surv.from_arrays(y["death"][keep], y["futime"][keep])
    return X[COLUMNS].iloc[keep].reset_index(drop=True), y


def _folds(y, n_splits=3):
    """Stratified on 'time is 0', so that every evaluation fold holds one of the zero times."""
    return list(StratifiedKFold(n_splits, shuffle=True, random_state=0).split(y, y["time"] == 0))


def test_flchain_scorers_in_grid_search(flchain):
    X, y = flchain
    folds = _folds(y)
    assert all((y["time"][test] == 0).sum() == 1 for _, test in folds)
    scoring = make_survival_scorers(horizon=1095.0)
    search = GridSearchCV(
        ClinicalCox(categorical=["sex"]),
        {"p_univariate": [0.05, 0.5]},
        scoring=scoring,
        cv=folds,
        refit="td_auc",
        error_score="raise",
    ).fit(X, y)
    for name in scoring:
        scores = np.array([search.cv_results_[f"split{k}_test_{name}"] for k in range(len(folds))])
        assert np.isfinite(scores).all(), name
    # age is flchain's strongest predictor: every discrimination score well above chance
    for name in ("c_index", "uno_c", "td_auc"):
        assert (search.cv_results_[f"mean_test_{name}"] > 0.7).all(), name
    assert search.best_estimator_.unique_times_[0] == 0.0


def test_flchain_scorers_equal_scikit_survival_on_a_fold_with_zero_times(flchain):
    X, y = flchain
    train, test = _folds(y)[0]
    model = ClinicalCox(categorical=["sex"]).fit(X.iloc[train], y[train])
    X_test, y_test = X.iloc[test], y[test]
    assert (y_test["time"] == 0).sum() == 1
    risk = model.predict(X_test)
    expected = concordance_index_censored(y_test["event"], y_test["time"], risk)[0]
    assert make_survival_scorer("c_index")(model, X_test, y_test) == pytest.approx(expected, abs=1e-12)
    survival = model.predict_survival_at(X_test, [1095.0])
    expected = brier_score(y_test, y_test, survival, 1095.0)[1][0]
    assert make_survival_scorer("brier", horizon=1095.0)(model, X_test, y_test) == pytest.approx(-expected, abs=1e-12)
    # the scorer's TD AUC is timeROC's (cases T < t weighted by 1/G(T-)); scikit-survival's (T <= t, 1/G(T))
    # differs only through the deaths and censorings tied at the horizon
    expected = cumulative_dynamic_auc(y_test, y_test, risk, 1095.0)[0][0]
    assert make_survival_scorer("td_auc", horizon=1095.0)(model, X_test, y_test) == pytest.approx(expected, abs=1e-3)


def test_metrics_equal_scikit_survival_with_zero_times(flchain):
    X, y = flchain
    risk = X["age"].to_numpy(dtype=float) + 0.01 * X["kappa"].to_numpy(dtype=float)
    assert M.harrell_c(y, risk) == pytest.approx(concordance_index_censored(y["event"], y["time"], risk)[0], abs=1e-12)
    # lifelines: higher score = longer survival
    assert M.harrell_c(y, risk) == pytest.approx(lifelines_c(y["time"], -risk, y["event"]), abs=1e-12)
    assert M.uno_c(y, risk, y_train=y) == pytest.approx(concordance_index_ipcw(y, y, risk)[0], abs=1e-12)
    times = [30.0, 365.0, 1095.0, 3000.0]
    np.testing.assert_allclose(
        M.td_auc(y, risk, times, y_train=y), cumulative_dynamic_auc(y, y, risk, times)[0], rtol=0, atol=1e-12
    )


def test_metrics_with_censoring_and_deaths_at_time_zero():
    # deaths and a censoring at 0: the censoring Kaplan-Meier drops below 1 at 0; nothing becomes NaN
    rng = np.random.default_rng(3)
    time = np.r_[0.0, 0.0, 0.0, rng.exponential(100.0, 60).round()]
    event = np.r_[True, True, False, rng.random(60) < 0.7]
    y = Surv.from_arrays(event, time)
    risk = -time + rng.normal(0.0, 40.0, len(time))
    assert M.harrell_c(y, risk) == pytest.approx(concordance_index_censored(event, time, risk)[0], abs=1e-12)
    assert M.uno_c(y, risk, y_train=y) == pytest.approx(concordance_index_ipcw(y, y, risk)[0], abs=1e-12)
    horizon = float(np.quantile(time, 0.5))
    auc = M.td_auc(y, risk, horizon, y_train=y)
    np.testing.assert_allclose(auc, cumulative_dynamic_auc(y, y, risk, horizon)[0], rtol=0, atol=1e-12)
    assert np.isfinite(M.td_auc(y, risk, horizon)).all()
    survival = np.clip(1.0 - (risk - risk.min()) / np.ptp(risk), 0.0, 1.0)
    assert M.brier_at(y, survival, horizon) == pytest.approx(brier_score(y, y, survival[:, None], horizon)[1][0])


def test_negative_time_refused_everywhere(flchain):
    X, y = flchain
    y = y.copy()
    y["time"][5] = -1.0
    with pytest.raises(ValueError, match=r"survival time is negative at patient 5"):
        ClinicalCox(categorical=["sex"]).fit(X.assign(patient_id=X.index.astype(str)), y)
    with pytest.raises(ValueError, match=r"survival time is negative at row 5"):
        M.harrell_c(y, np.zeros(len(y)))


def test_manifest_with_zero_time(tmp_path):
    table = pd.DataFrame({"patient_id": ["p1", "p2", "p3"], "time": [0.0, 20.0, 5.0], "event": [1, 0, 1]})
    table.to_csv(tmp_path / "m.csv", index=False)
    _, y = load_manifest(tmp_path / "m.csv")
    assert y["time"].tolist() == [0.0, 20.0, 5.0]
