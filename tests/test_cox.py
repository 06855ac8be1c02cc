"""Tests of sksurv_tace.preprocessing.clinical: Table 2 against R, the preprocessor, the Cox screen and ClinicalCox."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sksurv.datasets import load_veterans_lung_cancer
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv

from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor
from sksurv_tace.preprocessing.cox_screen import CoxFeatureSelector, cox_table, factor_groups

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def rossi():
    data = load_rossi()
    y = Surv.from_arrays(data["arrest"], data["week"])
    return data.drop(columns=["week", "arrest"]).astype(float), y


@pytest.fixture(scope="module")
def rossi_factors(rossi):
    """Rossi with the binary covariates as "no"/"yes" factors (R's carData::Rossi codes them so)."""
    X, y = rossi
    X = X.copy()
    for column in ["fin", "race", "wexp", "mar", "paro"]:
        X[column] = X[column].map({0.0: "no", 1.0: "yes"})
    return X, y


@pytest.fixture(scope="module")
def veterans():
    X, y = load_veterans_lung_cancer()
    return X, y


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    X, y = make_tace_cohort(160, path=tmp_path_factory.mktemp("clinical"), with_images=False, random_state=2)
    return X, y


# -------------------------------------------------------------------------------------------------------------
# Table 2 against R


def test_multivariable_cox_matches_r_coxph_on_rossi(rossi):
    ref = json.loads((DATA / "cox_rossi_r.json").read_text(encoding="utf-8"))
    X, y = rossi
    table = cox_table(X[ref["covariates"]], y).set_index("factor")
    np.testing.assert_allclose(table["coef_multi"].round(ref["coef_decimals"]), ref["coef"], atol=1e-12)
    np.testing.assert_allclose(table["se_multi"].round(ref["se_decimals"]), ref["se"], atol=1e-12)
    z = table["coef_multi"] / table["se_multi"]
    np.testing.assert_allclose(z.round(ref["z_decimals"]), ref["z"], atol=1e-12)
    # closed forms: Wald p, HR and its 95% CI
    np.testing.assert_allclose(table["p_multi"], 2 * stats.norm.sf(np.abs(z)), rtol=1e-6)
    np.testing.assert_allclose(table["HR_multi"], np.exp(table["coef_multi"]), rtol=1e-12)
    q = stats.norm.ppf(0.975)
    np.testing.assert_allclose(table["HR_lower_multi"], np.exp(table["coef_multi"] - q * table["se_multi"]), rtol=1e-6)
    np.testing.assert_allclose(table["HR_upper_multi"], np.exp(table["coef_multi"] + q * table["se_multi"]), rtol=1e-6)
    # a one-column factor's joint Wald test is its own Wald test
    np.testing.assert_allclose(table["p_factor_multi"], table["p_multi"], rtol=1e-6)
    fin = ref["fin_row"]  # R's full printed row for fin
    assert round(table.loc["fin", "coef_multi"], 5) == fin["coef"]
    assert round(table.loc["fin", "HR_multi"], 5) == fin["exp_coef"]
    assert round(table.loc["fin", "p_multi"], 5) == fin["p"]
    assert round(table.loc["fin", "HR_lower_multi"], 4) == fin["exp_coef_lower_95"]
    assert round(table.loc["fin", "HR_upper_multi"], 4) == fin["exp_coef_upper_95"]


def test_categorical_factors_give_the_r_factor_coefficients(rossi_factors):
    ref = json.loads((DATA / "cox_rossi_r.json").read_text(encoding="utf-8"))
    X, y = rossi_factors
    table = cox_table(X, y)
    assert table["level"].tolist() == ["yes", "", "yes", "yes", "yes", "yes", ""]
    assert table.set_index("factor").loc["fin", "reference"] == "no"
    np.testing.assert_allclose(table["coef_multi"].round(4), ref["coef"], atol=1e-12)
    np.testing.assert_allclose(table["se_multi"].round(5), ref["se"], atol=1e-12)


def test_univariable_rows_are_single_factor_fits(rossi):
    X, y = rossi
    table = cox_table(X, y, multivariable=[]).set_index("factor")
    assert table["coef_multi"].isna().all()
    # a one-covariate Cox fit: sksurv's Efron Newton-Raphson is an independent implementation
    for factor in ["age", "prio"]:
        model = CoxPHSurvivalAnalysis(ties="efron").fit(X[[factor]].to_numpy(), y)
        assert table.loc[factor, "coef_uni"] == pytest.approx(model.coef_[0], rel=1e-5)


def test_joint_wald_test_does_not_depend_on_the_reference_level(veterans):
    X, y = veterans
    X = X[["Celltype", "Karnofsky_score", "Age_in_years"]]
    prep_a = ClinicalPreprocessor(reference_levels={"Celltype": "squamous"}).fit(X)
    prep_b = ClinicalPreprocessor(reference_levels={"Celltype": "adeno"}).fit(X)
    table_a = cox_table(prep_a.transform(X), y).set_index("level")
    table_b = cox_table(prep_b.transform(X), y).set_index("level")
    assert prep_a.categories_["Celltype"][0] == "squamous"
    for stage in ("uni", "multi"):
        pa = table_a.loc["adeno", f"p_factor_{stage}"]
        pb = table_b.loc["squamous", f"p_factor_{stage}"]
        assert pa == pytest.approx(pb, rel=1e-6)
        # log HR(large vs adeno) = log HR(large vs squamous) - log HR(adeno vs squamous)
        expected = table_a.loc["large", f"coef_{stage}"] - table_a.loc["adeno", f"coef_{stage}"]
        assert table_b.loc["large", f"coef_{stage}"] == pytest.approx(expected, abs=1e-6)
    # a 3-df factor: its joint p is not any single level's p
    assert table_a.loc["adeno", "p_factor_multi"] < table_a.loc["large", "p_multi"]


def test_cox_table_rejects_breslow_and_unknown_factors(rossi):
    X, y = rossi
    with pytest.raises(ValueError, match="efron"):
        cox_table(X, y, ties="breslow")
    with pytest.raises(ValueError, match="unknown factor"):
        cox_table(X, y, multivariable=["nope"])


# -------------------------------------------------------------------------------------------------------------
# ClinicalPreprocessor


def test_preprocessor_encodes_against_reference_levels(cohort):
    X, _ = cohort
    prep = ClinicalPreprocessor(log_transform=["afp"], reference_levels={"response": "PD"}).fit(X)
    out = prep.transform(X)
    assert "patient_id" not in out.columns
    assert "ct" not in prep.columns_
    assert (out.dtypes == np.float64).all()
    assert prep.feature_groups_["response"] == ["response=CR", "response=PR", "response=SD"]
    assert prep.reference_levels_["sex"] == X["sex"].cat.categories[0]
    np.testing.assert_allclose(out["log1p(afp)"], np.log1p(X["afp"].to_numpy(dtype=float)))
    assert "afp" not in out.columns and prep.feature_groups_["afp"] == ["log1p(afp)"]
    np.testing.assert_array_equal(out["response=SD"], (X["response"] == "SD").to_numpy(dtype=float))
    assert list(out.columns) == list(prep.get_feature_names_out())
    np.testing.assert_allclose(out["age"], X["age"])


def test_preprocessor_errors_name_column_and_patient(cohort):
    X, _ = cohort
    prep = ClinicalPreprocessor().fit(X)
    bad = X.copy()
    bad["mvi"] = bad["mvi"].astype(object)
    bad.loc[bad.index[2], "mvi"] = "Maybe"
    with pytest.raises(ValueError, match=r"'mvi'.*Maybe.*" + str(X["patient_id"].iloc[2])):
        prep.transform(bad)
    with pytest.raises(ValueError, match="missing column.*albi_grade"):
        prep.transform(X.drop(columns=["albi_grade"]))
    nan = X.copy()
    nan.loc[nan.index[4], "alb"] = np.nan
    with pytest.raises(ValueError, match=r"'alb' has missing values at patient " + str(X["patient_id"].iloc[4])):
        ClinicalPreprocessor().fit(nan)
    with pytest.raises(ValueError, match="'alb' has missing"):
        prep.transform(nan)
    filled = ClinicalPreprocessor(impute="median").fit(nan).transform(nan)
    assert filled["alb"].iloc[4] == pytest.approx(np.nanmedian(nan["alb"].to_numpy(dtype=float)))
    with pytest.raises(ValueError, match="reference level 'Z'"):
        ClinicalPreprocessor(reference_levels={"mvi": "Z"}).fit(X)


def test_preprocessor_forced_categorical_and_bool_columns():
    X = pd.DataFrame({"grade": [1, 2, 3, 1], "flag": [True, False, True, True], "ct": ["a.nii"] * 4})
    prep = ClinicalPreprocessor(categorical=["grade"]).fit(X)
    assert list(prep.get_feature_names_out()) == ["grade=2", "grade=3", "flag=True"]
    assert prep.feature_groups_ == {"grade": ["grade=2", "grade=3"], "flag": ["flag=True"]}
    np.testing.assert_array_equal(prep.transform(X)["flag=True"], [1.0, 0.0, 1.0, 1.0])


# -------------------------------------------------------------------------------------------------------------
# CoxFeatureSelector


def test_selector_follows_its_own_table(rossi):
    X, y = rossi
    selector = CoxFeatureSelector().fit(X, y)
    table = selector.summary_.set_index("factor")
    survivors = table.index[table["p_factor_uni"] < 0.05].tolist()
    assert selector.univariate_factors_ == survivors
    kept = [f for f in survivors if table.loc[f, "p_factor_multi"] < 0.05]
    assert selector.selected_features_ == kept == ["age", "prio"]
    # the multivariable stage is the model of the survivors, fitted independently by sksurv
    ref = CoxPHSurvivalAnalysis(ties="efron").fit(X[survivors].to_numpy(), y)
    np.testing.assert_allclose(table.loc[survivors, "coef_multi"], ref.coef_, rtol=1e-4)
    out = selector.transform(X)
    assert list(out.columns) == ["age", "prio"] == list(selector.get_feature_names_out())


def test_selector_keeps_categorical_factor_as_a_group(veterans):
    X, y = veterans
    design = ClinicalPreprocessor().fit_transform(X, y)
    selector = CoxFeatureSelector().fit(design, y)
    assert "Celltype" in selector.selected_factors_
    cell = [c for c in design.columns if c.startswith("Celltype=")]
    assert len(cell) == 3 and set(cell) <= set(selector.selected_features_)


def test_selector_falls_back_to_the_best_factor_with_a_warning(rossi):
    X, y = rossi
    with pytest.warns(UserWarning, match="keeping the most significant one, 'prio'"):
        selector = CoxFeatureSelector(p_univariate=1e-6).fit(X, y)
    assert selector.selected_features_ == ["prio"]


def test_pipeline_on_raw_clinical_columns(cohort):
    X, y = cohort
    pipe = Pipeline([("prep", ClinicalPreprocessor()), ("select", CoxFeatureSelector())]).fit(X, y)
    out = pipe.transform(X)
    assert isinstance(out, pd.DataFrame) and len(out.columns) >= 1
    assert (out.dtypes == np.float64).all()
    assert list(out.columns) == list(pipe.get_feature_names_out())
    assert list(out.index) == list(X.index)


def test_factor_groups():
    assert factor_groups(["a", "b=x", "b=y"]) == {"a": ["a"], "b": ["b=x", "b=y"]}


# -------------------------------------------------------------------------------------------------------------
# ClinicalCox


def test_clinical_cox_is_sksurv_cox_on_the_selected_factors(cohort):
    X, y = cohort
    model = ClinicalCox(log_transform=["afp"]).fit(X, y)
    design = model.preprocessor_.transform(X)[model.selected_features_].to_numpy()
    ref = CoxPHSurvivalAnalysis(ties="efron").fit(design, y)
    np.testing.assert_allclose(model.predict(X), ref.predict(design), rtol=1e-10)
    assert model.score(X, y) == pytest.approx(concordance_index_censored(y["event"], y["time"], ref.predict(design))[0])
    # survival at given times = the step functions evaluated there
    times = [0.0, 365.0, 1095.0]
    at = model.predict_survival_at(X.iloc[:5], times)
    fns = ref.predict_survival_function(design[:5])
    np.testing.assert_allclose(at[:, 1:], np.array([fn(np.array(times[1:])) for fn in fns]), rtol=1e-12)
    np.testing.assert_allclose(at[:, 0], 1.0)
    assert set(model.summary_.columns) >= {"factor", "level", "HR_uni", "p_multi"}
    with pytest.raises(ValueError, match="beyond the last follow-up"):
        model.predict_survival_at(X.iloc[:2], [1e6])


def _simulated_cohort():
    """Known truth: the hazard depends on a numeric factor and a 3-level factor, not on the two noise factors."""
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame(
        {
            "size": rng.normal(50, 10, n),
            "stage": pd.Categorical(rng.choice(["A", "B", "C"], n), categories=["A", "B", "C"]),
            "noise": rng.normal(size=n),
            "group": rng.choice(["x", "y"], n),
        }
    )
    lp = 0.08 * (X["size"] - 50) + X["stage"].map({"A": 0.0, "B": 1.0, "C": 1.5}).astype(float)
    time = rng.exponential(365 * np.exp(-lp.to_numpy()))
    censor = rng.uniform(100, 2000, n)
    return X, Surv.from_arrays(time <= censor, np.minimum(time, censor))


@pytest.fixture(scope="module")
def simulated():
    return _simulated_cohort()


def test_clinical_cox_selects_the_true_prognostic_factors(simulated):
    X, y = simulated
    model = ClinicalCox().fit(X, y)
    assert model.selector_.selected_factors_ == ["size", "stage"]
    assert model.selected_features_ == ["size", "stage=B", "stage=C"]
    assert model.coef_[0] == pytest.approx(0.08, abs=0.03)


def test_clinical_cox_in_grid_search_and_cross_validate(simulated):
    X, y = simulated
    cv = KFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search = GridSearchCV(ClinicalCox(), {"p_univariate": [0.01, 0.1]}, cv=cv).fit(X, y)
        scores = cross_validate(ClinicalCox(), X, y, cv=cv)["test_score"]
    assert search.best_params_["p_univariate"] in (0.01, 0.1)
    assert np.all((scores > 0.6) & (scores < 1))
    assert clone(ClinicalCox(p_multivariable=0.2)).get_params()["p_multivariable"] == 0.2


def test_clinical_cox_bad_input(cohort):
    X, y = cohort
    model = ClinicalCox().fit(X, y)
    factor = model.selector_.selected_factors_[0]
    with pytest.raises(ValueError, match=f"missing column.*{factor}"):
        model.predict(X.drop(columns=[factor]))
    nan = X.copy()
    nan.loc[nan.index[1], "age"] = np.nan
    with pytest.raises(ValueError, match="'age' has missing values at patient " + str(X["patient_id"].iloc[1])):
        model.predict(nan)
    with pytest.raises(ValueError, match="efron"):
        ClinicalCox(ties="breslow").fit(X, y)
    with pytest.raises(ValueError, match="censored"):
        ClinicalCox().fit(X, Surv.from_arrays(np.zeros(len(X), bool), y["time"]))


def test_numbers_stored_as_text_and_dates_are_refused(tmp_path):
    # issue 13, item 3: text `age` became 67 dummies, a datetime entered as nanoseconds
    from sksurv_tace.datasets import make_tace_cohort

    X, _ = make_tace_cohort(120, path=tmp_path, with_images=False, random_state=0)
    with pytest.raises(ValueError, match="'age' holds numbers stored as text"):
        ClinicalPreprocessor().fit(X.assign(age=X["age"].astype(str)))
    stray = X.assign(age=X["age"].astype(object))
    stray.loc[stray.index[3], "age"] = "unknown"
    with pytest.raises(ValueError, match=f"not a number at patient {stray['patient_id'].iloc[3]}"):
        ClinicalPreprocessor().fit(stray)
    with pytest.raises(ValueError, match="dates or durations"):
        ClinicalPreprocessor().fit(X.assign(enrolled=pd.Timestamp("2014-01-01")))
    # declared categorical, the same column is accepted as levels
    prep = ClinicalPreprocessor(columns=["age"], categorical=["age"]).fit(X.assign(age=X["age"].astype(str)))
    assert len(prep.get_feature_names_out()) == X["age"].nunique() - 1
