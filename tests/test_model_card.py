"""Issue 14, item 4: ``reproduce`` writes ``model_card.md`` and ``tripod_ai.md``, both from ``results.json`` alone."""

import json
import re
import shutil
import warnings

import pandas as pd
import pytest

from sksurv_tace.paper.formatting import format_ci, format_p


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A cheap clinical-only ``reproduce`` run (120 patients, oracle) with two clinical models, so the run has a
    paired TD AUC test: its output folder."""
    from sksurv_tace.datasets import make_tace_cohort
    from sksurv_tace.models.clinical_cox import ClinicalCox
    from sksurv_tace.paper import reproduce

    X, y, truth = make_tace_cohort(120, path=tmp_path_factory.mktemp("cohort"), with_images=False, random_state=0,
                                   return_truth=True)  # fmt: skip
    models = {"ClinicalCox": ClinicalCox(), "ClinicalCox (age, afp)": ClinicalCox(columns=["age", "afp"])}
    out = tmp_path_factory.mktemp("run")
    with warnings.catch_warnings():  # the age/afp model keeps its most significant factor; decision curve NaNs
        warnings.simplefilter("ignore")
        reproduce(X, y, out=out, n_bootstrap=20, truth=truth, models=models, quick=True, log=lambda line: None)
    return out


def _tripod_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if re.match(r"\| \d+ \|", line)
    ]


def test_reproduce_writes_the_card_and_the_checklist(small_run):
    card = (small_run / "model_card.md").read_text(encoding="utf-8")
    table4 = pd.read_csv(small_run / "table4.csv")
    for r in table4[table4["cohort"] == "validation"].itertuples():
        assert f"| {r.model} | {format_ci(r.estimate, r.lower, r.upper)} |" in card
    table3 = pd.read_csv(small_run / "table3.csv").set_index("model")
    auc = table3.loc["ClinicalCox", ["validation_td_auc", "validation_td_auc_lower", "validation_td_auc_upper"]]
    assert format_ci(*auc) in card
    calibration = pd.read_csv(small_run / "calibration.csv").set_index("model")
    assert f"{calibration.loc['ClinicalCox', 'slope']:.3f} | {calibration.loc['ClinicalCox', 'ici']:.3f}" in card
    for heading in ("Intended use", "Cohort", "Inputs", "Models and settings", "Performance on the validation cohort",
                    "Comparisons between models", "Limits and what was not validated"):  # fmt: skip
        assert f"## {heading}" in card
    assert "not for clinical decisions" in card.lower() and "synthetic" in card and "No external validation" in card
    assert "quick CPU preset" in card and "CT volumes and tumour masks were not used" in card
    assert "Patients: 120" in card and "Split: 96 training, 24 validation" in card
    # the only paired test of this run: the TD AUC pair, with its FDR-adjusted p
    p_fdr = pd.read_csv(small_run / "auc_pvalues.csv").set_index("model").loc["ClinicalCox", "ClinicalCox (age, afp)"]
    assert f"FDR-adjusted p = {format_p(p_fdr)}" in card

    rows = _tripod_rows((small_run / "tripod_ai.md").read_text(encoding="utf-8"))
    assert [int(r[0]) for r in rows] == list(range(1, 28))
    assert all(len(r) == 4 and r[2] and r[3] for r in rows)
    answers = {int(r[0]): r[3] for r in rows}
    assert answers[17].startswith("not applicable") and answers[13].startswith("not applicable")
    assert "model_card.md" in answers[26] and "table4.csv" in answers[23]


def test_both_regenerate_from_results_json_alone(small_run, tmp_path):
    from sksurv_tace.paper import write_model_card, write_tripod_checklist

    shutil.copy(small_run / "results.json", tmp_path)  # nothing else: no CSV, no figure, no model
    assert write_model_card(tmp_path).read_bytes() == (small_run / "model_card.md").read_bytes()
    assert write_tripod_checklist(tmp_path).read_bytes() == (small_run / "tripod_ai.md").read_bytes()
    with pytest.raises(FileNotFoundError, match="results.json"):
        write_model_card(tmp_path / "nowhere")


def _with_reference(results: dict, p: float, p_fdr: float) -> dict:
    """The run's results with a FusionSurvival row in Table 4 and a paired test of ClinicalCox against it."""
    table4 = [dict(r) for r in results["tables"]["table4"]]
    for r in table4:
        if r["model"] == "ClinicalCox" and r["cohort"] == "validation":
            r.update(p_vs_fusion=p, p_fdr=p_fdr)
    table4.append(dict(model="FusionSurvival", cohort="validation", estimate=0.9, lower=0.8, upper=0.95,
                       p_vs_fusion=None, p_fdr=None))  # fmt: skip
    return {**results, "tables": {**results["tables"], "table4": table4}}


@pytest.mark.parametrize("p, p_fdr", [(0.03, 0.06), (0.2, 0.05)])
def test_a_comparison_with_fdr_p_at_or_above_005_is_not_significant(small_run, p, p_fdr):
    from sksurv_tace.paper import model_card

    results = json.loads((small_run / "results.json").read_text(encoding="utf-8"))
    card = model_card(_with_reference(results, p, p_fdr))
    lines = [line for line in card.splitlines() if line.startswith("- FusionSurvival vs ClinicalCox,")]
    assert len(lines) == 1
    assert "not significant" in lines[0] and f"p = {p:.3f}" in lines[0] and f"FDR-adjusted p = {p_fdr:.3f}" in lines[0]
    assert "higher" not in lines[0] and "better" not in lines[0].replace(
        "does not show that either discriminates better", ""
    )


def test_a_significant_comparison_names_its_direction_and_its_tests(small_run):
    from sksurv_tace.paper import model_card

    results = json.loads((small_run / "results.json").read_text(encoding="utf-8"))
    card = model_card(_with_reference(results, 0.001, 0.004))
    line = next(line for line in card.splitlines() if line.startswith("- FusionSurvival's validation C-index"))
    assert "is higher than ClinicalCox's" in line and "FDR-adjusted p = 0.004" in line
    assert "significant (FDR-adjusted p < 0.05)" in line and "not significant" not in line


def test_one_model_no_ranking():
    from sksurv_tace.paper import model_card

    table4 = [dict(model="ClinicalCox", cohort="validation", estimate=0.7, lower=0.6, upper=0.8, p_vs_fusion=None,
                   p_fdr=None)]  # fmt: skip
    card = model_card(dict(cohort="a cohort", n_validation=30, tables={"table4": table4}))
    assert "No paired comparison" in card and "significant" not in card
