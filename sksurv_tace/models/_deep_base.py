"""What :class:`~sksurv_tace.models.FusionSurvival` and :class:`~sksurv_tace.models.CTSurvival` share (not public).

Fitting, fold ensembles (``n_ensemble``), prediction and learning curves; the parameter documentation
both classes' docstrings are built from. The public classes live in :mod:`sksurv_tace.models.deep`.
"""

from __future__ import annotations

import contextlib
import os
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted
from skorch.helper import SliceDict
from sksurv.functions import StepFunction

from sksurv_tace._device import resolve_device
from sksurv_tace._survival import survival_at_times
from sksurv_tace._threads import configure_threads
from sksurv_tace._validation import as_survival_array, check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.models._backbones3d import image_input
from sksurv_tace.models._net import (
    EventStratifiedSplit,
    FixedSplit,
    SurvivalNet,
    drop_training_state,
    survival_with_origin,
    training_callbacks,
)
from sksurv_tace.models._roi_store import ROIDataset, open_roi_store
from sksurv_tace.models._score import SurvivalScoreMixin
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.nn import CENSORING_RULES, FusionNet, ImageOnlyNet, check_cuts, encode_survival
from sksurv_tace.preprocessing.imaging import CTPreprocessor

INTERPOLATIONS = ("step", "constant_hazard")


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


class ConstantHazardFunction(StepFunction):
    """A survival curve known at interval cuts, with a constant hazard within each interval.

    A :class:`sksurv.functions.StepFunction` (``x`` the cuts, ``y`` the survival there) whose call
    interpolates ``log S`` linearly between the cuts instead of holding it constant.
    """

    def __call__(self, x):
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        return survival_at_times(self.y[None, :], self.x, x, interpolation="constant_hazard")[0]


def _ensemble_folds(n_ensemble: int, died: np.ndarray, random_state):
    """``n_ensemble`` folds of the training rows, stratified by death within the cuts when each class allows it."""
    counts = np.bincount(died.astype(int), minlength=2)
    if counts.min() >= n_ensemble:
        cv = StratifiedKFold(n_splits=n_ensemble, shuffle=True, random_state=random_state)
        return list(cv.split(np.zeros(len(died)), died))
    return list(KFold(n_splits=n_ensemble, shuffle=True, random_state=random_state).split(np.zeros(len(died))))


def _loader_params(num_workers: int, pin_memory: bool) -> dict:
    """The skorch ``iterator_*`` parameters of the DataLoaders: worker processes, pinned memory (none by default)."""
    params = {}
    for prefix in ("iterator_train", "iterator_valid"):
        if num_workers:
            params[f"{prefix}__num_workers"] = int(num_workers)
        if pin_memory:
            params[f"{prefix}__pin_memory"] = True
    return params


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
        warmup = self.warmup_epochs
        if isinstance(warmup, bool) or not isinstance(warmup, Integral) or not 0 <= warmup < self.max_epochs:
            raise ValueError(f"warmup_epochs must be an int in [0, max_epochs); got {warmup!r}")
        if warmup and self.lr_schedule != "cosine":
            raise ValueError("warmup_epochs > 0 needs lr_schedule='cosine' (the warm-up leads into the cosine decay)")
        if self.random_state is not None and not isinstance(self.random_state, Integral):
            raise ValueError(f"random_state must be None or an int; got {self.random_state!r}")
        if self.image_preprocessor is not None and not hasattr(self.image_preprocessor, "transform"):
            raise ValueError(f"image_preprocessor must be a CTPreprocessor or None; got {self.image_preprocessor!r}")
        if isinstance(self.n_ensemble, bool) or not isinstance(self.n_ensemble, Integral) or self.n_ensemble < 1:
            raise ValueError(f"n_ensemble must be a positive int (1: one net); got {self.n_ensemble!r}")
        if self.censoring not in CENSORING_RULES:
            raise ValueError(f"censoring must be one of {list(CENSORING_RULES)}; got {self.censoring!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {list(INTERPOLATIONS)}; got {self.interpolation!r}")
        roi_store, workers = getattr(self, "roi_store", None), getattr(self, "num_workers", 0)
        if roi_store is not None and not isinstance(roi_store, str | os.PathLike):
            raise ValueError(f"roi_store must be None or a folder path; got {roi_store!r}")
        if isinstance(workers, bool) or not isinstance(workers, Integral) or workers < 0:
            raise ValueError(f"num_workers must be a non-negative int (0: batches read in the main process); got "
                             f"{workers!r}")  # fmt: skip
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
        """Preprocess the training patients and train the net (or the ``n_ensemble`` nets).

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
        image_columns, image_kwargs = image_input(preprocessor, self.backbone)  # phases, mask; channels (issue 12)
        self._check_frame(X, image_columns)
        event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X))
        if self.n_ensemble > len(X):
            raise ValueError(f"n_ensemble={self.n_ensemble} folds need at least as many patients; got {len(X)}")
        y = as_survival_array(event, time)
        device = resolve_device(self.device)
        self.cuts_ = self.unique_times_ = cuts
        self.image_columns_ = image_columns
        self.image_preprocessor_ = preprocessor.fit(X)
        store = None if self.roi_store is None else open_roi_store(preprocessor, X, image_columns, self.roi_store)
        inputs = {} if store is not None else {"image": self.image_preprocessor_.transform(X)}
        module_kwargs = {"n_intervals": len(cuts) - 1, "backbone": self.backbone, "weights": self.weights}
        module_kwargs["dropout"] = self.dropout
        module_kwargs.update(image_kwargs)
        if self._uses_clinical:
            clinical = self._clinical_frame(X)
            self.clinical_ = clone(self.clinical if self.clinical is not None else ClinicalBranch()).fit(clinical, y)
            inputs["clinical"] = np.asarray(self.clinical_.transform(clinical), dtype=np.float32)
            module_kwargs.update(n_clinical=inputs["clinical"].shape[1], hidden=tuple(self.hidden))
        index, died = encode_survival(time, event, cuts, censoring=self.censoring)
        target = np.column_stack([index, died, time, event]).astype(np.float32)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        configure_threads()  # the preprocessing's workers gone, torch's threads sized to the free cores (issue 15)
        if store is None:
            data = SliceDict(**inputs)
        else:  # ROIs read from disk batch by batch (issue 12)
            data = ROIDataset(store, clinical=inputs.get("clinical"), target=target)
        if self.n_ensemble == 1:
            split = EventStratifiedSplit(self.valid_fraction, self.random_state) if self.early_stopping else None
            members = [self._train(cuts, device, module_kwargs, data, target, split, self.random_state)]
        else:
            members = []
            for k, (train, held_out) in enumerate(_ensemble_folds(self.n_ensemble, died, self.random_state)):
                split = FixedSplit(train, held_out if self.early_stopping else None)
                seed = None if self.random_state is None else int(self.random_state) + k
                members.append(self._train(cuts, device, module_kwargs, data, target, split, seed))
        self.nets_ = [net for net, _ in members]
        self.best_epoch_ = np.array([best for _, best in members], dtype=np.int64)
        self.net_ = self.nets_[0]
        self.history_ = self.net_.history
        return self

    def _train(self, cuts, device, module_kwargs, data, target, split, seed) -> tuple[SurvivalNet, int]:
        """One trained net and the epoch whose weights it kept (early stopping's best, else the last)."""
        net = self._make_net(cuts, device, module_kwargs, split)
        with _seeded(seed, device):
            net.fit(data, target)
        stopper = dict(net.callbacks_).get("early_stopping")
        best = int(stopper.best_epoch_) if stopper is not None and stopper.best_epoch_ else len(net.history)
        if not self.save_optimizer:
            drop_training_state(net)
        return net, best

    def _make_net(self, cuts, device, module_kwargs, split) -> SurvivalNet:
        callbacks = training_callbacks(
            cuts=cuts,
            horizon=float(self.horizon),
            early_stopping=self.early_stopping,
            patience=self.patience,
            gradient_clip=self.gradient_clip,
            lr_schedule=self.lr_schedule,
            warmup_epochs=self.warmup_epochs,
            max_epochs=self.max_epochs,
            progress=self.progress,
        )
        extra = {} if self.weight_decay is None else {"optimizer__weight_decay": self.weight_decay}
        extra.update(_loader_params(self.num_workers, self.roi_store is not None and str(device).startswith("cuda")))
        return SurvivalNet(
            FusionNet if self._uses_clinical else ImageOnlyNet,
            augment=self.augment,
            amp=self.amp,
            recalibrate_bn=self.recalibrate_bn,
            baseline_bias=self.baseline_bias,
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

    @property
    def learning_curve_(self) -> pd.DataFrame:
        """Per member and epoch: ``train_loss``, ``valid_loss`` (NaN without early stopping) and ``best``.

        ``best`` marks the epoch whose weights the member kept (``best_epoch_``). One member unless
        ``n_ensemble > 1``. Plot ``train_loss`` and ``valid_loss`` against ``epoch`` for learning curves.
        """
        check_is_fitted(self, "nets_")
        rows = []
        for member, (net, best) in enumerate(zip(self.nets_, self.best_epoch_, strict=True)):
            for epoch, row in enumerate(net.history, start=1):
                rows.append(
                    dict(member=member, epoch=epoch, train_loss=float(row.get("train_loss", np.nan)),
                         valid_loss=float(row.get("valid_loss", np.nan)), best=epoch == best)
                )  # fmt: skip
        return pd.DataFrame(rows, columns=["member", "epoch", "train_loss", "valid_loss", "best"])

    # ------------------------------------------------------------- predict
    def _members_at_cuts(self, X) -> np.ndarray:
        """``S`` at the cuts for each member, shape ``(n_members, n_samples, len(cuts))``."""
        check_is_fitted(self, "net_")
        batch = self._prediction_data(X)
        nets = getattr(self, "nets_", None) or [self.net_]  # a model pickled before n_ensemble existed
        return np.stack([survival_with_origin(net.forward(batch)) for net in nets])

    def _prediction_data(self, X):
        """The net's input for ``X``: a SliceDict of arrays, or with ``roi_store`` a dataset reading the store."""
        if getattr(self, "roi_store", None) is None:
            return SliceDict(**self.prepare_inputs(X))
        self._check_frame(X, self.image_columns_)
        store = open_roi_store(self.image_preprocessor_, X, self.image_columns_, self.roi_store)
        clinical = None
        if self._uses_clinical:
            clinical = np.asarray(self.clinical_.transform(self._clinical_frame(X)), dtype=np.float32)
        return ROIDataset(store, clinical=clinical)

    def _survival_at_cuts(self, X) -> np.ndarray:
        return self._members_at_cuts(X).mean(axis=0)

    def predict(self, X):
        """Risk ``1 - S(horizon)`` (higher = worse prognosis); with ``n_ensemble > 1``, of the members' mean ``S``.

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
        """Survival functions (the members' mean with ``n_ensemble > 1``), known at the interval cuts.

        Parameters
        ----------
        X : DataFrame
        return_array : bool, default=False
            If True, an array of ``S`` at ``unique_times_`` (the cuts, ``S(0) = 1`` first);
            else :class:`sksurv.functions.StepFunction` objects on the domain ``[0, cuts[-1]]``
            (``interpolation="constant_hazard"``: a subclass whose call interpolates between the cuts).

        Returns
        -------
        ndarray of StepFunction, shape (n_samples,), or ndarray of float, shape (n_samples, len(cuts))
        """
        survival = self._survival_at_cuts(X)
        if return_array:
            return survival
        kind = ConstantHazardFunction if getattr(self, "interpolation", "step") == "constant_hazard" else StepFunction
        return np.array([kind(self.cuts_, row, domain=(0, self.cuts_[-1])) for row in survival])

    def predict_survival_at(self, X, times):
        """Survival probabilities at ``times`` (in ``[0, cuts[-1]]``), shape (n_samples, len(times)).

        Between the cuts by ``interpolation``; with ``n_ensemble > 1`` the members' mean.

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
        interpolation = getattr(self, "interpolation", "step")
        members = self._members_at_cuts(X)
        return np.mean([survival_at_times(s, self.cuts_, times, interpolation) for s in members], axis=0)


COMMON_DOC = """
    Parameters
    ----------
    image_preprocessor : CTPreprocessor or None, default=None
        Turns the ``ct``/``mask`` path columns into tumour-ROI tensors (ROI size, margin, window,
        mask label, cache folder, parallel patients); None uses ``CTPreprocessor()`` (224 px,
        50 mm margin). Cloned in ``fit``; tune it with ``image_preprocessor__margin_mm`` etc.
    cuts : sequence of float, default=(0, 365, 730, 1095, 1460)
        Interval cuts in days (start at 0, strictly increasing); one output logit per interval
        ``(c_j, c_{j+1}]``: a death on a cut day counts in the interval ending that day.
    horizon : float, default=1095
        Time of the risk ``1 - S(horizon)`` returned by ``predict``; must not exceed ``cuts[-1]``.
    censoring : {"half_interval", "completed"}, default="half_interval"
        How the loss counts a patient censored inside an interval: ``"half_interval"`` (Nnet-survival)
        as having survived it when censored at or past its midpoint; ``"completed"`` (pycox's
        ``LogisticHazard``) as having survived only the intervals completed before censoring. See
        :func:`~sksurv_tace.models.nn.encode_survival`.
    interpolation : {"step", "constant_hazard"}, default="step"
        Survival between the cuts: piecewise constant (dropping at each cut), or a constant hazard
        within each interval (``log S`` linear between cuts), so that a horizon off a cut is not a step.
    backbone : str, default="resnet18"
        torchvision ResNet name (paper: ``"resnet101"``); for ``CTPreprocessor(mode="3d")`` VOIs a 3-D
        ResNet (``"resnet10_3d"`` ... ``"resnet101_3d"``, MONAI's, the optional extra ``sksurv_tace[3d]``).
    weights : None or path, default=None
        Local state-dict of the backbone (never downloaded); a 3-D backbone loads a MedicalNet-style file
        with a warning listing what did not fit (:class:`~sksurv_tace.models.nn.ImageEncoder`).
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
        Share held out for early stopping (with ``n_ensemble > 1`` each net's held-out fold instead).
    n_ensemble : int, default=1
        Number of nets. ``K > 1``: the training patients are split into ``K`` event-stratified folds;
        net ``k`` trains on the other ``K - 1`` folds, with fold ``k`` as its early-stopping set (left out
        when ``early_stopping=None``), seeded ``random_state + k``; survival curves and the risk are the
        members' mean. ``1`` is a single net with the ``valid_fraction`` split.
    recalibrate_bn : bool, default=True
        After each training epoch, recompute BatchNorm's running statistics over the training patients
        with the current weights ("precise BN"), before validation and for prediction. Without it (the
        behaviour before issue 11) the running averages lag behind weights that change fast in the first
        epochs, and the evaluation-mode net scored its own training patients up to 3x worse than in
        training mode: early stopping then chased noise (see ``benchmarks/deep_training.py``).
    baseline_bias : bool, default=False
        Start the survival head's bias at the training patients' life-table logits
        (:func:`~sksurv_tace.models.nn.baseline_logits`) instead of 0 (``h_j = 0.5``).
    gradient_clip : float or None, default=1.0
        Maximum gradient norm (skorch ``GradientNormClipping``).
    lr_schedule : {"cosine", None}, default="cosine"
        Cosine annealing of the learning rate over ``max_epochs``.
    warmup_epochs : int, default=0
        Linear learning-rate warm-up before the cosine decay: epoch ``k`` of the first ``warmup_epochs``
        trains at ``k / warmup_epochs`` of ``lr`` (needs ``lr_schedule="cosine"``). 0: no warm-up.
    amp : bool, default=True
        bfloat16 autocast (and channels-last memory) when training on CUDA; ignored on CPU.
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=1e-3
    weight_decay : float or None, default=1e-4
        Weight decay of the optimizer.
    max_epochs : int, default=40
    batch_size : int, default=32
    roi_store : None or path, default=None
        None holds the cohort's ROIs in memory as one float32 array (about 0.6 MB per patient at 224
        px). A folder: the ROIs are written there once per cohort and preprocessing, in one ``.npy``
        file named by the preprocessing cache's key (file contents, parameters), and training and
        prediction read each batch's rows from it, so a cohort larger than memory trains; a later fit
        or prediction on the same patients reuses the file, and no existing file is overwritten
        (see ``docs/scale.rst``). Predictions equal those of ``None`` (the same arrays reach the net).
    num_workers : int, default=0
        Worker processes of the torch ``DataLoader`` reading the batches (0: the main process).
        With ``roi_store`` on CUDA the batches are also copied through pinned memory.
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

COMMON_ATTRIBUTES = """
    net_ : skorch.NeuralNet
        The trained net (``net_.module_`` is the torch module, ``net_.history`` its epochs); with
        ``n_ensemble > 1`` the first member (Grad-CAM explains it).
    nets_ : list of skorch.NeuralNet
        The ``n_ensemble`` trained nets (``[net_]`` for one).
    history_ : skorch.callbacks.History
        ``net_.history``.
    best_epoch_ : ndarray of int, shape (n_ensemble,)
        Per net, the epoch whose weights it kept (early stopping's best; the last epoch without it).
    learning_curve_ : DataFrame
        Per net and epoch: ``member``, ``epoch``, ``train_loss``, ``valid_loss``, ``best``.
    image_preprocessor_ : CTPreprocessor
    image_columns_ : list of str
        The CT and mask path columns (never clinical).
    cuts_, unique_times_ : ndarray
        The interval cuts (the grid of ``predict_survival_function(..., return_array=True)``)."""
