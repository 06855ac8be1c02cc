"""Paired comparisons of models: C-index and TD AUC tests, all-against-one with BH-FDR, pairwise matrices."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sksurv_tace.metrics import _core as core
from sksurv_tace.metrics.discrimination import harrell_c

__all__ = [
    "Comparison",
    "compare_c_index",
    "compare_td_auc",
    "compare_models",
    "pairwise_td_auc_tests",
    "compare_over_splits",
]


@dataclass(frozen=True)
class Comparison:
    """Paired comparison of two risk scores on the same patients (``a - b``).

    Attributes
    ----------
    estimate_a, estimate_b : float
        The metric of each score on the full sample.
    difference, lower, upper, std_error : float
        ``estimate_a - estimate_b``, its confidence interval and standard error.
    statistic, p_value : float
        Test statistic (z or t) and two-sided p-value.
    method : str

    Examples
    --------
    >>> Comparison(0.8, 0.7, 0.1, 0.02, 0.18, 0.04, 2.5, 0.012, "iid").difference
    0.1
    """

    estimate_a: float
    estimate_b: float
    difference: float
    lower: float
    upper: float
    std_error: float
    statistic: float
    p_value: float
    method: str


def compare_c_index(
    y,
    risk_a,
    risk_b,
    *,
    method: str = "bootstrap",
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
    progress: bool | None = None,
) -> Comparison:
    """Compare the Harrell's C of two risk scores on the same patients (``a - b``).

    ``method="bootstrap"`` (paired): both scores are evaluated on the same resamples;
    the difference's percentile interval is reported and the p-value is two-sided from
    ``z = difference / sd(bootstrap differences)`` (assumes a roughly normal bootstrap
    distribution of the difference). ``method="ttest"``: the paper's Student two-sample
    t-test from summary statistics (Welch, ``n`` patients per arm, standard deviations
    ``se·sqrt(n)`` with bootstrap standard errors); it ignores the pairing, so it is
    conservative when the two scores are positively correlated.

    Parameters
    ----------
    y : structured array
    risk_a, risk_b : array-like, shape (n_samples,)
        Risk scores, higher = higher risk.
    method : {"bootstrap", "ttest"}, default="bootstrap"
    n_bootstrap, confidence_level, random_state, progress
        As in :func:`c_index_ci`.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(1)
    >>> time = rng.exponential(10, 80); y = Surv.from_arrays(np.ones(80, bool), time)
    >>> res = compare_c_index(y, -time, rng.normal(size=80), n_bootstrap=200, random_state=0)
    >>> bool(res.difference > 0 and res.p_value < 0.05)
    True
    """
    event, time = core.check_target(y)
    a = core.check_risk(risk_a, len(time), name="risk_a")
    b = core.check_risk(risk_b, len(time), name="risk_b")
    n_bootstrap = core.check_n_bootstrap(n_bootstrap)
    z = core.z_value(confidence_level)
    if method not in ("bootstrap", "ttest"):
        raise ValueError(f"method must be 'bootstrap' or 'ttest'; got {method!r}")
    ca, cb = harrell_c(y, a), harrell_c(y, b)
    idx = core.bootstrap_indices(len(time), n_bootstrap, random_state)
    rep = core.harrell_replicates(event, time, [a, b], idx, progress)
    diff = ca - cb
    if method == "bootstrap":
        d = rep[0] - rep[1]
        se = float(np.nanstd(d, ddof=1))
        lo, hi = core.percentile_interval(d, confidence_level)
        stat, p = core.two_sided_p(diff, se, "compare_c_index")
        return Comparison(ca, cb, diff, lo, hi, se, stat, p, "paired bootstrap")
    n = len(time)
    se_a, se_b = np.nanstd(rep[0], ddof=1), np.nanstd(rep[1], ddof=1)
    se = float(np.hypot(se_a, se_b))
    if (diff == 0 and se == 0) or not np.isfinite(se) or se <= 0 or not np.isfinite(diff):
        stat, p = core.two_sided_p(diff, se, "compare_c_index(method='ttest')")  # undefined: NaN with a warning
    else:
        res = stats.ttest_ind_from_stats(ca, se_a * np.sqrt(n), n, cb, se_b * np.sqrt(n), n, equal_var=False)
        stat, p = float(res.statistic), float(res.pvalue)
    return Comparison(ca, cb, diff, diff - z * se, diff + z * se, se, stat, p, "t-test")


def compare_td_auc(
    y, risk_a, risk_b, horizon: float, *, method: str = "iid", confidence_level: float = 0.95
) -> Comparison:
    """Compare the time-dependent AUCs of two risk scores at a horizon (``a - b``).

    ``method="iid"`` (timeROC's ``compare``): IPCW cumulative/dynamic AUCs (cases
    ``T < t``) of both scores; the variance of the difference is the empirical variance
    of the difference of their iid representations over ``n`` (Blanche et al. 2013).
    Assumes independent censoring, estimated by the Kaplan–Meier of this sample, and
    uses every patient. ``method="delong"``: DeLong et al. (1988) test of two correlated
    ROC AUCs on the patients whose status at the horizon is known (cases: event with
    ``T <= t``; controls: ``T > t``); patients censored before the horizon are dropped,
    which is unbiased only if their censoring is unrelated to their risk.

    Parameters
    ----------
    y : structured array
    risk_a, risk_b : array-like, shape (n_samples,)
        Risk scores, higher = higher risk.
    horizon : float
    method : {"iid", "delong"}, default="iid"
    confidence_level : float, default=0.95

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(2)
    >>> time = rng.exponential(10, 100); y = Surv.from_arrays(rng.random(100) < 0.8, time)
    >>> res = compare_td_auc(y, -time, rng.normal(size=100), 8.0, method="delong")
    >>> bool(res.p_value < 0.05)
    True
    """
    event, time = core.check_target(y)
    a = core.check_risk(risk_a, len(time), name="risk_a")
    b = core.check_risk(risk_b, len(time), name="risk_b")
    z = core.z_value(confidence_level)
    if method == "iid":
        horizon = core.check_horizon(horizon, time, event, strict_case=True)
        aa, ia = core.timeroc_iid_matrix(time, event, a, [horizon])
        ab, ib = core.timeroc_iid_matrix(time, event, b, [horizon])
        ea, eb = float(aa[0]), float(ab[0])
        se = float((ia[:, 0] - ib[:, 0]).std(ddof=1) / np.sqrt(len(time)))
    elif method == "delong":
        horizon = core.check_horizon(horizon, time, event)
        known = (event & (time <= horizon)) | (time > horizon)
        label = (time <= horizon)[known]
        if label.all() or not label.any():
            raise ValueError(f"DeLong needs cases and controls with known status at horizon={horizon:g}")
        aucs, cov = core.delong_auc_cov(np.vstack([a[known], b[known]]), label)
        ea, eb = float(aucs[0]), float(aucs[1])
        se = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    else:
        raise ValueError(f"method must be 'iid' or 'delong'; got {method!r}")
    diff = ea - eb
    stat, p = core.two_sided_p(diff, se, f"compare_td_auc(method={method!r})")
    return Comparison(ea, eb, diff, diff - z * se, diff + z * se, se, stat, p, method)


def compare_models(
    y,
    risks: Mapping[str, Sequence[float]],
    reference: str | None,
    *,
    metric: str = "c_index",
    horizon: float | None = None,
    method: str | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Compare several models with a reference (or all pairs), with Benjamini–Hochberg FDR.

    Each row is one paired test (:func:`compare_c_index` for ``metric="c_index"``, default
    method paired bootstrap; :func:`compare_td_auc` for ``metric="td_auc"``, default
    method ``"iid"``); ``p_fdr`` are the p-values adjusted together by
    :func:`scipy.stats.false_discovery_control` (``method="bh"``). Scores: higher = higher risk.

    Parameters
    ----------
    y : structured array
    risks : mapping of str to array-like
        Model name -> risk score on the same patients.
    reference : str or None
        Name of the reference model; None compares every pair.
    metric : {"c_index", "td_auc"}
    horizon : float, optional
        Required for ``"td_auc"``.
    method : str, optional
        Test method of the underlying function.
    n_bootstrap, confidence_level, random_state, progress
        As in :func:`compare_c_index`.

    Returns
    -------
    DataFrame
        Columns ``model, reference, metric, method, estimate, reference_estimate,
        difference, lower, upper, p_value, p_fdr``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(3)
    >>> time = rng.exponential(10, 60); y = Surv.from_arrays(np.ones(60, bool), time)
    >>> risks = {"good": -time, "noise1": rng.normal(size=60), "noise2": rng.normal(size=60)}
    >>> table = compare_models(y, risks, "good", n_bootstrap=200, random_state=0)
    >>> table["model"].tolist()
    ['noise1', 'noise2']
    """
    if len(risks) < 2:
        raise ValueError("risks must hold at least two models")
    names = list(risks)
    if reference is not None and reference not in risks:
        raise ValueError(f"reference {reference!r} is not one of the models {names}")
    if metric not in ("c_index", "td_auc"):
        raise ValueError(f"metric must be 'c_index' or 'td_auc'; got {metric!r}")
    if metric == "td_auc" and horizon is None:
        raise ValueError("metric='td_auc' needs a horizon")
    if reference is None:
        pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    else:
        pairs = [(m, reference) for m in names if m != reference]
    rows = []
    for model, ref in pairs:
        if metric == "c_index":
            res = compare_c_index(
                y,
                risks[model],
                risks[ref],
                method=method or "bootstrap",
                n_bootstrap=n_bootstrap,
                confidence_level=confidence_level,
                random_state=random_state,
                progress=progress,
            )
        else:
            res = compare_td_auc(y, risks[model], risks[ref], horizon, method=method or "iid",
                                 confidence_level=confidence_level)  # fmt: skip
        rows.append(
            dict(model=model, reference=ref, metric=metric, method=res.method, estimate=res.estimate_a,
                 reference_estimate=res.estimate_b, difference=res.difference, lower=res.lower,
                 upper=res.upper, p_value=res.p_value)
        )  # fmt: skip
    table = pd.DataFrame(rows)
    table["p_fdr"] = core.fdr_bh(table["p_value"].to_numpy())
    return table


def pairwise_td_auc_tests(
    y, risks: Mapping[str, Sequence[float]], horizon: float, *, method: str = "iid", adjust: str | None = "fdr_bh"
) -> pd.DataFrame:
    """Matrix of p-values of the time-dependent AUC difference between every pair of models.

    Each pair is tested with :func:`compare_td_auc` (``method="iid"``: timeROC's paired
    test; ``"delong"``: DeLong's test on the patients with known status at the horizon).
    With ``adjust="fdr_bh"`` the ``k(k-1)/2`` p-values of the distinct pairs (the upper
    triangle) are adjusted together by Benjamini–Hochberg
    (:func:`scipy.stats.false_discovery_control`), as the paper's Figure 4C–D.

    Parameters
    ----------
    y : structured array
    risks : mapping of str to array-like
        Model name -> risk score on the same patients (higher = higher risk); at least two.
    horizon : float
    method : {"iid", "delong"}, default="iid"
    adjust : {"fdr_bh", None}, default="fdr_bh"

    Returns
    -------
    DataFrame
        Square and symmetric, index and columns the model names in the order given,
        NaN on the diagonal. ``attrs`` holds ``auc`` (model -> AUC), ``horizon``, ``method``
        and ``adjust``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(2)
    >>> time = rng.exponential(10, 100); y = Surv.from_arrays(rng.random(100) < 0.8, time)
    >>> risks = {"good": -time, "noise": rng.normal(size=100), "noise2": rng.normal(size=100)}
    >>> p = pairwise_td_auc_tests(y, risks, 8.0)
    >>> p.shape, bool(p.loc["good", "noise"] < 0.05), bool(np.isnan(p.loc["good", "good"]))
    ((3, 3), True, True)
    """
    if not isinstance(risks, Mapping):
        raise ValueError(f"risks must be a mapping of model name to risk scores; got {type(risks).__name__}")
    if len(risks) < 2:
        raise ValueError(f"risks must hold at least two models; got {len(risks)}")
    if adjust not in ("fdr_bh", None):
        raise ValueError(f"adjust must be 'fdr_bh' or None; got {adjust!r}")
    event, time = core.check_target(y)
    horizon = core.check_horizon(horizon, time, event, strict_case=method == "iid")
    names = list(risks)
    k = len(names)
    rows, cols = np.triu_indices(k, 1)
    auc = {}
    p = np.empty(len(rows))
    for n, (i, j) in enumerate(zip(rows, cols, strict=True)):
        try:
            res = compare_td_auc(y, risks[names[i]], risks[names[j]], horizon, method=method)
        except ValueError as err:
            raise ValueError(f"comparing {names[i]!r} with {names[j]!r}: {err}") from err
        p[n] = res.p_value
        auc.setdefault(names[i], res.estimate_a)
        auc.setdefault(names[j], res.estimate_b)
    if adjust == "fdr_bh":
        p = core.fdr_bh(p)
    matrix = np.full((k, k), np.nan)
    matrix[rows, cols] = p
    matrix[cols, rows] = p
    table = pd.DataFrame(matrix, index=pd.Index(names, name="model"), columns=pd.Index(names, name="model"))
    table.attrs.update(auc={m: auc[m] for m in names}, horizon=float(horizon), method=method, adjust=adjust)
    return table


def compare_over_splits(
    per_split: pd.DataFrame,
    reference: str,
    *,
    metric: str = "c_index",
    test_train_ratio: float = 0.25,
    split_column: str = "seed",
) -> pd.DataFrame:
    """Paired test of each model against ``reference`` over repeated train/test splits, with BH-FDR.

    The corrected resampled t-test of Nadeau & Bengio (2003, Machine Learning 52:239-281): over ``K``
    splits, ``d_k`` = model minus reference, ``t = mean(d) / sqrt((1/K + n_test/n_train) * var(d))`` on
    ``K - 1`` degrees of freedom. The ``n_test/n_train`` term accounts for the overlap of the training sets
    of random splits, which makes the plain paired t-test (``test_train_ratio=0``, equal to
    :func:`scipy.stats.ttest_rel`) reject far too often. p-values adjusted together by Benjamini–Hochberg.

    Parameters
    ----------
    per_split : DataFrame
        One row per split and model: ``split_column``, ``model``, ``metric`` (e.g. ``reproduce``'s
        ``repeats_per_split`` table).
    reference : str
        The model every other one is compared with.
    metric : str, default="c_index"
    test_train_ratio : float >= 0, default=0.25
        ``n_test / n_train`` of the splits (0.25 for the paper's 8:2 split).
    split_column : str, default="seed"

    Returns
    -------
    DataFrame
        ``model, reference, metric, n_splits, mean_difference, sd_difference, t, p_value, p_fdr``. A split
        where either value is NaN is left out of that comparison, and p is NaN when fewer than two splits
        remain or every difference is equal (no variance); each case with a :class:`RuntimeWarning`.

    Examples
    --------
    >>> per_split = pd.DataFrame({"seed": [0, 0, 1, 1, 2, 2], "model": ["A", "B"] * 3,
    ...                           "c_index": [0.70, 0.65, 0.72, 0.66, 0.69, 0.66]})
    >>> table = compare_over_splits(per_split, "A")
    >>> table[["model", "n_splits"]].values.tolist(), round(float(table["mean_difference"].iloc[0]), 3)
    ([['B', 3]], -0.047)
    """
    wide = _splits_by_model(per_split, reference, metric, test_train_ratio, split_column)
    rows = []
    for name in (m for m in wide.columns if m != reference):
        both = wide[[name, reference]].notna().all(axis=1)
        if not both.all():
            warnings.warn(f"compare_over_splits: {int((~both).sum())} split(s) without a {metric} of {name!r} or "
                          f"{reference!r} left out of their comparison", RuntimeWarning, stacklevel=2)  # fmt: skip
        d = (wide.loc[both, name] - wide.loc[both, reference]).to_numpy(dtype=float)
        k = len(d)
        sd = float(np.std(d, ddof=1)) if k > 1 else np.nan
        t = p = np.nan
        if k > 1 and np.ptp(d) > 1e-12:  # equal differences (up to rounding): no variance, no test
            t = float(d.mean() / np.sqrt((1 / k + test_train_ratio) * sd**2))
            p = float(2 * stats.t.sf(abs(t), df=k - 1))
        else:
            why = "fewer than two splits" if k < 2 else "the same difference in every split"
            warnings.warn(f"compare_over_splits: no test of {name!r} against {reference!r} ({why}): p is NaN",
                          RuntimeWarning, stacklevel=2)  # fmt: skip
        mean = float(d.mean()) if k else np.nan
        rows.append(dict(model=name, reference=reference, metric=metric, n_splits=k, mean_difference=mean,
                         sd_difference=sd, t=t, p_value=p))  # fmt: skip
    table = pd.DataFrame(rows, columns=["model", "reference", "metric", "n_splits", "mean_difference",
                                        "sd_difference", "t", "p_value"])  # fmt: skip
    table["p_fdr"] = core.fdr_bh(table["p_value"].to_numpy(dtype=float))
    return table


def _splits_by_model(per_split, reference, metric, test_train_ratio, split_column) -> pd.DataFrame:
    """``per_split`` checked and pivoted: one row per split, one column per model (in order of appearance)."""
    if not isinstance(per_split, pd.DataFrame):
        raise ValueError(f"per_split must be a pandas DataFrame; got {type(per_split).__name__}")
    missing = [c for c in (split_column, "model", metric) if c not in per_split.columns]
    if missing:
        raise ValueError(f"per_split lacks the column(s) {missing}")
    if isinstance(test_train_ratio, bool) or not isinstance(test_train_ratio, int | float | np.number):
        raise ValueError(f"test_train_ratio must be a number >= 0; got {test_train_ratio!r}")
    if not np.isfinite(test_train_ratio) or test_train_ratio < 0:
        raise ValueError(f"test_train_ratio must be a finite number >= 0; got {test_train_ratio!r}")
    values = pd.to_numeric(per_split[metric], errors="coerce")
    if (values.isna() & per_split[metric].notna()).any() or np.isinf(values).any():
        raise ValueError(f"per_split[{metric!r}] must hold numbers (NaN for a split without a value)")
    duplicated = per_split.duplicated([split_column, "model"])
    if duplicated.any():
        first = per_split.loc[duplicated, [split_column, "model"]].astype(object).iloc[0].tolist()
        raise ValueError(f"per_split has several rows for split {first[0]} and model {first[1]!r}")
    models = list(dict.fromkeys(per_split["model"]))
    if reference not in models:
        raise ValueError(f"reference {reference!r} is not among the models {models}")
    frame = per_split.assign(**{metric: values})
    return frame.pivot(index=split_column, columns="model", values=metric)[models]
