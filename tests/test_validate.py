"""External validation of a locked model (paper.validate, ``sksurv-tace validate``) and predict's risk groups."""

import re

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import integrated_brier_score

from sksurv_tace.cli import main
from sksurv_tace.datasets import make_tace_cohort
from sksurv_tace.datasets.manifest import write_manifest
from sksurv_tace.models import ClinicalCox
from sksurv_tace.paper.validate import validate


def _shifted_cohort(n=600, random_state=1):
    """Another seed, and mostly the worse BCLC-B subclasses (B3/B4) and microvascular invasion."""
    X, y = make_tace_cohort(n, with_images=False, random_state=random_state)
    rng = np.random.default_rng(0)
    worse = X["bclc_b_subclass"].isin(["B3", "B4"]).to_numpy()
    keep = worse | ((X["mvi"] == "Yes").to_numpy() & (rng.random(n) < 0.5)) | (rng.random(n) < 0.1)
    return X[keep].reset_index(drop=True), y[keep]


@pytest.fixture(scope="module")
def development():
    return make_tace_cohort(300, with_images=False, random_state=0)


@pytest.fixture(scope="module")
def model(development):
    return ClinicalCox().fit(*development)


def test_locked_validation_on_a_shifted_cohort(development, model):
    X, y = _shifted_cohort()
    before = model.predict(X).copy(), model.predict_survival_at(X, [365.0, 1095.0]).copy()
    result = validate(model, X, y, development=development, recalibrate="slope", n_bootstrap=50)
    assert np.array_equal(model.predict(X), before[0])  # bit-identical: never refitted
    assert np.array_equal(model.predict_survival_at(X, [365.0, 1095.0]), before[1])
    assert result.membership_c > 0.6
    calibration = result.tables["calibration"].set_index("state")
    locked, after = calibration.loc["locked", "slope"], calibration.loc["recalibrated", "slope"]
    assert abs(locked - 1) > 0.2
    assert abs(after - 1) < abs(locked - 1)
    d = result.tables["discrimination"]
    assert d["metric"].str.startswith(("Harrell", "Uno", "TD AUC", "Brier", "Integrated Brier")).all()
    # the integrated Brier score is scikit-survival's on the grid named in its row
    ibs_row = d[d["metric"].str.startswith("Integrated")].iloc[0]
    start, stop = (float(v) for v in re.findall(r"(\d+)–(\d+) days", ibs_row["metric"])[0])
    grid = np.linspace(np.quantile(y["time"], 0.1), min(1095.0, np.quantile(y["time"], 0.9)), 50)
    assert (round(grid[0]), round(grid[-1])) == (start, stop)
    expected = integrated_brier_score(y, y, model.predict_survival_at(X, grid), grid)
    assert ibs_row["estimate"] == pytest.approx(expected, rel=1e-12)
    assert ((d["lower"] <= d["estimate"]) | d["lower"].isna()).all()
    assert set(result.tables["case_mix"].columns) >= {"variable", "level", "p"}
    assert result.cutoff is not None and "development" in result.cutoff_source
    assert list(result.tables["risk_groups"]["group"]) == ["low risk", "high risk"]
    groups = result.tables["risk_groups"].iloc[0]
    assert groups["hr_lower"] < groups["hazard_ratio"] < groups["hr_upper"]
    assert {"threshold"} <= set(result.tables["decision_curve"].columns)
    assert "Membership model C-index" in result.to_markdown()


def test_missing_factors_are_named(model, development):
    X, y = development
    with pytest.raises(ValueError, match=r"lacks the factor\(s\) \['age', 'mvi'\]"):
        validate(model, X.drop(columns=["age", "mvi"]), y, n_bootstrap=10)
    with pytest.raises(ValueError, match="recalibrate"):
        validate(model, X, y, recalibrate="both")


def test_cli_validate_and_predict(tmp_path, capsys, development):
    X_dev, y_dev = development
    X, y = _shifted_cohort(300)
    dev = write_manifest(tmp_path / "dev.csv", X_dev, y_dev)
    external = write_manifest(tmp_path / "external.csv", X, y)
    model = tmp_path / "clinical.joblib"
    assert main(["fit", "--manifest", str(dev), "--model", "ClinicalCox", "--out", str(model), "--quiet"]) == 0
    out = tmp_path / "validation"
    argv = ["validate", "--model", str(model), "--manifest", str(external), "--out", str(out), "--development",
            str(dev), "--recalibrate", "slope", "--n-bootstrap", "20"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Membership C-index" in printed
    for name in ("validation_report.md", "calibration.png", "discrimination.csv", "calibration.csv", "case_mix.csv",
                 "membership.csv", "risk_groups.csv", "decision_curve.csv", "model.json", "model_card.md",
                 "risk_groups.png", "decision_curve.png",
                 "tripod_ai.md"):  # fmt: skip
        assert (out / name).is_file(), name
    import hashlib
    import json

    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert json.loads((out / "model.json").read_text(encoding="utf-8"))["sha256"] == sha
    assert sha in (out / "validation_report.md").read_text(encoding="utf-8")
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert sha in card and "Harrell's C (bootstrap CI): " in card and "recalibrated:" in card
    assert "apparent performance" in card  # the recalibration's own limit
    rows = [line for line in (out / "tripod_ai.md").read_text(encoding="utf-8").splitlines()
            if line[:2] == "| " and line[2].isdigit()]  # fmt: skip
    assert [int(line.split("|")[1]) for line in rows] == list(range(1, 28))
    assert "recalibrated" in rows[23]  # item 24, model updating, answered by the recalibration
    assert "stored at fit" in (out / "validation_report.md").read_text(
        encoding="utf-8"
    )  # the cut-off fit stored on the model
    # a factor the model needs is missing: exit 2, one line naming it
    lacking = write_manifest(tmp_path / "lacking.csv", X.drop(columns=["afp"]), y)
    assert main(["validate", "--model", str(model), "--manifest", str(lacking), "--out", str(tmp_path / "v2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "afp" in err and "error:" in err
    # predict: survival at 365, 730, 1095 days, non-increasing, and the risk group by the stored Youden cut-off
    predictions = tmp_path / "pred.csv"
    assert main(["predict", "--manifest", str(external), "--model", str(model), "--out", str(predictions)]) == 0
    table = pd.read_csv(predictions)
    assert {"survival_365", "survival_730", "survival_1095", "risk_group", "risk_cutoff"} <= set(table.columns)
    assert (table["survival_365"] >= table["survival_730"]).all()
    assert (table["survival_730"] >= table["survival_1095"]).all()
    assert set(table["risk_group"]) == {"high", "low"}
    assert (table["risk_group"].eq("high") == (table["risk"] >= table["risk_cutoff"])).all()
    assert table["cutoff_source"].str.contains("Youden").all()


def test_synthetic_model_validates_on_the_real_hcc_tace_seg_table(development):
    """A ClinicalCox fitted on the synthetic cohort's factors that the real table records runs end to end on it;
    the full synthetic model is refused with the factors the real table lacks named."""
    from sksurv_tace.datasets import load_hcc_tace_seg

    X_dev, y_dev = development
    X, y = load_hcc_tace_seg()
    common = ["age", "sex", "diabetes", "cirrhosis", "hepatitis", "afp", "child_pugh", "response"]
    X = X.assign(
        hepatitis=np.where(X["hepatitis"].astype(str).isin(["HBV only", "HCV and HBV"]), "HBV", "No-HBV"),
        child_pugh=np.where(X["child_pugh"].astype(str) == "A", "A", "B-C"),
    )
    keep = X[common].notna().all(axis=1).to_numpy()
    X, y = X.loc[keep, common].reset_index(drop=True), y[keep]
    full = ClinicalCox().fit(X_dev, y_dev)
    lacking = [c for c in full.feature_names_in_ if c not in X.columns and c != "patient_id"]
    assert len(lacking) == 11
    with pytest.raises(ValueError, match=re.escape(f"lacks the factor(s) {lacking}")):
        validate(full, X, y, n_bootstrap=10)
    model = ClinicalCox().fit(X_dev[common], y_dev)
    before = model.predict(X).copy()
    result = validate(model, X, y, development=(X_dev[common], y_dev), recalibrate="slope", n_bootstrap=50)
    assert np.array_equal(model.predict(X), before)
    assert result.n == len(X) and 0.4 < result.tables["discrimination"]["estimate"].iloc[0] < 0.8
    assert 0.5 < result.membership_c <= 1.0
