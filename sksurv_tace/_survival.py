"""Step survival functions evaluated on a time grid: the one evaluator every model uses.

A survival curve known at increasing ``times`` is right-continuous and piecewise constant:
``S(t) = S(times[k])`` for ``times[k] <= t < times[k + 1]`` and ``S(t) = 1`` before the first
time. The Cox models give ``S`` at the unique training times (scikit-survival's
``unique_times_``), the discrete-time nets at their interval cuts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["survival_at", "survival_at_times"]


def _check_times(times, last: float, what: str) -> np.ndarray:
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if times.ndim != 1 or not np.isfinite(times).all() or (times < 0).any():
        raise ValueError(f"times must be a 1-D array of finite non-negative values; got {times!r}")
    if (times > last).any():
        raise ValueError(
            f"times {times[times > last].tolist()} lie beyond {what} ({last:g}); the survival function is not "
            "estimable there"
        )
    return times


def survival_at(survival: np.ndarray, unique_times: np.ndarray, times) -> np.ndarray:
    """Evaluate step survival functions, given on ``unique_times``, at ``times``.

    Parameters
    ----------
    survival : ndarray of shape (n_samples, n_unique_times)
        Survival probabilities at the unique training times (right-continuous steps).
    unique_times : ndarray of shape (n_unique_times,)
        Increasing times; ``S(t) = 1`` before the first one.
    times : array-like of shape (n_times,)
        Non-negative times not beyond the last of ``unique_times``.

    Returns
    -------
    ndarray of shape (n_samples, n_times)

    Examples
    --------
    >>> survival_at(np.array([[0.9, 0.5]]), np.array([1.0, 2.0]), [0.5, 1.0, 1.5, 2.0]).tolist()
    [[1.0, 0.9, 0.9, 0.5]]
    """
    unique_times = np.asarray(unique_times, dtype=np.float64)
    times = _check_times(times, unique_times[-1], "the last follow-up time of the training data")
    index = np.searchsorted(unique_times, times, side="right")
    padded = np.concatenate([np.ones((np.shape(survival)[0], 1)), np.asarray(survival)], axis=1)
    return padded[:, index]


def survival_at_times(survival_at_cuts: np.ndarray, cuts, times, interpolation: str = "step") -> np.ndarray:
    """Evaluate survival curves known at interval ``cuts`` (``S(0) = 1`` first) at ``times``.

    Parameters
    ----------
    survival_at_cuts : ndarray, shape (n_samples, len(cuts))
        ``S(cuts[k])``; the first column is ``S(0) = 1``.
    cuts : sequence of float
        Interval cuts, starting at 0, strictly increasing.
    times : float or sequence of float
        Times in ``[0, cuts[-1]]``.
    interpolation : {"step", "constant_hazard"}, default="step"
        ``"step"``: piecewise constant, ``S(t) = S(cuts[k])`` for ``cuts[k] <= t < cuts[k + 1]``.
        ``"constant_hazard"``: a constant hazard within each interval, so ``log S`` is linear
        between cuts: ``S(t) = S(c_k) * (S(c_{k+1}) / S(c_k)) ** ((t - c_k) / (c_{k+1} - c_k))``;
        both agree at the cuts.

    Returns
    -------
    ndarray, shape (n_samples, len(times))

    Examples
    --------
    >>> survival_at_times(np.array([[1.0, 0.9, 0.8]]), [0, 365, 730], [0, 364.9, 365, 700, 730])
    array([[1. , 1. , 0.9, 0.9, 0.8]])
    >>> survival_at_times(np.array([[1.0, 0.81]]), [0, 2], [1, 2], interpolation="constant_hazard").round(6)
    array([[0.9 , 0.81]])
    """
    if interpolation not in ("step", "constant_hazard"):
        raise ValueError(f"interpolation must be 'step' or 'constant_hazard'; got {interpolation!r}")
    cuts = np.asarray(cuts, dtype=np.float64)
    times = _check_times(times, cuts[-1], "the last interval cut: the model predicts survival only up to it")
    survival_at_cuts = np.asarray(survival_at_cuts, dtype=np.float64)
    if interpolation == "step":
        return survival_at(survival_at_cuts[:, 1:], cuts[1:], times)
    k = np.clip(np.searchsorted(cuts, times, side="right") - 1, 0, len(cuts) - 2)  # interval of each time
    fraction = (times - cuts[k]) / (cuts[k + 1] - cuts[k])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(survival_at_cuts)
        log_t = log_s[:, k] + fraction * (log_s[:, k + 1] - log_s[:, k])
    # S(c_k) = 0 stays 0 after c_k; S(c_{k+1}) = 0 gives 0 inside the interval but S(c_k) at its start
    log_t = np.where(np.isnan(log_t), np.where(fraction == 0, log_s[:, k], -np.inf), log_t)
    return np.exp(log_t)
