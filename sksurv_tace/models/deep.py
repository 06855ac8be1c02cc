"""Deep survival models on skorch: :class:`FusionSurvival` (CT + clinical) and :class:`CTSurvival` (CT only).

These are the paper's DLOP_Combin and DLOP_CTR. ``fit(X, y)`` takes the patient table
(``ct``/``mask`` path columns plus clinical columns) and a scikit-survival target; inside
``fit`` the clinical factors are encoded and screened by univariate -> multivariable Cox
(:class:`~sksurv_tace.preprocessing.CoxFeatureSelector`, fitted on the training rows only), the CT
volumes become tumour-ROI tensors (:class:`~sksurv_tace.preprocessing.CTPreprocessor`), and skorch
trains the discrete-time survival net of :mod:`sksurv_tace.models.nn`.

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
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, EpochScoring, GradientNormClipping, LRScheduler, ProgressBar
from skorch.dataset import unpack_data
from skorch.helper import SliceDict
from skorch.utils import to_tensor
from sksurv.base import SurvivalAnalysisMixin
from sksurv.functions import StepFunction
from sksurv.metrics import concordance_index_censored

from sksurv_tace._survival import survival_at_times
from sksurv_tace._validation import check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.models.nn import DEFAULT_CUTS, DiscreteTimeNLL, FusionNet, ImageOnlyNet, check_cuts, encode_survival
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor
from sksurv_tace.preprocessing.cox_screen import CoxFeatureSelector
from sksurv_tace.preprocessing.imaging import CTPreprocessor

__all__ = ["CTSurvival", "EventStratifiedSplit", "FusionSurvival"]


def _resolve_device(device):
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class EventStratifiedSplit:
    """skorch ``train_split``: one train/validation split stratified by the death indicator.

    Used for early stopping. The target handed over by the estimators has the death-within-cuts
    indicator in its second column; when a class has fewer than 2 patients the split is not
    stratified.

    Parameters
    ----------
    fraction : float, default=0.2
        Share of the patients held out for validation.
    random_state : int or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> split = EventStratifiedSplit(0.25, random_state=0)
    >>> y = np.array([[0, 1.0], [1, 0.0]] * 4)
    >>> train, valid = split(np.arange(8), y)
    >>> len(train), len(valid), int(y[valid.indices, 1].sum())
    (6, 2, 1)
    """

    def __init__(self, fraction=0.2, random_state=None):
        self.fraction = fraction
        self.random_state = random_state

    def __repr__(self):
        return f"EventStratifiedSplit(fraction={self.fraction!r}, random_state={self.random_state!r})"

    def __call__(self, dataset, y=None, groups=None):
        if not 0 < self.fraction < 1:
            raise ValueError(f"the validation fraction must be in (0, 1); got {self.fraction!r}")
        n = len(dataset)
        strata = None if y is None else np.asarray(y)[:, 1]
        counts = np.bincount(strata.astype(int)) if strata is not None else np.array([])
        n_valid = int(np.ceil(self.fraction * n))
        stratify = strata is not None and counts.size == 2 and counts.min() >= 2 and 2 <= n_valid <= n - 2
        cv_cls = StratifiedShuffleSplit if stratify else ShuffleSplit
        cv = cv_cls(n_splits=1, test_size=self.fraction, random_state=self.random_state)
        train, valid = next(cv.split(np.zeros(n), strata if stratify else None))
        return torch.utils.data.Subset(dataset, train), torch.utils.data.Subset(dataset, valid)


def _valid_cindex(net, X, y):
    """EpochScoring function: Harrell's C of ``1 - S(horizon)`` on the internal validation split."""
    logits = net.forward(X)
    risk = net._risk_from_logits(logits)
    y = np.asarray(y)
    event, time = y[:, 3].astype(bool), y[:, 2]
    if not event.any():
        return 0.5
    return float(concordance_index_censored(event, time, risk)[0])


class _DeepSurvivalNet(SurvivalAnalysisMixin, NeuralNet):
    """Shared machinery of :class:`FusionSurvival` and :class:`CTSurvival` (not public)."""

    _uses_clinical = False
    _default_module = ImageOnlyNet

    # ``device`` is a constructor parameter that may be "auto". skorch moves tensors and modules
    # with ``self.device``, so reading the attribute gives the resolved device while
    # ``get_params`` and pickling keep the value the user passed.
    @property
    def device(self):
        return _resolve_device(self.__dict__.get("device", "cpu"))

    @device.setter
    def device(self, value):
        self.__dict__["device"] = value

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        if "device" in params:
            params["device"] = self.__dict__.get("device", "cpu")
        return params

    def __setstate__(self, state):
        raw = state.get("device")
        state["device"] = _resolve_device(raw)
        super().__setstate__(state)
        if raw == "auto":
            self.__dict__["device"] = raw

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.categorical = self._uses_clinical
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self):
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
        if self.random_state is not None and not isinstance(self.random_state, Integral):
            raise ValueError(f"random_state must be None or an int; got {self.random_state!r}")
        return cuts

    def _check_frame(self, X, *, fitting):
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"X must be a pandas DataFrame with {self.image_column!r}/{self.mask_column!r} columns")
        check_clinical_columns(X, [self.image_column, self.mask_column])
        if len(X) == 0:
            raise ValueError("X has no rows")
        if not fitting and self._uses_clinical:
            check_clinical_columns(X, list(self.clinical_columns_in_), what="X (columns seen in fit)")

    # -------------------------------------------------------- preprocessing
    def _make_image_preprocessor(self):
        return CTPreprocessor(
            image_column=self.image_column,
            mask_column=self.mask_column,
            margin_mm=self.margin_mm,
            image_size=self.image_size,
            n_jobs=self.n_jobs,
            memory=self.memory,
            progress=self.progress,
        )

    def _make_clinical_pipeline(self):
        prep = ClinicalPreprocessor(columns=self.clinical_columns, log_transform=self.log_transform, impute=self.impute)
        steps = [("prep", prep)]
        if self.select_clinical:
            steps.append(
                ("select", CoxFeatureSelector(p_univariate=self.p_univariate, p_multivariable=self.p_multivariable))
            )
        steps.append(("scale", StandardScaler()))
        return Pipeline(steps)

    def _clinical_frame(self, X):
        return X.drop(columns=[self.image_column, self.mask_column])

    def prepare_inputs(self, X) -> dict:
        """The inputs the fitted module sees for ``X``: ``{"image": (n, 3, H, W)[, "clinical": (n, p)]}``.

        Parameters
        ----------
        X : DataFrame
            Patients with image paths (and the clinical columns seen in ``fit``).

        Returns
        -------
        dict of ndarray of float32
        """
        check_is_fitted(self, "image_preprocessor_")
        self._check_frame(X, fitting=False)
        inputs = {"image": self.image_preprocessor_.transform(X)}
        if self._uses_clinical:
            inputs["clinical"] = self._clinical_array(X)
        return inputs

    def _clinical_array(self, X):
        if self.n_clinical_features_ == 0:
            return np.zeros((len(X), 0), dtype=np.float32)
        return np.asarray(self.clinical_pipeline_.transform(self._clinical_frame(X)), dtype=np.float32)

    # ---------------------------------------------------------------- fit
    def fit(self, X, y, **fit_params):
        """Preprocess the training patients and train the net.

        Parameters
        ----------
        X : DataFrame
            One row per patient: ``image_column``/``mask_column`` paths and, for
            :class:`FusionSurvival`, the clinical columns.
        y : structured array
            Survival target (``sksurv.util.Surv.from_arrays(event, time)``), times in the unit of ``cuts``.
        **fit_params
            Passed to :meth:`skorch.NeuralNet.fit`.

        Returns
        -------
        self
        """
        cuts = self._check_params()
        self._check_frame(X, fitting=True)
        labels = row_labels(X)
        event, time = check_survival_target(y, n_samples=len(X), labels=labels)
        self.cuts_ = cuts
        self.unique_times_ = cuts
        self.image_preprocessor_ = self._make_image_preprocessor().fit(X)
        inputs = {"image": self.image_preprocessor_.transform(X)}
        if self._uses_clinical:
            clinical = self._clinical_frame(X)
            self.clinical_columns_in_ = list(clinical.columns)
            if clinical.shape[1] == 0:  # only identifiers and images: the net uses the image alone
                self.clinical_pipeline_ = None
                self.clinical_features_ = []
            else:
                self.clinical_pipeline_ = self._make_clinical_pipeline().fit(clinical, y)
                step = "select" if self.select_clinical else "prep"
                self.clinical_features_ = list(self.clinical_pipeline_.named_steps[step].get_feature_names_out())
            self.n_clinical_features_ = len(self.clinical_features_)
            inputs["clinical"] = self._clinical_array(X)
        index, died = encode_survival(time, event, cuts)
        target = np.column_stack([index, died, time, event]).astype(np.float32)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        with self._seeded():
            super().fit(SliceDict(**inputs), target, **fit_params)
        return self

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch for the fit without disturbing the caller's global RNG state."""
        if self.random_state is None:
            yield
            return
        devices = list(range(torch.cuda.device_count())) if str(self.device).startswith("cuda") else []
        deterministic = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(self.random_state))
            if str(self.device) == "cpu":
                torch.use_deterministic_algorithms(True, warn_only=True)
            try:
                yield
            finally:
                torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)

    # ------------------------------------------------------- skorch hooks
    def initialize(self):
        super().initialize()
        # The LR-scheduler callback holds the optimizer (CUDA tensors after a GPU fit): pickle the callbacks
        # with skorch's device-mapping part of the state so a CUDA-trained model unpickles on a CPU-only machine.
        if "callbacks_" not in self.cuda_dependent_attributes_:
            self.cuda_dependent_attributes_ = [*self.cuda_dependent_attributes_, "callbacks_"]
        return self

    def _module_kwargs(self) -> dict:
        kwargs = {
            "n_intervals": len(check_cuts(self.cuts)) - 1,
            "backbone": self.backbone,
            "weights": self.weights,
            "in_channels": 3,
            "dropout": self.dropout,
        }
        if self._uses_clinical:
            if not hasattr(self, "n_clinical_features_"):
                raise ValueError(f"{type(self).__name__} builds its net in fit(): call fit(X, y), not initialize()")
            kwargs["n_clinical"] = self.n_clinical_features_
            kwargs["hidden"] = tuple(self.hidden)
        return kwargs

    def initialize_module(self):
        """Build the net from the estimator's parameters; ``module__*`` parameters override them."""
        module = self.module if self.module is not None else self._default_module
        if isinstance(module, torch.nn.Module):
            kwargs = self.get_params_for("module")
        else:
            kwargs = {**self._module_kwargs(), **self.get_params_for("module")}
        module = self.initialized_instance(module, kwargs)
        if self._cuda_extras():
            module = module.to(memory_format=torch.channels_last)
        self.module_ = module
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix == "optimizer" and self.weight_decay is not None:
            kwargs.setdefault("weight_decay", self.weight_decay)
        return args, kwargs

    def get_default_callbacks(self):
        callbacks = list(super().get_default_callbacks())
        extra = []
        if self.early_stopping == "cindex":
            extra.append(("valid_cindex", EpochScoring(_valid_cindex, lower_is_better=False, name="valid_cindex")))
        if self.gradient_clip is not None:
            extra.append(("gradient_clip", GradientNormClipping(gradient_clip_value=self.gradient_clip)))
        if self.lr_schedule == "cosine":
            epochs = self.max_epochs if isinstance(self.max_epochs, Integral) and self.max_epochs > 0 else 1
            extra.append(("lr_scheduler", LRScheduler(policy="CosineAnnealingLR", T_max=int(epochs))))
        if self.early_stopping:
            monitor = "valid_cindex" if self.early_stopping == "cindex" else "valid_loss"
            extra.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor=monitor,
                        patience=self.patience,
                        lower_is_better=monitor == "valid_loss",
                        load_best=True,
                    ),
                )
            )
        if self.progress:
            extra.append(("progress_bar", ProgressBar()))
        names = [name for name, _ in callbacks]
        at = names.index("print_log") if "print_log" in names else len(callbacks)
        return callbacks[:at] + extra + callbacks[at:]

    def get_split_datasets(self, X, y=None, **fit_params):
        if self.train_split is None and self.early_stopping:
            dataset = self.get_dataset(X, y)
            return EventStratifiedSplit(self.valid_fraction, self.random_state)(dataset, y)
        return super().get_split_datasets(X, y, **fit_params)

    def get_iterator(self, dataset, training=False):
        """Batches fetched whole (one fancy-indexing per batch instead of one item per patient).

        Training batches are shuffled (skorch's ``NeuralNet`` does not by default) and a last batch of
        one patient is dropped (BatchNorm cannot train on it); ``iterator_train__shuffle`` /
        ``__drop_last`` override this. With a custom iterator, sampler or collate function skorch's
        per-item loading is used.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        custom = {"sampler", "batch_sampler", "collate_fn"} & set(kwargs)
        if iterator is not torch.utils.data.DataLoader or custom:
            return super().get_iterator(dataset, training=training)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        batch_size = len(dataset) if batch_size == -1 else int(batch_size)
        shuffle = kwargs.pop("shuffle", training)
        drop_last = kwargs.pop("drop_last", training and len(dataset) > 1 and len(dataset) % batch_size == 1)
        order = torch.utils.data.RandomSampler(dataset) if shuffle else torch.utils.data.SequentialSampler(dataset)
        batches = torch.utils.data.BatchSampler(order, batch_size, drop_last)
        return torch.utils.data.DataLoader(dataset, batch_size=None, sampler=batches, **kwargs)

    def _cuda_extras(self) -> bool:
        """bfloat16 autocast and channels-last memory: only with ``amp=True`` on a CUDA device."""
        return bool(self.amp) and str(self.device).startswith("cuda") and torch.cuda.is_available()

    def _autocast(self):
        if self._cuda_extras():
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _augment(self, image: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms import v2

        transform = v2.Compose(
            [
                v2.RandomHorizontalFlip(),
                v2.RandomVerticalFlip(),
                v2.RandomRotation(degrees=10.0),
                v2.ColorJitter(brightness=0.1, contrast=0.1),
            ]
        )
        image = to_tensor(image, device=self.device)
        return torch.stack([transform(img) for img in image]).clamp_(0.0, 1.0)

    def infer(self, x, **fit_params):
        if self._cuda_extras() and isinstance(x, dict) and "image" in x:
            image = to_tensor(x["image"], device=self.device).contiguous(memory_format=torch.channels_last)
            x = {**x, "image": image}
        return super().infer(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
        """One training step: augmentation (training batches only), mixed precision on CUDA, backward."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        if self.augment:
            Xi = {**Xi, "image": self._augment(Xi["image"])}
        with self._autocast():
            y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred.float(), yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad(), self._autocast():
            y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred.float(), yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        return self.criterion_(y_pred, y_true[:, :2])

    # ----------------------------------------------------------- predict
    def _risk_from_logits(self, logits) -> np.ndarray:
        survival = self._survival_from_logits(logits)
        return 1.0 - survival_at_times(survival, self.cuts_, [float(self.horizon)])[:, 0]

    def _survival_from_logits(self, logits) -> np.ndarray:
        logits = torch.as_tensor(logits).detach().float().cpu()
        s = torch.exp(torch.cumsum(torch.nn.functional.logsigmoid(logits), dim=1)).numpy().astype(np.float64)
        return np.column_stack([np.ones(len(s)), s])

    def _survival_at_cuts(self, X) -> np.ndarray:
        check_is_fitted(self, "module_")
        logits = self.forward(SliceDict(**self.prepare_inputs(X)))
        return self._survival_from_logits(logits)

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
        check_is_fitted(self, "module_")
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        survival_at_times(np.ones((1, len(self.cuts_))), self.cuts_, times)  # check times before reading images
        return survival_at_times(self._survival_at_cuts(X), self.cuts_, times)


_COMMON_DOC = """
    Parameters
    ----------
    cuts : sequence of float, default=(0, 365, 730, 1095, 1460)
        Interval cuts in days (start at 0, strictly increasing); one output logit per interval.
    horizon : float, default=1095
        Time of the risk ``1 - S(horizon)`` returned by ``predict``; must not exceed ``cuts[-1]``.
    backbone : str, default="resnet18"
        torchvision ResNet name (paper: ``"resnet101"``).
    weights : None or path, default=None
        Local state-dict of the backbone (never downloaded).
    image_size : int, default=224
        Side of the ROI images (paper: 224).
    margin_mm : float, default=50.0
        Peritumoural margin of the ROI crop.
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
    weight_decay : float, default=1e-4
        Weight decay of the optimizer (AdamW by default).
    image_column, mask_column : str, default="ct", "mask"
    n_jobs, memory, progress
        Passed to :class:`~sksurv_tace.preprocessing.CTPreprocessor` (``memory`` caches ROIs on disk);
        ``progress`` also shows a skorch progress bar.
    random_state : int or None, default=None
        Seeds torch (weights, shuffling, augmentation, validation split) for the fit, inside a
        forked RNG; on CPU deterministic algorithms are switched on during the fit.
    optimizer, lr, max_epochs, batch_size, train_split, callbacks, verbose, device, **kwargs
        As in :class:`skorch.NeuralNet` (defaults: AdamW, lr 1e-3, 40 epochs, batch 32).
        ``device="auto"`` uses CUDA when available, else CPU. ``train_split=None`` trains on all
        patients unless ``early_stopping`` is set (then the event-stratified split above); another
        ``train_split`` replaces that split.
        ``module__*`` parameters override the net's constructor arguments."""


class CTSurvival(_DeepSurvivalNet):
    __doc__ = (
        """The paper's DLOP_CTR: a ResNet on the tumour ROI -> discrete-time survival head.

    ``predict`` gives ``1 - S(horizon)`` (paper: 3-year survival, ``horizon=1095``); ``score``
    gives Harrell's C. Survival is piecewise constant between the cuts (see
    :mod:`sksurv_tace.models.deep`).
"""
        + _COMMON_DOC
        + """

    Attributes
    ----------
    module_ : ImageOnlyNet
    image_preprocessor_ : CTPreprocessor
    cuts_, unique_times_ : ndarray
        The interval cuts (the grid of ``predict_survival_function(..., return_array=True)``).
    history_ : skorch History

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(12, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> model = CTSurvival(image_size=32, max_epochs=1, batch_size=6, verbose=0, random_state=0).fit(X, y)
    >>> model.predict(X).shape
    (12,)
    """
    )

    def __init__(
        self,
        *,
        cuts=DEFAULT_CUTS,
        horizon=1095.0,
        backbone="resnet18",
        weights=None,
        image_size=224,
        margin_mm=50.0,
        dropout=0.2,
        augment=True,
        early_stopping="loss",
        patience=10,
        valid_fraction=0.2,
        gradient_clip=1.0,
        lr_schedule="cosine",
        amp=True,
        weight_decay=1e-4,
        image_column="ct",
        mask_column="mask",
        n_jobs=None,
        memory=None,
        progress=False,
        random_state=None,
        module=None,
        criterion=DiscreteTimeNLL,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=40,
        batch_size=32,
        train_split=None,
        callbacks=None,
        verbose=1,
        device="auto",
        **kwargs,
    ):
        super().__init__(
            module=module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.cuts = cuts
        self.horizon = horizon
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.margin_mm = margin_mm
        self.dropout = dropout
        self.augment = augment
        self.early_stopping = early_stopping
        self.patience = patience
        self.valid_fraction = valid_fraction
        self.gradient_clip = gradient_clip
        self.lr_schedule = lr_schedule
        self.amp = amp
        self.weight_decay = weight_decay
        self.image_column = image_column
        self.mask_column = mask_column
        self.n_jobs = n_jobs
        self.memory = memory
        self.progress = progress
        self.random_state = random_state


class FusionSurvival(_DeepSurvivalNet):
    __doc__ = (
        """The paper's DLOP_Combin: ResNet on the tumour ROI + MLP on Cox-selected clinical factors.

    The image features (512-d for ResNet-18/34, 2048-d for ResNet-50/101, after global average
    pooling) and the MLP's output are concatenated into one linear layer with one logit per
    interval. Clinical columns are every column but ``patient_id`` and the image columns
    (or ``clinical_columns``); they are encoded by
    :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`, screened by
    :class:`~sksurv_tace.preprocessing.CoxFeatureSelector` on the training patients (unless
    ``select_clinical=False``) and standardised. ``predict`` gives ``1 - S(horizon)``;
    ``score`` gives Harrell's C; survival is piecewise constant between the cuts.
"""
        + _COMMON_DOC
        + """
    hidden : sequence of int, default=(16, 32, 64)
        Widths of the clinical MLP (paper: 16, 32, 64).
    select_clinical : bool, default=True
        Screen clinical factors by univariate -> multivariable Cox before the MLP (as the paper).
    p_univariate, p_multivariable : float, default=0.05
        Thresholds of the screen.
    clinical_columns : list of str or None, default=None
    log_transform : sequence of str, default=()
        Passed to :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`.
    impute : {None, "median", "most_frequent"}, default=None
        Passed to :class:`~sksurv_tace.preprocessing.ClinicalPreprocessor`: None raises on a missing clinical value.

    Attributes
    ----------
    module_ : FusionNet
    image_preprocessor_ : CTPreprocessor
    clinical_pipeline_ : Pipeline
        Encoding, Cox screen and scaling of the clinical columns, fitted on the training rows.
    clinical_features_ : list of str
        Encoded clinical columns that enter the MLP.
    cuts_, unique_times_ : ndarray
    history_ : skorch History

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(12, path=tempfile.mkdtemp(), image_shape=(8, 48, 48), random_state=0)
    >>> model = FusionSurvival(image_size=32, max_epochs=1, batch_size=6, select_clinical=False,
    ...                        verbose=0, random_state=0).fit(X, y)
    >>> model.predict_survival_at(X.iloc[:2], [365, 1095]).shape
    (2, 2)
    """
    )

    _uses_clinical = True
    _default_module = FusionNet

    def __init__(
        self,
        *,
        cuts=DEFAULT_CUTS,
        horizon=1095.0,
        backbone="resnet18",
        weights=None,
        image_size=224,
        margin_mm=50.0,
        hidden=(16, 32, 64),
        dropout=0.2,
        select_clinical=True,
        p_univariate=0.05,
        p_multivariable=0.05,
        clinical_columns=None,
        log_transform=(),
        impute=None,
        augment=True,
        early_stopping="loss",
        patience=10,
        valid_fraction=0.2,
        gradient_clip=1.0,
        lr_schedule="cosine",
        amp=True,
        weight_decay=1e-4,
        image_column="ct",
        mask_column="mask",
        n_jobs=None,
        memory=None,
        progress=False,
        random_state=None,
        module=None,
        criterion=DiscreteTimeNLL,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=40,
        batch_size=32,
        train_split=None,
        callbacks=None,
        verbose=1,
        device="auto",
        **kwargs,
    ):
        super().__init__(
            module=module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.cuts = cuts
        self.horizon = horizon
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.margin_mm = margin_mm
        self.hidden = hidden
        self.dropout = dropout
        self.select_clinical = select_clinical
        self.p_univariate = p_univariate
        self.p_multivariable = p_multivariable
        self.clinical_columns = clinical_columns
        self.log_transform = log_transform
        self.impute = impute
        self.augment = augment
        self.early_stopping = early_stopping
        self.patience = patience
        self.valid_fraction = valid_fraction
        self.gradient_clip = gradient_clip
        self.lr_schedule = lr_schedule
        self.amp = amp
        self.weight_decay = weight_decay
        self.image_column = image_column
        self.mask_column = mask_column
        self.n_jobs = n_jobs
        self.memory = memory
        self.progress = progress
        self.random_state = random_state

    def _clinical_frame(self, X):
        frame = super()._clinical_frame(X)
        return frame.drop(columns=[c for c in ("patient_id",) if c in frame.columns])

    def fit(self, X, y, **fit_params):
        super().fit(X, y, **fit_params)
        if self.n_clinical_features_ == 0:
            warnings.warn("no clinical feature entered the net: it uses the image only", UserWarning, stacklevel=2)
        return self

    fit.__doc__ = _DeepSurvivalNet.fit.__doc__
