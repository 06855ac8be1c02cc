"""Nomograms of the Cox models (R ``rms::nomogram``): points per factor, total points -> survival.

For a fitted Cox model with linear predictor ``lp(x) = c + sum_k f_k(x_k)`` (``f_k`` the contribution
``beta . x`` of factor ``k``'s design columns: one per dummy ``"factor=level"``, one ``log1p(x)`` or ``x``
column for a continuous factor), each factor gets

    points_k(x) = 100 * (f_k(x) - min f_k) / R,    R = max_k (max f_k - min f_k),

the minimum and maximum taken over the factor's levels (categorical) or its training range (continuous):
the factor with the widest range of ``beta . x`` spans 0-100 points. A patient's total points are then an
affine function of the linear predictor, ``lp = c + sum_k min f_k + total * R / 100``, and the survival at
time ``t`` is the model's own Breslow estimate ``S(t | lp) = S(t | x0) ** exp(lp - lp(x0))`` at the
all-zero design row ``x0`` (what scikit-survival computes for any row). Factors whose coefficients are all
zero (e.g. a LASSO drop) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sksurv_tace._survival import survival_at
from sksurv_tace.models._cox_base import _CoxBase

__all__ = ["Nomogram", "nomogram"]

DEFAULT_TIMES = (365.0, 730.0, 1095.0)
_SURVIVAL_TICKS = (0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01)


def _nice_ticks(low: float, high: float, n: int = 6, *, ends: bool = True) -> np.ndarray:
    """Round-numbered ticks (steps 1, 2, 2.5 or 5 times a power of ten) in ``[low, high]``, and the two ends
    themselves if ``ends``."""
    if not high > low:
        return np.array([low])
    raw = (high - low) / max(n - 1, 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(s * power for s in (1.0, 2.0, 2.5, 5.0, 10.0) if s * power >= raw)
    ticks = np.arange(np.ceil(low / step - 1e-9) * step, high + step * 1e-9, step)
    ticks = np.round(ticks, 10) + 0.0
    if not ends:
        return ticks
    if ticks.size == 0 or ticks[0] > low + 1e-9 * step:
        ticks = np.concatenate([[low], ticks])
    if ticks[-1] < high - 1e-9 * step:
        ticks = np.concatenate([ticks, [high]])
    return ticks


def _log_ticks(low: float, high: float) -> np.ndarray:
    """Ticks for a ``log1p`` factor: 0 and 1, 2, 5 times powers of ten inside ``[low, high]``, and the ends."""
    top = int(np.ceil(np.log10(max(high, 1.0)))) + 1
    nice = [0.0] + [m * 10.0**k for k in range(-2, top) for m in (1.0, 2.0, 5.0)]
    inside = [t for t in nice if low < t < high]
    if len(inside) > 6:  # powers of ten only
        inside = [t for t in inside if t == 0.0 or np.isclose(np.log10(t) % 1, 0) or np.isclose(np.log10(t) % 1, 1)]
    return np.array([low, *inside, high]) if high > low else np.array([low])


def _check_cox(model) -> None:
    if not isinstance(model, _CoxBase):
        raise ValueError(
            "nomogram needs a Cox model of sksurv_tace (ClinicalCox, CNNCox, RadiomicsCox: a linear predictor "
            f"and a Breslow baseline); got {type(model).__name__}, which is not a Cox-type model"
        )
    if not hasattr(model, "model_"):
        raise ValueError(f"this {type(model).__name__} is not fitted yet: call fit(X, y) before nomogram(model, X)")


def _design_names(model, n: int) -> list[str]:
    """Names of the model's design columns: ``features_`` (CNNCox), ``kept_features_`` (RadiomicsCox) or
    ``selected_features_`` (ClinicalCox); ``x0, x1, ...`` if none has the design's length."""
    for attribute in ("features_", "kept_features_", "selected_features_"):
        names = getattr(model, attribute, None)
        if names is not None and len(names) == n:
            return [str(c) for c in names]
    return [f"x{j}" for j in range(n)]


def _linear_terms(model, n: int) -> tuple[float, np.ndarray]:
    """Intercept and coefficients of the model's own linear predictor, read off its ``predict``."""
    kwargs = model._model_kwargs()
    rows = np.vstack([np.zeros(n), np.eye(n)])
    lp = np.asarray(model.model_.predict(rows, **kwargs), dtype=np.float64)
    return float(lp[0]), lp[1:] - lp[0]


def _factor_specs(model, names: list[str]) -> list[dict]:
    """Group design columns into factors: a categorical factor's dummies, a (logged) clinical column, or any
    other design column on its own (the CNN score, a radiomics feature in z units)."""
    prep = getattr(model, "preprocessor_", None)
    groups = getattr(prep, "feature_groups_", {}) if prep is not None else {}
    taken: set[str] = set()
    specs = []
    for column, outputs in groups.items():
        cols = [c for c in outputs if c in names]
        if not cols:
            continue
        taken.update(cols)
        if column in prep.categorical_columns_:
            specs.append({"factor": column, "kind": "categorical", "columns": cols, "levels": prep.categories_[column]})
        else:
            kind = "log1p" if column in tuple(prep.log_transform or ()) else "continuous"
            specs.append({"factor": column, "kind": kind, "columns": cols})
    specs += [{"factor": c, "kind": "design", "columns": [c]} for c in names if c not in taken]
    return specs


@dataclass
class Nomogram:
    """A Cox model's nomogram: the points of each factor and the total points -> survival table.

    Built by :func:`nomogram`; see its description of the points. ``points`` and ``survival_table`` are the
    nomogram as tables; :meth:`plot` draws it in ``rms`` style, :meth:`total_points` scores patients and
    :meth:`survival` reads the survival off the total points.

    Attributes
    ----------
    points : DataFrame
        One row per factor level (categorical factors) or axis tick (continuous factors): columns ``factor``,
        ``kind`` (``"categorical"``, ``"continuous"``, ``"log1p"`` or ``"design"``: a design column without an
        input column, e.g. the CNN score), ``value`` (the level, or the tick in the input's units) and
        ``points``.
    survival_table : DataFrame
        Columns ``total_points``, ``linear_predictor`` and ``survival_<t>`` for each of ``times``, over a grid
        of total points from 0 to ``max_total``.
    times : tuple of float
        Survival times, in the cohort's time unit.
    scale : float
        ``R``: the linear-predictor range of the widest factor (100 points).
    offset : float
        The linear predictor at 0 total points (``lp = offset + total * scale / 100``).
    max_total : float
        Total points of the worst level/end of every factor.
    factors : list of str
        Factors in plotting order (the design's order).
    model : Cox model
        The fitted model the nomogram reads.
    """

    points: pd.DataFrame
    survival_table: pd.DataFrame
    times: tuple
    scale: float
    offset: float
    max_total: float
    factors: list
    model: object = field(repr=False)
    _specs: list = field(repr=False, default_factory=list)
    _coef: np.ndarray = field(repr=False, default=None)
    _lp0: float = field(repr=False, default=0.0)
    _s0: np.ndarray = field(repr=False, default=None)

    def linear_predictor(self, total_points) -> np.ndarray:
        """Linear predictor for given total points: ``offset + total * scale / 100``.

        Parameters
        ----------
        total_points : float or array-like of float

        Returns
        -------
        ndarray of float64

        Examples
        --------
        >>> from lifelines.datasets import load_rossi
        >>> from sksurv.util import Surv
        >>> from sksurv_tace.models import ClinicalCox
        >>> rossi = load_rossi()
        >>> X, y = rossi.drop(columns=["week", "arrest"]), Surv.from_arrays(rossi["arrest"], rossi["week"])
        >>> model = ClinicalCox().fit(X, y)
        >>> nomo = nomogram(model, X, times=(26, 52))
        >>> bool(np.allclose(nomo.linear_predictor(nomo.total_points(X)), model.predict(X)))
        True
        """
        return self.offset + np.asarray(total_points, dtype=np.float64) * self.scale / 100.0

    def survival(self, total_points) -> np.ndarray:
        """Survival at ``times`` read off the nomogram for given total points (the model's Breslow estimate).

        Parameters
        ----------
        total_points : float or array-like of float

        Returns
        -------
        ndarray of float64, shape (n, len(times))

        Examples
        --------
        >>> from lifelines.datasets import load_rossi
        >>> from sksurv.util import Surv
        >>> from sksurv_tace.models import ClinicalCox
        >>> rossi = load_rossi()
        >>> X, y = rossi.drop(columns=["week", "arrest"]), Surv.from_arrays(rossi["arrest"], rossi["week"])
        >>> model = ClinicalCox().fit(X, y)
        >>> nomo = nomogram(model, X, times=(26, 52))
        >>> s = nomo.survival(nomo.total_points(X.iloc[:3]))
        >>> bool(np.allclose(s, model.predict_survival_at(X.iloc[:3], [26, 52])))
        True
        """
        lp = np.atleast_1d(self.linear_predictor(total_points))
        return np.power(self._s0[None, :], np.exp(lp - self._lp0)[:, None])

    def factor_points(self, X) -> pd.DataFrame:
        """Each patient's points per factor (the nomogram's rows read for each patient).

        Parameters
        ----------
        X : DataFrame
            Patients, with the columns the model was fitted on.

        Returns
        -------
        DataFrame
            One column per factor, same index as ``X``.

        Examples
        --------
        >>> from lifelines.datasets import load_rossi
        >>> from sksurv.util import Surv
        >>> from sksurv_tace.models import ClinicalCox
        >>> rossi = load_rossi()
        >>> X, y = rossi.drop(columns=["week", "arrest"]), Surv.from_arrays(rossi["arrest"], rossi["week"])
        >>> nomo = nomogram(ClinicalCox().fit(X, y), X, times=(26, 52))
        >>> list(nomo.factor_points(X).columns)
        ['age', 'prio']
        """
        design = np.asarray(self.model._design(X), dtype=np.float64)
        out = {spec["factor"]: 100.0 * (design[:, spec["index"]] @ spec["coef"] - spec["low"]) / self.scale
               for spec in self._specs}  # fmt: skip
        return pd.DataFrame(out, index=getattr(X, "index", None))

    def total_points(self, X) -> np.ndarray:
        """Each patient's total points: the sum of their points over the factors.

        Parameters
        ----------
        X : DataFrame
            Patients, with the columns the model was fitted on.

        Returns
        -------
        ndarray of float64, shape (n_samples,)

        Examples
        --------
        >>> from lifelines.datasets import load_rossi
        >>> from sksurv.util import Surv
        >>> from sksurv_tace.models import ClinicalCox
        >>> rossi = load_rossi()
        >>> X, y = rossi.drop(columns=["week", "arrest"]), Surv.from_arrays(rossi["arrest"], rossi["week"])
        >>> nomo = nomogram(ClinicalCox().fit(X, y), X, times=(26, 52))
        >>> total = nomo.total_points(X)
        >>> bool(total.min() >= 0 and total.max() <= nomo.max_total + 1e-9)
        True
        """
        return self.factor_points(X).to_numpy().sum(axis=1)

    def plot(self, ax=None):
        """Draw the nomogram in ``rms`` style: a Points axis on top, one axis per factor, then Total points,
        the linear predictor and one survival axis per time.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw into; a new figure otherwise.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> from lifelines.datasets import load_rossi
        >>> from sksurv.util import Surv
        >>> from sksurv_tace.models import ClinicalCox
        >>> rossi = load_rossi()
        >>> X, y = rossi.drop(columns=["week", "arrest"]), Surv.from_arrays(rossi["arrest"], rossi["week"])
        >>> nomo = nomogram(ClinicalCox().fit(X, y), X, times=(26, 52))
        >>> fig = nomo.plot()
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()][:3]
        ['Points', 'age', 'prio']
        """
        import matplotlib.pyplot as plt

        from sksurv_tace.paper.figure_style import horizon_label

        rows = ["Points", *self.factors, "Total points", "Linear predictor"]
        rows += [f"{horizon_label(t)} survival" for t in self.times]
        if ax is None:
            fig, ax = plt.subplots(figsize=(8.0, 0.55 * len(rows) + 0.8), layout="constrained")
        else:
            fig = ax.figure
        y = {name: -i for i, name in enumerate(rows)}
        to_x = 100.0 / self.max_total if self.max_total > 0 else 1.0

        def axis(row: str, xs, labels) -> None:
            xs = np.asarray(xs, dtype=np.float64)
            ax.plot([xs.min(), xs.max()], [y[row], y[row]], color="black", lw=0.8)
            ax.vlines(xs, y[row], y[row] + 0.12, color="black", lw=0.8)
            placed: list[float] = []  # label a tick only if it clears the labels already placed
            for x, label in sorted(zip(xs, labels, strict=True), key=lambda p: (p[0] in (xs.min(), xs.max()), p[0])):
                if all(abs(x - other) >= 1.2 + 0.6 * len(label) for other in placed):
                    ax.text(x, y[row] + 0.17, label, ha="center", va="bottom", fontsize=7)
                    placed.append(x)

        ticks = np.arange(0.0, 101.0, 10.0)
        axis("Points", ticks, [f"{t:g}" for t in ticks])
        for factor in self.factors:
            table = self.points[self.points["factor"] == factor]
            labels = [v if isinstance(v, str) else f"{v:g}" for v in table["value"]]
            axis(factor, table["points"].to_numpy(), labels)
        totals = _nice_ticks(0.0, self.max_total, 8, ends=False)
        axis("Total points", totals * to_x, [f"{t:g}" for t in totals])
        lp_ticks = _nice_ticks(
            float(self.linear_predictor(0.0)), float(self.linear_predictor(self.max_total)), 7, ends=False
        )
        axis("Linear predictor", (lp_ticks - self.offset) * 100.0 / self.scale * to_x, [f"{t:g}" for t in lp_ticks])
        for j, s0 in enumerate(self._s0):
            if not 0.0 < s0 < 1.0:
                continue
            probs = np.array(_SURVIVAL_TICKS)
            lp = self._lp0 + np.log(np.log(probs) / np.log(s0))
            total = (lp - self.offset) * 100.0 / self.scale
            keep = (total >= -1e-9) & (total <= self.max_total + 1e-9)
            if keep.any():
                axis(rows[len(self.factors) + 3 + j], total[keep] * to_x, [f"{p:g}" for p in probs[keep]])
        ax.set_yticks(list(y.values()), list(y.keys()))
        ax.set_ylim(-len(rows) + 0.5, 0.7)
        ax.set_xlim(-5.0, 105.0)
        ax.set_xticks([])
        ax.tick_params(axis="y", length=0)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        return fig


def _check_times(model, times) -> tuple:
    times = tuple(float(t) for t in np.atleast_1d(np.asarray(times, dtype=np.float64)))
    if not times or not all(np.isfinite(t) and t >= 0 for t in times):
        raise ValueError(f"times must be non-empty, finite and non-negative; got {times!r}")
    last = float(model.unique_times_[-1])
    if max(times) > last:
        raise ValueError(f"times {[t for t in times if t > last]} lie beyond the last training time ({last:g})")
    return times


def nomogram(model, X_train, times=DEFAULT_TIMES, *, n_totals: int = 11) -> Nomogram:
    """The nomogram (R ``rms::nomogram``) of a fitted Cox model: points per factor, total points -> survival.

    Each factor (a clinical column, or a design column without one such as CNNCox's CNN score) contributes
    ``f_k = beta . x`` to the linear predictor; its points are ``100 * (f_k - min f_k) / R`` with the minimum
    over its levels (categorical) or its range in ``X_train`` (continuous, on the input's scale: a
    ``log1p`` column's axis is in the original units), and ``R`` the largest range of any factor, which
    therefore spans 0-100 points. Total points are an affine function of the model's ``predict`` and give
    the survival at ``times`` through the model's Breslow baseline (exactly the model's
    ``predict_survival_at``).

    Parameters
    ----------
    model : ClinicalCox, CNNCox or RadiomicsCox
        A fitted Cox model of this package.
    X_train : DataFrame
        The training patients (the continuous factors' ranges); what ``model.predict`` accepts (CNNCox: with
        its image columns).
    times : sequence of float, default=(365, 730, 1095)
        Survival times, in the cohort's time unit (days: 1, 2 and 3 years), not beyond the last training time.
    n_totals : int, default=11
        Rows of ``survival_table`` (total points from 0 to the maximum).

    Returns
    -------
    Nomogram

    Raises
    ------
    ValueError
        If the model is not a Cox model of this package or is not fitted, or ``times`` are invalid.

    Examples
    --------
    >>> import pandas as pd
    >>> from lifelines.datasets import load_rossi
    >>> from sksurv.util import Surv
    >>> from sksurv_tace.models import ClinicalCox
    >>> rossi = load_rossi()
    >>> X, y = rossi.drop(columns=["week", "arrest"]), Surv.from_arrays(rossi["arrest"], rossi["week"])
    >>> nomo = nomogram(ClinicalCox().fit(X, y), X, times=(26, 52))
    >>> nomo.factors
    ['age', 'prio']
    >>> float(nomo.points["points"].max())
    100.0
    >>> list(nomo.survival_table.columns)
    ['total_points', 'linear_predictor', 'survival_26', 'survival_52']
    """
    _check_cox(model)
    times = _check_times(model, times)
    n = int(model.model_.n_features_in_)
    names = _design_names(model, n)
    offset0, coef = _linear_terms(model, n)
    design = np.asarray(model._design(X_train), dtype=np.float64)
    specs = []
    for spec in _factor_specs(model, names):
        index = [names.index(c) for c in spec["columns"]]
        beta = coef[index]
        if not np.any(beta != 0):
            continue
        if spec["kind"] == "categorical":
            levels = list(spec["levels"])
            dummies = dict(zip(spec["columns"], beta, strict=True))
            contrib = np.array([dummies.get(f"{spec['factor']}={level}", 0.0) for level in levels])
            values = levels
        else:
            column = design[:, index[0]]
            if spec["kind"] == "design":
                values = _nice_ticks(float(column.min()), float(column.max()))
                contrib = beta[0] * values
            else:
                raw = pd.to_numeric(X_train[spec["factor"]], errors="coerce").to_numpy(dtype=np.float64)
                low, high = float(np.nanmin(raw)), float(np.nanmax(raw))
                values = _log_ticks(low, high) if spec["kind"] == "log1p" else _nice_ticks(low, high)
                contrib = beta[0] * (np.log1p(values) if spec["kind"] == "log1p" else values)
            reach = beta[0] * np.array([column.min(), column.max()])
            contrib_range = (min(reach.min(), contrib.min()), max(reach.max(), contrib.max()))
        low, high = (contrib.min(), contrib.max()) if spec["kind"] == "categorical" else contrib_range
        specs.append({**spec, "index": index, "coef": beta, "values": values, "contrib": contrib, "low": low,
                      "high": high})  # fmt: skip
    if not specs:
        raise ValueError(f"the {type(model).__name__} has no factor with a non-zero coefficient: nothing to draw")
    scale = max(s["high"] - s["low"] for s in specs)
    if not scale > 0:
        raise ValueError("every factor's linear predictor is constant over X_train: nothing to draw")
    rows = [{"factor": s["factor"], "kind": s["kind"], "value": v, "points": 100.0 * (c - s["low"]) / scale}
            for s in specs for v, c in zip(s["values"], s["contrib"], strict=True)]  # fmt: skip
    points = pd.DataFrame(rows, columns=["factor", "kind", "value", "points"])
    offset = offset0 + sum(s["low"] for s in specs)
    max_total = sum(100.0 * (s["high"] - s["low"]) / scale for s in specs)
    zero = np.zeros((1, n))
    kwargs = model._model_kwargs()
    lp0 = float(model.model_.predict(zero, **kwargs)[0])
    s0 = survival_at(model.model_.predict_survival_function(zero, return_array=True, **kwargs),
                     model.unique_times_, times)[0]  # fmt: skip
    result = Nomogram(
        points=points,
        survival_table=pd.DataFrame(),
        times=times,
        scale=float(scale),
        offset=float(offset),
        max_total=float(max_total),
        factors=[s["factor"] for s in specs],
        model=model,
        _specs=specs,
        _coef=coef,
        _lp0=lp0,
        _s0=np.asarray(s0, dtype=np.float64),
    )
    totals = np.linspace(0.0, max_total, n_totals)
    table = {"total_points": totals, "linear_predictor": result.linear_predictor(totals)}
    table.update({f"survival_{t:g}": s for t, s in zip(times, result.survival(totals).T, strict=True)})
    result.survival_table = pd.DataFrame(table)
    return result
