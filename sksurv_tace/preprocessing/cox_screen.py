"""Cox inference on clinical factors: the paper's Table 2 (:func:`cox_table`) and the univariate ->
multivariable screen as a transformer (:class:`CoxFeatureSelector`). Inference by lifelines'
:class:`~lifelines.CoxPHFitter` (Efron's handling of ties, as R's ``survival::coxph``).

Fits that fail are reported, never printed as if real: a Cox model that does not converge, or whose
coefficient may be infinite (monotone likelihood, e.g. a factor that separates the deaths from the
survivors; detected with R's ``coxph`` rule, :func:`infinite_coefficients`), raises a
:class:`lifelines.exceptions.ConvergenceWarning` (a :class:`RuntimeWarning`) naming the factor and what
happened, and the factor's rows are left NaN; the screen leaves such a factor out."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from numbers import Real

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sksurv_tace._validation import (
    as_survival_array,
    check_clinical_columns,
    check_survival_target,
    check_unique_columns,
    describe_rows,
    row_labels,
)
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor, is_categorical
from sksurv_tace.preprocessing.cox_separation import infinite_coefficients

__all__ = ["CoxFeatureSelector", "cox_table", "factor_groups"]

TABLE_COLUMNS = [
    "factor",
    "level",
    "reference",
    "coef_uni",
    "se_uni",
    "HR_uni",
    "HR_lower_uni",
    "HR_upper_uni",
    "p_uni",
    "p_factor_uni",
    "coef_multi",
    "se_multi",
    "HR_multi",
    "HR_lower_multi",
    "HR_upper_multi",
    "p_multi",
    "p_factor_multi",
]


def factor_groups(columns: Sequence[str]) -> dict[str, list[str]]:
    """Group design-matrix columns into factors by the prefix before ``"="``.

    Parameters
    ----------
    columns : sequence of str
        Column names as made by :class:`ClinicalPreprocessor`: ``"factor=level"`` for dummies,
        the plain name for numeric factors.

    Returns
    -------
    dict
        Factor name -> list of its columns, in the order of first appearance.

    Examples
    --------
    >>> factor_groups(["age", "response=PR", "response=SD", "mvi=Yes"])
    {'age': ['age'], 'response': ['response=PR', 'response=SD'], 'mvi': ['mvi=Yes']}
    """
    groups: dict[str, list[str]] = {}
    for column in columns:
        column = str(column)
        factor = column.split("=", 1)[0] if "=" in column else column
        groups.setdefault(factor, []).append(column)
    return groups


def _check_ties(ties: str) -> None:
    if ties != "efron":
        raise ValueError(
            f"ties={ties!r} is not supported: the inference uses lifelines' CoxPHFitter, which implements "
            "Efron's method (the default of R's survival::coxph); use ties='efron'"
        )


def _numeric_design(X, what: str = "X") -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{what} must be 2-D; got shape {X.shape}")
        X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    check_unique_columns(X, what=what)
    bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    if bad:
        raise ValueError(
            f"{what} column(s) {bad} are not numeric; encode them first with ClinicalPreprocessor "
            "(Pipeline([('prep', ClinicalPreprocessor()), ('select', CoxFeatureSelector())]))"
        )
    values = X.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        labels = row_labels(X)
        for j, column in enumerate(X.columns):
            bad_rows = ~np.isfinite(values[:, j])
            if bad_rows.any():
                raise ValueError(
                    f"{what} column {column!r} has missing or infinite values at {describe_rows(labels, bad_rows)}"
                )
    return pd.DataFrame(values, index=X.index, columns=[str(c) for c in X.columns])


#: Stopping rule of lifelines' Newton-Raphson. Its defaults stop on a step norm or Newton decrement below
#: 1e-7 (or a relative log-likelihood change below 1e-9) and return the iterate *before* that last step; with
#: its damped steps (0.95) that left R's veteran ``diagtime`` coefficient at 8.260e-5 instead of 8.132e-5.
#: Stopping only on the relative change of the log partial likelihood (R's criterion, ``coxph.control(eps)``),
#: 1000 times tighter than R's 1e-9, costs one or two more Newton steps and puts every veteran coefficient
#: within 1e-12 (relative) of the maximum found by scikit-survival's independent Newton-Raphson.
LIFELINES_FIT_OPTIONS = {"precision": 0.0, "r_precision": 1e-12, "max_steps": 100}


def _fit_cox(design: pd.DataFrame, event: np.ndarray, time: np.ndarray, *, alpha: float, penalizer: float):
    """Fit lifelines' CoxPHFitter on ``design`` with :data:`LIFELINES_FIT_OPTIONS`.

    Returns ``(cph, None)``, or ``(None, reason)`` when the fit fails or lifelines' Newton-Raphson does not
    converge in ``max_steps``.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    data = design.reset_index(drop=True).copy()
    data["__time__"] = time
    data["__event__"] = event.astype(int)
    cph = CoxPHFitter(alpha=alpha, penalizer=penalizer)
    try:
        # lifelines' own warnings (low variance, "norm(delta) is still high", ...) are heuristics that do not
        # name the factor; the checks in _stage_rows replace them
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            cph.fit(data, duration_col="__time__", event_col="__event__", fit_options=LIFELINES_FIT_OPTIONS)
    except (ConvergenceError, np.linalg.LinAlgError) as exc:
        return None, f"did not converge ({str(exc).splitlines()[0]})"
    for record in caught:
        if not issubclass(record.category, RuntimeWarning):
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
    if any(issubclass(r.category, ConvergenceWarning) and "failed to converge" in str(r.message) for r in caught):
        steps = LIFELINES_FIT_OPTIONS["max_steps"]
        return None, f"did not converge (lifelines' Newton-Raphson stopped after {steps} steps)"
    return cph, None


def _not_estimable(cph, summary, design, event, time, cols, *, penalizer: float) -> tuple[list[str], str, str]:
    """Columns without a finite estimate (R's infinite-coefficient check) and why; and, for converged columns
    whose HR or confidence bound overflows the float range, a note."""
    ci = [c for c in summary.columns if c.startswith("exp(coef) ")]
    infinite = np.zeros(len(cols), dtype=bool)
    if penalizer == 0:  # a ridge penalty keeps every coefficient finite
        infinite = infinite_coefficients(design[cols].to_numpy(), event, time, cph.params_.loc[cols].to_numpy())
    bad = [c for c, inf in zip(cols, infinite, strict=True) if inf]
    overflow = [
        c
        for c in cols
        if c not in bad
        and not np.all(np.isfinite(summary.loc[c, ["coef", "se(coef)", "exp(coef)", *ci]].to_numpy(float)))
    ]

    def stopped(column):
        coef, se, hr, p = summary.loc[column, ["coef", "se(coef)", "exp(coef)", "p"]]
        return f"{column!r} (coef = {coef:.3g}, se = {se:.3g}, HR = {hr:.3g}, p = {p:.2g})"

    reason = note = ""
    if bad:
        reason = (
            f"the coefficient of {' and '.join(map(stopped, bad))} may be infinite: the partial likelihood still "
            "rises where the fit stopped (monotone likelihood, e.g. a factor that separates the deaths from the "
            "survivors), so its HR, CI and p are not estimable"
        )
    if overflow:
        note = (
            f"the HR or its confidence interval is infinite (beyond the float range) for "
            f"{' and '.join(map(stopped, overflow))}; the fit converged, so coef, se and p are kept, but the "
            "interval is uninformative"
        )
    return bad, reason, note


def _warn_not_estimable(columns, factors, problem: str, consequence: str) -> None:
    from lifelines.exceptions import ConvergenceWarning

    warnings.warn(
        f"Cox model on {list(columns)}: {problem}; the rows of factor(s) {list(factors)} are left NaN{consequence}",
        ConvergenceWarning,
        stacklevel=4,
    )


def _wald_p(cph, columns: list[str]) -> float:
    """Joint Wald test that the coefficients of ``columns`` are all zero (chi-square, len(columns) df)."""
    beta = cph.params_.loc[columns].to_numpy()
    cov = cph.variance_matrix_.loc[columns, columns].to_numpy()
    try:
        statistic = float(beta @ np.linalg.solve(cov, beta))
    except np.linalg.LinAlgError:
        return float("nan")
    return float(stats.chi2.sf(statistic, df=len(columns)))


def _stage_rows(design, event, time, groups, *, alpha, penalizer, univariate: bool, consequence: str = ""):
    """Per-column estimates and per-factor joint p-values of one stage (univariable or multivariable).

    A fit that fails leaves its factors' rows NaN; a column whose coefficient is not estimable leaves its
    row and its factor's joint p-value NaN. Each case raises a ConvergenceWarning ending in ``consequence``.
    """
    rows: dict[str, dict[str, float]] = {}
    factor_p: dict[str, float] = {}

    def usable(cols):
        return [c for c in cols if np.ptp(design[c].to_numpy()) > 0]

    fits = []
    if univariate:
        for factor, cols in groups.items():
            fits.append(({factor: usable(cols)}, usable(cols)))
    else:
        kept = {f: usable(cols) for f, cols in groups.items()}
        fits.append((kept, [c for cols in kept.values() for c in cols]))
    for stage_groups, cols in fits:
        if not cols:
            for factor in stage_groups:
                factor_p[factor] = float("nan")
            continue
        cph, failure = _fit_cox(design[cols], event, time, alpha=alpha, penalizer=penalizer)
        if cph is None:
            _warn_not_estimable(cols, list(stage_groups), failure, consequence)
            for factor in stage_groups:
                factor_p[factor] = float("nan")
            continue
        summary = cph.summary
        problems, reason, note = _not_estimable(cph, summary, design, event, time, cols, penalizer=penalizer)
        if problems:
            bad = [f for f, factor_cols in stage_groups.items() if set(factor_cols) & set(problems)]
            _warn_not_estimable(cols, bad, reason, consequence)
        if note:
            from lifelines.exceptions import ConvergenceWarning

            warnings.warn(f"Cox model on {cols}: {note}", ConvergenceWarning, stacklevel=3)
        ci = 100 - int(round(alpha * 100))
        for column in cols:
            if column in problems:
                continue
            rows[column] = {
                "coef": float(summary.loc[column, "coef"]),
                "se": float(summary.loc[column, "se(coef)"]),
                "HR": float(summary.loc[column, "exp(coef)"]),
                "HR_lower": float(summary.loc[column, f"exp(coef) lower {ci}%"]),
                "HR_upper": float(summary.loc[column, f"exp(coef) upper {ci}%"]),
                "p": float(summary.loc[column, "p"]),
            }
        for factor, factor_cols in stage_groups.items():
            estimable = factor_cols and not set(factor_cols) & set(problems)
            factor_p[factor] = _wald_p(cph, factor_cols) if estimable else float("nan")
    return rows, factor_p


def _assemble_table(groups, references, uni, multi) -> pd.DataFrame:
    uni_rows, uni_p = uni
    multi_rows, multi_p = multi
    records = []
    for factor, cols in groups.items():
        for column in cols:
            level = column.split("=", 1)[1] if "=" in column else ""
            record = {"factor": factor, "level": level, "reference": (references or {}).get(factor, "")}
            for suffix, rows, pvals in (("uni", uni_rows, uni_p), ("multi", multi_rows, multi_p)):
                values = rows.get(column, {})
                for key in ("coef", "se", "HR", "HR_lower", "HR_upper", "p"):
                    record[f"{key}_{suffix}"] = values.get(key, np.nan)
                record[f"p_factor_{suffix}"] = pvals.get(factor, np.nan)
            records.append(record)
    table = pd.DataFrame.from_records(records, columns=TABLE_COLUMNS)
    table["reference"] = table["reference"].astype(str).replace("nan", "")
    return table


def cox_table(
    X,
    y,
    *,
    multivariable=None,
    groups: Mapping[str, Sequence[str]] | None = None,
    references: Mapping[str, object] | None = None,
    ties: str = "efron",
    alpha: float = 0.05,
    penalizer: float = 0.0,
    univariable: bool = True,
) -> pd.DataFrame:
    """Univariable and multivariable Cox regression of clinical factors: the paper's Table 2.

    Each factor is first fitted alone (univariable), then the factors in ``multivariable`` together.
    Estimates come from lifelines' :class:`~lifelines.CoxPHFitter` (Efron's method for ties, the default
    of R's ``survival::coxph``); p-values are Wald tests. A categorical factor has one row per
    non-reference level; ``p_factor_*`` is the joint Wald chi-square test that all of the factor's
    coefficients are zero (equal to the row's ``p`` for a one-column factor).

    The fits run lifelines' Newton-Raphson until the log partial likelihood changes by less than 1e-12
    (relative; :data:`LIFELINES_FIT_OPTIONS`), so coefficients match R's ``coxph`` to its printed digits.
    Estimates that do not exist are not printed as if real: a fit that does not converge leaves the rows
    of its factors NaN, and so does a coefficient that may be infinite (R's check,
    :func:`infinite_coefficients`: a monotone likelihood, e.g. a factor whose exposed patients all die first,
    which lifelines would report as HR 8.5e8 with p = 0.99), with the factor's joint ``p_factor``. Each case
    raises a :class:`lifelines.exceptions.ConvergenceWarning` naming the factor and what happened; so does a
    converged estimate whose HR or confidence bound lies beyond the float range (shown as ``inf``; its
    ``coef``, ``se`` and ``p`` are kept).

    Parameters
    ----------
    X : DataFrame
        Either a numeric design matrix (as made by :class:`ClinicalPreprocessor`, dummies named
        ``"factor=level"``) or a raw clinical table, which is then encoded with a default
        :class:`ClinicalPreprocessor`.
    y : structured array
        Survival target from :func:`sksurv.util.Surv.from_arrays`.
    multivariable : list of str, optional
        Factors of the multivariable model; ``None`` uses all, ``[]`` skips it.
    groups : dict, optional
        Factor -> its columns; default groups columns by the prefix before ``"="`` (:func:`factor_groups`).
    references : dict, optional
        Factor -> reference level, only to fill the ``reference`` column.
    ties : {"efron"}, default="efron"
        Tie handling (lifelines implements Efron's method only).
    alpha : float, default=0.05
        1 - confidence level of the hazard-ratio intervals.
    penalizer : float, default=0.0
        Ridge penalty passed to lifelines (0 = plain partial likelihood, as R). A penalty keeps every
        coefficient finite (the infinite-coefficient check is then skipped).
    univariable : bool, default=True
        Fit the univariable models; False leaves the ``*_uni`` columns NaN.

    Returns
    -------
    DataFrame
        One row per design column with :data:`TABLE_COLUMNS`: ``factor``, ``level`` (empty for numeric
        factors), ``reference``, then for ``uni`` and ``multi``: ``coef``, ``se``, ``HR`` and its
        ``HR_lower``/``HR_upper`` bounds, Wald ``p``, and the factor's joint ``p_factor``.
        Multivariable columns are NaN for factors outside ``multivariable``.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> from sksurv.util import Surv
    >>> rossi = load_rossi()
    >>> y = Surv.from_arrays(rossi["arrest"], rossi["week"])
    >>> table = cox_table(rossi.drop(columns=["week", "arrest"]).astype(float), y)
    >>> round(float(table.set_index("factor").loc["fin", "coef_multi"]), 4)
    -0.3794
    """
    _check_ties(ties)
    if not (isinstance(alpha, Real) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a float in the range (0, 1); got {alpha!r}")
    if not (isinstance(penalizer, Real) and penalizer >= 0):
        raise ValueError(f"penalizer must be a float in the range [0, inf); got {penalizer!r}")
    if isinstance(X, pd.DataFrame) and any(is_categorical(X[c]) for c in X.columns):
        prep = ClinicalPreprocessor().fit(X)
        design = prep.transform(X)
        groups = prep.feature_groups_ if groups is None else groups
        references = prep.reference_levels_ if references is None else references
    else:
        design = _numeric_design(X)
    labels = row_labels(X)
    event, time = check_survival_target(y, n_samples=len(design), labels=labels)
    y = as_survival_array(event, time)
    groups = factor_groups(design.columns) if groups is None else {f: list(c) for f, c in groups.items()}
    if univariable:
        uni = _stage_rows(design, event, time, groups, alpha=alpha, penalizer=penalizer, univariate=True)
    else:
        uni = ({}, {})
    factors = list(groups) if multivariable is None else list(multivariable)
    unknown = [f for f in factors if f not in groups]
    if unknown:
        raise ValueError(f"multivariable names unknown factor(s) {unknown}; factors are {list(groups)}")
    if factors:
        multi = _stage_rows(
            design, event, time, {f: groups[f] for f in factors}, alpha=alpha, penalizer=penalizer, univariate=False
        )
    else:
        multi = ({}, {})
    return _assemble_table(groups, references, uni, multi)


class CoxFeatureSelector(TransformerMixin, BaseEstimator):
    """Univariate Cox screen -> multivariable Cox -> keep the significant factors.

    Each factor (a numeric column, or the group of its ``"factor=level"`` dummies) is tested alone; those
    with a joint Wald p-value below ``p_univariate`` enter one multivariable model, and the factors whose
    joint Wald p-value there is below ``p_multivariable`` are kept. A categorical factor enters and leaves
    as a whole. Inference by lifelines' ``CoxPHFitter`` (Efron ties); see :func:`cox_table`.

    If no factor passes a stage, the single most significant factor of that stage is kept and a
    :class:`UserWarning` says so, so that downstream models always get at least one column.

    A factor without a finite estimate is left out: if its Cox model does not converge, or its coefficient
    may be infinite (e.g. every exposed patient dies before any unexposed one, a monotone likelihood), its
    p-value is NaN, which passes no threshold, and a :class:`lifelines.exceptions.ConvergenceWarning` names
    it (see :func:`cox_table`). Such a factor may well be prognostic, but its HR cannot be estimated from
    the training data; set ``penalizer > 0`` for a finite, shrunken estimate that can enter the screen.

    Parameters
    ----------
    p_univariate : float, default=0.05
        Threshold of the univariable screen (factor passes if ``p < p_univariate``).
    p_multivariable : float, default=0.05
        Threshold in the multivariable model.
    ties : {"efron"}, default="efron"
        Tie handling of the Cox fits.
    penalizer : float, default=0.0
        Ridge penalty of the lifelines fits (a small value gives finite estimates under separation in tiny
        folds).
    alpha : float, default=0.05
        1 - confidence level of the hazard-ratio intervals in :attr:`summary_`.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    feature_groups_ : dict
        Factor -> its input columns.
    univariate_factors_ : list of str
        Factors that passed the univariable screen.
    selected_factors_ : list of str
        Factors kept after the multivariable model.
    selected_features_ : list of str
        Input columns of the kept factors (the output columns), in input order.
    summary_ : DataFrame
        Table 2 of the training data (see :func:`cox_table`), multivariable columns filled for the
        factors of the multivariable model.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> from sksurv.util import Surv
    >>> rossi = load_rossi()
    >>> y = Surv.from_arrays(rossi["arrest"], rossi["week"])
    >>> selector = CoxFeatureSelector().fit(rossi.drop(columns=["week", "arrest"]).astype(float), y)
    >>> selector.selected_features_
    ['age', 'prio']
    """

    _parameter_constraints: dict = {
        "p_univariate": [Interval(Real, 0, 1, closed="right")],
        "p_multivariable": [Interval(Real, 0, 1, closed="right")],
        "ties": [StrOptions({"efron"})],
        "penalizer": [Interval(Real, 0, np.inf, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, *, p_univariate=0.05, p_multivariable=0.05, ties="efron", penalizer=0.0, alpha=0.05):
        self.p_univariate = p_univariate
        self.p_multivariable = p_multivariable
        self.ties = ties
        self.penalizer = penalizer
        self.alpha = alpha

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def fit(self, X, y):
        """Run the screen on training data.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
            Numeric design matrix (dummies named ``"factor=level"``).
        y : structured array
            Survival target.

        Returns
        -------
        self
        """
        _check_ties(self.ties)
        self._validate_params()
        design = _numeric_design(X)
        event, time = check_survival_target(y, n_samples=len(design), labels=row_labels(X))
        y = as_survival_array(event, time)
        self.feature_names_in_ = np.asarray(design.columns, dtype=object)
        self.n_features_in_ = design.shape[1]
        groups = factor_groups(design.columns)
        self.feature_groups_ = groups
        left_out = "; CoxFeatureSelector leaves it out (a NaN p-value passes no threshold)"
        uni = _stage_rows(
            design,
            event,
            time,
            groups,
            alpha=self.alpha,
            penalizer=self.penalizer,
            univariate=True,
            consequence=left_out,
        )
        uni_p = pd.Series(uni[1], dtype=float)
        passed = [f for f in groups if uni_p.get(f, np.nan) < self.p_univariate]
        if not passed:
            passed = self._fallback(uni_p, "univariable", self.p_univariate)
        self.univariate_factors_ = passed
        multi = _stage_rows(
            design,
            event,
            time,
            {f: groups[f] for f in passed},
            alpha=self.alpha,
            penalizer=self.penalizer,
            univariate=False,
            consequence=left_out,
        )
        multi_p = pd.Series(multi[1], dtype=float)
        kept = [f for f in passed if multi_p.get(f, np.nan) < self.p_multivariable]
        if not kept:
            kept = self._fallback(multi_p, "multivariable", self.p_multivariable)
        self.selected_factors_ = kept
        self.selected_features_ = [c for f in groups if f in kept for c in groups[f]]
        self.summary_ = _assemble_table(groups, None, uni, multi)
        return self

    @staticmethod
    def _fallback(pvalues: pd.Series, stage: str, threshold: float) -> list[str]:
        finite = pvalues.dropna()
        if finite.empty:
            raise ValueError(f"no Cox model of the {stage} stage could be fitted (all fits failed or constant)")
        best = str(finite.idxmin())
        warnings.warn(
            f"no factor reached p < {threshold} in the {stage} Cox model; keeping the most significant one, "
            f"{best!r} (p = {finite.min():.3g})",
            UserWarning,
            stacklevel=3,
        )
        return [best]

    def transform(self, X):
        """Keep the selected columns.

        Parameters
        ----------
        X : DataFrame or array
            Same columns as in :meth:`fit`.

        Returns
        -------
        DataFrame of float64 (for DataFrame input) or ndarray
        """
        check_is_fitted(self, "selected_features_")
        if isinstance(X, pd.DataFrame):
            check_clinical_columns(X, list(self.feature_names_in_))
            return X[self.selected_features_].astype(np.float64)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {X.shape}; expected {self.n_features_in_} columns as in fit")
        index = [list(self.feature_names_in_).index(c) for c in self.selected_features_]
        return X[:, index]

    def get_feature_names_out(self, input_features=None):
        """The selected columns."""
        check_is_fitted(self, "selected_features_")
        return np.asarray(self.selected_features_, dtype=object)
