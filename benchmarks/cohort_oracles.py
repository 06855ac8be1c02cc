"""Oracle C-indices, median OS and generation time of the built-in synthetic TACE cohort, per phenotype family.

Usage: python benchmarks/cohort_oracles.py [--seeds 20] [--n-patients 301] [--phenotypes texture spatial ...]

The oracle is Harrell's C of the true linear predictor on the generated sample: the ceiling
no model can beat on that sample. "clinical" uses only the clinical part of the true log hazard,
"image" only the image part (its family's oracle: ``image_lp``, the sum of the ``lp_<family>`` columns).
Generation time: one cohort with CT volumes per family (seed 0; ``--no-images`` skips it).
"""

import argparse
import platform
import tempfile
import time

import numpy as np
from sksurv.metrics import concordance_index_censored
from sksurv.nonparametric import kaplan_meier_estimator

from sksurv_tace.datasets.synthetic import PHENOTYPE_FAMILIES, make_tace_cohort


def _c(y, risk) -> float:
    return concordance_index_censored(y["event"], y["time"], risk)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n-patients", type=int, default=301)
    parser.add_argument("--phenotypes", nargs="+", default=["texture"], choices=PHENOTYPE_FAMILIES)
    parser.add_argument("--no-images", action="store_true", help="skip timing a cohort with CT volumes")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"n_patients={args.n_patients}, seeds 0..{args.seeds - 1}")
    for family in args.phenotypes:
        start = time.perf_counter()
        if not args.no_images:
            make_tace_cohort(args.n_patients, path=tempfile.mkdtemp(), phenotype=family, random_state=0)
        generation = time.perf_counter() - start
        rows = []
        for seed in range(args.seeds):
            X, y, truth = make_tace_cohort(
                args.n_patients, path=tempfile.mkdtemp(), with_images=False, random_state=seed, return_truth=True,
                phenotype=family,
            )  # fmt: skip
            times, surv = kaplan_meier_estimator(y["event"], y["time"])
            rows.append((_c(y, truth["lp"]), _c(y, truth["clinical_lp"]), _c(y, truth["image_lp"]),
                         times[np.searchsorted(-surv, -0.5)], y["event"].mean()))  # fmt: skip
        rows = np.array(rows)
        mean, sd = rows.mean(axis=0), rows.std(axis=0, ddof=1)
        print(f"\nphenotype={family!r}\n\n| quantity | mean | sd over seeds |\n|---|---|---|")
        for name, m, s in zip(
            ["oracle C (full true risk)", "oracle C (clinical part only)", "oracle C (image part only)",
             "median OS (days, KM)", "event rate"], mean, sd, strict=True,
        ):  # fmt: skip
            print(f"| {name} | {m:.3f} | {s:.3f} |")
        if not args.no_images:
            print(f"\ngeneration of {args.n_patients} patients with CT volumes (seed 0): {generation:.1f} s")


if __name__ == "__main__":
    main()
