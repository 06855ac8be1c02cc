"""The paper's two classical models on the synthetic cohort and ClinicalCox on the real HCC-TACE-Seg cohort.

Usage::

    python benchmarks/classical_models.py [--n-patients 301] [--n-jobs 2] [--cache DIR] [--skip-synthetic]

1. Synthetic cohort: ``make_tace_cohort(301, random_state=0)``, split 8:2 stratified by event
   (``train_test_split(..., test_size=0.2, stratify=event, random_state=0)``). ``ClinicalCox`` (AFP log-transformed)
   and ``RadiomicsCox`` (default CT radiomics, LASSO penalty by 5-fold inner CV, ``random_state=0``) are fitted on
   the training cohort; the validation cohort gives Harrell's C (95% percentile bootstrap CI, 1000 resamples,
   seed 0) and the 3-year (1095 days) cumulative/dynamic TD AUC (95% CI from timeROC's iid variance), with the
   oracle C-index of the true log hazard on the same patients.
2. HCC-TACE-Seg (105 real TACE patients, clinical only): 5-fold CV (stratified by event, shuffled, seed 0) of
   ``ClinicalCox`` next to a plain Cox model (scikit-survival ``CoxPHSurvivalAnalysis``, Efron ties) of all the
   same candidate factors without the screen. Sparse levels are merged first (Child-Pugh B/C, BCLC C/D, mRECIST
   SD/PD) so that every level occurs in every training fold; missing responses (6) are imputed with the training
   fold's most frequent level (``impute="median"``); tumour size (52 missing) is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sksurv.linear_model import CoxPHSurvivalAnalysis

from sksurv_tace import metrics
from sksurv_tace.datasets.hcc_tace_seg import load_hcc_tace_seg
from sksurv_tace.datasets.synthetic import make_tace_cohort
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.models.radiomics_cox import RadiomicsCox
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor
from sksurv_tace.preprocessing.radiomics import RadiomicsExtractor

HORIZON = 1095.0


def _evaluate(name, y_val, risk, seed=0) -> dict:
    c = metrics.c_index_ci(y_val, risk, n_bootstrap=1000, random_state=seed)
    auc = metrics.td_auc_ci(y_val, risk, HORIZON).iloc[0]
    return {
        "model": name,
        "c_index": round(c.estimate, 3),
        "c_index_ci": [round(c.lower, 3), round(c.upper, 3)],
        "td_auc_3y": round(float(auc["auc"]), 3),
        "td_auc_3y_ci": [round(float(auc["lower"]), 3), round(float(auc["upper"]), 3)],
    }


def synthetic(n_patients: int, n_jobs: int, cache: str, folder: str) -> dict:
    start = time.perf_counter()
    X, y, truth = make_tace_cohort(n_patients, path=folder, random_state=0, return_truth=True)
    index = np.arange(len(X))
    train, val = train_test_split(index, test_size=0.2, stratify=y["event"], random_state=0)
    X_train, X_val, y_train, y_val = X.iloc[train], X.iloc[val], y[train], y[val]

    clinical = ClinicalCox(log_transform=["afp"]).fit(X_train, y_train)
    extractor = RadiomicsExtractor(n_jobs=n_jobs, memory=cache, progress=False)
    t0 = time.perf_counter()
    radiomic = RadiomicsCox(extractor=extractor, random_state=0).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - t0
    results = {
        "cohort": f"make_tace_cohort({n_patients}, random_state=0)",
        "n_train": len(train),
        "n_val": len(val),
        "events_train": int(y_train["event"].sum()),
        "events_val": int(y_val["event"].sum()),
        "clinical_selected_factors": clinical.selector_.selected_factors_,
        "radiomics_n_features": len(radiomic.feature_names_),
        "radiomics_after_corr_filter": len(radiomic.kept_features_),
        "radiomics_alpha": radiomic.alpha_,
        "radiomics_selected": radiomic.selected_features_,
        "radiomics_fit_seconds": round(fit_seconds, 1),
        "validation": [
            _evaluate("ClinicalCox", y_val, clinical.predict(X_val)),
            _evaluate("RadiomicsCox", y_val, radiomic.predict(X_val)),
            _evaluate("oracle (true log hazard)", y_val, truth["lp"].to_numpy()[val]),
            _evaluate("oracle clinical part", y_val, truth["clinical_lp"].to_numpy()[val]),
        ],
        "train_c_index": {
            "ClinicalCox": round(clinical.score(X_train, y_train), 3),
            "RadiomicsCox": round(radiomic.score(X_train, y_train), 3),
        },
        "table2_train": clinical.summary_.round(4).to_dict(orient="records"),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return results


def hcc_tace_seg() -> dict:
    X, y = load_hcc_tace_seg(paper_factors=True)  # sparse levels merged, tumour size and overlapping stages left out
    factors = [c for c in X.columns if c != "patient_id"]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    folds = list(cv.split(X, y["event"]))
    clinical = ClinicalCox(log_transform=["afp"], impute="median")
    plain = Pipeline(
        [
            ("prep", ClinicalPreprocessor(log_transform=["afp"], impute="median")),
            ("cox", CoxPHSurvivalAnalysis(ties="efron")),
        ]
    )
    out = {"cohort": "load_hcc_tace_seg()", "n": len(X), "events": int(y["event"].sum()), "factors": factors}
    for name, model in (("ClinicalCox", clinical), ("plain Cox, all factors", plain)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cross_val_score(model, X, y, cv=folds)
        out[name] = {"fold_c_index": np.round(scores, 3).tolist(), "mean": round(scores.mean(), 3),
                     "sd": round(scores.std(ddof=1), 3)}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = ClinicalCox(log_transform=["afp"], impute="median").fit(X, y)
    out["selected_on_full_cohort"] = full.selector_.selected_factors_
    out["selected_per_fold"] = []
    for train, _ in folds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fold = ClinicalCox(log_transform=["afp"], impute="median").fit(X.iloc[train], y[train])
        out["selected_per_fold"].append(fold.selector_.selected_factors_)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=301)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cache", default=None, help="radiomics cache folder (default: a temporary one)")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args(argv)
    record = {"hcc_tace_seg": hcc_tace_seg()}
    print(json.dumps(record["hcc_tace_seg"], indent=1))
    if not args.skip_synthetic:
        with tempfile.TemporaryDirectory() as folder:
            cache = args.cache or os.path.join(folder, "cache")
            record["synthetic"] = synthetic(args.n_patients, args.n_jobs, cache, os.path.join(folder, "cohort"))
        summary = {k: v for k, v in record["synthetic"].items() if k != "table2_train"}
        print(json.dumps(summary, indent=1))
        print(pd.DataFrame(record["synthetic"]["table2_train"]).to_string())
    return record


if __name__ == "__main__":
    main()
