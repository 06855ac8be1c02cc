"""Radiomics extraction speed: time per patient, n_jobs=2 vs 1, cached second run vs first.

Usage::

    python benchmarks/perf_radiomics.py --n-patients 16 --n-jobs 2

Writes a synthetic cohort (``sksurv_tace.datasets.make_tace_cohort``, default 32x128x128 CT volumes) into a
temporary folder and times :class:`sksurv_tace.RadiomicsExtractor` with its default CT settings (bin width 25 HU,
1 mm isotropic resampling, original image, all 3-D feature classes), after an untimed warm-up that starts the
joblib worker pool (process start-up and imports, ~1-3 s, paid once per session):

1. ``n_jobs=1``, no cache (serial baseline), and
2. ``n_jobs=N``, no cache, interleaved ``--repeat`` times, best of each kept (speed-up = 1 / 2; target >= 1.6
   for N=2 on an idle 2-core machine);
3. ``n_jobs=1`` with an empty disk cache (first run), then
4. the same again (cached second run; speed-up = 3 / 4, target >= 20).

Prints a JSON record of the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

from sksurv_tace.datasets.synthetic import make_tace_cohort
from sksurv_tace.preprocessing.radiomics import RadiomicsExtractor


def _timed(extractor, X):
    start, cpu = time.perf_counter(), time.process_time()
    features = extractor.fit_transform(X)
    _timed.cpu_share = (time.process_time() - cpu) / (time.perf_counter() - start)
    return time.perf_counter() - start, features


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-patients", type=int, default=16)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--image-shape", type=int, nargs=3, default=(32, 128, 128))
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="serial/parallel runs; the best of each is kept")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as folder:
        X, _ = make_tace_cohort(
            args.n_patients,
            path=os.path.join(folder, "cohort"),
            image_shape=tuple(args.image_shape),
            random_state=args.random_state,
        )
        # warm-up (not timed): imports in this process and in the joblib/loky worker pool, which is reused
        RadiomicsExtractor(n_jobs=1, progress=False).fit_transform(X.iloc[:1])
        RadiomicsExtractor(n_jobs=args.n_jobs, progress=False).fit_transform(X.iloc[: args.n_jobs])
        serial_runs, parallel_runs, shares = [], [], []
        for _ in range(args.repeat):  # interleaved, best of `repeat` (as timeit) against load from other processes
            seconds, reference = _timed(RadiomicsExtractor(n_jobs=1, progress=False), X)
            serial_runs.append(seconds)
            shares.append(_timed.cpu_share)
            seconds, features = _timed(RadiomicsExtractor(n_jobs=args.n_jobs, progress=False), X)
            parallel_runs.append(seconds)
            assert features.equals(reference), "parallel extraction differs from serial"
        serial, parallel, serial_cpu_share = min(serial_runs), min(parallel_runs), max(shares)
        cache = os.path.join(folder, "cache")
        first, _ = _timed(RadiomicsExtractor(n_jobs=1, memory=cache, progress=False), X)
        second, cached = _timed(RadiomicsExtractor(n_jobs=1, memory=cache, progress=False), X)
        assert cached.equals(reference), "cached extraction differs"

    record = {
        "n_patients": args.n_patients,
        "image_shape": list(args.image_shape),
        "n_features": int(reference.shape[1]),
        "seconds_per_patient_serial": serial / args.n_patients,
        # CPU time / wall time of the serial run: ~1 on an idle machine (extraction is single-threaded);
        # well below 1 means other processes compete for the cores, and n_jobs cannot scale
        "serial_cpu_share": serial_cpu_share,
        "n_jobs": args.n_jobs,
        "seconds_serial_runs": serial_runs,
        "seconds_parallel_runs": parallel_runs,
        "seconds_parallel": parallel,
        "speedup_parallel": serial / parallel,
        "seconds_first_run_cache": first,
        "seconds_second_run_cache": second,
        "speedup_cache": first / second,
        "cpu_count": os.cpu_count(),
        "load_average_1min_before": load_before,
        "load_average_1min_after": os.getloadavg()[0],
        "machine": platform.platform(),
    }
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
