"""Command line interface: ``sksurv-tace``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

__all__ = ["main"]


def _cohort(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from sksurv_tace.datasets import CLINICAL_UNITS
    from sksurv_tace.datasets.synthetic import make_tace_cohort
    from sksurv_tace.paper.formatting import format_p
    from sksurv_tace.paper.protocol import split_cohort
    from sksurv_tace.paper.report import baseline_table

    start = time.perf_counter()
    print(f"Writing a synthetic TACE cohort of {args.n_patients} patients to {args.out} (seed {args.seed}) ...")
    X, y = make_tace_cohort(
        args.n_patients, path=args.out, random_state=args.seed, with_images=not args.no_images,
        overwrite=args.overwrite, progress=not args.quiet,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    train, _ = split_cohort(y, args.seed)
    groups = np.where(np.isin(np.arange(len(X)), train), "Training", "Validation")
    table = baseline_table(X, y, groups=groups, units=CLINICAL_UNITS)
    out = Path(args.out)
    table.to_csv(out / "table1.csv", index=False)
    with pd.option_context("display.max_rows", None, "display.width", 160, "display.max_colwidth", 40):
        print("\nTable 1. Baseline characteristics (seeded, event-stratified 8:2 split)")
        print(table.assign(p=table["p"].map(lambda p: format_p(p, missing=""))).to_string(index=False))
    print(
        f"\n{len(X)} patients, {int(y['event'].sum())} deaths, written in {elapsed:.1f} s: "
        f"{out / 'manifest.csv'}, {out / 'table1.csv'}" + ("" if args.no_images else f", {out / 'images'}/")
    )
    return 0


def _load_cohort(args: argparse.Namespace, *, check_images: bool = True):
    """The manifest's ``(X, y)``; with ``check_images`` every patient's CT and mask checked now, all bad ones
    named in one message, before any model trains (``evaluate`` reads no image and skips it). The mask options
    (``--segment``, ``--mask-label``, ``--mask-geometry``, a ``segment`` column) go to ``args.image_options``."""
    from sksurv_tace.datasets.manifest import load_manifest
    from sksurv_tace.preprocessing.image_checks import check_image_paths

    X, y = load_manifest(args.manifest, time_unit=args.time_unit, check_files=False)
    X, args.image_options = _image_options(args, X)
    if check_images and {"ct", "mask"} <= set(X.columns):
        with _c_stderr_hidden(args.verbose):
            check_image_paths(X, **args.image_options)
    return X, y


def _image_options(args: argparse.Namespace, X):
    """``(X without a segment column, mask options)`` from ``--segment``, ``--mask-label``, ``--mask-geometry``."""
    from sksurv_tace.preprocessing._alignment import cohort_image_options

    return cohort_image_options(X, segment=getattr(args, "segment", None), mask_label=getattr(args, "mask_label", None),
                                mask_geometry=getattr(args, "mask_geometry", None))  # fmt: skip


def _apply_image_options(model, options: dict) -> None:
    from sksurv_tace.preprocessing._alignment import apply_image_options

    apply_image_options(model, options)


@contextlib.contextmanager
def _c_stderr_hidden(verbose: bool):
    """Hide what C libraries print on stderr (ITK's readers, niftilib, metaio, libpng) about a bad file while the
    files are checked: the check names the patient, the file and the problem in words; ``--verbose`` shows it."""
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _reproduce(args: argparse.Namespace) -> int:
    from sksurv_tace._device import resolve_device
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    resolve_device(args.device)  # before the cohort is written or read
    out = Path(args.out)
    truth, excluded, earlier = None, None, {}
    if args.manifest:
        X, y = _load_cohort(args)
        name = Path(args.manifest).name
        excluded = _skip_log(args.manifest, quiet=args.quiet)
    else:
        if not args.quiet:
            print(f"Writing the built-in synthetic cohort ({args.n_patients} patients, seed {args.seed}) to "
                  f"{out / 'cohort'}")  # fmt: skip
        started = time.perf_counter()
        X, y, truth = make_tace_cohort(
            args.n_patients, path=out / "cohort", random_state=args.seed, overwrite=True, return_truth=True,
            progress=not args.quiet,
        )  # fmt: skip
        earlier["cohort_writing"] = time.perf_counter() - started
        name = f"the built-in synthetic TACE cohort (n={args.n_patients}, seed {args.seed})"
    from sksurv_tace.paper.run import reproduce  # seconds of imports: after a bad manifest was refused

    result = reproduce(
        X, y, out=out, quick=args.quick, device=args.device, repeats=args.repeats, random_state=args.seed,
        truth=truth, n_bootstrap=args.n_bootstrap, n_jobs=args.n_jobs, impute=args.impute, cohort_name=name,
        excluded=excluded, progress=not args.quiet, log=_silent if args.quiet else print,
        image_options=getattr(args, "image_options", None), earlier_stages=earlier, repeat_jobs=args.repeat_jobs,
    )  # fmt: skip
    comparison = result.tables["comparison"]
    print("\nValidation cohort, ours next to the paper:")
    print(comparison.round(3).astype(object).where(comparison.notna(), "").to_string(index=False))
    if result.skipped:
        reasons = sorted(set(result.skipped.values()))
        print(f"\nNot run: {', '.join(result.skipped)} ({'; '.join(reasons)}); only {', '.join(result.models)} ran.")
    print(f"\nReport: {out / 'report.html'} (also report.md, tables as CSV, figures/, results.json, models/)")
    return 0


def _skip_log(manifest, *, quiet: bool) -> dict | None:
    """The patients ``sksurv-tace manifest`` left out (its ``<manifest>_skipped.csv``), for the report; or None."""
    from sksurv_tace.datasets.tcia import read_skipped_log, skipped_log_path

    skipped = read_skipped_log(manifest)
    if skipped is not None and not quiet:
        print(f"{len(skipped)} patient(s) left out by 'sksurv-tace manifest' ({skipped_log_path(manifest)}) are "
              "listed in the report")  # fmt: skip
    return skipped


def _silent(line: str) -> None:
    """The ``log`` of a ``--quiet`` run."""


def _new_output(args: argparse.Namespace) -> Path:
    """The ``--out`` file, refused when it exists and ``--overwrite`` was not given."""
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{str(out)!r} already exists; choose another file or pass --overwrite")
    return out


def _fit(args: argparse.Namespace) -> int:
    import joblib

    from sksurv_tace._device import resolve_device
    from sksurv_tace.paper.presets import MODEL_NAMES, cohort_options, paper_models

    resolve_device(args.device)
    out = _new_output(args)
    X, y = _load_cohort(args)
    models = paper_models(quick=args.quick, device=args.device, random_state=args.seed, n_jobs=args.n_jobs,
                          progress=not args.quiet, image_options=args.image_options, **cohort_options(X))  # fmt: skip
    if args.model not in MODEL_NAMES:
        raise ValueError(f"unknown model {args.model!r}; the models are {', '.join(MODEL_NAMES)}")
    if args.model not in models:
        raise ValueError(
            f"{args.model} needs CT images: the manifest has no 'ct' and 'mask' columns (models for it: "
            f"{', '.join(m for m in MODEL_NAMES if m in models)})"
        )
    print(f"Fitting {args.model} on {len(X)} patients ...")
    model = models[args.model].fit(X, y)
    from sksurv_tace.paper.validate import development_summary

    model.development_ = development_summary(model, X, y)  # cut-offs and Table 1, read by predict and validate
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)
    print(f"Saved {args.model} to {out}")
    return 0


def _load_model(args: argparse.Namespace):
    from sksurv_tace.models import load_model

    try:
        model = load_model(args.model)  # a reproduce CNNCox.joblib also reads CTSurvival.joblib next to it
    except FileNotFoundError:
        raise
    except Exception as exc:  # joblib/pickle raise many types on a file that is not a saved model
        raise ValueError(
            f"--model {args.model} is not a model saved by 'sksurv-tace fit' ({type(exc).__name__}: {exc})"
        ) from None
    if not (hasattr(model, "predict") and hasattr(model, "predict_survival_at")):
        raise ValueError(f"--model {args.model} holds a {type(model).__name__}, not a survival model of sksurv_tace")
    return model


def _risk_cutoff(model, model_file, risk) -> tuple[float, str]:
    """The high/low risk cut-off: the Youden cut-off stored by ``fit``, else ``reproduce``'s (its results.json), else
    the training median stored by ``fit``, else this cohort's median."""
    import json

    stored = getattr(model, "development_", None) or {}
    if stored.get("youden_cutoff") is not None:
        return stored["youden_cutoff"], f"Youden cut-off at {stored['horizon']:g} days on the development cohort"
    results = Path(model_file).resolve().parent.parent / "results.json"
    if results.is_file():
        cutoffs = json.loads(results.read_text(encoding="utf-8")).get("youden_cutoffs", {})
        if Path(model_file).stem in cutoffs:
            return float(cutoffs[Path(model_file).stem]), f"Youden cut-off on the training cohort ({results})"
    if stored.get("median_risk") is not None:
        return stored["median_risk"], "median risk of the development cohort"
    import numpy as np

    return float(np.median(risk)), "median risk of these patients (the model stores no development cut-off)"


def _predict(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    out = _new_output(args)
    model = _load_model(args)
    X, _ = _load_cohort(args)
    _apply_image_options(model, args.image_options)
    from sksurv_tace.paper.validate import _check_columns

    _check_columns(model, X, cohort="the manifest")
    days = [365.0, 730.0, 1095.0]
    survival = model.predict_survival_at(X, days)
    risk = np.asarray(model.predict(X), dtype=float)
    table = pd.DataFrame({"patient_id": X["patient_id"], "risk": risk})
    for k, t in enumerate(days):
        table[f"survival_{t:.0f}"] = survival[:, k]
    cutoff, source = _risk_cutoff(model, args.model, risk)
    table["risk_group"] = np.where(risk >= cutoff, "high", "low")
    table["risk_cutoff"] = cutoff
    table["cutoff_source"] = source
    table.to_csv(out, index=False)
    print(f"Wrote risk, survival at 365, 730 and 1095 days and the risk group of {len(table)} patients to {out}")
    print(f"Risk group: high when risk >= {cutoff:.4g} ({source})")
    return 0


def _sha256(path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _validate(args: argparse.Namespace) -> int:
    import json

    model_hash = _sha256(args.model) if Path(args.model).is_file() else None
    model = _load_model(args)
    X, y = _load_cohort(args, check_images=False)
    _apply_image_options(model, args.image_options)  # validate() checks the factors the model needs
    development = None
    if args.development:
        from sksurv_tace.datasets.manifest import load_manifest

        development = load_manifest(args.development, time_unit=args.time_unit, check_files=False)
    from sksurv_tace.paper.validate import validate, write_validation

    result = validate(model, X, y, horizon=args.horizon, development=development, recalibrate=args.recalibrate,
                      n_bootstrap=args.n_bootstrap, random_state=args.seed)  # fmt: skip
    out = Path(args.out)
    name = type(model).__name__
    write_validation(result, out, model_name=f"{name} ({Path(args.model).name})", model_hash=model_hash)
    (out / "model.json").write_text(json.dumps({"model_file": str(args.model), "sha256": model_hash, "model": name,
                                                "horizon_days": args.horizon}, indent=2), encoding="utf-8")  # fmt: skip
    d = result.tables["discrimination"]
    print(f"{result.n} patients, {result.events} deaths; {name} (SHA-256 {model_hash}) not refitted")
    print(f"Harrell's C {d['estimate'][0]:.3f}, TD AUC at {args.horizon:.0f} days {d['estimate'][2]:.3f}, "
          f"calibration slope {result.calibration.slope:.3f}")  # fmt: skip
    if result.membership_c is not None:
        print(f"Membership C-index (development vs validation) {result.membership_c:.3f}")
    print(f"Report: {out / 'validation_report.md'} (tables as CSV, calibration.png, model.json)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from sksurv_tace import metrics
    from sksurv_tace.paper.formatting import format_ci

    predictions = pd.read_csv(args.predictions, dtype={"patient_id": str})
    if not {"patient_id", "risk"} <= set(predictions.columns):
        raise ValueError(f"{args.predictions} must have the columns 'patient_id' and 'risk' (as written by predict)")
    X, y = _load_cohort(args, check_images=False)
    position = {p: i for i, p in enumerate(X["patient_id"])}
    missing = [p for p in predictions["patient_id"] if p not in position]
    if missing:
        raise ValueError(f"patients {missing[:5]} of the predictions are not in the manifest {args.manifest}")
    y = y[[position[p] for p in predictions["patient_id"]]]
    risk = predictions["risk"].to_numpy(float)
    c = metrics.c_index_ci(y, risk, n_bootstrap=args.n_bootstrap, random_state=0, progress=False)
    auc = metrics.td_auc_ci(y, risk, args.horizon).iloc[0]
    print(f"{len(y)} patients, {int(y['event'].sum())} deaths")
    print(f"Harrell's C-index (95% CI, bootstrap): {format_ci(c.estimate, c.lower, c.upper)}")
    auc_text = format_ci(auc["auc"], auc["lower"], auc["upper"])
    print(f"Time-dependent AUC at {args.horizon:.0f} days (95% CI): {auc_text}")
    return 0


def _manifest(args: argparse.Namespace) -> int:
    from sksurv_tace.datasets.tcia import build_tcia_manifest, skipped_log_path

    out = _new_output(args)
    segment = int(args.segment) if args.segment.isdigit() else args.segment
    table, skipped = build_tcia_manifest(args.tcia, args.clinical, out, segment=segment, endpoint=args.endpoint,
                                         overwrite=args.overwrite, progress=not args.quiet)  # fmt: skip
    print(f"{len(table)} patients written to {out}; {len(skipped)} skipped, with the reasons in "
          f"{skipped_log_path(out)}")  # fmt: skip
    for patient, reason in skipped.head(10).itertuples(index=False):
        print(f"  {patient}: {reason}")
    if len(skipped) > 10:
        print(f"  ... and {len(skipped) - 10} more")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sksurv_tace.paper.report import report_from_results

    markdown, page = report_from_results(args.out)
    print(f"Rewrote {markdown} and {page} from {Path(args.out) / 'results.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``sksurv-tace`` argument parser (cohort, reproduce, manifest, report, fit, predict, evaluate, validate)."""
    from sksurv_tace._version import __version__

    parser = argparse.ArgumentParser(
        prog="sksurv-tace",
        description="Survival models for liver-cancer patients treated with TACE (CT images + clinical factors).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cohort = sub.add_parser(
        "cohort",
        help="write the built-in synthetic TACE cohort (manifest + CT volumes) and print its Table 1",
        description="Write the built-in synthetic TACE cohort: manifest.csv, images/ (NIfTI CT and tumour masks) "
        "and table1.csv, and print its baseline characteristics.",
    )
    cohort.add_argument("--out", required=True, help="folder to write the cohort into (created if missing)")
    cohort.add_argument("--n-patients", type=int, default=301, help="number of patients (default: 301)")
    cohort.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    cohort.add_argument("--no-images", action="store_true", help="clinical table only, no CT volumes")
    cohort.add_argument("--overwrite", action="store_true", help="replace the cohort files in a non-empty --out")
    cohort.set_defaults(func=_cohort)

    def manifest_options(p, required=True):
        p.add_argument("--manifest", required=required, help="CSV manifest of the cohort (see load_manifest)")
        p.add_argument("--time-unit", default="days", choices=["days", "weeks", "months", "years"],
                       help="unit of the manifest's time column (default: days)")  # fmt: skip

    def mask_options(p):
        p.add_argument("--segment", action="append", metavar="LABEL",
                       help="DICOM SEG masks: the tumour segment, by label (e.g. Mass) or number; repeat for a union "
                       "(default: the manifest's segment column, else a one-segment SEG's only segment)")  # fmt: skip
        p.add_argument("--mask-label", type=int, default=None,
                       help="label-image masks: the tumour's label (default: a binary mask)")  # fmt: skip
        p.add_argument("--mask-geometry", choices=["strict", "resample"], default=None,
                       help="strict: masks on the CT's grid (after orientation); resample: nearest-neighbour onto "
                       "the CT (default: strict, or the saved model's setting)")  # fmt: skip

    def model_options(p):
        p.add_argument("--quick", action="store_true", help="CPU preset: ResNet-18, 64 px, few epochs")
        p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="where to train (default: cpu)")
        p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")

    rep = sub.add_parser(
        "reproduce",
        help="run the paper's five models and evaluation on a cohort and write tables, figures and a report",
        description="Fit FusionSurvival, CTSurvival, CNNCox, RadiomicsCox and ClinicalCox on a seeded 8:2 split and "
        "write Tables 1-4, the figures, report.md/report.html and results.json. Without --manifest it runs on the "
        "built-in synthetic cohort.",
    )
    manifest_options(rep, required=False)
    model_options(rep)
    mask_options(rep)
    rep.add_argument("--out", default="reproduce_out", help="output folder (default: reproduce_out)")
    rep.add_argument("--n-patients", type=int, default=301, help="size of the synthetic cohort (default: 301)")
    rep.add_argument("--repeats", type=int, default=1, help="number of seeded splits (default: 1)")
    rep.add_argument("--repeat-jobs", type=int, default=None, help="splits fitted at a time (default: 1 by 1)")
    rep.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (default: 1000)")
    rep.add_argument("--n-jobs", type=int, default=-1, help="patients processed in parallel (default: -1, all cores)")
    rep.add_argument("--impute", choices=["median", "most_frequent"], default=None,
                     help="fill missing clinical values from the training cohort (default: refuse them)")  # fmt: skip
    rep.set_defaults(func=_reproduce)

    tcia = sub.add_parser(
        "manifest",
        help="write a manifest from a TCIA download (CT series + DICOM SEG per patient) and a clinical table",
        description="Walk a TCIA download (e.g. HCC-TACE-Seg from the NBIA Data Retriever), find each patient's "
        "DICOM SEG and the pre-treatment CT series it references, join the clinical table and write the manifest "
        "(ct, mask, segment columns) and <manifest>_skipped.csv with every patient left out and why.",
    )
    tcia.add_argument("--tcia", required=True, metavar="DOWNLOAD_DIR", help="the downloaded collection's folder")
    tcia.add_argument("--clinical", required=True, metavar="TABLE",
                      help="the HCC-TACE-Seg clinical table (CSV/XLSX), or patient_id, time (days), event")  # fmt: skip
    tcia.add_argument("--out", required=True, help="manifest CSV to write")
    tcia.add_argument("--segment", default="Mass", help="the tumour's SEG segment, label or number (default: Mass)")
    tcia.add_argument("--endpoint", choices=["os", "ttp"], default="os",
                      help="HCC-TACE-Seg table: overall survival or time to progression (default: os)")  # fmt: skip
    tcia.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    tcia.set_defaults(func=_manifest)

    report = sub.add_parser(
        "report",
        help="rewrite report.md and report.html of a reproduce run from its results.json",
        description="Rewrite the report of a 'reproduce' output folder from its results.json.",
    )
    report.add_argument("out", metavar="OUT", help="output folder of 'sksurv-tace reproduce'")
    report.set_defaults(func=_report)

    fit = sub.add_parser("fit", help="fit one model on a manifest and save it",
                         description="Fit one of the paper's models on a cohort and save it with joblib.")  # fmt: skip
    manifest_options(fit)
    model_options(fit)
    mask_options(fit)
    fit.add_argument("--model", required=True, help="FusionSurvival, CTSurvival, CNNCox, RadiomicsCox or ClinicalCox")
    fit.add_argument("--out", required=True, help="file to save the fitted model to (.joblib)")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    fit.add_argument("--n-jobs", type=int, default=None, help="patients processed in parallel (default: 1)")
    fit.set_defaults(func=_fit)

    pred = sub.add_parser("predict", help="predict risk, 1-, 2-, 3-year survival and risk group with a saved model",
                          description="Write patient_id, risk, survival at 365, 730 and 1095 days (survival_365, "
                          "survival_730, survival_1095) and the high/low risk group to a CSV.")  # fmt: skip
    manifest_options(pred)
    mask_options(pred)
    pred.add_argument("--model", required=True, help="a model saved by 'sksurv-tace fit'")
    pred.add_argument("--out", required=True, help="CSV file to write")
    pred.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    pred.set_defaults(func=_predict)

    ev = sub.add_parser(
        "evaluate",
        help="C-index and time-dependent AUC of saved predictions",
        description="Evaluate a predictions CSV (from 'predict') against the survival in a manifest.",
    )
    manifest_options(ev)
    ev.add_argument("--predictions", required=True, help="CSV with patient_id and risk columns")
    ev.add_argument("--horizon", type=float, default=1095.0, help="horizon of the TD AUC in days (default: 1095)")
    ev.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    ev.set_defaults(func=_evaluate)

    val = sub.add_parser(
        "validate",
        help="validate a saved model, unchanged, on an external cohort",
        description="External validation of a saved model (never refitted): discrimination, calibration, risk groups, "
        "decision curve, Brier score and, with --development, the case mix; writes CSV tables, validation_report.md, "
        "calibration.png and model.json (with the model file's SHA-256).",
    )
    manifest_options(val)
    mask_options(val)
    val.add_argument("--model", required=True, help="a model saved by 'sksurv-tace fit' (or reproduce's models/)")
    val.add_argument("--out", required=True, help="output folder (created if missing)")
    val.add_argument("--development", help="manifest of the development cohort (Table 1 and membership C-index)")
    val.add_argument("--recalibrate", choices=["slope", "intercept"], default=None,
                     help="also report calibration after this locked recalibration")  # fmt: skip
    val.add_argument("--horizon", type=float, default=1095.0, help="horizon in days (default: 1095)")
    val.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    val.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    val.set_defaults(func=_validate)
    for command in sub.choices.values():
        command.add_argument(
            "--verbose", action="store_true", help="show other libraries' warnings and an unexpected error's traceback"
        )
    for command in (cohort, rep, fit, tcia):
        command.add_argument("--quiet", action="store_true", help="no progress bars, epoch tables or step lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line interface.

    Examples
    --------
    >>> import tempfile
    >>> main(["cohort", "--out", tempfile.mkdtemp(), "--n-patients", "30", "--no-images"])  # doctest: +ELLIPSIS
    Writing a synthetic TACE cohort of 30 patients ...
    0
    """
    from sksurv_tace._threads import passive_openmp

    passive_openmp()  # before anything loads torch: its OpenMP threads sleep rather than spin when they wait
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    verbose, done = getattr(args, "verbose", False), False
    try:
        with _warnings_for_users(verbose):
            code = args.func(args)
        done = True
        return code
    except (ValueError, FileNotFoundError) as exc:
        print(f"sksurv-tace {args.command}: error: {_command_line_spelling(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sksurv-tace {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or a library's failure: one line, the traceback with --verbose
        if verbose:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"sksurv-tace {args.command}: unexpected error: {type(exc).__name__}: {message} "
              "(run again with --verbose for the traceback)", file=sys.stderr)  # fmt: skip
        return 1
    finally:
        _stop_workers(kill=not done)


def _is_ours(filename: str) -> bool:
    return os.path.abspath(filename).startswith(os.path.dirname(os.path.abspath(__file__)) + os.sep)


@contextlib.contextmanager
def _warnings_for_users(verbose: bool):
    """The package's own warnings as one line each; other libraries' warnings hidden unless ``--verbose``.

    Also hidden in the processes a run starts (joblib's workers and loky's resource tracker inherit
    ``PYTHONWARNINGS``) and from ITK (SimpleITK's global warning display).
    """
    if verbose:
        yield
        return
    hidden = 0
    show, environment = warnings.showwarning, os.environ.get("PYTHONWARNINGS")

    def one_line(message, category, filename, lineno, file=None, line=None):
        nonlocal hidden
        if _is_ours(filename) and not issubclass(category, DeprecationWarning | FutureWarning):
            print(f"sksurv-tace: warning: {message}", file=sys.stderr)
        else:
            hidden += 1

    warnings.showwarning = one_line
    os.environ["PYTHONWARNINGS"] = "ignore"
    import SimpleITK as sitk

    itk_warnings = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        warnings.showwarning = show
        sitk.ProcessObject.SetGlobalWarningDisplay(itk_warnings)
        if environment is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = environment
        if hidden:
            print(f"sksurv-tace: {hidden} warning(s) of other libraries not shown (--verbose shows them)",
                  file=sys.stderr)  # fmt: skip


def _stop_workers(kill: bool = False) -> None:
    """Shut joblib's reusable worker processes down before exit, so that loky releases their semaphores and
    memmapping folders (left to the interpreter's exit, loky's resource_tracker reports them as leaked); after
    an error or an interrupt the workers are killed rather than waited for."""
    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=kill)


#: Python spellings in the library's messages -> the command line's, so a CLI user reads one language.
_SPELLINGS = {"impute='median'": "--impute median", "quick=True": "--quick", "device='cpu'": "--device cpu",
              "'auto' or 'cpu'": "--device auto or --device cpu", "overwrite=True": "--overwrite"}  # fmt: skip


def _command_line_spelling(message: str) -> str:
    for python, command_line in _SPELLINGS.items():
        message = message.replace(python, command_line)
    return message


if __name__ == "__main__":
    sys.exit(main())
