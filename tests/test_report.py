import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sksurv_tace.paper.report import baseline_table


def test_baseline_table_values_and_tests():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "age": rng.normal(60, 10, 80).round(),
        "sex": pd.Categorical(rng.choice(["F", "M"], 80)),
        "stage": pd.Categorical(rng.choice(["A", "B", "C"], 80)),
    })  # fmt: skip
    groups = np.array(["Training"] * 60 + ["Validation"] * 20)
    table = baseline_table(X, groups=groups)
    age = table[table["variable"] == "age"].iloc[0]
    expected_p = stats.mannwhitneyu(X["age"][:60], X["age"][60:]).pvalue
    assert age["p"] == pytest.approx(expected_p)
    q1, q2, q3 = np.percentile(X["age"][:60], [25, 50, 75])
    assert age["Training (n=60)"] == f"{q2:.2f} ({q1:.2f}–{q3:.2f})"
    stage = table[table["variable"] == "stage"]
    counts = pd.crosstab(X["stage"], groups).to_numpy()
    assert stage["p"].iloc[0] == pytest.approx(stats.chi2_contingency(counts, correction=False)[1])
    assert stage["test"].iloc[0] == "χ²"
    n_a = int(((X["stage"] == "A") & (groups == "Validation")).sum())
    assert stage["Validation (n=20)"].iloc[0] == f"{n_a} ({100 * n_a / 20:.1f})"


def test_fisher_for_small_2x2():
    X = pd.DataFrame({"hbv": pd.Categorical(["No"] * 3 + ["Yes"] * 17 + ["Yes"] * 10)})
    groups = ["T"] * 20 + ["V"] * 10
    row = baseline_table(X, groups=groups).iloc[0]
    assert row["test"] == "Fisher"
    assert row["p"] == pytest.approx(stats.fisher_exact([[3, 0], [17, 10]]).pvalue)


def test_bad_input():
    with pytest.raises(ValueError, match="groups has 2 entries"):
        baseline_table(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), groups=["x", "y"])


def test_one_ci_format_in_every_table():
    """Issue 16: ``estimate (lower–upper)``, HRs with 2 decimals, C-index and AUC with 3, p-values one rule."""
    import re

    from sksurv_tace.paper.report import _display_oracle, _display_pvalue_matrix, display_table3, display_table4

    c = dict(estimate=0.71234, lower=0.6, upper=0.8049, p_vs_fusion=0.0004, p_fdr=0.03)
    table4 = display_table4(pd.DataFrame([dict(model="m", cohort="validation", **c)]))
    assert table4.values.tolist() == [["m", "0.712 (0.600–0.805)", "<0.001", "0.030"]]
    keys = ("td_auc", "td_auc_lower", "td_auc_upper", "accuracy", "sensitivity", "specificity", "ppv", "npv")
    values = {f"{cohort}_{k}": 0.81234 for cohort in ("training", "validation") for k in keys}
    table3 = display_table3(pd.DataFrame([{"model": "m", "youden_cutoff": 0.5, **values}])).iloc[0]
    assert table3["training TD AUC (95% CI)"] == "0.812 (0.812–0.812)" and table3["validation ACC"] == "0.812"
    oracle = pd.DataFrame([dict(model="oracle", cohort="validation", c_index=0.8, c_lower=0.7, c_upper=0.9,
                                td_auc=0.85, td_auc_lower=0.75, td_auc_upper=0.95)])  # fmt: skip
    assert _display_oracle(oracle).iloc[0].tolist() == ["oracle", "validation", "0.800 (0.700–0.900)",
                                                        "0.850 (0.750–0.950)"]  # fmt: skip
    matrix = pd.DataFrame({"model": ["a", "b"], "a": [np.nan, 0.0001], "b": [0.0001, np.nan]})
    assert _display_pvalue_matrix(matrix)["a"].tolist() == ["", "<0.001"]
    ci = re.compile(r"\d+\.\d{3} \(\d+\.\d{3}–\d+\.\d{3}\)")
    assert all(ci.fullmatch(cell) for cell in [*table4.iloc[0, 1:2], table3["validation TD AUC (95% CI)"]])


def test_median_follow_up_is_the_reverse_kaplan_meier_median():
    from lifelines import KaplanMeierFitter
    from sksurv.util import Surv

    from sksurv_tace.paper.report import FOLLOW_UP

    rng = np.random.default_rng(3)
    time = rng.exponential(700, 90).round() + 1
    event = rng.random(90) < 0.6
    X = pd.DataFrame({"age": rng.normal(60, 10, 90)})
    groups = np.array(["Training"] * 70 + ["Validation"] * 20)
    table = baseline_table(X, Surv.from_arrays(event, time), groups=groups).set_index("variable")
    for group, mask in (("Training", groups == "Training"), ("Validation", groups == "Validation")):
        reverse = KaplanMeierFitter().fit(time[mask], ~event[mask]).median_survival_time_
        assert table.loc[FOLLOW_UP, f"{group} (n={mask.sum()})"] == f"{reverse:.0f}"
    assert "observed time [days]" in table.index


# ------------------------------------------------------------------------------------------- results.json
SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "results_schema.json"
_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A clinical-only ``reproduce`` run (120 patients, oracle, two splits): its output folder."""
    from sksurv_tace.datasets import make_tace_cohort
    from sksurv_tace.paper import reproduce

    X, y, truth = make_tace_cohort(120, path=tmp_path_factory.mktemp("cohort"), with_images=False, random_state=0,
                                   return_truth=True)  # fmt: skip
    out = tmp_path_factory.mktemp("run")
    reproduce(X, y, out=out, n_bootstrap=20, truth=truth, repeats=2, log=lambda line: None)
    return out


def _is_type(value, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[name])


def _validate(value, schema: dict, root: dict, where: str = "results") -> list[str]:
    """The JSON Schema keywords docs/results_schema.json uses ($ref, type, required, properties,
    additionalProperties, items, minimum), checked without the jsonschema package."""
    errors = []
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        errors += _validate(value, target, root, where)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is_type(value, name) for name in names):
            return errors + [f"{where}: {type(value).__name__} is not {types}"]
    if "minimum" in schema and _is_type(value, "number") and value < schema["minimum"]:
        errors.append(f"{where}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        errors += [f"{where}: no {key!r}" for key in schema.get("required", []) if key not in value]
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = properties.get(key, extra)
            if sub is False:
                errors.append(f"{where}: unexpected {key!r}")
            elif isinstance(sub, dict):
                errors += _validate(item, sub, root, f"{where}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for k, item in enumerate(value):
            errors += _validate(item, schema["items"], root, f"{where}[{k}]")
    return errors


def test_report_is_regenerated_from_results_json_alone(small_run, tmp_path):
    from sksurv_tace.paper import report_from_results

    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(small_run / "results.json", copy)
    shutil.copytree(small_run / "figures", copy / "figures")  # nothing else: no CSV, no model, no cohort
    markdown, page = report_from_results(copy)
    original = (small_run / "report.md").read_bytes()
    assert b"## Repeated splits" in original and b"## Oracle" in original
    assert markdown.read_bytes() == original
    assert page.read_bytes() == (small_run / "report.html").read_bytes()
    with pytest.raises(FileNotFoundError, match="results.json"):
        report_from_results(tmp_path / "nowhere")


def test_report_command(small_run, tmp_path, capsys):
    from sksurv_tace.cli import main

    shutil.copytree(small_run, tmp_path / "run")
    (tmp_path / "run" / "report.md").unlink()
    assert main(["report", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "report.md").read_bytes() == (small_run / "report.md").read_bytes()
    assert "Rewrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("sksurv-tace report: error:") and "results.json" in error and "\n" not in error


def test_results_json_follows_the_documented_schema(small_run):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    results = json.loads((small_run / "results.json").read_text(encoding="utf-8"))
    assert _validate(results, schema, schema) == []
    # the check catches what it should
    broken = {**results, "n_patients": "120", "tables": {**results["tables"], "table4": [{"model": "m"}]}}
    del broken["seconds"]
    errors = _validate(broken, schema, schema)
    assert "results: no 'seconds'" in errors and "results.n_patients: str is not integer" in errors
    assert "results.tables.table4[0]: no 'estimate'" in errors
    # every top-level key is described in docs/reproduce.rst
    page = (SCHEMA.parent / "reproduce.rst").read_text(encoding="utf-8")
    assert [key for key in schema["required"] if f"``{key}``" not in page] == []


# ------------------------------------------------------------------------------------------- transformed factors
def test_log_transformed_labs_carry_transform_and_unit_everywhere(small_run):
    """The paper's labs enter as log1p(lab): so named in summary_, Table 2 (with their unit), the forest plot."""
    import matplotlib.pyplot as plt

    from sksurv_tace.paper.plots import plot_hazard_ratios
    from sksurv_tace.paper.presets import PAPER_LOG_TRANSFORM

    results = json.loads((small_run / "results.json").read_text(encoding="utf-8"))
    assert results["model_settings"]["ClinicalCox"]["log_transform"] == repr(PAPER_LOG_TRANSFORM)
    table2 = pd.DataFrame(results["tables"]["table2"]).set_index("factor")
    units = {"log1p(afp)": "log ng/mL", "log1p(ast)": "log U/L", "log1p(alt)": "log U/L", "log1p(tbil)": "log µmol/L",
             "age": "years", "alb": "g/L", "tumor_size": "mm"}  # fmt: skip
    assert table2.loc[list(units), "unit"].to_dict() == units
    assert not {"afp", "ast", "alt", "tbil"} & set(table2.index)
    assert set(table2.loc[table2["level"] != "", "unit"]) == {""}
    report = (small_run / "report.md").read_text(encoding="utf-8")
    assert "| log1p(alt) [log U/L] |  | " in report and "| tbil [µmol/L] |  | " in report  # Tables 2 and 1
    assert "log1p(x) = ln(1 + x)" in report
    fig = plot_hazard_ratios(table2.reset_index(), model="uni")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    assert "log1p(afp) [log ng/mL]" in labels and "age [years]" in labels


def test_paper_preset_declares_the_log_transform():
    from sksurv_tace.paper.presets import cohort_options, paper_models

    options = cohort_options(pd.DataFrame(columns=["patient_id", "AFP", "alt", "tbil", "ct", "mask"]))
    assert options["log_transform"] == ("alt", "tbil")  # the declared names only: "AFP" is not guessed
    models = paper_models(quick=True, **options)
    assert models["ClinicalCox"].log_transform == ("alt", "tbil")
    assert models["CNNCox"].log_transform == ("alt", "tbil")
    assert models["FusionSurvival"].clinical.log_transform == ("alt", "tbil")
    assert paper_models(with_images=False)["ClinicalCox"].log_transform == ()


def test_results_json_has_the_wall_time_of_every_stage_and_the_report_a_line_of_them(small_run):
    """Issue 15: ``stage_seconds`` in the order the stages ran, shown in the report (regenerable from the JSON)."""
    results = json.loads((small_run / "results.json").read_text(encoding="utf-8"))
    stages = results["stage_seconds"]
    assert list(stages) == ["image_checks", "model_fitting", "evaluation", "figures"]
    assert all(isinstance(v, float) and v >= 0 for v in stages.values())
    assert stages["model_fitting"] <= sum(results["fit_seconds"].values()) + 1e-9
    assert sum(stages.values()) <= results["seconds"]
    report = (small_run / "report.md").read_text(encoding="utf-8")
    assert "Wall time per stage: image checks " in report and "model fitting" in report


def test_stages_run_before_reproduce_are_listed_first(tmp_path):
    """The CLI's cohort writing (``earlier_stages``) heads ``stage_seconds`` and the report's line of stages."""
    from sksurv_tace.datasets import make_tace_cohort
    from sksurv_tace.paper import reproduce

    X, y = make_tace_cohort(100, with_images=False, random_state=0)
    result = reproduce(X, y, out=tmp_path, n_bootstrap=20, log=lambda line: None, progress=False,
                       earlier_stages={"cohort_writing": 1.5})  # fmt: skip
    stages = result.results["stage_seconds"]
    assert list(stages)[:2] == ["cohort_writing", "image_checks"] and stages["cohort_writing"] == 1.5
    assert "Wall time per stage: cohort writing 2 s, image checks " in (tmp_path / "report.md").read_text("utf-8")
