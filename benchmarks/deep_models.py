"""The paper's deep models (DLOP_Combin, DLOP_CTR, DLOP_Cox) on the synthetic cohort, over seeded 8:2 splits.

Usage::

    python benchmarks/deep_models.py --splits 1                    # CPU preset: ResNet-18 at 112 px
    python benchmarks/deep_models.py --splits 5 --device cuda      # same preset on a GPU
    python benchmarks/deep_models.py --backbone resnet101 --image-size 224 --device cuda   # the paper's net

For split ``s`` (0, 1, ...): ``make_tace_cohort(n, random_state=0)`` split by
``train_test_split(test_size=0.2, stratify=event, random_state=s)``. On the training cohort:
``FusionSurvival`` and ``CTSurvival`` (AdamW lr 1e-3, weight decay 1e-4, batch 32, augmentation,
cosine LR, early stopping on the validation loss of an event-stratified 20% internal split,
patience 10, best weights restored; ``random_state=s``), ``CNNCox`` on that ``CTSurvival``
(``prefit=True``) and ``ClinicalCox`` (AFP log-transformed). The validation cohort gives Harrell's
C and the 3-year (1095 days) cumulative/dynamic TD AUC of each model, and of the oracle (the true
log hazard). ``share`` is ``(C - 0.5) / (C_oracle - 0.5)`` (target for FusionSurvival: >= 0.7).
ROIs are cached on disk (``--cache``) so the two nets and the splits read each volume once.

For a machine without SimpleITK (the GPU box), ``--export-rois FILE`` writes the cohort table and
its ROIs (8-bit, ``round(255 * roi)``) with this machine's ``CTPreprocessor``; ``--rois FILE`` then
trains on those ROIs. ``--pickle-check DIR`` (on CUDA) pickles a CUDA-trained ``CTSurvival`` and
reloads it in a CPU-only subprocess (``CUDA_VISIBLE_DEVICES=""``), comparing its predictions.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import train_test_split

from sksurv_tace import metrics
from sksurv_tace.datasets.synthetic import make_tace_cohort
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.models.cnn_cox import CNNCox
from sksurv_tace.models.deep import CTSurvival, FusionSurvival
from sksurv_tace.preprocessing.imaging import CTPreprocessor

HORIZON = 1095.0
ROI_TABLE: dict = {}  # patient_id -> (uint8 ROI (3, H, W), bool mask (H, W)) for --rois


class PrecomputedROIs(TransformerMixin, BaseEstimator):
    """The deep models' ``image_preprocessor`` for ``--rois``: ROIs computed beforehand by ``CTPreprocessor``
    (8-bit), looked up in :data:`ROI_TABLE` by ``patient_id``."""

    def __init__(self, image_column="ct", mask_column="mask"):
        self.image_column = image_column
        self.mask_column = mask_column

    def fit(self, X, y=None):
        return self

    def transform(self, X, return_mask=False):
        pairs = [ROI_TABLE[pid] for pid in X["patient_id"]]
        images = np.stack([p[0] for p in pairs]).astype(np.float32) / 255.0
        masks = np.stack([p[1] for p in pairs])
        return (images, masks) if return_mask else images

    def transform_masks(self, X):
        return self.transform(X, return_mask=True)[1]


def export_rois(args, path):
    folder = args.cohort or tempfile.mkdtemp(prefix="deep_models_cohort_")
    X, y, truth = make_tace_cohort(args.n_patients, path=folder, random_state=0, return_truth=True, overwrite=True)
    prep = CTPreprocessor(image_size=args.image_size, n_jobs=args.n_jobs, memory=args.cache)
    images, masks = prep.fit(X).transform(X, return_mask=True)
    with open(path, "wb") as fh:
        pickle.dump(
            {
                "X": X,
                "y": y,
                "truth": truth,
                "images": np.round(images * 255).astype(np.uint8),
                "masks": masks,
                "image_size": args.image_size,
            },  # fmt: skip
            fh,
        )


def load_rois(path):
    with open(path, "rb") as fh:
        bundle = pickle.load(fh)
    ROI_TABLE.clear()
    for pid, image, mask in zip(bundle["X"]["patient_id"], bundle["images"], bundle["masks"], strict=True):
        ROI_TABLE[pid] = (image, mask)
    return bundle


def _nets(args, seed, cache):
    if ROI_TABLE:
        image = PrecomputedROIs()
    else:
        image = CTPreprocessor(image_size=args.image_size, memory=cache, n_jobs=args.n_jobs)
    common = dict(
        image_preprocessor=image,
        backbone=args.backbone,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=1e-4,
        early_stopping="loss",
        patience=args.patience,
        device=args.device,
        random_state=seed,
        verbose=args.verbose,
    )
    return FusionSurvival(clinical=ClinicalBranch(log_transform=["afp"]), **common), CTSurvival(**common)


def _row(model, split, y_val, risk, oracle_c):
    c = metrics.harrell_c(y_val, risk)
    auc = float(np.asarray(metrics.td_auc(y_val, risk, [HORIZON]))[0])
    share = (c - 0.5) / (oracle_c - 0.5)
    return {"model": model, "split": split, "c_index": c, "td_auc_3y": auc, "share": share}


def run(args) -> dict:
    start = time.perf_counter()
    cache = args.cache or tempfile.mkdtemp(prefix="deep_models_roi_cache_")
    if args.rois:
        bundle = load_rois(args.rois)
        X, y, truth = bundle["X"], bundle["y"], bundle["truth"]
        if bundle["image_size"] != args.image_size:
            raise ValueError(f"{args.rois} holds {bundle['image_size']} px ROIs, not {args.image_size}")
    else:
        folder = args.cohort or tempfile.mkdtemp(prefix="deep_models_cohort_")
        X, y, truth = make_tace_cohort(args.n_patients, path=folder, random_state=0, return_truth=True, overwrite=True)
    rows, extra = [], []
    for split in range(args.splits):
        train, val = train_test_split(np.arange(len(X)), test_size=0.2, stratify=y["event"], random_state=split)
        X_train, X_val, y_train, y_val = X.iloc[train], X.iloc[val], y[train], y[val]
        oracle_c = metrics.harrell_c(y_val, truth["lp"].to_numpy()[val])
        fusion, ct = _nets(args, split, cache)
        timings = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for name, model in (("FusionSurvival", fusion), ("CTSurvival", ct)):
                t0 = time.perf_counter()
                model.fit(X_train, y_train)
                timings[name] = time.perf_counter() - t0
            cnncox = CNNCox(ct, prefit=True, log_transform=["afp"]).fit(X_train, y_train)
            clinical = ClinicalCox(log_transform=["afp"]).fit(X_train, y_train)
        for name, model in (
            ("FusionSurvival", fusion),
            ("CTSurvival", ct),
            ("CNNCox", cnncox),
            ("ClinicalCox", clinical),
        ):
            rows.append(_row(name, split, y_val, model.predict(X_val), oracle_c))
        rows.append(_row("oracle (true log hazard)", split, y_val, truth["lp"].to_numpy()[val], oracle_c))
        rows.append(_row("oracle clinical part", split, y_val, truth["clinical_lp"].to_numpy()[val], oracle_c))
        rows.append(_row("oracle image part", split, y_val, truth["image_lp"].to_numpy()[val], oracle_c))
        extra.append(
            {
                "split": split,
                "fit_seconds": {k: round(v, 1) for k, v in timings.items()},
                "epochs": {"FusionSurvival": len(fusion.history_), "CTSurvival": len(ct.history_)},
                "best_epoch": {
                    name: int(np.argmin(model.history_[:, "valid_loss"])) + 1
                    for name, model in (("FusionSurvival", fusion), ("CTSurvival", ct))
                },
                "fusion_clinical_features": fusion.clinical_.selected_features_,
                "cnncox_features": cnncox.features_,
                "cnncox_cnn_hr": cnncox.summary_.loc["cnn_survival", ["HR", "HR_lower", "HR_upper", "p"]].to_dict(),
                "train_c_index": {
                    "FusionSurvival": fusion.score(X_train, y_train),
                    "CTSurvival": ct.score(X_train, y_train),
                },
            }
        )
        print(pd.DataFrame([r for r in rows if r["split"] == split]).round(3).to_string(index=False), flush=True)
        print(json.dumps(extra[-1], default=float), flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("model", sort=False)[["c_index", "td_auc_3y", "share"]].agg(["mean", "std"]).round(3)
    print(summary.to_string())
    flat = summary.copy()
    flat.columns = [f"{a}_{b}" for a, b in flat.columns]
    return {
        "settings": {k: v for k, v in vars(args).items() if k not in ("json",)},
        "device": torch.cuda.get_device_name() if str(args.device).startswith("cuda") else "cpu",
        "rows": rows,
        "splits": extra,
        "summary": flat.reset_index().to_dict(orient="records"),
        "seconds": round(time.perf_counter() - start, 1),
    }


_CPU_LOAD = """
import os, pickle, sys
import numpy as np, torch
sys.path.insert(0, os.path.dirname(sys.argv[1]))
sys.path.insert(0, "benchmarks")
import deep_models
assert not torch.cuda.is_available()
deep_models.load_rois(sys.argv[3])
with open(sys.argv[1], "rb") as fh:
    model = pickle.load(fh)
risk_cuda = np.load(sys.argv[2])
X = deep_models.pickle.load(open(sys.argv[3], "rb"))["X"]
risk_cpu = model.predict(X)
rank = lambda r: np.argsort(np.argsort(r))
print(f"reloaded on {model.device}: max |risk_cpu - risk_cuda| = {np.abs(risk_cpu - risk_cuda).max():.2e}, "
      f"rank correlation {np.corrcoef(rank(risk_cpu), rank(risk_cuda))[0, 1]:.6f}")
"""


def pickle_check(args, folder) -> dict:
    """Fit CTSurvival on ``--device``, pickle it, reload it in a process that sees no GPU, compare predictions."""
    import deep_models as module  # pickled classes must live in an importable module, not __main__

    bundle = module.load_rois(args.rois)
    X, y = bundle["X"].iloc[:96], bundle["y"][:96]
    model = CTSurvival(
        image_preprocessor=module.PrecomputedROIs(),
        max_epochs=3,
        batch_size=32,
        early_stopping="loss",
        patience=1,
        verbose=0,
        random_state=0,
        device=args.device,
    ).fit(X, y)
    print(f"trained on {next(model.net_.module_.parameters()).device}", flush=True)
    risk = model.predict(bundle["X"])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "ct_cuda.pkl"), "wb") as fh:
        pickle.dump(model, fh)
    np.save(os.path.join(folder, "risk_cuda.npy"), risk)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-c", _CPU_LOAD, os.path.join(folder, "ct_cuda.pkl"), os.path.join(folder, "risk_cuda.npy"),
         args.rois],  # fmt: skip
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    print(result.stdout, result.stderr[-2000:], flush=True)
    return {"returncode": result.returncode, "stdout": result.stdout}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--n-patients", type=int, default=301)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cohort", default=None, help="folder for the cohort (default: a temporary one)")
    parser.add_argument("--cache", default=None, help="ROI cache folder (default: a temporary one)")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--rois", default=None, help="train on ROIs exported by --export-rois")
    parser.add_argument("--export-rois", default=None, help="write the cohort and its ROIs to this file and stop")
    parser.add_argument("--pickle-check", default=None, help="folder: model trained on --device reloaded on CPU")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.export_rois:
        export_rois(args, args.export_rois)
        return {}
    if args.pickle_check:
        return pickle_check(args, args.pickle_check)
    out = run(args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2, default=float)
    return out


if __name__ == "__main__":
    main()
