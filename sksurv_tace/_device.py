"""The torch device a deep model trains on: ``"auto"`` resolved once, an unusable device refused early."""

from __future__ import annotations


def resolve_device(device) -> str:
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; any other device checked to exist here.

    Called by the deep models' ``fit`` and, before any work, by ``reproduce`` and the command line,
    so that ``device="cuda"`` on a machine without a GPU fails in a second, not after the radiomics.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a :class:`torch.device`.

    Returns
    -------
    str

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") in ("cpu", "cuda")
    True
    """
    import torch

    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device; got {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for but CUDA is not available here; use 'auto' or 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return str(device)
