"""A model card and a TRIPOD+AI checklist of an external validation (:func:`~sksurv_tace.paper.validate`).

:func:`validation_model_card` writes what a reader of a validation needs about the locked model: intended use,
the model file and what it carried from its development cohort, the validation cohort, its inputs, performance with
confidence intervals, calibration before and after any recalibration, the development cut-off's risk groups, the
case mix and what was not validated. :func:`validation_tripod_checklist` answers the 27 TRIPOD+AI items (Collins et
al., BMJ 2024;385:e078378) for a validation study: where the validation's files answer each item, or "not applicable
/ not available" and why. :func:`~sksurv_tace.paper.write_validation` writes both beside ``validation_report.md``.
"""

from __future__ import annotations

import numpy as np

from sksurv_tace.paper.formatting import HR_DIGITS, format_ci
from sksurv_tace.paper.model_card import TRIPOD_AI_ITEMS

__all__ = ["validation_model_card", "validation_tripod_checklist"]


def _estimate(row) -> str:
    if np.isnan(row.lower):
        return f"{row.estimate:.3f}"
    return format_ci(row.estimate, row.lower, row.upper)


def _calibration_lines(result) -> list[str]:
    lines = []
    for row in result.tables["calibration"].itertuples():
        lines.append(f"- {row.state}: calibration-in-the-large {row.intercept:.3f}, slope {row.slope:.3f}, "
                     f"ICI {row.ici:.3f}, E50 {row.e50:.3f}, E90 {row.e90:.3f}")  # fmt: skip
    return lines


def _risk_group_line(result) -> str:
    if result.cutoff is None:
        return "Risk groups not formed (no cut-off: see the notes of `validation_report.md`)."
    first = result.tables["risk_groups"].iloc[0]
    hr = format_ci(first["hazard_ratio"], first["hr_lower"], first["hr_upper"], digits=HR_DIGITS,
                   missing="not estimable (a group has no death)")  # fmt: skip
    sizes = ", ".join(f"{r.group} {r.n} ({r.events} deaths)" for r in result.tables["risk_groups"].itertuples())
    p = "< 0.001" if result.log_rank_p < 0.001 else f"{result.log_rank_p:.3f}"
    return (f"Cut-off {result.cutoff:.4g} ({result.cutoff_source}), applied unchanged: {sizes}; log-rank p {p}; "
            f"hazard ratio, high vs low risk, {hr}.")  # fmt: skip


def validation_model_card(result, *, model_name: str = "model", model_hash: str | None = None) -> str:
    """The model card of an external validation, as Markdown.

    Parameters
    ----------
    result : ValidationResult
        From :func:`~sksurv_tace.paper.validate`.
    model_name : str, default="model"
    model_hash : str, optional
        SHA-256 of the model file.

    Returns
    -------
    str

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> from sksurv_tace.paper import validate
    >>> X, y = make_tace_cohort(120, with_images=False, random_state=0)
    >>> X2, y2 = make_tace_cohort(100, with_images=False, random_state=1)
    >>> result = validate(ClinicalCox().fit(X, y), X2, y2, development=(X, y), n_bootstrap=50)
    >>> card = validation_model_card(result, model_name="ClinicalCox")
    >>> card.splitlines()[0], "## Limits and what was not validated" in card
    ('# Model card: ClinicalCox, external validation', True)
    """
    dev = result.development or {}
    lines = [f"# Model card: {model_name}, external validation", ""]
    lines += ["## Intended use", "",
              "Prognosis of overall survival after transarterial chemoembolisation (TACE) for hepatocellular "
              f"carcinoma: a risk score and the predicted survival at {result.horizon:g} days, for research on "
              "prognostic models. This card reports one external validation of the locked model; it does not make "
              "the model fit for clinical decisions.", ""]  # fmt: skip
    lines += ["## Model", "", f"- {model_name}, loaded and never refitted (its predictions were checked to be "
              "bit-identical before and after the validation)."]  # fmt: skip
    if model_hash:
        lines.append(f"- Model file SHA-256: `{model_hash}`")
    if dev:
        cut = dev.get("youden_cutoff")
        lines.append(f"- Development cohort (stored at fit): {dev.get('n')} patients, {dev.get('events')} deaths; "
                     f"risk-group cut-off {cut} (Youden at {dev.get('horizon')} days).")  # fmt: skip
    else:
        lines.append("- No development summary stored on the model (fitted outside `sksurv-tace fit`).")
    lines += [
        "",
        "## Validation cohort",
        "",
        f"- Patients: {result.n}; deaths: {result.events}",
        f"- Inputs read by the model: {', '.join(result.inputs) if result.inputs else 'not named by the model'}",
    ]
    if result.membership_c is not None:
        lines.append(f"- Case mix: membership model C-index {result.membership_c:.3f} (0.5 = same case mix as the "
                     "development cohort; Debray et al. 2015); Table 1 in `case_mix.csv`")  # fmt: skip
    elif "case_mix" in result.tables:
        lines.append("- Case mix: the development Table 1 stored at fit beside this cohort's (`case_mix.csv`); "
                     "no membership model without the development patients")  # fmt: skip
    lines += ["", "## Performance", "", "95% CIs: bootstrap (C-index), iid (TD AUC).", ""]
    lines += [f"- {row.metric}: {_estimate(row)}" for row in result.tables["discrimination"].itertuples()]
    lines += ["", "## Calibration", "", f"At {result.horizon:g} days (slope 1, intercept 0 and ICI 0 are perfect; "
              "`calibration.png`):", "", *_calibration_lines(result)]  # fmt: skip
    lines += ["", "## Risk groups", "", _risk_group_line(result), ""]
    lines += ["## Limits and what was not validated", "", *_limits(result), ""]
    return "\n".join(lines)


def _limits(result) -> list[str]:
    limits = [f"- One external cohort of {result.n} patients ({result.events} deaths): the intervals are wide and "
              "one hospital's case mix is not every hospital's."]  # fmt: skip
    if result.recalibrated is not None:
        limits.append("- The recalibration was estimated and assessed on the same validation patients (apparent "
                      "performance): it must itself be validated before use.")  # fmt: skip
    if result.membership_c is None:
        limits.append("- Without the development patients the case-mix difference is described, not measured.")
    limits.append("- Not evaluated: performance in subgroups (fairness), transportability over time, use in "
                  "routine care, the effect of the model on decisions or outcomes.")  # fmt: skip
    return limits


def _tripod_answers(result) -> dict[int, str]:
    recalibrated = result.recalibrated is not None
    case_mix = "`case_mix.csv` (Table 1, development vs validation)" if "case_mix" in result.tables else (
        "not available: no development Table 1 (stored at fit or given)")  # fmt: skip
    return {
        1: "`validation_report.md` title (external validation of the named model)",
        2: "not available: no structured abstract; `model_card.md` summarises the validation",
        3: "not available: the healthcare context is the development study's; `model_card.md` Intended use",
        4: "`model_card.md` Intended use: external validation of a locked model",
        5: "not available from the software: the validation cohort's source and dates are the authors' to report",
        6: f"{case_mix}; setting, eligibility and treatments: not available from the software",
        7: "the locked model's own preprocessing, unchanged (the model file and its SHA-256 in `model_card.md`)",
        8: f"overall survival (days; deaths as events) at {result.horizon:g} days: `validation_report.md` header",
        9: "`model_card.md` Validation cohort: inputs read by the model",
        10: f"{result.n} patients, {result.events} deaths (`validation_report.md`); no sample-size calculation: "
        "not available",
        11: "the model's own handling, unchanged; `validate` refuses a cohort lacking a factor the model needs",
        12: "`validation_report.md`: Harrell's and Uno's C (bootstrap CI), TD AUC (iid CI), Brier score and "
        "integrated Brier score, calibration (logistic intercept and slope, ICI/E50/E90), risk groups at the "
        "development cut-off (log-rank, Cox hazard ratio), decision curve",
        13: "not applicable: a time-to-event outcome, no resampling or reweighting",
        14: "not available: performance in subgroups was not evaluated",
        15: "risk score and predicted survival at the horizon; risk groups at the development cut-off "
        "(`risk_groups.csv`)",
        16: "the model was developed elsewhere and is evaluated here unchanged (locked); `model_card.md` Model",
        17: "not available: the authors must report approval",
        18: "code: sksurv_tace (the model file's SHA-256 identifies the model); funding, conflicts, protocol, "
        "registration: not available from the software",
        19: "not available: no patient and public involvement in a software run",
        20: f"{case_mix}; `model_card.md` Validation cohort",
        21: "not applicable: no model development in a validation",
        22: "the model file (`sksurv_tace.models.load_model`) and its SHA-256",
        23: "`validation_report.md` Discrimination and Calibration, `discrimination.csv`, `calibration.csv`, "
        "`calibration.png`, `decision_curve.csv`",
        24: (
            "`calibration.csv` row `recalibrated` (apparent: estimated and assessed on the validation cohort)"
            if recalibrated
            else "not applicable: the model was not updated or recalibrated"
        ),
        25: "`model_card.md` Performance, Calibration and Risk groups; the clinical interpretation is the authors'",
        26: "`model_card.md` Limits and what was not validated",
        27: "`model_card.md` Intended use: research only; not validated in routine care",
    }


def validation_tripod_checklist(result, *, model_name: str = "model") -> str:
    """The TRIPOD+AI checklist of an external validation, as Markdown (27 items).

    Parameters
    ----------
    result : ValidationResult
        From :func:`~sksurv_tace.paper.validate`.
    model_name : str, default="model"

    Returns
    -------
    str

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> from sksurv_tace.paper import validate
    >>> X, y = make_tace_cohort(120, with_images=False, random_state=0)
    >>> X2, y2 = make_tace_cohort(100, with_images=False, random_state=1)
    >>> result = validate(ClinicalCox().fit(X, y), X2, y2, n_bootstrap=50)
    >>> text = validation_tripod_checklist(result)
    >>> sum(line[:2] == "| " and line[2].isdigit() for line in text.splitlines())
    27
    """
    answers = _tripod_answers(result)
    lines = [f"# TRIPOD+AI checklist: external validation of {model_name}", "",
             "TRIPOD+AI (Collins et al., BMJ 2024;385:e078378), 27 items. Titles abbreviated; sub-items folded into "
             "their item. Each item: where this validation's output answers it, or not applicable / not available, "
             "and why.", "", "| item | section | topic | where answered |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {number} | {section} | {title} | {answers[number]} |" for number, section, title in TRIPOD_AI_ITEMS]
    return "\n".join(lines) + "\n"
