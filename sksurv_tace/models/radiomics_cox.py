"""The paper's radiomic model: features -> z-score -> correlation filter -> LASSO-Cox
(scikit-survival's :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`, penalty by inner CV)."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from sksurv_tace._validation import (
    as_survival_array,
    check_clinical_columns,
    check_survival_target,
    check_unique_columns,
    row_labels,
)
from sksurv_tace.models._cox_base import _CoxBase

__all__ = ["RadiomicsCox", "correlation_filter"]


def _numeric_features(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"X must be 2-D; got shape {array.shape}")
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    check_unique_columns(frame)
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ValueError(
            f"feature column(s) {bad[:5]} are not numeric; pass a feature table or set extractor=RadiomicsExtractor()"
        )
    values = frame.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        labels = row_labels(frame)
        column = int(np.flatnonzero(~np.isfinite(values).all(axis=0))[0])
        rows = np.flatnonzero(~np.isfinite(values[:, column]))
        raise ValueError(
            f"feature {frame.columns[column]!r} is missing or infinite at {', '.join(labels[i] for i in rows[:5])}"
        )
    return pd.DataFrame(values, index=frame.index, columns=[str(c) for c in frame.columns])


def correlation_filter(features: pd.DataFrame, threshold: float) -> list[str]:
    """Keep features in column order, dropping any whose ``|Pearson r|`` with a kept one exceeds ``threshold``.

    Parameters
    ----------
    features : DataFrame
        Numeric features without constant columns.
    threshold : float
        Maximum absolute correlation between two kept features.

    Returns
    -------
    list of str
        Names of the kept features.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 8.5], "c": [1.0, -1, 1, -1]})
    >>> correlation_filter(df, 0.9)
    ['a', 'c']
    """
    corr = np.abs(np.corrcoef(features.to_numpy(dtype=np.float64), rowvar=False))
    corr = np.atleast_2d(corr)
    kept: list[int] = []
    for j in range(features.shape[1]):
        if all(corr[j, k] <= threshold for k in kept):
            kept.append(j)
    return [features.columns[j] for j in kept]


class RadiomicsCox(_CoxBase):
    """The paper's radiomic model: features -> z-score -> correlation filter -> LASSO-Cox.

    Parameters
    ----------
    extractor : RadiomicsExtractor, optional
        Extracts features from the image/mask path columns of ``X`` (cloned in :meth:`fit`). ``None``: ``X``
        already is a numeric feature table.
    corr_threshold : float in (0, 1], default=0.9
        Of each pair of (z-scored) features with ``|Pearson r| > corr_threshold`` only the first, in column
        order, is kept (:func:`correlation_filter`).
    alpha : float > 0, optional
        LASSO penalty. ``None``: chosen by ``cv``-fold inner cross-validation on the training data, as the
        penalty of the path with the highest mean held-out Harrell's C among penalties that keep at least one
        feature (ties: the larger penalty).
    n_alphas : int >= 1, default=50
        Length of the penalty path.
    alpha_min_ratio : float in (0, 1) or "auto", default=0.01
        Smallest penalty of the path relative to the largest.
    cv : int >= 2, default=5
        Folds of the inner cross-validation (stratified by event).
    max_iter : int >= 1, default=100000
        Coordinate-descent iterations of :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`. If the path or
        the final model stops at ``max_iter`` before converging, a
        :class:`~sklearn.exceptions.ConvergenceWarning` says so.
    random_state : int, optional
        Seed of the inner fold split.

    Attributes
    ----------
    extractor_ : RadiomicsExtractor or None
    feature_names_in_ : ndarray of str
        Columns of ``X`` seen in fit (only for DataFrame input).
    feature_names_ : list of str
        Columns of the feature table (the extracted features when an extractor is used).
    kept_features_ : list of str
        Features surviving the constant and correlation filters.
    alpha_ : float
        LASSO penalty used.
    cv_scores_ : ndarray of shape (n_alphas,) or None
        Mean held-out C-index along ``alphas_`` (``None`` when ``alpha`` is given).
    alphas_ : ndarray
        Penalty path.
    selected_features_ : list of str
        Features with non-zero coefficients.
    coef_ : ndarray
        Their coefficients (per standard deviation of the feature).
    model_ : CoxnetSurvivalAnalysis
    unique_times_ : ndarray

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(120, 10)), columns=[f"f{i}" for i in range(10)])
    >>> time = rng.exponential(np.exp(-X["f0"].to_numpy())) * 100
    >>> y = Surv.from_arrays(np.ones(120, bool), time)
    >>> model = RadiomicsCox(random_state=0).fit(X, y)
    >>> "f0" in model.selected_features_
    True
    """

    _parameter_constraints: dict = {
        "extractor": [HasMethods(["fit_transform", "transform"]), None],
        "corr_threshold": [Interval(Real, 0, 1, closed="right")],
        "alpha": [Interval(Real, 0, np.inf, closed="neither"), None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "alpha_min_ratio": [Interval(Real, 0, 1, closed="neither"), StrOptions({"auto"})],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        extractor=None,
        corr_threshold=0.9,
        alpha=None,
        n_alphas=50,
        alpha_min_ratio=0.01,
        cv=5,
        max_iter=100000,
        random_state=None,
    ):
        self.extractor = extractor
        self.corr_threshold = corr_threshold
        self.alpha = alpha
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.cv = cv
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.extractor is not None:
            tags.input_tags.string = True
        return tags

    def _features(self, X, *, fit: bool) -> pd.DataFrame:
        if self.extractor is None:
            return _numeric_features(X)
        if fit:
            self.extractor_ = clone(self.extractor)
            return _numeric_features(self.extractor_.fit_transform(X))
        return _numeric_features(self.extractor_.transform(X))

    def fit(self, X, y):
        """Extract (if an extractor is set), filter, choose the penalty and fit the LASSO-Cox model.

        Parameters
        ----------
        X : DataFrame
            Image/mask path columns (with ``extractor``) or a numeric feature table.
        y : structured array
            Survival target.

        Returns
        -------
        self
        """
        self._validate_params()
        event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        y = as_survival_array(event, time)
        if self.extractor is None:
            self.extractor_ = None
        features = self._features(X, fit=True)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = np.asarray(X).shape[1] if np.ndim(X) == 2 else len(X.columns)
        self.feature_names_ = list(features.columns)
        std = features.std(axis=0, ddof=0)
        varying = features.columns[std.to_numpy() > 0]
        if len(varying) == 0:
            raise ValueError("every feature is constant on the training data")
        self.mean_ = features[varying].mean(axis=0)
        self.scale_ = std[varying]
        z = (features[varying] - self.mean_) / self.scale_
        self.kept_features_ = correlation_filter(z, self.corr_threshold)
        z = z[self.kept_features_].to_numpy()

        path = CoxnetSurvivalAnalysis(
            l1_ratio=1.0, n_alphas=self.n_alphas, alpha_min_ratio=self.alpha_min_ratio, max_iter=self.max_iter
        )
        self._fit_coxnet(path, z, y, "the LASSO path")
        alphas = path.alphas_
        self.cv_scores_ = None
        if self.alpha is None:
            scores = self._cv_scores(z, y, event, time, alphas)
            nonzero = (np.abs(path.coef_) > 0).any(axis=0)
            candidates = np.where(nonzero & np.isfinite(scores), scores, -np.inf)
            if not np.isfinite(candidates).any():
                candidates = np.where(nonzero, 0.0, -np.inf)
            best = int(np.flatnonzero(candidates == candidates.max())[0])  # alphas decrease: first = largest
            self.cv_scores_ = scores
            self.alpha_ = float(alphas[best])
            fit_alphas = alphas[: best + 1]
        else:
            self.alpha_ = float(self.alpha)
            fit_alphas = np.concatenate([alphas[alphas > self.alpha_], [self.alpha_]])
        self.alphas_ = alphas
        self.model_ = CoxnetSurvivalAnalysis(
            l1_ratio=1.0, alphas=fit_alphas, fit_baseline_model=True, max_iter=self.max_iter
        )
        self._fit_coxnet(self.model_, z, y, f"the final LASSO-Cox model (alpha={self.alpha_:g})")
        coef = self.model_.coef_[:, -1]
        nonzero = np.flatnonzero(coef != 0)
        if len(nonzero) == 0:
            warnings.warn(
                f"LASSO-Cox kept no feature at alpha={self.alpha_:g}; predictions are constant",
                UserWarning,
                stacklevel=2,
            )
        self.selected_features_ = [self.kept_features_[i] for i in nonzero]
        self.coef_ = coef[nonzero]
        self.unique_times_ = self.model_.unique_times_
        return self

    def _fit_coxnet(self, model, z, y, what: str) -> None:
        """Fit a Coxnet model; its "all coefficients are zero" notice is dropped (handled in fit), its
        convergence warning is re-raised with what was being fitted, its numerical failure as a ValueError."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                model.fit(z, y)
            except ArithmeticError as exc:
                raise ValueError(
                    f"RadiomicsCox: {what} on {len(z)} patients and {z.shape[1]} features failed numerically "
                    f"({exc}): the coefficients diverge, e.g. the features separate the deaths from the survivors; "
                    "set a larger alpha or use more patients"
                ) from exc
        for record in caught:
            if issubclass(record.category, ConvergenceWarning):
                warnings.warn(
                    f"RadiomicsCox: coordinate descent of {what} on {len(self.kept_features_)} features stopped at "
                    f"max_iter={self.max_iter} before converging; increase max_iter ({record.message})",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            elif not (issubclass(record.category, UserWarning) and "all coefficients are zero" in str(record.message)):
                warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)

    def _cv_scores(self, z, y, event, time, alphas) -> np.ndarray:
        n_splits = min(int(self.cv), int(event.sum()))
        if n_splits < 2:
            raise ValueError(f"inner cross-validation needs at least 2 events; got {int(event.sum())}")
        # stratify by event when both groups can fill every fold
        strata = event if min(event.sum(), (~event).sum()) >= n_splits else np.zeros_like(event)
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        scores = np.zeros((n_splits, len(alphas)))
        failed = 0
        for k, (train, test) in enumerate(folds.split(z, strata)):
            model = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=alphas, max_iter=self.max_iter)
            scores[k] = np.nan
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model.fit(z[train], y[train])
                except ArithmeticError:  # the fold's path diverges (e.g. separation on a few patients)
                    failed += 1
                    continue
            risks = z[test] @ model.coef_
            if not event[test].any() or len(test) < 2:  # no comparable pair: the fold's C-index is undefined
                continue
            # glmnet may stop the path early: penalties it did not reach stay NaN
            for j in range(min(len(alphas), risks.shape[1])):
                scores[k, j] = concordance_index_censored(event[test], time[test], risks[:, j])[0]
        if failed:
            warnings.warn(
                f"RadiomicsCox: the LASSO path of {failed} of {n_splits} inner cross-validation folds failed "
                "numerically (diverging coefficients, e.g. separation in a small fold); those folds are left out "
                "of the choice of alpha",
                ConvergenceWarning,
                stacklevel=3,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(scores, axis=0)

    def _model_kwargs(self) -> dict:
        return {"alpha": self.alpha_}

    def _design(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        features = self._features(X, fit=False)
        check_clinical_columns(features, list(self.kept_features_), what="feature table")
        z = (features[self.mean_.index] - self.mean_) / self.scale_
        return z[self.kept_features_].to_numpy()
