"""Fail-early file checks (issue 15): how fast a cohort with five bad patients is refused, all five named.

Run from the repository root::

    .venv/bin/python benchmarks/preflight_bad_cohort.py --n-patients 301

Writes the built-in synthetic cohort (``make_tace_cohort``, default 32 x 128 x 128 volumes, seed 0)
to a temporary folder and breaks five patients, one per problem: a missing CT, a CT of random
bytes, a CT re-written as an uncompressed ``.nii`` and cut to half its size, a mask on another grid
(spacing changed), an empty mask. Then times

- ``check_image_paths``: in process, cold (per-file memo cleared) with 1 and 4 threads, and warm
  (memo filled: what a grid search's later fits pay);
- ``sksurv-tace reproduce --quick --manifest <bad cohort>``: the command a user runs, wall time from
  start to its exit with code 2 (Python start-up and imports included), checking that all five
  patients are named on stderr and nothing else.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import SimpleITK as sitk

from sksurv_tace.datasets import load_manifest, make_tace_cohort, write_manifest
from sksurv_tace.preprocessing import image_checks

BAD = {  # row -> what is wrong
    0: "missing file",
    1: "corrupt file",
    2: "truncated NIfTI",
    3: "mask on another grid",
    4: "empty mask",
}


def break_five(folder: Path, n_patients: int, image_shape=None) -> Path:
    """Write the synthetic cohort to ``folder`` and break rows 0-4 as in :data:`BAD`; return the manifest."""
    shape = {} if image_shape is None else {"image_shape": tuple(image_shape)}
    X, y = make_tace_cohort(n_patients, path=folder, random_state=0, **shape)
    os.remove(X.loc[0, "ct"])
    Path(X.loc[1, "ct"]).write_bytes(os.urandom(4096))
    cut = X.loc[2, "ct"].replace(".nii.gz", ".nii")
    sitk.WriteImage(sitk.ReadImage(X.loc[2, "ct"]), cut)
    os.truncate(cut, os.path.getsize(cut) // 2)
    os.remove(X.loc[2, "ct"])
    X.loc[2, "ct"] = cut
    mask = sitk.ReadImage(X.loc[3, "mask"])
    mask.SetSpacing([2.0 * s for s in mask.GetSpacing()])
    sitk.WriteImage(mask, X.loc[3, "mask"])
    sitk.WriteImage(sitk.ReadImage(X.loc[4, "mask"]) * 0, X.loc[4, "mask"])
    return write_manifest(folder / "manifest.csv", X, y)


def time_check(X, n_jobs: int, cold: bool) -> float:
    if cold:
        image_checks._MEMO.clear()
    start = time.perf_counter()
    try:
        image_checks.check_image_paths(X, n_jobs=n_jobs)
    except ValueError as exc:
        assert all(f"patient {p}:" in str(exc) for p in X["patient_id"].iloc[:5]), exc
    else:
        raise AssertionError("the bad cohort was accepted")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=301)
    parser.add_argument("--shape", type=int, nargs=3, default=None, help="image shape (default: the cohort's)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="preflight_"))
    start = time.perf_counter()
    manifest = break_five(folder, args.n_patients, args.shape)
    print(f"cohort of {args.n_patients} written and five patients broken in {time.perf_counter() - start:.1f} s")
    X, _ = load_manifest(manifest, check_files=False)
    size = sum(os.path.getsize(p) for column in ("ct", "mask") for p in X[column] if os.path.exists(p))
    print(f"{len(X)} patients, {2 * len(X)} files, {size / 1e6:.1f} MB on disk")
    rows = []
    for label, n_jobs, cold in (("cold, 1 thread", 1, True), ("cold, 4 threads", 4, True), ("warm (memo)", 4, False)):
        times = [time_check(X, n_jobs, cold) for _ in range(args.repeats)]
        rows.append((f"check_image_paths, {label}", min(times)))
    command = [sys.executable, "-m", "sksurv_tace.cli", "reproduce", "--quick", "--manifest", str(manifest),
               "--out", str(folder / "out")]  # fmt: skip
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        named = all(f"patient {p}:" in done.stderr for p in X["patient_id"].iloc[:5])
        others = [p for p in X["patient_id"].iloc[5:] if f"patient {p}:" in done.stderr]
        assert done.returncode == 2 and named and not others and "Traceback" not in done.stderr, done.stderr
        assert not (folder / "out").exists()
    rows.append(("sksurv-tace reproduce --quick (exit 2, all five named)", min(times)))
    print(f"\n{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; best of {args.repeats}")
    print("| step | seconds |\n|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")
    print("\nstderr of the command:\n" + done.stderr)


if __name__ == "__main__":
    main()
