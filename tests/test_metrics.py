"""Tests of sksurv_tace.metrics against R reference values, scikit-survival, lifelines and closed forms."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times
from sklearn.base import BaseEstimator
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.base import SurvivalAnalysisMixin
from sksurv.column import encode_categorical
from sksurv.datasets import load_gbsg2, load_veterans_lung_cancer, load_whas500
from sksurv.functions import StepFunction
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis
from sksurv.metrics import (
    brier_score,
    concordance_index_censored,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import Surv

from sksurv_tace import metrics as M
from sksurv_tace.metrics._core import harrell_fast, km_survival

DATA = Path(__file__).parent / "data"
PROPS = settings(max_examples=25, deadline=None)


# --------------------------------------------------------------------------- fixtures
def _load(name):
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def whas500_cox():
    """whas500 with a Cox risk score fitted on the first half, evaluated on the second."""
    X, y = load_whas500()
    X = encode_categorical(X).astype(float)
    half = len(y) // 2
    model = CoxPHSurvivalAnalysis(alpha=1e-4).fit(X.iloc[:half], y[:half])
    y_tr, y_te = _surv(y[:half]), _surv(y[half:])
    return y_tr, y_te, model.predict(X.iloc[half:])


@pytest.fixture(scope="module")
def veterans():
    X, y = load_veterans_lung_cancer()
    return encode_categorical(X).astype(float), _surv(y)


def _surv(y):
    names = y.dtype.names
    return Surv.from_arrays(y[names[0]], y[names[1]])


def _random_cohort(n, seed, *, censor=0.3, ties=False):
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    time = rng.exponential(np.exp(-risk)) * 100
    if ties:
        time = np.ceil(time / 10) * 10
    event = rng.random(n) > censor
    return Surv.from_arrays(event, time), risk + rng.normal(0, 1, n)


# --------------------------------------------------------------------------- R reference values
@pytest.mark.parametrize("case", range(6))
def test_td_auc_matches_timeroc(case):
    """timeROC's AUC. Its standard error column came from a modified timeROC copy (see ``metrics_timeroc_auc.json``):
    the golden test of the standard error is riskRegression's, in tests/test_r_reference.py."""
    ref = _load("metrics_timeroc_auc.json")["cases"][case]
    y = Surv.from_arrays(ref["test_status"], ref["test_time"])
    auc = M.td_auc(y, ref["estimate"], ref["times_se"])
    np.testing.assert_allclose(auc, ref["auc_cd_Uno_timeROC"], rtol=0, atol=1e-4)
    table = M.td_auc_ci(y, ref["estimate"], ref["times_se"], method="iid")
    np.testing.assert_allclose(table["auc"], auc, rtol=1e-15)
    z = 1.959963984540054
    np.testing.assert_allclose(table["lower"], np.clip(auc - z * table["std_error"], 0, 1), rtol=1e-15)


def test_iid_standard_error_matches_monte_carlo_under_heavy_censoring():
    """The iid standard error of the AUC is the spread of the AUC over repeated samples (G(t) ~ 0.37 here).

    The modified term of the torchsurv copy of timeROC, ``1{T >= t}/S(t)``, gave 2.5 times this spread.
    """
    rng = np.random.default_rng(0)
    aucs, ses = [], []
    for _ in range(200):
        x = rng.normal(size=200)
        t_death, t_cens = rng.exponential(np.exp(-x)), rng.exponential(1.0, 200)
        y = Surv.from_arrays(t_death <= t_cens, np.minimum(t_death, t_cens))
        row = M.td_auc_ci(y, x, 1.0, method="iid").iloc[0]
        aucs.append(row["auc"])
        ses.append(row["std_error"])
    assert np.mean(ses) == pytest.approx(np.std(aucs, ddof=1), rel=0.15)  # 200 samples: sd known to ~5%


def test_timeroc_counts_cases_strictly_before_t():
    """At an event time timeROC (T < t) and scikit-survival (T <= t) differ; we follow timeROC without y_train."""
    ref = _load("metrics_timeroc_auc.json")["cases"][0]
    y = Surv.from_arrays(ref["test_status"], ref["test_time"])
    t = 202.0  # an event time of this sample
    assert (np.asarray(ref["test_time"])[np.asarray(ref["test_status"])] == t).any()
    ours = M.td_auc(y, ref["estimate"], [t])[0]
    assert ours == pytest.approx(ref["auc_cd_Uno_timeROC"][3], abs=1e-4)
    sk = cumulative_dynamic_auc(y, y, np.asarray(ref["estimate"]), [t])[0][0]
    assert abs(sk - ours) > 1e-3


@pytest.mark.parametrize("case", range(6))
def test_c_indices_match_r(case):
    ref = _load("metrics_cindex.json")["cases"][case]
    y = Surv.from_arrays(ref["test_status"], ref["test_time"])
    assert M.harrell_c(y, ref["estimate"]) == pytest.approx(ref["c_Harrell_survival"][0], abs=1e-4)
    # survC1 (evaluation-sample censoring, tau = last event time before the end of follow-up): 2e-3, not 1e-4,
    # because survC1 handles tied times otherwise (G(T-), deaths at risk of censoring, no tied-time pairs);
    # tests/test_r_reference.py::test_uno_c_vs_survc1 reproduces survC1 at 1e-4 and pins that difference
    uno = M.uno_c(y, ref["estimate"], tau=max(ref["times"]))
    assert uno == pytest.approx(ref["c_Uno_survC1"][0], abs=2e-3)


@pytest.mark.parametrize("case", range(2))
def test_kaplan_meier_matches_survfit(case):
    """The Kaplan–Meier used by calibration, decision curves and risk groups vs R survfit (lung, gbsg)."""
    ref = _load("metrics_kaplan_meier.json")["cases"][case]
    event, time = np.asarray(ref["status"], bool), np.asarray(ref["time"], float)
    ours = [km_survival(time, event, t) for t in ref["times"]]
    np.testing.assert_allclose(ours, ref["surv_prob_survival"], atol=1e-4)
    # treat-all net benefit at pt = 0.5 is 1 - 2 S(t)
    t = float(np.median(ref["times"]))
    dca = M.decision_curve(Surv.from_arrays(event, time), np.zeros(len(time)), t, thresholds=[0.5])
    expected = 1 - 2 * np.asarray(ref["surv_prob_survival"])[np.searchsorted(ref["times"], t, side="right") - 1]
    assert dca["treat_all"][0] == pytest.approx(expected, abs=2e-4)
    groups = M.risk_groups(Surv.from_arrays(event, time), np.arange(len(time)) % 2, 0.5)
    assert set(groups.curves["group"]) == {"low risk", "high risk"}


# --------------------------------------------------------------------------- scikit-survival datasets
def test_wrappers_equal_sksurv_on_whas500(whas500_cox):
    y_tr, y_te, risk = whas500_cox
    expected = concordance_index_censored(y_te["event"], y_te["time"], risk)[0]
    assert M.harrell_c(y_te, risk) == expected
    times = np.percentile(y_te["time"][y_te["event"]], [25, 50, 75])
    np.testing.assert_allclose(
        M.td_auc(y_te, risk, times, y_train=y_tr), cumulative_dynamic_auc(y_tr, y_te, risk, times)[0]
    )


@pytest.mark.parametrize("loader", [load_whas500, load_gbsg2, load_veterans_lung_cancer])
def test_fast_harrell_equals_sksurv(loader):
    X, y = loader()
    y = _surv(y)
    num = X.select_dtypes("number")
    risk = np.round(num.iloc[:, 0].to_numpy() - 0.5 * num.iloc[:, 1].to_numpy(), 0)  # many tied risks
    ours = harrell_fast(y["event"], y["time"], risk, block=64)
    ref = concordance_index_censored(y["event"], y["time"], risk)
    assert ours[0] == pytest.approx(ref[0], abs=1e-15)
    assert ours[1:] == tuple(int(v) for v in ref[1:4])


def test_timeroc_equals_sksurv_without_ties():
    """With continuous times, a horizon off the event times and the same censoring KM, both definitions agree."""
    y, risk = _random_cohort(150, 3)
    t = float(np.median(y["time"])) + 1e-3
    ours = M.td_auc(y, risk, [t])[0]
    assert ours == pytest.approx(cumulative_dynamic_auc(y, y, risk, [t])[0][0], abs=1e-12)


def test_brier_and_ibs_equal_sksurv(veterans):
    X, y = veterans
    model = CoxPHSurvivalAnalysis(alpha=1e-4).fit(X, y)
    times = np.array([30.0, 60.0, 90.0, 180.0])
    surv = np.vstack([fn(times) for fn in model.predict_survival_function(X)])
    assert M.brier_at(y, surv[:, 2], 90.0) == pytest.approx(brier_score(y, y, surv[:, 2], 90.0)[1][0])
    assert M.integrated_brier(y, surv, times) == pytest.approx(integrated_brier_score(y, y, surv, times))


def test_brier_closed_form_without_censoring():
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = Surv.from_arrays(np.ones(6, bool), time)
    surv = np.array([0.1, 0.3, 0.5, 0.6, 0.8, 0.9])
    expected = np.mean(((time > 3.5).astype(float) - surv) ** 2)
    assert M.brier_at(y, surv, 3.5) == pytest.approx(expected)
    assert M.integrated_brier(y, np.full((6, 3), 0.5), [1.5, 2.5, 3.5]) == pytest.approx(0.25)


# --------------------------------------------------------------------------- closed forms
def _tiny():
    return Surv.from_arrays([1, 1, 0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


@pytest.mark.parametrize(
    ("risk", "expected"), [([6, 5, 4, 3, 2, 1], 1.0), ([1, 2, 3, 4, 5, 6], 0.0), ([2, 2, 2, 2, 2, 2], 0.5)]
)
def test_closed_form_c_and_auc(risk, expected):
    y = _tiny()
    assert M.harrell_c(y, risk) == expected
    assert M.uno_c(y, risk) == pytest.approx(expected)
    np.testing.assert_allclose(M.td_auc(y, risk, [1.5, 4.5]), expected)
    assert harrell_fast(y["event"], y["time"], np.asarray(risk, float))[0] == expected


# --------------------------------------------------------------------------- bootstrap
def test_vectorised_bootstrap_identical_to_sksurv_loop():
    y, risk = _random_cohort(301, 0, ties=True)
    risk = np.round(risk, 1)  # tied risks too
    ci = M.c_index_ci(y, risk, n_bootstrap=300, random_state=42)
    idx = np.random.default_rng(42).integers(0, 301, size=(300, 301))
    loop = np.array([concordance_index_censored(y["event"][i], y["time"][i], risk[i])[0] for i in idx])
    np.testing.assert_array_equal(ci.replicates, loop)
    lo, hi = np.quantile(loop, [0.025, 0.975])
    assert (ci.lower, ci.upper) == (pytest.approx(lo), pytest.approx(hi))
    assert ci.estimate == concordance_index_censored(y["event"], y["time"], risk)[0]


def test_bootstrap_is_seeded_and_uno_runs():
    y, risk = _random_cohort(80, 1)
    a = M.c_index_ci(y, risk, method="uno", n_bootstrap=40, random_state=3, progress=False)
    b = M.c_index_ci(y, risk, method="uno", n_bootstrap=40, random_state=3, progress=False)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.lower <= a.estimate <= a.upper
    table = M.td_auc_ci(y, risk, [50.0, 100.0], method="bootstrap", n_bootstrap=40, random_state=0)
    assert ((table["lower"] <= table["auc"]) & (table["auc"] <= table["upper"])).all()


# --------------------------------------------------------------------------- comparisons
def _delong_bruteforce(score_a, score_b, label):
    """DeLong et al. (1988) structural components written from the paper's definitions, O(m n)."""
    comps = []
    for s in (score_a, score_b):
        pos, neg = s[label], s[~label]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        comps.append((psi.mean(axis=1), psi.mean(axis=0)))
    s10 = np.cov(np.vstack([comps[0][0], comps[1][0]]))
    s01 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    cov = s10 / label.sum() + s01 / (~label).sum()
    return cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]


def test_delong_against_definition_and_sklearn():
    y, risk = _random_cohort(120, 5)
    other = np.round(risk + np.random.default_rng(9).normal(0, 1.5, 120), 1)
    t = 60.0
    res = M.compare_td_auc(y, risk, other, t, method="delong")
    known = (y["event"] & (y["time"] <= t)) | (y["time"] > t)
    label = (y["time"] <= t)[known]
    assert res.estimate_a == pytest.approx(roc_auc_score(label, risk[known]))
    assert res.estimate_b == pytest.approx(roc_auc_score(label, other[known]))
    assert res.std_error**2 == pytest.approx(_delong_bruteforce(risk[known], other[known], label))


def test_iid_comparison_of_identical_scores():
    y, risk = _random_cohort(100, 6)
    res = M.compare_td_auc(y, risk, risk, 60.0)
    assert res.difference == 0 and res.p_value == 1.0
    better = M.compare_td_auc(y, -y["time"], np.random.default_rng(0).normal(size=100), 60.0)
    assert better.difference > 0 and better.p_value < 0.01


def test_compare_c_index_methods():
    y, risk = _random_cohort(150, 7)
    noise = np.random.default_rng(1).normal(size=150)
    boot = M.compare_c_index(y, risk, noise, n_bootstrap=300, random_state=0)
    ttest = M.compare_c_index(y, risk, noise, method="ttest", n_bootstrap=300, random_state=0)
    assert boot.difference == ttest.difference > 0
    assert boot.lower <= boot.difference <= boot.upper
    assert boot.p_value < 0.05 and 0 <= ttest.p_value <= 1
    same = M.compare_c_index(y, risk, risk, n_bootstrap=50, random_state=0)
    assert same.difference == 0 and same.p_value == 1.0


def test_compare_models_table_and_fdr():
    y, risk = _random_cohort(100, 8)
    rng = np.random.default_rng(2)
    risks = {"ref": risk, "a": rng.normal(size=100), "b": risk + rng.normal(0, 2, 100)}
    table = M.compare_models(y, risks, "ref", metric="td_auc", horizon=60.0)
    assert table["model"].tolist() == ["a", "b"]
    from scipy.stats import false_discovery_control

    np.testing.assert_allclose(table["p_fdr"], false_discovery_control(table["p_value"], method="bh"))
    pairs = M.compare_models(y, risks, None, n_bootstrap=50, random_state=0)
    assert len(pairs) == 3


@PROPS
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6), st.integers(0, 10_000))
def test_fdr_adjusted_at_least_raw_and_monotone(noise_scales, seed):
    y, risk = _random_cohort(60, seed % 50)
    rng = np.random.default_rng(seed)
    risks = {"ref": risk} | {f"m{k}": risk + rng.normal(0, 3 * s + 0.1, 60) for k, s in enumerate(noise_scales)}
    table = M.compare_models(y, risks, "ref", metric="td_auc", horizon=float(np.median(y["time"])), method="delong")
    p, q = table["p_value"].to_numpy(), table["p_fdr"].to_numpy()
    assert (q >= p - 1e-15).all()
    order = np.argsort(p, kind="stable")
    assert (np.diff(q[order]) >= -1e-15).all()


# --------------------------------------------------------------------------- properties
_risks = st.lists(st.integers(-20, 20), min_size=8, max_size=40)


@PROPS
@given(_risks, st.integers(0, 1000))
def test_c_index_invariant_to_monotone_transform_and_order(risk, seed):
    risk = np.asarray(risk, float)
    y, _ = _random_cohort(len(risk), seed, ties=True)
    if not y["event"].any():
        return
    try:
        c = M.harrell_c(y, risk)
    except ValueError:  # no comparable pair
        return
    assert M.harrell_c(y, np.exp(risk / 5) + 3 * risk) == c
    perm = np.random.default_rng(seed).permutation(len(risk))
    assert M.harrell_c(y[perm], risk[perm]) == pytest.approx(c, abs=1e-15)


@PROPS
@given(st.integers(8, 60), st.integers(0, 10_000))
def test_c_index_of_negated_risk_without_ties(n, seed):
    y, _ = _random_cohort(n, seed)
    risk = np.random.default_rng(seed).permutation(n).astype(float)
    try:
        c = M.harrell_c(y, risk)
    except ValueError:
        return
    assert M.harrell_c(y, -risk) == pytest.approx(1 - c)


@PROPS
@given(st.integers(10, 60), st.integers(0, 10_000), st.floats(0.2, 0.8))
def test_auc_in_unit_interval_and_iid_ci_contains_it(n, seed, q):
    y, risk = _random_cohort(n, seed, ties=True)
    t = float(np.quantile(y["time"], q))
    try:
        table = M.td_auc_ci(y, risk, [t])
    except ValueError:  # no case before or no control after t
        return
    assert 0 <= table["auc"][0] <= 1
    assert table["lower"][0] <= table["auc"][0] <= table["upper"][0]


@settings(max_examples=15, deadline=None)
@given(st.integers(40, 120), st.integers(0, 10_000))
def test_bootstrap_ci_contains_estimate(n, seed):
    y, risk = _random_cohort(n, seed)
    ci = M.c_index_ci(y, risk, n_bootstrap=200, random_state=seed)
    assert ci.lower <= ci.estimate <= ci.upper


# --------------------------------------------------------------------------- operating point
def test_youden_and_confusion_closed_form():
    y = Surv.from_arrays([1, 1, 1, 0, 1, 0, 0, 0], [1.0, 2, 3, 4, 9, 10, 11, 12])
    risk = np.array([0.9, 0.8, 0.3, 0.5, 0.4, 0.2, 0.6, 0.1])
    cut = M.youden_cutoff(y, risk, 5.0, censoring="exclude")
    # known status: cases 0.9, 0.8, 0.3; controls 0.4, 0.2, 0.6, 0.1 -> J(0.8) = 2/3 is the maximum
    assert cut == 0.8
    m = M.confusion_at_cutoff(y, risk, 0.5, 5.0, censoring="exclude")
    assert (m["tp"], m["fn"], m["fp"], m["tn"], m["n_excluded"]) == (2, 1, 1, 3, 1)
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["specificity"] == pytest.approx(3 / 4)
    assert m["ppv"] == pytest.approx(2 / 3) and m["npv"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(5 / 7) and m["prevalence"] == pytest.approx(3 / 7)


def test_ipcw_equals_exclude_without_early_censoring():
    y = Surv.from_arrays([1, 1, 1, 1, 0, 1, 0], [1.0, 2, 3, 4, 9, 10, 11])
    risk = np.array([0.9, 0.8, 0.3, 0.5, 0.4, 0.2, 0.6])
    a = M.confusion_at_cutoff(y, risk, 0.5, 5.0, censoring="exclude")
    b = M.confusion_at_cutoff(y, risk, 0.5, 5.0, censoring="ipcw")
    for key in ("accuracy", "sensitivity", "specificity", "ppv", "npv", "prevalence"):
        assert a[key] == pytest.approx(b[key])
    assert M.youden_cutoff(y, risk, 5.0, censoring="ipcw") == M.youden_cutoff(y, risk, 5.0, censoring="exclude")


def _tied_deaths_and_censorings():
    """Deaths and censorings tied at t = 3 (issue 13, item 2)."""
    y = Surv.from_arrays([1, 1, 1, 1, 0, 0, 0, 0], [4.0, 3, 3, 3, 5, 3, 3, 5])
    return y, np.array([0.0, 2, 2, 3, 1, 0, 2, 1])


def test_censoring_weights_let_deaths_leave_the_risk_set_first():
    """At t = 3 three die and two are censored out of 8: G(3) = 1 - 2/(8 - 3) = 3/5, not 1 - 2/8.

    Horizon 4.5: cases T < 4.5 are the deaths at 3 (weight 1/G(3-) = 1) and at 4 (1/G(4-) = 5/3);
    controls are the two patients at 5 (weight 1/G(4.5) = 5/3). The case at 4 has marker 0, below
    both controls, the three others are above: AUC = 3 / (3 + 5/3) = 9/14 (R pec/timeROC rule),
    not 9/13 (deaths kept at risk of censoring: weight 4/3).
    """
    y, marker = _tied_deaths_and_censorings()
    g = CensoringDistributionEstimator().fit(y).predict_proba(np.array([3.0, 4.5]))
    np.testing.assert_allclose(g, [3 / 5, 3 / 5], rtol=1e-15)
    assert M.td_auc(y, marker, 4.5)[0] == pytest.approx(9 / 14, abs=1e-12)
    roc = M.td_roc_curve(y, marker, 4.5)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(9 / 14, abs=1e-12)
    table = M.td_auc_ci(y, marker, 4.5)
    assert table["auc"][0] == pytest.approx(9 / 14, abs=1e-12)
    # the same weights in the operating point: positive = marker >= 1.5
    m = M.confusion_at_cutoff(y, marker, 1.5, 4.5)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == pytest.approx((3.0, 5 / 3, 0.0, 10 / 3), abs=1e-12)
    assert m["sensitivity"] == pytest.approx(3 / (3 + 5 / 3), abs=1e-12)


# --------------------------------------------------------------------------- risk groups vs lifelines
def test_risk_groups_match_lifelines(veterans):
    X, y = veterans
    risk = -X["Karnofsky_score"].to_numpy()
    cutoff = float(np.median(risk))
    res = M.risk_groups(y, risk, cutoff)
    high = risk >= cutoff
    lr = logrank_test(y["time"][~high], y["time"][high], y["event"][~high], y["event"][high])
    assert res.p_value == pytest.approx(lr.p_value, rel=1e-6)
    assert res.chisq == pytest.approx(lr.test_statistic, rel=1e-6)
    for label, mask in (("low risk", ~high), ("high risk", high)):
        kmf = KaplanMeierFitter().fit(y["time"][mask], y["event"][mask])
        curve = res.curves[res.curves["group"] == label]
        sf = kmf.survival_function_.iloc[:, 0].reindex(curve["time"])
        np.testing.assert_allclose(curve["survival"], sf, atol=1e-12)
        ci = kmf.confidence_interval_.reindex(curve["time"])
        np.testing.assert_allclose(curve["lower"], ci.iloc[:, 0], atol=1e-6)
        np.testing.assert_allclose(curve["upper"], ci.iloc[:, 1], atol=1e-6)
        row = res.summary.set_index("group").loc[label]
        assert row["median"] == kmf.median_survival_time_
        med_ci = median_survival_times(kmf.confidence_interval_)
        assert (row["median_lower"], row["median_upper"]) == tuple(med_ci.iloc[0])


# --------------------------------------------------------------------------- calibration and DCA
def test_calibration_of_true_model_vs_miscalibrated():
    rng = np.random.default_rng(0)
    n, t = 600, 2.0
    rate = rng.uniform(0.05, 0.6, n)
    time = rng.exponential(1 / rate)
    cens = rng.exponential(8.0, n)
    y = Surv.from_arrays(time <= cens, np.minimum(time, cens))
    true = np.exp(-rate * t)
    good = M.calibration_at_horizon(y, true, t)
    bad = M.calibration_at_horizon(y, true**2, t)  # predicts too many deaths
    assert good.ici < 0.03 and bad.ici > 0.1
    assert good.e50 <= good.e90 and bad.e50 <= bad.e90
    assert good.slope == pytest.approx(1.0, abs=0.25) and abs(good.intercept) < 0.2
    assert bad.intercept < -0.3
    # observed per group = Kaplan–Meier of the group at t (lifelines)
    order = np.argsort(-true, kind="stable")
    first = np.array_split(order, 5)[0]
    kmf = KaplanMeierFitter().fit(y["time"][first], y["event"][first])
    assert good.groups["observed"][0] == pytest.approx(float(kmf.predict(t)))
    assert set(good.groups.columns) == {"group", "n", "predicted", "observed", "lower", "upper"}


def test_decision_curve_closed_form_without_censoring():
    rng = np.random.default_rng(1)
    n, t = 200, 5.0
    time = rng.exponential(6.0, n)
    y = Surv.from_arrays(np.ones(n, bool), time)
    p = np.clip(1 - np.exp(-time / 6.0) + rng.normal(0, 0.2, n), 0, 1)
    dca = M.decision_curve(y, {"m": p}, t, thresholds=[0.1, 0.3, 0.5])
    dead = time <= t
    for k, pt in enumerate([0.1, 0.3, 0.5]):
        treat = p >= pt
        expected = (dead & treat).sum() / n - (~dead & treat).sum() / n * pt / (1 - pt)
        assert dca["m"][k] == pytest.approx(expected)
        assert dca["treat_all"][k] == pytest.approx(dead.mean() - (1 - dead.mean()) * pt / (1 - pt))
    assert (dca["treat_none"] == 0).all()


def _two_group_calibration_data():
    """No censoring before t = 5; predicted survival 0.8 for 40 patients (10 die by 5), 0.4 for 40 (25 die)."""
    time = np.r_[np.linspace(1, 4.5, 10), np.linspace(6, 9, 30), np.linspace(1, 4.5, 25), np.linspace(6, 9, 15)]
    survival = np.r_[np.full(40, 0.8), np.full(40, 0.4)]
    return Surv.from_arrays(np.ones(80, bool), time), survival


def test_calibration_slope_closed_form_with_two_predictions():
    """Two distinct predictions: the logistic fit is saturated, slope = logit-difference ratio (hand computed)."""
    y, survival = _two_group_calibration_data()
    res = M.calibration_at_horizon(y, survival, 5.0, n_groups=2)
    x_low, x_high = np.log(0.2 / 0.8), np.log(0.6 / 0.4)  # logit of the predicted death by t = 5
    slope = (np.log(25 / 15) - np.log(10 / 30)) / (x_high - x_low)  # logit of the observed deaths per group
    assert res.slope == pytest.approx(slope, abs=1e-8)
    # calibration-in-the-large: a with sum_i (y_i - expit(a + x_i)) = 0, the score equation of the offset fit
    score = sum(n * (d / n - 1 / (1 + np.exp(-(res.intercept + x)))) for n, d, x in ((40, 10, x_low), (40, 25, x_high)))
    assert score == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("kind", ["constant", "separation"])
def test_calibration_slope_is_nan_when_not_identifiable(kind):
    """Issue 13, item 7: constant risk or separation gave slopes like 38 or 74; now NaN with the reason."""
    y, _ = _two_group_calibration_data()
    if kind == "constant":  # one prediction for everyone: the slope is confounded with the intercept
        survival, match = np.full(80, 0.6), "same predicted risk"
    else:  # every death by t = 5 predicted at a higher risk than every survivor: infinite slope
        survival, match = np.where(y["time"] <= 5.0, 0.3, 0.7) + np.linspace(0, 0.01, 80), "separate"
    with pytest.warns(RuntimeWarning, match=match):
        res = M.calibration_at_horizon(y, survival, 5.0, n_groups=2)
    assert np.isnan(res.slope)
    # the rest of the result is kept: group Kaplan-Meier estimates, a finite intercept and ICI/E50/E90
    assert res.groups["observed"].notna().all() and np.isfinite([res.intercept, res.ici, res.e50, res.e90]).all()


# fmt: off
FUZZ_27_TIME = [30.0, 60, 30, 30, 60, 30, 60, 30, 60, 60, 90, 30, 30, 30, 30, 60, 30, 30, 30, 30, 30, 30, 60, 60, 90,
                90, 90]
FUZZ_27_SURVIVAL = [0.1, 0.2, 0.1, 0.1, 0.2, 0.1, 0.2, 0.3, 0.4, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1, 0.3, 0.1, 0.1, 0.1, 0.0,
                    0.0, 0.3, 0.2, 0.2, 0.5, 0.4, 0.4]
# fmt: on


@pytest.mark.parametrize(
    "event, time, survival, horizon",
    [  # found by tests/test_properties.py and benchmarks/fuzz_public_api.py: ICI nan, then inf and 8.74 (> 1)
        ([1, 0, 1, 0], [10.0, 20, 30, 50], [0.0, 0.5, 0.2, 0.5], 30.0),
        ([0] * 9 + [1, 1] + [0] * 14 + [1, 1], FUZZ_27_TIME, FUZZ_27_SURVIVAL, 60.0),  # fmt: skip
    ],
)
def test_calibration_curve_is_nan_with_a_warning_when_its_cox_fit_diverges(event, time, survival, horizon):
    """Issue 13: the smoothed curve's Cox fit under separation gave NaN, inf or survival above 1 silently."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = M.calibration_at_horizon(Surv.from_arrays(event, time), survival, horizon, n_groups=1)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("smoothed calibration curve" in m and "ICI, E50 and E90" in m for m in messages), messages
    assert np.isnan([res.ici, res.e50, res.e90]).all() and res.curve["observed"].isna().all()
    assert res.groups["observed"].between(0, 1).all()  # the Kaplan-Meier groups are kept


def test_ipcw_brier_can_exceed_one_as_sksurv():
    """The IPCW weights 1/G exceed 1, so a fully wrong prediction in a censored sample scores above 1."""
    event = np.r_[np.zeros(20, bool), True, False]
    time = np.r_[np.ones(20), 0.5, 0.5]
    y = Surv.from_arrays(event, time)
    survival = np.r_[np.zeros(20), 1.0, 0.0]  # alive at 0.75 predicted dead, the death predicted alive
    expected = brier_score(y, y, survival, 0.75)[1][0]
    assert expected > 1
    assert M.brier_at(y, survival, 0.75) == pytest.approx(expected)


def test_integer_event_field_gives_the_bool_results():
    """Issue 13: uno_c, brier_at, integrated_brier and td_auc with y_train failed inside sksurv on 0/1 ints."""
    y = Surv.from_arrays([1, 1, 0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    as_int = np.empty(6, dtype=[("status", "i4"), ("days", "f8")])
    as_int["status"], as_int["days"] = y["event"], y["time"]
    risk, surv = np.array([6.0, 4, 5, 3, 1, 2]), np.array([0.1, 0.3, 0.6, 0.5, 0.8, 0.7])
    assert M.uno_c(as_int, risk, y_train=as_int) == M.uno_c(y, risk)
    assert M.brier_at(as_int, surv, 3.5, y_train=as_int) == M.brier_at(y, surv, 3.5)
    grid = np.c_[surv, surv]
    assert M.integrated_brier(as_int, grid, [2.5, 4.5]) == M.integrated_brier(y, grid, [2.5, 4.5])
    np.testing.assert_array_equal(M.td_auc(as_int, risk, [2.5], y_train=as_int), M.td_auc(y, risk, [2.5], y_train=y))


def test_integrated_brier_refuses_risk_scores():
    y = Surv.from_arrays([1, 1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        M.integrated_brier(y, np.full((5, 2), 1.5), [1.5, 3.5])


def test_calibration_in_the_large_with_an_extreme_offset():
    """Predicted survival 0 for all (logit risk clipped at logit(1 - 1e-6)); 37 censored at 30 as the death.

    Known status at 45: the death at 30 (weight 1) and the patient followed to 60 (weight
    1/G(45) = 38, deaths leaving the censoring risk set first). The intercept solves
    expit(a + logit(1 - 1e-6)) = 1/39; the slope is NaN (one prediction for everyone).
    """
    event = np.r_[np.zeros(38, bool), True]
    time = np.r_[np.full(37, 30.0), 60.0, 30.0]
    with pytest.warns(RuntimeWarning, match="same predicted risk"):
        res = M.calibration_at_horizon(Surv.from_arrays(event, time), np.zeros(39), 45.0, n_groups=1)
    assert np.isnan(res.slope)
    assert res.intercept == pytest.approx(np.log(1 / 38) - np.log((1 - 1e-6) / 1e-6), abs=1e-8)


def test_decision_curve_is_nan_beyond_the_treated_follow_up():
    """Issue 13, item 8: as dcurves, no Kaplan–Meier of the treated patients past their last follow-up."""
    time = np.array([1.0, 2, 3, 4, 6, 7, 8, 9, 10, 12])
    event = np.array([1, 1, 0, 1, 0, 1, 0, 1, 0, 0], bool)
    risk = np.array([0.95, 0.9, 0.85, 0.6, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1])
    y, horizon, thresholds = Surv.from_arrays(event, time), 6.0, np.array([0.5, 0.65, 0.75, 0.88, 0.99])
    with pytest.warns(RuntimeWarning, match=r"NaN at 2 threshold\(s\) from 0.75 to 0.88.*horizon=6"):
        dca = M.decision_curve(y, risk, horizon, thresholds=thresholds)
    for k, pt in enumerate(thresholds):
        treated = risk >= pt
        if not treated.any():
            assert dca["model"][k] == 0.0
        elif time[treated].max() < horizon:  # 0.75 (last follow-up 3) and 0.88 (last follow-up 2)
            assert np.isnan(dca["model"][k])
        else:  # 0.5 and 0.65: the treated are followed up to 6 or later (0.65: exactly 6, the boundary)
            s = float(KaplanMeierFitter().fit(time[treated], event[treated]).predict(horizon))
            expected = (1 - s) * treated.mean() - s * treated.mean() * pt / (1 - pt)
            assert dca["model"][k] == pytest.approx(expected, abs=1e-12)
    assert np.isnan(dca["model"]).sum() == 2 and np.isfinite(dca["treat_all"]).all()


# --------------------------------------------------------------------------- scorers
class _ExponentialModel(SurvivalAnalysisMixin, BaseEstimator):
    """Minimal model with the package's contract: ``predict`` risk, sksurv step survival functions."""

    def fit(self, X, y):
        self.rate_ = y["event"].sum() / y["time"].sum()
        self.coef_ = np.linalg.lstsq(X - X.mean(0), -np.log(y["time"]), rcond=None)[0]
        return self

    def predict(self, X):
        return np.asarray(X @ self.coef_, dtype=float)

    def predict_survival_function(self, X):
        grid = np.linspace(0, 5000, 200)
        return np.array([StepFunction(grid, np.exp(-self.rate_ * np.exp(r) * grid)) for r in self.predict(X)])


def test_gridsearch_coxnet_with_td_auc_scorer(veterans):
    X, y = veterans
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), CoxnetSurvivalAnalysis(n_alphas=5, max_iter=1000)),
        {"coxnetsurvivalanalysis__l1_ratio": [0.5, 1.0]},
        cv=KFold(3, shuffle=True, random_state=0),
        scoring=M.make_survival_scorer("td_auc", horizon=90.0),
    )
    grid.fit(X, y)
    assert 0.5 < grid.best_score_ <= 1


def test_multimetric_scorers_on_pipeline_and_own_model(veterans):
    X, y = veterans
    cv = KFold(3, shuffle=True, random_state=1)
    scoring = M.make_survival_scorers(horizon=90.0)
    pipe = make_pipeline(StandardScaler(), CoxPHSurvivalAnalysis(alpha=1e-3))
    res = cross_validate(pipe, X, y, cv=cv, scoring=scoring)
    assert (res["test_brier"] < 0).all() and (res["test_ibs"] < 0).all()
    assert ((res["test_c_index"] > 0.5) & (res["test_td_auc"] > 0.5)).all()
    # the scorer equals the metric on the held-out fold
    train, test = next(cv.split(X))
    pipe.fit(X.iloc[train], y[train])
    assert res["test_c_index"][0] == pytest.approx(M.harrell_c(y[test], pipe.predict(X.iloc[test])))
    own = cross_validate(_ExponentialModel(), X.to_numpy(), y, cv=cv, scoring=scoring)
    assert np.isfinite(own["test_ibs"]).all()


def test_brier_scorer_needs_survival_function(veterans):
    X, y = veterans

    class RiskOnly:
        def predict(self, X):
            return np.zeros(len(X))

    with pytest.raises(ValueError, match="predict_survival_function"):
        M.make_survival_scorer("brier", horizon=90.0)(RiskOnly(), X, y)
    with pytest.raises(ValueError, match="needs a horizon"):
        M.make_survival_scorer("td_auc")
    with pytest.raises(ValueError, match="metric must be one of"):
        M.make_survival_scorer("accuracy")


# --------------------------------------------------------------------------- bad input
_CALLS = {
    "harrell_c": lambda y, r, t: M.harrell_c(y, r),
    "uno_c": lambda y, r, t: M.uno_c(y, r, tau=t),
    "td_auc": lambda y, r, t: M.td_auc(y, r, [t]),
    "td_auc_ci": lambda y, r, t: M.td_auc_ci(y, r, [t]),
    "c_index_ci": lambda y, r, t: M.c_index_ci(y, r, n_bootstrap=10),
    "compare_c_index": lambda y, r, t: M.compare_c_index(y, r, r, n_bootstrap=10),
    "risk_groups": lambda y, r, t: M.risk_groups(y, r, 0.0),
    "compare_td_auc": lambda y, r, t: M.compare_td_auc(y, r, r, t),
    "youden_cutoff": lambda y, r, t: M.youden_cutoff(y, r, t),
    "confusion_at_cutoff": lambda y, r, t: M.confusion_at_cutoff(y, r, 0.0, t),
    "calibration_at_horizon": lambda y, r, t: M.calibration_at_horizon(y, 1 / (1 + np.exp(r)), t),
    "decision_curve": lambda y, r, t: M.decision_curve(y, 1 / (1 + np.exp(-r)), t),
    "brier_at": lambda y, r, t: M.brier_at(y, 1 / (1 + np.exp(r)), t),
}


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_bad_input_raises_clear_errors(name):
    call = _CALLS[name]
    y, risk = _random_cohort(40, 11)
    t = float(np.median(y["time"]))
    bad = risk.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN.*row 3"):
        call(y, bad, t)
    with pytest.raises(ValueError, match="rows but y has"):
        call(y, risk[:-1], t)
    if name in ("harrell_c", "c_index_ci", "compare_c_index", "risk_groups"):
        return
    with pytest.raises(ValueError, match="outside the follow-up"):
        call(y, risk, float(y["time"].max()) + 1)
    with pytest.raises(ValueError, match="outside the follow-up"):
        call(y, risk, -1.0)
    early = Surv.from_arrays(y["event"] & (y["time"] > t / 2), y["time"])
    with pytest.raises(ValueError, match="no event"):
        call(early, risk, t / 4)


def test_all_censored_target_is_rejected():
    y = Surv.from_arrays(np.zeros(5, bool), np.arange(1.0, 6.0))
    with pytest.raises(ValueError, match="all 5 patients are censored"):
        M.harrell_c(y, np.arange(5.0))


def test_results_are_frames_with_expected_columns():
    y, risk = _random_cohort(60, 12)
    t = float(np.median(y["time"]))
    groups = M.risk_groups(y, risk, float(np.median(risk)))
    assert list(groups.summary.columns) == ["group", "n", "events", "median", "median_lower", "median_upper"]
    assert groups.summary["n"].sum() == 60
    assert isinstance(M.decision_curve(y, 1 / (1 + np.exp(-risk)), t), pd.DataFrame)


# ------------------------------------------------------------------------------------------ undefined tests


def test_undefined_comparison_is_nan_with_a_warning_never_zero():
    # one case at the horizon, perfectly separated: DeLong's variance is 0 (issue 13, item 1)
    y = Surv.from_arrays([1, 0, 0, 0, 0, 0], [1.0, 2, 3, 4, 5, 6])
    with pytest.warns(RuntimeWarning, match="standard error"):
        res = M.compare_td_auc(y, [6, 5, 4, 3, 2, 1.0], [1, 2, 3, 4, 5, 6.0], 1.5, method="delong")
    assert res.difference == pytest.approx(1.0) and np.isnan(res.p_value)


def test_identical_scores_give_p_one():
    rng = np.random.default_rng(0)
    time = rng.exponential(10, 60)
    y = Surv.from_arrays(rng.random(60) < 0.7, time)
    risk = rng.normal(size=60)
    assert M.compare_td_auc(y, risk, risk, 8.0, method="delong").p_value == 1.0


def test_fdr_leaves_undefined_p_values_out():
    from sksurv_tace.metrics import _core

    adjusted = _core.fdr_bh([0.01, np.nan, 0.04])
    assert np.isnan(adjusted[1])
    # BH over the two finite p-values: min(0.01 * 2 / 1, 0.04 * 2 / 2) = 0.02, then 0.04
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.04])


def test_harrell_c_without_comparable_pair_raises_at_every_size():
    # issue 13, item 6: NaN below 5,000 patients and an error above; now one error
    for n in (3, 5001):
        time = np.arange(1.0, n + 1)
        event = np.zeros(n, dtype=bool)
        event[-1] = True  # the only death is the last time: no comparable pair
        with pytest.raises(ValueError, match="no comparable pairs"):
            M.harrell_c(Surv.from_arrays(event, time), np.arange(n, dtype=float))


def test_ibs_scorer_keeps_its_grid_inside_the_model_follow_up():
    # issue 13, item 4: on whas500 the first fold's 90% quantile lies past the training follow-up -> NaN before
    from sklearn.model_selection import cross_val_score
    from sksurv.datasets import load_whas500

    from sksurv_tace import ClinicalCox

    X, y = load_whas500()
    X = X[["age", "bmi", "hr", "gender"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = cross_val_score(ClinicalCox(), X, y, cv=3, scoring=M.make_survival_scorer("ibs"), error_score="raise")
    assert np.isfinite(scores).all() and (scores < 0).all() and (scores > -0.25).all()


@pytest.mark.parametrize("call", ["uno_c", "td_auc", "delong"])
def test_text_horizon_is_a_clear_value_error(call):
    # issue 13, item 9: a string horizon crashed inside numpy (UFuncTypeError) or was silently converted
    rng = np.random.default_rng(0)
    time = rng.exponential(10, 50)
    y, risk = Surv.from_arrays(rng.random(50) < 0.7, time), rng.normal(size=50)
    calls = {
        "uno_c": lambda: M.uno_c(y, risk, tau="8"),
        "td_auc": lambda: M.td_auc(y, risk, "8"),
        "delong": lambda: M.compare_td_auc(y, risk, -risk, "8", method="delong"),
    }
    with pytest.raises(ValueError, match="not text"):
        calls[call]()


def test_brier_with_y_train_when_a_patient_outlives_the_training_follow_up():
    """reproduce crashed in scikit-survival ('time must be smaller than largest observed time point') when a
    validation patient was followed longer than every training patient; his weight at t is 1/G(t) anyway."""
    rng = np.random.default_rng(0)
    train = Surv.from_arrays(rng.random(40) < 0.6, rng.uniform(1, 10, 40))
    test_time = np.r_[rng.uniform(1, 9, 19), 50.0]
    test = Surv.from_arrays(np.r_[rng.random(19) < 0.6, True], test_time)
    surv = rng.uniform(0, 1, 20)
    clipped = Surv.from_arrays(test["event"], np.minimum(test_time, 9.5))  # 9.5 > 5: same score at t = 5
    assert M.brier_at(test, surv, 5.0, y_train=train) == pytest.approx(brier_score(train, clipped, surv, 5.0)[1][0])
    grid = np.c_[surv, surv * 0.9]
    expected = integrated_brier_score(train, clipped, grid, [4.0, 6.0])
    assert M.integrated_brier(test, grid, [4.0, 6.0], y_train=train) == pytest.approx(expected)
    assert test["time"][-1] == 50.0  # the caller's target is not changed


def test_compare_over_splits_is_the_corrected_resampled_t_test():
    from scipy import stats as st_

    rng = np.random.default_rng(0)
    seeds = np.repeat(np.arange(8), 3)
    per_split = pd.DataFrame({"seed": seeds, "model": ["F", "A", "B"] * 8,
                              "c_index": 0.7 + rng.normal(0, 0.02, 24)})  # fmt: skip
    wide = per_split.pivot(index="seed", columns="model", values="c_index")
    plain = M.compare_over_splits(per_split, "F", test_train_ratio=0.0).set_index("model")
    for name in ("A", "B"):  # without the correction: scipy's paired t-test
        expected = st_.ttest_rel(wide[name], wide["F"])
        assert plain.loc[name, "t"] == pytest.approx(expected.statistic, rel=1e-12)
        assert plain.loc[name, "p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    corrected = M.compare_over_splits(per_split, "F").set_index("model")  # n_test/n_train = 0.25
    d = (wide["A"] - wide["F"]).to_numpy()
    t = d.mean() / np.sqrt((1 / 8 + 0.25) * d.var(ddof=1))  # Nadeau & Bengio (2003), their eq. for K splits
    assert corrected.loc["A", "t"] == pytest.approx(t, rel=1e-12)
    assert corrected.loc["A", "p_value"] == pytest.approx(2 * st_.t.sf(abs(t), 7), rel=1e-12)
    assert (corrected["p_value"] > plain["p_value"]).all()  # the correction only widens
    np.testing.assert_allclose(corrected["p_fdr"], st_.false_discovery_control(corrected["p_value"], method="bh"))


def test_compare_over_splits_bad_input_and_degenerate_cases():
    per_split = pd.DataFrame({"seed": [0, 0, 1, 1], "model": ["F", "A"] * 2, "c_index": [0.7, 0.6, 0.8, 0.7]})
    with pytest.warns(RuntimeWarning, match="no test of 'A' against 'F' \\(the same difference in every split"):
        row = M.compare_over_splits(per_split, "F").iloc[0]
    assert row["mean_difference"] == pytest.approx(-0.1) and np.isnan(row["p_value"])  # no variance: no test
    gap = per_split.assign(c_index=[0.7, np.nan, 0.8, 0.7])
    with pytest.warns(RuntimeWarning, match="1 split\\(s\\) without a c_index of 'A' or 'F' left out"):
        assert M.compare_over_splits(gap, "F")["n_splits"].tolist() == [1]
    with pytest.raises(ValueError, match="several rows for split 0 and model 'F'"):
        M.compare_over_splits(pd.concat([per_split, per_split.iloc[:1]]), "F")
    with pytest.raises(ValueError, match="must hold numbers"):
        M.compare_over_splits(per_split.assign(c_index=["a", 0.6, 0.8, 0.7]), "F")
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        M.compare_over_splits(per_split.to_numpy(), "F")
    with pytest.raises(ValueError, match="reference 'G' is not among"):
        M.compare_over_splits(per_split, "G")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['td_auc'\]"):
        M.compare_over_splits(per_split, "F", metric="td_auc")
    with pytest.raises(ValueError, match="test_train_ratio"):
        M.compare_over_splits(per_split, "F", test_train_ratio=-1)
