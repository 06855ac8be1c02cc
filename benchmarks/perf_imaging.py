"""Per-patient time of CTPreprocessor: cold vs cached, n_jobs=1 vs 2, on synthetic NIfTI volumes.

Run from the repository root::

    .venv/bin/python benchmarks/perf_imaging.py --n-patients 16 --shape 64 256 256 --image-size 224

Cases (each timed ``--repeats`` times, the best kept; one warm-up call first so that
imports and joblib's worker start-up are not counted):

- ``cold``: no cache, every volume read and cropped.
- ``cache fill``: cache folder empty, volumes read, hashed (SHA-1 of the file bytes) and stored.
- ``cache hit, new process``: cache filled, in-process hash memo cleared (as in a fresh
  Python process): files hashed but not decoded.
- ``cache hit``: cache filled, hashes memoised (a grid search's later fits): nothing read.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time

import numpy as np
import pandas as pd
import SimpleITK as sitk

from sksurv_tace import _patients
from sksurv_tace.preprocessing.imaging import CTPreprocessor


def make_volumes(folder: str, n_patients: int, shape: tuple[int, int, int], seed: int = 0) -> pd.DataFrame:
    """Noisy 'abdomen' volumes in HU with one spherical tumour each (NIfTI, gzip)."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape, sparse=True)
    rows = []
    for i in range(n_patients):
        volume = rng.normal(60.0, 20.0, shape)
        body = ((yy - shape[1] / 2) / (0.45 * shape[1])) ** 2 + ((xx - shape[2] / 2) / (0.48 * shape[2])) ** 2 <= 1
        volume = np.where(body, volume, -1000.0)
        centre = rng.uniform(0.3, 0.7, 3) * np.array(shape)
        radius = rng.uniform(0.06, 0.12) * shape[1]
        tumour = ((zz - centre[0]) * 2.0) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2
        volume[tumour] += 60.0
        paths = {}
        for name, array in [("ct", volume.round().astype(np.int16)), ("mask", tumour.astype(np.uint8))]:
            image = sitk.GetImageFromArray(array)
            image.SetSpacing((0.8, 0.8, 2.0))
            paths[name] = os.path.join(folder, f"P{i:03d}_{name}.nii.gz")
            sitk.WriteImage(image, paths[name])
        rows.append({"patient_id": f"P{i:03d}", **paths})
    return pd.DataFrame(rows)


def best_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=16)
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 256, 256), metavar=("Z", "Y", "X"))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="perf_imaging_")
    try:
        X = make_volumes(work, args.n_patients, tuple(args.shape))
        size_mb = sum(os.path.getsize(p) for p in X.ct) / 2**20 / args.n_patients
        machine = platform.processor() or platform.machine()
        print(f"machine: {machine}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        print(
            f"{args.n_patients} patients, volume {tuple(args.shape)} int16 NIfTI.gz ({size_mb:.1f} MB each), "
            f"image_size={args.image_size}, best of {args.repeats}"
        )
        print(f"{'case':<28}{'n_jobs':>7}{'total s':>10}{'ms / patient':>15}")
        for n_jobs in (1, 2):
            base = {"image_size": args.image_size, "n_jobs": n_jobs}
            CTPreprocessor(**base).transform(X.iloc[: 2 * n_jobs])  # warm-up: imports, worker start
            cache = os.path.join(work, f"cache_{n_jobs}")

            def fill(cache=cache, base=base):
                shutil.rmtree(cache, ignore_errors=True)
                _patients._HASH_MEMO.clear()
                CTPreprocessor(memory=cache, **base).transform(X)

            def hit_new_process(cache=cache, base=base):
                _patients._HASH_MEMO.clear()
                CTPreprocessor(memory=cache, **base).transform(X)

            cases = [
                ("cold", lambda base=base: CTPreprocessor(**base).transform(X)),
                ("cache fill", fill),
                ("cache hit, new process", hit_new_process),
                ("cache hit", lambda cache=cache, base=base: CTPreprocessor(memory=cache, **base).transform(X)),
            ]
            for name, function in cases:
                seconds = best_time(function, args.repeats)
                print(f"{name:<28}{n_jobs:>7}{seconds:>10.3f}{1000 * seconds / args.n_patients:>15.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
