"""How numbers are printed in the report, the figures and the command line: p-values, CIs, factor names with units.

One format in every table: an estimate with its 95% CI as ``"0.712 (0.650–0.774)"`` (en dash, no "95% CI"
inside the cell; the column says it), hazard ratios with 2 decimals, C-index, AUC and other proportions with 3,
p-values by :func:`format_p` (``"<0.001"``, else 3 decimals).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

__all__ = ["format_p", "format_ci", "factor_unit", "factor_label"]

#: Decimals of a hazard ratio and its CI.
HR_DIGITS = 2
#: Decimals of a C-index, an AUC, a proportion (accuracy, sensitivity, ...) and their CIs.
METRIC_DIGITS = 3


def format_p(p, *, digits: int = 3, missing: str = "—") -> str:
    """A p-value as printed in a paper: ``"<0.001"`` below 0.001, else ``digits`` decimals.

    Parameters
    ----------
    p : float or None
    digits : int, default=3
    missing : str, default="—"
        Printed for None or NaN (an undefined test, or a row that has no test).

    Returns
    -------
    str

    Examples
    --------
    >>> format_p(0.0004), format_p(0.0312), format_p(float("nan")), format_p(None, missing="")
    ('<0.001', '0.031', '—', '')
    """
    if p is None or not np.isfinite(p):
        return missing
    floor = 10.0**-digits
    return f"<{floor:.{digits}f}" if p < floor else f"{p:.{digits}f}"


def format_ci(estimate, lower, upper, *, digits: int = METRIC_DIGITS, missing: str = "") -> str:
    """An estimate with its confidence interval, as every table prints it: ``"0.712 (0.650–0.774)"``.

    Parameters
    ----------
    estimate, lower, upper : float or None
    digits : int, default=3
        ``METRIC_DIGITS`` (3) for a C-index, an AUC or a proportion, ``HR_DIGITS`` (2) for a hazard ratio.
    missing : str, default=""
        Printed when the estimate is None or NaN; an estimate without a finite interval as ``"0.800 (—)"``.

    Returns
    -------
    str

    Examples
    --------
    >>> format_ci(0.7123, 0.6501, 0.7744), format_ci(1.5, 1.1, 2.0, digits=2)
    ('0.712 (0.650–0.774)', '1.50 (1.10–2.00)')
    >>> format_ci(float("nan"), 0.1, 0.2), format_ci(0.8, float("nan"), 0.9)
    ('', '0.800 (—)')
    """

    def finite(value) -> bool:
        return value is not None and bool(np.isfinite(value))

    if not finite(estimate):
        return missing
    if not (finite(lower) and finite(upper)):
        return f"{estimate:.{digits}f} (—)"
    return f"{estimate:.{digits}f} ({lower:.{digits}f}–{upper:.{digits}f})"


def factor_unit(factor: str, units: Mapping[str, str]) -> str:
    """The unit of one step of a numeric factor, i.e. what its hazard ratio is per.

    A plain column has its own unit; a ``log1p`` column (``"log1p(afp)"``, as
    :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor` names a ``log_transform`` column) is per
    log unit of it: one step is an e-fold (2.72-fold) rise of ``1 + afp``.

    Parameters
    ----------
    factor : str
        A design column or factor name.
    units : mapping of str to str
        Column -> unit (e.g. :data:`sksurv_tace.datasets.CLINICAL_UNITS`).

    Returns
    -------
    str
        ``""`` when the column's unit is not known.

    Examples
    --------
    >>> units = {"age": "years", "afp": "ng/mL"}
    >>> factor_unit("age", units), factor_unit("log1p(afp)", units), factor_unit("mvi", units)
    ('years', 'log ng/mL', '')
    """
    logged = re.fullmatch(r"log1p\((.+)\)", factor)
    if logged:
        unit = units.get(logged[1], "")
        return f"log {unit}" if unit else ""
    return units.get(factor, "")


def factor_label(factor, unit=None) -> str:
    """A factor as tables and figures print it: its name, then its unit in brackets when there is one.

    Examples
    --------
    >>> factor_label("log1p(afp)", "log ng/mL"), factor_label("mvi", ""), factor_label("age", float("nan"))
    ('log1p(afp) [log ng/mL]', 'mvi', 'age')
    """
    text = str(factor)
    return f"{text} [{unit}]" if isinstance(unit, str) and unit else text
