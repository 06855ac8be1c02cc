"""Write the real HCC-TACE-Seg clinical table as a CSV manifest, for ``sksurv-tace reproduce --manifest``.

Usage: python benchmarks/write_hcc_manifest.py OUT.csv [--all-columns]

By default the paper's factors with sparse levels merged (``load_hcc_tace_seg(paper_factors=True)``).
The table has no CT, so ``reproduce`` runs the clinical model and says which models it skipped.
"""

import argparse

from sksurv_tace.datasets.hcc_tace_seg import load_hcc_tace_seg
from sksurv_tace.datasets.manifest import write_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--all-columns", action="store_true", help="every column of the table")
    args = parser.parse_args()
    X, y = load_hcc_tace_seg(paper_factors=not args.all_columns)
    print(f"wrote {write_manifest(args.out, X, y)}: {len(X)} patients, {int(y['event'].sum())} deaths")


if __name__ == "__main__":
    main()
