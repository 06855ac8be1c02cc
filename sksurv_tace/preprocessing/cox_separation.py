"""Infinite Cox coefficients (monotone likelihood): R's ``survival::coxph`` check, on the Efron likelihood.

Used by the Cox screen (:mod:`sksurv_tace.preprocessing.cox_screen`) and the Cox models to tell a separating
factor (its estimate only stopped growing because the optimiser did) from a real, finite estimate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["infinite_coefficients"]

#: R's ``coxph.control(eps=1e-9)`` and ``toler.inf = sqrt(eps)``, the thresholds of :func:`infinite_coefficients`.
_R_EPS = 1e-9
#: Full Newton steps taken from the given fit before R's test (a finite maximum is reached in two or three).
_REFINE_STEPS = 4


def _efron_score_information(X: np.ndarray, event: np.ndarray, time: np.ndarray, coef: np.ndarray):
    """Score vector and observed information of the Efron log partial likelihood at ``coef``.

    Each event time's sums are taken around the mean of its deaths and with its risk set's weights scaled by
    their largest, so that a diverging coefficient (weights ``exp(30)`` apart) still gives its small score
    without cancellation.
    """
    order = np.argsort(time, kind="stable")
    X, event, time = X[order], event[order], time[order]
    lp = X @ coef
    score = np.zeros(X.shape[1])
    info = np.zeros((X.shape[1], X.shape[1]))
    event_times = np.unique(time[event])
    starts = np.searchsorted(time, event_times, side="left")
    ends = np.searchsorted(time, event_times, side="right")
    for start, end in zip(starts, ends, strict=True):
        dead = np.flatnonzero(event[start:end])  # positions in the risk set X[start:]
        x = X[start:] - X[start + dead].mean(axis=0)
        w = np.exp(lp[start:] - lp[start:].max())
        wx = x * w[:, None]
        s0, s1, s2 = w.sum(), wx.sum(axis=0), wx.T @ x
        d0, d1, d2 = w[dead].sum(), wx[dead].sum(axis=0), wx[dead].T @ x[dead]
        f = np.arange(len(dead)) / len(dead)  # Efron: the k-th of d tied deaths removes k/d of them
        total = s0 - f * d0
        means = (s1[None, :] - f[:, None] * d1[None, :]) / total[:, None]
        score -= means.sum(axis=0)
        info += s2 * np.sum(1 / total) - d2 * np.sum(f / total) - means.T @ means
    return score, info


def infinite_coefficients(X, event, time, coef, *, ridge: float = 0.0) -> np.ndarray:
    """Which coefficients of a converged Cox fit (Efron ties) may be infinite: R's ``coxph`` check.

    After its Newton-Raphson iteration has converged on the log partial likelihood, R's
    ``survival::coxph.fit`` computes the next Newton step ``var %*% u`` (``u`` the score, ``var`` the inverse
    information) and warns "Loglik converged before variable j; coefficient may be infinite" where its
    ``|step| > eps`` and ``|step| > sqrt(eps) * |coef|`` (``eps = 1e-9``): the likelihood has flattened out
    but the coefficient is still moving. That is a monotone likelihood, whose maximum lies at infinity,
    e.g. a binary factor whose exposed patients all die before any unexposed one (HR = infinity, and lifelines
    or scikit-survival stop at an arbitrary HR such as 8.5e8 with p = 0.99).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Design matrix of the fit.
    event, time : arrays of shape (n_samples,)
        Event indicator and follow-up time.
    coef : array of shape (n_features,)
        The fitted coefficients.
    ridge : float, default=0.0
        Ridge penalty ``ridge / 2 * ||coef||^2`` subtracted from the log partial likelihood
        (scikit-survival's ``CoxPHSurvivalAnalysis(alpha=ridge)``).

    Returns
    -------
    ndarray of bool, shape (n_features,)
        True where the coefficient may be infinite (or the next step is not finite).

    Examples
    --------
    R's own test of the check (``survival/tests/infcox.R``): the three deaths all have ``x1 = x2 = 0``,
    and R's ``coxph(Surv(futime, fustat) ~ x1 + x2)`` stops at -21.2 and -21.9 with the warning
    "Loglik converged before variable 1,2".

    >>> import numpy as np
    >>> X = np.column_stack([np.tile([0.0, 1.0], 6), np.repeat([0.0, 1.0], 6)])
    >>> event = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    >>> infinite_coefficients(X, event, np.arange(1.0, 13.0), [-21.2, -21.9])
    array([ True,  True])
    """
    X = np.asarray(X, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != coef.shape[0]:
        raise ValueError(f"X has shape {X.shape}; expected {coef.shape[0]} columns, one per coefficient")
    # lifelines damps its Newton steps, so its "converged" point can sit 1e-7 away from the maximum where R's
    # undamped iteration would stop 1e-10 away: take R's last full Newton steps before testing the step
    coef_k, step = coef.copy(), None
    for _ in range(_REFINE_STEPS):
        score, info = _efron_score_information(X, event, time, coef_k)
        score = score - ridge * coef_k
        info = info + ridge * np.eye(len(coef_k))
        try:
            new = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            new = None
        if new is None or not np.isfinite(new).all():
            if step is None:
                return np.ones(len(coef), dtype=bool)
            break  # the information degenerates along a diverging coefficient: judge the last step
        step = new
        if np.all(np.abs(step) <= _R_EPS):
            break
        coef_k = coef_k + step
    step = np.abs(step)
    return (step > _R_EPS) & (step > np.sqrt(_R_EPS) * np.abs(coef_k))
