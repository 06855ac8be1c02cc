"""Reproduce the paper's tables and figures on a cohort: the same as ``sksurv-tace reproduce``.

Usage::

    python benchmarks/reproduce_paper.py --quick --out reproduce_out              # built-in synthetic cohort, CPU
    python benchmarks/reproduce_paper.py --quick --repeats 5 --out reproduce_out  # mean ± sd over 5 splits
    python benchmarks/reproduce_paper.py --manifest my_cohort.csv --device cuda   # the paper's ResNet-101 @ 224 px

Every option of ``sksurv-tace reproduce --help`` applies. From Python: :func:`sksurv_tace.paper.reproduce`.
"""

import sys

from sksurv_tace.cli import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", *sys.argv[1:]]))
