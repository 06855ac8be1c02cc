"""Tables of a clinical survival paper, as pandas DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["baseline_table"]

_NON_CLINICAL = ("patient_id", "ct", "mask")


def _is_categorical(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object or series.dtype == bool


def _median_iqr(values: pd.Series) -> str:
    q1, q2, q3 = np.nanpercentile(values.astype(float), [25, 50, 75])
    return f"{q2:.2f} ({q1:.2f}–{q3:.2f})"


def _categorical_p(table: np.ndarray) -> tuple[float, str]:
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return np.nan, ""
    chi2, p, _, expected = stats.chi2_contingency(table, correction=False)
    if table.shape == (2, 2) and (expected < 5).any():
        return float(stats.fisher_exact(table).pvalue), "Fisher"
    return float(p), "χ²"


def baseline_table(X: pd.DataFrame, y=None, *, groups=None, columns=None) -> pd.DataFrame:
    """Table 1: baseline characteristics, overall or by group, with p-values between groups.

    Continuous columns are summarised as median (interquartile range) and compared with
    the Mann–Whitney U test (Kruskal–Wallis for more than two groups); categorical
    columns as n (%) per level, compared with Pearson's χ² test, or Fisher's exact test
    for a 2×2 table with an expected count below 5.

    Parameters
    ----------
    X : DataFrame
        One row per patient. ``patient_id``, ``ct`` and ``mask`` are skipped.
    y : structured array, optional
        Survival target; adds the number of deaths and the follow-up time (days).
    groups : array-like of shape (n_samples,), optional
        Group label of each patient (e.g. "Training"/"Validation").
    columns : list of str, optional
        Columns to summarise; default all clinical columns.

    Returns
    -------
    DataFrame
        Columns ``variable``, ``level``, one column per group (or ``All``), ``p`` and ``test``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [50, 60, 70, 80], "sex": pd.Categorical(["M", "F", "M", "M"])})
    >>> baseline_table(X)[["variable", "level", "All"]].values.tolist()
    [['age', '', '65.00 (57.50–72.50)'], ['sex', 'F', '1 (25.0)'], ['sex', 'M', '3 (75.0)']]
    """
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    data = X.reset_index(drop=True).copy()
    if y is not None:
        if len(y) != len(X):
            raise ValueError(f"y has {len(y)} rows but X has {len(X)}")
        names = y.dtype.names
        data["deaths"] = pd.Categorical(np.where(y[names[0]], "Yes", "No"), categories=["No", "Yes"])
        data["follow-up (days)"] = np.asarray(y[names[1]], dtype=float)
    columns = list(columns) if columns is not None else [c for c in data.columns if c not in _NON_CLINICAL]
    if groups is None:
        labels = np.array(["All"] * len(data), dtype=object)
    else:
        labels = np.asarray(groups, dtype=object)
        if len(labels) != len(data):
            raise ValueError(f"groups has {len(labels)} entries but X has {len(data)} rows")
    order = list(dict.fromkeys(labels))
    headers = [f"{g} (n={int((labels == g).sum())})" if groups is not None else g for g in order]
    rows = []
    for column in columns:
        series = data[column]
        if _is_categorical(series):
            levels = (
                list(series.cat.categories)
                if isinstance(series.dtype, pd.CategoricalDtype)
                else sorted(series.dropna().unique().tolist())
            )
            counts = np.array([[int(((series == lvl) & (labels == g)).sum()) for g in order] for lvl in levels])
            p, test = _categorical_p(counts) if len(order) > 1 else (np.nan, "")
            for i, level in enumerate(levels):
                cells = {
                    h: f"{counts[i, j]} ({100 * counts[i, j] / max((labels == g).sum(), 1):.1f})"
                    for j, (g, h) in enumerate(zip(order, headers, strict=True))
                }
                rows.append({"variable": column, "level": str(level), **cells, "p": p if i == 0 else np.nan,
                             "test": test if i == 0 else ""})  # fmt: skip
        else:
            values = [series[labels == g].dropna().astype(float) for g in order]
            cells = {h: _median_iqr(v) for h, v in zip(headers, values, strict=True)}
            p, test = np.nan, ""
            if len(order) == 2 and all(len(v) for v in values):
                p, test = float(stats.mannwhitneyu(*values).pvalue), "Mann–Whitney"
            elif len(order) > 2 and all(len(v) for v in values):
                p, test = float(stats.kruskal(*values).pvalue), "Kruskal–Wallis"
            rows.append({"variable": column, "level": "", **cells, "p": p, "test": test})
    return pd.DataFrame(rows, columns=["variable", "level", *headers, "p", "test"])
