"""How numbers are printed in the report, the figures and the command line: p-values, factor names with units."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

__all__ = ["format_p", "factor_unit", "factor_label"]


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
