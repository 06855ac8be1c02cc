"""Deep survival models: :class:`FusionSurvival` (CT + clinical) and :class:`CTSurvival` (CT only).

These are the paper's DLOP_Combin and DLOP_CTR. Each is a scikit-survival estimator that *owns*
a skorch net built in ``fit`` (``net_``) and two sub-estimators: ``image_preprocessor`` (a
:class:`~sksurv_tace.preprocessing.CTPreprocessor` turning CT/mask paths into tumour-ROI tensors)
and, for the fusion model, ``clinical`` (a :class:`~sksurv_tace.models.ClinicalBranch`: encoding,
univariate -> multivariable Cox screen and scaling, fitted on the training rows only). Both tune in
``GridSearchCV`` through ``image_preprocessor__*`` and ``clinical__*``.

Survival between cuts
---------------------
The net gives survival only at the interval cuts ``c_0 = 0 < c_1 < ... < c_m``. Between
them ``S`` is **piecewise constant**, right-continuous, dropping at each cut:
``S(t) = S(c_k)`` for ``c_k <= t < c_{k+1}``, with ``S(t) = 1`` before ``c_1``. This is
:class:`sksurv.functions.StepFunction` on ``x = cuts``. So ``S(1095) = h_1 h_2 h_3``, the
paper's "product of the first three perceptrons". Times beyond the last cut are refused.
"""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted
from skorch.helper import SliceDict
from sksurv.functions import StepFunction

from sksurv_tace._device import resolve_device
from sksurv_tace._survival import survival_at_times
from sksurv_tace._threads import configure_threads
from sksurv_tace._validation import as_survival_array, check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.models._net import (
    EventStratifiedSplit,
    SurvivalNet,
    drop_training_state,
    survival_with_origin,
    training_callbacks,
)
from sksurv_tace.models._score import SurvivalScoreMixin
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.nn import DEFAULT_CUTS, FusionNet, ImageOnlyNet, check_cuts, encode_survival
from sksurv_tace.preprocessing.imaging import CTPreprocessor

__all__ = ["CTSurvival", "FusionSurvival"]


@contextlib.contextmanager
def _seeded(random_state, device: str):
    """Seed torch for the fit without disturbing the caller's global RNG state."""
    if random_state is None:
        yield
        return
    devices = list(range(torch.cuda.device_count())) if device.startswith("cuda") else []
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(random_state))
        if device == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


class _DeepSurvival(SurvivalScoreMixin, BaseEstimator):
    """What :class:`FusionSurvival` and :class:`CTSurvival` share (not public)."""

    _uses_clinical = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.categorical = self._uses_clinical
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> np.ndarray:
        cuts = check_cuts(self.cuts)
        if not isinstance(self.horizon, Real) or not 0 < float(self.horizon) <= cuts[-1]:
            raise ValueError(
                f"horizon={self.horizon!r} must be a number in (0, {cuts[-1]:g}], the last interval cut: the model "
                "has no survival estimate beyond it"
            )
        if self.lr_schedule not in (None, "cosine"):
            raise ValueError(f"lr_schedule must be None or 'cosine'; got {self.lr_schedule!r}")
        if self.early_stopping not in (None, False, "loss", "cindex"):
            raise ValueError(f"early_stopping must be None, 'loss' or 'cindex'; got {self.early_stopping!r}")
        if not isinstance(self.max_epochs, Integral) or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive int; got {self.max_epochs!r}")
        if self.random_state is not None and not isinstance(self.random_state, Integral):
            raise ValueError(f"random_state must be None or an int; got {self.random_state!r}")
        if self.image_preprocessor is not None and not hasattr(self.image_preprocessor, "transform"):
            raise ValueError(f"image_preprocessor must be a CTPreprocessor or None; got {self.image_preprocessor!r}")
        return cuts

    def _check_frame(self, X, image_columns):
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"X must be a pandas DataFrame with the image path columns {list(image_columns)}")
        check_clinical_columns(X, list(image_columns))
        if len(X) == 0:
            raise ValueError("X has no rows")

    # -------------------------------------------------------------- inputs
    def _image_preprocessor(self) -> CTPreprocessor:
        return clone(self.image_preprocessor) if self.image_preprocessor is not None else CTPreprocessor()

    def _clinical_frame(self, X) -> pd.DataFrame:
        return X.drop(columns=[c for c in self.image_columns_ if c in X.columns])

    def prepare_inputs(self, X) -> dict:
        """The inputs the fitted net sees for ``X``: ``{"image": (n, 3, H, W)[, "clinical": (n, p)]}``.

        Parameters
        ----------
        X : DataFrame
            Patients with image paths (and the clinical columns seen in ``fit``).

        Returns
        -------
        dict of ndarray of float32
        """
        check_is_fitted(self, "net_")
        self._check_frame(X, self.image_columns_)
        inputs = {"image": self.image_preprocessor_.transform(X)}
        if self._uses_clinical:
            inputs["clinical"] = np.asarray(self.clinical_.transform(self._clinical_frame(X)), dtype=np.float32)
        return inputs

    # ----------------------------------------------------------------- fit
    def fit(self, X, y):
        """Preprocess the training patients and train the net.

        Parameters
        ----------
        X : DataFrame
            One row per patient: the image preprocessor's path columns and, for
            :class:`FusionSurvival`, the clinical columns.
        y : structured array
            Survival target (``sksurv.util.Surv.from_arrays(event, time)``), times in the unit of ``cuts``.

        Returns
        -------
        self
        """
        cuts = self._check_params()
        preprocessor = self._image_preprocessor()
        image_columns = [preprocessor.image_column, preprocessor.mask_column]
        self._check_frame(X, image_columns)
        event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        y = as_survival_array(event, time)
        device = resolve_device(self.device)
        self.cuts_ = self.unique_times_ = cuts
        self.image_columns_ = image_columns
        self.image_preprocessor_ = preprocessor.fit(X)
        inputs = {"image": self.image_preprocessor_.transform(X)}
        module_kwargs = {"n_intervals": len(cuts) - 1, "backbone": self.backbone, "weights": self.weights}
        module_kwargs["dropout"] = self.dropout
        if self._uses_clinical:
            clinical = self._clinical_frame(X)
            self.clinical_ = clone(self.clinical if self.clinical is not None else ClinicalBranch()).fit(clinical, y)
            inputs["clinical"] = np.asarray(self.clinical_.transform(clinical), dtype=np.float32)
            module_kwargs.update(n_clinical=inputs["clinical"].shape[1], hidden=tuple(self.hidden))
        index, died = encode_survival(time, event, cuts)
        target = np.column_stack([index, died, time, event]).astype(np.float32)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.net_ = self._make_net(cuts, device, module_kwargs)
        configure_threads()  # the preprocessing's workers gone, torch's threads sized to the free cores (issue 15)
        with _seeded(self.random_state, device):
            self.net_.fit(SliceDict(**inputs), target)
        if not self.save_optimizer:
            drop_training_state(self.net_)
        self.history_ = self.net_.history
        return self

    def _make_net(self, cuts, device, module_kwargs) -> SurvivalNet:
        callbacks = training_callbacks(
            cuts=cuts,
            horizon=float(self.horizon),
            early_stopping=self.early_stopping,
            patience=self.patience,
            gradient_clip=self.gradient_clip,
            lr_schedule=self.lr_schedule,
            max_epochs=self.max_epochs,
            progress=self.progress,
        )
        split = EventStratifiedSplit(self.valid_fraction, self.random_state) if self.early_stopping else None
        extra = {} if self.weight_decay is None else {"optimizer__weight_decay": self.weight_decay}
        return SurvivalNet(
            FusionNet if self._uses_clinical else ImageOnlyNet,
            augment=self.augment,
            amp=self.amp,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=split,
            callbacks=callbacks,
            verbose=self.verbose,
            device=device,
            **{f"module__{k}": v for k, v in module_kwargs.items()},
            **extra,
        )

    # ------------------------------------------------------------- predict
    def _survival_at_cuts(self, X) -> np.ndarray:
        check_is_fitted(self, "net_")
        return survival_with_origin(self.net_.forward(SliceDict(**self.prepare_inputs(X))))

    def predict(self, X):
        """Risk ``1 - S(horizon)`` (higher = worse prognosis).

        Parameters
        ----------
        X : DataFrame

        Returns
        -------
        risk : ndarray of float64, shape (n_samples,)
        """
        self._check_params()
        return 1.0 - self.predict_survival_at(X, [float(self.horizon)])[:, 0]

    def predict_survival_function(self, X, return_array=False):
        """Survival functions, piecewise constant between the interval cuts.

        Parameters
        ----------
        X : DataFrame
        return_array : bool, default=False
            If True, an array of ``S`` at ``unique_times_`` (the cuts, ``S(0) = 1`` first);
            else :class:`sksurv.functions.StepFunction` objects on the domain ``[0, cuts[-1]]``.

        Returns
        -------
        ndarray of StepFunction, shape (n_samples,), or ndarray of float, shape (n_samples, len(cuts))
        """
        survival = self._survival_at_cuts(X)
        if return_array:
            return survival
        return np.array([StepFunction(self.cuts_, row, domain=(0, self.cuts_[-1])) for row in survival])

    def predict_survival_at(self, X, times):
        """Survival probabilities at ``times`` (in ``[0, cuts[-1]]``), shape (n_samples, len(times)).

        Parameters
        ----------
        X : DataFrame
        times : float or sequence of float

        Returns
        -------
        ndarray of float64
        """
        check_is_fitted(self, "net_")
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        survival_at_times(np.ones((1, len(self.cuts_))), self.cuts_, times)  # check times before reading images
        return survival_at_times(self._survival_at_cuts(X), self.cuts_, times)


_COMMON_DOC = """
    Parameters
    ----------
    image_preprocessor : CTPreprocessor or None, default=None
        Turns the ``ct``/``mask`` path columns into tumour-ROI tensors (ROI size, margin, window,
        mask label, cache folder, parallel patients); None uses ``CTPreprocessor()`` (224 px,
        50 mm margin). Cloned in ``fit``; tune it with ``image_preprocessor__margin_mm`` etc.
    cuts : sequence of float, default=(0, 365, 730, 1095, 1460)
        Interval cuts in days (start at 0, strictly increasing); one output logit per interval.
    horizon : float, default=1095
        Time of the risk ``1 - S(horizon)`` returned by ``predict``; must not exceed ``cuts[-1]``.
    backbone : str, default="resnet18"
        torchvision ResNet name (paper: ``"resnet101"``).
    weights : None or path, default=None
        Local state-dict of the backbone (never downloaded).
    dropout : float, default=0.2
    augment : bool, default=True
        Random flips, rotations up to 10 degrees and brightness/contrast jitter of training batches
        (:mod:`torchvision.transforms.v2`); never applied to validation or prediction.
    early_stopping : {"loss", "cindex", None}, default="loss"
        Hold out an event-stratified ``valid_fraction`` of the training patients and stop when the
        validation loss (or Harrell's C) has not improved for ``patience`` epochs, restoring the best
        weights. ``None`` trains ``max_epochs`` epochs on all patients.
    patience : int, default=10
    valid_fraction : float, default=0.2
    gradient_clip : float or None, default=1.0
        Maximum gradient norm (skorch ``GradientNormClipping``).
    lr_schedule : {"cosine", None}, default="cosine"
        Cosine annealing of the learning rate over ``max_epochs``.
    amp : bool, default=True
        bfloat16 autocast (and channels-last memory) when training on CUDA; ignored on CPU.
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=1e-3
    weight_decay : float or None, default=1e-4
        Weight decay of the optimizer.
    max_epochs : int, default=40
    batch_size : int, default=32
    verbose : int, default=1
        1 prints skorch's table of epochs (losses, duration).
    progress : bool, default=False
        Show a skorch progress bar over the batches of each epoch.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Resolved in ``fit``: "auto" uses CUDA when available, else CPU.
    save_optimizer : bool, default=False
        Keep the optimizer's state and the training callbacks (LR scheduler, early stopping's copy
        of the best weights) in ``net_`` after ``fit``, e.g. to go on training with
        ``net_.partial_fit``. By default they are dropped, so that a saved model is about the size
        of its network's weights (about three times that with them).
    random_state : int or None, default=None
        Seeds torch (weights, shuffling, augmentation, validation split) for the fit, inside a
        forked RNG; on CPU deterministic algorithms are switched on during the fit."""

_COMMON_ATTRIBUTES = """
    net_ : skorch.NeuralNet
        The trained net (``net_.module_`` is the torch module, ``net_.history`` its epochs).
    history_ : skorch.callbacks.History
        ``net_.history``.
    image_preprocessor_ : CTPreprocessor
    image_columns_ : list of str
        The CT and mask path columns (never clinical).
    cuts_, unique_times_ : ndarray
        The interval cuts (the grid of ``predict_survival_function(..., return_array=True)``)."""


class CTSurvival(_DeepSurvival):
    __doc__ = (
        """The paper's DLOP_CTR: a ResNet on the tumour ROI -> discrete-time survival head.

    ``predict`` gives ``1 - S(horizon)`` (paper: 3-year survival, ``horizon=1095``); ``score``
    gives Harrell's C. Survival is piecewise constant between the cuts (see
    :mod:`sksurv_tace.models.deep`).
"""
        + _COMMON_DOC
        + """

    Attributes
    ----------"""
        + _COMMON_ATTRIBUTES
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
        backbone="resnet18",
        weights=None,
        dropout=0.2,
        augment=True,
        early_stopping="loss",
        patience=10,
        valid_fraction=0.2,
        gradient_clip=1.0,
        lr_schedule="cosine",
        amp=True,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        weight_decay=1e-4,
        max_epochs=40,
        batch_size=32,
        verbose=1,
        progress=False,
        device="auto",
        save_optimizer=False,
        random_state=None,
    ):
        self.image_preprocessor = image_preprocessor
        self.cuts = cuts
        self.horizon = horizon
        self.backbone = backbone
        self.weights = weights
        self.dropout = dropout
        self.augment = augment
        self.early_stopping = early_stopping
        self.patience = patience
        self.valid_fraction = valid_fraction
        self.gradient_clip = gradient_clip
        self.lr_schedule = lr_schedule
        self.amp = amp
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
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
    gives Harrell's C; survival is piecewise constant between the cuts.
"""
        + _COMMON_DOC
        + """
    clinical : ClinicalBranch or None, default=None
        The clinical branch; None uses ``ClinicalBranch()`` (screen at p < 0.05, standardised).
        ``ClinicalBranch(select=False)`` feeds every encoded factor to the MLP. Cloned in ``fit``.
    hidden : sequence of int, default=(16, 32, 64)
        Widths of the clinical MLP (paper: 16, 32, 64).

    Attributes
    ----------"""
        + _COMMON_ATTRIBUTES
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
        backbone="resnet18",
        weights=None,
        hidden=(16, 32, 64),
        dropout=0.2,
        augment=True,
        early_stopping="loss",
        patience=10,
        valid_fraction=0.2,
        gradient_clip=1.0,
        lr_schedule="cosine",
        amp=True,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        weight_decay=1e-4,
        max_epochs=40,
        batch_size=32,
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
        self.backbone = backbone
        self.weights = weights
        self.hidden = hidden
        self.dropout = dropout
        self.augment = augment
        self.early_stopping = early_stopping
        self.patience = patience
        self.valid_fraction = valid_fraction
        self.gradient_clip = gradient_clip
        self.lr_schedule = lr_schedule
        self.amp = amp
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
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
