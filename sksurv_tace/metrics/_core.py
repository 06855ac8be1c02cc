"""Private numerics behind :mod:`sksurv_tace.metrics`.

Input checks, the censoring Kaplan–Meier estimator, a sort-based Harrell's C for large
cohorts, the pairwise structure that makes the Harrell bootstrap a pair of matrix
products, R ``timeROC``'s cumulative/dynamic AUC with its iid representation
(Blanche, Dartigues & Jacqmin-Gadda 2013, Stat Med 32:5381–5397) and DeLong's
covariance of correlated AUCs (DeLong et al. 1988, Biometrics 44:837–845; the fast
mid-rank algorithm of Sun & Xu 2014, IEEE Signal Process Lett 21:1389–1393).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sksurv.nonparametric import kaplan_meier_estimator
from tqdm.auto import tqdm

from sksurv_tace._validation import as_survival_array, check_survival_target, describe_rows, row_labels

__all__: list[str] = []

TIED_TOL = 1e-8


# --------------------------------------------------------------------------- checks
def check_target(y, *, name: str = "y", require_event: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(event, time)`` of a survival target, with the package's error messages."""
    return check_survival_target(y, name=name, require_event=require_event)


def check_targets(y, y_train=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(event, time, y, y_train)``: both targets checked, as bool-event arrays for scikit-survival.

    ``y_train`` defaults to ``y`` (the censoring estimated on the evaluation data).
    """
    event, time = check_target(y)
    y = as_survival_array(event, time)
    train = y if y_train is None else as_survival_array(*check_target(y_train, name="y_train"))
    return event, time, y, train


def check_risk(risk, n: int, *, name: str = "risk", ndim: tuple[int, ...] = (1,), n_cols: int | None = None):
    """Risk scores as float64, same number of rows as the target, no NaN/inf."""
    arr = np.asarray(risk, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1 and 1 in ndim and 2 not in ndim:
        arr = arr[:, 0]
    if arr.ndim not in ndim:
        raise ValueError(f"{name} must be a {' or '.join(f'{d}-D' for d in ndim)} array; got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but y has {n}: they must describe the same patients")
    if arr.ndim == 2 and n_cols is not None and arr.shape[1] != n_cols:
        raise ValueError(f"{name} has {arr.shape[1]} columns but {n_cols} time points were given")
    bad = ~np.isfinite(arr) if arr.ndim == 1 else ~np.isfinite(arr).all(axis=1)
    if bad.any():
        rows = describe_rows(row_labels(n=len(bad)), bad)
        raise ValueError(f"{name} is NaN or infinite at {rows}; every patient needs a finite score")
    return arr


def check_times(
    times, time: np.ndarray, event: np.ndarray, *, name: str = "horizon", strict_case: bool = False
) -> np.ndarray:
    """Horizons inside the follow-up with at least one case before and one patient followed beyond.

    ``strict_case`` makes a case ``T < t`` (timeROC) instead of ``T <= t``.
    """
    values = np.atleast_1d(np.asarray(times, dtype=object))
    if any(isinstance(v, str | bytes | bool | np.bool_) for v in values.ravel()):
        raise ValueError(f"{name} must be a number or a sequence of numbers, not text or booleans; got {times!r}")
    try:
        arr = np.atleast_1d(np.asarray(times, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a sequence of numbers; got {times!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence of numbers; got {times!r}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got {arr.tolist()}")
    t_max = float(time.max())
    for t in arr:
        if t <= 0 or t >= t_max:
            raise ValueError(
                f"{name}={t:g} is outside the follow-up: it must lie in (0, {t_max:g}), before the last observed "
                "time, so that some patients are still followed beyond it"
            )
        cases = (time < t) if strict_case else (time <= t)
        if not (cases & event).any():
            op = "<" if strict_case else "<="
            raise ValueError(
                f"no event with time {op} {name}={t:g}: the cohort has no case to evaluate at that horizon"
            )
    return arr


def check_horizon(horizon, time: np.ndarray, event: np.ndarray, *, strict_case: bool = False) -> float:
    """One horizon (a number, or a sequence holding one), checked as :func:`check_times` checks it."""
    values = check_times(horizon, time, event, strict_case=strict_case)
    if values.size != 1:
        raise ValueError(f"horizon must be one time, not {values.size}; got {horizon!r}")
    return float(values[0])


def check_number(value, name: str, *, low=-np.inf, high=np.inf, integer: bool = False) -> float:
    """A real number (an integer with ``integer``) in ``(low, high)``, else a ValueError naming ``name``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool | np.bool_) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    if not np.isfinite(value) or not low < value < high:
        raise ValueError(f"{name} must be a finite number in ({low:g}, {high:g}); got {value!r}")
    return value


def check_n_bootstrap(n_bootstrap: int) -> int:
    """The number of bootstrap resamples, an integer ``>= 2``."""
    if not isinstance(n_bootstrap, int | np.integer) or n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be an integer >= 2; got {n_bootstrap!r}")
    return int(n_bootstrap)


def z_value(confidence_level: float) -> float:
    """Two-sided normal quantile of a confidence level in ``(0, 1)`` (1.96 for 0.95)."""
    check_number(confidence_level, "confidence_level", low=0.0, high=1.0)
    return float(stats.norm.ppf(0.5 + confidence_level / 2))


# --------------------------------------------------------------------------- bootstrap helpers
def percentile_interval(rep: np.ndarray, confidence_level: float) -> tuple[float, float]:
    """Percentile interval of the finite bootstrap replicates (NaN, NaN when there are none)."""
    alpha = (1 - confidence_level) / 2
    finite = rep[np.isfinite(rep)]
    if finite.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return float(lo), float(hi)


def two_sided_p(difference: float, std_error: float, what: str) -> tuple[float, float]:
    """``(z, p)`` of a Wald test of ``difference``; NaN with a warning when the standard error is undefined.

    A standard error that is NaN, or zero while the difference is not (one case or one control,
    perfect separation), leaves the test undefined: ``p = NaN`` and a :class:`RuntimeWarning`
    naming ``what``, never ``p = 0``. Identical scores (difference and standard error both 0) give ``p = 1``.
    """
    if difference == 0 and std_error == 0:
        return 0.0, 1.0
    if not np.isfinite(std_error) or std_error <= 0 or not np.isfinite(difference):
        warnings.warn(
            f"{what}: the standard error of the difference is {std_error:g}, so the test is undefined "
            "(too few cases or controls, or perfect separation); p-value is NaN",
            RuntimeWarning,
            stacklevel=3,
        )
        return float("nan"), float("nan")
    statistic = difference / std_error
    return float(statistic), float(2 * stats.norm.sf(abs(statistic)))


def fdr_bh(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values over the finite entries; NaN (undefined tests) stay NaN."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p_values, np.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        adjusted[finite] = stats.false_discovery_control(p_values[finite], method="bh")
    return adjusted


def progress_bar(it, progress: bool | None, desc: str):
    """``tqdm`` over ``it``; ``progress=None`` shows it only on a terminal."""
    return tqdm(it, desc=desc, disable=None if progress is None else not progress, leave=False)


def nan_on_value_error(fn, *args, **kwargs) -> float:
    """``float(fn(*args, **kwargs))``, NaN when it raises ``ValueError`` (a degenerate resample)."""
    try:
        return float(fn(*args, **kwargs))
    except ValueError:  # a resample without case/control/comparable pair
        return float("nan")


# --------------------------------------------------------------------------- Kaplan–Meier
def censoring_km(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate of the censoring survival ``G``: ``(unique times, G(t))``, right-continuous.

    The "events" are censorings and, at a time shared by deaths and censorings, the deaths
    come first: at risk of censoring at ``u`` are the patients with ``T > u``, or ``T = u``
    and censored, i.e. ``G(u) = prod_{s <= u} (1 - c_s / (n_s - d_s))``. This is
    :func:`sksurv.nonparametric.kaplan_meier_estimator` with ``reverse=True`` (the estimator
    behind :class:`sksurv.nonparametric.CensoringDistributionEstimator`), and the rule of
    ``prodlim``'s reverse Kaplan–Meier used by R ``pec::ipcw`` and ``timeROC``: it
    reproduces ``pec::ipcw(method="marginal")``'s weights (``benchmark_ipcw.json``) to
    their 4 printed decimals. Evaluate ``G(t)`` with :func:`step_at`, ``G(t-)`` with
    ``step_at(..., left=True)``.
    """
    return kaplan_meier_estimator(np.asarray(event, dtype=bool), np.asarray(time, dtype=float), reverse=True)


def step_at(x: np.ndarray, y: np.ndarray, t, *, left: bool = False, before: float = 1.0) -> np.ndarray:
    """Right-continuous step function ``(x, y)`` at ``t`` (its left limit when ``left``)."""
    idx = np.searchsorted(x, np.asarray(t, dtype=float), side="left" if left else "right") - 1
    return np.where(idx >= 0, y[np.maximum(idx, 0)], before)


def km_survival(time: np.ndarray, event: np.ndarray, t: float) -> float:
    """Kaplan–Meier survival at ``t`` (last value carried forward beyond the last time).

    :func:`sksurv.nonparametric.kaplan_meier_estimator` evaluated as a right-continuous
    step function; NaN for an empty sample.
    """
    if len(time) == 0:
        return float("nan")
    uniq, surv = kaplan_meier_estimator(np.asarray(event, dtype=bool), np.asarray(time, dtype=float))
    return float(step_at(uniq, surv, t))


# --------------------------------------------------------------------------- Harrell's C
def comparable_matrices(event: np.ndarray, time: np.ndarray, risk: np.ndarray, tied_tol: float = TIED_TOL):
    """Pairwise structure of Harrell's C as scikit-survival defines it.

    ``P[i, j] = 1`` when the pair is comparable (``i`` has an event and ``T_j > T_i``,
    or ``T_j == T_i`` with ``j`` censored) and ``S2[i, j]`` is twice its concordance
    (2 concordant, 1 tied risk within ``tied_tol``, 0 discordant). With bootstrap
    multiplicities ``w`` the C-index of the resample is ``(w S2 w) / (2 w P w)``:
    integers all along, hence bit-identical to a loop over
    :func:`sksurv.metrics.concordance_index_censored` on the expanded resample.
    """
    later = time[None, :] > time[:, None]
    tied_cens = (time[None, :] == time[:, None]) & ~event[None, :]
    comparable = event[:, None] & (later | tied_cens)
    diff = risk[None, :] - risk[:, None]
    tie = np.abs(diff) <= tied_tol
    score2 = np.where(tie, 1.0, np.where(diff < 0, 2.0, 0.0)) * comparable
    return comparable.astype(np.float64), score2


def bootstrap_indices(n: int, n_bootstrap: int, random_state) -> np.ndarray:
    """Resample indices ``np.random.default_rng(random_state).integers(0, n, (n_bootstrap, n))``."""
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    return rng.integers(0, n, size=(n_bootstrap, n))


def bootstrap_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """Multiplicity of each patient in each resample, shape ``(n_bootstrap, n)``."""
    b = indices.shape[0]
    flat = (indices + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def harrell_bootstrap(
    event: np.ndarray, time: np.ndarray, risks: list[np.ndarray], counts: np.ndarray, *, chunk: int = 256
) -> np.ndarray:
    """Harrell's C of every resample for each risk vector, shape ``(len(risks), n_bootstrap)``."""
    out = np.empty((len(risks), counts.shape[0]))
    for k, risk in enumerate(risks):
        comparable, score2 = comparable_matrices(event, time, risk)
        for start in range(0, counts.shape[0], chunk):
            w = counts[start : start + chunk]
            den = np.einsum("bi,bi->b", w @ comparable, w)
            num = np.einsum("bi,bi->b", w @ score2, w) / 2.0
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k, start : start + chunk] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def harrell_replicates(event, time, risks, idx: np.ndarray, progress: bool | None) -> np.ndarray:
    """Harrell's C of the resamples ``idx`` for each risk vector, shape ``(len(risks), n_bootstrap)``.

    Up to 4,000 patients by the matrix products of :func:`harrell_bootstrap`, beyond by a
    loop of :func:`harrell_fast` (NaN for a resample without a comparable pair).
    """
    n = len(time)
    if n <= 4000:
        counts = bootstrap_counts(idx, n)
        return harrell_bootstrap(event, time, risks, counts)
    out = np.empty((len(risks), len(idx)))
    for b, i in enumerate(progress_bar(idx, progress, "Harrell's C bootstrap")):
        for k, r in enumerate(risks):
            out[k, b] = nan_on_value_error(lambda e, t, s: harrell_fast(e, t, s)[0], event[i], time[i], r[i])
    return out


def harrell_fast(
    event: np.ndarray, time: np.ndarray, risk: np.ndarray, tied_tol: float = TIED_TOL, block: int = 1024
) -> tuple[float, int, int, int]:
    """Harrell's C by sorting, ``O(n log n + n * block)``; same pairs and ties as scikit-survival.

    Returns ``(cindex, concordant, discordant, tied_risk)``. Patients are sorted by
    decreasing time, censored before events within a tied time, so that the
    comparable set of an event is a prefix; prefix counts of lower/tied risks come
    from sorted copies of whole blocks plus a brute-force pass inside the block.
    """
    n = len(time)
    order = np.lexsort((event, -time))  # time descending, censored (False) first within ties
    t_s, e_s, r_s = time[order], event[order], risk[order]
    # prefix length for each position: start of the run of events sharing its time
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (t_s[1:] != t_s[:-1]) | (e_s[1:] != e_s[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
    ev_pos = np.flatnonzero(e_s)
    lengths = run_start[ev_pos]
    x = r_s[ev_pos]
    lo_val, hi_val = x - tied_tol, x + tied_tol
    n_lower = np.zeros(len(ev_pos), dtype=np.int64)
    n_le_hi = np.zeros(len(ev_pos), dtype=np.int64)
    n_block = -(-n // block)
    sorted_prefix = np.empty(0)
    blk_of = lengths // block
    for b in range(n_block):
        start = b * block
        sel = np.flatnonzero(blk_of == b)
        if sel.size:
            n_lower[sel] += np.searchsorted(sorted_prefix, lo_val[sel], side="left")
            n_le_hi[sel] += np.searchsorted(sorted_prefix, hi_val[sel], side="right")
            seg = r_s[start : start + block]
            pos = np.arange(start, start + len(seg))
            inside = pos[None, :] < lengths[sel, None]
            diff = seg[None, :] - x[sel, None]
            tie = np.abs(diff) <= tied_tol
            n_lower[sel] += ((diff < 0) & ~tie & inside).sum(axis=1)
            n_le_hi[sel] += ((tie | (diff < 0)) & inside).sum(axis=1)
        sorted_prefix = np.sort(np.concatenate([sorted_prefix, r_s[start : start + block]]), kind="mergesort")
    n_tied = n_le_hi - n_lower
    total = int(lengths.sum())
    if total == 0:
        raise ValueError("no comparable pairs: Harrell's C is undefined (every event is at or after the last time)")
    concordant, tied = int(n_lower.sum()), int(n_tied.sum())
    discordant = total - concordant - tied
    return (concordant + 0.5 * tied) / total, concordant, discordant, tied


# --------------------------------------------------------------------------- timeROC
def timeroc_auc(time: np.ndarray, event: np.ndarray, marker: np.ndarray, t: float, *, return_parts: bool = False):
    """Cumulative/dynamic AUC at ``t`` as R ``timeROC(weighting="marginal")`` computes it.

    Cases: ``T < t`` with an event, weight ``1 / G(T_i-)``; controls: ``T > t``, weight
    ``1 / G(t)``; ``G`` the censoring Kaplan–Meier of this sample (:func:`censoring_km`:
    deaths leave the censoring risk set before censorings at the same time, as
    ``pec::ipcw``). Tied markers count 1/2.
    """
    n = len(time)
    uniq, g = censoring_km(time, event)
    g_left = step_at(uniq, g, time, left=True)
    g_t = float(step_at(uniq, g, t))
    case = (time < t) & event
    ctrl = time > t
    w_case = np.zeros(n)
    w_case[case] = 1.0 / (g_left[case] * n)
    w_ctrl = np.where(ctrl, 1.0 / (g_t * n), 0.0)
    f01, st = w_case.sum(), w_ctrl.sum()
    mc, mk = marker[case], marker[ctrl]
    comp = (mc[None, :] > mk[:, None]) + 0.5 * (mc[None, :] == mk[:, None])  # controls x cases
    h = comp * (w_case[case][None, :] * w_ctrl[ctrl][:, None])
    # a weighted proportion: clip the last-ulp rounding that can leave [0, 1]
    auc = float(np.clip(h.sum() / (f01 * st), 0.0, 1.0)) if f01 > 0 and st > 0 else float("nan")
    if not return_parts:
        return auc
    return auc, dict(case=case, ctrl=ctrl, w_case=w_case, f01=f01, st=st, h=h * n * n)


def km_censoring_iid(time_sorted: np.ndarray, event_sorted: np.ndarray) -> np.ndarray:
    """timeROC's ``Compute.iid.KM``: ``M[j, l] = int_0^{T_j} dM_C_l(u) / S_T(u)`` (rows: sorted times)."""
    n = len(time_sorted)
    cens = (~event_sorted).astype(float)
    cum_hazard = np.cumsum(cens / (n - np.arange(n)))
    idx = np.arange(n)
    mart = cens[None, :] * (time_sorted[None, :] <= time_sorted[:, None])
    mart -= cum_hazard[np.minimum(idx[:, None], idx[None, :])]
    d_mart = np.vstack([mart[:1], np.diff(mart, axis=0)])
    at_risk = np.concatenate([[1.0], 1.0 - np.arange(1, n) / n])
    return np.cumsum(d_mart / at_risk[:, None], axis=0)


def timeroc_iid(time: np.ndarray, event: np.ndarray, marker: np.ndarray, t: float, km_iid=None):
    """AUC at ``t`` and its iid representation (influence function), in the input row order.

    Follows the released timeROC's ``compute_iid_decomposition_survival`` (Blanche et al.
    2013), whose controls' term is ``1{T_i > t} / (#{T > t} / n)``: the weight ``1/G(t)`` of
    the controls cancels from the AUC, so its denominator is the plain share of controls.
    riskRegression's ``Score(metrics="auc")`` standard errors agree to 4 decimals at every
    horizon of R's lung/gbsg reference cases, and its mean matches the Monte-Carlo standard
    deviation of the AUC under heavy censoring. (torchsurv's reference values were made with
    a modified copy using ``1{T_i >= t} / S(t)``, ``S(t)`` the IPCW estimate: equal while
    ``G(t) = 1``, too large otherwise, 2.5 times with ``G(t) = 0.37``.) ``se = sd(iid) / sqrt(n)``.
    """
    n = len(time)
    order = np.argsort(time, kind="stable")
    tt, ee, mm = time[order], event[order], marker[order]
    auc, p = timeroc_auc(tt, ee, mm, t, return_parts=True)
    if not np.isfinite(auc):
        return auc, np.full(n, np.nan)
    if km_iid is None:
        km_iid = km_censoring_iid(tt, ee)
    case, ctrl, h, f01, st = p["case"], p["ctrl"], p["h"], p["f01"], p["st"]
    hat_h = h.sum() / n**2
    dit = p["w_case"] * n  # 1{case} / G(T_i-)
    surv_term = ctrl * (n / ctrl.sum())  # 1{T > t} / (#{T > t} / n)
    per_case = h.sum(axis=0)
    term1 = (per_case[:, None] * (1.0 + km_iid[case, :])).sum(axis=0) / n
    term2 = hat_h * (surv_term.sum() + ((dit[:, None] * (1.0 + km_iid)) - f01).sum(axis=0) / f01)
    s_k = (term1 - term2) / (f01 * st)
    rows = np.zeros(n)
    rows[ctrl] = h.sum(axis=1)
    cols = np.zeros(n)
    cols[case] = per_case
    s_j = (rows - n * hat_h) / (f01 * st)
    s_i = (cols - n * hat_h * (surv_term + (dit - f01) / f01)) / (f01 * st)
    iid_sorted = (s_k + s_j + s_i) / n
    iid = np.empty(n)
    iid[order] = iid_sorted
    return auc, iid


def timeroc_iid_matrix(time: np.ndarray, event: np.ndarray, risk: np.ndarray, times) -> tuple[np.ndarray, np.ndarray]:
    """AUCs at ``times`` and their iid representations, shapes ``(len(times),)`` and ``(n, len(times))``.

    The censoring iid term :func:`km_censoring_iid` is computed once for all horizons.
    """
    order = np.argsort(time, kind="stable")
    km_iid = km_censoring_iid(time[order], event[order])
    out = [timeroc_iid(time, event, risk, t, km_iid=km_iid) for t in times]
    return np.array([a for a, _ in out]), np.column_stack([i for _, i in out])


# --------------------------------------------------------------------------- DeLong
def delong_auc_cov(scores: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and DeLong covariance of ``k`` scores (rows of ``scores``) for a binary ``label``."""
    pos, neg = scores[:, label], scores[:, ~label]
    m, n = pos.shape[1], neg.shape[1]
    k = scores.shape[0]
    tx = stats.rankdata(pos, method="average", axis=1)  # mid-ranks (Sun & Xu 2014)
    ty = stats.rankdata(neg, method="average", axis=1)
    tz = stats.rankdata(np.hstack([pos, neg]), method="average", axis=1)
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / (2.0 * n)
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    sx = np.cov(v01).reshape(k, k)
    sy = np.cov(v10).reshape(k, k)
    return aucs, sx / m + sy / n
