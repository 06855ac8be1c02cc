import json

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored

from sksurv_tace.datasets.synthetic import make_tace_cohort
from sksurv_tace.models import load_model
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.models.cnn_cox import CNNCox
from sksurv_tace.models.deep import CTSurvival, FusionSurvival
from sksurv_tace.models.radiomics_cox import RadiomicsCox
from sksurv_tace.paper import MODEL_NAMES, reproduce
from sksurv_tace.preprocessing.imaging import CTPreprocessor
from sksurv_tace.preprocessing.radiomics import RadiomicsExtractor


@pytest.fixture(scope="module")
def clinical_run(tmp_path_factory):
    X, y, truth = make_tace_cohort(150, path=tmp_path_factory.mktemp("c"), with_images=False, random_state=1,
                                   return_truth=True)  # fmt: skip
    out = tmp_path_factory.mktemp("report")
    result = reproduce(X, y, out=out, n_bootstrap=100, truth=truth, repeats=2, log=lambda line: None)
    return X, y, truth, result


def test_clinical_only_cohort_runs_and_says_what_was_skipped(clinical_run):
    _, _, _, result = clinical_run
    assert set(result.skipped) == {"FusionSurvival", "CTSurvival", "CNNCox", "RadiomicsCox"}
    assert all("no CT image" in reason for reason in result.skipped.values())
    report = (result.out / "report.md").read_text(encoding="utf-8")
    assert "Models skipped" in report and "RadiomicsCox" in report
    for name in ("table1", "table2", "table3", "table4", "oracle", "comparison", "repeats"):
        assert (result.out / f"{name}.csv").exists(), name
    html = (result.out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 5  # figures embedded, self-contained
    results = json.loads((result.out / "results.json").read_text(encoding="utf-8"))
    assert results["n_training"] + results["n_validation"] == 150


def test_numbers_agree_with_scikit_survival(clinical_run):
    X, y, truth, result = clinical_run
    results = json.loads((result.out / "results.json").read_text(encoding="utf-8"))
    validation = X["patient_id"].isin(results["validation_patients"]).to_numpy()
    model = result.models["ClinicalCox"]
    expected = concordance_index_censored(y["event"][validation], y["time"][validation],
                                          model.predict(X[validation]))[0]  # fmt: skip
    table4 = result.tables["table4"].set_index(["model", "cohort"])
    assert table4.loc[("ClinicalCox", "validation"), "estimate"] == pytest.approx(expected)
    lo, hi = table4.loc[("ClinicalCox", "validation"), ["lower", "upper"]]
    assert lo <= expected <= hi
    oracle = result.tables["oracle"].set_index("cohort")
    true_c = concordance_index_censored(y["event"][validation], y["time"][validation], truth["lp"][validation])[0]
    assert oracle.loc["validation", "c_index"] == pytest.approx(true_c)
    # stratified 8:2 split
    assert results["n_validation"] == 30
    assert abs(y["event"][validation].mean() - y["event"].mean()) < 0.05


def test_repeats_table(clinical_run):
    _, _, _, result = clinical_run
    per_split = result.tables["repeats_per_split"]
    assert sorted(per_split["seed"].unique()) == [0, 1]
    summary = result.tables["repeats"].set_index("model")
    mean = per_split[per_split["model"] == "ClinicalCox"]["c_index"].mean()
    assert summary.loc["ClinicalCox", "c_index_mean"] == pytest.approx(mean, abs=1e-4)


def test_bad_input(tmp_path):
    X, y = make_tace_cohort(20, path=tmp_path / "c", with_images=False, random_state=0)
    with pytest.raises(ValueError, match="repeats"):
        reproduce(X, y, out=tmp_path / "o", repeats=0, log=lambda line: None)
    with pytest.raises(ValueError, match="rows but X has"):
        reproduce(X.iloc[:10], y, out=tmp_path / "o", log=lambda line: None)


def test_all_five_models_on_tiny_images(tmp_path):
    X, y, truth = make_tace_cohort(40, path=tmp_path / "c", image_shape=(8, 48, 48), spacing=(3.0, 3.0, 3.0),
                                   random_state=2, return_truth=True)  # fmt: skip
    deep = dict(
        image_preprocessor=CTPreprocessor(image_size=32), max_epochs=1, batch_size=16, verbose=0, random_state=0
    )
    extractor = RadiomicsExtractor(feature_classes=["firstorder", "shape"], progress=False)
    models = {
        "ClinicalCox": ClinicalCox(p_univariate=0.5, p_multivariable=0.5),
        "RadiomicsCox": RadiomicsCox(extractor=extractor, cv=3, random_state=0),
        "CTSurvival": CTSurvival(**deep),
        "CNNCox": CNNCox(CTSurvival(**deep), select_clinical=False, clinical_columns=["mvi"], alpha=0.1),
        "FusionSurvival": FusionSurvival(**deep, clinical=ClinicalBranch(select=False)),
    }
    result = reproduce(X, y, out=tmp_path / "o", models=models, n_bootstrap=50, truth=truth, log=lambda line: None)
    assert set(result.tables["table4"]["model"]) == set(MODEL_NAMES)
    assert not result.skipped
    table4 = result.tables["table4"]
    others = table4[(table4["model"] != "FusionSurvival") & (table4["cohort"] == "validation")]
    assert others["p_vs_fusion"].notna().all()
    assert (others["p_fdr"] >= others["p_vs_fusion"] - 1e-12).all()
    for name in MODEL_NAMES:
        assert (tmp_path / "o" / "models" / f"{name}.joblib").exists()
    # CNNCox's file refers to CTSurvival's for the shared CT network (issue 16) and predicts as before
    files = tmp_path / "o" / "models"
    assert (files / "CNNCox.joblib").stat().st_size < (files / "CTSurvival.joblib").stat().st_size / 20
    reloaded = load_model(files / "CNNCox.joblib")
    np.testing.assert_array_equal(reloaded.predict(X), result.models["CNNCox"].predict(X))
    assert np.isfinite(result.tables["table3"]["validation_td_auc"]).all()
    assert isinstance(result.tables["auc_pvalues"], pd.DataFrame)
    assert set(result.tables["table_s1"]["model"]) == {"CTSurvival", "FusionSurvival"}
    training = result.tables["training"].set_index("model")
    assert set(training.index) == {"CTSurvival", "FusionSurvival"}  # CNNCox reuses CTSurvival's net
    assert (training["best_epoch"] == [m.best_epoch_[0] for m in map(result.models.get, training.index)]).all()
    assert (tmp_path / "o" / "figures" / "learning_curves.png").is_file()
    assert "Table S1. Multivariable Cox" in (tmp_path / "o" / "report.md").read_text(encoding="utf-8")


def test_real_hcc_tace_seg_table(tmp_path):
    from sksurv_tace.datasets.hcc_tace_seg import load_hcc_tace_seg

    X, y = load_hcc_tace_seg()
    missing = r"missing clinical values \(tumor_size \(52: patient HCC_002.*response \(6: patient HCC_024"
    with pytest.raises(ValueError, match=missing):
        reproduce(X, y, out=tmp_path / "refused", log=lambda line: None)
    assert not (tmp_path / "refused").exists()
    X, y = load_hcc_tace_seg(paper_factors=True)
    result = reproduce(X, y, out=tmp_path / "o", impute="median", n_bootstrap=50, log=lambda line: None)
    assert list(result.tables["table4"]["model"].unique()) == ["ClinicalCox"]
    assert result.results["n_patients"] == 105


def test_results_json_holds_settings_versions_and_every_reported_number(clinical_run):
    from lifelines.statistics import logrank_test
    from sksurv.metrics import brier_score

    X, y, _, result = clinical_run
    results = json.loads((result.out / "results.json").read_text(encoding="utf-8"))
    assert results["n_bootstrap"] == result.results["n_bootstrap"] > 0
    assert results["packages"]["scikit-survival"] and results["packages"]["numpy"]
    assert "p_univariate" in results["model_settings"]["ClinicalCox"]
    validation = X["patient_id"].isin(results["validation_patients"]).to_numpy()
    y_va, y_tr = y[validation], y[~validation]
    surv = result.models["ClinicalCox"].predict_survival_at(X[validation], [1095.0])[:, 0]
    calibration = {row["model"]: row for row in results["tables"]["calibration"]}["ClinicalCox"]
    expected = brier_score(y_tr, y_va, surv[:, None], [1095.0])[1][0]
    assert calibration["brier"] == pytest.approx(expected)
    assert calibration["slope"] is None or np.isfinite(calibration["slope"])
    groups = [r for r in results["tables"]["risk_groups"] if r["cohort"] == "validation"]
    assert {r["group"] for r in groups} == {"low risk", "high risk"}
    high = result.models["ClinicalCox"].predict(X[validation]) >= groups[0]["cutoff"]
    lifelines_p = logrank_test(y_va["time"][high], y_va["time"][~high], y_va["event"][high], y_va["event"][~high])
    assert groups[0]["log_rank_p"] == pytest.approx(lifelines_p.p_value, rel=1e-6)


def test_table_s1_is_the_multivariable_cox_of_a_deep_models_training_output(tmp_path):
    """Table S1: the model named FusionSurvival's training risk (per SD) beside Table 2's selected factors; its
    coefficients are scikit-survival's Efron Cox on the same design. Any estimator stands in for the net here."""
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from sksurv_tace.paper.protocol import run_protocol

    X, y = make_tace_cohort(200, with_images=False, random_state=3)
    stand_in = ClinicalCox(columns=["age", "afp", "tumor_size"], p_univariate=1.0, p_multivariable=1.0)
    table2_model = ClinicalCox()
    run = run_protocol(X, y, {"FusionSurvival": stand_in}, table2_model=table2_model, n_bootstrap=20,
                       log=lambda line: None)  # fmt: skip
    table = run.tables["table_s1"]
    assert set(table["model"]) == {"FusionSurvival"}
    assert table["factor"].iloc[0] == "FusionSurvival output (per SD)"
    X_tr, y_tr = X.iloc[run.train], y[run.train]
    clinical = ClinicalCox().fit(X_tr, y_tr)
    risk = run.fitted["FusionSurvival"].predict(X_tr)
    design = clinical.preprocessor_.transform(X_tr)[clinical.selected_features_]
    design.insert(0, "score", (risk - risk.mean()) / risk.std())
    coef = CoxPHSurvivalAnalysis(ties="efron").fit(design.to_numpy(float), y_tr).coef_
    np.testing.assert_allclose(table["coef_multi"].to_numpy(float), coef, rtol=1e-4, atol=1e-6)
    assert set(table["factor"].iloc[1:]) == {c.split("=")[0] for c in clinical.selected_features_}


def test_repeated_splits_get_paired_tests_and_the_model_card_says_not_significant():
    """With repeats, each model is tested against FusionSurvival over the splits (corrected resampled t-test) and
    the model card's sentence follows the FDR-adjusted p. Two clinical models stand in for the nets."""
    from sksurv_tace.paper.model_card import model_card
    from sksurv_tace.paper.protocol import run_protocol

    X, y = make_tace_cohort(160, with_images=False, random_state=4)
    models = {"FusionSurvival": ClinicalCox(columns=["age", "afp", "mvi"], p_univariate=1.0, p_multivariable=1.0),
              "ClinicalCox": ClinicalCox(columns=["age", "afp", "mvi", "response"], p_univariate=1.0,
                                         p_multivariable=1.0)}  # fmt: skip
    run = run_protocol(X, y, models, table2_model=ClinicalCox(), repeats=3, n_bootstrap=30, log=lambda line: None)
    tests = run.tables["repeats_tests"]
    assert list(tests["metric"]) == ["c_index", "td_auc"] and (tests["n_splits"] == 3).all()
    wide = run.tables["repeats_per_split"].pivot(index="seed", columns="model", values="c_index")
    assert tests["mean_difference"].iloc[0] == pytest.approx((wide["ClinicalCox"] - wide["FusionSurvival"]).mean())
    card = model_card({"tables": {"repeats_tests": tests.to_dict("records")}})
    for row in tests.itertuples():
        metric = "C-index" if row.metric == "c_index" else "TD AUC"
        expected = "not significant" if row.p_fdr >= 0.05 else "significant (FDR-adjusted p < 0.05)"
        assert any(f"validation {metric} over the repeated splits: {expected}" in line or
                   (f"Over the repeated splits FusionSurvival's validation {metric}" in line and expected in line)
                   for line in card.splitlines())  # fmt: skip


def test_repeats_on_a_dask_cluster_equal_the_serial_run():
    """Issue 12, item 4: further splits fitted one per dask worker give the serial run's numbers exactly."""
    import joblib

    distributed = pytest.importorskip("distributed")
    from sksurv_tace.paper.protocol import run_protocol

    X, y = make_tace_cohort(150, with_images=False, random_state=5)
    models = {"ClinicalCox": ClinicalCox(), "ThreeFactorCox": ClinicalCox(columns=["age", "afp", "mvi"])}
    kwargs = dict(table2_model=ClinicalCox(), repeats=3, n_bootstrap=10, log=lambda line: None, progress=False)
    serial = run_protocol(X, y, models, **kwargs).tables["repeats_per_split"]
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None):
        with joblib.parallel_backend("dask"):
            parallel = run_protocol(X, y, models, repeat_jobs=-1, **kwargs).tables["repeats_per_split"]
    pd.testing.assert_frame_equal(parallel, serial)
    assert sorted(set(serial["seed"])) == [0, 1, 2]
