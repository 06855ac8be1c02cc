"""Clinical table -> design matrix: :class:`ClinicalPreprocessor` and the rule for which columns are clinical."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sksurv_tace._validation import check_clinical_columns, describe_rows, row_labels

__all__ = ["ClinicalPreprocessor", "clinical_columns", "is_categorical", "log_name"]

#: Columns that are never clinical factors: the identifier and the image path columns.
NON_CLINICAL_COLUMNS = ("patient_id", "ct", "mask")


def log_name(column: str) -> str:
    """Name of a column's ``log1p`` transform among the design columns: ``"log1p(column)"``.

    The one spelling :class:`ClinicalPreprocessor` gives a ``log_transform`` column, so that Table 2, the forest
    plot and ``summary_`` show that the hazard ratio is per unit of ``ln(1 + x)``.

    Examples
    --------
    >>> log_name("afp")
    'log1p(afp)'
    """
    return f"log1p({column})"


def is_categorical(series: pd.Series) -> bool:
    """Whether a column is a categorical factor (categorical, object, bool or string dtype), not a number.

    The one test the encoder, the Cox screen and Table 1 use.

    Examples
    --------
    >>> is_categorical(pd.Series(["A", "B"])), is_categorical(pd.Series([1.5, 2.0])), is_categorical(pd.Series([True]))
    (True, False, True)
    """
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(series.dtype)
        or pd.api.types.is_bool_dtype(series.dtype)
        or pd.api.types.is_string_dtype(series.dtype)
    )


def clinical_columns(X: pd.DataFrame, *, columns=None, image_columns=()) -> list[str]:
    """The clinical columns of a patient table: the one rule every model uses.

    ``patient_id`` and image path columns are never clinical: the default ``ct``/``mask`` and
    every column an image transformer declares (``image_columns``, e.g. a ``ct_portal`` phase).

    Parameters
    ----------
    X : DataFrame
        The patient table.
    columns : list of str or None, default=None
        Explicit clinical columns (returned as given); None applies the rule.
    image_columns : sequence of str, default=()
        Declared image/mask path columns besides ``ct`` and ``mask``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> X = pd.DataFrame(columns=["patient_id", "age", "ct", "mask", "ct_portal", "mvi"])
    >>> clinical_columns(X, image_columns=["ct_portal"])
    ['age', 'mvi']
    """
    if columns is not None:
        return list(columns)
    excluded = {*NON_CLINICAL_COLUMNS, *image_columns}
    return [c for c in X.columns if c not in excluded]


def _check_column_types(X: pd.DataFrame, columns, forced) -> None:
    """Refuse dates and numbers stored as text, which would otherwise enter as nanoseconds or one dummy per value."""
    labels = row_labels(X)
    for column in columns:
        series = X[column]
        if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
            raise ValueError(
                f"column {column!r} holds dates or durations ({series.dtype}); convert it to a number first "
                "(e.g. days since diagnosis) or leave it out with columns=[...]"
            )
        text = pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
        if column in forced or not text or isinstance(series.dtype, pd.CategoricalDtype):
            continue
        present = series.dropna()
        numbers = pd.to_numeric(present.astype(str), errors="coerce")
        levels = present.astype(str).unique()
        if len(levels) <= 10 or numbers.notna().mean() < 0.9:
            continue  # a categorical factor (few levels, or mostly words)
        bad = series.notna().to_numpy() & pd.to_numeric(series.astype(str), errors="coerce").isna().to_numpy()
        where = f"; not a number at {describe_rows(labels, bad)}" if bad.any() else ""
        raise ValueError(
            f"column {column!r} holds numbers stored as text ({len(levels)} distinct values){where}: convert it with "
            f"pd.to_numeric, or declare it categorical=[{column!r}] if each value is a level"
        )


class ClinicalPreprocessor(TransformerMixin, BaseEstimator):
    """Mixed clinical table -> float design matrix with reference-coded dummies.

    Numeric columns pass through, or become ``ln(1 + x)`` under the name ``"log1p(column)"`` when listed in
    ``log_transform`` (so that a hazard ratio fitted on it reads as per unit of ``log1p``); categorical
    columns (pandas ``category``, ``object``, ``string`` or ``bool``) become one 0/1 column ``"factor=level"``
    per level other than the reference level. Missing values raise a :class:`ValueError` naming the column
    and the patients unless ``impute`` is set.

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
        Numeric columns replaced by ``log1p(x) = ln(1 + x)`` (skewed labs such as AFP), output as
        ``"log1p(column)"``. Negative values raise.
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
        Input column -> list of its output columns (``["log1p(afp)"]`` for a logged ``afp``; factors with a
        single level have none and are left out).
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
    >>> list(ClinicalPreprocessor(log_transform=["age"]).fit(X).get_feature_names_out())[:2]
    ['log1p(age)', 'mvi=Yes']
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
        return clinical_columns(X, columns=self.columns)

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
        self.categorical_columns_ = [c for c in columns if c in forced or is_categorical(X[c])]
        _check_column_types(X, columns, forced)
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
                outputs = [log_name(column) if column in log_cols else column]
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
                out[self.feature_groups_[column][0]] = values
        return pd.DataFrame(out, index=X.index, columns=self.get_feature_names_out())

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: numeric factors, then ``"factor=level"`` dummies, in column order."""
        check_is_fitted(self, "feature_groups_")
        return np.asarray([c for cols in self.feature_groups_.values() for c in cols], dtype=object)
