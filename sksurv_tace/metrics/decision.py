"""Decision-curve analysis at a horizon (Vickers et al. 2008, survival version as R/Python dcurves).

Re-exported by :mod:`sksurv_tace.metrics`. Risk at the horizon: a predicted probability of death by then.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sksurv_tace.metrics import _core as core

__all__ = ["decision_curve"]


def decision_curve(y, risk_at_horizon, horizon: float, *, thresholds=None) -> pd.DataFrame:
    """Decision curve analysis at ``horizon`` (Vickers, Cronin, Elkin & Gonen 2008 survival extension).

    Treat patients whose predicted probability of death by the horizon is ``>= pt``.
    Net benefit ``= (1 - S_+(t)) p_+ - S_+(t) p_+ pt / (1 - pt)`` with ``p_+`` the share of
    treated patients and ``S_+`` the Kaplan–Meier survival among them (0 when nobody is
    treated); treat-all uses the whole cohort's Kaplan–Meier, treat-none is 0. When the
    horizon lies beyond the last follow-up time (event or censoring) of the treated
    patients, ``S_+(t)`` is not estimated and the net benefit is NaN, with one
    :class:`RuntimeWarning` per model naming the thresholds concerned: as R and Python
    ``dcurves`` (``dca(..., time=)``), which never extrapolate a Kaplan–Meier curve past
    its last observed time.

    Parameters
    ----------
    y : structured array
    risk_at_horizon : array-like or mapping of str to array-like
        Predicted probability of death by the horizon (``1 - S(t)``) in [0, 1], one model or
        several by name.
    horizon : float
    thresholds : array-like, optional
        Threshold probabilities in (0, 1); default 0.01 to 0.99 by 0.01.

    Returns
    -------
    DataFrame
        ``threshold``, one net-benefit column per model (``"model"`` for a single array),
        ``treat_all`` and ``treat_none``; NaN where the treated patients are not followed
        up to the horizon.

    Examples
    --------
    >>> import warnings
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 0], [1.0, 2, 8, 9])
    >>> decision_curve(y, [0.9, 0.8, 0.6, 0.2], 5.0, thresholds=[0.5])["model"].round(6).tolist()
    [0.25]
    >>> with warnings.catch_warnings(record=True) as caught:  # at 0.7 only the deaths at 1 and 2 are treated
    ...     warnings.simplefilter("always")
    ...     dca = decision_curve(y, [0.9, 0.8, 0.6, 0.2], 5.0, thresholds=[0.5, 0.7])
    >>> dca["model"].round(6).tolist(), caught[0].category.__name__
    ([0.25, nan], 'RuntimeWarning')
    """
    event, time = core.check_target(y)
    horizon = core.check_horizon(horizon, time, event)
    models = dict(risk_at_horizon) if isinstance(risk_at_horizon, Mapping) else {"model": risk_at_horizon}
    pt = np.arange(1, 100) / 100 if thresholds is None else np.asarray(thresholds, dtype=float)
    if pt.ndim != 1 or pt.size == 0 or not np.isfinite(pt).all() or ((pt <= 0) | (pt >= 1)).any():
        raise ValueError("thresholds must be probabilities strictly between 0 and 1")
    odds = pt / (1 - pt)
    out = {"threshold": pt}
    for name, values in models.items():
        p = core.check_risk(values, len(time), name=f"risk_at_horizon[{name!r}]")
        if (p < 0).any() or (p > 1).any():
            raise ValueError(f"risk_at_horizon[{name!r}] must be probabilities of death by the horizon in [0, 1]")
        nb = np.zeros(len(pt))
        unfollowed = np.zeros(len(pt), dtype=bool)
        for k, thr in enumerate(pt):
            treated = p >= thr
            if not treated.any():
                continue
            if time[treated].max() < horizon:  # the treated group's Kaplan-Meier ends before the horizon
                unfollowed[k] = True
                nb[k] = np.nan
                continue
            s = core.km_survival(time[treated], event[treated], horizon)
            share = treated.mean()
            nb[k] = (1 - s) * share - s * share * odds[k]
        if unfollowed.any():
            bad = pt[unfollowed]
            warnings.warn(
                f"decision_curve: net benefit of {name!r} is NaN at {unfollowed.sum()} threshold(s) from "
                f"{bad.min():g} to {bad.max():g}: the patients treated there are all followed for less than "
                f"horizon={horizon:g} (their last follow-up is at most {time[p >= bad.min()].max():g}), so "
                "their Kaplan-Meier survival at the horizon is not estimated (as R/Python dcurves)",
                RuntimeWarning,
                stacklevel=2,
            )
        out[name] = nb
    s_all = core.km_survival(time, event, horizon)
    out["treat_all"] = (1 - s_all) - s_all * odds
    out["treat_none"] = np.zeros(len(pt))
    return pd.DataFrame(out)
