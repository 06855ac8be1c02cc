"""One patient's CT and tumour mask on one voxel grid: label maps or DICOM SEG, strict or resampled.

The rule every image transformer shares (:class:`~sksurv_tace.preprocessing.CTPreprocessor`,
:class:`~sksurv_tace.preprocessing.RadiomicsExtractor`, the pre-flight
:func:`~sksurv_tace.preprocessing.image_checks.check_image_paths`):

* a DICOM SEG mask (recognised by content) is rasterised onto the CT's grid from the chosen
  ``segment``; a CT series folder is then read with only the images the SEG references;
* a label-image mask gives its tumour by ``mask_label``; with ``mask_geometry="strict"`` it must
  lie on the CT's grid once both are in one orientation (a mask stored in RAS order on the CT's
  grid passes), with ``"resample"`` it is resampled onto the CT by nearest neighbour, refused when
  the tumour lies (partly) outside the CT.
"""

from __future__ import annotations

import os
from numbers import Integral
from typing import NamedTuple

import numpy as np

__all__: list[str] = []

MASK_GEOMETRIES = ("strict", "resample")
_RESAMPLE_HINT = "; pass mask_geometry='resample' to resample the mask onto the CT (nearest neighbour)"


class Geometry(NamedTuple):
    """A grid with SimpleITK's method names (so :func:`~sksurv_tace._validation.check_same_geometry` takes it)."""

    size: tuple
    spacing: tuple
    origin: tuple
    direction: tuple

    def GetSize(self):  # noqa: N802
        return self.size

    def GetSpacing(self):  # noqa: N802
        return self.spacing

    def GetOrigin(self):  # noqa: N802
        return self.origin

    def GetDirection(self):  # noqa: N802
        return self.direction


def geometry_of(image) -> Geometry:
    """The grid of an image or header (anything with SimpleITK's ``GetSize`` ... ``GetDirection``)."""
    return Geometry(
        tuple(image.GetSize()), tuple(image.GetSpacing()), tuple(image.GetOrigin()), tuple(image.GetDirection())
    )


def check_mask_geometry(value):
    """``mask_geometry`` checked: "strict" or "resample" (None: the geometry is left to the reader)."""
    if value is None or value in MASK_GEOMETRIES:
        return value
    raise ValueError(f"mask_geometry must be 'strict' or 'resample'; got {value!r}")


def check_segment(segment):
    """``segment`` as None or a tuple of labels (str) and numbers (int > 0); a ``ValueError`` otherwise."""
    if segment is None:
        return None
    if isinstance(segment, str | Integral):
        items = (segment,)
    elif isinstance(segment, list | tuple):
        items = tuple(segment)
    else:
        raise ValueError(
            f"segment must be a label (str), a segment number (int >= 1) or a tuple of them; got {segment!r}"
        )
    if not items:
        raise ValueError("segment must be a label, a number or a non-empty tuple of them; got an empty sequence")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | Integral) or (isinstance(item, Integral) and item < 1):
            raise ValueError(
                f"segment must be a label (str), a segment number (int >= 1) or a tuple of them; got {item!r}"
            )
        out.append(item if isinstance(item, str) else int(item))
    return tuple(out)


def oriented_geometry(geometry: Geometry, direction) -> Geometry | None:
    """``geometry`` with its axes permuted and flipped to match ``direction`` (as :func:`SimpleITK.DICOMOrient`
    would), or None when no axis permutation with flips maps one onto the other (another orientation)."""
    size, spacing, origin = (np.asarray(v, dtype=float) for v in geometry[:3])
    own = np.asarray(geometry.direction, dtype=float).reshape(3, 3)
    target = np.asarray(direction, dtype=float).reshape(3, 3)
    cosines = own.T @ target  # [i, j]: own axis i against target axis j
    axes = np.argmax(np.abs(cosines), axis=0)
    if len(set(axes.tolist())) != 3:
        return None
    signs = np.sign(cosines[axes, np.arange(3)])
    new_origin = origin.copy()
    for j in range(3):
        if signs[j] < 0:
            i = axes[j]
            new_origin += own[:, i] * spacing[i] * (size[i] - 1)
    new_direction = own[:, axes] * signs
    return Geometry(
        tuple(int(v) for v in size[axes]),
        tuple(spacing[axes].tolist()),
        tuple(new_origin.tolist()),
        tuple(new_direction.ravel().tolist()),
    )


def strict_problem(ct, mask, label: str, tolerance: float) -> str | None:
    """Why ``mask`` is not on ``ct``'s grid once both are in one orientation, or None (images or headers)."""
    from sksurv_tace._validation import check_same_geometry

    oriented = oriented_geometry(geometry_of(mask), ct.GetDirection())
    try:
        check_same_geometry(ct, oriented if oriented is not None else mask, label, tolerance=tolerance)
    except ValueError as exc:
        return str(exc) + _RESAMPLE_HINT
    return None


def extent_problem(mask_geometry: Geometry, box, ct_geometry: Geometry, where: str) -> str | None:
    """Why the voxels of index box ``box = ((x0, y0, z0), (x1, y1, z1))`` on ``mask_geometry`` (the tumour) do
    not all lie inside the CT, or None."""
    lo, hi = (np.asarray(v, dtype=float) for v in box)
    corners = np.array([[(lo, hi)[b][a] for a, b in enumerate(bits)] for bits in np.ndindex(2, 2, 2)])
    matrix = np.asarray(mask_geometry.direction, dtype=float).reshape(3, 3) * np.asarray(mask_geometry.spacing)
    points = np.asarray(mask_geometry.origin) + corners @ matrix.T
    from sksurv_tace.preprocessing.dicom import _index_of

    index = _index_of(points, ct_geometry)
    size = np.asarray(ct_geometry.size, dtype=float)
    if (index >= -0.5 - 1e-3).all() and (index <= size - 0.5 + 1e-3).all():
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    ct_corners = np.array(
        [[(0.0, s - 1.0)[b] for s, b in zip(size, bits, strict=True)] for bits in np.ndindex(2, 2, 2)]
    )
    ct_matrix = np.asarray(ct_geometry.direction, dtype=float).reshape(3, 3) * np.asarray(ct_geometry.spacing)
    ct_points = np.asarray(ct_geometry.origin) + ct_corners @ ct_matrix.T
    span = " x ".join(f"[{a:.1f}, {b:.1f}]" for a, b in zip(low, high, strict=True))
    ct_span = " x ".join(f"[{a:.1f}, {b:.1f}]" for a, b in zip(ct_points.min(0), ct_points.max(0), strict=True))
    return (
        f"{where}: the mask's tumour spans {span} mm (x, y, z), outside the CT's {ct_span} mm; it cannot be "
        "resampled onto the CT (is it the mask of another scan or patient?)"
    )


def _box(array: np.ndarray):
    """Index box ``((x0, y0, z0), (x1, y1, z1))`` of the non-zero voxels of a ``(z, y, x)`` array."""
    where = [np.flatnonzero(array.any(axis=tuple(a for a in range(array.ndim) if a != k))) for k in range(array.ndim)]
    lo = [int(w[0]) for w in where][::-1]
    hi = [int(w[-1]) for w in where][::-1]
    return tuple(lo), tuple(hi)


def resample_onto(tumour, reference, where: str):
    """A 0/1 tumour image resampled onto ``reference`` by nearest neighbour; refused (``where`` names the patient and
    file) when the tumour lies partly outside the CT or vanishes on the CT's grid."""
    import SimpleITK as sitk

    array = sitk.GetArrayViewFromImage(tumour)
    if array.ndim != 3:
        raise ValueError(f"{where}: mask_geometry='resample' needs 3-D images")
    problem = extent_problem(geometry_of(tumour), _box(array), geometry_of(reference), where)
    if problem is not None:
        raise ValueError(problem)
    out = sitk.Resample(tumour, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    if not sitk.GetArrayViewFromImage(out).any():
        raise ValueError(
            f"{where}: no tumour voxel is left after resampling the mask onto the "
            "CT's grid (a tumour smaller than the CT's voxels?)"
        )
    return out


def seg_instances(ct_path: str, seg_path: str):
    """The SOP instances of the CT folder to read for a SEG mask: those it references, when the folder holds any."""
    from sksurv_tace.preprocessing.dicom import _folder_instances, _seg_info

    if not os.path.isdir(ct_path):
        return None
    referenced = _seg_info(seg_path).referenced
    present = _folder_instances(ct_path) & referenced
    return frozenset(present) if present else None


def read_ct_and_tumour(
    paths,
    label: str,
    columns,
    *,
    mask_label=None,
    segment=None,
    mask_geometry="strict",
    volume: bool = True,
    tolerance: float = 1e-3,
):
    """One patient's checked ``(CT image, 0/1 uint8 tumour image)``.

    The tumour is on the CT's grid (its orientation, size, spacing, origin), except with
    ``mask_geometry=None`` for a label image: then it keeps the mask's grid (pyradiomics' own
    ``correctMask`` decides). Errors name the patient (``label``), the column and the file.
    """
    import SimpleITK as sitk

    from sksurv_tace.preprocessing.dicom import is_dicom_seg, read_dicom_seg
    from sksurv_tace.preprocessing.image_checks import _tumour_mask
    from sksurv_tace.preprocessing.imaging import _read_checked

    (ct_path, mask_path), (image_column, mask_column) = paths, columns
    if is_dicom_seg(mask_path):
        if mask_label is not None:
            raise ValueError(
                f"{label}: {mask_column} {mask_path!r} is a DICOM SEG: choose its segment with "
                f"segment= (mask_label={mask_label} applies to label images)"
            )
        image = _read_checked(ct_path, label, image_column, volume=volume, instances=seg_instances(ct_path, mask_path))
        try:
            tumour = read_dicom_seg(mask_path, image, segment=segment, mask_geometry=mask_geometry or "resample")
        except ValueError as exc:
            raise ValueError(f"{label}: {mask_column} {exc}") from None
        if not sitk.GetArrayViewFromImage(tumour).any():
            raise ValueError(
                f"{label}: {mask_column} {mask_path!r}: segment {segment!r} of the DICOM SEG is empty "
                "on the CT (no tumour voxel)"
            )
        return image, tumour
    if segment is not None:
        raise ValueError(
            f"{label}: {mask_column} {mask_path!r} is not a DICOM SEG: segment={segment!r} applies "
            "to DICOM SEG masks; a label image's tumour is chosen with mask_label="
        )
    image = _read_checked(ct_path, label, image_column, volume=volume)
    mask = _read_checked(mask_path, label, mask_column, volume=volume)
    tumour = _tumour_mask(sitk.GetArrayViewFromImage(mask), mask_label, label, mask_column, mask_path)
    tumour_image = sitk.GetImageFromArray(tumour.view(np.uint8))
    tumour_image.CopyInformation(mask)
    if mask_geometry is None:
        return image, tumour_image
    if mask_geometry == "resample":
        return image, resample_onto(tumour_image, image, f"{label}: {mask_column} {mask_path!r}")
    problem = strict_problem(image, mask, label, tolerance)
    if problem is not None:
        raise ValueError(problem)
    if not np.allclose(mask.GetDirection(), image.GetDirection(), atol=tolerance):
        code = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection())
        tumour_image = sitk.DICOMOrient(tumour_image, code)
    tumour_image.CopyInformation(image)  # equal within the tolerance: the CT's values exactly
    return image, tumour_image


# --------------------------------------------------------------------------- cohort-level options (command line)


def cohort_image_options(X, *, segment=None, mask_label=None, mask_geometry=None):
    """``(X without a segment column, mask options)`` for a cohort table.

    ``segment`` (a list: their union) wins; else the table's ``segment`` column, which must hold one value for
    every patient (as ``sksurv-tace manifest`` writes it); digit strings are segment numbers. Only the options
    given are returned, so a saved model keeps its own settings for the others.
    """
    options = {}
    segments = [int(s) if str(s).isdigit() else s for s in segment or []]
    if "segment" in X.columns:
        values = sorted({str(v) for v in X["segment"].dropna()})
        if len(values) > 1 and not segments:
            raise ValueError(
                f"the manifest's segment column holds several values ({', '.join(values)}); one tumour segment "
                "for the whole cohort is supported: give it with --segment"
            )
        if values and not segments:
            segments = [int(values[0]) if values[0].isdigit() else values[0]]
        X = X.drop(columns="segment")
    if segments:
        options["segment"] = segments[0] if len(segments) == 1 else tuple(segments)
    if mask_label is not None:
        options["mask_label"] = mask_label
    if mask_geometry is not None:
        options["mask_geometry"] = mask_geometry
    return X, options


def apply_image_options(model, options: dict) -> None:
    """Set the mask ``options`` on every estimator reachable from ``model`` (fitted ones included) that has them as
    parameters: the image transformers (CTPreprocessor, RadiomicsExtractor, and any other taking ``segment`` etc.)."""
    from sklearn.base import BaseEstimator

    seen = set()

    def visit(obj, depth):
        if id(obj) in seen or depth > 6:
            return
        seen.add(id(obj))
        if isinstance(obj, BaseEstimator):
            own = obj.get_params(deep=False)
            for key, value in options.items():
                if key in own:
                    setattr(obj, key, value)
            for value in vars(obj).values():
                for item in value if isinstance(value, list | tuple) else [value]:
                    if isinstance(item, BaseEstimator):
                        visit(item, depth + 1)

    if options:
        visit(model, 0)
