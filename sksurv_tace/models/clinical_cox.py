"""The paper's clinical model: encode -> univariate/multivariable Cox screen -> Cox PH."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxPHSurvivalAnalysis

from sksurv_tace._validation import check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.models._cox_base import _CoxBase
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.preprocessing.cox_screen import _check_ties

__all__ = ["ClinicalCox"]


class ClinicalCox(_CoxBase):
    """The paper's clinical model: encode -> univariate/multivariable Cox screen -> Cox PH.

    ``fit`` runs the :class:`~sksurv_tace.models.ClinicalBranch` without scaling (encoding by
    :class:`ClinicalPreprocessor`, factor selection by :class:`CoxFeatureSelector` on the training
    data only) and fits scikit-survival's
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
    clinical_ : ClinicalBranch
        The fitted clinical branch (``scale=False``); the next three are its parts.
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
        self.clinical_ = ClinicalBranch(
            columns=self.columns,
            categorical=self.categorical,
            reference_levels=self.reference_levels,
            log_transform=self.log_transform,
            impute=self.impute,
            p_univariate=self.p_univariate,
            p_multivariable=self.p_multivariable,
            ties=self.ties,
            scale=False,
        ).fit(X, y)
        if self.clinical_.preprocessor_ is None:
            raise ValueError(f"X has no clinical column (columns: {list(X.columns)})")
        self.preprocessor_ = self.clinical_.preprocessor_
        self.selector_ = self.clinical_.selector_
        self.selected_features_ = list(self.clinical_.selected_features_)
        self.summary_ = self.clinical_.summary_
        self.model_ = CoxPHSurvivalAnalysis(alpha=self.alpha, ties=self.ties, n_iter=self.n_iter)
        self.model_.fit(self.clinical_.transform(X).to_numpy(), y)
        self.coef_ = self.model_.coef_
        self.unique_times_ = self.model_.unique_times_
        self.feature_names_in_ = self.preprocessor_.feature_names_in_
        self.n_features_in_ = self.preprocessor_.n_features_in_
        return self

    def _design(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.clinical_.transform(X).to_numpy()
