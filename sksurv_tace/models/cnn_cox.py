"""The paper's DLOP_Cox: Cox PH on the CT network's survival score plus Cox-selected clinical factors."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.util import Surv

from sksurv_tace._validation import as_survival_array, check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.models._cox_base import _CoxBase
from sksurv_tace.models._persistence import _NetworkFile
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.deep import CTSurvival
from sksurv_tace.preprocessing.cox_screen import cox_table

__all__ = ["CNNCox"]

#: Name of the CNN covariate in the design matrix and in ``summary_``.
CNN_COLUMN = "cnn_survival"


class CNNCox(_CoxBase):
    """Cox PH model on ``[S_cnn(horizon), selected clinical factors]`` (the paper's DLOP_Cox).

    The CT network (a :class:`~sksurv_tace.models.CTSurvival`) gives each patient its predicted
    survival probability at the network's ``horizon`` (3 years by default), the paper's "output of
    DLOP_CTR". That score enters a Cox proportional-hazards model as one covariate next to the
    clinical factors kept by the univariate -> multivariable Cox screen
    (:class:`~sksurv_tace.preprocessing.CoxFeatureSelector`), all fitted on the training patients. Because the
    score is a survival probability, its hazard ratio per unit is below 1 when the network
    discriminates (the paper reports HR 0.14).

    By default (``cross_fit=None``, the paper's procedure) the Cox stage is fitted on the scores of the
    very patients the network was trained on. Those in-sample scores separate the training deaths
    better than the network will separate new patients, so the score's hazard ratio, its confidence
    interval and p-value in ``summary_`` are optimistic (too far from 1, too small), and the clinical
    factors' coefficients are adjusted for an over-good covariate. ``cross_fit=K`` removes this: ``K``
    networks, each trained on ``K - 1`` folds of the training patients, score the fold they never saw,
    and the Cox stage is fitted on these out-of-fold scores; the network trained on all patients
    (``cnn_``) scores new patients in ``predict``. It costs ``K`` more network fits.

    ``summary_`` (HR, 95% CI, p) comes from lifelines' ``CoxPHFitter`` (the multivariable model of
    :func:`~sksurv_tace.preprocessing.cox_table`); predictions from scikit-survival's
    :class:`~sksurv.linear_model.CoxPHSurvivalAnalysis` with the same Efron likelihood. A covariate whose
    coefficient may be infinite (e.g. a network score that orders every death before every survivor on the
    training patients: a monotone likelihood) gets NaN in ``summary_`` and a
    :class:`lifelines.exceptions.ConvergenceWarning` naming it; ``alpha > 0`` gives finite estimates.

    Parameters
    ----------
    cnn : CTSurvival or None, default=None
        The CT network. ``None`` uses ``CTSurvival()``. Unless ``prefit``, a clone is fitted in
        :meth:`fit` on the same training patients.
    prefit : bool, default=False
        Use ``cnn`` as already fitted (it is not refitted; ``clone`` of this estimator gives an
        unfitted ``cnn``, so keep ``prefit=False`` inside cross-validation).
    select_clinical : bool, default=True
        Screen clinical factors with :class:`~sksurv_tace.preprocessing.CoxFeatureSelector`; False keeps all.
    p_univariate, p_multivariable : float in (0, 1], default=0.05
        Thresholds of the screen.
    clinical_columns : list of str or None, default=None
        Clinical columns; None uses every column except ``patient_id`` and the CNN's image columns.
    log_transform : sequence of str, default=()
        Passed to :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`.
    impute : {None, "median", "most_frequent"}, default=None
        Passed to :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`: None raises on a missing clinical value.
    cross_fit : int >= 2 or None, default=None
        ``None``: the Cox stage on in-sample network scores (the paper; optimistic, see above). ``K``:
        on out-of-fold scores from ``K`` clones of ``cnn`` fitted on event-stratified folds (seeded by
        the network's ``random_state``); with ``prefit=True`` the given network still scores new patients.
    alpha : float >= 0, default=0.0
        Ridge penalty ``alpha / 2 * ||b||^2`` of the scikit-survival fit; lifelines gets
        ``penalizer = alpha / n``, the same penalty but on standardised columns, so with ``alpha > 0``
        ``summary_`` and ``coef_`` differ slightly (they agree for ``alpha=0``).

    Attributes
    ----------
    cnn_ : CTSurvival
        The fitted CT network. ``joblib.dump`` stores it with the model; to store only a reference to
        the network's own file (no second copy of its weights), save with
        :func:`~sksurv_tace.models.dump_model` ``(model, path, cnn_file=...)`` and load with
        :func:`~sksurv_tace.models.load_model`, as ``reproduce`` does.
    clinical_ : ClinicalBranch
        The fitted clinical branch (``scale=False``) on the non-image columns.
    preprocessor_ : ClinicalPreprocessor
    selector_ : CoxFeatureSelector or None
    features_ : list of str
        Design columns of the Cox model: the selected clinical columns then ``"cnn_survival"``.
    model_ : CoxPHSurvivalAnalysis
    coef_ : ndarray
        Log hazard ratios of ``features_``.
    summary_ : DataFrame
        Indexed by ``features_``: ``coef``, ``HR``, ``HR_lower``, ``HR_upper`` (95%), ``p``.
    unique_times_ : ndarray
    train_score_ : ndarray, shape (n_samples,)
        The network scores the Cox stage was fitted on (out-of-fold with ``cross_fit``).
    cross_fit_folds_ : list of ndarray or None
        With ``cross_fit``: the held-out training rows of each fold (positions in ``X``); fold ``k``'s
        rows were scored by a network trained on the other rows only.

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import CTSurvival
    >>> from sksurv_tace.preprocessing import CTPreprocessor
    >>> X, y = make_tace_cohort(16, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> cnn = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), max_epochs=1, batch_size=8, verbose=0,
    ...                  random_state=0)
    >>> model = CNNCox(cnn, select_clinical=False, clinical_columns=["mvi"], alpha=0.1).fit(X, y)
    >>> model.features_
    ['mvi=Yes', 'cnn_survival']
    >>> list(model.summary_.columns)
    ['coef', 'HR', 'HR_lower', 'HR_upper', 'p']
    """

    # cnn is checked when fitted; the clinical-table parameters by ClinicalPreprocessor
    _parameter_constraints: dict = {
        "prefit": ["boolean"],
        "select_clinical": ["boolean"],
        "p_univariate": [Interval(Real, 0, 1, closed="right")],
        "p_multivariable": [Interval(Real, 0, 1, closed="right")],
        "alpha": [Interval(Real, 0, np.inf, closed="left")],
        "cross_fit": [None, Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        cnn=None,
        *,
        prefit=False,
        select_clinical=True,
        p_univariate=0.05,
        p_multivariable=0.05,
        clinical_columns=None,
        log_transform=(),
        impute=None,
        cross_fit=None,
        alpha=0.0,
    ):
        self.cnn = cnn
        self.prefit = prefit
        self.select_clinical = select_clinical
        self.p_univariate = p_univariate
        self.p_multivariable = p_multivariable
        self.clinical_columns = clinical_columns
        self.log_transform = log_transform
        self.impute = impute
        self.cross_fit = cross_fit
        self.alpha = alpha

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def _network(self) -> CTSurvival:
        if isinstance(self.cnn_, _NetworkFile):  # joblib.load of a file written by dump_model(..., cnn_file=)
            raise self.cnn_.missing()
        return self.cnn_

    def _clinical_frame(self, X) -> pd.DataFrame:
        return X.drop(columns=[c for c in self._network().image_columns_ if c in X.columns])

    def _cnn_score(self, X) -> np.ndarray:
        cnn = self._network()
        return cnn.predict_survival_at(X, [float(cnn.horizon)])[:, 0]

    def fit(self, X, y):
        """Fit (or take) the CT network, screen the clinical factors and fit the Cox model.

        Parameters
        ----------
        X : DataFrame
            Image path columns of the CNN and clinical columns, one row per patient.
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
        if self.prefit:
            if self.cnn is None:
                raise ValueError("prefit=True needs a fitted CTSurvival as cnn")
            check_is_fitted(self.cnn, "net_")
            self.cnn_ = self.cnn
        else:
            self.cnn_ = clone(self.cnn if self.cnn is not None else CTSurvival()).fit(X, y)
        if self.cross_fit is None:
            score, self.cross_fit_folds_ = self._cnn_score(X), None
        else:
            score, self.cross_fit_folds_ = self._out_of_fold_score(X, y, event)
        self.train_score_ = score
        self.clinical_ = ClinicalBranch(
            columns=self.clinical_columns,
            log_transform=self.log_transform,
            impute=self.impute,
            select=self.select_clinical,
            p_univariate=self.p_univariate,
            p_multivariable=self.p_multivariable,
            scale=False,
        ).fit(self._clinical_frame(X), y)
        self.preprocessor_ = self.clinical_.preprocessor_
        self.selector_ = self.clinical_.selector_
        clinical = list(self.clinical_.selected_features_)
        self.features_ = [*clinical, CNN_COLUMN]
        frame = self.clinical_.transform(self._clinical_frame(X)).assign(**{CNN_COLUMN: score})
        self.model_ = CoxPHSurvivalAnalysis(alpha=self.alpha, ties="efron").fit(frame.to_numpy(), y)
        self.coef_ = self.model_.coef_
        self.unique_times_ = self.model_.unique_times_
        self.summary_ = self._lifelines_summary(frame, event, time)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _out_of_fold_score(self, X, y, event):
        """Each training patient's score from a clone of the network trained without its fold."""
        k = int(self.cross_fit)
        if k > len(X):
            raise ValueError(f"cross_fit={k} folds need at least as many patients; got {len(X)}")
        seed = getattr(self.cnn_, "random_state", None)
        counts = np.bincount(event.astype(int), minlength=2)
        cv = (StratifiedKFold if counts.min() >= k else KFold)(n_splits=k, shuffle=True, random_state=seed)
        score = np.empty(len(X))
        folds = []
        for train, held_out in cv.split(np.zeros(len(X)), event):
            network = clone(self.cnn_).fit(X.iloc[train], y[train])
            score[held_out] = network.predict_survival_at(X.iloc[held_out], [float(network.horizon)])[:, 0]
            folds.append(held_out)
        return score, folds

    def _lifelines_summary(self, frame: pd.DataFrame, event, time) -> pd.DataFrame:
        # scikit-survival adds alpha/2 * ||b||^2 to -loglik, lifelines n * penalizer/2 * ||b||^2; lifelines
        # penalises the coefficients of standardised columns, so with alpha > 0 the two fits differ slightly
        table = cox_table(
            frame,
            Surv.from_arrays(event, time),
            groups={c: [c] for c in frame.columns},
            penalizer=self.alpha / len(frame),
            univariable=False,
        )
        return pd.DataFrame(
            {
                "coef": table["coef_multi"].to_numpy(),
                "HR": table["HR_multi"].to_numpy(),
                "HR_lower": table["HR_lower_multi"].to_numpy(),
                "HR_upper": table["HR_upper_multi"].to_numpy(),
                "p": table["p_multi"].to_numpy(),
            },
            index=pd.Index(list(frame.columns), name="feature"),
        )

    def _design(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        check_clinical_columns(X, list(self.clinical_.feature_names_in_), what="X (columns seen in fit)")
        design = self.clinical_.transform(self._clinical_frame(X))
        return design.assign(**{CNN_COLUMN: self._cnn_score(X)}).to_numpy()
