"""The five models on the synthetic cohort's five image phenotype families, over seeded splits (issue 11).

Usage::

    python benchmarks/phenotypes.py                                      # 5 models x 5 families x 5 splits, CPU
    python benchmarks/phenotypes.py --models ClinicalCox RadiomicsCox    # the classical models only
    python benchmarks/phenotypes.py --families spatial --splits 1        # a smoke run
    python benchmarks/phenotypes.py --device cuda                        # the same quick preset on a GPU

Pre-specified (before any run): for each family ``f`` of ``--families`` the cohort is
``make_tace_cohort(--n-patients, phenotype=f, random_state=--cohort-seed)`` (default 301 patients,
seed 0; the families' parameters are in that function's docstring). Split ``k`` = 0 … ``--splits`` − 1
is the protocol's (:func:`sksurv_tace.paper.protocol.split_cohort`: 8:2, stratified by event, seed
``k``). The models are ``paper_models(quick=True)`` (the CPU preset of ``reproduce --quick``:
ResNet-18 on 64 px ROIs with a 2 cm margin, early stopping; radiomics without resampling; AFP, AST, ALT
and bilirubin log-transformed), ``random_state=k``, fitted on the training cohort; ``CNNCox`` reuses
that split's fitted ``CTSurvival`` as ``reproduce`` does. ``--ring`` adds ``RadiomicsCox`` on the tumour
and its 10 mm peritumoural ring (``RadiomicsExtractor(region="tumour+ring")``).

On the validation cohort: Harrell's C and the 3-year TD AUC of every model and of the oracles (the
true log hazard ``lp``; its image part ``image_lp``; its clinical part ``clinical_lp``). ``share`` is
``(C − 0.5) / (C_oracle − 0.5)``, the share of the full oracle's excess C. Tests of the reference
(``--reference``, default FusionSurvival, else the first model) against each model: per split, the
paired bootstrap of :func:`sksurv_tace.metrics.compare_models` (BH-FDR over the models); across
splits, :func:`sksurv_tace.metrics.compare_over_splits`: the corrected resampled t-test of Nadeau &
Bengio (2003) on the per-split C differences (variance inflated by ``1/J + n_validation/n_training``
because the splits share patients; ``J − 1`` degrees of freedom), BH-FDR over the models of a family.
No ranking is claimed without that test.

Writes to ``--out``: ``per_split.csv`` (one row per family, split and model, after every split, so
a stopped run keeps what it did), ``summary.csv``, ``tests.csv``, ``results.json`` and ``table.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from sksurv_tace import metrics
from sksurv_tace.datasets.synthetic import PHENOTYPE_FAMILIES, make_tace_cohort

HORIZON = 1095.0
ORACLES = {"oracle (true lp)": "lp", "oracle image part": "image_lp", "oracle clinical part": "clinical_lp"}
RING_MODEL = "RadiomicsCox tumour+ring"


def _models(names, *, quick: bool, device: str, random_state: int, memory: str, n_jobs, ring: bool, X) -> dict:
    from sksurv_tace.paper.presets import cohort_options, paper_models

    models = paper_models(quick=quick, device=device, random_state=random_state, memory=memory, n_jobs=n_jobs,
                          progress=False, **cohort_options(X))  # fmt: skip
    chosen = {name: models[name] for name in names}
    if ring:
        radiomics = models["RadiomicsCox"]
        chosen[RING_MODEL] = clone(radiomics).set_params(extractor__region="tumour+ring", extractor__ring_mm=10.0)
    return chosen


def _fit_predict(models: dict, X_tr, y_tr, X_va) -> tuple[dict, dict]:
    """Fit in order (CNNCox reuses the fitted CTSurvival, as ``reproduce`` does); validation risks and fit seconds."""
    fitted, seconds, risks = {}, {}, {}
    for name, model in models.items():
        start = time.perf_counter()
        if name == "CNNCox" and "CTSurvival" in fitted:
            model = clone(model).set_params(cnn=fitted["CTSurvival"], prefit=True)
        fitted[name] = model.fit(X_tr, y_tr)
        seconds[name] = time.perf_counter() - start
        risks[name] = np.asarray(fitted[name].predict(X_va), dtype=float)
    return risks, seconds


def _split_rows(family, split, y_va, risks, seconds, truth_va) -> list[dict]:
    oracle_c = metrics.harrell_c(y_va, truth_va["lp"])
    rows = []
    for name, risk in {**risks, **{o: truth_va[c] for o, c in ORACLES.items()}}.items():
        c = metrics.harrell_c(y_va, risk)
        rows.append(dict(family=family, split=split, model=name, c_index=c,
                         td_auc=float(metrics.td_auc(y_va, risk, [HORIZON])[0]),
                         share=(c - 0.5) / (oracle_c - 0.5), fit_seconds=seconds.get(name, 0.0)))  # fmt: skip
    return rows


def _bootstrap_tests(family, split, y_va, risks, reference, n_bootstrap) -> list[dict]:
    if reference not in risks or len(risks) < 2:
        return []
    table = metrics.compare_models(y_va, risks, reference, n_bootstrap=n_bootstrap, random_state=split,
                                   progress=False)  # fmt: skip
    return [dict(family=family, split=split, model=r.model, reference=reference, difference=-r.difference,
                 p_bootstrap=r.p_value, p_bootstrap_fdr=r.p_fdr) for r in table.itertuples()]  # fmt: skip


def summarise(per_split: pd.DataFrame, boot: pd.DataFrame, reference: str, n_train: int, n_test: int):
    """``(summary, tests)``: mean ± sd per family and model; the reference against each model across splits."""
    summary = per_split.groupby(["family", "model"], sort=False).agg(
        splits=("c_index", "size"), c_mean=("c_index", "mean"), c_sd=("c_index", "std"),
        td_auc_mean=("td_auc", "mean"), share_mean=("share", "mean"), share_sd=("share", "std"),
        fit_seconds=("fit_seconds", "mean"),
    ).reset_index()  # fmt: skip
    rows = []
    for family, group in per_split.groupby("family", sort=False):
        models = group[~group["model"].isin(list(ORACLES))]
        if reference not in set(models["model"]) or models["model"].nunique() < 2:
            continue
        table = metrics.compare_over_splits(models, reference, test_train_ratio=n_test / n_train, split_column="split")
        wide = models.pivot(index="split", columns="model", values="c_index")
        for r in table.itertuples():
            b = boot[(boot["family"] == family) & (boot["model"] == r.model)] if len(boot) else boot
            rows.append(
                dict(family=family, model=r.model, reference=reference, splits=r.n_splits,
                     difference_mean=-r.mean_difference, difference_sd=r.sd_difference,
                     reference_better_splits=int((wide[reference] > wide[r.model]).sum()), t=-r.t,
                     p_corrected_t=r.p_value, p_fdr=r.p_fdr,
                     bootstrap_significant_splits=int((b["p_bootstrap_fdr"] < 0.05).sum()) if len(b) else 0)
            )  # fmt: skip
    return summary, pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, tests: pd.DataFrame) -> str:
    lines = []
    for family, group in summary.groupby("family", sort=False):
        lines += [f"\n**{family}**\n", "| model | splits | C mean ± sd | share of oracle excess C, mean ± sd "
                  "| Δ C (reference − model) | corrected t p (FDR) |", "|---|---|---|---|---|---|"]  # fmt: skip
        t = tests[tests["family"] == family].set_index("model") if len(tests) else pd.DataFrame()
        for r in group.itertuples():
            delta = test = ""
            if r.model in t.index:
                row = t.loc[r.model]
                delta = f"{row['difference_mean']:+.3f} ({row['reference_better_splits']}/{row['splits']} splits)"
                test = (
                    "n/a (1 split)"
                    if not np.isfinite(row["p_corrected_t"])
                    else (
                        f"{row['p_corrected_t']:.3f} ({row['p_fdr']:.3f})" + ("" if row["p_fdr"] < 0.05 else ", n.s.")
                    )
                )
            sd = "" if not np.isfinite(r.c_sd) else f" ± {r.c_sd:.3f}"
            share_sd = "" if not np.isfinite(r.share_sd) else f" ± {r.share_sd:.2f}"
            lines.append(f"| {r.model} | {r.splits} | {r.c_mean:.3f}{sd} | {r.share_mean:.2f}{share_sd} | {delta} "
                         f"| {test} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    from sksurv_tace.paper.presets import MODEL_NAMES, REFERENCE
    from sksurv_tace.paper.protocol import split_cohort

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(PHENOTYPE_FAMILIES), choices=PHENOTYPE_FAMILIES)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--n-patients", type=int, default=301)
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--ring", action="store_true", help="also RadiomicsCox on the tumour and its 10 mm ring")
    parser.add_argument("--reference", default=None, help="default: FusionSurvival if run, else the first model")
    parser.add_argument("--cohort-seed", type=int, default=0)
    parser.add_argument("--n-bootstrap", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--out", default="phenotypes_out")
    args = parser.parse_args(argv)
    from sksurv_tace._threads import configure_threads, passive_openmp

    passive_openmp()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reference = args.reference or (REFERENCE if REFERENCE in args.models else args.models[0])
    if any(m in args.models for m in ("FusionSurvival", "CTSurvival", "CNNCox")):
        configure_threads()
    rows, boot, timings, sizes = [], [], [], None
    started = time.perf_counter()
    for family in args.families:
        start = time.perf_counter()
        X, y, truth = make_tace_cohort(args.n_patients, path=out / "cohorts" / family, phenotype=family,
                                       random_state=args.cohort_seed, return_truth=True, overwrite=True)  # fmt: skip
        cohort_seconds = time.perf_counter() - start
        for split in range(args.splits):
            start = time.perf_counter()
            idx_tr, idx_va = split_cohort(y, split)
            sizes = (len(idx_tr), len(idx_va))
            models = _models(args.models, quick=True, device=args.device, random_state=split, n_jobs=args.n_jobs,
                             memory=str(out / "cache"), ring=args.ring, X=X)  # fmt: skip
            risks, seconds = _fit_predict(models, X.iloc[idx_tr], y[idx_tr], X.iloc[idx_va])
            truth_va = {c: truth[c].to_numpy()[idx_va] for c in ORACLES.values()}
            rows += _split_rows(family, split, y[idx_va], risks, seconds, truth_va)
            boot += _bootstrap_tests(family, split, y[idx_va], risks, reference, args.n_bootstrap)
            timings.append(dict(family=family, split=split, seconds=time.perf_counter() - start,
                                cohort_seconds=cohort_seconds if split == 0 else 0.0))  # fmt: skip
            pd.DataFrame(rows).to_csv(out / "per_split.csv", index=False)
            pd.DataFrame(boot).to_csv(out / "bootstrap_tests.csv", index=False)
            print(
                f"[{family} split {split}] {timings[-1]['seconds']:.0f} s: "
                + ", ".join(f"{m} {metrics.harrell_c(y[idx_va], r):.3f}" for m, r in risks.items()),
                flush=True,
            )
    per_split, boot = pd.DataFrame(rows), pd.DataFrame(boot)
    summary, tests = summarise(per_split, boot, reference, *sizes)
    summary.to_csv(out / "summary.csv", index=False)
    tests.to_csv(out / "tests.csv", index=False)
    total = time.perf_counter() - started
    per_combo = total / len(timings)
    results = dict(settings=vars(args), reference=reference, machine=platform.processor() or platform.machine(),
                   seconds=total, seconds_per_family_split=per_combo, timings=timings,
                   summary=summary.to_dict("records"), tests=tests.to_dict("records"))  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    table = markdown(summary, tests)
    (out / "table.md").write_text(table)
    print(table)
    print(f"{total:.0f} s in all, {per_combo:.0f} s per family and split")


if __name__ == "__main__":
    main()
