"""TumourBurdenCox against ClinicalCox on the synthetic cohort, over the protocol's five seeded 8:2 splits.

Usage::

    python benchmarks/tumour_burden.py [--n-patients 301] [--splits 5] [--n-jobs 2] [--out FILE.json]

Pre-specified before the first run (nothing below was changed after it):

* Cohort: ``make_tace_cohort(301, random_state=0)`` (default ``"texture"`` phenotype, CT volumes 32 x 128 x 128 at
  2.5 x 1.5 x 1.5 mm, one to three tumours per patient).
* Splits: the protocol's event-stratified 8:2 splits, ``paper.protocol.split_cohort(y, seed)`` for seeds 0-4 (as
  ``reproduce --repeats 5``).
* Models, fitted on each training cohort: ``ClinicalCox(log_transform=["afp"])`` (as benchmarks/classical_models.py)
  and ``TumourBurdenCox(log_transform=["afp"])`` (the same clinical screen, p < 0.05, plus log2 tumour volume and
  lesion count measured by ``LesionBurden`` from the CT masks, always kept).
* Outcome: Harrell's C on each validation cohort (also the 3-year TD AUC), mean +- sd over the 5 splits; the oracle C
  of the true log hazard on the same patients.
* Tests: (1) primary, across splits: the 5 paired differences C(TumourBurdenCox) - C(ClinicalCox), two-sided
  corrected resampled t-test (Nadeau & Bengio 2003: variance times ``1/k + n_val/n_train``, because the training
  sets overlap; df = 4; ``metrics.compare_over_splits`` since it landed, the same test as the first run's own
  code); (2) per split, the package's paired bootstrap test
  (``metrics.compare_models(..., reference="ClinicalCox")``, 1000 resamples, seed = split seed), BH-FDR adjusted
  over the 5 splits. "not significant" wherever p >= 0.05.
* Expectation, stated before running: the cohort's hazard depends on MVI, ALBI grade, BCLC-B subclass, response and
  the tumour's texture phenotype, not on tumour volume or count, so the burden covariates carry no signal and
  TumourBurdenCox should not beat ClinicalCox (a small loss from two noise covariates is possible). A check that
  ``LesionBurden`` measures what the cohort drew: Spearman correlation of ``tumour_volume_ml`` with the clinical
  ``tumor_size`` column (the largest tumour's diameter) and mean lesion count by ``tumor_number``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from sksurv_tace import metrics
from sksurv_tace.datasets.synthetic import make_tace_cohort
from sksurv_tace.models import ClinicalCox, TumourBurdenCox
from sksurv_tace.paper.protocol import split_cohort
from sksurv_tace.preprocessing import LesionBurden

HORIZON = 1095.0


def run(n_patients: int, n_splits: int, n_jobs: int, folder: str) -> dict:
    start = time.perf_counter()
    X, y, truth = make_tace_cohort(n_patients, path=os.path.join(folder, "cohort"), random_state=0, return_truth=True)
    cohort_seconds = time.perf_counter() - start
    burden = LesionBurden(n_jobs=n_jobs, memory=os.path.join(folder, "cache"))
    t0 = time.perf_counter()
    table = burden.fit_transform(X)  # fills the cache every fit below reads
    burden_seconds = time.perf_counter() - t0
    rho = stats.spearmanr(table["tumour_volume_ml"], X["tumor_size"])[0]
    by_number = table.groupby(X["tumor_number"].astype(str))["lesion_count"].mean()
    check = {
        "spearman_volume_vs_tumor_size": round(float(rho), 3),
        "mean_lesion_count_by_tumor_number": by_number.round(2).to_dict(),
        "lesion_count_distribution": table["lesion_count"].value_counts().sort_index().to_dict(),
    }
    rows, comparisons = [], []
    for seed in range(n_splits):
        train, val = split_cohort(y, seed)
        models = {
            "ClinicalCox": ClinicalCox(log_transform=["afp"]),
            "TumourBurdenCox": TumourBurdenCox(burden, log_transform=["afp"]),
        }
        risks = {}
        for name, model in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X.iloc[train], y[train])
            risks[name] = model.predict(X.iloc[val])
            rows.append({
                "split": seed, "model": name, "c_index": metrics.harrell_c(y[val], risks[name]),
                "td_auc_3y": float(metrics.td_auc(y[val], risks[name], HORIZON)[0]),
                "features": list(getattr(model, "features_", getattr(model, "selected_features_", []))),
            })  # fmt: skip
        oracle = truth["lp"].to_numpy()[val]
        rows.append({"split": seed, "model": "oracle", "c_index": metrics.harrell_c(y[val], oracle),
                     "td_auc_3y": float(metrics.td_auc(y[val], oracle, HORIZON)[0]), "features": []})  # fmt: skip
        test = metrics.compare_models(y[val], risks, "ClinicalCox", n_bootstrap=1000, random_state=seed)
        comparisons.append(test.assign(split=seed, n_train=len(train), n_val=len(val)))
    per_split = pd.DataFrame(rows)
    tests = pd.concat(comparisons, ignore_index=True)
    tests["p_fdr_over_splits"] = stats.false_discovery_control(tests["p_value"].to_numpy(), method="bh")
    wide = per_split.pivot(index="split", columns="model", values="c_index")
    differences = (wide["TumourBurdenCox"] - wide["ClinicalCox"]).to_numpy()
    ratio = float(tests["n_val"].iloc[0] / tests["n_train"].iloc[0])
    across = metrics.compare_over_splits(per_split[per_split["model"] != "oracle"], "ClinicalCox",
                                         test_train_ratio=ratio, split_column="split").iloc[0]  # fmt: skip
    t, p = float(across["t"]), float(across["p_value"])
    summary = {}
    for model, group in per_split.groupby("model", sort=False):
        summary[model] = {f"{m}_{s}": round(float(getattr(group[m], s)()), 3) for m in ("c_index", "td_auc_3y")
                          for s in ("mean", "std")}  # fmt: skip
    columns = [
        "split",
        "estimate",
        "reference_estimate",
        "difference",
        "lower",
        "upper",
        "p_value",
        "p_fdr_over_splits",
    ]
    difference = {
        "per_split": np.round(differences, 4).tolist(),
        "mean": round(float(differences.mean()), 4),
        "sd": round(float(differences.std(ddof=1)), 4),
        "corrected_t": round(t, 3),
        "p": round(p, 4),
    }
    return {
        "cohort": f"make_tace_cohort({n_patients}, random_state=0)",
        "splits": f"split_cohort(y, seed) for seed in range({n_splits})",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "seconds": {
            "cohort": round(cohort_seconds, 1),
            "lesion_burden_all_patients": round(burden_seconds, 1),
            "total": round(time.perf_counter() - start, 1),
        },  # fmt: skip
        "burden_check": check,
        "summary": summary,
        "per_split": per_split.round(4).to_dict(orient="records"),
        "difference_c_index": difference,
        "bootstrap_tests": tests[columns].round(4).to_dict(orient="records"),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=301)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None, help="also write the record as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        record = run(args.n_patients, args.splits, args.n_jobs, folder)
    text = json.dumps(record, indent=1, default=str)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    return record


if __name__ == "__main__":
    main()
