"""A model card and a TRIPOD+AI checklist of a :func:`~sksurv_tace.paper.reproduce` run, from ``results.json`` alone.

:func:`write_model_card` writes ``model_card.md``: intended use, the cohort, the inputs, the models and their
settings, performance on the validation cohort with CIs (C-index, TD AUC at the horizon), calibration (slope, ICI),
the paired comparisons and the limits of the run. Every sentence that compares two models rests on the run's paired
tests (Table 4's bootstrap test of the C-index, ``p_vs_fusion`` and its BH-FDR adjusted ``p_fdr``; the pairwise TD
AUC tests' FDR-adjusted p-values of ``auc_pvalues``) and says "not significant" where the FDR-adjusted p is 0.05 or
more; models are listed in the run's order, never ranked.

:func:`write_tripod_checklist` writes ``tripod_ai.md``: the 27 items of the TRIPOD+AI checklist (Collins et al.,
BMJ 2024;385:e078378), each with where the run's output answers it (a section of ``report.md`` or
``model_card.md``, a CSV table, a key of ``results.json``) or "not applicable / not available" with why. The items
are listed by number and an abbreviated title (the checklist's topic headings as best known; sub-items such as 3a-c
are folded into their item), not in the checklist's full wording: read the published checklist alongside.

Both read only ``out/results.json``, so, like :func:`~sksurv_tace.paper.report_from_results`, they regenerate the
same bytes from a copy of that file alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from sksurv_tace.paper.formatting import METRIC_DIGITS, format_ci, format_p
from sksurv_tace.paper.presets import IMAGE_MODELS, REFERENCE
from sksurv_tace.paper.report import FOLLOW_UP, read_results

__all__ = ["TRIPOD_AI_ITEMS", "model_card", "tripod_checklist", "write_model_card", "write_tripod_checklist"]

#: FDR-adjusted p at or above which a difference is reported as "not significant".
ALPHA = 0.05

#: The 27 TRIPOD+AI items: (number, section, abbreviated title).
TRIPOD_AI_ITEMS = (
    (1, "Title and abstract", "Title"),
    (2, "Title and abstract", "Abstract"),
    (3, "Introduction", "Background (healthcare context, target population, health inequalities)"),
    (4, "Introduction", "Objectives"),
    (5, "Methods", "Data (sources, dates)"),
    (6, "Methods", "Participants (setting, eligibility, treatments)"),
    (7, "Methods", "Data preparation"),
    (8, "Methods", "Outcome"),
    (9, "Methods", "Predictors"),
    (10, "Methods", "Sample size"),
    (11, "Methods", "Missing data"),
    (12, "Methods", "Analytical methods"),
    (13, "Methods", "Class imbalance"),
    (14, "Methods", "Fairness"),
    (15, "Methods", "Model output"),
    (16, "Methods", "Training versus evaluation"),
    (17, "Methods", "Ethical approval"),
    (18, "Open science", "Funding, conflicts of interest, protocol, registration, data and code sharing"),
    (19, "Patient and public involvement", "Patient and public involvement"),
    (20, "Results", "Participants"),
    (21, "Results", "Model development"),
    (22, "Results", "Model specification"),
    (23, "Results", "Model performance"),
    (24, "Results", "Model updating"),
    (25, "Discussion", "Interpretation"),
    (26, "Discussion", "Limitations"),
    (27, "Discussion", "Usability of the model in the context of current care"),
)


def _rows(results: dict, table: str) -> list[dict]:
    return list((results.get("tables") or {}).get(table) or [])


def _horizon(results: dict) -> str:
    days = float(results.get("horizon_days") or 1095.0)
    years = days / 365.25
    return f"{years:.0f}-year" if abs(years - round(years)) < 0.05 else f"{days:.0f}-day"


def _models(results: dict) -> list[str]:
    """The models of the run, in the run's order (Table 4's, else the settings')."""
    names = [r["model"] for r in _rows(results, "table4")] or list(results.get("model_settings") or {})
    return list(dict.fromkeys(names))


def _synthetic(results: dict) -> bool:
    return bool(_rows(results, "oracle")) or "synthetic" in str(results.get("cohort", "")).lower()


def _group_cells(row: dict) -> dict:
    """The per-cohort cells of a Table 1 row: ``{"Training (n=96)": "70 (72.9)", ...}``."""
    return {k: v for k, v in row.items() if re.fullmatch(r".+ \(n=\d+\)", k)}


def _events(results: dict) -> tuple[int | None, str]:
    """Deaths in all, and per cohort as Table 1 prints them."""
    rows = [r for r in _rows(results, "table1") if r.get("variable") == "deaths" and r.get("level") == "Yes"]
    if not rows:
        return None, ""
    cells = _group_cells(rows[0])
    total = sum(int(str(v).split()[0]) for v in cells.values())
    return total, "; ".join(f"{k.split(' (n=')[0].lower()} {v}" for k, v in cells.items())


def _follow_up(results: dict) -> str:
    rows = [r for r in _rows(results, "table1") if r.get("variable") == FOLLOW_UP]
    cells = _group_cells(rows[0]) if rows else {}
    return "; ".join(f"{k.split(' (n=')[0].lower()} {v} days" for k, v in cells.items())


def _clinical_columns(results: dict) -> list[str]:
    skip = {"deaths", "observed time [days]", FOLLOW_UP}
    names = [re.sub(r" \[.*\]$", "", r["variable"]) for r in _rows(results, "table1") if r["variable"] not in skip]
    return list(dict.fromkeys(names))


def _image_models(results: dict) -> list[str]:
    return [name for name in _models(results) if name in IMAGE_MODELS]


def _short(value: str, width: int = 70) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _finite(value) -> bool:
    return isinstance(value, int | float) and value == value and abs(value) != float("inf")


def _verdict(p_fdr) -> str:
    if not _finite(p_fdr):
        return "no FDR-adjusted p (test undefined)"
    return "not significant" if p_fdr >= ALPHA else f"significant (FDR-adjusted p < {ALPHA:g})"


def _c_index_comparisons(results: dict) -> list[str]:
    """Table 4's paired bootstrap tests of the validation C-index against FusionSurvival, one sentence each."""
    rows = {r["model"]: r for r in _rows(results, "table4") if r.get("cohort") == "validation"}
    reference = rows.get(REFERENCE)
    sentences = []
    for name, r in rows.items():
        if name == REFERENCE or reference is None or not _finite(r.get("p_vs_fusion")):
            continue
        p, p_fdr = r["p_vs_fusion"], r.get("p_fdr")
        numbers = (f"C-index {reference['estimate']:.{METRIC_DIGITS}f} vs {r['estimate']:.{METRIC_DIGITS}f}, "
                   f"paired bootstrap p = {format_p(p)}, FDR-adjusted p = {format_p(p_fdr)}")  # fmt: skip
        if _finite(p_fdr) and p_fdr < ALPHA:
            side = "higher" if reference["estimate"] > r["estimate"] else "lower"
            sentences.append(f"{REFERENCE}'s validation C-index is {side} than {name}'s ({numbers}): "
                             f"{_verdict(p_fdr)}.")  # fmt: skip
        else:
            sentences.append(f"{REFERENCE} vs {name}, validation C-index: {_verdict(p_fdr)} ({numbers}); "
                             "the run does not show that either discriminates better.")  # fmt: skip
    return sentences


def _auc_comparisons(results: dict) -> list[str]:
    """The pairwise TD AUC tests (validation, FDR-adjusted p of each distinct pair), one sentence each."""
    matrix = {r["model"]: r for r in _rows(results, "auc_pvalues")}
    auc = {r["model"]: r.get("validation_td_auc") for r in _rows(results, "table3")}
    names, label, sentences = list(matrix), _horizon(results), []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p_fdr = matrix[a].get(b)
            if not _finite(p_fdr):
                continue
            numbers = f"FDR-adjusted p = {format_p(p_fdr)}"
            if _finite(auc.get(a)) and _finite(auc.get(b)):
                numbers = f"{auc[a]:.{METRIC_DIGITS}f} vs {auc[b]:.{METRIC_DIGITS}f}, " + numbers
            if p_fdr < ALPHA:
                side = "higher" if (auc.get(a) or 0) > (auc.get(b) or 0) else "lower"
                sentences.append(f"{a}'s {label} TD AUC is {side} than {b}'s ({numbers}): {_verdict(p_fdr)}.")
            else:
                sentences.append(f"{a} vs {b}, {label} TD AUC: {_verdict(p_fdr)} ({numbers}); the run does not "
                                 "show that either discriminates better.")  # fmt: skip
    return sentences


def _split_comparisons(results: dict) -> list[str]:
    """The corrected resampled t-tests over repeated splits (``repeats_tests``), one sentence each."""
    sentences = []
    for r in _rows(results, "repeats_tests"):
        p_fdr, name, metric = r.get("p_fdr"), r["model"], "C-index" if r["metric"] == "c_index" else "TD AUC"
        numbers = (f"mean difference {r['reference']} minus {name} {-r['mean_difference']:+.{METRIC_DIGITS}f} over "
                   f"{r['n_splits']} splits, corrected resampled t-test p = {format_p(r.get('p_value'))}, "
                   f"FDR-adjusted p = {format_p(p_fdr)}")  # fmt: skip
        if _finite(p_fdr) and p_fdr < ALPHA:
            side = "higher" if r["mean_difference"] < 0 else "lower"
            sentences.append(f"Over the repeated splits {r['reference']}'s validation {metric} is {side} than "
                             f"{name}'s ({numbers}): {_verdict(p_fdr)}.")  # fmt: skip
        else:
            sentences.append(f"{r['reference']} vs {name}, validation {metric} over the repeated splits: "
                             f"{_verdict(p_fdr)} ({numbers}).")  # fmt: skip
    return sentences


def _performance_table(results: dict) -> list[str]:
    t4 = {r["model"]: r for r in _rows(results, "table4") if r.get("cohort") == "validation"}
    t3 = {r["model"]: r for r in _rows(results, "table3")}
    cal = {r["model"]: r for r in _rows(results, "calibration")}
    label = _horizon(results)
    lines = [f"| model | C-index (95% CI) | {label} TD AUC (95% CI) | calibration slope | ICI | Brier |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name in _models(results):
        c = t4.get(name, {})
        a = t3.get(name, {})
        k = cal.get(name, {})
        cells = [
            format_ci(c.get("estimate"), c.get("lower"), c.get("upper")),
            format_ci(a.get("validation_td_auc"), a.get("validation_td_auc_lower"), a.get("validation_td_auc_upper")),
            *(f"{k[key]:.{METRIC_DIGITS}f}" if _finite(k.get(key)) else "" for key in ("slope", "ici", "brier")),
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def model_card(results: dict) -> str:
    """The model card of a run, as Markdown, from the contents of its ``results.json``.

    Parameters
    ----------
    results : dict
        ``results.json`` of :func:`~sksurv_tace.paper.reproduce` (``docs/results_schema.json``).

    Returns
    -------
    str

    Examples
    --------
    >>> results = dict(cohort="a synthetic cohort", n_patients=150, n_training=120, n_validation=30, quick=True,
    ...                horizon_days=1095.0, random_state=0, n_bootstrap=200, device="cpu", skipped={},
    ...                model_settings={"ClinicalCox": {"ties": "'efron'"}},
    ...                tables={"table4": [dict(model="ClinicalCox", cohort="validation", estimate=0.71, lower=0.62,
    ...                                        upper=0.8, p_vs_fusion=None, p_fdr=None)]})
    >>> card = model_card(results)
    >>> "| ClinicalCox | 0.710 (0.620–0.800) |" in card, "No paired comparison" in card
    (True, True)
    """
    horizon, models = _horizon(results), _models(results)
    events, per_cohort = _events(results)
    image_models = _image_models(results)
    synthetic = _synthetic(results)
    lines = [f"# Model card: {', '.join(models) or 'no model'} on {results.get('cohort', 'a cohort')}", ""]
    lines += ["## Intended use", "",
              "Prognosis of overall survival after transarterial chemoembolisation (TACE) for hepatocellular "
            "carcinoma: "
              f"a risk score and the predicted {horizon} survival of a patient, for research on prognostic models "
              "(a reproduction of Sun et al. 2024). Not for clinical decisions: the models have not been validated "
              "for the care of individual patients.", ""]  # fmt: skip
    cohort = [f"- Name: {results.get('cohort', 'not recorded')}" + (" (synthetic)" if synthetic else ""),
              f"- Patients: {results.get('n_patients')}"]  # fmt: skip
    if events is not None:
        cohort.append(f"- Events (deaths): {events} ({per_cohort})")
    follow_up = _follow_up(results)
    if follow_up:
        cohort.append(f"- Median follow-up (reverse Kaplan–Meier): {follow_up}")
    cohort.append(f"- Split: {results.get('n_training')} training, {results.get('n_validation')} validation "
                  f"(seeded, event-stratified 8:2 split, seed {results.get('random_state')})")  # fmt: skip
    lines += ["## Cohort", "", *cohort, "", "Table 1 of `report.md` (`table1.csv`) describes both cohorts.", ""]
    columns = _clinical_columns(results)
    images = (f"CT volumes and tumour masks were used (by {', '.join(image_models)})." if image_models
              else "CT volumes and tumour masks were not used (clinical models only).")  # fmt: skip
    lines += ["## Inputs", "", f"Clinical columns: {', '.join(columns) if columns else 'not recorded'}.", "", images]
    skipped = results.get("skipped") or {}
    lines += [f"- {name} not run: {why}" for name, why in skipped.items()]
    lines += ["", "## Models and settings", ""]
    preset = "quick CPU preset" if results.get("quick") else "paper configuration"
    lines += [f"{preset} on {results.get('device')}; {results.get('n_bootstrap')} bootstrap resamples; "
              f"sksurv_tace {results.get('sksurv_tace')}. Settings as `repr` (long values shortened; the full "
              "values are in `results.json`, key `model_settings`):", ""]  # fmt: skip
    for name, settings in (results.get("model_settings") or {}).items():
        shown = ", ".join(f"{k}={_short(str(v))}" for k, v in settings.items())
        lines.append(f"- {name}: {shown}")
    lines += ["", "## Performance on the validation cohort", "",
              f"{results.get('n_validation')} patients; 95% CIs from Table 4 (C-index, bootstrap) and Table 3 "
              f"(TD AUC); calibration at the {horizon} horizon from `calibration.csv` (slope 1 and ICI 0 are "
              "perfect). Models in the run's order, not ranked.", "", *_performance_table(results), ""]  # fmt: skip
    comparisons = _c_index_comparisons(results) + _auc_comparisons(results) + _split_comparisons(results)
    lines += ["## Comparisons between models", ""]
    if comparisons:
        lines += [f"Paired tests of the run (`table4.csv`: bootstrap test of the C-index against {REFERENCE}, "
                  "p and BH-FDR adjusted p; `auc_pvalues.csv`: FDR-adjusted p of the pairwise TD AUC tests; with "
                  "repeated splits `repeats_tests.csv`: corrected resampled t-test over the splits). "
                  f"A difference with FDR-adjusted p ≥ {ALPHA:g} is not significant.", ""]  # fmt: skip
        lines += [f"- {sentence}" for sentence in comparisons]
    else:
        lines.append("No paired comparison: the run has no paired test between models, so no model is ranked.")
    lines += ["", "## Limits and what was not validated", "", *_limits(results, synthetic), ""]
    return "\n".join(lines)


def _limits(results: dict, synthetic: bool) -> list[str]:
    limits = []
    if synthetic:
        limits.append("- The cohort is synthetic (simulated patients, known true risk): the numbers test the "
                      "software and the protocol, not a clinical claim.")  # fmt: skip
    if _rows(results, "repeats"):
        limits.append("- Performance is from one seeded training/validation split; the repeated splits of "
                      "`repeats.csv` show how much it moves with the split.")  # fmt: skip
    else:
        limits.append("- A single seeded training/validation split of one cohort: the numbers move with the split "
                      "(run with `repeats` to see how much).")  # fmt: skip
    limits.append(f"- Small validation cohort ({results.get('n_validation')} patients): wide confidence intervals "
                  "and low power of the paired tests.")  # fmt: skip
    if results.get("quick"):
        limits.append("- The quick CPU preset (smaller images and networks, fewer epochs), not the paper's "
                      "configuration: any deep model here is not the paper's.")  # fmt: skip
    if "external_validation" in results:
        limits.append("- External validation: see `external_validation` in `results.json`.")
    else:
        limits.append("- No external validation: the models were not tested on another hospital's patients "
                      "(`sksurv-tace validate` does that with a locked model).")  # fmt: skip
    limits.append("- Not evaluated: performance in subgroups (fairness), recalibration, clinical utility beyond "
                  "the decision curves, use in routine care.")  # fmt: skip
    return limits


def _tripod_answers(results: dict) -> dict[int, str]:
    """Where the run's output answers each TRIPOD+AI item."""
    synthetic = _synthetic(results)
    data = "synthetic data" if synthetic else "the authors' own records"
    tables = set(results.get("tables") or {})
    impute = {str(s.get("impute")) for s in (results.get("model_settings") or {}).values() if "impute" in s}
    imputed = sorted(v for v in impute if v not in ("None", ""))
    missing = (f"imputed inside each model from the training cohort (`impute={', '.join(imputed)}`, "
               "`results.json` `model_settings`)" if imputed
               else "no imputation: `reproduce` refuses a cohort with missing clinical values, naming them, so the "
               "run is complete-case by construction")  # fmt: skip
    performance = (
        "`report.md` Tables 3 and 4 (`table3.csv`, `table4.csv`), `calibration.csv`, figures "
        "(ROC, calibration, decision curves); `model_card.md` Performance"
    )
    if "repeats" in tables:
        performance += "; `repeats.csv` (repeated splits)"
    return {
        1: "`report.md` title (the cohort and the reproduction); a manuscript's title is not available from a run",
        2: "not available: the run writes no structured abstract; `model_card.md` summarises the run",
        3: "not available: the healthcare context and target population are the paper's (Sun et al. 2024); "
        "`model_card.md` Intended use; health inequalities were not examined",
        4: "`model_card.md` Intended use: evaluation of the paper's models on this cohort (development on the "
        "training cohort, evaluation on the validation cohort)",
        5: f"`results.json` `cohort` ({results.get('cohort')}); accrual dates not available ({data} without dates)",
        6: "`report.md` Table 1 (`table1.csv`); setting, eligibility and treatments: not available from a run "
        "(the cohort is given as is; all patients had TACE)",
        7: "`results.json` `model_settings` (log transforms, image preprocessing, imputation); `model_card.md` "
        "Models and settings",
        8: f"overall survival (days; deaths as events), assessed at {float(results.get('horizon_days') or 1095):.0f} "
        "days: "
        "`report.md` header, `results.json` `horizon_days`",
        9: "`model_card.md` Inputs; `report.md` Table 1 (the clinical predictors with units)",
        10: "`report.md` Table 1 (patients and deaths per cohort), `results.json` `n_patients`; no sample size "
        "calculation: not available",
        11: missing,
        12: "`report.md` Tables 2–4 and their headings (Cox regression, TD AUC at the Youden cut-off, C-index with "
        f"{results.get('n_bootstrap')} bootstrap resamples, paired tests with BH-FDR); `results.json` "
        "`model_settings`",
        13: "not applicable: a time-to-event outcome, modelled without resampling or reweighting",
        14: "not available: performance in subgroups (sex, age, aetiology) was not evaluated",
        15: "risk score (higher = riskier) and predicted survival at the horizon; risk groups at the training "
        "Youden cut-off: `results.json` `youden_cutoffs`, `report.md` Table 3, `risk_groups.csv`",
        16: f"`model_card.md` Cohort: {results.get('n_training')} training and {results.get('n_validation')} "
        "validation patients of one seeded, event-stratified split; `results.json` `training_patients`, "
        "`validation_patients`",
        17: "not applicable: synthetic data" if synthetic else "not available: the authors must report approval",
        18: f"code: sksurv_tace {results.get('sksurv_tace')} (`results.json` `sksurv_tace`, `packages`); data: the "
        "patient identifiers of each cohort in `results.json`; funding, conflicts of interest, protocol, registration: "
        "not available from a run",
        19: "not available: no patient and public involvement in a software run",
        20: "`report.md` Table 1 (both cohorts, deaths, median follow-up by reverse Kaplan–Meier); `model_card.md` "
        "Cohort",
        21: "`report.md` Table 2 (univariable and multivariable Cox), `results.json` `model_settings` and "
        "`fit_seconds`",
        22: "`models/` (the fitted models, `sksurv_tace.models.load_model`); `report.md` Table 2 (ClinicalCox "
        "coefficients)",
        23: performance,
        24: "not applicable: the models were not updated or recalibrated in this run",
        25: "`model_card.md` Performance and Comparisons between models (each difference with its FDR-adjusted p); "
        "the clinical interpretation is the authors'",
        26: "`model_card.md` Limits and what was not validated",
        27: "`model_card.md` Intended use: research only, not for clinical decisions; not validated in routine care",
    }


def tripod_checklist(results: dict) -> str:
    """The TRIPOD+AI checklist of a run, as Markdown: 27 numbered items, each with where the run answers it.

    Parameters
    ----------
    results : dict
        ``results.json`` of :func:`~sksurv_tace.paper.reproduce`.

    Returns
    -------
    str

    Examples
    --------
    >>> text = tripod_checklist(dict(cohort="a cohort", horizon_days=1095.0, tables={}))
    >>> rows = [line for line in text.splitlines() if line[:2] == "| " and line[2].isdigit()]
    >>> len(rows), rows[12][:40]
    (27, '| 13 | Methods | Class imbalance | not a')
    """
    answers = _tripod_answers(results)
    lines = [f"# TRIPOD+AI checklist: {results.get('cohort', 'a cohort')}", "",
             "TRIPOD+AI (Collins et al., BMJ 2024;385:e078378), 27 items. Titles abbreviated; sub-items folded into "
             "their item. Each item: where this run's output answers it, or not applicable / not available, "
             "and why.", "", "| item | section | topic | where answered |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {number} | {section} | {title} | {answers[number]} |" for number, section, title in TRIPOD_AI_ITEMS]
    return "\n".join(lines) + "\n"


def write_model_card(out) -> Path:
    """Write ``model_card.md`` of a :func:`~sksurv_tace.paper.reproduce` run from its ``results.json``.

    Parameters
    ----------
    out : path-like
        The output folder of a run (only ``results.json`` is read).

    Returns
    -------
    Path
        ``out / "model_card.md"`` (overwritten).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp())
    >>> results = dict(cohort="a cohort", n_patients=150, n_training=120, n_validation=30, horizon_days=1095.0,
    ...                tables={"table4": []})
    >>> _ = (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    >>> write_model_card(out).name
    'model_card.md'
    """
    path = Path(out) / "model_card.md"
    path.write_text(model_card(read_results(out, "the model card")) + "\n", encoding="utf-8")
    return path


def write_tripod_checklist(out) -> Path:
    """Write ``tripod_ai.md`` of a :func:`~sksurv_tace.paper.reproduce` run from its ``results.json``.

    Parameters
    ----------
    out : path-like
        The output folder of a run (only ``results.json`` is read).

    Returns
    -------
    Path
        ``out / "tripod_ai.md"`` (overwritten).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp())
    >>> _ = (out / "results.json").write_text(json.dumps(dict(cohort="a cohort", tables={})), encoding="utf-8")
    >>> write_tripod_checklist(out).read_text(encoding="utf-8").count("\\n| ")
    28
    """
    path = Path(out) / "tripod_ai.md"
    path.write_text(tripod_checklist(read_results(out, "the TRIPOD+AI checklist")), encoding="utf-8")
    return path
