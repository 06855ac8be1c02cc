"""The paper's clinical model: encode -> univariate/multivariable Cox screen -> Cox PH."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxPHSurvivalAnalysis

from sksurv_tace._validation import as_survival_array, check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.models._cox_base import _CoxBase
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.preprocessing.cox_screen import _check_ties
from sksurv_tace.preprocessing.cox_separation import infinite_coefficients

__all__ = ["ClinicalCox"]


class ClinicalCox(_CoxBase):
    """The paper's clinical model: encode -> univariate/multivariable Cox screen -> Cox PH.

    ``fit`` runs the :class:`~sksurv_tace.models.ClinicalBranch` without scaling (encoding by
    :class:`ClinicalPreprocessor`, factor selection by :class:`CoxFeatureSelector` on the training
    data only) and fits scikit-survival's
    :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis` on the selected columns.

    A final fit that does not converge, or whose coefficient may be infinite (R's ``coxph`` check,
    :func:`~sksurv_tace.preprocessing.infinite_coefficients`: the selected factors separate the
    deaths from the survivors), raises a :class:`lifelines.exceptions.ConvergenceWarning` naming the
    columns; the model still predicts (it ranks patients along the diverging direction), and ``alpha > 0``
    gives finite coefficients.

    Parameters
    ----------
    columns, categorical, reference_levels, log_transform, impute
        Passed to :class:`ClinicalPreprocessor`.
    p_univariate, p_multivariable : float in (0, 1], default=0.05
        Thresholds of :class:`CoxFeatureSelector` (tunable with ``GridSearchCV``).
    ties : {"efron"}, default="efron"
        Tie handling of the screen and of the final Cox model.
    alpha : float >= 0, default=0
        Ridge penalty of :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis`.
    n_iter : int >= 1, default=100
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

    # `ties` is checked by _check_ties (which explains why only "efron"); the clinical-table parameters by
    # ClinicalPreprocessor
    _parameter_constraints: dict = {
        "p_univariate": [Interval(Real, 0, 1, closed="right")],
        "p_multivariable": [Interval(Real, 0, 1, closed="right")],
        "alpha": [Interval(Real, 0, np.inf, closed="left")],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
    }

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
        self._validate_params()
        check_clinical_columns(X, [])
        event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        y = as_survival_array(event, time)
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
        design = self.clinical_.transform(X).to_numpy()
        self.model_ = CoxPHSurvivalAnalysis(alpha=self.alpha, ties=self.ties, n_iter=self.n_iter)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SklearnConvergenceWarning)
            self.model_.fit(design, y)
        self._check_convergence(design, event, time, caught)
        self.coef_ = self.model_.coef_
        self.unique_times_ = self.model_.unique_times_
        self.feature_names_in_ = self.preprocessor_.feature_names_in_
        self.n_features_in_ = self.preprocessor_.n_features_in_
        return self

    def _check_convergence(self, design, event, time, caught) -> None:
        """Re-raise the final fit's convergence problems as ConvergenceWarnings naming the columns."""
        from lifelines.exceptions import ConvergenceWarning

        columns = self.selected_features_
        for record in caught:
            if issubclass(record.category, SklearnConvergenceWarning):
                warnings.warn(
                    f"ClinicalCox: the final Cox model on {columns} did not converge in n_iter={self.n_iter} "
                    f"Newton-Raphson steps ({record.message}); its coefficients are the last iterate",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            else:
                warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
        infinite = infinite_coefficients(design, event, time, self.model_.coef_, ridge=self.alpha)
        if infinite.any():
            names = [c for c, inf in zip(columns, infinite, strict=True) if inf]
            coef = ", ".join(f"{c!r}: {b:.3g}" for c, b in zip(columns, self.model_.coef_, strict=True) if c in names)
            warnings.warn(
                f"ClinicalCox: in the final Cox model on {columns} the coefficient(s) of {names} may be infinite "
                f"(the fit stopped at {coef}): the partial likelihood still rises as they grow (monotone "
                "likelihood, e.g. the factors separate the deaths from the survivors), so their hazard ratios "
                "are not estimable; predictions rank patients along the diverging direction; alpha > 0 "
                "(ridge) gives finite coefficients",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _design(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.clinical_.transform(X).to_numpy()
