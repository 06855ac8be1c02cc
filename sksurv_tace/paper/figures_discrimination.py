"""Discrimination figures: time-dependent ROC curves, pairwise p-value matrix, C-index forest plot.

Re-exported by :mod:`sksurv_tace.paper.plots`, whose docstring describes the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from sksurv_tace.metrics import ConfidenceInterval, td_roc_curve
from sksurv_tace.paper.figure_style import COLORS, check_columns, check_mapping, horizon_label, new_axes
from sksurv_tace.paper.formatting import format_ci, format_p

__all__ = ["plot_td_roc", "plot_pvalue_matrix", "plot_c_index"]


def _ci_bounds(ci, name: str, horizon: float) -> tuple[float, float, float]:
    """``(estimate, lower, upper)`` of a ConfidenceInterval or a :func:`td_auc_ci` table."""
    if isinstance(ci, ConfidenceInterval):
        return ci.estimate, ci.lower, ci.upper
    if isinstance(ci, pd.DataFrame) and {"time", "auc", "lower", "upper"} <= set(ci.columns):
        row = ci[np.isclose(ci["time"].astype(float), horizon)]
        if len(row) != 1:
            raise ValueError(f"ci[{name!r}] has no row at time={horizon:g}")
        return float(row["auc"].iloc[0]), float(row["lower"].iloc[0]), float(row["upper"].iloc[0])
    raise ValueError(f"ci[{name!r}] must be a ConfidenceInterval or a td_auc_ci table; got {type(ci).__name__}")


# --------------------------------------------------------------------------- ROC
def plot_td_roc(
    y,
    risks: Mapping[str, Sequence[float]],
    horizon: float,
    *,
    y_train=None,
    ci: Mapping[str, object] | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Time-dependent (cumulative/dynamic) ROC curves at a horizon, one per model.

    Curves from :func:`sksurv_tace.metrics.td_roc_curve`; the legend gives each model's
    AUC (the area under its curve, equal to :func:`~sksurv_tace.metrics.td_auc`) and, when
    ``ci`` is given, its 95% CI: ``"Model  AUC 0.83 (0.76–0.90)"``.

    Parameters
    ----------
    y : structured array
        Evaluation target (time in days).
    risks : mapping of str to array-like
        Model name -> risk score (higher = higher risk).
    horizon : float
        Days (1095 = 3 years).
    y_train : structured array, optional
        Censoring distribution from the training target (sksurv convention); default the
        evaluation sample's own (timeROC).
    ci : mapping of str to ConfidenceInterval or DataFrame, optional
        Model name -> its AUC confidence interval (:func:`~sksurv_tace.metrics.td_auc_ci`
        table or a ConfidenceInterval); its estimate must equal the curve's AUC.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Figure

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> time = rng.exponential(1000, 80); y = Surv.from_arrays(rng.random(80) < 0.8, time)
    >>> fig = plot_td_roc(y, {"oracle": -time, "noise": rng.normal(size=80)}, 730)
    >>> len(fig.axes[0].get_lines())
    3
    >>> plt.close(fig)
    """
    models = check_mapping(risks, "risks", "risk scores")
    cis = {} if ci is None else check_mapping(ci, "ci", "confidence intervals")
    unknown = [m for m in cis if m not in models]
    if unknown:
        raise ValueError(f"ci names model(s) {unknown} that are not in risks {list(models)}")
    lines = []  # everything is computed (and checked) before a figure is opened
    for name, risk in models.items():
        try:
            roc = td_roc_curve(y, risk, horizon, y_train=y_train)
        except ValueError as err:
            raise ValueError(f"risks[{name!r}]: {err}") from err
        auc = float(np.trapezoid(roc["tpr"], roc["fpr"]))
        label = f"{name}  AUC {auc:.3f}"
        if name in cis:
            est, lo, hi = _ci_bounds(cis[name], name, float(horizon))
            if abs(est - auc) > 1e-6:
                raise ValueError(
                    f"ci[{name!r}] has estimate {est:.4f} but the curve's AUC is {auc:.4f}: the interval was "
                    "computed on other patients, another horizon or another y_train"
                )
            label = f"{name}  AUC {format_ci(auc, lo, hi)}"  # the tables' format
        lines.append((roc, label))
    fig, ax = new_axes(ax)
    for k, (roc, label) in enumerate(lines):
        # straight segments: tied scores give a diagonal, so the drawn area is the trapezoidal AUC
        ax.plot(roc["fpr"].to_numpy(), roc["tpr"].to_numpy(), color=COLORS[k % len(COLORS)], lw=1.8, label=label)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="Chance (AUC 0.50)")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.set_xlabel("1 − specificity (false-positive rate)")
    ax.set_ylabel("Sensitivity (true-positive rate)")
    ax.set_title(title or f"Time-dependent ROC, death by {horizon_label(horizon).replace('-', ' ')}s")
    ax.legend(loc="lower right", fontsize="small", title="AUC (95% CI)" if cis else None, title_fontsize="small")
    ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------- p-value matrix
def plot_pvalue_matrix(
    matrix: pd.DataFrame, *, title: str | None = None, alpha: float = 0.05, show_auc: bool = True, ax=None
) -> Figure:
    """Annotated heatmap of pairwise p-values (e.g. :func:`~sksurv_tace.metrics.comparison.pairwise_td_auc_tests`).

    Cells are coloured by p on a log scale (dark = small), annotated with the value
    (``"<0.001"`` below 0.001, bold when below ``alpha``). The diagonal shows each model's
    AUC when ``matrix.attrs["auc"]`` holds it (and ``show_auc``), else a dash.

    Parameters
    ----------
    matrix : DataFrame
        Square, index and columns the same model names, p-values in [0, 1], NaN diagonal.
    title : str, optional
        Default names the test and the adjustment from ``matrix.attrs``.
    alpha : float, default=0.05
    show_auc : bool, default=True
    ax : matplotlib Axes, optional

    Returns
    -------
    Figure

    Examples
    --------
    >>> import numpy as np, pandas as pd, matplotlib.pyplot as plt
    >>> m = pd.DataFrame([[np.nan, 0.0004], [0.0004, np.nan]], index=["A", "B"], columns=["A", "B"])
    >>> fig = plot_pvalue_matrix(m)
    >>> sorted(t.get_text() for t in fig.axes[0].texts)
    ['<0.001', '<0.001', '—', '—']
    >>> plt.close(fig)
    """
    if not isinstance(matrix, pd.DataFrame):
        raise ValueError(f"matrix must be a pandas DataFrame; got {type(matrix).__name__}")
    if matrix.empty or matrix.shape[0] != matrix.shape[1] or list(matrix.index) != list(matrix.columns):
        raise ValueError("matrix must be square with the same model names as index and columns")
    values = matrix.to_numpy(dtype=float)
    off = ~np.eye(len(values), dtype=bool)
    finite = values[off][np.isfinite(values[off])]
    if ((finite < 0) | (finite > 1)).any():
        raise ValueError("matrix must hold p-values in [0, 1]")
    names = [str(n) for n in matrix.index]
    k = len(names)
    size = max(4.5, 1.0 + 0.95 * k)
    fig, ax = new_axes(ax, figsize=(size + 1.0, size))
    norm = LogNorm(vmin=1e-3, vmax=1.0, clip=True)
    shown = np.where(off, np.clip(values, 1e-3, 1.0), np.nan)
    image = ax.imshow(np.ma.masked_invalid(shown), cmap="viridis", norm=norm)
    cmap = image.get_cmap()
    auc = matrix.attrs.get("auc", {}) if show_auc else {}
    for i in range(k):
        for j in range(k):
            if i == j:
                a = auc.get(matrix.index[i])
                ax.text(j, i, f"AUC\n{a:.2f}" if a is not None else "—", ha="center", va="center",
                        fontsize="small", color="black")  # fmt: skip
                continue
            p = values[i, j]
            rgba = cmap(norm(np.clip(p, 1e-3, 1.0))) if np.isfinite(p) else (1, 1, 1, 1)
            light = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] > 0.55
            ax.text(j, i, format_p(p), ha="center", va="center", fontsize="small",
                    color="black" if light else "white", fontweight="bold" if p < alpha else "normal")  # fmt: skip
    ax.set_xticks(range(k), labels=names, rotation=35, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), labels=names)
    ax.set_facecolor("#eeeeee")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_ticks([0.001, 0.01, 0.05, 0.1, 1.0], labels=["≤0.001", "0.01", "0.05", "0.1", "1"])
    bar.minorticks_off()
    bar.set_label("p-value" + (" (BH-FDR adjusted)" if matrix.attrs.get("adjust") == "fdr_bh" else ""))
    if title is None:
        method = {"iid": "timeROC iid", "delong": "DeLong"}.get(matrix.attrs.get("method"), "paired")
        horizon = matrix.attrs.get("horizon")
        at = f" at {horizon_label(horizon).replace('-', ' ')}s" if horizon is not None else ""
        title = f"Pairwise AUC comparison{at} ({method} test)"
    ax.set_title(title, fontsize="medium")
    return fig


# --------------------------------------------------------------------------- forest plots
def plot_c_index(
    table: pd.DataFrame, *, xlabel: str = "Harrell's C-index (95% CI)", title: str | None = None, ax=None
) -> Figure:
    """Forest-like plot of C-indices (or any metric) with CIs, per model and cohort.

    Parameters
    ----------
    table : DataFrame
        Columns ``model, cohort, estimate, lower, upper``; one row per (model, cohort)
        (aggregate repeated splits first, e.g. mean ± sd or percentile bounds).
    xlabel : str, default="Harrell's C-index (95% CI)"
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Figure
        One error-bar series per cohort (in order of appearance), models top to bottom
        in order of appearance, a dotted line at 0.5 (no discrimination), the values
        printed at the right.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> t = pd.DataFrame({"model": ["A", "A", "B", "B"], "cohort": ["train", "valid"] * 2,
    ...                   "estimate": [0.8, 0.75, 0.6, 0.55], "lower": [0.75, 0.65, 0.55, 0.45],
    ...                   "upper": [0.85, 0.85, 0.65, 0.65]})
    >>> fig = plot_c_index(t)
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['train', 'valid']
    >>> plt.close(fig)
    """
    check_columns(table, ["model", "cohort", "estimate", "lower", "upper"], "table")
    dup = table.duplicated(["model", "cohort"])
    if dup.any():
        first = table.loc[dup, ["model", "cohort"]].iloc[0].tolist()
        raise ValueError(f"table has more than one row for model/cohort {first}; aggregate repeats first")
    vals = table[["estimate", "lower", "upper"]].to_numpy(dtype=float)
    bad = ~np.isfinite(vals[:, 0]) | (vals[:, 1] > vals[:, 0] + 1e-12) | (vals[:, 2] < vals[:, 0] - 1e-12)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"row {row} of table: need a finite estimate with lower <= estimate <= upper")
    models = list(dict.fromkeys(table["model"]))
    cohorts = list(dict.fromkeys(table["cohort"]))
    n_rows = len(models) * len(cohorts)
    fig, ax = new_axes(ax, figsize=(7.0, max(2.5, 1.2 + 0.32 * n_rows)))
    width = 0.7
    offsets = (np.arange(len(cohorts)) - (len(cohorts) - 1) / 2) * (width / max(len(cohorts), 1))
    text_x = blended_transform_factory(ax.transAxes, ax.transData)
    markers = ("o", "s", "D", "^", "v", "P")
    for c, cohort in enumerate(cohorts):
        sub = table[table["cohort"] == cohort]
        pos = np.array([models.index(m) for m in sub["model"]]) + offsets[c]
        est, lo, hi = (sub[col].to_numpy(dtype=float) for col in ("estimate", "lower", "upper"))
        ax.errorbar(est, pos, xerr=np.vstack([est - lo, hi - est]), fmt=markers[c % len(markers)], ms=5, capsize=3,
                    color=COLORS[c % len(COLORS)], label=str(cohort), lw=1.2)  # fmt: skip
        for yy, e, lw_, up in zip(pos, est, lo, hi, strict=True):
            ax.text(1.02, yy, format_ci(e, lw_, up), transform=text_x, va="center", fontsize="x-small",
                    color=COLORS[c % len(COLORS)])  # fmt: skip
    ax.axvline(0.5, color="grey", ls=":", lw=1)
    ax.set_yticks(range(len(models)), labels=[str(m) for m in models])
    ax.set_ylim(len(models) - 0.5, -0.5)
    lo_all, hi_all = np.nanmin(vals[:, 1]), np.nanmax(vals[:, 2])
    ax.set_xlim(min(0.45, lo_all - 0.02), min(1.0, hi_all + 0.02) if hi_all <= 1 else hi_all + 0.02)
    ax.set_xlabel(xlabel)
    ax.set_title(title or "Discrimination by model and cohort", fontsize="medium")
    ax.legend(loc="lower left", fontsize="small", title="Cohort", title_fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    return fig
