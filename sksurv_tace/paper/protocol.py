"""The paper's evaluation protocol on any cohort: five models, Tables 1–4, figures, a report.

:func:`reproduce` runs what ``sksurv-tace reproduce`` runs (DESIGN.md, "Evaluation
protocol"): a seeded, event-stratified 8:2 split; Table 1; Table 2 (uni- and
multivariable Cox of the clinical factors); the five models fitted on the training
cohort; Table 3 (3-year TD AUC with 95% CI, accuracy, sensitivity, specificity, PPV
and NPV at the training cohort's Youden cut-off); Table 4 (Harrell's C with 95% CI,
p-value against FusionSurvival, BH-FDR adjusted); the figures; optionally repeated
splits; and the oracle C-index / TD AUC when the true risk is known.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from sksurv_tace import metrics
from sksurv_tace._validation import check_survival_target, row_labels
from sksurv_tace._version import __version__
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.models.cnn_cox import CNNCox
from sksurv_tace.models.deep import CTSurvival, FusionSurvival
from sksurv_tace.models.radiomics_cox import RadiomicsCox
from sksurv_tace.paper import plots
from sksurv_tace.paper.report import baseline_table, write_report
from sksurv_tace.preprocessing.imaging import CTPreprocessor
from sksurv_tace.preprocessing.radiomics import DEFAULT_CT_SETTINGS, RadiomicsExtractor

__all__ = ["reproduce", "paper_models", "cohort_options", "ReproduceResult", "MODEL_NAMES", "PAPER_VALIDATION"]

MODEL_NAMES = ("FusionSurvival", "CTSurvival", "CNNCox", "RadiomicsCox", "ClinicalCox")
IMAGE_MODELS = ("FusionSurvival", "CTSurvival", "CNNCox", "RadiomicsCox")
REFERENCE = "FusionSurvival"

#: The paper's validation-cohort figures (Tables 3 and 4): 3-year TD AUC and Harrell's C.
PAPER_VALIDATION = pd.DataFrame(
    {
        "model": list(MODEL_NAMES),
        "paper_name": ["DLOP_Combin", "DLOP_CTR", "DLOP_Cox", "Radiomic", "Clinical"],
        "td_auc": [0.96, 0.89, 0.89, 0.63, 0.62],
        "c_index": [0.88, 0.75, 0.77, 0.59, 0.56],
    }
)

# Deep-network settings. "quick": a CPU preset that finishes the 301-patient cohort in minutes: 64 px ROIs with a
# 2 cm margin keep the tumour's texture at about the CT's own resolution (a 5 cm margin at 64 px blurs it; measured
# on the synthetic cohort, see benchmarks/RESULTS.md). "paper": ResNet-101 on 224 px ROIs, 5 cm margin (a GPU job).
_DEEP_PRESETS = {
    "quick": dict(backbone="resnet18", image_size=64, margin_mm=20.0, max_epochs=40, batch_size=32, lr=1e-3,
                  weight_decay=1e-4, early_stopping="loss", patience=10),
    "paper": dict(backbone="resnet101", image_size=224, margin_mm=50.0, max_epochs=60, batch_size=32, lr=3e-4,
                  weight_decay=1e-4, early_stopping="loss", patience=10),
}  # fmt: skip
_ROI_PARAMETERS = ("image_size", "margin_mm")  # of the CTPreprocessor; the rest configure the net
# Quick radiomics: no resampling to 1 mm (5x faster on the synthetic volumes), five feature classes.
_RADIOMICS_QUICK = dict(
    settings={**DEFAULT_CT_SETTINGS, "resampledPixelSpacing": None},
    feature_classes=["firstorder", "glcm", "glrlm", "glszm", "shape"],
)


def paper_models(
    *,
    quick: bool = False,
    device: str = "cpu",
    random_state=0,
    memory=None,
    n_jobs=None,
    with_images: bool = True,
    log_transform=(),
    impute=None,
) -> dict:
    """The five models of the paper, unfitted, configured as ``reproduce`` uses them.

    Parameters
    ----------
    quick : bool, default=False
        CPU preset (ResNet-18, 64 px ROIs with a 2 cm margin, up to 40 epochs with early
        stopping; radiomics without resampling, five feature classes) instead of the paper's
        configuration (ResNet-101, 224 px ROIs with a 5 cm margin; radiomics resampled to 1 mm,
        all 3-D feature classes of the original image).
    device : {"cpu", "cuda", "auto"}, default="cpu"
    random_state : int, default=0
    memory : str or None
        Folder caching ROI tensors and radiomics features between runs.
    n_jobs : int or None
        Patients processed in parallel by the image transformers.
    with_images : bool, default=True
        False returns ``ClinicalCox`` only (a cohort without CT).
    log_transform : sequence of str, default=()
        Skewed clinical columns (labs) log-transformed before the Cox models and the MLP.
    impute : {None, "median", "most_frequent"}, default=None
        Missing clinical values: None raises an error naming the column; otherwise imputed
        with training-cohort statistics (see :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`).

    Returns
    -------
    dict of str to estimator
        In the order they are fitted: ClinicalCox, RadiomicsCox, CTSurvival, CNNCox,
        FusionSurvival (``CNNCox`` wraps the ``CTSurvival`` instance with ``prefit=True``
        once that is fitted, see :func:`reproduce`).

    Examples
    --------
    >>> sorted(paper_models(quick=True))
    ['CNNCox', 'CTSurvival', 'ClinicalCox', 'FusionSurvival', 'RadiomicsCox']
    >>> list(paper_models(with_images=False))
    ['ClinicalCox']
    """
    log_transform = tuple(log_transform)
    clinical = dict(log_transform=log_transform, impute=impute)
    models = {"ClinicalCox": ClinicalCox(**clinical)}
    if not with_images:
        return models
    preset = _DEEP_PRESETS["quick" if quick else "paper"]
    radiomics = _RADIOMICS_QUICK if quick else {}
    extractor = RadiomicsExtractor(memory=memory, n_jobs=n_jobs, progress=True, **radiomics)
    models["RadiomicsCox"] = RadiomicsCox(extractor=extractor, random_state=random_state)
    net = {k: v for k, v in preset.items() if k not in _ROI_PARAMETERS}
    roi = {k: preset[k] for k in _ROI_PARAMETERS}
    image = CTPreprocessor(**roi, memory=memory, n_jobs=n_jobs)
    deep = dict(net, image_preprocessor=image, device=device, random_state=random_state, verbose=1)
    models["CTSurvival"] = CTSurvival(**deep)
    models["CNNCox"] = CNNCox(clone(models["CTSurvival"]), **clinical)
    models["FusionSurvival"] = FusionSurvival(**deep, clinical=ClinicalBranch(**clinical))
    return models


def cohort_options(X: pd.DataFrame) -> dict:
    """The :func:`paper_models` options a cohort decides: whether it has images, which labs to log-transform.

    ``with_images`` is true when ``X`` has ``ct`` and ``mask`` columns; ``log_transform``
    lists the skewed laboratory values of the TACE cohorts present in ``X`` (AFP, AST, ALT,
    bilirubin). ``reproduce`` and ``sksurv-tace fit`` both build their models this way.

    Examples
    --------
    >>> cohort_options(pd.DataFrame(columns=["patient_id", "afp", "tbil", "mvi"]))
    {'with_images': False, 'log_transform': ('afp', 'tbil')}
    """
    return {
        "with_images": {"ct", "mask"} <= set(X.columns),
        "log_transform": tuple(c for c in ("afp", "ast", "alt", "tbil") if c in X.columns),
    }


@dataclass
class ReproduceResult:
    """What :func:`reproduce` made: tables, figure paths, every number, the fitted models.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``table1`` … ``table4``, ``repeats`` (with ``repeats > 1``), ``comparison`` (ours vs paper).
    figures : dict of str to list of Path
    results : dict
        Everything written to ``results.json``.
    models : dict of str to estimator
        Fitted on the training cohort of the first split.
    out : Path
    skipped : dict of str to str
        Models not run on this cohort, with the reason (e.g. no CT columns).
    """

    tables: dict[str, pd.DataFrame]
    figures: dict[str, list[Path]]
    results: dict
    models: dict
    out: Path
    skipped: dict[str, str] = field(default_factory=dict)


def _split(y, random_state, test_size=0.2):
    idx = np.arange(len(y))
    return train_test_split(idx, test_size=test_size, stratify=y["event"], random_state=random_state)


def _fit_models(models: dict, X, y, log: Callable[[str], None]) -> tuple[dict, dict]:
    """Fit in order; CNNCox reuses the fitted CTSurvival (no second CNN training)."""
    fitted, seconds = {}, {}
    for name, model in models.items():
        start = time.perf_counter()
        log(f"[fit] {name} on {len(X)} patients ...")
        if name == "CNNCox" and "CTSurvival" in fitted:
            model = clone(model).set_params(cnn=fitted["CTSurvival"], prefit=True)
        fitted[name] = model.fit(X, y)
        seconds[name] = time.perf_counter() - start
        log(f"[fit] {name} done in {seconds[name]:.1f} s")
    return fitted, seconds


def _predict(fitted: dict, X, horizon: float) -> tuple[dict, dict]:
    risk = {name: np.asarray(m.predict(X), dtype=float) for name, m in fitted.items()}
    surv = {name: np.asarray(m.predict_survival_at(X, [horizon]), dtype=float)[:, 0] for name, m in fitted.items()}
    return risk, surv


def _table3(y_tr, y_va, risk_tr, risk_va, horizon) -> tuple[pd.DataFrame, dict]:
    rows, cutoffs = [], {}
    for name in risk_tr:
        cutoff = metrics.youden_cutoff(y_tr, risk_tr[name], horizon)
        cutoffs[name] = float(cutoff)
        row = {"model": name, "youden_cutoff": cutoff}
        for cohort, y, risk in (("training", y_tr, risk_tr[name]), ("validation", y_va, risk_va[name])):
            auc = metrics.td_auc_ci(y, risk, horizon).iloc[0]
            conf = metrics.confusion_at_cutoff(y, risk, cutoff, horizon)
            row.update({
                f"{cohort}_td_auc": auc["auc"], f"{cohort}_td_auc_lower": auc["lower"],
                f"{cohort}_td_auc_upper": auc["upper"],
                **{f"{cohort}_{k}": conf[k] for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv")},
            })  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows), cutoffs


def _table4(y_tr, y_va, risk_tr, risk_va, *, n_bootstrap, random_state, progress) -> pd.DataFrame:
    rows = []
    for cohort, y, risks in (("training", y_tr, risk_tr), ("validation", y_va, risk_va)):
        comparison = None
        if REFERENCE in risks and len(risks) > 1:
            comparison = metrics.compare_models(
                y, risks, REFERENCE, n_bootstrap=n_bootstrap, random_state=random_state, progress=progress
            ).set_index("model")
        for name, risk in risks.items():
            ci = metrics.c_index_ci(y, risk, n_bootstrap=n_bootstrap, random_state=random_state, progress=progress)
            p = p_fdr = np.nan
            if comparison is not None and name in comparison.index:
                p, p_fdr = comparison.loc[name, "p_value"], comparison.loc[name, "p_fdr"]
            rows.append(dict(model=name, cohort=cohort, estimate=ci.estimate, lower=ci.lower, upper=ci.upper,
                             p_vs_fusion=p, p_fdr=p_fdr))  # fmt: skip
    return pd.DataFrame(rows)


def _oracle_rows(truth, idx_tr, idx_va, y_tr, y_va, horizon, n_bootstrap, random_state) -> list[dict]:
    rows = []
    for cohort, idx, y in (("training", idx_tr, y_tr), ("validation", idx_va, y_va)):
        lp = np.asarray(truth["lp"])[idx]
        ci = metrics.c_index_ci(y, lp, n_bootstrap=n_bootstrap, random_state=random_state, progress=False)
        auc = metrics.td_auc_ci(y, lp, horizon).iloc[0]
        rows.append(dict(model="oracle (true risk)", cohort=cohort, c_index=ci.estimate, c_lower=ci.lower,
                         c_upper=ci.upper, td_auc=auc["auc"], td_auc_lower=auc["lower"],
                         td_auc_upper=auc["upper"]))  # fmt: skip
    return rows


def _split_rows(seed, y_va, risk: dict, horizon) -> list[dict]:
    return [
        dict(seed=seed, model=name, c_index=metrics.harrell_c(y_va, r),
             td_auc=float(metrics.td_auc(y_va, r, horizon)[0]))
        for name, r in risk.items()
    ]  # fmt: skip


def _repeat(models, X, y, truth, seeds, horizon, log) -> list[dict]:
    """Validation C-index and TD AUC of every model on further seeded splits."""
    rows = []
    for seed in seeds:
        idx_tr, idx_va = _split(y, seed)
        log(f"[repeat] split seed {seed}")
        fitted, _ = _fit_models({k: clone(m) for k, m in models.items()}, X.iloc[idx_tr], y[idx_tr], log)
        risk, _ = _predict(fitted, X.iloc[idx_va], horizon)
        if truth is not None:
            risk["oracle (true risk)"] = np.asarray(truth["lp"])[idx_va]
        rows += _split_rows(seed, y[idx_va], risk, horizon)
    return rows


def _grad_cam_examples(model, X_va, y_va, risk_va, cutoff, horizon) -> pd.DataFrame:
    """Three validation patients as in the paper's Figure 6: well, poorly, and mispredicted."""
    event, time_ = y_va["event"], y_va["time"]
    died_early = event & (time_ <= horizon)
    survived = time_ > horizon
    high = risk_va >= cutoff
    picks = {}
    good = np.flatnonzero(survived & ~high)
    if good.size:
        picks["good prognosis (survived 3 y, low risk)"] = good[np.argmin(risk_va[good])]
    poor = np.flatnonzero(died_early & high)
    if poor.size:
        picks["poor prognosis (died < 3 y, high risk)"] = poor[np.argmax(risk_va[poor])]
    wrong = np.flatnonzero((died_early & ~high) | (survived & high))
    if wrong.size:
        picks["mispredicted"] = wrong[np.argmax(np.abs(risk_va[wrong] - cutoff))]
    return pd.DataFrame({"title": list(picks), "position": list(picks.values())})


def reproduce(
    X: pd.DataFrame,
    y,
    *,
    out,
    quick: bool = False,
    device: str = "cpu",
    repeats: int = 1,
    random_state: int = 0,
    truth: pd.DataFrame | None = None,
    horizon: float = 1095.0,
    n_bootstrap: int = 1000,
    n_jobs=None,
    impute=None,
    models: Mapping | None = None,
    cohort_name: str = "cohort",
    log: Callable[[str], None] = print,
) -> ReproduceResult:
    """Run the paper's evaluation protocol on a cohort and write tables, figures and a report.

    Parameters
    ----------
    X : DataFrame
        One row per patient: clinical columns and, for the image models, ``ct``/``mask``
        paths. Without image columns only ``ClinicalCox`` runs; the report says which models
        were skipped and why.
    y : structured array
        Survival target (days).
    out : str or path-like
        Output folder (created). Existing files of a previous run are replaced; nothing else
        in the folder is touched.
    quick : bool, default=False
        CPU preset (see :func:`paper_models`).
    device : {"cpu", "cuda", "auto"}, default="cpu"
    repeats : int, default=1
        Number of seeded 8:2 splits; with more than one, validation C-index and TD AUC
        per model are reported as mean ± sd over the splits (beyond the paper).
    random_state : int, default=0
        Seed of the first split and of the models; split ``k`` uses ``random_state + k``.
    truth : DataFrame, optional
        True log hazard in column ``lp`` (``make_tace_cohort(return_truth=True)``): adds the
        oracle row, the ceiling no model can beat on that sample.
    horizon : float, default=1095
        Horizon of the TD AUC, the cut-off, calibration and decision curves (3 years).
    n_bootstrap : int, default=1000
        Bootstrap resamples of the C-index CIs and paired tests.
    n_jobs : int or None
        Parallel patients in image preprocessing and radiomics.
    impute : {None, "median", "most_frequent"}, default=None
        Missing clinical values. None: a cohort with missing values is refused with the
        columns and counts named; otherwise imputed inside each model from the training cohort.
    models : mapping of str to estimator, optional
        Override :func:`paper_models` (names as in :data:`MODEL_NAMES`).
    cohort_name : str, default="cohort"
        Shown in the report's title.
    log : callable, default=print
        Receives one line per step (progress).

    Returns
    -------
    ReproduceResult

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(120, path=tempfile.mkdtemp(), with_images=False, random_state=0)
    >>> result = reproduce(X, y, out=tempfile.mkdtemp(), n_bootstrap=50, log=lambda line: None)
    >>> list(result.tables["table4"]["model"].unique()), sorted(result.skipped)[:2]
    (['ClinicalCox'], ['CNNCox', 'CTSurvival'])
    """
    check_survival_target(y, n_samples=len(X), labels=row_labels(X))
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer; got {repeats!r}")
    clinical_columns = [c for c in X.columns if c not in ("patient_id", "ct", "mask")]
    missing = X[clinical_columns].isna().sum()
    if impute is None and missing.any():
        counts = ", ".join(f"{c} ({n})" for c, n in missing[missing > 0].items())
        raise ValueError(
            f"the cohort has missing clinical values: {counts} patients. Drop those columns, or impute them "
            "with impute='median' (--impute median on the command line), fitted on the training cohort"
        )
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    options = cohort_options(X)
    with_images = options["with_images"]
    memory = str(out / "cache") if with_images else None
    if models is None:
        models = paper_models(
            quick=quick, device=device, random_state=random_state, memory=memory, n_jobs=n_jobs, impute=impute,
            **options,
        )  # fmt: skip
    models = dict(models)
    skipped = {}
    if not with_images:
        reason = "the cohort has no CT image and tumour mask columns ('ct', 'mask')"
        skipped = {name: reason for name in IMAGE_MODELS if name not in models}
        for name, why in skipped.items():
            log(f"[skip] {name}: {why}")

    idx_tr, idx_va = _split(y, random_state)
    X_tr, X_va, y_tr, y_va = X.iloc[idx_tr], X.iloc[idx_va], y[idx_tr], y[idx_va]
    log(f"[split] {len(idx_tr)} training / {len(idx_va)} validation patients (seed {random_state})")
    groups = np.where(np.isin(np.arange(len(X)), idx_tr), "Training", "Validation")
    tables = {"table1": baseline_table(X, y, groups=groups)}
    # Table 2 as the paper: univariable Cox of every factor, multivariable Cox of those with p < 0.05
    screen = ClinicalCox(columns=clinical_columns, log_transform=options["log_transform"], impute=impute)
    tables["table2"] = screen.fit(X_tr, y_tr).summary_

    fitted, fit_seconds = _fit_models(models, X_tr, y_tr, log)
    risk_tr, surv_tr = _predict(fitted, X_tr, horizon)
    risk_va, surv_va = _predict(fitted, X_va, horizon)
    log("[evaluate] Table 3: TD AUC and operating point at the training Youden cut-off")
    tables["table3"], cutoffs = _table3(y_tr, y_va, risk_tr, risk_va, horizon)
    log(f"[evaluate] Table 4: Harrell's C with {n_bootstrap} bootstrap resamples")
    tables["table4"] = _table4(y_tr, y_va, risk_tr, risk_va, n_bootstrap=n_bootstrap, random_state=random_state,
                               progress=True)  # fmt: skip
    oracle = []
    if truth is not None:
        oracle = _oracle_rows(truth, idx_tr, idx_va, y_tr, y_va, horizon, n_bootstrap, random_state)
        tables["oracle"] = pd.DataFrame(oracle)
    tables["comparison"] = _comparison_with_paper(tables["table3"], tables["table4"], oracle)
    if repeats > 1:
        first = dict(risk_va)
        if truth is not None:
            first["oracle (true risk)"] = np.asarray(truth["lp"])[idx_va]
        rows = _split_rows(random_state, y_va, first, horizon)  # the first split is already fitted
        rows += _repeat(models, X, y, truth, [random_state + k for k in range(1, repeats)], horizon, log)
        per_split = pd.DataFrame(rows)
        tables["repeats_per_split"] = per_split
        tables["repeats"] = per_split.groupby("model", sort=False)[["c_index", "td_auc"]].agg(["mean", "std"]).round(4)
        tables["repeats"].columns = ["_".join(c) for c in tables["repeats"].columns]
        tables["repeats"] = tables["repeats"].reset_index()

    log("[figures] ROC, calibration, Kaplan–Meier, decision curves, p-value matrix, Grad-CAM")
    figures = _figures(fitted, tables, y_tr, y_va, X_va, risk_tr, risk_va, surv_va, cutoffs, horizon, out)
    models_dir = out / "models"
    models_dir.mkdir(exist_ok=True)
    for name, model in fitted.items():
        joblib.dump(model, models_dir / f"{name}.joblib")

    results = {
        "sksurv_tace": __version__,
        "cohort": cohort_name,
        "n_patients": len(X),
        "n_training": len(idx_tr),
        "n_validation": len(idx_va),
        "horizon_days": horizon,
        "quick": quick,
        "device": device,
        "random_state": random_state,
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "fit_seconds": fit_seconds,
        "youden_cutoffs": cutoffs,
        "skipped": skipped,
        "tables": {k: v.replace({np.nan: None}).to_dict(orient="records") for k, v in tables.items()},
        "training_patients": X_tr["patient_id"].tolist() if "patient_id" in X else idx_tr.tolist(),
        "validation_patients": X_va["patient_id"].tolist() if "patient_id" in X else idx_va.tolist(),
        "figures": {k: [str(p.relative_to(out)) for p in v] for k, v in figures.items()},
    }
    results["seconds"] = time.perf_counter() - started
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=_json_default), encoding="utf-8")
    write_report(out, tables, figures, results)
    log(f"[done] {out / 'report.html'} in {results['seconds']:.0f} s")
    return ReproduceResult(tables, figures, results, fitted, out, skipped)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _comparison_with_paper(table3, table4, oracle) -> pd.DataFrame:
    val4 = table4[table4["cohort"] == "validation"].set_index("model")
    rows = []
    for _, paper in PAPER_VALIDATION.iterrows():
        name = paper["model"]
        ours_auc = table3.set_index("model")["validation_td_auc"].get(name, np.nan)
        ours_c = val4["estimate"].get(name, np.nan)
        rows.append(dict(model=name, paper_name=paper["paper_name"], paper_td_auc=paper["td_auc"],
                         ours_td_auc=ours_auc, paper_c_index=paper["c_index"], ours_c_index=ours_c))  # fmt: skip
    for row in oracle:
        if row["cohort"] == "validation":
            rows.append(dict(model=row["model"], paper_name="", paper_td_auc=np.nan, ours_td_auc=row["td_auc"],
                             paper_c_index=np.nan, ours_c_index=row["c_index"]))  # fmt: skip
    return pd.DataFrame(rows)


def _figures(fitted, tables, y_tr, y_va, X_va, risk_tr, risk_va, surv_va, cutoffs, horizon, out) -> dict:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig_dir = out / "figures"
    figures = {}

    def note(text):
        tables.setdefault("notes", pd.DataFrame(columns=["note"]))
        tables["notes"].loc[len(tables["notes"])] = [text]

    def save(name, fig):
        figures[name] = plots.save_figure(fig, fig_dir / name)
        plt.close(fig)

    t3 = tables["table3"].set_index("model")
    for cohort, y, risks in (("training", y_tr, risk_tr), ("validation", y_va, risk_va)):
        ci = {name: metrics.td_auc_ci(y, risk, horizon) for name, risk in risks.items()}
        title = f"{plots.horizon_label(horizon)} time-dependent ROC, {cohort} cohort"
        save(f"td_roc_{cohort}", plots.plot_td_roc(y, risks, horizon, ci=ci, title=title))
    calibration = {}
    for name, s in surv_va.items():
        try:
            calibration[name] = metrics.calibration_at_horizon(y_va, s, horizon)
        except ValueError as exc:  # e.g. a model that predicts the same survival for everyone
            note(f"Calibration of {name} not shown: {exc}")
    if calibration:
        save("calibration_validation", plots.plot_calibration(calibration))
    lead = REFERENCE if REFERENCE in fitted else next(iter(fitted))
    for cohort, y, risk in (("training", y_tr, risk_tr[lead]), ("validation", y_va, risk_va[lead])):
        try:
            groups = metrics.risk_groups(y, risk, cutoffs[lead])
        except ValueError as exc:  # a cut-off that leaves one group empty in this cohort
            note(f"Kaplan–Meier {cohort}: {exc}")
            continue
        save(f"km_{cohort}", plots.plot_risk_groups(groups, title=f"{lead}, {cohort} cohort"))
    dca = metrics.decision_curve(y_va, {name: 1 - s for name, s in surv_va.items()}, horizon)
    save("decision_curve_validation", plots.plot_decision_curve(dca))
    if len(risk_va) > 1:
        matrix = metrics.pairwise_td_auc_tests(y_va, risk_va, horizon)
        tables["auc_pvalues"] = matrix.reset_index(names="model")
        save("auc_pvalues_validation", plots.plot_pvalue_matrix(matrix))
    save("c_index", plots.plot_c_index(tables["table4"]))
    for model in ("multi", "uni"):
        try:
            save("hazard_ratios", plots.plot_hazard_ratios(tables["table2"], model=model))
            break
        except ValueError as exc:  # no Cox model of that stage converged on this cohort
            note(f"Hazard-ratio plot ({model}variable Cox): {exc}")
    if lead in fitted and lead != "ClinicalCox" and lead in t3.index:
        from sksurv_tace.explain import plot_grad_cam

        picks = _grad_cam_examples(fitted[lead], X_va, y_va, risk_va[lead], cutoffs[lead], horizon)
        if len(picks):
            rows = X_va.iloc[picks["position"].to_numpy()]
            fig = plot_grad_cam(fitted[lead], rows, titles=picks["title"].tolist(), n_cols=len(picks))
            save("grad_cam_examples", fig)
    return figures
