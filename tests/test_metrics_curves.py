"""Tests of td_roc_curve, pairwise_td_auc_tests and RiskGroups' numbers at risk.

References from outside our code: scikit-survival's ``cumulative_dynamic_auc``, scikit-learn's
``roc_curve``/``roc_auc_score``, R timeROC's AUCs (tests/data/metrics_timeroc_auc.json, through
``td_auc``), scipy's Benjamini–Hochberg and lifelines' ``KaplanMeierFitter.event_table``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve
from sksurv.datasets import load_whas500
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import cumulative_dynamic_auc
from sksurv.util import Surv

from sksurv_tace import metrics as M


@pytest.fixture(scope="module")
def whas():
    """whas500 (censored, tied times): two risk scores, one with many ties (rounded)."""
    X, y = load_whas500()
    y = Surv.from_arrays(y["fstat"], y["lenfol"])
    risk = X["age"].to_numpy(float) / 10 + X["bmi"].to_numpy(float) * -0.05 + X["hr"].to_numpy(float) / 50
    return y, risk, np.round(risk, 0)


# --------------------------------------------------------------------------- td_roc_curve
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("horizon", [365.0, 730.0, 1095.0])
def test_roc_area_equals_td_auc_timeroc(whas, tied, horizon):
    y, risk, rounded = whas
    r = rounded if tied else risk
    roc = M.td_roc_curve(y, r, horizon)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(M.td_auc(y, r, horizon)[0], abs=1e-12)


@pytest.mark.parametrize("tied", [False, True])
def test_roc_area_equals_sksurv_with_y_train(whas, tied):
    y, risk, rounded = whas
    r = rounded if tied else risk
    y_train, y_test, r_test = y[:250], y[250:], r[250:]
    for t in (365.0, 1000.0):
        roc = M.td_roc_curve(y_test, r_test, t, y_train=y_train)
        expected = cumulative_dynamic_auc(y_train, y_test, r_test, t)[0][0]
        assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(expected, abs=1e-12)


def test_roc_without_censoring_is_sklearns_roc():
    """No censoring before the horizon: every weight is 1 and the curve is the binary ROC."""
    rng = np.random.default_rng(4)
    time = rng.exponential(100, 120).round(1) + 0.1
    event = np.ones(120, bool)
    risk = -time + rng.normal(0, 40, 120)
    y = Surv.from_arrays(event, time)
    t = float(np.median(time)) + 0.05
    roc = M.td_roc_curve(y, risk, t)
    fpr, tpr, thr = roc_curve(time < t, risk, drop_intermediate=False)
    np.testing.assert_allclose(roc["fpr"], fpr)
    np.testing.assert_allclose(roc["tpr"], tpr)
    np.testing.assert_allclose(roc["threshold"].iloc[1:], thr[1:])
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(roc_auc_score(time < t, risk))


def test_roc_shape_and_monotone(whas):
    y, risk, _ = whas
    roc = M.td_roc_curve(y, risk, 730.0)
    assert list(roc.columns) == ["threshold", "fpr", "tpr"]
    assert roc.iloc[0].tolist() == [np.inf, 0.0, 0.0]
    assert roc[["fpr", "tpr"]].iloc[-1].tolist() == pytest.approx([1.0, 1.0])
    assert (np.diff(roc["fpr"]) >= 0).all() and (np.diff(roc["tpr"]) >= 0).all()
    assert (np.diff(roc["threshold"]) < 0).all()
    assert len(roc) == len(np.unique(risk)) + 1


def test_roc_reversed_score_mirrors_curve(whas):
    y, risk, _ = whas
    auc = np.trapezoid(*M.td_roc_curve(y, risk, 730.0)[["tpr", "fpr"]].T.values)
    auc_rev = np.trapezoid(*M.td_roc_curve(y, -risk, 730.0)[["tpr", "fpr"]].T.values)
    assert auc + auc_rev == pytest.approx(1.0, abs=1e-12)


def test_roc_bad_input(whas):
    y, risk, _ = whas
    with pytest.raises(ValueError, match="rows but y has"):
        M.td_roc_curve(y, risk[:-1], 730.0)
    with pytest.raises(ValueError, match="outside the follow-up"):
        M.td_roc_curve(y, risk, 1e6)
    bad = risk.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.td_roc_curve(y, bad, 730.0)


# --------------------------------------------------------------------------- pairwise tests
@pytest.fixture(scope="module")
def three_models(whas):
    y, risk, rounded = whas
    rng = np.random.default_rng(0)
    return y, {"a": risk, "b": rounded, "noise": rng.normal(size=len(risk))}


@pytest.mark.parametrize("method", ["iid", "delong"])
def test_pairwise_matrix_unadjusted(three_models, method):
    y, risks = three_models
    p = M.pairwise_td_auc_tests(y, risks, 730.0, method=method, adjust=None)
    assert list(p.index) == list(p.columns) == list(risks)
    assert np.isnan(np.diag(p.to_numpy())).all()
    np.testing.assert_array_equal(p.to_numpy(), p.to_numpy().T)
    for a, b in [("a", "b"), ("a", "noise"), ("b", "noise")]:
        assert p.loc[a, b] == M.compare_td_auc(y, risks[a], risks[b], 730.0, method=method).p_value
    assert p.loc["a", "noise"] < 0.001  # an informative score against noise
    assert p.attrs["method"] == method and p.attrs["adjust"] is None


def test_pairwise_matrix_bh(three_models):
    y, risks = three_models
    raw = M.pairwise_td_auc_tests(y, risks, 730.0, adjust=None)
    adj = M.pairwise_td_auc_tests(y, risks, 730.0)
    iu = np.triu_indices(3, 1)
    expected = stats.false_discovery_control(raw.to_numpy()[iu], method="bh")
    np.testing.assert_allclose(adj.to_numpy()[iu], expected)
    assert (adj.to_numpy()[iu] >= raw.to_numpy()[iu]).all()
    np.testing.assert_array_equal(adj.to_numpy(), adj.to_numpy().T)
    # the AUCs carried along are timeROC's (R reference-checked td_auc)
    for name, r in risks.items():
        assert adj.attrs["auc"][name] == pytest.approx(M.td_auc(y, r, 730.0)[0])


def test_pairwise_bad_input(three_models):
    y, risks = three_models
    with pytest.raises(ValueError, match="at least two"):
        M.pairwise_td_auc_tests(y, {"a": risks["a"]}, 730.0)
    with pytest.raises(ValueError, match="mapping"):
        M.pairwise_td_auc_tests(y, [risks["a"], risks["b"]], 730.0)
    with pytest.raises(ValueError, match="adjust"):
        M.pairwise_td_auc_tests(y, risks, 730.0, adjust="bonferroni")
    with pytest.raises(ValueError, match="method"):
        M.pairwise_td_auc_tests(y, risks, 730.0, method="bootstrap")
    with pytest.raises(ValueError, match="'a' with 'short'"):
        M.pairwise_td_auc_tests(y, {"a": risks["a"], "short": risks["b"][:-2]}, 730.0)


# --------------------------------------------------------------------------- numbers at risk
def test_risk_groups_event_table_matches_lifelines(whas):
    y, risk, _ = whas
    cut = float(np.median(risk))
    groups = M.risk_groups(y, risk, cut)
    high = risk >= cut
    for label, mask in (("low risk", ~high), ("high risk", high)):
        kmf = KaplanMeierFitter().fit(y["time"][mask], y["event"][mask])
        table = kmf.event_table.loc[kmf.event_table.index > 0]
        ours = groups.at_risk[groups.at_risk["group"] == label]
        np.testing.assert_allclose(ours["time"], table.index.to_numpy(float))
        np.testing.assert_array_equal(ours["at_risk"], table["at_risk"])
        np.testing.assert_array_equal(ours["events"], table["observed"])
        np.testing.assert_array_equal(ours["censored"], table["censored"])
        times = [0.0, 1.0, 365.0, 400.0, 730.0, 1500.0, 2400.0, 1e5]
        counts = groups.numbers_at_risk(times).loc[label].tolist()
        et = kmf.event_table
        expected = [int(et.loc[et.index >= t, "at_risk"].iloc[0]) if (et.index >= t).any() else 0 for t in times]
        assert counts == expected


def test_numbers_at_risk_needs_table():
    groups = M.RiskGroups(pd.DataFrame(), pd.DataFrame({"group": ["a"]}), 1.0, 0.3, 0.5)
    assert groups.at_risk is None
    with pytest.raises(ValueError, match="at_risk"):
        groups.numbers_at_risk([0.0])


def test_risk_group_hazard_ratio_matches_scikit_survival_and_the_wald_formula():
    """HR of high vs low risk: scikit-survival's Efron Cox coefficient; CI from the closed-form information.

    Without ties, the information of one binary covariate x at beta is the sum over deaths of
    p(1 - p), p the risk set's exp(beta)-weighted share of high-risk patients.
    """
    rng = np.random.default_rng(3)
    n = 120
    risk = rng.normal(size=n)
    time = rng.exponential(np.exp(-risk)) * 1000
    event = rng.random(n) < 0.75
    y = Surv.from_arrays(event, time)
    groups = M.risk_groups(y, risk, 0.2)
    high = (risk >= 0.2).astype(float)
    coef = CoxPHSurvivalAnalysis(ties="efron").fit(high[:, None], y).coef_[0]
    assert np.log(groups.hazard_ratio) == pytest.approx(coef, abs=1e-5)
    weight = np.exp(coef * high)
    information = 0.0
    for t in time[event]:
        at_risk = time >= t
        p = (weight * high)[at_risk].sum() / weight[at_risk].sum()
        information += p * (1 - p)
    half_width = 1.959963984540054 / np.sqrt(information)
    assert np.log(groups.hazard_ratio_upper) - np.log(groups.hazard_ratio) == pytest.approx(half_width, rel=1e-4)
    assert np.log(groups.hazard_ratio) - np.log(groups.hazard_ratio_lower) == pytest.approx(half_width, rel=1e-4)


def test_risk_group_hazard_ratio_is_nan_with_a_warning_when_a_group_has_no_death():
    y = Surv.from_arrays([0, 1, 0, 1], [3.0, 1, 4, 2])
    with pytest.warns(RuntimeWarning, match="a group has no death"):
        groups = M.risk_groups(y, [2, 1, 2, 1], 1.5)
    assert np.isnan(groups.hazard_ratio) and groups.p_value < 1
    # no death while both groups are at risk: the log-rank test is undefined, said so (was a LinAlgError)
    with pytest.raises(ValueError, match="log-rank test is undefined"):
        M.risk_groups(Surv.from_arrays([0, 0, 1, 1], [1.0, 2, 3, 4]), [2, 2, 1, 1], 1.5)
