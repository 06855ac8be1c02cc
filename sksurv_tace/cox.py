"""Clinical Cox models: preprocessing, the univariate -> multivariable Cox screen and the paper's clinical model.

* :class:`ClinicalPreprocessor` turns a raw clinical table (numbers and categories) into a float design matrix
  with one dummy column ``"factor=level"`` per non-reference level.
* :func:`cox_table` fits univariable and multivariable Cox models and returns the paper's Table 2
  (HR, 95% CI, Wald p per level and a joint Wald p per factor). The inference is lifelines'
  :class:`~lifelines.CoxPHFitter` (Efron's handling of ties, as R's ``survival::coxph``).
* :class:`CoxFeatureSelector` is that screen as a transformer, fitted on training data only.
* :class:`ClinicalCox` chains the three and fits scikit-survival's
  :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis` on the selected factors (the paper's "Clinical" model).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model import CoxPHSurvivalAnalysis

from ._validation import check_clinical_columns, check_survival_target, describe_rows, row_labels

__all__ = ["ClinicalPreprocessor", "CoxFeatureSelector", "ClinicalCox", "cox_table", "factor_groups", "survival_at"]

#: Columns that are never clinical factors: the identifier and the image path columns.
NON_CLINICAL_COLUMNS = ("patient_id", "ct", "mask")

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


def _is_categorical(series: pd.Series) -> bool:
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(series.dtype)
        or pd.api.types.is_bool_dtype(series.dtype)
        or pd.api.types.is_string_dtype(series.dtype)
    )


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


class ClinicalPreprocessor(TransformerMixin, BaseEstimator):
    """Mixed clinical table -> float design matrix with reference-coded dummies.

    Numeric columns pass through (optionally ``log1p``-transformed); categorical columns (pandas
    ``category``, ``object``, ``string`` or ``bool``) become one 0/1 column ``"factor=level"`` per level
    other than the reference level. Missing values raise a :class:`ValueError` naming the column and the
    patients unless ``impute`` is set.

    Parameters
    ----------
    columns : list of str, optional
        Clinical columns to use. ``None`` uses every column except ``patient_id`` and the image path
        columns ``ct`` and ``mask``.
    categorical : list of str, optional
        Columns to treat as categorical even if numeric (e.g. a 0/1 code). ``None`` infers from dtypes.
    reference_levels : dict, optional
        Factor -> reference level. By default the first level: the first category of a pandas
        ``Categorical`` (its declared order), else the smallest level in sorted order. Only levels present
        in the training data get a column (an all-zero dummy cannot be estimated); a level first seen at
        ``transform`` raises.
    log_transform : sequence of str, default=()
        Numeric columns replaced by ``log1p(x)`` (skewed labs such as AFP). Negative values raise.
    impute : {None, "median", "most_frequent"}, default=None
        ``None`` raises on missing values. ``"median"`` fills numeric columns with the training median and
        categorical ones with the most frequent training level; ``"most_frequent"`` uses the most frequent
        value for both.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Columns of ``X`` seen in :meth:`fit`.
    columns_ : list of str
        Clinical columns used.
    categorical_columns_, numeric_columns_ : list of str
        The split of ``columns_``.
    categories_ : dict
        Categorical factor -> list of its levels, reference level first.
    reference_levels_ : dict
        Categorical factor -> its reference level.
    feature_groups_ : dict
        Factor -> list of its output columns (factors with a single level have none and are left out).
    fill_values_ : dict
        Column -> value used for missing entries (empty unless ``impute`` is set).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [60.0, 70.0, 55.0, 48.0], "mvi": ["No", "Yes", "No", "No"],
    ...                   "response": pd.Categorical(["CR", "PD", "SD", "PR"], categories=["CR", "PR", "SD", "PD"])})
    >>> prep = ClinicalPreprocessor().fit(X)
    >>> list(prep.get_feature_names_out())
    ['age', 'mvi=Yes', 'response=PR', 'response=SD', 'response=PD']
    >>> prep.transform(X).iloc[1].tolist()
    [70.0, 1.0, 0.0, 0.0, 1.0]
    """

    def __init__(self, *, columns=None, categorical=None, reference_levels=None, log_transform=(), impute=None):
        self.columns = columns
        self.categorical = categorical
        self.reference_levels = reference_levels
        self.log_transform = log_transform
        self.impute = impute

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = self.impute is not None
        return tags

    def _select_columns(self, X: pd.DataFrame) -> list[str]:
        if self.columns is None:
            return [c for c in X.columns if c not in NON_CLINICAL_COLUMNS]
        return list(self.columns)

    def fit(self, X, y=None):
        """Learn levels, reference levels and fill values from the training table.

        Parameters
        ----------
        X : DataFrame
            One row per patient.
        y : ignored

        Returns
        -------
        self
        """
        if self.impute not in (None, "median", "most_frequent"):
            raise ValueError(f"impute must be None, 'median' or 'most_frequent'; got {self.impute!r}")
        check_clinical_columns(X, [])
        columns = self._select_columns(X)
        check_clinical_columns(X, columns)
        if not columns:
            raise ValueError("X has no clinical column to use (only patient_id / image paths?)")
        forced = list(self.categorical) if self.categorical is not None else []
        check_clinical_columns(X, forced, what="X (categorical)")
        reference_levels = dict(self.reference_levels or {})
        unknown = [f for f in reference_levels if f not in columns]
        if unknown:
            raise ValueError(f"reference_levels names column(s) {unknown} that are not clinical columns {columns}")
        log_cols = list(self.log_transform or ())
        unknown = [c for c in log_cols if c not in columns]
        if unknown:
            raise ValueError(f"log_transform names column(s) {unknown} that are not clinical columns {columns}")

        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.columns_ = columns
        self.categorical_columns_ = [c for c in columns if c in forced or _is_categorical(X[c])]
        self.numeric_columns_ = [c for c in columns if c not in self.categorical_columns_]
        bad = [c for c in log_cols if c in self.categorical_columns_]
        if bad:
            raise ValueError(f"log_transform column(s) {bad} are categorical; only numeric columns can be logged")
        labels = row_labels(X)
        self.fill_values_ = {}
        if self.impute is None:
            self._check_missing(X, labels)
        self.categories_ = {}
        self.reference_levels_ = {}
        for column in self.categorical_columns_:
            series = X[column]
            present = series.dropna()
            if isinstance(series.dtype, pd.CategoricalDtype):
                observed = set(present.tolist())
                levels = [c for c in series.cat.categories if c in observed]
            else:
                levels = sorted(set(present.tolist()), key=lambda v: (str(type(v)), v))
            if not levels:
                raise ValueError(f"column {column!r} has no non-missing value")
            reference = reference_levels.get(column, levels[0])
            if reference not in levels:
                raise ValueError(
                    f"reference level {reference!r} of column {column!r} does not occur in the training data; "
                    f"levels are {levels}"
                )
            self.categories_[column] = [reference] + [v for v in levels if v != reference]
            self.reference_levels_[column] = reference
            if self.impute is not None:
                self.fill_values_[column] = present.value_counts().index[0]
        for column in self.numeric_columns_:
            values = pd.to_numeric(X[column], errors="coerce")
            if values.isna().all():
                raise ValueError(f"column {column!r} has no numeric value")
            if self.impute is not None:
                fill = values.median() if self.impute == "median" else values.value_counts().index[0]
                self.fill_values_[column] = float(fill)
        self.feature_groups_ = {}
        for column in columns:
            if column in self.categorical_columns_:
                outputs = [f"{column}={level}" for level in self.categories_[column][1:]]
            else:
                outputs = [column]
            if outputs:
                self.feature_groups_[column] = outputs
        self._check_values(X, labels)
        return self

    def _check_missing(self, X: pd.DataFrame, labels: list[str]) -> None:
        for column in self.columns_:
            missing = X[column].isna().to_numpy()
            if missing.any():
                raise ValueError(
                    f"column {column!r} has missing values at {describe_rows(labels, missing)}; "
                    "fill them or set impute='median'"
                )

    def _check_values(self, X: pd.DataFrame, labels: list[str]) -> None:
        for column in self.numeric_columns_:
            raw = X[column]
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            bad = np.isnan(values) & raw.notna().to_numpy()
            if bad.any():
                raise ValueError(f"column {column!r} has non-numeric values at {describe_rows(labels, bad)}")
            bad = np.isinf(values)
            if bad.any():
                raise ValueError(f"column {column!r} has infinite values at {describe_rows(labels, bad)}")
            if column in self.log_transform:
                bad = values < 0
                if bad.any():
                    raise ValueError(
                        f"column {column!r} is log-transformed but negative at {describe_rows(labels, bad)}"
                    )

    def transform(self, X):
        """Encode a clinical table with the levels learnt in :meth:`fit`.

        Parameters
        ----------
        X : DataFrame
            Must hold every clinical column seen in :meth:`fit`.

        Returns
        -------
        DataFrame of float64
            Columns :meth:`get_feature_names_out`, same index as ``X``.
        """
        check_is_fitted(self, "feature_groups_")
        check_clinical_columns(X, self.columns_)
        labels = row_labels(X)
        X = X.copy()
        for column, value in self.fill_values_.items():
            X[column] = X[column].where(X[column].notna(), value)
        self._check_missing(X, labels)
        self._check_values(X, labels)
        out = {}
        for column in self.columns_:
            if column not in self.feature_groups_:
                continue
            series = X[column]
            if column in self.categorical_columns_:
                levels = self.categories_[column]
                values = series.astype(object).to_numpy()
                known = np.array([any(v == level for level in levels) for v in values])
                if not known.all():
                    unseen = sorted({str(v) for v in values[~known]})
                    raise ValueError(
                        f"column {column!r} has level(s) {unseen} not seen in fit (known: {levels}) at "
                        f"{describe_rows(labels, ~known)}"
                    )
                for level in levels[1:]:
                    out[f"{column}={level}"] = (values == level).astype(np.float64)
            else:
                values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
                if column in self.log_transform:
                    values = np.log1p(values)
                out[column] = values
        return pd.DataFrame(out, index=X.index, columns=self.get_feature_names_out())

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: numeric factors, then ``"factor=level"`` dummies, in column order."""
        check_is_fitted(self, "feature_groups_")
        return np.asarray([c for cols in self.feature_groups_.values() for c in cols], dtype=object)


# ----------------------------------------------------------------------------------------------------------
# Cox inference (lifelines)


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


def _fit_cox(design: pd.DataFrame, event: np.ndarray, time: np.ndarray, *, alpha: float, penalizer: float):
    """Fit lifelines' CoxPHFitter on ``design``; ``None`` (with a warning) when it does not converge."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    data = design.reset_index(drop=True).copy()
    data["__time__"] = time
    data["__event__"] = event.astype(int)
    cph = CoxPHFitter(alpha=alpha, penalizer=penalizer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            cph.fit(data, duration_col="__time__", event_col="__event__")
    except (ConvergenceError, np.linalg.LinAlgError) as exc:
        warnings.warn(
            f"Cox model on {list(design.columns)} did not converge ({exc}); its rows are left NaN",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return cph


def _wald_p(cph, columns: list[str]) -> float:
    """Joint Wald test that the coefficients of ``columns`` are all zero (chi-square, len(columns) df)."""
    beta = cph.params_.loc[columns].to_numpy()
    cov = cph.variance_matrix_.loc[columns, columns].to_numpy()
    try:
        statistic = float(beta @ np.linalg.solve(cov, beta))
    except np.linalg.LinAlgError:
        return float("nan")
    return float(stats.chi2.sf(statistic, df=len(columns)))


def _stage_rows(design, event, time, groups, *, alpha, penalizer, univariate: bool):
    """Per-column estimates and per-factor joint p-values of one stage (univariable or multivariable)."""
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
        cph = _fit_cox(design[cols], event, time, alpha=alpha, penalizer=penalizer)
        if cph is None:
            for factor in stage_groups:
                factor_p[factor] = float("nan")
            continue
        summary = cph.summary
        ci = 100 - int(round(alpha * 100))
        for column in cols:
            rows[column] = {
                "coef": float(summary.loc[column, "coef"]),
                "se": float(summary.loc[column, "se(coef)"]),
                "HR": float(summary.loc[column, "exp(coef)"]),
                "HR_lower": float(summary.loc[column, f"exp(coef) lower {ci}%"]),
                "HR_upper": float(summary.loc[column, f"exp(coef) upper {ci}%"]),
                "p": float(summary.loc[column, "p"]),
            }
        for factor, factor_cols in stage_groups.items():
            factor_p[factor] = _wald_p(cph, factor_cols) if factor_cols else float("nan")
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
) -> pd.DataFrame:
    """Univariable and multivariable Cox regression of clinical factors: the paper's Table 2.

    Each factor is first fitted alone (univariable), then the factors in ``multivariable`` together.
    Estimates come from lifelines' :class:`~lifelines.CoxPHFitter` (Efron's method for ties, the default
    of R's ``survival::coxph``); p-values are Wald tests. A categorical factor has one row per
    non-reference level; ``p_factor_*`` is the joint Wald chi-square test that all of the factor's
    coefficients are zero (equal to the row's ``p`` for a one-column factor).

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
        Ridge penalty passed to lifelines (0 = plain partial likelihood, as R).

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
    if isinstance(X, pd.DataFrame) and any(_is_categorical(X[c]) for c in X.columns):
        prep = ClinicalPreprocessor().fit(X)
        design = prep.transform(X)
        groups = prep.feature_groups_ if groups is None else groups
        references = prep.reference_levels_ if references is None else references
    else:
        design = _numeric_design(X)
    labels = row_labels(X)
    event, time = check_survival_target(y, n_samples=len(design), labels=labels)
    groups = factor_groups(design.columns) if groups is None else {f: list(c) for f, c in groups.items()}
    uni = _stage_rows(design, event, time, groups, alpha=alpha, penalizer=penalizer, univariate=True)
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

    Parameters
    ----------
    p_univariate : float, default=0.05
        Threshold of the univariable screen (factor passes if ``p < p_univariate``).
    p_multivariable : float, default=0.05
        Threshold in the multivariable model.
    ties : {"efron"}, default="efron"
        Tie handling of the Cox fits.
    penalizer : float, default=0.0
        Ridge penalty of the lifelines fits (a small value helps with separation in tiny folds).
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
        for name in ("p_univariate", "p_multivariable"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1]; got {value!r}")
        design = _numeric_design(X)
        event, time = check_survival_target(y, n_samples=len(design), labels=row_labels(X))
        self.feature_names_in_ = np.asarray(design.columns, dtype=object)
        self.n_features_in_ = design.shape[1]
        groups = factor_groups(design.columns)
        self.feature_groups_ = groups
        uni = _stage_rows(design, event, time, groups, alpha=self.alpha, penalizer=self.penalizer, univariate=True)
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


# ----------------------------------------------------------------------------------------------------------
# Survival-function helpers shared with radiomics.py


def survival_at(survival: np.ndarray, unique_times: np.ndarray, times) -> np.ndarray:
    """Evaluate step survival functions, given on ``unique_times``, at ``times``.

    Parameters
    ----------
    survival : ndarray of shape (n_samples, n_unique_times)
        Survival probabilities at the unique training times (right-continuous steps).
    unique_times : ndarray of shape (n_unique_times,)
    times : array-like of shape (n_times,)
        Non-negative times not beyond the last training time.

    Returns
    -------
    ndarray of shape (n_samples, n_times)

    Examples
    --------
    >>> survival_at(np.array([[0.9, 0.5]]), np.array([1.0, 2.0]), [0.5, 1.0, 1.5, 2.0]).tolist()
    [[1.0, 0.9, 0.9, 0.5]]
    """
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if times.ndim != 1 or not np.isfinite(times).all() or (times < 0).any():
        raise ValueError(f"times must be a 1-D array of finite non-negative values; got {times!r}")
    if (times > unique_times[-1]).any():
        raise ValueError(
            f"times {times[times > unique_times[-1]].tolist()} lie beyond the last follow-up time of the "
            f"training data ({unique_times[-1]:g}); the survival function is not estimable there"
        )
    index = np.searchsorted(unique_times, times, side="right") - 1
    padded = np.concatenate([np.ones((survival.shape[0], 1)), survival], axis=1)
    return padded[:, index + 1]


class ClinicalCox(SurvivalAnalysisMixin, BaseEstimator):
    """The paper's clinical model: encode -> univariate/multivariable Cox screen -> Cox PH.

    ``fit`` encodes the clinical columns (:class:`ClinicalPreprocessor`), selects factors with
    :class:`CoxFeatureSelector` on the training data only, and fits scikit-survival's
    :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis` on the selected columns.

    Parameters
    ----------
    columns, categorical, reference_levels, log_transform, impute
        Passed to :class:`ClinicalPreprocessor`.
    p_univariate, p_multivariable : float, default=0.05
        Thresholds of :class:`CoxFeatureSelector` (tunable with ``GridSearchCV``).
    ties : {"efron"}, default="efron"
        Tie handling of the screen and of the final Cox model.
    alpha : float, default=0
        Ridge penalty of :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis`.
    n_iter : int, default=100
        Maximum Newton-Raphson iterations of the final model.

    Attributes
    ----------
    preprocessor_ : ClinicalPreprocessor
    selector_ : CoxFeatureSelector
    model_ : CoxPHSurvivalAnalysis
    selected_features_ : list of str
        Design columns of the final model.
    coef_ : ndarray
        Log hazard ratios of ``selected_features_``.
    summary_ : DataFrame
        Table 2 of the training data (see :func:`cox_table`).
    unique_times_ : ndarray
        Unique training times, the grid of ``predict_survival_function(..., return_array=True)``.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> from sksurv.util import Surv
    >>> rossi = load_rossi()
    >>> X, y = rossi.drop(columns=["week", "arrest"]), Surv.from_arrays(rossi["arrest"], rossi["week"])
    >>> model = ClinicalCox().fit(X, y)
    >>> model.selected_features_
    ['age', 'prio']
    >>> model.predict_survival_at(X.iloc[:2], [26.0, 52.0]).shape
    (2, 2)
    """

    def __init__(
        self,
        *,
        columns=None,
        categorical=None,
        reference_levels=None,
        log_transform=(),
        impute=None,
        p_univariate=0.05,
        p_multivariable=0.05,
        ties="efron",
        alpha=0.0,
        n_iter=100,
    ):
        self.columns = columns
        self.categorical = categorical
        self.reference_levels = reference_levels
        self.log_transform = log_transform
        self.impute = impute
        self.p_univariate = p_univariate
        self.p_multivariable = p_multivariable
        self.ties = ties
        self.alpha = alpha
        self.n_iter = n_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def fit(self, X, y):
        """Fit preprocessing, screen and Cox model on training data.

        Parameters
        ----------
        X : DataFrame
            Clinical table, one row per patient.
        y : structured array
            Survival target.

        Returns
        -------
        self
        """
        _check_ties(self.ties)
        check_clinical_columns(X, [])
        check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        self.preprocessor_ = ClinicalPreprocessor(
            columns=self.columns,
            categorical=self.categorical,
            reference_levels=self.reference_levels,
            log_transform=self.log_transform,
            impute=self.impute,
        )
        design = self.preprocessor_.fit_transform(X)
        self.selector_ = CoxFeatureSelector(
            p_univariate=self.p_univariate, p_multivariable=self.p_multivariable, ties=self.ties
        ).fit(design, y)
        self.selected_features_ = list(self.selector_.selected_features_)
        summary = self.selector_.summary_.copy()
        summary["reference"] = [str(self.preprocessor_.reference_levels_.get(f, "")) for f in summary["factor"]]
        self.summary_ = summary
        self.model_ = CoxPHSurvivalAnalysis(alpha=self.alpha, ties=self.ties, n_iter=self.n_iter)
        self.model_.fit(design[self.selected_features_].to_numpy(), y)
        self.coef_ = self.model_.coef_
        self.unique_times_ = self.model_.unique_times_
        self.feature_names_in_ = self.preprocessor_.feature_names_in_
        self.n_features_in_ = self.preprocessor_.n_features_in_
        return self

    def _design(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        design = self.preprocessor_.transform(X)
        return design[self.selected_features_].to_numpy()

    def predict(self, X):
        """Risk score (linear predictor, higher = worse prognosis), shape (n_samples,)."""
        return self.model_.predict(self._design(X))

    def predict_survival_function(self, X, return_array=False):
        """Survival functions as in :meth:`sksurv.linear_model.CoxPHSurvivalAnalysis.predict_survival_function`."""
        return self.model_.predict_survival_function(self._design(X), return_array=return_array)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions as in scikit-survival's Cox model."""
        return self.model_.predict_cumulative_hazard_function(self._design(X), return_array=return_array)

    def predict_survival_at(self, X, times):
        """Survival probabilities at ``times``: ndarray of shape (n_samples, len(times))."""
        survival = self.predict_survival_function(X, return_array=True)
        return survival_at(survival, self.unique_times_, times)
