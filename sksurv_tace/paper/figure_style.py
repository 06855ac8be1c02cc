"""What the figures of :mod:`sksurv_tace.paper.plots` share: size, resolution, palette, labels, checks, saving.

Figures are ``FIGSIZE`` inches, saved at ``DPI`` dpi by :func:`save_figure`, coloured from
Okabe & Ito's colour-blind-safe ``COLORS``; :func:`horizon_label` writes horizons as the paper
prints them (p-values: :func:`sksurv_tace.paper.formatting.format_p`). The figure functions live in
:mod:`sksurv_tace.paper.figures_discrimination` and :mod:`sksurv_tace.paper.figures_clinical`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "FIGSIZE",
    "DPI",
    "COLORS",
    "horizon_label",
    "save_figure",
    "new_axes",
    "check_mapping",
    "check_columns",
]

FIGSIZE = (6.0, 5.0)
DPI = 150
# Okabe & Ito's colour-blind-safe palette (black last: used for references)
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


# --------------------------------------------------------------------------- helpers
def horizon_label(horizon: float) -> str:
    """``"3-year"`` for 1095 days (a multiple of 365), else ``"1000-day"``.

    Parameters
    ----------
    horizon : float
        Time in days.

    Returns
    -------
    str

    Examples
    --------
    >>> horizon_label(1095), horizon_label(730.0), horizon_label(500)
    ('3-year', '2-year', '500-day')
    """
    h = float(horizon)
    if h > 0 and h % 365 == 0:
        return f"{int(h // 365)}-year"
    return f"{h:g}-day"


def new_axes(ax, figsize=FIGSIZE):
    if ax is None:
        return plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def check_mapping(obj, name: str, kind: str) -> dict:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{name} must be a mapping of model name to {kind}; got {type(obj).__name__}")
    if len(obj) == 0:
        raise ValueError(f"{name} is empty: give at least one model")
    return dict(obj)


def check_columns(table, columns: Sequence[str], name: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame; got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(table.columns)}")
    if table.empty:
        raise ValueError(f"{name} has no rows")
    return table


# --------------------------------------------------------------------------- saving
def save_figure(fig: Figure, path, formats: Sequence[str] = ("png", "svg"), *, dpi: int = DPI) -> list[Path]:
    """Save a figure in several formats next to each other (``path.png``, ``path.svg``).

    Parameters
    ----------
    fig : Figure
    path : str or path-like
        Path without suffix; a suffix that is itself an image format (``"roc.png"``) is
        dropped. Missing parent folders are created.
    formats : sequence of str, default=("png", "svg")
        Any format matplotlib writes (``png``, ``svg``, ``pdf``, ...).
    dpi : int, default=150
        Resolution of raster formats.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.

    Examples
    --------
    >>> import tempfile, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> paths = save_figure(fig, tempfile.mkdtemp() + "/figure")
    >>> [p.suffix for p in paths]
    ['.png', '.svg']
    >>> plt.close(fig)
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
    if isinstance(formats, str):
        formats = (formats,)
    formats = [str(f).lower().lstrip(".") for f in formats]
    if not formats:
        raise ValueError("formats is empty: give at least one, e.g. ('png', 'svg')")
    supported = fig.canvas.get_supported_filetypes()
    unknown = [f for f in formats if f not in supported]
    if unknown:
        raise ValueError(f"unknown figure format(s) {unknown}; matplotlib writes {sorted(supported)}")
    base = Path(path)
    if base.suffix.lower().lstrip(".") in supported:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        target = base.parent / f"{base.name}.{fmt}"
        fig.savefig(target, format=fmt, dpi=dpi, bbox_inches="tight")
        out.append(target)
    return out
