"""The clinical branch shared by ClinicalCox, CNNCox and FusionSurvival: encode -> Cox screen -> (scale)."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sksurv_tace._validation import as_survival_array, check_survival_target, row_labels
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor, clinical_columns
from sksurv_tace.preprocessing.cox_screen import CoxFeatureSelector

__all__ = ["ClinicalBranch"]


class ClinicalBranch(TransformerMixin, BaseEstimator):
    """Clinical factors as the paper's models see them: encoded, Cox-screened, optionally standardised.

    ``fit(X, y)`` encodes the clinical columns with :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`,
    keeps the factors that pass the univariate -> multivariable Cox screen of
    :class:`~sksurv_tace.preprocessing.CoxFeatureSelector` (``select=True``), both on the training rows
    only, and standardises the kept columns (``scale=True``). It is the ``clinical=`` sub-estimator of
    :class:`~sksurv_tace.models.FusionSurvival` (so ``clinical__p_univariate`` tunes in ``GridSearchCV``)
    and the clinical half of :class:`~sksurv_tace.models.ClinicalCox` and :class:`~sksurv_tace.models.CNNCox`.

    Parameters
    ----------
    columns, categorical, reference_levels, log_transform, impute
        Passed to :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`; ``columns=None`` applies
        :func:`~sksurv_tace.preprocessing.clinical_columns` (never ``patient_id`` nor an image column).
    select : bool, default=True
        Screen the encoded factors by univariate -> multivariable Cox; False keeps them all.
    p_univariate, p_multivariable : float in (0, 1], default=0.05
        Thresholds of the screen.
    ties : {"efron"}, default="efron"
        Tie handling of the screen's Cox fits.
    scale : bool, default=True
        Standardise the kept columns (mean 0, unit variance on the training rows).

    Attributes
    ----------
    preprocessor_ : ClinicalPreprocessor or None
        None when ``X`` has no clinical column.
    selector_ : CoxFeatureSelector or None
        None when ``select=False`` or there is no clinical column.
    scaler_ : StandardScaler or None
    selected_features_ : list of str
        Encoded columns that leave the branch (possibly empty).
    summary_ : DataFrame or None
        Table 2 of the training rows (univariate and multivariable HR, CI, p), with the reference
        level of each categorical factor; None without a screen.

    Examples
    --------
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(120, with_images=False, random_state=0)
    >>> branch = ClinicalBranch(p_univariate=0.2, p_multivariable=0.2).fit(X, y)
    >>> branch.transform(X).shape == (120, len(branch.selected_features_))
    True
    """

    # the clinical-table parameters are checked by ClinicalPreprocessor
    _parameter_constraints: dict = {
        "select": ["boolean"],
        "p_univariate": [Interval(Real, 0, 1, closed="right")],
        "p_multivariable": [Interval(Real, 0, 1, closed="right")],
        "ties": [StrOptions({"efron"})],
        "scale": ["boolean"],
    }

    def __init__(
        self,
        *,
        columns=None,
        categorical=None,
        reference_levels=None,
        log_transform=(),
        impute=None,
        select=True,
        p_univariate=0.05,
        p_multivariable=0.05,
        ties="efron",
        scale=True,
    ):
        self.columns = columns
        self.categorical = categorical
        self.reference_levels = reference_levels
        self.log_transform = log_transform
        self.impute = impute
        self.select = select
        self.p_univariate = p_univariate
        self.p_multivariable = p_multivariable
        self.ties = ties
        self.scale = scale

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = self.impute is not None
        tags.target_tags.required = True
        return tags

    def fit(self, X, y):
        """Learn the encoding, the screen and the scaling from the training rows.

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
        self._validate_params()
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"X must be a pandas DataFrame of clinical columns; got {type(X).__name__}")
        event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        y = as_survival_array(event, time)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.preprocessor_ = self.selector_ = self.scaler_ = self.summary_ = None
        self.selected_features_ = []
        if not clinical_columns(X, columns=self.columns):
            return self
        self.preprocessor_ = ClinicalPreprocessor(
            columns=self.columns,
            categorical=self.categorical,
            reference_levels=self.reference_levels,
            log_transform=self.log_transform,
            impute=self.impute,
        )
        design = self.preprocessor_.fit_transform(X)
        self.selected_features_ = list(design.columns)
        if self.select:
            self.selector_ = CoxFeatureSelector(
                p_univariate=self.p_univariate, p_multivariable=self.p_multivariable, ties=self.ties
            ).fit(design, y)
            self.selected_features_ = list(self.selector_.selected_features_)
            summary = self.selector_.summary_.copy()
            levels = self.preprocessor_.reference_levels_
            summary["reference"] = [str(levels.get(f, "")) for f in summary["factor"]]
            self.summary_ = summary
        if self.scale and self.selected_features_:
            self.scaler_ = StandardScaler().fit(design[self.selected_features_])
        return self

    def transform(self, X):
        """The kept clinical columns of ``X``, encoded as in :meth:`fit` (and standardised if ``scale``).

        Parameters
        ----------
        X : DataFrame

        Returns
        -------
        DataFrame of float64
            Columns ``selected_features_``, same index as ``X``.
        """
        check_is_fitted(self, "selected_features_")
        if self.preprocessor_ is None:
            return pd.DataFrame(index=X.index, columns=[], dtype=np.float64)
        design = self.preprocessor_.transform(X)[self.selected_features_]
        if self.scaler_ is not None:
            design = pd.DataFrame(self.scaler_.transform(design), index=design.index, columns=design.columns)
        return design

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``selected_features_``."""
        check_is_fitted(self, "selected_features_")
        return np.asarray(self.selected_features_, dtype=object)
