"""``reproduce``: the paper's evaluation protocol on a cohort, written out as tables, figures and a report.

:func:`reproduce` checks the cohort, configures the models (:mod:`~sksurv_tace.paper.presets`), runs
:func:`~sksurv_tace.paper.protocol.run_protocol`, draws the figures (:mod:`~sksurv_tace.paper.plots`) and
writes CSV tables, ``results.json``, the fitted models and the report
(:func:`~sksurv_tace.paper.report.write_report`).
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

from sksurv_tace import metrics
from sksurv_tace._device import resolve_device
from sksurv_tace._threads import configure_threads, passive_openmp
from sksurv_tace._validation import check_survival_target, describe_rows, row_labels
from sksurv_tace._version import __version__
from sksurv_tace.models._persistence import dump_model
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.paper import plots
from sksurv_tace.paper.model_card import write_model_card, write_tripod_checklist
from sksurv_tace.paper.presets import IMAGE_MODELS, REFERENCE, cohort_options, paper_models
from sksurv_tace.paper.protocol import ProtocolResult, run_protocol
from sksurv_tace.paper.report import write_report
from sksurv_tace.preprocessing.clinical import clinical_columns
from sksurv_tace.preprocessing.image_checks import check_image_paths

__all__ = ["ReproduceResult", "reproduce"]


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


def _hashable(value, key=None):
    """A parameter value as a set member (lists as tuples); a ``mask_geometry`` of None is the default, "strict"."""
    if key == "mask_geometry" and value is None:
        return "strict"
    return tuple(value) if isinstance(value, list) else value


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
    image_options: Mapping | None = None,
    cohort_name: str = "cohort",
    excluded: Mapping[str, str] | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    earlier_stages: Mapping[str, float] | None = None,
    repeat_jobs: int | None = None,
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
    image_options : mapping, optional
        The tumour-mask options of both image transformers, passed to :func:`paper_models`:
        ``mask_label``, ``segment`` (DICOM SEG masks), ``mask_geometry``.
    cohort_name : str, default="cohort"
        Shown in the report's title.
    excluded : mapping of str to str, optional
        Patients left out of the cohort before this run, with the reason (e.g. the skip log of
        :func:`~sksurv_tace.datasets.build_tcia_manifest`): listed in the report and in
        ``results.json`` (``excluded_patients``).
    log : callable, default=print
        Receives one line per step (progress).
    progress : bool, default=True
        Progress displays of the stages (radiomics' bar over patients, each deep model's table of epochs with
        its ETA, the bootstrap's bar). False: none (the CLI's ``--quiet``). Either way ``results.json`` gets
        the wall time of each stage (``stage_seconds``) and the report a line of them.
    earlier_stages : mapping of str to float, optional
        Wall seconds of stages run before this call (the CLI passes ``{"cohort_writing": s}`` when it
        wrote the synthetic cohort), listed first in ``stage_seconds``.
    repeat_jobs : int, optional
        With ``repeats``: further splits fitted at a time through joblib (a dask cluster inside
        ``joblib.parallel_backend("dask")``: one split per worker; ``docs/scale.rst``).

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
    resolved = resolve_device(device)  # device="cuda" without a GPU fails now, not after the radiomics
    clinical = clinical_columns(X)
    missing = X[clinical].isna()
    if impute is None and missing.to_numpy().any():
        labels = np.asarray(row_labels(X), dtype=object)
        where = {c: missing[c].to_numpy() for c in clinical if missing[c].any()}
        counts = "; ".join(f"{c} ({rows.sum()}: {describe_rows(labels, rows)})" for c, rows in where.items())
        raise ValueError(
            f"the cohort has missing clinical values ({counts}). Drop those columns or patients, or impute them "
            "with impute='median', fitted on the training cohort"
        )
    if not quick and resolved == "cpu" and models is None and cohort_options(X)["with_images"]:
        log(
            "[note] the paper's preset (ResNet-101 on 224 px, up to 60 epochs) on a CPU takes hours: "
            "quick=True is the CPU preset, a GPU runs the paper's"
        )
    out = Path(out)
    started = time.perf_counter()
    passive_openmp()  # effective when torch is not loaded yet; workers started later inherit it
    options = cohort_options(X)
    with_images = options["with_images"]
    memory = str(out / "cache") if with_images else None
    if models is None:
        models = paper_models(
            quick=quick, device=device, random_state=random_state, memory=memory, n_jobs=n_jobs, impute=impute,
            progress=progress, image_options=image_options, **options,
        )  # fmt: skip
    models = dict(models)
    keys = ("mask_label", "segment", "mask_geometry")
    rules = {
        tuple((key, _hashable(params.get(f"{prefix}{key}"), key)) for key in keys if f"{prefix}{key}" in params)
        for m in models.values()
        for params in [m.get_params()]
        for prefix in {k[: -len("mask_label")] for k in params if k.endswith("mask_label")}
    }
    stages = _StageClock()
    for rule in rules if with_images else ():  # every image file checked before the first model trains
        check_image_paths(X, **dict(rule))
    stages.lap("image_checks")
    if with_images:
        configure_threads()  # once, before the first model: torch's threads sized to this process's cores
    (out / "figures").mkdir(parents=True, exist_ok=True)
    skipped = {}
    if not with_images:
        reason = "the cohort has no CT image and tumour mask columns ('ct', 'mask')"
        skipped = {name: reason for name in IMAGE_MODELS if name not in models}
        for name, why in skipped.items():
            log(f"[skip] {name}: {why}")

    table2_model = ClinicalCox(columns=clinical, log_transform=options["log_transform"], impute=impute)
    run = run_protocol(X, y, models, table2_model=table2_model, horizon=horizon, n_bootstrap=n_bootstrap,
                       random_state=random_state, repeats=repeats, truth=truth, log=log,
                       progress=progress, repeat_jobs=repeat_jobs)  # fmt: skip
    stages.lap("protocol")
    log("[figures] ROC, calibration, Kaplan–Meier, decision curves, p-value matrix, Grad-CAM")
    figures = _figures(run, X.iloc[run.validation], y[run.train], y[run.validation], horizon, out)
    stages.lap("figures")
    settings = dict(cohort=cohort_name, horizon_days=horizon, quick=quick, device=device, random_state=random_state,
                    n_bootstrap=n_bootstrap)  # fmt: skip
    results = _results(run, X, figures, out, skipped=skipped, **settings)
    results["excluded_patients"] = {str(k): str(v) for k, v in (excluded or {}).items()}
    earlier = {str(k): float(v) for k, v in (earlier_stages or {}).items()}
    results["stage_seconds"] = earlier | stages.split_protocol(sum(run.fit_seconds.values()))
    results["seconds"] = time.perf_counter() - started
    _write(out, run, figures, results)
    log(f"[done] {out / 'report.html'} in {results['seconds']:.0f} s")
    return ReproduceResult(run.tables, figures, results, run.fitted, out, skipped)


class _StageClock:
    """Wall time per stage of a run: :meth:`lap` closes the stage that ran since the previous lap."""

    def __init__(self):
        self.seconds, self._last = {}, time.perf_counter()

    def lap(self, stage: str) -> float:
        now = time.perf_counter()
        self.seconds[stage], self._last = now - self._last, now
        return self.seconds[stage]

    def split_protocol(self, fitting: float) -> dict:
        """The protocol's time as model fitting (radiomics and ROI preprocessing inside) and evaluation (predictions,
        tables, bootstrap, further splits); the stages in the order they ran."""
        protocol = self.seconds.pop("protocol")
        fitting = min(fitting, protocol)
        return {"image_checks": self.seconds["image_checks"], "model_fitting": fitting,
                "evaluation": protocol - fitting, "figures": self.seconds["figures"]}  # fmt: skip


def _package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    names = ("numpy", "pandas", "scipy", "scikit-learn", "scikit-survival", "lifelines", "torch", "torchvision",
             "skorch", "SimpleITK", "pyradiomics-bhklab", "matplotlib")  # fmt: skip
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _results(
    run: ProtocolResult, X, figures, out, *, cohort, horizon_days, quick, device, random_state, n_bootstrap, skipped
):
    """Everything ``results.json`` holds."""
    ids = X["patient_id"].to_numpy() if "patient_id" in X else np.arange(len(X))
    return {
        "sksurv_tace": __version__,
        "cohort": cohort,
        "n_patients": len(X),
        "n_training": len(run.train),
        "n_validation": len(run.validation),
        "horizon_days": horizon_days,
        "quick": quick,
        "device": device,
        "random_state": random_state,
        "n_bootstrap": n_bootstrap,
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "packages": _package_versions(),
        "model_settings": {
            name: {k: repr(v) for k, v in model.get_params(deep=False).items()} for name, model in run.fitted.items()
        },
        "fit_seconds": run.fit_seconds,
        "youden_cutoffs": run.cutoffs,
        "skipped": skipped,
        "tables": {k: v.replace({np.nan: None}).to_dict(orient="records") for k, v in run.tables.items()},
        "training_patients": ids[run.train].tolist(),
        "validation_patients": ids[run.validation].tolist(),
        "figures": {k: [str(p.relative_to(out)) for p in v] for k, v in figures.items()},
    }


def _write(out: Path, run: ProtocolResult, figures, results) -> None:
    """The fitted models, one CSV per table, ``results.json``, the report, the model card and the TRIPOD+AI checklist.

    ``CNNCox.joblib`` refers to ``CTSurvival.joblib`` for its CT network when it is the same network
    (:func:`~sksurv_tace.models.load_model` reads both).
    """
    models_dir = out / "models"
    models_dir.mkdir(exist_ok=True)
    for name, model in run.fitted.items():
        shared = run.fitted.get("CTSurvival")
        if name == "CNNCox" and shared is not None and model.cnn_ is shared:  # refer to it, not a second copy
            dump_model(model, models_dir / f"{name}.joblib", cnn_file=models_dir / "CTSurvival.joblib")
        else:
            joblib.dump(model, models_dir / f"{name}.joblib")
    for name, table in run.tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=_json_default), encoding="utf-8")
    write_report(out, run.tables, figures, results)
    write_model_card(out)  # both from results.json alone, as report_from_results
    write_tripod_checklist(out)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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
    titles = []
    ids = X_va["patient_id"].astype(str).to_numpy() if "patient_id" in X_va else X_va.index.astype(str).to_numpy()
    for title, k in picks.items():
        outcome = "died" if event[k] else "censored"
        titles.append(f"{title}\n{ids[k]}: {outcome} at {time_[k] / 30.44:.0f} months, risk {risk_va[k]:.2f}")
    return pd.DataFrame({"title": titles, "position": list(picks.values())})


def _figures(run: ProtocolResult, X_va, y_tr, y_va, horizon, out) -> dict:
    """Draw the report's figures into ``out / "figures"``; notes on figures not drawn go to ``run.tables``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fitted, tables, cutoffs = run.fitted, run.tables, run.cutoffs
    risk_tr, risk_va, surv_va = run.risk_train, run.risk_validation, run.survival_validation
    fig_dir = out / "figures"
    label = plots.horizon_label(horizon)
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
    tables["calibration"] = pd.DataFrame(
        [
            dict(model=name, brier=metrics.brier_at(y_va, s, horizon, y_train=y_tr),
                 **{k: getattr(calibration[name], k, np.nan) if name in calibration else np.nan
                    for k in ("slope", "intercept", "ici", "e50", "e90")})
            for name, s in surv_va.items()
        ]
    )  # fmt: skip
    if calibration:
        save(
            "calibration_validation",
            plots.plot_calibration(calibration, title=f"{label} calibration, validation cohort"),
        )
    lead = REFERENCE if REFERENCE in fitted else next(iter(fitted))
    for cohort, y, risk in (("training", y_tr, risk_tr[lead]), ("validation", y_va, risk_va[lead])):
        try:
            groups = metrics.risk_groups(y, risk, cutoffs[lead])
        except ValueError as exc:  # a cut-off that leaves one group empty in this cohort
            note(f"Kaplan–Meier {cohort}: {exc}")
            continue
        save(f"km_{cohort}", plots.plot_risk_groups(groups, title=f"{lead}, {cohort} cohort"))
        summary = groups.summary.assign(
            model=lead, cohort=cohort, cutoff=cutoffs[lead], log_rank_p=groups.p_value,
            hazard_ratio=groups.hazard_ratio, hr_lower=groups.hazard_ratio_lower, hr_upper=groups.hazard_ratio_upper,
        )  # fmt: skip
        tables["risk_groups"] = pd.concat([tables.get("risk_groups"), summary], ignore_index=True)
    dca = metrics.decision_curve(y_va, {name: 1 - s for name, s in surv_va.items()}, horizon)
    save(
        "decision_curve_validation",
        plots.plot_decision_curve(dca, horizon=horizon, title=f"{label} decision curves, validation cohort"),
    )
    if len(risk_va) > 1:
        matrix = metrics.pairwise_td_auc_tests(y_va, risk_va, horizon)
        tables["auc_pvalues"] = matrix.reset_index(names="model")
        save("auc_pvalues_validation", plots.plot_pvalue_matrix(matrix))
    save("c_index", plots.plot_c_index(tables["table4"]))
    for model in ("multi", "uni"):
        try:
            stage = "Multivariable" if model == "multi" else "Univariable"
            title = f"{stage} Cox model of the clinical factors, training cohort"
            save("hazard_ratios", plots.plot_hazard_ratios(tables["table2"], model=model, title=title))
            break
        except ValueError as exc:  # no Cox model of that stage converged on this cohort
            note(f"Hazard-ratio plot ({model}variable Cox): {exc}")
    curves = {name: m.learning_curve_ for name, m in fitted.items() if hasattr(m, "best_epoch_")}
    if curves:
        tables["training"] = plots.training_summary(curves)
        save("learning_curves", plots.plot_learning_curves(curves, title="Deep models: loss per epoch (training "
                                                           "split of the training cohort, and its internal "
                                                           "validation part)"))  # fmt: skip
    if lead in fitted and lead != "ClinicalCox" and lead in t3.index:
        from sksurv_tace.explain import plot_grad_cam

        picks = _grad_cam_examples(fitted[lead], X_va, y_va, risk_va[lead], cutoffs[lead], horizon)
        if len(picks):
            rows = X_va.iloc[picks["position"].to_numpy()]
            fig = plot_grad_cam(fitted[lead], rows, titles=picks["title"].tolist(), n_cols=len(picks))
            save("grad_cam_examples", fig)
    return figures
