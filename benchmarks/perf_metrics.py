"""Speed of the survival metrics: vectorised Harrell bootstrap and Harrell's C at scale, vs scikit-survival.

Run from the repository root::

    .venv/bin/python benchmarks/perf_metrics.py

Cases (wall-clock, best of ``--repeats``; data: exponential survival times in whole days
with ~35% random censoring and a noisy risk score, seeded):

- ``bootstrap``: 1,000 percentile-bootstrap resamples of Harrell's C at n=301.
  Ours: :func:`sksurv_tace.metrics.c_index_ci` (pairwise structure built once,
  resamples as quadratic forms of multiplicity counts). Baseline: a Python loop over
  :func:`sksurv.metrics.concordance_index_censored` on the same resamples (the indices
  ``default_rng(seed).integers(0, n, (1000, n))`` that ``c_index_ci`` documents); the
  script checks that both give identical replicates.
- ``harrell n=...``: one Harrell's C, :func:`sksurv_tace.metrics.harrell_c` (sort-based above
  5,000 patients) vs :func:`sksurv.metrics.concordance_index_censored`; same value checked.

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv

from sksurv_tace import metrics


def cohort(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lp = rng.normal(size=n)
    time_ = np.ceil(rng.exponential(700 * np.exp(-lp)))
    event = rng.random(n) > 0.35
    return Surv.from_arrays(event, time_), lp + rng.normal(0, 1, n)


def best_of(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--n", type=int, default=301)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rows = []
    y, risk = cohort(args.n)
    seed = 2024
    t_ours, ci = best_of(
        lambda: metrics.c_index_ci(y, risk, n_bootstrap=args.n_bootstrap, random_state=seed, progress=False),
        args.repeats,
    )
    idx = np.random.default_rng(seed).integers(0, args.n, size=(args.n_bootstrap, args.n))
    event, time_ = y["event"], y["time"]
    t_loop, loop = best_of(
        lambda: np.array([concordance_index_censored(event[i], time_[i], risk[i])[0] for i in idx]), args.repeats
    )
    same = bool(np.array_equal(ci.replicates, loop))
    rows.append((f"bootstrap, {args.n_bootstrap} resamples, n={args.n}", t_ours, t_loop, same))

    for n in args.sizes:
        y, risk = cohort(n, seed=1)
        reps = args.repeats if n <= 20_000 else 1
        t_ours, c_ours = best_of(lambda y=y, risk=risk: metrics.harrell_c(y, risk), reps)
        t_sk, c_sk = best_of(lambda y=y, risk=risk: concordance_index_censored(y["event"], y["time"], risk)[0], reps)
        rows.append((f"Harrell's C, n={n:,}", t_ours, t_sk, c_ours == c_sk))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}")  # fmt: skip
    print()
    print("| case | sksurv_tace (s) | scikit-survival (s) | speed-up | identical values |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, ours, theirs, same in rows:
        print(f"| {name} | {ours:.4f} | {theirs:.4f} | {theirs / ours:.1f}x | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
