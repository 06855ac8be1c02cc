"""The paper's evaluation protocol as computation: split, fit, Tables 1-4, repeats (no file is written).

:func:`run_protocol` is what ``sksurv-tace reproduce`` computes (``docs/reproduce.rst``): a
seeded, event-stratified 8:2 split (:func:`split_cohort`); Table 1; Table 2 (uni- and multivariable Cox
of the clinical factors); the models fitted on the training cohort; Table 3 (3-year TD AUC with 95% CI,
accuracy, sensitivity, specificity, PPV and NPV at the training cohort's Youden cut-off); Table 4
(Harrell's C with 95% CI, p-value against FusionSurvival, BH-FDR adjusted); optionally repeated splits;
and the oracle C-index / TD AUC when the true risk is known. :func:`~sksurv_tace.paper.reproduce`
draws the figures and writes the files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from sksurv_tace import metrics
from sksurv_tace.datasets import CLINICAL_UNITS
from sksurv_tace.paper.formatting import factor_unit
from sksurv_tace.paper.presets import PAPER_VALIDATION, REFERENCE
from sksurv_tace.paper.report import baseline_table

__all__ = ["ProtocolResult", "run_protocol", "split_cohort"]

ORACLE = "oracle (true risk)"


def split_cohort(y, random_state, test_size=0.2) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's split: training and validation row positions, stratified by the event indicator.

    Parameters
    ----------
    y : structured array
        Survival target (its first field is the event indicator).
    random_state : int
    test_size : float, default=0.2

    Returns
    -------
    train, validation : ndarray of int

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([True, False] * 10, range(1, 21))
    >>> train, valid = split_cohort(y, 0)
    >>> len(train), len(valid), int(y[valid]["event"].sum())
    (16, 4, 2)
    """
    event = y[y.dtype.names[0]]
    return train_test_split(np.arange(len(y)), test_size=test_size, stratify=event, random_state=random_state)


@dataclass
class ProtocolResult:
    """What :func:`run_protocol` computed on the first split.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``table1`` … ``table4``, ``comparison`` (ours vs paper), ``oracle`` (with ``truth``),
        ``repeats`` and ``repeats_per_split`` (with ``repeats > 1``).
    fitted : dict of str to estimator
        The models fitted on the training cohort.
    fit_seconds : dict of str to float
    train, validation : ndarray of int
        Row positions of the two cohorts.
    risk_train, risk_validation, survival_validation : dict of str to ndarray
        Each model's risk and ``S(horizon)``.
    cutoffs : dict of str to float
        Each model's Youden cut-off on the training cohort.
    """

    tables: dict
    fitted: dict
    fit_seconds: dict
    train: np.ndarray
    validation: np.ndarray
    risk_train: dict
    risk_validation: dict
    survival_validation: dict
    cutoffs: dict


def _with_units(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 2 with a ``unit`` column after ``reference``: what one step of each numeric factor is."""
    units = [factor_unit(f, CLINICAL_UNITS) if not level else "" for f, level in zip(summary["factor"],
             summary["level"].fillna("").astype(str), strict=True)]  # fmt: skip
    summary = summary.copy()
    summary.insert(summary.columns.get_loc("reference") + 1, "unit", units)
    return summary


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


#: Deep models whose training output enters Table S1 (the paper's DLOP_CTR and DLOP_Combin).
TABLE_S1_MODELS = ("CTSurvival", "FusionSurvival")


def _table_s1(clinical, X_tr, y_tr, risk_tr: dict) -> pd.DataFrame | None:
    """Table S1: multivariable Cox of the training cohort, a deep model's output (per SD) beside the clinical factors
    that ``clinical`` (Table 2's fitted ClinicalCox) selected; one model per block. The output is scored on the
    rows the model was trained on, as in the paper, so its HR is optimistic."""
    from sksurv_tace.preprocessing import cox_table

    design = clinical.preprocessor_.transform(X_tr)[list(clinical.selected_features_)]
    blocks = []
    for name in (n for n in TABLE_S1_MODELS if n in risk_tr):
        risk = risk_tr[name]
        if not np.std(risk) > 0:
            continue
        column = f"{name} output (per SD)"
        frame = design.assign(**{column: (risk - risk.mean()) / risk.std()})[[column, *design.columns]]
        blocks.append(cox_table(frame, y_tr, univariable=False).assign(model=name))
    if not blocks:
        return None
    table = pd.concat(blocks, ignore_index=True)
    summary = clinical.summary_
    references = dict(zip(summary["factor"], summary["reference"].fillna(""), strict=True))
    table["reference"] = table["factor"].map(references).fillna("")
    return table[["model", *[c for c in table.columns if c != "model" and not c.endswith("_uni")]]]


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
        rows.append(dict(model=ORACLE, cohort=cohort, c_index=ci.estimate, c_lower=ci.lower,
                         c_upper=ci.upper, td_auc=auc["auc"], td_auc_lower=auc["lower"],
                         td_auc_upper=auc["upper"]))  # fmt: skip
    return rows


def _split_rows(seed, y_va, risk: dict, horizon) -> list[dict]:
    return [
        dict(seed=seed, model=name, c_index=metrics.harrell_c(y_va, r),
             td_auc=float(metrics.td_auc(y_va, r, horizon)[0]))
        for name, r in risk.items()
    ]  # fmt: skip


def _one_split(models, X, y, truth, seed, horizon, log) -> list[dict]:
    idx_tr, idx_va = split_cohort(y, seed)
    fitted, _ = _fit_models({k: clone(m) for k, m in models.items()}, X.iloc[idx_tr], y[idx_tr], log)
    risk, _ = _predict(fitted, X.iloc[idx_va], horizon)
    if truth is not None:
        risk[ORACLE] = np.asarray(truth["lp"])[idx_va]
    return _split_rows(seed, y[idx_va], risk, horizon)


def _quiet(line: str) -> None:
    """The log of a split fitted in a worker (its lines would interleave)."""


def _repeat(models, X, y, truth, seeds, horizon, log, n_jobs=None) -> list[dict]:
    """Validation C-index and TD AUC of every model on further seeded splits; ``n_jobs`` splits at a time through
    joblib (so on a dask cluster inside ``joblib.parallel_backend("dask")``)."""
    if n_jobs in (None, 1) or len(seeds) < 2:
        rows = []
        for seed in seeds:
            log(f"[repeat] split seed {seed}")
            rows += _one_split(models, X, y, truth, seed, horizon, log)
        return rows
    from joblib import Parallel, delayed

    log(f"[repeat] {len(seeds)} further splits (seeds {seeds[0]}-{seeds[-1]}), n_jobs={n_jobs}")
    tasks = (delayed(_one_split)(models, X, y, truth, seed, horizon, _quiet) for seed in seeds)
    per_seed = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    rows = []
    for seed, split_rows in zip(seeds, per_seed, strict=True):
        log(f"[repeat] split seed {seed} done")
        rows += split_rows
    return rows


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


def run_protocol(
    X: pd.DataFrame,
    y,
    models: dict,
    *,
    table2_model,
    horizon: float = 1095.0,
    n_bootstrap: int = 1000,
    random_state: int = 0,
    repeats: int = 1,
    truth: pd.DataFrame | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    repeat_jobs: int | None = None,
) -> ProtocolResult:
    """Split, fit every model on the training cohort and compute the paper's tables.

    Parameters
    ----------
    X : DataFrame
    y : structured array
    models : dict of str to estimator
        Unfitted; ``CNNCox`` reuses the fitted ``CTSurvival`` when both are present.
    table2_model : ClinicalCox
        Unfitted; fitted on the training cohort, its ``summary_`` is Table 2 (with a ``unit`` column: what
        one step of a numeric factor is, from :data:`~sksurv_tace.datasets.CLINICAL_UNITS`).
    horizon : float, default=1095
    n_bootstrap : int, default=1000
    random_state : int, default=0
        Seed of the first split and of the bootstrap; split ``k`` uses ``random_state + k``.
    repeats : int, default=1
    truth : DataFrame, optional
        True log hazard in column ``lp``: adds the oracle rows.
    log : callable, default=print
    progress : bool, default=True
        The bootstrap's progress bar (on a terminal).
    repeat_jobs : int, optional
        Further splits fitted at a time (joblib ``n_jobs``; -1 = one per core, or one per dask worker inside
        ``joblib.parallel_backend("dask")``). None or 1: one after another. The results do not depend on it.

    Returns
    -------
    ProtocolResult

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalCox
    >>> X, y = make_tace_cohort(120, with_images=False, random_state=0)
    >>> run = run_protocol(X, y, {"ClinicalCox": ClinicalCox()}, table2_model=ClinicalCox(), n_bootstrap=20,
    ...                    log=lambda line: None)
    >>> sorted(run.tables), len(run.train), len(run.validation)
    (['comparison', 'table1', 'table2', 'table3', 'table4'], 96, 24)
    """
    idx_tr, idx_va = split_cohort(y, random_state)
    X_tr, X_va, y_tr, y_va = X.iloc[idx_tr], X.iloc[idx_va], y[idx_tr], y[idx_va]
    log(f"[split] {len(idx_tr)} training / {len(idx_va)} validation patients (seed {random_state})")
    groups = np.where(np.isin(np.arange(len(X)), idx_tr), "Training", "Validation")
    tables = {"table1": baseline_table(X, y, groups=groups, units=CLINICAL_UNITS)}
    clinical = clone(table2_model).fit(X_tr, y_tr)
    tables["table2"] = _with_units(clinical.summary_)

    fitted, fit_seconds = _fit_models(models, X_tr, y_tr, log)
    risk_tr, _ = _predict(fitted, X_tr, horizon)
    risk_va, surv_va = _predict(fitted, X_va, horizon)
    table_s1 = _table_s1(clinical, X_tr, y_tr, risk_tr)
    if table_s1 is not None:
        log("[evaluate] Table S1: multivariable Cox of the deep models' training output with the clinical factors")
        tables["table_s1"] = table_s1
    log("[evaluate] Table 3: TD AUC and operating point at the training Youden cut-off")
    tables["table3"], cutoffs = _table3(y_tr, y_va, risk_tr, risk_va, horizon)
    log(f"[evaluate] Table 4: Harrell's C with {n_bootstrap} bootstrap resamples")
    tables["table4"] = _table4(y_tr, y_va, risk_tr, risk_va, n_bootstrap=n_bootstrap, random_state=random_state,
                               progress=progress)  # fmt: skip
    oracle = []
    if truth is not None:
        oracle = _oracle_rows(truth, idx_tr, idx_va, y_tr, y_va, horizon, n_bootstrap, random_state)
        tables["oracle"] = pd.DataFrame(oracle)
    tables["comparison"] = _comparison_with_paper(tables["table3"], tables["table4"], oracle)
    if repeats > 1:
        first = dict(risk_va)
        if truth is not None:
            first[ORACLE] = np.asarray(truth["lp"])[idx_va]
        rows = _split_rows(random_state, y_va, first, horizon)  # the first split is already fitted
        seeds = [random_state + k for k in range(1, repeats)]
        rows += _repeat(models, X, y, truth, seeds, horizon, log, n_jobs=repeat_jobs)
        per_split = pd.DataFrame(rows)
        summary = per_split.groupby("model", sort=False)[["c_index", "td_auc"]].agg(["mean", "std"]).round(4)
        summary.columns = ["_".join(c) for c in summary.columns]
        tables["repeats_per_split"] = per_split
        tables["repeats"] = summary.reset_index()
        if REFERENCE in fitted and len(fitted) > 1:
            fitted_rows = per_split[per_split["model"].isin(list(fitted))]
            ratio = len(idx_va) / len(idx_tr)
            tables["repeats_tests"] = pd.concat(
                [metrics.compare_over_splits(fitted_rows, REFERENCE, metric=m, test_train_ratio=ratio)
                 for m in ("c_index", "td_auc")], ignore_index=True,
            )  # fmt: skip
    return ProtocolResult(tables, fitted, fit_seconds, idx_tr, idx_va, risk_tr, risk_va, surv_va, cutoffs)
