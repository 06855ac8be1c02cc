"""External validation of a locked model: :func:`validate` and :func:`development_summary`.

A model fitted on one hospital's patients is tested, unchanged, on another's: discrimination
(Harrell's and Uno's C, the time-dependent AUC, with confidence intervals), calibration at a horizon
(calibration-in-the-large, slope, ICI/E50/E90), the development cohort's risk-group cut-off applied
as it is (Kaplan-Meier medians, log-rank p), a decision curve and the Brier score, and the case mix:
Table 1 of development vs validation and a membership model's C-index (Debray et al. 2015, J Clin
Epidemiol 68:279-289: how well the clinical factors tell the two cohorts apart; 0.5 = same case
mix). With ``recalibrate`` the calibration is also reported after a recalibration that keeps the
model locked (:class:`~sksurv_tace.models.RecalibratedSurvival`). The model is never refitted:
:func:`validate` checks that its predictions are bit-identical before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sksurv_tace import metrics
from sksurv_tace.datasets import CLINICAL_UNITS
from sksurv_tace.paper.formatting import HR_DIGITS, format_ci, format_p
from sksurv_tace.paper.report import baseline_table, markdown_table
from sksurv_tace.paper.validation_card import validation_model_card, validation_tripod_checklist

__all__ = ["validate", "ValidationResult", "development_summary", "required_columns", "write_validation"]

_NOT_CLINICAL = {"patient_id", "ct", "mask", "time", "event"}


def required_columns(model) -> list[str]:
    """The input columns a fitted model reads (``feature_names_in_``), without ``patient_id`` and images.

    Parameters
    ----------
    model : estimator
        A fitted model of :mod:`sksurv_tace.models`.

    Returns
    -------
    list of str
        Empty when the model does not name its columns.

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> X, y = make_tace_cohort(80, with_images=False, random_state=0)
    >>> "bclc_b_subclass" in required_columns(ClinicalCox().fit(X, y))
    True
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return []
    return [str(c) for c in names if str(c) not in _NOT_CLINICAL]


def _check_columns(model, X: pd.DataFrame, cohort: str = "the validation cohort") -> None:
    missing = [c for c in required_columns(model) if c not in X.columns]
    if missing:
        raise ValueError(
            f"{cohort} lacks the factor(s) {missing} that the model needs (it has "
            f"{[c for c in X.columns if c not in _NOT_CLINICAL]}); add them or validate a model fitted without them"
        )


def development_summary(model, X: pd.DataFrame, y, *, horizon: float = 1095.0) -> dict:
    """What a model should carry from its development cohort: size, cut-offs and Table 1.

    ``sksurv-tace fit`` stores it on the model as ``model.development_``; :func:`validate` and
    ``sksurv-tace predict`` read the risk-group cut-off from it.

    Parameters
    ----------
    model : estimator
        The model, fitted on ``(X, y)``.
    X : DataFrame
    y : structured array
    horizon : float, default=1095
        Horizon of the Youden cut-off (days).

    Returns
    -------
    dict
        ``n, events, horizon, youden_cutoff, median_risk`` and ``table1`` (records of
        :func:`~sksurv_tace.paper.report.baseline_table`).

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> X, y = make_tace_cohort(80, with_images=False, random_state=0)
    >>> summary = development_summary(ClinicalCox().fit(X, y), X, y)
    >>> summary["n"], sorted(summary)[:3]
    (80, ['events', 'horizon', 'median_risk'])
    """
    risk = np.asarray(model.predict(X), dtype=float)
    table = baseline_table(X, y, units=CLINICAL_UNITS)
    try:
        youden = float(metrics.youden_cutoff(y, risk, horizon))
    except ValueError:  # no death (or no survivor) by the horizon: no cut-off
        youden = None
    return {
        "n": int(len(X)),
        "events": int(np.asarray(y["event"]).sum()),
        "horizon": float(horizon),
        "youden_cutoff": youden,
        "median_risk": float(np.median(risk)),
        "table1": table.astype(object).where(table.notna(), None).to_dict("records"),
    }


@dataclass
class ValidationResult:
    """What :func:`validate` found on the external cohort.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``discrimination`` (metric, estimate, lower, upper), ``calibration`` (one row per model
        state: ``locked`` and, with ``recalibrate``, ``recalibrated``; plus ``development`` when the
        development cohort was given), ``calibration_groups``, ``risk_groups`` (KM medians per
        group), ``decision_curve``, and with a development cohort ``case_mix`` (Table 1) and
        ``membership``.
    calibration : CalibrationResult
        The locked model's calibration on the validation cohort.
    recalibrated : CalibrationResult or None
    development_calibration : CalibrationResult or None
    membership_c : float or None
        Cross-validated (5-fold, stratified) ROC AUC of a logistic regression predicting cohort
        membership from the clinical factors both cohorts have.
    cutoff : float or None
    cutoff_source : str
    log_rank_p : float or None
    horizon : float
    n, events : int
    notes : list of str
    development : dict or None
        The model's ``development_`` summary (stored by ``sksurv-tace fit``), when it has one.
    inputs : list of str
        The clinical columns the model reads (:func:`required_columns`).
    groups : RiskGroups or None
        The development cut-off's risk groups on the validation cohort (Kaplan–Meier curves).
    """

    tables: dict
    calibration: object
    recalibrated: object = None
    development_calibration: object = None
    membership_c: float | None = None
    cutoff: float | None = None
    cutoff_source: str = ""
    log_rank_p: float | None = None
    horizon: float = 1095.0
    n: int = 0
    events: int = 0
    notes: list = field(default_factory=list)
    development: dict | None = None
    inputs: list = field(default_factory=list)
    groups: object = None

    def to_markdown(self, *, model_name: str = "model", model_hash: str | None = None) -> str:
        """A short validation report in Markdown.

        Parameters
        ----------
        model_name : str, default="model"
        model_hash : str, optional
            SHA-256 of the model file, printed when given.

        Returns
        -------
        str
        """
        lines = [f"# External validation of {model_name}", ""]
        if model_hash:
            lines += [f"Model file SHA-256: `{model_hash}` (the model was loaded and never refitted).", ""]
        lines += [f"Validation cohort: {self.n} patients, {self.events} deaths; horizon {self.horizon:g} days.", ""]
        d = self.tables["discrimination"]
        lines += ["## Discrimination and overall accuracy", ""]
        lines += [
            f"- {r.metric}: " + (f"{r.estimate:.3f}" if np.isnan(r.lower) else format_ci(r.estimate, r.lower, r.upper))
            for r in d.itertuples()
        ]
        lines += ["", "## Calibration", "", markdown_table(self.tables["calibration"]), ""]
        if self.cutoff is not None:
            p = format_p(self.log_rank_p)
            first = self.tables["risk_groups"].iloc[0]
            hr = format_ci(first["hazard_ratio"], first["hr_lower"], first["hr_upper"], digits=HR_DIGITS,
                           missing="not estimable (a group has no death)")  # fmt: skip
            lines += ["## Risk groups", "", f"Cut-off {self.cutoff:.4g} ({self.cutoff_source}); log-rank p {p}; "
                      f"hazard ratio, high vs low risk, {hr} (Cox, Wald 95% CI).", "",
                      markdown_table(self.tables["risk_groups"]), ""]  # fmt: skip
        if self.membership_c is not None:
            lines += ["## Case mix", "", f"Membership model C-index {self.membership_c:.3f} (5-fold cross-validated "
                      "logistic regression of cohort membership on the shared clinical factors; 0.5 = same case "
                      "mix; Debray et al. 2015). Table 1 (development vs validation): case_mix.csv.", ""]  # fmt: skip
        if self.notes:
            lines += ["## Notes", ""] + [f"- {note}" for note in self.notes] + [""]
        return "\n".join(lines)

    def plot_calibration(self, ax=None):
        """Calibration at the horizon: locked model, recalibrated and development curves, with groups.

        Parameters
        ----------
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4.5))
        curves = [("validation, locked", self.calibration, "C0"), ("validation, recalibrated", self.recalibrated, "C1"),
                  ("development", self.development_calibration, "0.5")]  # fmt: skip
        for label, cal, colour in curves:
            if cal is None:
                continue
            ax.plot(cal.curve["predicted"], cal.curve["observed"], color=colour, label=label)
            g = cal.groups
            ax.errorbar(g["predicted"], g["observed"], yerr=[g["observed"] - g["lower"], g["upper"] - g["observed"]],
                        fmt="o", color=colour, ms=4, capsize=2)  # fmt: skip
        ax.plot([0, 1], [0, 1], ls=":", color="k", lw=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"Predicted survival at {self.horizon:g} days",
               ylabel="Observed survival (Kaplan-Meier)")  # fmt: skip
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        return ax


def _calibration_row(state: str, cal) -> dict:
    return dict(state=state, intercept=cal.intercept, slope=cal.slope, ici=cal.ici, e50=cal.e50, e90=cal.e90)


def _membership_c(X_dev: pd.DataFrame, X_val: pd.DataFrame, columns: list[str], random_state) -> float:
    """Cross-validated ROC AUC of a logistic regression of membership (validation = 1) on ``columns``."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = pd.concat([X_dev[columns], X_val[columns]], ignore_index=True)
    member = np.r_[np.zeros(len(X_dev), int), np.ones(len(X_val), int)]
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(data[c])]
    categorical = [c for c in columns if c not in numeric]
    data[categorical] = data[categorical].astype(object).where(data[categorical].notna(), "missing").astype(str)
    encode = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        (OneHotEncoder(handle_unknown="ignore"), categorical),
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(5, shuffle=True, random_state=random_state)
    probability = cross_val_predict(model, data, member, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(member, probability))


def _case_mix(X_dev, y_dev, X, y, columns) -> pd.DataFrame:
    both = pd.concat([X_dev[columns], X[columns]], ignore_index=True)
    groups = np.r_[np.full(len(X_dev), "Development"), np.full(len(X), "Validation")]
    y_both = np.concatenate([np.asarray(y_dev), np.asarray(y).astype(np.asarray(y_dev).dtype)])
    return baseline_table(both, y_both, groups=groups, units=CLINICAL_UNITS)


def _risk_table(groups) -> pd.DataFrame:
    return groups.summary.assign(
        cutoff=groups.cutoff, log_rank_p=groups.p_value, hazard_ratio=groups.hazard_ratio,
        hr_lower=groups.hazard_ratio_lower, hr_upper=groups.hazard_ratio_upper,
    )  # fmt: skip


def _integration_times(y, horizon: float, n_times: int = 50):
    """Grid of the integrated Brier score: the 10th percentile of follow-up to the horizon or the 90th percentile.

    Both ends inside the cohort's follow-up, as IPCW needs (None when the grid would be empty).
    """
    time = np.asarray(y["time"], dtype=float)
    lower, upper = np.quantile(time, 0.1), min(horizon, np.quantile(time, 0.9))
    if not lower < upper < time.max():
        return None
    return np.linspace(lower, upper, n_times)


def _cutoff(model, development, cutoff, horizon) -> tuple[float | None, str]:
    if cutoff is not None:
        return float(cutoff), "given"
    stored = getattr(model, "development_", None) or {}
    if stored.get("youden_cutoff") is not None:
        return float(
            stored["youden_cutoff"]
        ), f"Youden cut-off at {stored.get('horizon', horizon):g} days stored at fit"
    if development is not None:
        X_dev, y_dev = development
        value = metrics.youden_cutoff(y_dev, model.predict(X_dev), horizon)
        return float(value), f"Youden cut-off at {horizon:g} days on the development cohort"
    return None, "none: no cut-off given, stored on the model or computable without the development cohort"


def validate(
    model, X, y, *, horizon=1095.0, development=None, cutoff=None, recalibrate=None, n_bootstrap=1000, random_state=0
) -> ValidationResult:
    """Validate a fitted, locked survival model on an external cohort; never refits it.

    Parameters
    ----------
    model : estimator
        A fitted model with ``predict`` (risk, higher = riskier) and ``predict_survival_at``.
    X : DataFrame
        The external cohort, with every column the model reads (missing ones are named in a
        ``ValueError``).
    y : structured array
        Its survival (days).
    horizon : float, default=1095
        Horizon (days) of the TD AUC, calibration, decision curve, Brier score and Youden cut-off.
    development : tuple (X_dev, y_dev), optional
        The development cohort: adds Table 1 of development vs validation, the membership
        model's C-index, the development calibration curve, and (if none is given or stored)
        the Youden cut-off on it.
    cutoff : float, optional
        Risk-group cut-off on ``model.predict``. Default: ``model.development_["youden_cutoff"]``
        (stored by ``sksurv-tace fit``), else the Youden cut-off on ``development``.
    recalibrate : {None, "slope", "intercept"}, default=None
        Also report calibration after :class:`~sksurv_tace.models.RecalibratedSurvival` of
        ``FrozenEstimator(model)`` fitted on this cohort (apparent: estimated and assessed on the
        same patients).
    n_bootstrap : int, default=1000
        Bootstrap resamples of the C-index intervals.
    random_state : int, default=0

    Returns
    -------
    ValidationResult

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> X, y = make_tace_cohort(120, with_images=False, random_state=0)
    >>> X2, y2 = make_tace_cohort(100, with_images=False, random_state=1)
    >>> model = ClinicalCox().fit(X, y)
    >>> result = validate(model, X2, y2, development=(X, y), recalibrate="slope", n_bootstrap=50)
    >>> list(result.tables["calibration"]["state"])
    ['locked', 'recalibrated', 'development']
    """
    if recalibrate not in (None, "slope", "intercept"):
        raise ValueError(f"recalibrate must be None, 'slope' or 'intercept'; got {recalibrate!r}")
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"X must be a pandas DataFrame of the external cohort; got {type(X).__name__}")
    _check_columns(model, X)
    if development is not None:
        _check_columns(model, development[0])
    horizon = float(horizon)
    risk = np.asarray(model.predict(X), dtype=float)
    survival = np.asarray(model.predict_survival_at(X, [horizon]), dtype=float)[:, 0]
    notes = []
    harrell = metrics.c_index_ci(y, risk, n_bootstrap=n_bootstrap, random_state=random_state, progress=False)
    uno = metrics.c_index_ci(y, risk, method="uno", n_bootstrap=n_bootstrap, random_state=random_state, progress=False)
    auc = metrics.td_auc_ci(y, risk, [horizon]).iloc[0]
    brier = metrics.brier_at(y, survival, horizon)
    rows = [("Harrell's C (bootstrap CI)", harrell.estimate, harrell.lower, harrell.upper),
            ("Uno's C (bootstrap CI)", uno.estimate, uno.lower, uno.upper),
            (f"TD AUC at {horizon:g} days (iid CI)", auc["auc"], auc["lower"], auc["upper"]),
            (f"Brier score at {horizon:g} days", brier, np.nan, np.nan)]  # fmt: skip
    ibs_times = _integration_times(y, horizon)
    if ibs_times is None:
        notes.append("Integrated Brier score not computed: too little follow-up before the horizon.")
    else:
        ibs = metrics.integrated_brier(y, np.asarray(model.predict_survival_at(X, ibs_times), dtype=float), ibs_times)
        rows.append((f"Integrated Brier score, {ibs_times[0]:.0f}–{ibs_times[-1]:.0f} days", ibs, np.nan, np.nan))
    discrimination = pd.DataFrame(rows, columns=["metric", "estimate", "lower", "upper"])
    calibration = metrics.calibration_at_horizon(y, survival, horizon)
    rows = [_calibration_row("locked", calibration)]
    recalibrated = None
    if recalibrate is not None:
        from sklearn.frozen import FrozenEstimator

        from sksurv_tace.models import RecalibratedSurvival

        updated = RecalibratedSurvival(FrozenEstimator(model), method=recalibrate).fit(X, y)
        after = np.asarray(updated.predict_survival_at(X, [horizon]), dtype=float)[:, 0]
        recalibrated = metrics.calibration_at_horizon(y, after, horizon)
        rows.append(_calibration_row("recalibrated", recalibrated) | {"cox_slope": updated.slope_})
        notes.append(f"Recalibration ({recalibrate}) estimated and assessed on the validation cohort (apparent).")
    tables = {"discrimination": discrimination, "calibration_groups": calibration.groups}
    development_calibration = membership = None
    if development is not None:
        X_dev, y_dev = development
        dev_survival = np.asarray(model.predict_survival_at(X_dev, [horizon]), dtype=float)[:, 0]
        development_calibration = metrics.calibration_at_horizon(y_dev, dev_survival, horizon)
        rows.append(_calibration_row("development", development_calibration))
        shared = [c for c in X_dev.columns if c in X.columns and c not in _NOT_CLINICAL]
        tables["case_mix"] = _case_mix(X_dev, y_dev, X, y, shared)
        membership = _membership_c(X_dev, X, shared, random_state)
        tables["membership"] = pd.DataFrame(
            {"c_index": [membership], "method": ["5-fold cross-validated logistic regression"],
             "factors": [", ".join(shared)], "n_development": [len(X_dev)], "n_validation": [len(X)]}
        )  # fmt: skip
    elif getattr(model, "development_", None) and model.development_.get("table1"):
        stored = pd.DataFrame(model.development_["table1"])
        here = baseline_table(X, y, units=CLINICAL_UNITS)
        tables["case_mix"] = stored.merge(here, on=["variable", "level"], how="outer", suffixes=("_development",
                                          "_validation"))  # fmt: skip
        notes.append("Case mix: the development Table 1 is the summary stored at fit; no membership model without "
                     "the development patients.")  # fmt: skip
    tables["calibration"] = pd.DataFrame(rows)
    value, source = _cutoff(model, development, cutoff, horizon)
    p_value = groups = None
    if value is not None:
        try:
            groups = metrics.risk_groups(y, risk, value)
            tables["risk_groups"], p_value = _risk_table(groups), groups.p_value
        except ValueError as exc:
            notes.append(f"Risk groups not formed: {exc}")
            value = None
    else:
        notes.append(f"Risk groups not formed: {source}.")
    tables["decision_curve"] = metrics.decision_curve(y, 1.0 - survival, horizon)
    if not np.array_equal(np.asarray(model.predict(X), dtype=float), risk):
        raise RuntimeError("the model's predictions changed during validation; it must stay locked")
    return ValidationResult(
        tables, calibration, recalibrated, development_calibration, membership, value, source, p_value, horizon,
        len(X), int(np.asarray(y["event"]).sum()), notes, getattr(model, "development_", None), required_columns(model),
        groups,
    )  # fmt: skip


def write_validation(result: ValidationResult, out, *, model_name: str = "model", model_hash: str | None = None):
    """Write a :class:`ValidationResult`: CSV tables, the report, figures, model card and TRIPOD+AI checklist.

    Figures: ``calibration.png``, ``risk_groups.png`` (Kaplan–Meier at the development cut-off, when formed)
    and ``decision_curve.png``.

    Also ``model_card.md`` and ``tripod_ai.md``
    (:func:`~sksurv_tace.paper.validation_card.validation_model_card`,
    :func:`~sksurv_tace.paper.validation_card.validation_tripod_checklist`).

    Parameters
    ----------
    result : ValidationResult
    out : str or path-like
        Folder (created if missing).
    model_name : str, default="model"
    model_hash : str, optional
        SHA-256 of the model file, written into the report.

    Returns
    -------
    list of Path
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sksurv_tace.paper import plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in result.tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
        written.append(out / f"{name}.csv")
    report = out / "validation_report.md"
    report.write_text(result.to_markdown(model_name=model_name, model_hash=model_hash), encoding="utf-8")
    ax = result.plot_calibration()
    ax.figure.savefig(out / "calibration.png", dpi=150, bbox_inches="tight")
    plt.close(ax.figure)
    figures = [out / "calibration.png"]
    if result.groups is not None:
        figure = plots.plot_risk_groups(result.groups, title=f"{model_name}, validation cohort")
        figure.savefig(out / "risk_groups.png", dpi=150, bbox_inches="tight")
        plt.close(figure)
        figures.append(out / "risk_groups.png")
    figure = plots.plot_decision_curve(result.tables["decision_curve"], horizon=result.horizon,
                                       title=f"{model_name}, validation cohort")  # fmt: skip
    figure.savefig(out / "decision_curve.png", dpi=150, bbox_inches="tight")
    plt.close(figure)
    figures.append(out / "decision_curve.png")
    card, checklist = out / "model_card.md", out / "tripod_ai.md"
    card.write_text(validation_model_card(result, model_name=model_name, model_hash=model_hash) + "\n",
                    encoding="utf-8")  # fmt: skip
    checklist.write_text(validation_tripod_checklist(result, model_name=model_name), encoding="utf-8")
    return [*written, report, *figures, card, checklist]
