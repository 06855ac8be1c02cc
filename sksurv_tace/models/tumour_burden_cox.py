"""A tumour-burden baseline beside the paper's five models: Cox PH on screened clinical factors + tumour volume +
lesion count."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.util import Surv

from sksurv_tace._validation import (
    as_survival_array,
    check_clinical_columns,
    check_survival_target,
    describe_rows,
    row_labels,
)
from sksurv_tace.models._cox_base import _CoxBase
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.preprocessing.cox_screen import cox_table
from sksurv_tace.preprocessing.lesions import BURDEN_COLUMNS, LesionBurden

__all__ = ["TumourBurdenCox", "BURDEN_FEATURES"]

#: Design columns of the burden part: log2 of the total tumour volume (mL), then the lesion count.
BURDEN_FEATURES = ("log2_tumour_volume_ml", "lesion_count")


class TumourBurdenCox(_CoxBase):
    """Cox PH on ``[selected clinical factors, log2 tumour volume, lesion count]``: a tumour-burden baseline.

    Tumour volume and lesion count are the strong, transportable image baseline of image-survival challenges:
    any model reading the CT should beat clinical factors plus them. The clinical factors are encoded and
    screened exactly as in :class:`~sksurv_tace.models.ClinicalCox` (the
    :class:`~sksurv_tace.models.ClinicalBranch`, fitted on the training rows only); the two burden covariates are
    always in the model (never screened): ``log2_tumour_volume_ml`` (its hazard ratio is per doubling of the total
    tumour volume) and ``lesion_count`` (per additional lesion), measured by
    :class:`~sksurv_tace.preprocessing.LesionBurden` from the CT/mask path columns, or read from ``X``.
    scikit-survival's :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis` (Efron ties) gives the predictions,
    lifelines (through :func:`~sksurv_tace.preprocessing.cox_table`) the ``summary_``, as in
    :class:`~sksurv_tace.models.CNNCox`.

    Parameters
    ----------
    burden : LesionBurden, "passthrough" or None, default=None
        Measures the burden from the image columns (cloned in :meth:`fit`; set its ``memory`` to read each
        volume once in a grid search). None: ``LesionBurden()``. ``"passthrough"``: ``X`` already holds the
        columns ``tumour_volume_ml`` (> 0) and ``lesion_count`` (an integer >= 1), e.g. from a radiology report.
    select_clinical : bool, default=True
        Screen the clinical factors (univariate -> multivariable Cox); False keeps them all.
    p_univariate, p_multivariable : float in (0, 1], default=0.05
        Thresholds of the screen.
    clinical_columns : list of str or None, default=None
        Clinical columns; None: every column but ``patient_id``, the image columns and the burden columns.
    categorical, log_transform, impute
        Passed to :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`.
    alpha : float >= 0, default=0.0
        Ridge penalty of the scikit-survival fit (lifelines gets ``penalizer = alpha / n``, see
        :class:`~sksurv_tace.models.CNNCox`).

    Attributes
    ----------
    burden_ : LesionBurden or None
        The fitted burden transformer (None with ``"passthrough"``).
    clinical_ : ClinicalBranch
        The fitted clinical branch (``scale=False``).
    features_ : list of str
        Design columns: the selected clinical columns, then :data:`BURDEN_FEATURES`.
    model_ : CoxPHSurvivalAnalysis
    coef_ : ndarray
        Log hazard ratios of ``features_``.
    summary_ : DataFrame
        Indexed by ``features_``: ``coef``, ``HR``, ``HR_lower``, ``HR_upper`` (95%), ``p``.
    unique_times_ : ndarray
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(40, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> model = TumourBurdenCox(clinical_columns=["mvi", "albi_grade"], select_clinical=False).fit(X, y)
    >>> model.features_
    ['mvi=Yes', 'albi_grade=2-3', 'log2_tumour_volume_ml', 'lesion_count']
    >>> model.predict(X.iloc[:3]).shape, model.predict_survival_at(X.iloc[:3], [365.0, 730.0]).shape
    ((3,), (3, 2))
    """

    # burden is checked when cloned and fitted; the clinical-table parameters by ClinicalPreprocessor
    _parameter_constraints: dict = {
        "burden": [None, StrOptions({"passthrough"}), HasMethods(["fit", "transform"])],
        "select_clinical": ["boolean"],
        "p_univariate": [Interval(Real, 0, 1, closed="right")],
        "p_multivariable": [Interval(Real, 0, 1, closed="right")],
        "alpha": [Interval(Real, 0, np.inf, closed="left")],
    }

    def __init__(
        self,
        burden=None,
        *,
        select_clinical=True,
        p_univariate=0.05,
        p_multivariable=0.05,
        clinical_columns=None,
        categorical=None,
        log_transform=(),
        impute=None,
        alpha=0.0,
    ):
        self.burden = burden
        self.select_clinical = select_clinical
        self.p_univariate = p_univariate
        self.p_multivariable = p_multivariable
        self.clinical_columns = clinical_columns
        self.categorical = categorical
        self.log_transform = log_transform
        self.impute = impute
        self.alpha = alpha

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def _non_clinical(self) -> list[str]:
        if self.burden_ is None:
            return list(BURDEN_COLUMNS)
        return [self.burden_.image_column, self.burden_.mask_column]

    def _clinical_frame(self, X) -> pd.DataFrame:
        return X.drop(columns=[c for c in self._non_clinical() if c in X.columns])

    def _burden_frame(self, X) -> pd.DataFrame:
        """``log2_tumour_volume_ml`` and ``lesion_count`` of every patient, checked (errors name the patient)."""
        if self.burden_ is None:
            check_clinical_columns(X, ["tumour_volume_ml", "lesion_count"])
            raw = X[["tumour_volume_ml", "lesion_count"]].apply(pd.to_numeric, errors="coerce")
        else:
            raw = self.burden_.transform(X)
        volume = raw["tumour_volume_ml"].to_numpy(dtype=np.float64)
        count = raw["lesion_count"].to_numpy(dtype=np.float64)
        labels = row_labels(X)
        bad = ~np.isfinite(volume) | (volume <= 0)
        if bad.any():
            raise ValueError(f"tumour_volume_ml must be a positive number (mL); not at {describe_rows(labels, bad)}")
        bad = ~np.isfinite(count) | (count < 1) | (count != np.round(count))
        if bad.any():
            raise ValueError(f"lesion_count must be an integer >= 1; not at {describe_rows(labels, bad)}")
        return pd.DataFrame({BURDEN_FEATURES[0]: np.log2(volume), BURDEN_FEATURES[1]: count}, index=X.index)

    def fit(self, X, y):
        """Measure the burden, screen the clinical factors and fit the Cox model on the training patients.

        Parameters
        ----------
        X : DataFrame
            Clinical columns and the image path columns (or the burden columns with ``burden="passthrough"``).
        y : structured array
            Survival target.

        Returns
        -------
        self
        """
        self._validate_params()
        check_clinical_columns(X, [])
        event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        y = as_survival_array(event, time)
        if isinstance(self.burden, str):
            self.burden_ = None
        else:
            self.burden_ = clone(self.burden if self.burden is not None else LesionBurden()).fit(X)
        burden = self._burden_frame(X)
        self.clinical_ = ClinicalBranch(
            columns=self.clinical_columns,
            categorical=self.categorical,
            log_transform=self.log_transform,
            impute=self.impute,
            select=self.select_clinical,
            p_univariate=self.p_univariate,
            p_multivariable=self.p_multivariable,
            scale=False,
        ).fit(self._clinical_frame(X), y)
        frame = pd.concat([self.clinical_.transform(self._clinical_frame(X)), burden], axis=1)
        self.features_ = list(frame.columns)
        self.model_ = CoxPHSurvivalAnalysis(alpha=self.alpha, ties="efron").fit(frame.to_numpy(), y)
        self.coef_ = self.model_.coef_
        self.unique_times_ = self.model_.unique_times_
        table = cox_table(frame, Surv.from_arrays(event, time), groups={c: [c] for c in frame.columns},
                          penalizer=self.alpha / len(frame), univariable=False)  # fmt: skip
        self.summary_ = pd.DataFrame(
            {k: table[f"{k}_multi"].to_numpy() for k in ("coef", "HR", "HR_lower", "HR_upper", "p")},
            index=pd.Index(self.features_, name="feature"),
        )
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _design(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        check_clinical_columns(X, list(self.clinical_.feature_names_in_), what="X (columns seen in fit)")
        frame = pd.concat([self.clinical_.transform(self._clinical_frame(X)), self._burden_frame(X)], axis=1)
        return frame.to_numpy()
