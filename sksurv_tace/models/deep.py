"""Deep survival models: :class:`FusionSurvival` (CT + clinical) and :class:`CTSurvival` (CT only).

These are the paper's DLOP_Combin and DLOP_CTR. Each is a scikit-survival estimator that *owns*
a skorch net built in ``fit`` (``net_``) and two sub-estimators: ``image_preprocessor`` (a
:class:`~sksurv_tace.preprocessing.CTPreprocessor` turning CT/mask paths into tumour-ROI tensors)
and, for the fusion model, ``clinical`` (a :class:`~sksurv_tace.models.ClinicalBranch`: encoding,
univariate -> multivariable Cox screen and scaling, fitted on the training rows only). Both tune in
``GridSearchCV`` through ``image_preprocessor__*`` and ``clinical__*``.

Survival between cuts
---------------------
The net gives survival only at the interval cuts ``c_0 = 0 < c_1 < ... < c_m``; interval ``j`` is
``(c_j, c_{j+1}]``, so a death on a cut day counts in the interval ending that day (as the metrics and
Kaplan-Meier count it). With ``interpolation="step"`` (default) ``S`` is **piecewise constant**
between the cuts, right-continuous, dropping at each cut: ``S(t) = S(c_k)`` for ``c_k <= t < c_{k+1}``,
with ``S(t) = 1`` before ``c_1`` (:class:`sksurv.functions.StepFunction` on ``x = cuts``). So
``S(1095) = h_1 h_2 h_3``, the paper's "product of the first three perceptrons". With
``interpolation="constant_hazard"`` the hazard is constant within each interval (``log S`` linear
between the cuts), so a horizon off a cut is not a step. Times beyond the last cut are refused.
"""

from __future__ import annotations

import warnings

import torch

from sksurv_tace.models._deep_base import COMMON_ATTRIBUTES, COMMON_DOC, _DeepSurvival
from sksurv_tace.models.nn import DEFAULT_CUTS

__all__ = ["CTSurvival", "FusionSurvival"]


class CTSurvival(_DeepSurvival):
    __doc__ = (
        """The paper's DLOP_CTR: a ResNet on the tumour ROI -> discrete-time survival head.

    ``predict`` gives ``1 - S(horizon)`` (paper: 3-year survival, ``horizon=1095``); ``score``
    gives Harrell's C. Survival between the cuts: see :mod:`sksurv_tace.models.deep`.
"""
        + COMMON_DOC
        + """

    Attributes
    ----------"""
        + COMMON_ATTRIBUTES
        + """

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.preprocessing import CTPreprocessor
    >>> X, y = make_tace_cohort(12, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> model = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), max_epochs=1, batch_size=6,
    ...                    verbose=0, random_state=0).fit(X, y)
    >>> model.predict(X).shape
    (12,)
    """
    )

    def __init__(
        self,
        *,
        image_preprocessor=None,
        cuts=DEFAULT_CUTS,
        horizon=1095.0,
        censoring="half_interval",
        interpolation="step",
        backbone="resnet18",
        weights=None,
        dropout=0.2,
        augment=True,
        early_stopping="loss",
        patience=10,
        valid_fraction=0.2,
        n_ensemble=1,
        recalibrate_bn=True,
        baseline_bias=False,
        gradient_clip=1.0,
        lr_schedule="cosine",
        warmup_epochs=0,
        amp=True,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        weight_decay=1e-4,
        max_epochs=40,
        batch_size=32,
        roi_store=None,
        num_workers=0,
        verbose=1,
        progress=False,
        device="auto",
        save_optimizer=False,
        random_state=None,
    ):
        self.image_preprocessor = image_preprocessor
        self.cuts = cuts
        self.horizon = horizon
        self.censoring = censoring
        self.interpolation = interpolation
        self.backbone = backbone
        self.weights = weights
        self.dropout = dropout
        self.augment = augment
        self.early_stopping = early_stopping
        self.patience = patience
        self.valid_fraction = valid_fraction
        self.n_ensemble = n_ensemble
        self.recalibrate_bn = recalibrate_bn
        self.baseline_bias = baseline_bias
        self.gradient_clip = gradient_clip
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.amp = amp
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.roi_store = roi_store
        self.num_workers = num_workers
        self.verbose = verbose
        self.progress = progress
        self.device = device
        self.save_optimizer = save_optimizer
        self.random_state = random_state


class FusionSurvival(_DeepSurvival):
    __doc__ = (
        """The paper's DLOP_Combin: ResNet on the tumour ROI + MLP on Cox-selected clinical factors.

    The image features (512-d for ResNet-18/34, 2048-d for ResNet-50/101, after global average
    pooling) and the MLP's output are concatenated into one linear layer with one logit per
    interval. Clinical columns are every column but ``patient_id`` and the image path columns;
    the ``clinical`` branch encodes them, screens them by univariate -> multivariable Cox on the
    training patients and standardises them. ``predict`` gives ``1 - S(horizon)``; ``score``
    gives Harrell's C. ``n_ensemble=K`` trains ``K`` nets on ``K`` internal folds and averages them.
"""
        + COMMON_DOC
        + """
    clinical : ClinicalBranch or None, default=None
        The clinical branch; None uses ``ClinicalBranch()`` (screen at p < 0.05, standardised).
        ``ClinicalBranch(select=False)`` feeds every encoded factor to the MLP. Cloned in ``fit``.
    hidden : sequence of int, default=(16, 32, 64)
        Widths of the clinical MLP (paper: 16, 32, 64).

    Attributes
    ----------"""
        + COMMON_ATTRIBUTES
        + """
    clinical_ : ClinicalBranch
        The fitted clinical branch; ``clinical_.selected_features_`` are the MLP's inputs.

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> from sksurv_tace.models import ClinicalBranch
    >>> from sksurv_tace.preprocessing import CTPreprocessor
    >>> X, y = make_tace_cohort(12, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> model = FusionSurvival(image_preprocessor=CTPreprocessor(image_size=32), clinical=ClinicalBranch(select=False),
    ...                        max_epochs=1, batch_size=6, verbose=0, random_state=0).fit(X, y)
    >>> model.predict_survival_at(X.iloc[:2], [365, 1095]).shape
    (2, 2)
    """
    )

    _uses_clinical = True

    def __init__(
        self,
        *,
        image_preprocessor=None,
        clinical=None,
        cuts=DEFAULT_CUTS,
        horizon=1095.0,
        censoring="half_interval",
        interpolation="step",
        backbone="resnet18",
        weights=None,
        hidden=(16, 32, 64),
        dropout=0.2,
        augment=True,
        early_stopping="loss",
        patience=10,
        valid_fraction=0.2,
        n_ensemble=1,
        recalibrate_bn=True,
        baseline_bias=False,
        gradient_clip=1.0,
        lr_schedule="cosine",
        warmup_epochs=0,
        amp=True,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        weight_decay=1e-4,
        max_epochs=40,
        batch_size=32,
        roi_store=None,
        num_workers=0,
        verbose=1,
        progress=False,
        device="auto",
        save_optimizer=False,
        random_state=None,
    ):
        self.image_preprocessor = image_preprocessor
        self.clinical = clinical
        self.cuts = cuts
        self.horizon = horizon
        self.censoring = censoring
        self.interpolation = interpolation
        self.backbone = backbone
        self.weights = weights
        self.hidden = hidden
        self.dropout = dropout
        self.augment = augment
        self.early_stopping = early_stopping
        self.patience = patience
        self.valid_fraction = valid_fraction
        self.n_ensemble = n_ensemble
        self.recalibrate_bn = recalibrate_bn
        self.baseline_bias = baseline_bias
        self.gradient_clip = gradient_clip
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.amp = amp
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.roi_store = roi_store
        self.num_workers = num_workers
        self.verbose = verbose
        self.progress = progress
        self.device = device
        self.save_optimizer = save_optimizer
        self.random_state = random_state

    def fit(self, X, y):
        super().fit(X, y)
        if not self.clinical_.selected_features_:
            warnings.warn("no clinical feature entered the net: it uses the image only", UserWarning, stacklevel=2)
        return self

    fit.__doc__ = _DeepSurvival.fit.__doc__
