"""Clinical-utility figures: calibration, Kaplan–Meier risk groups, decision curves, hazard-ratio forest plot.

Re-exported by :mod:`sksurv_tace.paper.plots`, whose docstring describes the conventions.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from sksurv_tace.metrics import CalibrationResult, RiskGroups
from sksurv_tace.paper.figure_style import COLORS, check_columns, check_mapping, horizon_label, new_axes
from sksurv_tace.paper.formatting import HR_DIGITS, factor_label, format_ci, format_p

__all__ = ["plot_calibration", "plot_risk_groups", "plot_decision_curve", "plot_hazard_ratios"]

_UNITS = {"days": 1.0, "months": 365.25 / 12, "years": 365.25}


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
    models = check_mapping(results, "results", "CalibrationResult")
    bad = [m for m, r in models.items() if not isinstance(r, CalibrationResult)]
    if bad:
        raise ValueError(f"results[{bad[0]!r}] is not a CalibrationResult (from calibration_at_horizon)")
    horizons = {float(r.horizon) for r in models.values()}
    if len(horizons) != 1:
        raise ValueError(f"all calibration results must share one horizon; got {sorted(horizons)}")
    horizon = horizons.pop()
    fig, ax = new_axes(ax)
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
        if groups.at_risk is not None:  # censoring marks: "+" on the curve at each censored time
            table = groups.at_risk[(groups.at_risk["group"] == row["group"]) & (groups.at_risk["censored"] > 0)]
            at = table["time"].to_numpy() / scale
            ax.plot(at, s[np.searchsorted(t, at, side="right") - 1], "+", color=color, ms=6, mew=1.2)
    p = groups.p_value
    p_text = "Log-rank p < 0.001" if p < 0.001 else f"Log-rank p = {p:.3f}"
    if np.isfinite(groups.hazard_ratio):
        hr = format_ci(groups.hazard_ratio, groups.hazard_ratio_lower, groups.hazard_ratio_upper, digits=HR_DIGITS)
        p_text += f"\nHR {hr} (high vs low)"
    ax.text(0.98, 0.97, p_text, transform=ax.transAxes, ha="right", va="top", fontsize="medium")
    ax.set(ylim=(0, 1.02), xlim=(0, max(t_max, float(ticks.max())) * 1.02))
    ax.set_xticks(ticks)
    ax.set_ylabel("Overall survival probability")
    fig.suptitle(title or "Overall survival by risk group")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), fontsize="small", frameon=False, borderaxespad=0,
              title=f"Median OS, {time_unit} (95% CI); + censored", title_fontsize="small",
              alignment="left")  # fmt: skip
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
    check_columns(curves, ["threshold", "treat_all", "treat_none"], "curves")
    models = [c for c in curves.columns if c not in ("threshold", "treat_all", "treat_none")]
    if not models:
        raise ValueError("curves has no model column besides threshold, treat_all and treat_none")
    fig, ax = new_axes(ax)
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


# --------------------------------------------------------------------------- hazard ratios
def _hr_columns(table: pd.DataFrame, model: str) -> tuple[str, str, str, str | None]:
    if {"hr", "lower", "upper"} <= set(table.columns):
        return "hr", "lower", "upper", "p" if "p" in table.columns else None
    if model not in ("uni", "multi"):
        raise ValueError(f"model must be 'uni' or 'multi'; got {model!r}")
    cols = (f"HR_{model}", f"HR_lower_{model}", f"HR_upper_{model}", f"p_{model}")
    check_columns(table, ["factor", *cols], "table")
    return cols


def plot_hazard_ratios(table: pd.DataFrame, *, model: str = "multi", title: str | None = None, ax=None) -> Figure:
    """Forest plot of hazard ratios with 95% CIs on a log scale (the paper's Table 2).

    Parameters
    ----------
    table : DataFrame
        Either :func:`sksurv_tace.preprocessing.cox_table` output (``factor, level, reference,
        HR_uni, HR_lower_uni, HR_upper_uni, p_uni, ..._multi``) or generic columns
        ``factor, level, hr, lower, upper`` and optional ``p`` (``level`` and
        ``reference`` optional). An optional ``unit`` column (what one step of a numeric
        factor is, e.g. ``"log ng/mL"`` for ``log1p(afp)``) is printed in brackets after the
        factor. Rows whose HR is NaN (a factor left out of the multivariable model) are skipped.
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
    >>> t = pd.DataFrame({"factor": ["mvi", "log1p(afp)"], "level": ["Yes", ""], "unit": ["", "log ng/mL"],
    ...                   "hr": [2.1, 1.21], "lower": [1.4, 1.02], "upper": [3.2, 1.43], "p": [0.0005, 0.03]})
    >>> fig = plot_hazard_ratios(t)
    >>> fig.axes[0].get_xscale(), [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ('log', ['mvi: Yes', 'log1p(afp) [log ng/mL]'])
    >>> plt.close(fig)
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    hr_col, lo_col, hi_col, p_col = _hr_columns(table, model)
    check_columns(table, ["factor", hr_col, lo_col, hi_col], "table")
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
        text = f"{r['factor']}: {level}" if level and level != "nan" else factor_label(r["factor"], r.get("unit"))
        labels.append(f"{text} vs {ref}" if ref and ref != "nan" and level else text)
    n = len(rows)
    fig, ax = new_axes(ax, figsize=(8.5, max(2.5, 1.3 + 0.35 * n)))
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
