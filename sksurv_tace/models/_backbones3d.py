"""3-D ResNet trunks for :class:`~sksurv_tace.models.nn.ImageEncoder` (``backbone="resnet18_3d"`` ...), not public.

The networks are MONAI's (:func:`monai.networks.nets.resnet18` ..., ``spatial_dims=3``; the optional
extra ``pip install "sksurv_tace[3d]"``), built with the shortcut type and downsampling bias of
MedicalNet (Chen, Ma & Zheng 2019, "Med3D: transfer learning for 3D medical image analysis";
MONAI's ``get_medicalnet_pretrained_resnet_args``) so that a MedicalNet state dict
(``resnet_18_23dataset.pth`` ..., keys ``module.conv1.weight`` ... and a ``conv_seg`` head) loads
into them. MONAI rather than torchvision's video ResNets (``r3d_18``, no new package): those have a
temporal stem (stride 1 along the first axis, for video frames) and other key names, so no
MedicalNet file loads into them; MONAI adds one pure-Python package (numpy and torch only).
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

__all__: list[str] = []

#: The 3-D backbones by name, with their depth (MONAI ``resnet{depth}``).
BACKBONES_3D = {"resnet10_3d": 10, "resnet18_3d": 18, "resnet34_3d": 34, "resnet50_3d": 50, "resnet101_3d": 101}


def is_3d(backbone) -> bool:
    """Whether ``backbone`` names a 3-D trunk (``"..._3d"``)."""
    return isinstance(backbone, str) and backbone.endswith("_3d")


def _monai():
    try:
        from monai.networks.nets import resnet
    except ImportError:  # pragma: no cover - the optional extra missing
        raise ImportError(
            "3-D backbones need MONAI: pip install 'sksurv_tace[3d]' (or pip install 'monai>=1.6')"
        ) from None
    return resnet


def _out_features(net: nn.Module) -> int:
    return [m for m in net.layer4.modules() if isinstance(m, nn.Conv3d)][-1].out_channels


def build_resnet3d(backbone: str, in_channels: int = 1, weights=None) -> tuple[nn.Module, int]:
    """``(trunk up to global average pooling, its feature length)`` for a name of :data:`BACKBONES_3D`."""
    if backbone not in BACKBONES_3D:
        raise ValueError(f"3-D backbone must be one of {sorted(BACKBONES_3D)}; got {backbone!r}")
    resnet = _monai()
    depth = BACKBONES_3D[backbone]
    bias_downsample, shortcut_type = resnet.get_medicalnet_pretrained_resnet_args(depth)
    net = getattr(resnet, f"resnet{depth}")(
        spatial_dims=3, n_input_channels=int(in_channels), feed_forward=False, shortcut_type=shortcut_type,
        bias_downsample=bias_downsample, conv1_t_stride=2,  # MedicalNet's stem (7^3, stride 2), as 2-D ResNets'
    )  # fmt: skip
    if weights is not None:
        load_partial(net, weights, backbone)
    return net, _out_features(net)


def load_partial(net: nn.Module, path, name: str) -> dict:
    """Load the tensors of a local state dict that fit ``net`` (MedicalNet's ``module.`` prefix dropped), with a
    warning listing the ``net`` keys left at their initialisation and the file's keys not used.

    A first convolution stored for another number of input channels (MedicalNet: 1) is averaged over its channels
    and repeated. A ``ValueError`` when no convolution weight fits (BatchNorm vectors alone are no fit).
    Returns ``{"loaded": [...], "missing": [...], "unexpected": [...]}``.
    """
    if not os.path.isfile(path):
        raise ValueError(f"weights file {os.fspath(path)!r} does not exist (weights are never downloaded)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"weights {os.fspath(path)!r} hold no state dict (got {type(state).__name__})")
    state = {str(k).removeprefix("module."): v for k, v in state.items()}
    own = net.state_dict()
    fitting, unexpected = {}, []
    for key, value in state.items():
        target = own.get(key)
        if target is None or not isinstance(value, torch.Tensor):
            unexpected.append(key)
        elif value.shape == target.shape:
            fitting[key] = value
        elif value.ndim == 5 and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]:
            fitting[key] = value.mean(dim=1, keepdim=True).repeat(1, target.shape[1], 1, 1, 1)  # other channels
        else:
            unexpected.append(f"{key} (shape {tuple(value.shape)}, expected {tuple(target.shape)})")
    if not any(value.ndim >= 2 for value in fitting.values()):  # BatchNorm vectors alone fit anything
        raise ValueError(
            f"weights {os.fspath(path)!r} do not fit {name}: none of its {len(state)} tensors is a convolution weight "
            f"of the network (its first keys: {list(state)[:5]}; the network's: {list(own)[:5]})"
        )
    net.load_state_dict(fitting, strict=False)
    missing = [k for k in own if k not in fitting and not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        warnings.warn(
            f"weights {os.fspath(path)!r} loaded partly into {name}: {len(fitting)} of {len(own)} tensors; "
            f"{len(missing)} left at their initialisation {missing[:8]}; {len(unexpected)} in the file not used "
            f"{unexpected[:8]}",
            UserWarning,
            stacklevel=4,
        )
    return {"loaded": sorted(fitting), "missing": missing, "unexpected": unexpected}


def image_input(preprocessor, backbone) -> tuple[list[str], dict]:
    """``(path columns, extra module kwargs)`` a deep model's image preprocessor implies for its net.

    The columns are every phase and the mask; the kwargs give ``in_channels`` when it is not 3 (phases x slices
    in 2.5-D, phases in 3-D). A ``ValueError`` when a 3-D input meets a 2-D backbone or the other way round.
    """
    columns = getattr(preprocessor, "_path_columns", None)
    columns = list(columns()) if columns is not None else [preprocessor.image_column, preprocessor.mask_column]
    n_phases = len(columns) - 1
    volumetric = getattr(preprocessor, "mode", "2.5d") == "3d"
    if volumetric != is_3d(backbone):
        raise ValueError(
            f"backbone={backbone!r} does not fit the image preprocessor's mode="
            f"{getattr(preprocessor, 'mode', '2.5d')!r}: 3-D VOIs (mode='3d') need a 3-D backbone "
            f"({', '.join(BACKBONES_3D)}), 2.5-D ROIs a 2-D one such as 'resnet18'"
        )
    channels = n_phases if volumetric else n_phases * (2 * int(getattr(preprocessor, "n_neighbors", 1)) + 1)
    return columns, ({} if channels == 3 else {"in_channels": channels})
