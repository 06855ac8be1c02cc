"""Input checks shared by every estimator, metric and loader of the package.

Each check raises a :class:`ValueError` that names the row (patient) and what is
wrong with it, so that a user can fix the cohort instead of debugging a NaN.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sksurv.util import Surv

__all__ = [
    "check_survival_target",
    "check_clinical_columns",
    "row_labels",
    "describe_rows",
    "check_path",
    "check_same_geometry",
    "check_nifti_file",
]


def row_labels(X=None, n: int | None = None, ids: Sequence | None = None) -> list[str]:
    """Human-readable labels of rows: the ``patient_id`` column or the index of ``X``, else positions."""
    if ids is not None:
        return [str(i) for i in ids]
    if isinstance(X, pd.DataFrame):
        if "patient_id" in X.columns:
            return [f"patient {p}" for p in X["patient_id"]]
        return [f"row {i!r}" for i in X.index]
    n = len(X) if X is not None else n
    return [f"row {i}" for i in range(n)]


def describe_rows(labels: list[str], mask: np.ndarray, limit: int = 5) -> str:
    """The labels of the rows where ``mask`` is true, for an error message: ``"patient A, patient B and 3 more"``."""
    bad = [labels[i] for i in np.flatnonzero(mask)]
    text = ", ".join(bad[:limit])
    if len(bad) > limit:
        text += f" and {len(bad) - limit} more"
    return text


def as_survival_array(event: np.ndarray, time: np.ndarray) -> np.ndarray:
    """The target scikit-survival and lifelines expect, from checked ``(event, time)``: a bool event field.

    Our checks accept a 0/1 integer or float event field, which scikit-survival refuses.

    Examples
    --------
    >>> as_survival_array(np.array([1, 0]), np.array([10.0, 20.0])).dtype.names
    ('event', 'time')
    """
    return Surv.from_arrays(np.asarray(event, dtype=bool), np.asarray(time, dtype=np.float64))


def check_survival_target(
    y,
    *,
    n_samples: int | None = None,
    labels: list[str] | None = None,
    require_event: bool = True,
    name: str = "y",
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a survival target and return ``(event, time)``.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Survival target as made by :func:`sksurv.util.Surv.from_arrays`: a boolean
        (or 0/1) event field first, a float time field second.
    n_samples : int, optional
        Number of rows of ``X`` the target must match.
    labels : list of str, optional
        Names of the rows for error messages (see :func:`row_labels`).
    require_event : bool, default=True
        Raise when no row has an event (nothing to learn or evaluate).
    name : str, default="y"
        Name of the argument in error messages.

    Returns
    -------
    event : ndarray of bool, shape (n_samples,)
    time : ndarray of float64, shape (n_samples,)

    Raises
    ------
    ValueError
        Naming the rows whose time is missing or negative (zero is a valid time), whose event is not
        0/1, a length mismatch, or a target without events.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> event, time = check_survival_target(Surv.from_arrays([1, 0], [10.0, 20.0]))
    >>> event.tolist(), time.tolist()
    ([True, False], [10.0, 20.0])
    """
    if not isinstance(y, np.ndarray) or y.dtype.fields is None or len(y.dtype.fields) != 2:
        raise ValueError(
            f"{name} must be a structured array with an event and a time field, as made by "
            f"sksurv.util.Surv.from_arrays(event, time); got {type(y).__name__}"
            + (f" of dtype {y.dtype}" if isinstance(y, np.ndarray) else "")
        )
    y = np.ravel(y)
    event_field, time_field = y.dtype.names
    raw_event = y[event_field]
    time = np.asarray(y[time_field], dtype=np.float64)
    labels = labels if labels is not None else row_labels(n=len(y))
    if n_samples is not None and len(y) != n_samples:
        raise ValueError(f"{name} has {len(y)} rows but X has {n_samples}: they must describe the same patients")
    if len(y) == 0:
        raise ValueError(f"{name} is empty")

    if raw_event.dtype == np.bool_:
        event = raw_event.astype(bool)
    else:
        values = np.asarray(raw_event, dtype=np.float64)
        bad = ~np.isin(values, (0.0, 1.0))
        if bad.any():
            raise ValueError(
                f"{name}: event indicator must be 0/1 or bool; invalid value(s) "
                f"{sorted(set(values[bad].tolist()))[:5]} at {describe_rows(labels, bad)}"
            )
        event = values.astype(bool)

    bad = ~np.isfinite(time)
    if bad.any():
        raise ValueError(f"{name}: survival time is missing or not finite at {describe_rows(labels, bad)}")
    bad = time < 0
    if bad.any():
        raise ValueError(
            f"{name}: survival time is negative at {describe_rows(labels, bad)}; times count from the start of "
            "follow-up and must be zero or positive"
        )
    if require_event and not event.any():
        raise ValueError(f"{name}: all {len(y)} patients are censored (no event); at least one death is needed")
    return event, time


def check_unique_columns(X: pd.DataFrame, *, what: str = "X") -> None:
    """Raise a ``ValueError`` naming the column names ``X`` repeats (``X[name]`` would be a frame)."""
    duplicated = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
    if duplicated:
        raise ValueError(f"{what} has duplicated column name(s) {duplicated}: every column needs its own name")


def check_clinical_columns(X: pd.DataFrame, columns: Sequence[str], *, what: str = "X") -> None:
    """Raise a ``ValueError`` naming the columns of ``columns`` that ``X`` lacks."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame with named columns; got {type(X).__name__}")
    check_unique_columns(X, what=what)
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; it has {list(X.columns)}")


def check_path(path, label: str, column: str) -> str:
    """Return ``path`` as a string, or raise a ``ValueError`` naming the patient when it is missing."""
    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"{label}: no {column!r} path given (value {path!r})")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{label}: {column} file {path!r} does not exist")
    return path


def check_same_geometry(image, mask, label: str, *, tolerance: float = 1e-3) -> None:
    """Raise a ``ValueError`` naming the patient when the mask's size, spacing, origin or direction differ."""
    for attr in ("GetSize", "GetSpacing", "GetOrigin", "GetDirection"):
        a, b = np.asarray(getattr(image, attr)()), np.asarray(getattr(mask, attr)())
        if a.shape != b.shape or not np.allclose(a, b, atol=tolerance):
            raise ValueError(
                f"{label}: mask geometry differs from its image ({attr[3:].lower()} {tuple(b.tolist())} vs "
                f"{tuple(a.tolist())}); the mask must be drawn on the same grid as the CT"
            )


# NIfTI datatype codes whose voxels ITK's NIfTI reader (niftilib) sets to 0 when not finite, and their
# numpy component type: float32, complex64, float64, complex128
_NIFTI_FLOATS = {16: "f4", 32: "f4", 64: "f8", 1792: "f8"}


def _nifti_layout(header: bytes):
    """``(vox_offset, header size, voxel bytes, float dtype or None)`` of a NIfTI-1, NIfTI-2 or Analyze 7.5
    header; None if it is not one (or is malformed: left to the reader). A ``ValueError`` if it is cut off."""
    import math
    import struct

    for order in "<>":
        declared = struct.unpack(order + "i", header[:4])[0] if len(header) >= 4 else None
        if declared in (348, 540) and len(header) < declared:
            raise ValueError(f"ends inside its {declared}-byte header, after {len(header)} bytes")
        if declared == 348:
            dims = struct.unpack(order + "8h", header[40:56])
            datatype, bitpix = struct.unpack(order + "2h", header[70:74])
            offset = struct.unpack(order + "f", header[108:112])[0]
            break
        if declared == 540:
            datatype, bitpix = struct.unpack(order + "2h", header[12:16])
            dims = struct.unpack(order + "8q", header[16:80])
            offset = struct.unpack(order + "q", header[168:176])[0]
            break
    else:
        return None
    n_dims = dims[0]
    if not 1 <= n_dims <= 7 or bitpix <= 0 or not math.isfinite(offset) or min(dims[1 : n_dims + 1]) <= 0:
        return None
    n_bits = math.prod(dims[1 : n_dims + 1]) * bitpix
    dtype = _NIFTI_FLOATS.get(datatype)
    return max(int(offset), 0), declared, (n_bits + 7) // 8, None if dtype is None else np.dtype(order + dtype)


def _chunks(path: str):
    """A file's content in blocks, decompressed when it is gzip (every member, as zlib's ``gzread``).

    A ``ValueError`` when a gzip stream ends early (a cut file) or fails its checks (data, CRC, length).
    """
    import zlib

    with open(path, "rb") as handle:
        data = handle.read(1 << 16)  # small first block: the header is often all that is needed
        if data[:2] != b"\x1f\x8b":  # not compressed: gzread reads such a file as it is
            while data:
                yield data
                data = handle.read(1 << 23)
            return
        members, total = 0, 0
        while data:
            members += 1
            stream = zlib.decompressobj(31)
            while True:
                while data and not stream.eof:
                    try:
                        out = stream.decompress(data, 1 << 20)
                    except zlib.error as exc:
                        raise ValueError(f"fails gzip decoding in member {members} ({exc})") from None
                    total += len(out)
                    yield out
                    data = stream.unconsumed_tail
                if stream.eof:
                    data = stream.unused_data + data
                    break
                data = handle.read(1 << 20)
                if not data:
                    raise ValueError(
                        f"ends inside gzip member {members} after {total} decompressed bytes (the file is cut off)"
                    )
            if len(data) < 2:
                data += handle.read(1 << 20)
            if data[:2] != b"\x1f\x8b":  # bytes after the last member are ignored, as gzread does
                break


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _scan(chunks, start: int, stop: int, dtype) -> tuple[int, int, int]:
    """``(length, NaN count, infinite count)`` of a stream of blocks; values counted in bytes ``[start, stop)``."""
    position, n_nan, n_inf, carry = 0, 0, 0, b""
    for chunk in chunks:
        low, high = max(start, position), min(stop, position + len(chunk))
        if dtype is not None and low < high:
            piece = carry + chunk[low - position : high - position]
            usable = len(piece) - len(piece) % dtype.itemsize
            values = np.frombuffer(piece, dtype, count=usable // dtype.itemsize)
            finite = np.isfinite(values)
            if not finite.all():
                nan = int(np.count_nonzero(np.isnan(values)))
                n_nan, n_inf = n_nan + nan, n_inf + int(finite.size - np.count_nonzero(finite)) - nan
            carry = piece[usable:]
        position += len(chunk)
    return position, n_nan, n_inf


def check_nifti_file(path) -> tuple[int, int] | None:
    """Check a NIfTI file's voxel data against its header; return its NaN and infinite voxel counts.

    ITK's NIfTI reader, and so :func:`SimpleITK.ReadImage`, reads a truncated ``.nii``,
    ``.nii.gz`` or ``.hdr``/``.img`` pair without an error, the missing voxels set to 0
    (0 HU in a CT), and silently reads NaN and infinite float voxels as 0 too. This check
    compares the data size the header declares (voxels x ``bitpix`` / 8 from ``vox_offset``)
    with the bytes the file holds: its size, or for gzip its decompressed length, found by
    decompressing the whole file (streamed), which also checks each gzip member's CRC and
    length: ITK decodes a gzip stream with a damaged byte without an error too, into wrong
    voxels from there on. Float voxels are counted as stored. Other formats are not checked
    here (NRRD and MetaImage readers raise on short data themselves and keep NaN).

    Cost: an uncompressed ``.nii`` of integers is not read (its size is compared); a
    ``.nii.gz`` is decompressed once more, about 0.12 s CPU for a 512 x 512 x 120 int16 CT
    (63 MB of voxels; SimpleITK's own read of it takes about 0.07-0.09 s), 0.07 s for its
    uint8 mask.

    Parameters
    ----------
    path : str or path-like
        An image file; names ending in ``.nii``, ``.hdr`` or ``.img`` (each also with
        ``.gz``) are checked.

    Returns
    -------
    (n_nan, n_inf) : tuple of int, or None
        NaN and infinite values among the stored voxels (per component for complex data);
        None for a file that is not a NIfTI (or Analyze) file.

    Raises
    ------
    ValueError
        ``image '<file>' is truncated or corrupt: ...`` with the declared and found sizes,
        or the gzip error.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, SimpleITK as sitk
    >>> path = os.path.join(tempfile.mkdtemp(), "ct.nii.gz")
    >>> volume = np.zeros((4, 8, 8), np.float32)
    >>> volume[0, 0, :3] = np.nan
    >>> sitk.WriteImage(sitk.GetImageFromArray(volume), path)
    >>> check_nifti_file(path), int(np.isnan(sitk.GetArrayViewFromImage(sitk.ReadImage(path))).sum())
    ((3, 0), 0)
    >>> os.truncate(path, os.path.getsize(path) - 20)
    >>> check_nifti_file(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image '...ct.nii.gz' is truncated or corrupt: it ends inside gzip member 1 after ... bytes ...
    """
    path = os.fspath(path)
    base = path.lower().removesuffix(".gz")
    if not os.path.isfile(path):
        return None  # left to the reader's own error
    if base.endswith(".nii"):
        header_path = data_path = path
    elif base.endswith((".hdr", ".img")):  # a pair: the files nifti_findhdrname / nifti_findimgname pick
        stem = path[: len(path) - (3 if path.lower().endswith(".gz") else 0) - 4]
        header_path = next((stem + e for e in (".hdr", ".hdr.gz") if os.path.isfile(stem + e)), None)
        data_path = next((stem + e for e in (".img", ".img.gz") if os.path.isfile(stem + e)), None)
        if header_path is None or data_path is None:
            return None  # left to the reader's own error
    else:
        return None
    current = header_path
    try:
        chunks, head = _chunks(header_path), []
        for chunk in chunks:
            head.append(chunk)
            if sum(map(len, head)) >= 540:
                break
        layout = _nifti_layout(b"".join(head)[:540])
        if layout is None:
            return None
        offset, header_size, n_bytes, dtype = layout
        if data_path == header_path:
            offset = max(offset, header_size)  # in a single file the voxels follow the header
            chunks = itertools.chain(head, chunks)
        else:
            for _ in chunks:  # the rest of the header file: a cut .hdr.gz raises
                pass
            current, chunks = data_path, _chunks(data_path)
        if dtype is None and not _is_gzip(data_path):
            length, n_nan, n_inf = os.path.getsize(data_path), 0, 0  # integers, not compressed: the size says it all
        else:
            length, n_nan, n_inf = _scan(chunks, offset, offset + n_bytes, dtype)
    except ValueError as exc:
        raise ValueError(f"image {current!r} is truncated or corrupt: it {exc}") from None
    except OSError as exc:
        raise ValueError(f"image {current!r} cannot be read ({exc})") from None
    if length < offset + n_bytes:
        what = "decompressed " if current.lower().endswith(".gz") else ""
        raise ValueError(
            f"image {current!r} is truncated or corrupt: its header declares {n_bytes} bytes of voxel data from "
            f"byte {offset}, but the file holds only {max(0, length - offset)} of them ({length} {what}bytes in all; "
            "SimpleITK would read the missing voxels as 0); copy or export the file again"
        )
    return n_nan, n_inf
