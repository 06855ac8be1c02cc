"""The paper's clinical model: encode -> univariate/multivariable Cox screen -> Cox PH."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model import CoxPHSurvivalAnalysis

from sksurv_tace._survival import survival_at
from sksurv_tace._validation import check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor
from sksurv_tace.preprocessing.cox_screen import CoxFeatureSelector, _check_ties

__all__ = ["ClinicalCox"]


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
