"""Figures of a clinical survival paper, as matplotlib figures usable from a notebook or a report.

Every function returns a :class:`matplotlib.figure.Figure` (built with the object API, no
``plt.show``; close it with ``plt.close(fig)``) and, where it draws a single panel, accepts
an ``ax`` to draw into an existing figure. Inputs are the results of
:mod:`sksurv_tace.metrics` (risk scores: higher = higher risk; survival times in days)
and :func:`sksurv_tace.preprocessing.cox_table`. :func:`save_figure` writes PNG (150 dpi) and SVG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from sksurv_tace.metrics import CalibrationResult, ConfidenceInterval, RiskGroups, td_roc_curve

__all__ = [
    "plot_td_roc",
    "plot_calibration",
    "plot_risk_groups",
    "plot_decision_curve",
    "plot_pvalue_matrix",
    "plot_c_index",
    "plot_hazard_ratios",
    "save_figure",
    "format_p",
    "horizon_label",
]

FIGSIZE = (6.0, 5.0)
DPI = 150
# Okabe & Ito's colour-blind-safe palette (black last: used for references)
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
_UNITS = {"days": 1.0, "months": 365.25 / 12, "years": 365.25}


# --------------------------------------------------------------------------- helpers
def format_p(p: float, *, digits: int = 3) -> str:
    """A p-value as printed in a paper: ``"<0.001"`` below 0.001, else ``digits`` decimals.

    Parameters
    ----------
    p : float
    digits : int, default=3

    Returns
    -------
    str

    Examples
    --------
    >>> format_p(0.0004), format_p(0.0312), format_p(float("nan"))
    ('<0.001', '0.031', '—')
    """
    if p is None or not np.isfinite(p):
        return "—"
    floor = 10.0**-digits
    return f"<{floor:.{digits}f}" if p < floor else f"{p:.{digits}f}"


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


def _new_axes(ax, figsize=FIGSIZE):
    if ax is None:
        return plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _check_mapping(obj, name: str, kind: str) -> dict:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{name} must be a mapping of model name to {kind}; got {type(obj).__name__}")
    if len(obj) == 0:
        raise ValueError(f"{name} is empty: give at least one model")
    return dict(obj)


def _check_columns(table, columns: Sequence[str], name: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame; got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(table.columns)}")
    if table.empty:
        raise ValueError(f"{name} has no rows")
    return table


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
    models = _check_mapping(risks, "risks", "risk scores")
    cis = {} if ci is None else _check_mapping(ci, "ci", "confidence intervals")
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
        label = f"{name}  AUC {auc:.2f}"
        if name in cis:
            est, lo, hi = _ci_bounds(cis[name], name, float(horizon))
            if abs(est - auc) > 1e-6:
                raise ValueError(
                    f"ci[{name!r}] has estimate {est:.4f} but the curve's AUC is {auc:.4f}: the interval was "
                    "computed on other patients, another horizon or another y_train"
                )
            label += f" ({lo:.2f}–{hi:.2f})"
        lines.append((roc, label))
    fig, ax = _new_axes(ax)
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


# --------------------------------------------------------------------------- calibration
def plot_calibration(results, *, title: str | None = None, ax=None) -> Figure:
    """Calibration at a horizon: grouped Kaplan–Meier points with CI, smooth curve, ideal line.

    Parameters
    ----------
    results : CalibrationResult or mapping of str to CalibrationResult
        From :func:`sksurv_tace.metrics.calibration_at_horizon`, one per model, all at
        the same horizon.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Figure
        Per model: the smoothed observed-vs-predicted curve (a line), the quantile groups
        (points with the Kaplan–Meier confidence interval as error bars); the legend gives
        ICI and calibration slope.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> from sksurv.util import Surv
    >>> from sksurv_tace.metrics import calibration_at_horizon
    >>> rng = np.random.default_rng(0)
    >>> rate = rng.uniform(1e-4, 1e-3, 150); time = rng.exponential(1 / rate)
    >>> res = calibration_at_horizon(Surv.from_arrays(np.ones(150, bool), time), np.exp(-rate * 730), 730)
    >>> fig = plot_calibration({"model": res})
    >>> fig.axes[0].get_xlabel()
    'Predicted 2-year survival probability'
    >>> plt.close(fig)
    """
    if isinstance(results, CalibrationResult):
        results = {"model": results}
    models = _check_mapping(results, "results", "CalibrationResult")
    bad = [m for m, r in models.items() if not isinstance(r, CalibrationResult)]
    if bad:
        raise ValueError(f"results[{bad[0]!r}] is not a CalibrationResult (from calibration_at_horizon)")
    horizons = {float(r.horizon) for r in models.values()}
    if len(horizons) != 1:
        raise ValueError(f"all calibration results must share one horizon; got {sorted(horizons)}")
    horizon = horizons.pop()
    fig, ax = _new_axes(ax)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="Ideal")
    offsets = np.linspace(-0.006, 0.006, len(models)) if len(models) > 1 else [0.0]
    for k, (name, res) in enumerate(models.items()):
        color = COLORS[k % len(COLORS)]
        pred, obs, lo, hi = (res.groups[c].to_numpy(dtype=float) for c in ("predicted", "observed", "lower", "upper"))
        yerr = np.vstack([obs - lo, hi - obs]).clip(min=0)
        label = f"{name}  ICI {res.ici:.3f}, slope {res.slope:.2f}"
        ax.plot(res.curve["predicted"].to_numpy(float), res.curve["observed"].to_numpy(float), color=color, lw=1.6,
                label=label)  # fmt: skip
        ax.errorbar(pred + offsets[k], obs, yerr=yerr, fmt="o", ms=5, color=color, capsize=3, lw=1)
    years = horizon_label(horizon)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal")
    ax.set_xlabel(f"Predicted {years} survival probability")
    ax.set_ylabel(f"Observed {years} survival (Kaplan–Meier)")
    ax.set_title(title or f"Calibration at {years.replace('-', ' ')}s")
    ax.legend(loc="upper left", fontsize="small")
    ax.text(0.98, 0.02, "points: quantile groups, 95% CI\nline: smoothed (Cox, spline)", transform=ax.transAxes,
            ha="right", va="bottom", fontsize="x-small", color="dimgrey")  # fmt: skip
    ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------- Kaplan–Meier
def _default_ticks(t_max: float, unit: str) -> np.ndarray:
    step = {"months": 12.0, "years": 1.0}.get(unit)
    if step is None or t_max / step > 10:
        ticks = MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]).tick_values(0, t_max)
        return ticks[(ticks >= 0) & (ticks <= t_max)]
    return np.arange(0, t_max + 1e-9, step)


def _median_text(row, scale: float, unit: str) -> str:
    def fmt(v):
        return "NR" if not np.isfinite(v) else f"{v / scale:.1f}"

    return f"median {fmt(row['median'])} ({fmt(row['median_lower'])}–{fmt(row['median_upper'])})"


def plot_risk_groups(
    groups: RiskGroups,
    *,
    title: str | None = None,
    times_at_risk: Sequence[float] | None = None,
    time_unit: str = "months",
    show_at_risk: bool = True,
    figsize: tuple[float, float] = (6.5, 5.5),
) -> Figure:
    """Kaplan–Meier curves of risk groups with CI bands, log-rank p, median OS and numbers at risk.

    Parameters
    ----------
    groups : RiskGroups
        From :func:`sksurv_tace.metrics.risk_groups` (survival times in days).
    title : str, optional
    times_at_risk : sequence of float, optional
        Times (in ``time_unit``) of the numbers-at-risk table and the x ticks; default
        every 12 months / every year, or about 7 round ticks in days.
    time_unit : {"months", "days", "years"}, default="months"
        Unit of the time axis and of the medians (1 month = 365.25/12 days).
    show_at_risk : bool, default=True
        Draw the numbers-at-risk table under the curves (patients with ``T >= t``).
    figsize : (float, float), default=(6.5, 5.5)

    Returns
    -------
    Figure
        Axes 0: the curves; axes 1 (when ``show_at_risk``): the numbers at risk.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> from sksurv.util import Surv
    >>> from sksurv_tace.metrics import risk_groups
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.normal(size=100); time = rng.exponential(900 * np.exp(-risk))
    >>> groups = risk_groups(Surv.from_arrays(rng.random(100) < 0.8, time), risk, 0.0)
    >>> fig = plot_risk_groups(groups)
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    if not isinstance(groups, RiskGroups):
        raise ValueError(f"groups must be RiskGroups (from risk_groups); got {type(groups).__name__}")
    if time_unit not in _UNITS:
        raise ValueError(f"time_unit must be one of {list(_UNITS)}; got {time_unit!r}")
    if show_at_risk and groups.at_risk is None:
        raise ValueError("groups has no at_risk table (make it with risk_groups) or pass show_at_risk=False")
    scale = _UNITS[time_unit]
    curves = groups.curves
    t_max = float(curves["time"].max()) / scale
    ticks = _default_ticks(t_max, time_unit) if times_at_risk is None else np.asarray(times_at_risk, dtype=float)
    if ticks.ndim != 1 or ticks.size == 0 or not np.isfinite(ticks).all() or (ticks < 0).any():
        raise ValueError(f"times_at_risk must be a non-empty sequence of times >= 0; got {times_at_risk!r}")
    if show_at_risk:
        fig, (ax, tab) = plt.subplots(2, 1, figsize=figsize, sharex=True, layout="constrained",
                                      gridspec_kw={"height_ratios": [4, 0.25 + 0.3 * len(groups.summary)]})  # fmt: skip
    else:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    names = list(groups.summary["group"])
    for k, row in groups.summary.reset_index(drop=True).iterrows():
        color = COLORS[k % len(COLORS)]
        c = curves[curves["group"] == row["group"]]
        t = np.r_[0.0, c["time"].to_numpy() / scale]
        s, lo, hi = (np.r_[1.0, c[col].to_numpy()] for col in ("survival", "lower", "upper"))
        label = f"{row['group']} (n={row['n']}): {_median_text(row, scale, time_unit)}"
        ax.step(t, s, where="post", color=color, lw=1.8, label=label)
        ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.18, lw=0)
    p = groups.p_value
    p_text = "Log-rank p < 0.001" if p < 0.001 else f"Log-rank p = {p:.3f}"
    ax.text(0.98, 0.97, p_text, transform=ax.transAxes, ha="right", va="top", fontsize="medium")
    ax.set(ylim=(0, 1.02), xlim=(0, max(t_max, float(ticks.max())) * 1.02))
    ax.set_xticks(ticks)
    ax.set_ylabel("Overall survival probability")
    fig.suptitle(title or "Overall survival by risk group")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), fontsize="small", frameon=False, borderaxespad=0,
              title=f"Median OS, {time_unit} (95% CI)", title_fontsize="small", alignment="left")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.set_xlabel(f"Time since treatment ({time_unit})")
    if not show_at_risk:
        return fig
    ax.tick_params(labelbottom=True)
    counts = groups.numbers_at_risk(ticks * scale)
    tab.set_ylim(len(names) - 0.5, -0.5)
    tab.set_yticks(range(len(names)), labels=names)
    for k, name in enumerate(names):
        color = COLORS[k % len(COLORS)]
        for tick, n in zip(ticks, counts.loc[name], strict=True):
            tab.text(tick, k, str(n), ha="center", va="center", fontsize="small", color=color)
        tab.get_yticklabels()[k].set_color(color)
    tab.set_title("Number at risk", fontsize="small", loc="left")
    tab.tick_params(axis="both", length=0, labelbottom=False)
    tab.tick_params(axis="y", pad=4 + 4 * len(str(int(counts.to_numpy().max()))))
    for spine in tab.spines.values():
        spine.set_visible(False)
    return fig


# --------------------------------------------------------------------------- decision curves
def plot_decision_curve(
    curves: pd.DataFrame, *, horizon: float | None = None, title: str | None = None, ax=None
) -> Figure:
    """Decision curves: net benefit against threshold probability, with treat-all and treat-none.

    Parameters
    ----------
    curves : DataFrame
        From :func:`sksurv_tace.metrics.decision_curve`: ``threshold``, one net-benefit
        column per model, ``treat_all``, ``treat_none``.
    horizon : float, optional
        Days; only for the axis label ("death by 3 years").
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Figure
        One line per model, then treat all (grey) and treat none (black). The y axis runs
        from ``-0.05 × max`` net benefit to a little above the max, clipping treat-all's
        large negative values at high thresholds.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sksurv.util import Surv
    >>> from sksurv_tace.metrics import decision_curve
    >>> y = Surv.from_arrays([1, 1, 0, 0, 1, 0], [100.0, 200, 800, 900, 300, 950])
    >>> fig = plot_decision_curve(decision_curve(y, [0.9, 0.8, 0.1, 0.2, 0.6, 0.3], 500.0), horizon=500)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['model', 'Treat all', 'Treat none']
    >>> plt.close(fig)
    """
    _check_columns(curves, ["threshold", "treat_all", "treat_none"], "curves")
    models = [c for c in curves.columns if c not in ("threshold", "treat_all", "treat_none")]
    if not models:
        raise ValueError("curves has no model column besides threshold, treat_all and treat_none")
    fig, ax = _new_axes(ax)
    x = curves["threshold"].to_numpy(dtype=float)
    for k, name in enumerate(models):
        ax.plot(x, curves[name], color=COLORS[k % len(COLORS)], lw=1.8, label=str(name))
    ax.plot(x, curves["treat_all"], color="grey", lw=1.2, label="Treat all")
    ax.plot(x, curves["treat_none"], color="black", lw=1.2, ls="--", label="Treat none")
    top = float(np.nanmax(curves[[*models, "treat_all"]].to_numpy(dtype=float)))
    top = top if top > 0 else 0.05
    ax.set(xlim=(float(x.min()), float(x.max())), ylim=(-0.05 * top, 1.1 * top))
    event = f"death by {horizon_label(horizon).replace('-', ' ')}s" if horizon is not None else "death"
    ax.set_xlabel(f"Threshold probability of {event}")
    ax.set_ylabel("Net benefit (true positives per patient)")
    ax.set_title(title or "Decision curve analysis")
    ax.legend(loc="upper right", fontsize="small")
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
    fig, ax = _new_axes(ax, figsize=(size + 1.0, size))
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
    _check_columns(table, ["model", "cohort", "estimate", "lower", "upper"], "table")
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
    fig, ax = _new_axes(ax, figsize=(7.0, max(2.5, 1.2 + 0.32 * n_rows)))
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
            ax.text(1.02, yy, f"{e:.2f} ({lw_:.2f}–{up:.2f})", transform=text_x, va="center", fontsize="x-small",
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


def _hr_columns(table: pd.DataFrame, model: str) -> tuple[str, str, str, str | None]:
    if {"hr", "lower", "upper"} <= set(table.columns):
        return "hr", "lower", "upper", "p" if "p" in table.columns else None
    if model not in ("uni", "multi"):
        raise ValueError(f"model must be 'uni' or 'multi'; got {model!r}")
    cols = (f"HR_{model}", f"HR_lower_{model}", f"HR_upper_{model}", f"p_{model}")
    _check_columns(table, ["factor", *cols], "table")
    return cols


def plot_hazard_ratios(table: pd.DataFrame, *, model: str = "multi", title: str | None = None, ax=None) -> Figure:
    """Forest plot of hazard ratios with 95% CIs on a log scale (the paper's Table 2).

    Parameters
    ----------
    table : DataFrame
        Either :func:`sksurv_tace.preprocessing.cox_table` output (``factor, level, reference,
        HR_uni, HR_lower_uni, HR_upper_uni, p_uni, ..._multi``) or generic columns
        ``factor, level, hr, lower, upper`` and optional ``p`` (``level`` and
        ``reference`` optional). Rows whose HR is NaN (a factor left out of the
        multivariable model) are skipped.
    model : {"multi", "uni"}, default="multi"
        Which columns of a ``cox_table`` to plot (ignored for generic columns).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Figure
        One error bar per row, a dotted line at HR = 1, "HR (95% CI), p" printed at the right.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> t = pd.DataFrame({"factor": ["mvi", "age"], "level": ["Yes", ""], "hr": [2.1, 1.01],
    ...                   "lower": [1.4, 0.99], "upper": [3.2, 1.03], "p": [0.0005, 0.3]})
    >>> fig = plot_hazard_ratios(t)
    >>> fig.axes[0].get_xscale(), [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ('log', ['mvi: Yes', 'age'])
    >>> plt.close(fig)
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    hr_col, lo_col, hi_col, p_col = _hr_columns(table, model)
    _check_columns(table, ["factor", hr_col, lo_col, hi_col], "table")
    rows = table[np.isfinite(table[hr_col].to_numpy(dtype=float))].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"table has no finite hazard ratio in column {hr_col!r}")
    hr, lo, hi = (rows[c].to_numpy(dtype=float) for c in (hr_col, lo_col, hi_col))
    if (hr <= 0).any() or (lo <= 0).any() or (hi < lo).any() or (~np.isfinite(np.r_[lo, hi])).any():
        bad = int(np.flatnonzero((hr <= 0) | (lo <= 0) | (hi < lo) | ~np.isfinite(lo) | ~np.isfinite(hi))[0])
        raise ValueError(f"row {rows.loc[bad, 'factor']!r}: hazard ratios and bounds must be finite and > 0")
    labels = []
    for _, r in rows.iterrows():
        level = str(r.get("level", "") or "")
        ref = str(r.get("reference", "") or "")
        text = f"{r['factor']}: {level}" if level and level != "nan" else str(r["factor"])
        labels.append(f"{text} vs {ref}" if ref and ref != "nan" and level else text)
    n = len(rows)
    fig, ax = _new_axes(ax, figsize=(8.5, max(2.5, 1.3 + 0.35 * n)))
    pos = np.arange(n)
    ax.errorbar(hr, pos, xerr=np.vstack([hr - lo, hi - hr]), fmt="s", ms=5, capsize=3, color=COLORS[0], lw=1.2)
    ax.axvline(1.0, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(pos, labels=labels)
    ax.set_ylim(n - 0.5, -0.5)
    span = np.r_[lo, hi]
    ax.set_xlim(min(span.min(), 1.0) / 1.25, max(span.max(), 1.0) * 1.25)
    candidates = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 20, 50, 100)
    ax.xaxis.set_major_locator(FixedLocator([v for v in candidates if ax.get_xlim()[0] <= v <= ax.get_xlim()[1]]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    edge = blended_transform_factory(ax.transAxes, ax.transData)
    pvals = rows[p_col].to_numpy(dtype=float) if p_col else np.full(n, np.nan)
    digits = np.where(hi - lo < 0.05, 3, 2)
    p_offset = 22 + 5.4 * (12 + 3 * int(digits.max()))  # points: HR text width at "small" size, then a gap

    def cell(text, row, dx, ha="left", **kw):
        ax.annotate(text, (1.0, row), xycoords=edge, xytext=(dx, 0), textcoords="offset points", ha=ha,
                    va="bottom" if row < 0 else "center", fontsize="small", annotation_clip=False, **kw)  # fmt: skip

    cell("HR (95% CI)", -0.5, 8, fontweight="bold")
    cell("p", -0.5, p_offset, ha="right", fontweight="bold")
    for k in range(n):
        d = int(digits[k])
        cell(f"{hr[k]:.{d}f} ({lo[k]:.{d}f}–{hi[k]:.{d}f})", k, 8)
        cell(format_p(pvals[k]), k, p_offset, ha="right")
    ax.set_xlabel("Hazard ratio (95% CI, log scale)")
    default = {"uni": "Univariable", "multi": "Multivariable"}.get(model, "")
    is_cox_table = hr_col.startswith("HR_")
    ax.set_title(title or f"{default + ' ' if is_cox_table else ''}Cox regression: hazard ratios", fontsize="medium")
    ax.grid(axis="x", alpha=0.3, which="both")
    return fig


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
