"""The thin skorch net the deep survival estimators own: arrays in, interval logits out (not public).

Inputs are a :class:`skorch.helper.SliceDict` ``{"image": (n, 3, H, W)[, "clinical": (n, p)]}``,
the target an ``(n, 4)`` float array ``[interval index, died in interval, time, event]`` (the loss
reads the first two columns, the C-index scorer the last two). Everything about patients, tables,
files and survival functions lives in :mod:`sksurv_tace.models.deep`.
"""

from __future__ import annotations

import contextlib
import re
import sys

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochScoring,
    GradientNormClipping,
    LRScheduler,
    PrintLog,
    ProgressBar,
)
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from sksurv.metrics import concordance_index_censored

from sksurv_tace._survival import survival_at_times
from sksurv_tace.models.nn import DiscreteTimeNLL, baseline_logits, survival_from_logits


class EventStratifiedSplit:
    """skorch ``train_split``: one train/validation split stratified by the death indicator.

    Used for early stopping. The target's second column is the death-within-cuts indicator;
    when a class has fewer than 2 patients the split is not stratified.

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


class FixedSplit:
    """skorch ``train_split`` with given training and validation rows (a fold ensemble's member).

    Parameters
    ----------
    train : array-like of int
        Rows the net trains on.
    valid : array-like of int or None
        Rows of its validation set; None: no validation set (the other rows are left out).

    Examples
    --------
    >>> train, valid = FixedSplit([0, 2], [1])(list("abc"))
    >>> list(train), list(valid)
    (['a', 'c'], ['b'])
    """

    def __init__(self, train, valid):
        self.train = train
        self.valid = valid

    def __repr__(self):
        return f"FixedSplit(<{len(self.train)} rows>, <{0 if self.valid is None else len(self.valid)} rows>)"

    def __call__(self, dataset, y=None, groups=None):
        train = torch.utils.data.Subset(dataset, np.asarray(self.train, dtype=np.int64).tolist())
        if self.valid is None:
            return train, None
        return train, torch.utils.data.Subset(dataset, np.asarray(self.valid, dtype=np.int64).tolist())


class ValidationCIndex:
    """EpochScoring function: Harrell's C of ``1 - S(horizon)`` on the validation split."""

    def __init__(self, cuts, horizon):
        self.cuts = cuts
        self.horizon = horizon

    def __call__(self, net, X, y):
        survival = survival_with_origin(net.forward(X))
        risk = 1.0 - survival_at_times(survival, self.cuts, [self.horizon])[:, 0]
        y = np.asarray(y)
        event, time = y[:, 3].astype(bool), y[:, 2]
        if not event.any():
            return 0.5
        return float(concordance_index_censored(event, time, risk)[0])


def survival_with_origin(logits) -> np.ndarray:
    """``S`` at the cuts ``[c_0 = 0, c_1, ..., c_m]`` from interval logits: ``S(0) = 1`` then the loss's survival."""
    logits = torch.as_tensor(logits).detach().float().cpu()
    survival = survival_from_logits(logits).numpy().astype(np.float64)
    return np.column_stack([np.ones(len(survival)), survival])


def training_callbacks(
    *, cuts, horizon, early_stopping, patience, gradient_clip, lr_schedule, max_epochs, progress, warmup_epochs=0
):
    """The callbacks the estimators' parameters ask for, in skorch's ``(name, callback)`` form."""
    callbacks = []
    if early_stopping == "cindex":
        scoring = ValidationCIndex(cuts, horizon)
        callbacks.append(("valid_cindex", EpochScoring(scoring, lower_is_better=False, name="valid_cindex")))
    if gradient_clip is not None:
        callbacks.append(("gradient_clip", GradientNormClipping(gradient_clip_value=gradient_clip)))
    if lr_schedule == "cosine" and warmup_epochs:
        schedule = WarmupCosine(int(warmup_epochs), int(max_epochs))
        callbacks.append(("lr_scheduler", LRScheduler(policy="LambdaLR", lr_lambda=schedule)))
    elif lr_schedule == "cosine":
        callbacks.append(("lr_scheduler", LRScheduler(policy="CosineAnnealingLR", T_max=int(max_epochs))))
    if early_stopping:
        monitor = "valid_cindex" if early_stopping == "cindex" else "valid_loss"
        stopper = EarlyStopping(
            monitor=monitor, patience=patience, lower_is_better=monitor == "valid_loss", load_best=True
        )
        callbacks.append(("early_stopping", stopper))
    if progress:
        callbacks.append(("progress_bar", ProgressBar()))
    callbacks.append(("eta", EpochETA()))
    return callbacks


class WarmupCosine:
    """Learning-rate factor of epoch ``e`` (0-based): linear warm-up, then cosine annealing to 0.

    Epochs ``0 … warmup − 1`` train at ``(e + 1) / warmup`` of the learning rate; from the last
    warm-up epoch on the factor follows ``(1 + cos(π t)) / 2`` with ``t`` going from 0 there to 1 at
    ``max_epochs`` (what ``CosineAnnealingLR`` does from epoch 0 when ``warmup=0``). A class, not a
    lambda, so that a net holding it pickles.
    """

    def __init__(self, warmup: int, max_epochs: int):
        self.warmup = warmup
        self.max_epochs = max_epochs

    def __call__(self, epoch: int) -> float:
        if epoch < self.warmup:
            return (epoch + 1) / self.warmup
        start = max(self.warmup - 1, 0)
        t = min((epoch - start) / max(self.max_epochs - start, 1), 1.0)
        return 0.5 * (1.0 + float(np.cos(np.pi * t)))


class EpochETA(Callback):
    """Records ``eta`` after each epoch: the time the remaining epochs take at the median epoch so far (``mm:ss``).

    With early stopping it is an upper bound (training may stop sooner). The table of epochs (``verbose=1``)
    shows it as a column; it touches no random state, so no number changes.

    Examples
    --------
    >>> EpochETA.format_eta(95.0)
    '01:35'
    """

    @staticmethod
    def format_eta(seconds: float) -> str:
        """``mm:ss`` (minutes beyond 99 widen the column)."""
        minutes, rest = divmod(int(round(seconds)), 60)
        return f"{minutes:02d}:{rest:02d}"

    def on_epoch_end(self, net, **kwargs):
        durations = [row["dur"] for row in net.history if "dur" in row]
        left = max(0, int(net.max_epochs) - len(net.history))
        net.history.record("eta", self.format_eta(left * float(np.median(durations)) if durations else 0.0))


_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


class EpochTable(PrintLog):
    """skorch's table of epochs, coloured on a terminal only: a redirected log gets plain text."""

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        return text if sys.stdout.isatty() else _ANSI_CODE.sub("", text)


def drop_training_state(net) -> None:
    """Keep what prediction needs (the module, the history); drop the optimizer and the callbacks.

    The optimizer holds two moments per weight (AdamW), the LR scheduler references it and early
    stopping keeps a copy of the best weights: together about 3x the network in a pickle.
    """
    net.optimizer_ = None
    net.callbacks_ = []
    net.callbacks = []  # the instances passed in hold the same state


class SurvivalNet(NeuralNet):
    """skorch ``NeuralNet`` with the discrete-time loss, whole-batch loading, augmentation and CUDA extras.

    Parameters
    ----------
    module : torch.nn.Module class or instance
    augment : bool, default=False
        Random flips, rotations up to 10 degrees and brightness/contrast jitter of training
        batches (:mod:`torchvision.transforms.v2`); never of validation or prediction batches.
    amp : bool, default=False
        bfloat16 autocast and channels-last memory on CUDA; ignored on CPU.
    baseline_bias : bool, default=False
        Before the first epoch, set the survival head's bias (``module_.head``) to the training rows'
        life-table logits (:func:`~sksurv_tace.models.nn.baseline_logits`), so the net starts at the
        cohort's baseline survival instead of ``h_j = 0.5`` (no random number is drawn).
    recalibrate_bn : bool, default=False
        After each training epoch, recompute every BatchNorm layer's running mean and variance over the
        training rows with the current weights (un-augmented, no gradient; "precise BN"), so validation
        and prediction normalise with statistics of the network they evaluate rather than an average
        lagging over the last few batches' weights. Draws no random number; the weights' trajectory is
        unchanged.
    **kwargs
        As in :class:`skorch.NeuralNet`.
    """

    def __init__(
        self,
        module,
        *,
        augment=False,
        amp=False,
        baseline_bias=False,
        recalibrate_bn=False,
        criterion=DiscreteTimeNLL,
        **kwargs,
    ):
        super().__init__(module, criterion=criterion, **kwargs)
        self.augment = augment
        self.amp = amp
        self.baseline_bias = baseline_bias
        self.recalibrate_bn = recalibrate_bn

    def initialize(self):
        super().initialize()
        # The LR-scheduler callback holds the optimizer (CUDA tensors after a GPU fit): pickle the callbacks
        # with skorch's device-mapping part of the state so a CUDA-trained model unpickles on a CPU-only machine.
        if "callbacks_" not in self.cuda_dependent_attributes_:
            self.cuda_dependent_attributes_ = [*self.cuda_dependent_attributes_, "callbacks_"]
        return self

    def get_default_callbacks(self):
        # an instance: skorch moves a PrintLog instance (not a subclass given as a class) behind the other callbacks,
        # so the table shows what they record (the ETA, the learning rate)
        return [(name, EpochTable() if name == "print_log" else cb) for name, cb in super().get_default_callbacks()]

    def initialize_module(self):
        super().initialize_module()
        self.baseline_set_ = False
        if self._cuda_extras():
            volumetric = any(isinstance(m, torch.nn.Conv3d) for m in self.module_.modules())  # 3-D VOIs (issue 12)
            self.module_ = self.module_.to(memory_format=torch.channels_last_3d if volumetric else torch.channels_last)
        return self

    def get_iterator(self, dataset, training=False):
        """Batches fetched whole (one fancy-indexing per batch instead of one item per patient).

        Training batches are shuffled and a last batch of one patient is dropped (BatchNorm cannot
        train on it). With a custom sampler or collate function skorch's per-item loading is used.
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

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if self.baseline_bias and not getattr(self, "baseline_set_", True) and y is not None:
            rows = getattr(dataset_train, "indices", None)
            target = np.asarray(y) if rows is None else np.asarray(y)[np.asarray(rows)]
            head = self.module_.head
            logits = baseline_logits(target[:, 0], target[:, 1], head.out_features)
            with torch.no_grad():
                head.bias.copy_(torch.as_tensor(logits, dtype=head.bias.dtype))
            self.baseline_set_ = True
        return dataset_train, dataset_valid

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        if training and self.recalibrate_bn and iterator is not None:
            self._recalibrate_batchnorm(iterator.dataset)

    def _recalibrate_batchnorm(self, dataset) -> None:
        norms = [m for m in self.module_.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        momenta = [m.momentum for m in norms]
        self.module_.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
            m.train()
        n, size = len(dataset), int(self.batch_size if self.batch_size != -1 else len(dataset))
        starts = [s for s in range(0, n, size) if n - s > 1 or s == 0]  # no batch of one (BatchNorm needs two)
        with torch.no_grad(), self._autocast():
            for start in starts:
                stop = n if n - (start + size) == 1 else min(start + size, n)
                batch = torch.utils.data.default_collate([dataset[i] for i in range(start, stop)])
                Xi, _ = unpack_data(batch)
                self.infer(Xi)
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        self.module_.train()

    def _cuda_extras(self) -> bool:
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
            image = to_tensor(x["image"], device=self.device)
            image = image.contiguous(memory_format=torch.channels_last if image.ndim == 4 else torch.channels_last_3d)
            x = {**x, "image": image}
        return super().infer(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
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
