"""Stable CPU training (issue 15): ``reproduce --quick`` wall time and per-epoch times, quiet and loaded.

Run from the repository root::

    .venv/bin/python benchmarks/perf_reproduce.py --runs 3

Runs ``sksurv-tace reproduce --quick --quiet`` ``--runs`` times on a quiet machine, then ``--runs`` times
with one competing CPU-bound process: ``--load busy`` (the default) is one Python busy loop, i.e. one core
taken; ``--load reproduce`` is a second ``reproduce --quick``, started with the run and killed when it ends.
Each run writes to its own folder. Its wall time is measured around the command, its stage times come from
``results.json`` (``stage_seconds``, ``fit_seconds``) and its per-epoch times from the saved deep models
(``models/*.joblib`` keep skorch's ``net_.history``: ``dur`` per epoch). Prints a table of the runs and the
issue's checks: every quiet run at most 3 min, every loaded run at most 2.5x the quiet median, no epoch
longer than 3x its fit's median epoch. Numbers depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEEP = ("CTSurvival", "FusionSurvival")


def _competitor(kind: str, folder: Path) -> subprocess.Popen:
    if kind == "busy":
        code = "while True:\n    pass\n"
        return subprocess.Popen([sys.executable, "-c", code])
    return subprocess.Popen(
        [sys.executable, "-m", "sksurv_tace.cli", "reproduce", "--quick", "--quiet", "--out", str(folder / "rival")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _epochs(out: Path) -> dict[str, list[float]]:
    """Per-epoch seconds of each saved deep model (skorch's history)."""
    import joblib

    found = {}
    for name in DEEP:
        path = out / "models" / f"{name}.joblib"
        if path.exists():
            found[name] = [float(d) for d in joblib.load(path).net_.history[:, "dur"]]
    return found


def run_once(out: Path, extra: list[str]) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sksurv_tace.cli", "reproduce", "--quick", "--quiet", "--out", str(out), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"reproduce failed ({done.returncode}):\n{done.stderr}")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    epochs = _epochs(out)
    return {
        "wall_s": wall,
        "stage_seconds": results.get("stage_seconds", {}),
        "fit_seconds": results["fit_seconds"],
        "epochs": epochs,
        "worst_epoch_ratio": max((max(d) / statistics.median(d) for d in epochs.values() if d), default=float("nan")),
    }


def _row(label: str, k: int, run: dict) -> str:
    fits = ", ".join(f"{n} {s:.0f}" for n, s in run["fit_seconds"].items())
    epochs = "; ".join(
        f"{n}: {len(d)} ep, median {statistics.median(d):.2f} s, max {max(d):.2f} s" for n, d in run["epochs"].items()
    )
    return f"| {label} {k} | {run['wall_s']:.0f} | {fits} | {epochs} | {run['worst_epoch_ratio']:.1f} |"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs quiet and runs loaded (default: 3)")
    parser.add_argument("--load", choices=["busy", "reproduce"], default="busy", help="the competing process")
    parser.add_argument("--skip-quiet", action="store_true", help="loaded runs only")
    parser.add_argument("--skip-loaded", action="store_true", help="quiet runs only")
    parser.add_argument("--extra", default="", help="further reproduce options, e.g. '--n-patients 120'")
    args = parser.parse_args(argv)
    extra = args.extra.split()
    print(f"cores this process may use: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()}")
    runs = {"quiet": [], "loaded": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label in ("quiet", "loaded"):
            if (label == "quiet" and args.skip_quiet) or (label == "loaded" and args.skip_loaded):
                continue
            for k in range(args.runs):
                rival = _competitor(args.load, folder) if label == "loaded" else None
                try:
                    run = run_once(folder / f"{label}{k}", extra)
                finally:
                    if rival is not None:
                        rival.kill()
                        rival.wait()
                runs[label].append(run)
                print(f"{label} run {k}: {run['wall_s']:.0f} s; stages {run['stage_seconds']}", flush=True)
    print("\n| run | wall s | fit s per model | epochs (deep models) | max epoch / median |")
    print("|---|---|---|---|---|")
    for label, done in runs.items():
        for k, run in enumerate(done):
            print(_row(label, k, run))
    quiet = [r["wall_s"] for r in runs["quiet"]]
    if quiet:
        print(f"\nevery quiet run <= 180 s: {all(w <= 180 for w in quiet)} (median {statistics.median(quiet):.0f} s)")
        loaded = [r["wall_s"] for r in runs["loaded"]]
        if loaded:
            limit = 2.5 * statistics.median(quiet)
            print(f"every loaded run <= 2.5x quiet median ({limit:.0f} s): {all(w <= limit for w in loaded)}")
    ratios = [r["worst_epoch_ratio"] for done in runs.values() for r in done]
    print(f"no epoch > 3x its fit's median epoch: {all(x <= 3 for x in ratios)} (worst {max(ratios, default=0):.1f}x)")
    print(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
