"""Tests of sksurv_tace.paper.plots: each figure draws what its metric result says.

Counts and labels are checked against numbers computed outside the plotting code
(``td_auc``/``td_auc_ci``, lifelines' Kaplan–Meier event table, median and log-rank test,
``cox_table``); every test closes its figures.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402
from lifelines.statistics import logrank_test  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sksurv.linear_model import CoxPHSurvivalAnalysis  # noqa: E402

from sksurv_tace import metrics as M
from sksurv_tace.paper import plots as P
from sksurv_tace.preprocessing.cox_screen import cox_table

H = 1095.0
MONTH = 365.25 / 12


@pytest.fixture(autouse=True)
def _no_leaked_figures():
    yield
    leaked = plt.get_fignums()
    plt.close("all")
    assert not leaked, f"figures left open: {leaked}"


@pytest.fixture(scope="module")
def cohort(clinical_cohort):
    """The 301-patient synthetic cohort, the true log hazard and a noisier second model."""
    X, y, truth = clinical_cohort
    lp = truth["lp"].to_numpy()
    noisy = lp + np.random.default_rng(1).normal(0, 1.0, len(lp))
    return X, y, {"Oracle": lp, "Noisy": noisy}


@pytest.fixture(scope="module")
def survival_at_h(cohort):
    """Predicted S(3 years) of a Cox model on each score (for calibration and decision curves)."""
    _, y, risks = cohort
    out = {}
    for name, r in risks.items():
        cox = CoxPHSurvivalAnalysis().fit(r[:, None], y)
        out[name] = np.array([fn(H) for fn in cox.predict_survival_function(r[:, None])])
    return out


def _texts(ax):
    return [t.get_text() for t in ax.texts]


# --------------------------------------------------------------------------- ROC
def test_td_roc_lines_and_legend(cohort):
    _, y, risks = cohort
    ci = {m: M.td_auc_ci(y, r, H) for m, r in risks.items()}
    fig = P.plot_td_roc(y, risks, H, ci=ci)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(risks) + 1  # one curve per model + the diagonal
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for (name, r), label in zip(risks.items(), labels, strict=False):
        row = ci[name].iloc[0]
        assert label == f"{name}  AUC {M.td_auc(y, r, H)[0]:.3f} ({row['lower']:.3f}–{row['upper']:.3f})"
    # the drawn curve is td_roc_curve's
    roc = M.td_roc_curve(y, risks["Oracle"], H)
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), roc["fpr"])
    assert "3 years" in ax.get_title()
    plt.close(fig)


def test_td_roc_confidence_interval_object_and_y_train(cohort):
    _, y, risks = cohort
    ci = M.c_index_ci(y, risks["Oracle"], n_bootstrap=20, random_state=0)  # wrong metric: estimate differs
    with pytest.raises(ValueError, match="estimate"):
        P.plot_td_roc(y, risks, H, ci={"Oracle": ci})
    auc = M.td_auc(y[150:], risks["Oracle"][150:], H, y_train=y[:150])[0]
    good = M.ConfidenceInterval(auc, auc - 0.1, min(auc + 0.1, 1.0), 0.05, "bootstrap")
    fig = P.plot_td_roc(y[150:], {"Oracle": risks["Oracle"][150:]}, H, y_train=y[:150], ci={"Oracle": good})
    assert f"AUC {auc:.3f} ({auc - 0.1:.3f}–" in fig.axes[0].get_legend().get_texts()[0].get_text()
    plt.close(fig)


def test_td_roc_bad_input(cohort):
    _, y, risks = cohort
    with pytest.raises(ValueError, match="empty"):
        P.plot_td_roc(y, {}, H)
    with pytest.raises(ValueError, match="rows but y has"):
        P.plot_td_roc(y, {"short": risks["Oracle"][:-1]}, H)
    with pytest.raises(ValueError, match="not in risks"):
        P.plot_td_roc(y, risks, H, ci={"other": M.td_auc_ci(y, risks["Oracle"], H)})
    with pytest.raises(ValueError, match="mapping"):
        P.plot_td_roc(y, risks["Oracle"], H)


def test_draws_into_given_axes(cohort):
    _, y, risks = cohort
    fig, (a, b) = plt.subplots(1, 2)
    out = P.plot_td_roc(y, risks, H, ax=b)
    assert out is fig and len(b.get_lines()) == 3 and not a.get_lines()
    plt.close(fig)


# --------------------------------------------------------------------------- calibration
def test_calibration(cohort, survival_at_h):
    _, y, _ = cohort
    results = {m: M.calibration_at_horizon(y, s, H) for m, s in survival_at_h.items()}
    fig = P.plot_calibration(results)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2
    for bar, res in zip(bars, results.values(), strict=True):
        np.testing.assert_allclose(np.asarray(bar.lines[0].get_ydata(), float), res.groups["observed"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "Ideal"
    assert labels[1] == f"Oracle  ICI {results['Oracle'].ici:.3f}, slope {results['Oracle'].slope:.2f}"
    assert ax.get_xlabel() == "Predicted 3-year survival probability"
    assert ax.get_ylabel() == "Observed 3-year survival (Kaplan–Meier)"
    plt.close(fig)
    fig = P.plot_calibration(results["Oracle"])  # a single result
    assert len([c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]) == 1
    plt.close(fig)


def test_calibration_bad_input(cohort, survival_at_h):
    _, y, _ = cohort
    s = survival_at_h["Oracle"]
    with pytest.raises(ValueError, match="one horizon"):
        P.plot_calibration({"a": M.calibration_at_horizon(y, s, H), "b": M.calibration_at_horizon(y, s, 730.0)})
    with pytest.raises(ValueError, match="empty"):
        P.plot_calibration({})
    with pytest.raises(ValueError, match="not a CalibrationResult"):
        P.plot_calibration({"a": s})


# --------------------------------------------------------------------------- Kaplan–Meier
def test_risk_groups_against_lifelines(cohort):
    _, y, risks = cohort
    r = risks["Noisy"]
    cut = M.youden_cutoff(y, r, H)
    groups = M.risk_groups(y, r, cut)
    ticks = [0, 12, 24, 36, 48, 60]
    fig = P.plot_risk_groups(groups, times_at_risk=ticks)
    ax, tab = fig.axes
    assert len(ax.get_lines()) == 4 and len(ax.collections) == 2  # curves, censoring marks and CI bands
    high = r >= cut
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for k, (label, mask) in enumerate((("low risk", ~high), ("high risk", high))):
        kmf = KaplanMeierFitter().fit(y["time"][mask], y["event"][mask])
        et = kmf.event_table
        censored = et.index[(et["censored"] > 0) & (et.index > 0)].to_numpy(dtype=float)
        marks = ax.get_lines()[2 * k + 1]
        np.testing.assert_allclose(marks.get_xdata(), censored / MONTH)
        np.testing.assert_allclose(marks.get_ydata(), kmf.survival_function_at_times(censored).to_numpy())
        expected = [str(int(et.loc[et.index >= t * MONTH, "at_risk"].iloc[0])) for t in ticks]
        row = [t for t in tab.texts if t.get_position()[1] == k]
        assert [t.get_text() for t in sorted(row, key=lambda t: t.get_position()[0])] == expected
        median = kmf.median_survival_time_ / MONTH
        assert legend[k].startswith(f"{label} (n={int(mask.sum())}): median {median:.1f} (")
    from lifelines import CoxPHFitter

    cox = CoxPHFitter().fit(pd.DataFrame({"t": y["time"], "e": y["event"], "high": high.astype(float)}), "t", "e")
    hr, lower, upper = np.exp(cox.params_["high"]), *np.exp(cox.confidence_intervals_.loc["high"])
    assert f"Log-rank p < 0.001\nHR {hr:.2f} ({lower:.2f}–{upper:.2f}) (high vs low)" in _texts(ax)
    assert [t.get_text() for t in tab.get_yticklabels()] == ["low risk", "high risk"]
    plt.close(fig)


def test_risk_groups_p_value_and_units(cohort):
    _, y, _ = cohort
    noise = np.random.default_rng(5).normal(size=len(y))
    groups = M.risk_groups(y, noise, 0.0)
    p = logrank_test(y["time"][noise < 0], y["time"][noise >= 0], y["event"][noise < 0], y["event"][noise >= 0]).p_value
    assert p > 0.001
    fig = P.plot_risk_groups(groups, time_unit="years", show_at_risk=False, title="Noise")
    assert len(fig.axes) == 1
    assert any(text.startswith(f"Log-rank p = {p:.3f}\nHR ") for text in _texts(fig.axes[0]))
    assert fig.axes[0].get_xlabel() == "Time since treatment (years)"
    assert fig._suptitle.get_text() == "Noise"
    plt.close(fig)
    with pytest.raises(ValueError, match="time_unit"):
        P.plot_risk_groups(groups, time_unit="weeks")
    with pytest.raises(ValueError, match="times_at_risk"):
        P.plot_risk_groups(groups, times_at_risk=[-1, 10])
    with pytest.raises(ValueError, match="RiskGroups"):
        P.plot_risk_groups(groups.curves)
    bare = M.RiskGroups(groups.curves, groups.summary, groups.chisq, groups.p_value, groups.cutoff)
    with pytest.raises(ValueError, match="at_risk"):
        P.plot_risk_groups(bare)


# --------------------------------------------------------------------------- decision curves
def test_decision_curve(cohort, survival_at_h):
    _, y, _ = cohort
    curves = M.decision_curve(y, {m: 1 - s for m, s in survival_at_h.items()}, H)
    fig = P.plot_decision_curve(curves, horizon=H)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["Oracle", "Noisy", "Treat all", "Treat none"]
    top = np.nanmax(curves[["Oracle", "Noisy", "treat_all"]].to_numpy())
    assert ax.get_ylim() == pytest.approx((-0.05 * top, 1.1 * top))
    assert curves["treat_all"].min() < ax.get_ylim()[0]  # treat-all's large negatives are clipped
    assert ax.get_xlabel() == "Threshold probability of death by 3 years"
    plt.close(fig)
    with pytest.raises(ValueError, match="treat_all"):
        P.plot_decision_curve(curves.drop(columns="treat_all"))
    with pytest.raises(ValueError, match="no model column"):
        P.plot_decision_curve(curves[["threshold", "treat_all", "treat_none"]])


# --------------------------------------------------------------------------- p-value matrix
def test_pvalue_matrix_annotations(cohort):
    _, y, risks = cohort
    risks = {**risks, "Noise": np.random.default_rng(2).normal(size=len(y))}
    matrix = M.pairwise_td_auc_tests(y, risks, H)
    fig = P.plot_pvalue_matrix(matrix)
    ax = fig.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert len(cells) == 9
    for i, a in enumerate(risks):
        for j, b in enumerate(risks):
            if i == j:
                assert cells[i, j] == f"AUC\n{M.td_auc(y, risks[a], H)[0]:.2f}"
            else:
                p = matrix.loc[a, b]
                assert cells[i, j] == ("<0.001" if p < 0.001 else f"{p:.3f}")
    assert "<0.001" in cells.values()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(risks)
    plt.close(fig)


def test_pvalue_matrix_bad_input():
    with pytest.raises(ValueError, match="square"):
        P.plot_pvalue_matrix(pd.DataFrame([[np.nan, 0.1]], index=["a"], columns=["a", "b"]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        P.plot_pvalue_matrix(pd.DataFrame([[np.nan, 2.0], [2.0, np.nan]], index=["a", "b"], columns=["a", "b"]))


# --------------------------------------------------------------------------- forest plots
def test_c_index_forest(cohort):
    _, y, risks = cohort
    rows = []
    for name, r in risks.items():
        for cohort_name, sl in (("Training", slice(0, 240)), ("Validation", slice(240, None))):
            ci = M.c_index_ci(y[sl], r[sl], n_bootstrap=50, random_state=0)
            rows.append(dict(model=name, cohort=cohort_name, estimate=ci.estimate, lower=ci.lower, upper=ci.upper))
    table = pd.DataFrame(rows)
    fig = P.plot_c_index(table)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # one series per cohort
    np.testing.assert_allclose(bars[0].lines[0].get_xdata(), table.loc[table["cohort"] == "Training", "estimate"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Oracle", "Noisy"]
    r0 = table.iloc[0]
    assert f"{r0['estimate']:.3f} ({r0['lower']:.3f}–{r0['upper']:.3f})" in _texts(ax)
    plt.close(fig)
    with pytest.raises(ValueError, match="more than one row"):
        P.plot_c_index(pd.concat([table, table.iloc[:1]]))
    with pytest.raises(ValueError, match="cohort"):
        P.plot_c_index(table.drop(columns="cohort"))
    bad = table.copy()
    bad.loc[1, "lower"] = 0.99
    with pytest.raises(ValueError, match="row 1"):
        P.plot_c_index(bad)


def test_hazard_ratios_from_cox_table(cohort):
    X, y, _ = cohort
    factors = ["mvi", "albi_grade", "response", "age"]
    table = cox_table(X[factors], y, multivariable=["mvi", "albi_grade", "response"])
    fig = P.plot_hazard_ratios(table, model="multi")
    ax = fig.axes[0]
    shown = table[table["HR_multi"].notna()]
    assert ax.get_xscale() == "log"
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    np.testing.assert_allclose(bars[0].lines[0].get_xdata(), shown["HR_multi"])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "mvi: Yes vs No" and "response: PD vs CR" in labels and "age" not in labels
    texts = _texts(ax)
    first = shown.iloc[0]
    assert f"{first['HR_multi']:.2f} ({first['HR_lower_multi']:.2f}–{first['HR_upper_multi']:.2f})" in texts
    assert P.format_p(first["p_multi"]) in texts
    plt.close(fig)
    fig = P.plot_hazard_ratios(table, model="uni")
    assert len(fig.axes[0].get_yticklabels()) == len(table)
    plt.close(fig)
    with pytest.raises(ValueError, match="model"):
        P.plot_hazard_ratios(table, model="both")


def test_hazard_ratios_generic_and_bad():
    t = pd.DataFrame({"factor": ["a", "b"], "hr": [2.0, 0.5], "lower": [1.5, 0.3], "upper": [2.7, 0.8]})
    fig = P.plot_hazard_ratios(t)
    assert [x.get_text() for x in fig.axes[0].get_yticklabels()] == ["a", "b"]
    assert "—" in _texts(fig.axes[0])  # no p column
    plt.close(fig)
    with pytest.raises(ValueError, match="> 0"):
        P.plot_hazard_ratios(t.assign(lower=[-1.0, 0.3]))
    with pytest.raises(ValueError, match="HR_multi"):
        P.plot_hazard_ratios(pd.DataFrame({"factor": ["a"]}))


# --------------------------------------------------------------------------- saving
def test_save_figure(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    paths = P.save_figure(fig, tmp_path / "sub" / "fig.png")
    assert paths == [tmp_path / "sub" / "fig.png", tmp_path / "sub" / "fig.svg"]
    from PIL import Image

    with Image.open(paths[0]) as img:
        assert img.info["dpi"] == pytest.approx((150, 150), abs=0.05)  # PNG stores dots per metre
    assert paths[1].read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert P.save_figure(fig, tmp_path / "one", formats="pdf") == [tmp_path / "one.pdf"]
    with pytest.raises(ValueError, match="unknown figure format"):
        P.save_figure(fig, tmp_path / "x", formats=("png", "docx"))
    with pytest.raises(ValueError, match="empty"):
        P.save_figure(fig, tmp_path / "x", formats=())
    with pytest.raises(ValueError, match="Figure"):
        P.save_figure(ax, tmp_path / "x")
    plt.close(fig)


def test_helpers():
    assert P.format_p(0.0009) == "<0.001" and P.format_p(0.001) == "0.001" and P.format_p(0.04567) == "0.046"
    assert P.horizon_label(1095) == "3-year" and P.horizon_label(1000) == "1000-day"


def test_learning_curves_mark_each_members_kept_epoch():
    curve = pd.DataFrame({"member": [0, 0, 0, 1, 1], "epoch": [1, 2, 3, 1, 2],
                          "train_loss": [1.3, 1.1, 1.0, 1.2, 1.0], "valid_loss": [1.2, 1.0, 1.1, 1.3, 1.1],
                          "best": [False, True, False, False, True]})  # fmt: skip
    fig = P.plot_learning_curves({"FusionSurvival": curve}, title="t")
    ax = fig.axes[0]
    kept = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [(list(k.get_xdata()), list(k.get_ydata())) for k in kept] == [([2], [1.0]), ([2], [1.1])]
    assert ax.get_title() == "FusionSurvival (2 nets)"
    plt.close(fig)
    summary = P.training_summary({"FusionSurvival": curve})
    assert summary[["member", "epochs", "best_epoch", "valid_loss_best"]].values.tolist() == [
        [0, 3, 2, 1.0],
        [1, 2, 2, 1.1],
    ]
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['best'\]"):
        P.plot_learning_curves({"x": curve.drop(columns="best")})
    with pytest.raises(ValueError, match="empty"):
        P.training_summary({})
