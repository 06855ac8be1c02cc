"""Fail-early checks of a cohort's CT and mask files: every patient checked, every problem in one error.

:func:`check_image_paths` runs before the first model trains (``reproduce``, the command line,
:class:`~sksurv_tace.preprocessing.CTPreprocessor` and
:class:`~sksurv_tace.preprocessing.RadiomicsExtractor` ``fit``), so a bad file is reported in
seconds, not after minutes of radiomics or training. It reads image headers only
(:meth:`SimpleITK.ImageFileReader.ReadImageInformation`), checks each NIfTI file's size against
its header (:func:`~sksurv_tace._validation.check_nifti_file`: a ``.nii.gz`` has to be
decompressed for it, streamed), and reads the mask voxels (masks are small) for the tumour rule
every image path shares (:func:`_tumour_mask`). Files are checked in threads, and each file's
result is memoised on ``(path, size, modification time, inode)``, so a grid search's later fits
only ``stat`` the files. The messages are the ones the readers give
(:func:`~sksurv_tace.preprocessing.read_image`), grouped by problem.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd

from sksurv_tace._validation import (
    check_clinical_columns,
    check_nifti_file,
    check_path,
    row_labels,
)

__all__ = ["PROBLEM_KINDS", "find_image_problems", "check_image_paths"]

#: Problem kinds of :func:`find_image_problems`, with the heading of their group in
#: :func:`check_image_paths`' error, in the order the groups are listed.
PROBLEM_KINDS = {
    "missing": "missing file",
    "unreadable": "not an image SimpleITK reads (unknown format, damaged or unreadable file)",
    "truncated": "truncated or corrupt file",
    "non_finite": "NaN or infinite voxels",
    "not_volume": "not a 3-D scalar volume",
    "series": "DICOM series with duplicate, missing or unevenly spaced slices",
    "geometry": "mask on another grid than its CT",
    "mask": "empty or ambiguous mask",
}

_MEMO: dict[tuple, object] = {}  # (what, realpath, size, mtime_ns, inode) -> result, see _memoised


# --------------------------------------------------------------------------- messages shared with the readers


def _read_error(path: str, exc: BaseException) -> str:
    """The message for a file SimpleITK cannot read, without ITK's raw ``Unable to determine ImageIO reader``."""
    import re

    text = str(exc).strip()
    if not text or "Unable to determine ImageIO reader" in text:
        return (
            f"image {path!r} cannot be read: it is not in an image format SimpleITK knows, or the file is damaged "
            "(NIfTI, NRRD, MetaImage or DICOM expected)"
        )
    # ITK's message without its source location, object address and a stray errno ("Reason: No such file")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.endswith(":") and not line.startswith("Reason:")]
    detail = re.sub(r"^ITK ERROR: (\w+)\(0x[0-9a-fA-F]+\): ", r"\1: ", lines[-1] if lines else text)
    return f"image {path!r} cannot be read: it is damaged or not a valid file of its format (SimpleITK: {detail})"


def _non_finite_message(path: str, n_nan: int, n_inf: int, n_values: int) -> str:
    return (
        f"image {path!r} holds {n_nan + n_inf} non-finite voxel(s) of {n_values} ({n_nan} NaN, {n_inf} infinite), "
        "which would pass silently into the ROI and the radiomics features (SimpleITK reads them from NIfTI "
        "as 0); replace them (e.g. by -1000 HU, air, outside the body) or export the image again"
    )


def _shape_problem(image, label: str, column: str, path: str, *, volume: bool = True) -> str | None:
    """Why ``image`` (an image or a header) is not a scalar image (3-D if ``volume``), or None."""
    dimension, size = len(image.GetSize()), image.GetSize()
    if volume and dimension != 3:
        return (
            f"{label}: {column} {path!r} is a {dimension}-D image of size {size}; "
            "a 3-D CT volume (several axial slices) is needed"
        )
    components = image.GetNumberOfComponentsPerPixel()
    if components != 1:
        return f"{label}: {column} {path!r} has {components} components per voxel; a scalar image is needed"
    return None


def _format_labels(values, limit: int = 10) -> str:
    values = [int(v) if float(v).is_integer() else float(v) for v in np.asarray(values).tolist()]
    text = ", ".join(str(v) for v in values[:limit])
    return text + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _check_mask_label(mask_label, name: str = "mask_label"):
    """``mask_label`` as an int (or None); a ``ValueError`` for anything else, 0 (the background) included."""
    from numbers import Integral

    if mask_label is None:
        return None
    if isinstance(mask_label, bool) or not isinstance(mask_label, Integral):
        raise ValueError(f"{name} must be None or a non-zero integer label; got {mask_label!r}")
    if mask_label == 0:
        raise ValueError(f"{name}=0 selects the background; give the tumour's label (or None for a binary mask)")
    return int(mask_label)


def _label_problem(found: np.ndarray, mask_label, label: str, column: str, path: str) -> str | None:
    """Why a mask whose sorted non-zero labels are ``found`` has no tumour under the rule of :func:`_tumour_mask`."""
    if mask_label is not None:
        if mask_label in found:
            return None
        what = f"non-zero labels {_format_labels(found)}" if found.size else "no non-zero voxel"
        return f"{label}: {column} {path!r} has no voxel with label {mask_label} (it holds {what})"
    if not found.size:
        return f"{label}: {column} {path!r} is empty (no tumour voxel)"
    if found.size > 1:
        return (
            f"{label}: {column} {path!r} holds {found.size} non-zero labels ({_format_labels(found)}), so which "
            f"voxels are tumour is ambiguous; pass mask_label= with the tumour's label (e.g. mask_label=2 for a "
            "liver = 1, tumour = 2 segmentation)"
        )
    return None


def _tumour_mask(labels: np.ndarray, mask_label, label: str, column: str, path: str) -> np.ndarray:
    """The package's one mask-label rule, for every image path (CT ROIs and radiomics): the tumour voxels.

    ``mask_label`` an int: the voxels of that label (other labels, e.g. the liver, are ignored).
    ``mask_label`` None: every non-zero voxel, provided they all share one label (a binary
    mask, 0/1 or 0/255); a mask with several non-zero labels is refused, since which one is
    the tumour is the user's call. Raises a ``ValueError`` naming the patient (``label``),
    the mask column and file, and the labels found.
    """
    tumour = labels == mask_label if mask_label is not None else labels != 0
    values = labels[tumour]
    if values.size and (mask_label is not None or not (values != values[0]).any()):
        return tumour
    problem = _label_problem(np.unique(labels[labels != 0]), mask_label, label, column, path)
    raise ValueError(problem)


# --------------------------------------------------------------------------- one file, memoised


class _Header(NamedTuple):
    """What :meth:`SimpleITK.ImageFileReader.ReadImageInformation` tells, with an image's method names."""

    size: tuple
    spacing: tuple
    origin: tuple
    direction: tuple
    components: int

    def GetSize(self):  # noqa: N802 (SimpleITK's names, so check_same_geometry takes a header or an image)
        return self.size

    def GetSpacing(self):  # noqa: N802
        return self.spacing

    def GetOrigin(self):  # noqa: N802
        return self.origin

    def GetDirection(self):  # noqa: N802
        return self.direction

    def GetNumberOfComponentsPerPixel(self):  # noqa: N802
        return self.components


def _memoised(what: str, path: str, compute):
    stat = os.stat(path)
    key = (what, os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _MEMO:
        _MEMO[key] = compute(path)
    return _MEMO[key]


def _inspect(path: str, instances=None):
    """``(problem kind, message without the patient)`` or ``(None, header)`` of one existing file or folder
    (a DICOM folder read with only ``instances``, if given)."""
    import SimpleITK as sitk

    if os.path.isdir(path):  # a DICOM series: ITK has no header-only read of a series, so it is read
        from sksurv_tace.preprocessing.dicom import _SeriesError
        from sksurv_tace.preprocessing.imaging import read_image

        try:
            image = read_image(path, instances=instances)
        except _SeriesError as exc:
            return "series", str(exc)
        except ValueError as exc:
            return "unreadable", str(exc)
        header = _Header(image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection(),
                         image.GetNumberOfComponentsPerPixel())  # fmt: skip
        return None, header
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        return "unreadable", f"image {path!r} cannot be read ({exc.strerror or exc})"
    try:
        stored = check_nifti_file(path)  # the header's data size against the file: ITK reads a cut NIfTI as 0s
    except ValueError as exc:
        return "truncated", str(exc)
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        return "unreadable", _read_error(path, exc)
    header = _Header(reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection(),
                     reader.GetNumberOfComponents())  # fmt: skip
    if stored is not None and sum(stored):
        return "non_finite", _non_finite_message(path, *stored, int(np.prod(header.size)) * header.components)
    return None, header


def _mask_labels(path: str):
    """``(None, (sorted non-zero labels, boxes))`` of a mask that passed :func:`_inspect`, or ``("unreadable",
    message)``; ``boxes`` maps each label (and None: every non-zero voxel) to its index box ``((x0, y0, z0),
    (x1, y1, z1))``."""
    import SimpleITK as sitk

    if os.path.isdir(path):
        from sksurv_tace.preprocessing.imaging import read_image

        image = read_image(path)
    else:
        try:
            image = sitk.ReadImage(path)
        except RuntimeError as exc:
            return "unreadable", _read_error(path, exc)
    labels = sitk.GetArrayViewFromImage(image)
    found = np.unique(labels[labels != 0])
    boxes = {}
    if found.size and labels.ndim == 3:
        from sksurv_tace.preprocessing._alignment import _box

        boxes[None] = _box(labels != 0)
        for value in found[:20]:
            boxes[value.item()] = _box(labels == value)
    return None, (found, boxes)


def _seg_problem(label: str, seg_path: str, ct_header, segment, mask_geometry, column: str) -> tuple | None:
    """``(kind, message)`` of a DICOM SEG mask against its CT's grid (``ct_header``), or None; memoised."""
    import SimpleITK as sitk

    from sksurv_tace.preprocessing.dicom import dicom_seg_segments, read_dicom_seg, select_segments

    geometry = (tuple(ct_header.GetSize()), tuple(ct_header.GetSpacing()), tuple(ct_header.GetOrigin()),
                tuple(ct_header.GetDirection()))  # fmt: skip

    def compute(path):
        try:
            segments = dicom_seg_segments(path)
        except ValueError as exc:
            return "unreadable", str(exc)
        try:
            select_segments(segments, segment, where=f"DICOM SEG {path!r}")
        except ValueError as exc:
            return "mask", str(exc)
        if len(geometry[0]) != 3:
            return "not_volume", f"DICOM SEG {path!r} needs a 3-D CT"
        reference = sitk.Image([int(v) for v in geometry[0]], sitk.sitkUInt8)
        reference.SetSpacing(geometry[1])
        reference.SetOrigin(geometry[2])
        reference.SetDirection(geometry[3])
        try:
            tumour = read_dicom_seg(path, reference, segment=segment, mask_geometry=mask_geometry or "resample")
        except ValueError as exc:
            return "geometry", str(exc)
        if not sitk.GetArrayViewFromImage(tumour).any():
            return "mask", f"DICOM SEG {path!r}: segment {segment!r} is empty on the CT (no tumour voxel)"
        return None

    found = _memoised(f"seg:{hash((geometry, segment, mask_geometry))}", seg_path, compute)
    return None if found is None else (found[0], f"{label}: {column} {found[1]}")


# --------------------------------------------------------------------------- one patient, the cohort


def _patient_problems(label: str, paths, columns, mask_label, volume: bool, tolerance: float, segment=None,
                      mask_geometry="strict") -> list[tuple]:  # fmt: skip
    """``(kind, column, path, message)`` of every problem of one patient's CT and mask."""
    from sksurv_tace.preprocessing._alignment import extent_problem, geometry_of, seg_instances, strict_problem
    from sksurv_tace.preprocessing.dicom import is_dicom_seg

    problems, headers, checked = [], {}, {}
    for value, column in zip(paths, columns, strict=True):
        try:
            checked[column] = check_path(value, label, column)
        except ValueError as exc:
            problems.append(("missing", column, value, str(exc)))
    image_column, mask_column = columns
    seg = mask_column in checked and is_dicom_seg(checked[mask_column])
    instances = None
    if seg and image_column in checked:
        try:
            instances = seg_instances(checked[image_column], checked[mask_column])
        except ValueError as exc:
            problems.append(("unreadable", mask_column, checked[mask_column], f"{label}: {mask_column} {exc}"))
            return problems
    for column, path in checked.items():
        if column == mask_column and seg:
            continue
        what = "header" if column != image_column or instances is None else f"header:{hash(instances)}"
        if what == "header":
            kind, found = _memoised(what, path, _inspect)
        else:  # a CT folder with a SEG: only the images the SEG references
            kind, found = _memoised(what, path, lambda p: _inspect(p, instances))
        if kind is None:
            message = _shape_problem(found, label, column, path, volume=volume)
            kind = None if message is None else "not_volume"
        else:
            message = f"{label}: {column} {found}"
        if kind is None:
            headers[column] = (path, found)
        else:
            problems.append((kind, column, path, message))
    if seg:
        path = checked[mask_column]
        if mask_label is not None:
            message = (f"{label}: {mask_column} {path!r} is a DICOM SEG: choose its segment with segment= "
                       f"(mask_label={mask_label} applies to label images)")  # fmt: skip
            problems.append(("mask", mask_column, path, message))
        elif image_column in headers:
            found = _seg_problem(label, path, headers[image_column][1], segment, mask_geometry, mask_column)
            if found is not None:
                problems.append((found[0], mask_column, path, found[1]))
        return problems
    if segment is not None and mask_column in headers:
        path = headers[mask_column][0]
        problems.append(("mask", mask_column, path, f"{label}: {mask_column} {path!r} is not a DICOM SEG: "
                         f"segment={segment!r} applies to DICOM SEG masks; a label image's tumour is chosen with "
                         "mask_label="))  # fmt: skip
        return problems
    labels_found = None
    if mask_column in headers:
        path = headers[mask_column][0]
        kind, found = _memoised("labels", path, _mask_labels)
        if kind is not None:
            problems.append((kind, mask_column, path, f"{label}: {mask_column} {found}"))
        else:
            labels_found = found
            message = _label_problem(found[0], mask_label, label, mask_column, path)
            if message is not None:
                problems.append(("mask", mask_column, path, message))
                labels_found = None
    if image_column in headers and mask_column in headers and mask_geometry is not None:
        (image_path, image), (mask_path, mask) = headers[image_column], headers[mask_column]
        if mask_geometry == "strict":
            message = strict_problem(image, mask, label, tolerance)
        elif labels_found is not None and mask_label in labels_found[1]:
            box = labels_found[1][mask_label]
            message = extent_problem(geometry_of(mask), box, geometry_of(image), f"{label}: {mask_column} "
                                     f"{mask_path!r}")  # fmt: skip
        else:
            message = None
        if message is not None:
            problems.append(("geometry", mask_column, mask_path, f"{message} ({mask_column} {mask_path!r}, "
                             f"{image_column} {image_path!r})"))  # fmt: skip
    return problems


def find_image_problems(
    X: pd.DataFrame,
    *,
    image_column: str = "ct",
    mask_column: str = "mask",
    mask_label=None,
    segment=None,
    mask_geometry="strict",
    volume: bool = True,
    labels: list[str] | None = None,
    tolerance: float = 1e-3,
    n_jobs: int = 4,
) -> pd.DataFrame:
    """Every problem of every patient's CT and mask files, as a table (nothing raised for a bad file).

    Checks, per patient: the path is given and exists; the file is an image SimpleITK reads
    (its header: :meth:`SimpleITK.ImageFileReader.ReadImageInformation`); a NIfTI file holds
    the voxel data its header declares (a ``.nii`` by its size; a ``.nii.gz`` is decompressed,
    streamed, about 0.12 s per 60 MB of voxels) and no NaN or infinite float voxel; a scalar
    image, 3-D if ``volume``; a DICOM series folder makes one regular volume (no duplicate
    positions, missing slices or uneven spacing; it is read whole); the mask on the CT's grid
    once both are in one orientation (``mask_geometry="strict"``), or its tumour inside the CT
    (``"resample"``); a tumour in the mask under ``mask_label`` (the rule of
    :class:`~sksurv_tace.preprocessing.CTPreprocessor`; the mask's voxels are read). A DICOM
    SEG mask (recognised by content) is checked as the transformers read it: the ``segment``
    present, its frames placed on the CT's grid (the CT folder read with only the images the
    SEG references), not empty. Results are memoised per file on its path, size,
    modification time and inode.

    Parameters
    ----------
    X : DataFrame
        One row per patient with the image and mask path columns.
    image_column, mask_column : str, default="ct", "mask"
        Names of the path columns.
    mask_label : int or None, default=None
        The tumour's label in the mask; None: a binary mask (one non-zero value).
    segment : str, int, tuple or None, default=None
        The tumour segment(s) of DICOM SEG masks (see :class:`~sksurv_tace.preprocessing.CTPreprocessor`).
    mask_geometry : {"strict", "resample"} or None, default="strict"
        How masks must match their CT (see :class:`~sksurv_tace.preprocessing.CTPreprocessor`); None
        skips the grid check of label images (left to pyradiomics' ``correctMask``).
    volume : bool, default=True
        Require 3-D images (:class:`~sksurv_tace.preprocessing.CTPreprocessor` does;
        :class:`~sksurv_tace.preprocessing.RadiomicsExtractor` also takes 2-D ones).
    labels : list of str, optional
        Names of the rows for the messages; default from ``patient_id`` or the index.
    tolerance : float, default=1e-3
        Absolute tolerance on spacing, origin and direction when comparing geometries.
    n_jobs : int, default=4
        Threads reading files (-1: one per CPU).

    Returns
    -------
    DataFrame
        One row per problem, in row order: ``patient`` (the row's label), ``column``,
        ``file``, ``problem`` (a key of :data:`PROBLEM_KINDS`) and ``message`` (naming the
        patient and the file). Empty when every file is fine.

    Examples
    --------
    >>> import os, tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(3, path=tempfile.mkdtemp(), image_shape=(8, 32, 32), random_state=0)
    >>> os.remove(X.loc[1, "mask"])
    >>> problems = find_image_problems(X)
    >>> problems[["patient", "column", "problem"]].to_dict("records")
    [{'patient': 'patient TACE0002', 'column': 'mask', 'problem': 'missing'}]
    """
    from sksurv_tace.preprocessing._alignment import check_mask_geometry, check_segment

    check_clinical_columns(X, [image_column, mask_column])
    mask_label = _check_mask_label(mask_label)
    segment = check_segment(segment)
    mask_geometry = check_mask_geometry(mask_geometry)
    labels = labels if labels is not None else row_labels(X)
    columns = (image_column, mask_column)
    rows = list(zip(labels, X[image_column], X[mask_column], strict=True))

    def one(row):
        return _patient_problems(row[0], row[1:], columns, mask_label, volume, tolerance, segment, mask_geometry)

    workers = max(1, min(len(rows), (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)))
    if workers == 1:
        found = [one(row) for row in rows]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = list(pool.map(one, rows))
    records = [
        {"patient": row[0], "column": column, "file": path, "problem": kind, "message": message}
        for row, problems in zip(rows, found, strict=True)
        for kind, column, path, message in problems
    ]
    return pd.DataFrame(records, columns=["patient", "column", "file", "problem", "message"])


def check_image_paths(
    X: pd.DataFrame,
    *,
    image_column: str = "ct",
    mask_column: str = "mask",
    mask_label=None,
    segment=None,
    mask_geometry="strict",
    volume: bool = True,
    labels: list[str] | None = None,
    tolerance: float = 1e-3,
    n_jobs: int = 4,
    limit: int = 10,
) -> None:
    """Check every patient's CT and mask files; one ``ValueError`` listing all bad patients, grouped by problem.

    The checks of :func:`find_image_problems`: missing file; not an image (unknown format,
    damaged); truncated or corrupt NIfTI; NaN or infinite voxels; not a 3-D scalar volume;
    a DICOM series with duplicate, missing or unevenly spaced slices; mask on another grid than
    its CT; empty or ambiguous mask (DICOM SEG: segment missing or empty).

    Parameters
    ----------
    X : DataFrame
        One row per patient with the image and mask path columns.
    image_column, mask_column, mask_label, segment, mask_geometry, volume, labels, tolerance, n_jobs
        As for :func:`find_image_problems`.
    limit : int, default=10
        Patients listed per problem (the rest are counted).

    Raises
    ------
    ValueError
        ``the image files of k of n patient(s) cannot be used ...``, then per problem a
        heading (:data:`PROBLEM_KINDS`) and one line per bad file naming the patient and the
        file; or naming a missing path column.

    Examples
    --------
    >>> import os, tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(4, path=tempfile.mkdtemp(), image_shape=(8, 32, 32), random_state=0)
    >>> check_image_paths(X)  # every file fine: nothing happens
    >>> _ = open(X.loc[0, "ct"], "wb").write(b"not an image")
    >>> os.remove(X.loc[2, "mask"])
    >>> check_image_paths(X)  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: the image files of 2 of 4 patient(s) cannot be used; fix or remove these patients (every
    patient's files were checked):
      missing file (1 patient):
        patient TACE0003: mask file '...TACE0003_mask.nii.gz' does not exist
      not an image SimpleITK reads (unknown format, damaged or unreadable file) (1 patient):
        patient TACE0001: ct image '...TACE0001_ct.nii.gz' cannot be read: it is not in an image format ...
    """
    problems = find_image_problems(
        X, image_column=image_column, mask_column=mask_column, mask_label=mask_label, segment=segment,
        mask_geometry=mask_geometry, volume=volume, labels=labels, tolerance=tolerance, n_jobs=n_jobs,
    )  # fmt: skip
    if problems.empty:
        return
    n_bad = problems["patient"].nunique()
    lines = [
        f"the image files of {n_bad} of {len(X)} patient(s) cannot be used; fix or remove these patients "
        "(every patient's files were checked):"
    ]
    for kind, heading in PROBLEM_KINDS.items():
        group = problems[problems["problem"] == kind]
        if group.empty:
            continue
        n = group["patient"].nunique()
        lines.append(f"  {heading} ({n} patient{'s' if n > 1 else ''}):")
        lines += [f"    {message}" for message in group["message"].iloc[:limit]]
        if len(group) > limit:
            lines.append(f"    ... and {len(group) - limit} more")
    raise ValueError("\n".join(lines))
