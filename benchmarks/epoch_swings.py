"""Where the 20x per-epoch swings of CPU training come from (issue 15): one short fit, per-epoch seconds.

Run from the repository root, once per setting, each in a fresh process (OpenMP reads its settings when torch
is loaded)::

    .venv/bin/python benchmarks/epoch_swings.py                          # torch's default: 2 threads, active wait
    .venv/bin/python benchmarks/epoch_swings.py --after-radiomics        # right after RadiomicsExtractor(n_jobs=2)
    .venv/bin/python benchmarks/epoch_swings.py --threads 1
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/epoch_swings.py

Fits ``CTSurvival`` (ResNet-18 on 32 px ROIs, six epochs, no early stopping) on 60 synthetic patients
(8 x 48 x 48 volumes) and prints skorch's ``dur`` of each epoch; with ``--after-radiomics`` first extracts
radiomics with two loky workers and counts the child processes still alive. Compare the settings while other
work keeps the machine's cores busy: that is when the swings appear.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after-radiomics", action="store_true", help="extract radiomics with n_jobs=2 first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads before the fit")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    policy = os.environ.get("OMP_WAIT_POLICY")  # as OpenMP reads it when torch loads (the package sets it later)
    from sksurv_tace.datasets import make_tace_cohort
    from sksurv_tace.models import CTSurvival
    from sksurv_tace.preprocessing import CTPreprocessor, RadiomicsExtractor

    X, y = make_tace_cohort(60, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    if args.after_radiomics:
        started = time.perf_counter()
        RadiomicsExtractor(n_jobs=2, progress=False, feature_classes=["firstorder", "glcm"]).fit_transform(X)
        children = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
        print(f"radiomics {time.perf_counter() - started:.1f} s; child processes alive after it: {len(children)}")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = CTSurvival(backbone="resnet18", image_preprocessor=CTPreprocessor(image_size=32), max_epochs=args.epochs,
                       batch_size=16, early_stopping=False, random_state=0, verbose=0)  # fmt: skip
    started = time.perf_counter()
    model.fit(X, y)
    epochs = [round(float(d), 2) for d in model.history_[:, "dur"]]
    seconds, load = time.perf_counter() - started, os.getloadavg()[0]
    print(f"OMP_WAIT_POLICY={policy}, torch threads {torch.get_num_threads()}, load average {load:.1f}: "
          f"fit {seconds:.1f} s, epochs {epochs}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
