"""Torch building blocks of the deep survival models: encoders, fusion net and discrete-time loss.

The discrete-time survival head follows Gensheimer & Narasimhan (2019, "A scalable
discrete-time survival model for neural networks", *PeerJ* 7:e6257; the
``nnet-survival`` package). Follow-up is cut into intervals ``[c_j, c_{j+1})``; the
net outputs one logit per interval and ``h_j = sigmoid(logit_j)`` is the conditional
probability of **surviving** interval ``j`` given alive at its start, so that
``S(c_{k+1}) = prod_{j<=k} h_j``. The loss is the censored likelihood of that model,
computed in log-space with :func:`torch.nn.functional.logsigmoid`.

Nothing here knows about DataFrames or scikit-learn: the skorch estimators in
:mod:`sksurv_tace.models.deep` put these modules to work.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from sksurv_tace.models._backbones3d import BACKBONES_3D, build_resnet3d, is_3d

__all__ = [
    "CENSORING_RULES",
    "DEFAULT_CUTS",
    "ClinicalMLP",
    "DiscreteTimeNLL",
    "baseline_logits",
    "FusionNet",
    "ImageEncoder",
    "ImageOnlyNet",
    "discrete_time_nll",
    "encode_survival",
    "log_survival_from_logits",
    "survival_from_logits",
]

#: Default interval cuts in days: yearly up to 4 years, as in the paper.
DEFAULT_CUTS: tuple[float, ...] = (0.0, 365.0, 730.0, 1095.0, 1460.0)


def check_cuts(cuts: Sequence[float]) -> np.ndarray:
    """Return ``cuts`` as a float array after checking they start at 0 and increase strictly."""
    arr = np.asarray(cuts, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"cuts must be a 1-D sequence of at least 2 times (0 and one end); got {cuts!r}")
    if not np.isfinite(arr).all() or arr[0] != 0.0 or np.any(np.diff(arr) <= 0):
        raise ValueError(f"cuts must start at 0 and increase strictly; got {arr.tolist()}")
    return arr


#: The censoring rules of :func:`encode_survival`.
CENSORING_RULES: tuple[str, ...] = ("half_interval", "completed")


def encode_survival(
    time: np.ndarray,
    event: np.ndarray,
    cuts: Sequence[float] = DEFAULT_CUTS,
    *,
    censoring: str = "half_interval",
) -> tuple[np.ndarray, np.ndarray]:
    """Encode right-censored survival as ``(interval_index, event_in_interval)`` for :func:`discrete_time_nll`.

    With ``m = len(cuts) - 1`` intervals ``(cuts[j], cuts[j + 1]]`` (closed on the right, as the
    survival curve ``S(cuts[j + 1]) = prod_{i<=j} h_i`` includes the deaths on the cut day, like the
    metrics and Kaplan-Meier):

    * death at ``t <= cuts[-1]`` in interval ``k`` (``cuts[k] < t <= cuts[k + 1]``): survived
      intervals ``0..k-1`` and died in ``k`` -> ``(k, 1)``; a death on a cut day ``c`` counts in
      the interval ending at ``c``;
    * censored at ``t`` in interval ``k``, by ``censoring``:

      - ``"half_interval"`` (Nnet-survival, Gensheimer & Narasimhan 2019, ``make_surv_array``):
        survived ``0..k-1``, and also ``k`` when ``t`` is at or past the interval's midpoint ->
        ``(k or k + 1, 0)``;
      - ``"completed"`` (pycox's ``LogisticHazard``: censoring times rounded down to a cut,
        ``LabTransDiscreteTime``): survived the intervals completed by ``t``
        (``cuts[j + 1] <= t``) -> ``(k, 0)``, or ``(k + 1, 0)`` when ``t`` is the cut ``cuts[k + 1]``;

    * death after ``cuts[-1]`` or censoring at ``t >= cuts[-1]``: survived all intervals -> ``(m, 0)``.

    Nnet-survival puts a death on a cut day in the next interval; here it is in the interval ending
    on that day (pycox's rule), the one change from ``make_surv_array``.

    Parameters
    ----------
    time : array-like of float, shape (n_samples,)
        Event or censoring times (same unit as ``cuts``).
    event : array-like of bool, shape (n_samples,)
        True for a death.
    cuts : sequence of float, default=(0, 365, 730, 1095, 1460)
        Interval boundaries, starting at 0, strictly increasing.
    censoring : {"half_interval", "completed"}, default="half_interval"
        How much of its last interval a censored patient counts as having survived (see above).

    Returns
    -------
    interval_index : ndarray of int64, shape (n_samples,)
        Number of intervals survived (``event_in_interval == 0``) or index of the interval
        of death (``event_in_interval == 1``).
    event_in_interval : ndarray of float32, shape (n_samples,)
        1 where the death falls inside the cut range.

    Examples
    --------
    >>> idx, ev = encode_survival([100.0, 365.0, 200.0, 100.0, 2000.0], [True, True, False, False, True])
    >>> idx.tolist(), ev.tolist()
    ([0, 0, 1, 0, 4], [1.0, 1.0, 0.0, 0.0, 0.0])
    >>> encode_survival([200.0, 365.0], [False, False], censoring="completed")[0].tolist()
    [0, 1]
    """
    if censoring not in CENSORING_RULES:
        raise ValueError(f"censoring must be one of {list(CENSORING_RULES)}; got {censoring!r}")
    cuts = check_cuts(cuts)
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    ends = cuts[1:]
    m = len(ends)
    # deaths: interval ends strictly before t (a death on a cut day is in the interval ending there)
    death_index = (time[:, None] > ends[None, :]).sum(axis=1)
    if censoring == "half_interval":
        midpoints = 0.5 * (cuts[:-1] + cuts[1:])
        censored_index = (time[:, None] >= midpoints[None, :]).sum(axis=1)
    else:
        censored_index = (time[:, None] >= ends[None, :]).sum(axis=1)
    died_inside = event & (time <= cuts[-1])
    index = np.where(died_inside, death_index, np.where(event, m, censored_index))
    return index.astype(np.int64), died_inside.astype(np.float32)


def baseline_logits(interval_index, event, n_intervals: int) -> np.ndarray:
    """Life-table logits of surviving each interval: the loss's best constant prediction for a cohort.

    For interval ``j``, ``d_j`` patients die in it and ``r_j`` are at risk in it (reached it and either
    survived it or died in it, as :func:`discrete_time_nll` counts them); the logit is
    ``log((r_j - d_j) / d_j)``, clipped to ``[-10, 10]`` when no or every patient dies. Setting a survival
    head's bias to it starts training at the cohort's baseline survival instead of ``h_j = 0.5``.

    Parameters
    ----------
    interval_index, event : array-like, shape (n_samples,)
        From :func:`encode_survival`.
    n_intervals : int

    Returns
    -------
    ndarray of float64, shape (n_intervals,)

    Examples
    --------
    >>> baseline_logits([0, 1, 1, 2, 2], [1, 1, 0, 0, 0], 2).round(4).tolist()  # 1/5 then 1/3 die
    [1.3863, 0.6931]
    """
    index = np.asarray(interval_index, dtype=np.int64)
    died = np.asarray(event, dtype=np.float64) > 0
    j = np.arange(int(n_intervals))[:, None]
    deaths = ((index[None, :] == j) & died[None, :]).sum(axis=1)
    at_risk = (index[None, :] > j).sum(axis=1) + deaths
    with np.errstate(divide="ignore", invalid="ignore"):
        logits = np.log((at_risk - deaths) / deaths)
    logits = np.where(at_risk == 0, 0.0, logits)
    return np.clip(logits, -10.0, 10.0)


def discrete_time_nll(
    logits: torch.Tensor,
    interval_index: torch.Tensor,
    event: torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Negative log-likelihood of the discrete-time survival model, in log-space.

    For patient ``i`` with ``k = interval_index[i]``::

        log L_i = sum_{j < k} log h_ij + event_i * log(1 - h_ik),   h_ij = sigmoid(logits[i, j])

    with ``log h = logsigmoid(logit)`` and ``log(1 - h) = logsigmoid(-logit)``, so no product of
    probabilities is ever formed.

    Parameters
    ----------
    logits : Tensor, shape (n_samples, n_intervals)
        One logit per interval; ``sigmoid`` gives the conditional probability of surviving it.
    interval_index : Tensor of int, shape (n_samples,)
        From :func:`encode_survival`, in ``0 .. n_intervals``.
    event : Tensor of float or bool, shape (n_samples,)
        1 when the patient died in interval ``interval_index`` (must then be ``< n_intervals``).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-patient negative log-likelihoods are combined.

    Returns
    -------
    Tensor
        Scalar (``"mean"``/``"sum"``) or shape ``(n_samples,)`` (``"none"``).

    Examples
    --------
    >>> import torch
    >>> logits = torch.zeros(1, 4)  # every h_j = 0.5
    >>> round(float(discrete_time_nll(logits, torch.tensor([2]), torch.tensor([1.0]))), 4)  # 3 * log(2)
    2.0794
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (n_samples, n_intervals); got {tuple(logits.shape)}")
    n, m = logits.shape
    index = interval_index.reshape(-1).long()
    event = event.reshape(-1).to(logits.dtype)
    if index.shape[0] != n or event.shape[0] != n:
        raise ValueError(f"interval_index and event must have {n} rows like logits")
    if n and (int(index.min()) < 0 or int(index.max()) > m):
        raise ValueError(f"interval_index must lie in 0..{m}")
    if n and bool(((index >= m) & (event > 0)).any()):
        raise ValueError(f"an event needs interval_index < {m} (deaths after the last cut count as survival)")
    log_survive = F.logsigmoid(logits)
    log_die = F.logsigmoid(-logits)
    survived = torch.arange(m, device=logits.device)[None, :] < index[:, None]
    loglik = (log_survive * survived).sum(dim=1)
    died = log_die.gather(1, index.clamp(max=m - 1)[:, None]).squeeze(1)
    loglik = loglik + event * died
    nll = -loglik
    if reduction == "mean":
        return nll.mean()
    if reduction == "sum":
        return nll.sum()
    if reduction == "none":
        return nll
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")


def log_survival_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Log survival at the interval ends, ``log S(cuts[k + 1]) = sum_{j<=k} logsigmoid(logits[:, j])``.

    Examples
    --------
    >>> import torch
    >>> log_survival_from_logits(torch.zeros(1, 2)).exp().tolist()
    [[0.5, 0.25]]
    """
    return torch.cumsum(F.logsigmoid(logits), dim=-1)


def survival_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Survival at the interval ends, ``S(cuts[k + 1]) = prod_{j<=k} sigmoid(logits[:, j])``.

    Computed as ``exp(`` :func:`log_survival_from_logits` ``)``.

    Examples
    --------
    >>> import torch
    >>> survival_from_logits(torch.zeros(1, 3)).tolist()
    [[0.5, 0.25, 0.125]]
    """
    return torch.exp(log_survival_from_logits(logits))


class DiscreteTimeNLL(nn.Module):
    """Criterion wrapper of :func:`discrete_time_nll` for skorch: ``y`` holds ``[interval_index, event]``.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"

    Examples
    --------
    >>> import torch
    >>> round(DiscreteTimeNLL()(torch.zeros(2, 4), torch.tensor([[4.0, 0.0], [0.0, 1.0]])).item(), 4)
    1.7329
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return discrete_time_nll(logits.float(), y[:, 0].long(), y[:, 1], reduction=self.reduction)


def _load_state_dict(path: str | os.PathLike) -> dict:
    if not os.path.isfile(path):
        raise ValueError(f"weights file {os.fspath(path)!r} does not exist (weights are never downloaded)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}


class ImageEncoder(nn.Module):
    """A ``torchvision.models.resnet*`` trunk (or a 3-D ResNet) up to global average pooling.

    Parameters
    ----------
    backbone : str, default="resnet18"
        Name of a ResNet constructor in :mod:`torchvision.models` (``resnet18`` ... ``resnet152``,
        ``resnext*``, ``wide_resnet*``). ResNet-18/34 give 512 features, ResNet-50/101 give 2048.
        A 3-D trunk for ``(n, C, D, H, W)`` volumes: ``"resnet10_3d"``, ``"resnet18_3d"``, ``"resnet34_3d"``,
        ``"resnet50_3d"``, ``"resnet101_3d"`` (MONAI's 3-D ResNets with MedicalNet's shortcuts; the optional
        extra ``sksurv_tace[3d]``).
    weights : None or path, default=None
        ``None``: random initialisation. A path: a local state dict (e.g. torchvision's ImageNet
        file saved beforehand); the ``fc`` layer is dropped. Nothing is ever downloaded. For a 3-D trunk
        a MedicalNet-style file (``module.`` prefixes, a ``conv_seg`` head) loads what fits, with a
        warning listing the tensors left at their initialisation and those of the file not used, and
        a ``ValueError`` when no convolution weight fits.
    in_channels : int, default=3
        Input channels; with pre-trained weights and ``in_channels != 3`` (3-D: another channel count
        than the file's) the first convolution's weights are averaged over channels and repeated.

    Attributes
    ----------
    out_features : int
        Length of the pooled feature vector.

    Examples
    --------
    >>> import torch
    >>> enc = ImageEncoder("resnet18")
    >>> enc(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 512])
    """

    def __init__(self, backbone: str = "resnet18", weights: str | os.PathLike | None = None, in_channels: int = 3):
        super().__init__()
        if is_3d(backbone):
            self.backbone, self.out_features = build_resnet3d(backbone, in_channels, weights)
            return
        factory = getattr(torchvision.models, str(backbone), None)
        if not (isinstance(backbone, str) and "resnet" in backbone and callable(factory)):
            raise ValueError(
                f"backbone must name a torchvision ResNet such as 'resnet18' or 'resnet101', or a 3-D ResNet "
                f"({', '.join(BACKBONES_3D)}); got {backbone!r}"
            )
        net = factory(weights=None)
        if weights is not None:
            try:
                missing, unexpected = net.load_state_dict(_load_state_dict(weights), strict=False)
            except RuntimeError as exc:  # tensor shapes of another architecture
                raise ValueError(f"weights {os.fspath(weights)!r} do not fit {backbone}: {exc}") from None
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise ValueError(
                    f"weights {os.fspath(weights)!r} do not fit {backbone}: missing {missing[:5]}, "
                    f"unexpected {list(unexpected)[:5]}"
                )
        if in_channels != 3:
            old = net.conv1
            conv = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False)
            if weights is not None:
                with torch.no_grad():
                    conv.weight.copy_(old.weight.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1))
            net.conv1 = conv
        self.out_features = net.fc.in_features
        net.fc = nn.Identity()
        self.backbone = net

    @property
    def last_block(self) -> nn.Module:
        """The last residual stage (``layer4``), the usual Grad-CAM layer."""
        return self.backbone.layer4

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.backbone(image)


class ClinicalMLP(nn.Module):
    """Multilayer perceptron of the clinical branch (paper: 16 -> 32 -> 64 hidden units).

    Parameters
    ----------
    n_features : int
        Number of clinical inputs (after preprocessing and Cox selection).
    hidden : sequence of int, default=(16, 32, 64)
        Widths of the hidden layers; each is Linear -> ReLU -> Dropout.
    dropout : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> ClinicalMLP(5)(torch.zeros(2, 5)).shape
    torch.Size([2, 64])
    """

    def __init__(self, n_features: int, hidden: Sequence[int] = (16, 32, 64), dropout: float = 0.0):
        super().__init__()
        if int(n_features) < 1:
            raise ValueError(f"ClinicalMLP needs at least one input feature; got n_features={n_features}")
        if len(hidden) < 1:
            raise ValueError("hidden must list at least one layer width")
        layers: list[nn.Module] = []
        width = int(n_features)
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = int(h)
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, clinical: torch.Tensor) -> torch.Tensor:
        return self.net(clinical)


class FusionNet(nn.Module):
    """Image encoder + clinical MLP, concatenated, -> one logit per survival interval.

    Parameters
    ----------
    n_clinical : int
        Number of clinical inputs; 0 drops the clinical branch (the net then ignores ``clinical``).
    n_intervals : int, default=4
    backbone, weights, in_channels
        Passed to :class:`ImageEncoder`.
    hidden : sequence of int, default=(16, 32, 64)
        Clinical MLP widths.
    dropout : float, default=0.2
        Dropout in the MLP and before the survival head.

    Examples
    --------
    >>> import torch
    >>> net = FusionNet(n_clinical=3)
    >>> net(torch.zeros(2, 3, 32, 32), torch.zeros(2, 3)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        n_clinical: int,
        n_intervals: int = 4,
        backbone: str = "resnet18",
        weights: str | os.PathLike | None = None,
        in_channels: int = 3,
        hidden: Sequence[int] = (16, 32, 64),
        dropout: float = 0.2,
    ):
        super().__init__()
        self.encoder = ImageEncoder(backbone, weights=weights, in_channels=in_channels)
        self.clinical = ClinicalMLP(n_clinical, hidden, dropout) if n_clinical > 0 else None
        width = self.encoder.out_features + (self.clinical.out_features if self.clinical is not None else 0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, int(n_intervals))

    def forward(self, image: torch.Tensor, clinical: torch.Tensor | None = None) -> torch.Tensor:
        features = self.encoder(image)
        if self.clinical is not None:
            if clinical is None:
                raise ValueError("FusionNet was built with a clinical branch: pass clinical features")
            features = torch.cat([features, self.clinical(clinical.to(features.dtype))], dim=1)
        return self.head(self.dropout(features))


class ImageOnlyNet(nn.Module):
    """Image encoder -> one logit per survival interval (the paper's DLOP_CTR network).

    Parameters
    ----------
    n_intervals : int, default=4
    backbone, weights, in_channels
        Passed to :class:`ImageEncoder`.
    dropout : float, default=0.2
        Dropout before the survival head.

    Examples
    --------
    >>> import torch
    >>> ImageOnlyNet()(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        n_intervals: int = 4,
        backbone: str = "resnet18",
        weights: str | os.PathLike | None = None,
        in_channels: int = 3,
        dropout: float = 0.2,
    ):
        super().__init__()
        self.encoder = ImageEncoder(backbone, weights=weights, in_channels=in_channels)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.out_features, int(n_intervals))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encoder(image)))
