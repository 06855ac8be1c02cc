"""Model files of a ``reproduce`` run against their networks' weights, and the run's folder sizes (issue 16).

Run from the repository root on the output folder of a run::

    .venv/bin/sksurv-tace reproduce --quick --out /tmp/rq16
    .venv/bin/python benchmarks/model_file_sizes.py /tmp/rq16

For each ``models/*.joblib``: its size on disk, the size of its network's weights (``torch.save`` of the
``state_dict`` of the network the file holds; CNNCox's file refers to ``CTSurvival.joblib`` for its network,
so it holds none) and the ratio; then each top-level entry of the folder and the total. CNNCox is also
loaded with ``sksurv_tace.models.load_model`` to check that it gets its network back.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import joblib
import torch

from sksurv_tace.models import load_model


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _weights_bytes(model) -> int:
    """Bytes of ``torch.save(state_dict)`` of the network the file itself holds (0 when it holds none)."""
    net = getattr(model, "net_", None)
    if net is None:
        return 0
    buffer = io.BytesIO()
    torch.save(net.module_.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder of 'sksurv-tace reproduce'")
    out = parser.parse_args().out
    mb = 1e6
    print("| file | size | its network's weights | ratio |")
    print("|---|---:|---:|---:|")
    for path in sorted((out / "models").glob("*.joblib")):
        model = joblib.load(path)
        weights = _weights_bytes(model)
        ratio = f"{path.stat().st_size / weights:.2f}x" if weights else "(holds no network)"
        shown = f"{weights / mb:.1f} MB" if weights else "—"
        print(f"| `models/{path.name}` | {path.stat().st_size / mb:.2f} MB | {shown} | {ratio} |")
    cnn_cox = out / "models" / "CNNCox.joblib"
    if cnn_cox.is_file():
        model = load_model(cnn_cox)
        weights = _weights_bytes(model.cnn_) / mb
        print(f"\nload_model(CNNCox.joblib).cnn_: {type(model.cnn_).__name__} with {weights:.1f} MB of weights")
    print("\n| entry | size |")
    print("|---|---:|")
    for entry in sorted(out.iterdir()):
        print(f"| `{entry.name}{'/' if entry.is_dir() else ''}` | {_size(entry) / mb:.1f} MB |")
    print(f"| **total** | {_size(out) / mb:.1f} MB |")


if __name__ == "__main__":
    main()
