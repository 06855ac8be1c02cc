"""Reliability of the Cox fits (issue 13, items 7 and 9): non-convergence and separation are reported, never
printed as real numbers; the fits converge to R's ``coxph``; invalid parameters fail early, naming the range."""

import math
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from lifelines.exceptions import ConvergenceWarning
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sksurv.datasets import load_veterans_lung_cancer
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.util import Surv

from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.models.cnn_cox import CNNCox
from sksurv_tace.models.radiomics_cox import RadiomicsCox
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor
from sksurv_tace.preprocessing.cox_screen import CoxFeatureSelector, cox_table
from sksurv_tace.preprocessing.cox_separation import infinite_coefficients

# -------------------------------------------------------------------------------------------------------------
# separation: a factor whose exposed patients all die first


def _separated_cohort():
    """40 patients followed 1..40 days. The 8 exposed all die on days 1-8, before any unexposed patient; the
    32 unexposed alternate censored / dead. ``score`` is prognostic but overlaps, ``age`` is noise."""
    i = np.arange(40)
    X = pd.DataFrame(
        {
            "exposed": (i < 8).astype(float),
            "score": (40 - i) / 10 + (i * 7 % 11) / 2,
            "age": 40.0 + (i * 17) % 37,
        }
    )
    y = Surv.from_arrays(np.r_[np.ones(8, bool), np.tile([False, True], 16)], i + 1.0)
    return X, y


def test_the_separating_factor_has_no_finite_estimate():
    """Closed form: with ``b`` the log HR of ``exposed``, the log partial likelihood is
    ``sum_{k=1..8} [b - log(k e^b + 32)] + const``, strictly increasing in ``b``; its supremum, reached only as
    ``b -> inf``, is ``-log(8!) - sum over the unexposed deaths of log(number at risk)``. lifelines' default fit
    (what cox_table printed) stops on that plateau at an arbitrary HR with p near 1."""
    X, y = _separated_cohort()
    at_risk = 40 - np.arange(40)
    unexposed_deaths = y["event"] & (X["exposed"].to_numpy() == 0)
    supremum = -math.log(math.factorial(8)) - np.log(at_risk[unexposed_deaths]).sum()
    data = X[["exposed"]].assign(T=y["time"], E=y["event"].astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = CoxPHFitter().fit(data, duration_col="T", event_col="E")
    assert default.log_likelihood_ == pytest.approx(supremum, abs=1e-6)
    assert default.summary.loc["exposed", "exp(coef)"] > 1e8 and default.summary.loc["exposed", "p"] > 0.99
    # R's check (survival::coxph.fit) flags it: the coefficient still moves where the likelihood is flat
    assert infinite_coefficients(X[["exposed"]], y["event"], y["time"], default.params_.to_numpy()).tolist() == [True]


def test_cox_table_warns_naming_the_separating_factor_and_leaves_it_nan():
    X, y = _separated_cohort()
    with pytest.warns(ConvergenceWarning) as caught:
        table = cox_table(X, y).set_index("factor")
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 2  # the univariable and the multivariable model
    for message in messages:
        assert "'exposed'" in message and "may be infinite" in message and "separates the deaths" in message
        assert "rows of factor(s) ['exposed'] are left NaN" in message
    assert issubclass(ConvergenceWarning, RuntimeWarning)
    estimates = ["coef", "se", "HR", "HR_lower", "HR_upper", "p", "p_factor"]
    assert table.loc["exposed", [f"{c}_{s}" for c in estimates for s in ("uni", "multi")]].isna().all()
    # the other factors keep their (finite) estimates, as R reports them next to an infinite coefficient
    assert np.isfinite(table.loc[["score", "age"], ["coef_uni", "p_uni", "coef_multi", "p_multi"]]).all(axis=None)


def test_selector_leaves_the_separating_factor_out_with_a_warning():
    X, y = _separated_cohort()
    with pytest.warns(ConvergenceWarning, match=r"'exposed'.*may be infinite.*CoxFeatureSelector leaves it out"):
        selector = CoxFeatureSelector().fit(X, y)
    assert "exposed" not in selector.univariate_factors_
    assert selector.selected_factors_ == ["score"]
    assert np.isnan(selector.summary_.set_index("factor").loc["exposed", "p_factor_uni"])


def test_r_infinite_coefficient_example_is_flagged_on_both_variables():
    """R's own test (survival/tests/infcox.R, infcox.Rout.save): the 3 deaths all have x1 = x2 = 0;
    ``coxph(Surv(futime, fustat) ~ x1 + x2, test3)`` warns "Loglik converged before variable 1,2; coefficient
    may be infinite" and its log-likelihood goes from -6.8669 to -1.7918 = -log(6), the supremum."""
    X = pd.DataFrame({"x1": np.tile([0.0, 1.0], 6), "x2": np.repeat([0.0, 1.0], 6)})
    y = Surv.from_arrays(np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0], bool), np.arange(1.0, 13.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = CoxPHFitter().fit(X.assign(T=y["time"], E=y["event"].astype(int)), duration_col="T", event_col="E")
    ll_null = raw.log_likelihood_ - raw.log_likelihood_ratio_test().test_statistic / 2
    assert round(ll_null, 4) == -6.8669 and round(raw.log_likelihood_, 4) == -1.7918
    with pytest.warns(ConvergenceWarning, match=r"'x1' .* and 'x2' .*may be infinite") as caught:
        table = cox_table(X, y)
    assert any("rows of factor(s) ['x1', 'x2'] are left NaN" in str(w.message) for w in caught)
    assert table.drop(columns=["factor", "level", "reference"]).isna().all(axis=None)


def test_infinite_coefficient_check_on_scikit_survival_fits():
    """ClinicalCox's final model is scikit-survival's Newton-Raphson, which also stops silently under
    separation; the same check flags it, and a ridge penalty (finite maximum) is not flagged."""
    X, y = _separated_cohort()
    design = X.to_numpy()
    plain = CoxPHSurvivalAnalysis(ties="efron").fit(design, y)
    assert plain.coef_[0] > 15  # a diverging iterate, not an estimate
    assert infinite_coefficients(design, y["event"], y["time"], plain.coef_).tolist() == [True, False, False]
    ridge = CoxPHSurvivalAnalysis(alpha=1.0, ties="efron").fit(design, y)
    assert not infinite_coefficients(design, y["event"], y["time"], ridge.coef_, ridge=1.0).any()


def test_failed_fit_and_separation_warn_alike():
    """A fit lifelines cannot invert (collinear columns) leaves its rows NaN with the same warning class and form."""
    X, y = _separated_cohort()
    X = X[["score", "age"]].assign(age_twice=2 * X["age"])
    with pytest.warns(ConvergenceWarning, match=r"Cox model on \['score', 'age', 'age_twice'\]: did not converge"):
        table = cox_table(X, y).set_index("factor")
    assert table[["coef_multi", "p_factor_multi"]].isna().all(axis=None)
    assert np.isfinite(table["coef_uni"]).all()


def test_an_overflowing_confidence_interval_is_warned_but_the_estimate_kept():
    """A converged estimate on a tiny scale: exp(coef + 1.96 se) is beyond the float range. The Cox MLE is
    scale-equivariant (coef(x / c) = c coef(x), same Wald p), so the estimate is real and kept."""
    X, y = _separated_cohort()
    tiny = X[["score"]] / 1e4
    with pytest.warns(ConvergenceWarning, match=r"confidence interval is infinite .*'score'.*coef, se and p are kept"):
        scaled = cox_table(tiny, y).set_index("factor").loc["score"]
    plain = cox_table(X[["score"]], y).set_index("factor").loc["score"]
    assert np.isinf(scaled["HR_upper_uni"])
    assert scaled["coef_uni"] == pytest.approx(1e4 * plain["coef_uni"], rel=1e-8)
    assert scaled["p_uni"] == pytest.approx(plain["p_uni"], rel=1e-6)


def test_cnncox_summary_is_nan_for_a_separating_covariate(tiny_ct_model, cohort):
    X, y = cohort
    order = np.argsort(y["time"])
    first = order[: max(2, int(y["event"].sum()) // 3)]
    if not y["event"][first].all():
        pytest.skip("the fixture cohort's first patients are not all deaths")
    X = X.assign(exposed=np.where(np.isin(np.arange(len(X)), first), "yes", "no"))
    with pytest.warns(ConvergenceWarning, match=r"'exposed=yes'.*may be infinite"):
        model = CNNCox(tiny_ct_model, prefit=True, select_clinical=False, clinical_columns=["exposed"]).fit(X, y)
    assert model.summary_.loc["exposed=yes"].isna().all()
    assert np.isfinite(model.predict(X)).all()


# -------------------------------------------------------------------------------------------------------------
# convergence: R's coxph on the veteran data

#: ``summary(coxph(Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior, data = veteran))``,
#: R survival's VA lung cancer data (Efron ties, the default), as printed (coef, se(coef), z, Pr(>|z|)) in public
#: R notebooks on survival::veteran. R codes prior as 0/10, so its per-unit figures are a tenth of "yes vs no".
R_VETERAN = {
    "Treatment=test": ("2.946e-01", "2.075e-01", "1.419", "0.15577"),
    "Celltype=smallcell": ("8.616e-01", "2.753e-01", "3.130", "0.00175"),
    "Celltype=adeno": ("1.196e+00", "3.009e-01", "3.975", "7.05e-05"),
    "Celltype=large": ("4.013e-01", "2.827e-01", "1.420", "0.15574"),
    "Karnofsky_score": ("-3.282e-02", "5.508e-03", "-5.958", "2.55e-09"),
    "Months_from_Diagnosis": ("8.132e-05", "9.136e-03", "0.009", "0.99290"),
    "Age_in_years": ("-8.706e-03", "9.300e-03", "-0.936", "0.34920"),
    "Prior_therapy=yes": ("7.159e-03", "2.323e-02", "0.308", "0.75794"),
}
R_UNIT = {"Prior_therapy=yes": 10.0}


def _half_unit(printed: str) -> float:
    """Half a unit in the last printed digit: the most a correctly rounded value can differ by."""
    return 0.5 * 10.0 ** Decimal(printed).as_tuple().exponent


@pytest.fixture(scope="module")
def veteran_table():
    X, y = load_veterans_lung_cancer()
    design = ClinicalPreprocessor(reference_levels={"Celltype": "squamous"}).fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # an ordinary fit raises none
        table = cox_table(design, y)
    table.index = design.columns
    return design, y, table


def test_veteran_multivariable_cox_matches_r_to_every_printed_digit(veteran_table):
    _, _, table = veteran_table
    for column, (coef, se, z, p) in R_VETERAN.items():
        unit = R_UNIT.get(column, 1.0)
        row = table.loc[column]
        ours = {"coef": row["coef_multi"] / unit, "se": row["se_multi"] / unit}
        ours.update(z=row["coef_multi"] / row["se_multi"], p=row["p_multi"])
        for name, printed in zip(("coef", "se", "z", "p"), (coef, se, z, p), strict=True):
            assert abs(ours[name] - float(printed)) <= _half_unit(printed) * (1 + 1e-9), (column, name, ours[name])
    # the figure of the issue: lifelines' default stopping rule gave 8.260e-05
    assert f"{table.loc['Months_from_Diagnosis', 'coef_multi']:.3e}" == "8.132e-05"


def test_veteran_coefficients_are_converged_to_1e_8(veteran_table):
    """R prints 4 digits; beyond them, scikit-survival's independent Efron Newton-Raphson run to a relative
    log-likelihood change of 1e-14 gives the maximum."""
    design, y, table = veteran_table
    reference = CoxPHSurvivalAnalysis(ties="efron", tol=1e-14, n_iter=1000).fit(design.to_numpy(), y)
    np.testing.assert_allclose(table["coef_multi"].to_numpy(), reference.coef_, rtol=1e-8)


def test_rossi_fits_raise_no_convergence_warning():
    rossi = load_rossi()
    y = Surv.from_arrays(rossi["arrest"], rossi["week"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        CoxFeatureSelector().fit(rossi.drop(columns=["week", "arrest"]).astype(float), y)


# -------------------------------------------------------------------------------------------------------------
# parameters: validated in fit, before any work, naming the parameter and its range


def _features():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["f0", "f1", "f2"])
    y = Surv.from_arrays(rng.random(40) < 0.7, rng.exponential(100, 40))
    return X, y


def _clinical():
    X, y = _features()
    return X.assign(group=np.where(np.arange(40) % 3 == 0, "a", "b")), y


INVALID = [
    (RadiomicsCox, "alpha", -1, r"range \(0\.0, inf\) or None"),
    (RadiomicsCox, "alpha", 0.0, r"range \(0\.0, inf\) or None"),
    (RadiomicsCox, "cv", 1, r"int in the range \[2, inf\)"),
    (RadiomicsCox, "cv", 2.5, r"int in the range \[2, inf\)"),
    (RadiomicsCox, "n_alphas", 0, r"int in the range \[1, inf\)"),
    (RadiomicsCox, "corr_threshold", 1.5, r"range \(0\.0, 1\.0\]"),
    (RadiomicsCox, "corr_threshold", "0.9", r"range \(0\.0, 1\.0\]"),
    (RadiomicsCox, "alpha_min_ratio", 0, r"range \(0\.0, 1\.0\) or a str among \{'auto'\}"),
    (RadiomicsCox, "max_iter", 0, r"int in the range \[1, inf\)"),
    (ClinicalCox, "p_univariate", 0.0, r"range \(0\.0, 1\.0\]"),
    (ClinicalCox, "p_multivariable", 1.5, r"range \(0\.0, 1\.0\]"),
    (ClinicalCox, "alpha", -1.0, r"range \[0\.0, inf\)"),
    (ClinicalCox, "alpha", float("nan"), r"range \[0\.0, inf\)"),
    (ClinicalCox, "n_iter", 0, r"int in the range \[1, inf\)"),
    (ClinicalCox, "n_iter", "100", r"int in the range \[1, inf\)"),
    (ClinicalBranch, "p_univariate", -0.5, r"range \(0\.0, 1\.0\]"),
    (ClinicalBranch, "p_multivariable", "0.05", r"range \(0\.0, 1\.0\]"),
    (CoxFeatureSelector, "penalizer", -1.0, r"range \[0\.0, inf\)"),
    (CoxFeatureSelector, "p_univariate", 0.0, r"range \(0\.0, 1\.0\]"),
    (CNNCox, "alpha", -1.0, r"range \[0\.0, inf\)"),
    (CNNCox, "p_univariate", 2.0, r"range \(0\.0, 1\.0\]"),
]


@pytest.mark.parametrize(
    "estimator, name, value, allowed", INVALID, ids=[f"{e.__name__}-{n}={v!r}" for e, n, v, _ in INVALID]
)
def test_invalid_parameters_raise_value_error_naming_the_range(estimator, name, value, allowed):
    X, y = _features() if estimator in (RadiomicsCox, CoxFeatureSelector) else _clinical()
    with pytest.raises(ValueError, match=rf"'{name}' parameter of {estimator.__name__} must be .*{allowed}"):
        estimator(**{name: value}).fit(X, y)


# -------------------------------------------------------------------------------------------------------------
# RadiomicsCox: coordinate descent that stops early is reported, not swallowed


def test_radiomics_cox_reports_coordinate_descent_that_did_not_converge():
    X, y = _features()
    with pytest.warns(SklearnConvergenceWarning, match=r"RadiomicsCox: .*final LASSO-Cox model.*max_iter=1"):
        RadiomicsCox(alpha=0.05, max_iter=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SklearnConvergenceWarning)
        RadiomicsCox(alpha=0.05).fit(X, y)


def test_radiomics_cox_leaves_out_inner_folds_whose_path_fails_numerically():
    """scikit-survival's Coxnet raises ArithmeticError when a fold's coefficients diverge (here a 2-patient
    training fold); that fold is left out of the choice of alpha, with a warning, instead of failing the fit."""
    X = pd.DataFrame({"f0": [0.0, 0.0, 0.0], "f1": [0.0, 0.0, 0.5]})
    y = Surv.from_arrays([True, True, True], [1.0, 1.0, 2.0])
    with pytest.warns(SklearnConvergenceWarning, match=r"1 of 3 inner cross-validation folds failed numerically"):
        model = RadiomicsCox(cv=3, n_alphas=5, random_state=0).fit(X, y)
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("estimator", [CoxFeatureSelector(), RadiomicsCox(), ClinicalPreprocessor()], ids=type)
def test_duplicated_column_names_are_named_as_such(estimator):
    """Issue 13: repeated names were reported as 'not numeric' (X['a'] is then a frame, not a column)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "a", "b"])
    y = Surv.from_arrays(rng.random(30) < 0.7, rng.exponential(5, 30) + 0.1)
    with pytest.raises(ValueError, match=r"duplicated column name\(s\) \['a'\]"):
        estimator.fit(X, y)


def test_a_null_factor_is_not_flagged_infinite_after_lifelines_damped_steps():
    """lifelines stopped 3e-7 short of the maximum (damped Newton steps) for a factor with no effect (coef 1e-4,
    se 0.16); R's step test on that point flagged it 'may be infinite' and its row became NaN."""
    from sksurv_tace.datasets import make_tace_cohort

    X, y = make_tace_cohort(301, with_images=False, random_state=0)
    design = ClinicalPreprocessor(columns=["diabetes"]).fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        table = cox_table(design, y)
    assert np.isfinite(table[["coef_uni", "se_uni", "p_uni"]].to_numpy(float)).all() and table["p_uni"].iloc[0] > 0.9
    # the maximum itself: a fully converged fit (scikit-survival, tol 1e-12) gives the same coefficient
    exact = CoxPHSurvivalAnalysis(ties="efron", tol=1e-12).fit(design, y).coef_
    assert not infinite_coefficients(design.to_numpy(), y["event"], y["time"], exact).any()
