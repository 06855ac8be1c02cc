"""Input checks shared by every estimator, metric and loader of the package.

Each check raises a :class:`ValueError` that names the row (patient) and what is
wrong with it, so that a user can fix the cohort instead of debugging a NaN.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "check_survival_target",
    "check_image_paths",
    "check_clinical_columns",
    "row_labels",
    "describe_rows",
    "check_path",
    "check_same_geometry",
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


def check_survival_target(
    y,
    *,
    n_samples: int | None = None,
    labels: list[str] | None = None,
    require_event: bool = True,
    allow_zero_time: bool = False,
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
    allow_zero_time : bool, default=False
        Accept survival times equal to zero.
    name : str, default="y"
        Name of the argument in error messages.

    Returns
    -------
    event : ndarray of bool, shape (n_samples,)
    time : ndarray of float64, shape (n_samples,)

    Raises
    ------
    ValueError
        Naming the rows whose time is missing, negative or zero, whose event is not
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
    bad = time < 0 if allow_zero_time else time <= 0
    if bad.any():
        what = "negative" if allow_zero_time else "zero or negative"
        raise ValueError(f"{name}: survival time is {what} at {describe_rows(labels, bad)}; times must be positive")
    if require_event and not event.any():
        raise ValueError(f"{name}: all {len(y)} patients are censored (no event); at least one death is needed")
    return event, time


def check_clinical_columns(X: pd.DataFrame, columns: Sequence[str], *, what: str = "X") -> None:
    """Raise a ``ValueError`` naming the columns of ``columns`` that ``X`` lacks."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame with named columns; got {type(X).__name__}")
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


def _read_info(path, label: str, column: str):
    import SimpleITK as sitk

    path = check_path(path, label, column)
    try:
        if os.path.isdir(path):
            files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(path)
            if not files:
                raise RuntimeError("no DICOM series in the folder")
            image = sitk.ReadImage(list(files))
        else:
            image = sitk.ReadImage(path)
    except RuntimeError as exc:
        raise ValueError(f"{label}: {column} file {path!r} cannot be read by SimpleITK ({exc})") from None
    return image


def check_image_paths(
    X: pd.DataFrame,
    *,
    image_column: str = "ct",
    mask_column: str = "mask",
    labels: list[str] | None = None,
    tolerance: float = 1e-3,
) -> None:
    """Check that every row's image and mask exist, read, agree in geometry, and the mask is non-empty.

    Parameters
    ----------
    X : DataFrame
        One row per patient with an image and a mask path column.
    image_column, mask_column : str
        Names of the path columns.
    labels : list of str, optional
        Names of the rows for error messages; default from ``patient_id`` or the index.
    tolerance : float, default=1e-3
        Absolute tolerance on spacing, origin and direction when comparing geometries.

    Raises
    ------
    ValueError
        Naming the patient and the problem: missing column or file, unreadable file,
        mask of another size/spacing/origin/direction than its image, empty mask.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(4, path=tempfile.mkdtemp(), random_state=0)
    >>> check_image_paths(X)
    """
    import SimpleITK as sitk

    check_clinical_columns(X, [image_column, mask_column])
    labels = labels if labels is not None else row_labels(X)
    for label, image_path, mask_path in zip(labels, X[image_column], X[mask_column], strict=True):
        image = _read_info(image_path, label, image_column)
        mask = _read_info(mask_path, label, mask_column)
        check_same_geometry(image, mask, label, tolerance=tolerance)
        if not sitk.GetArrayViewFromImage(mask).any():
            raise ValueError(f"{label}: mask {mask_path!r} is empty (no tumour voxel)")
