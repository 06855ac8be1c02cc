"""How numbers are printed in the report, the figures and the command line: one p-value formatter."""

from __future__ import annotations

import numpy as np

__all__ = ["format_p"]


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
