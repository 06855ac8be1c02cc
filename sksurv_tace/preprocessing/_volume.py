"""3-D tumour VOIs and multi-phase input for :class:`~sksurv_tace.preprocessing.CTPreprocessor` (not public).

Two per-patient functions for :func:`~sksurv_tace._patients.map_patients`, used when
``CTPreprocessor(mode="3d")`` or ``image_columns=`` (several phases) asks for them; the default
single-phase 2.5-D input keeps its own path (:func:`~sksurv_tace.preprocessing.imaging._preprocess_patient`).

* Phases: the first phase is the reference. Its CT and the tumour mask are read and aligned with the
  rules every image transformer shares (``mask_label``, ``segment``, ``mask_geometry``:
  :func:`~sksurv_tace.preprocessing._alignment.read_ct_and_tumour`); every other phase is read with the
  same checks and must cover the tumour (it is a scan of the same patient), then resampled by linear
  interpolation (:func:`SimpleITK.Resample`, air outside the phase) onto the first phase's grid (2.5-D)
  or straight onto the VOI grid (3-D: one interpolation instead of two).
* 3-D VOI: a cube centred on the tumour's bounding box (physical, so oblique and anisotropic grids are
  handled), of side ``max(box extent in mm) + 2 * margin_mm`` (the 2.5-D crop's rule) or, with
  ``voi_spacing``, ``voi_size * voi_spacing`` mm; sampled on an axis-aligned LPS grid of ``voi_size``
  cubic voxels by linear interpolation (air outside the volume), then windowed as in 2.5-D.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []

MODES = ("2.5d", "3d")


def read_phases(paths, label: str, columns, params: dict):
    """``(reference CT, tumour on its grid, [other phases])`` of one patient: ``paths``/``columns`` hold the phases,
    then the mask. A phase that does not cover the tumour is refused, naming the patient, column and file."""
    import SimpleITK as sitk

    from sksurv_tace.preprocessing._alignment import _box, extent_problem, geometry_of, read_ct_and_tumour
    from sksurv_tace.preprocessing.imaging import _GEOMETRY_TOLERANCE, _read_checked

    reference, tumour = read_ct_and_tumour(
        (paths[0], paths[-1]), label, (columns[0], columns[-1]), mask_label=params["mask_label"],
        segment=params.get("segment"), mask_geometry=params.get("mask_geometry", "strict"),
        tolerance=_GEOMETRY_TOLERANCE,
    )  # fmt: skip
    box = _box(sitk.GetArrayViewFromImage(tumour))
    others = []
    for path, column in zip(paths[1:-1], columns[1:-1], strict=True):
        phase = _read_checked(path, label, column)
        problem = extent_problem(geometry_of(tumour), box, geometry_of(phase), f"{label}: {column} {path!r}")
        if problem is not None:
            raise ValueError(problem.replace("outside the CT's", f"outside phase {column}'s"))
        others.append(phase)
    return reference, tumour, others


def _onto(image, reference):
    """``image`` resampled onto ``reference``'s grid: linear interpolation, air (-1000 HU) outside, float32."""
    import SimpleITK as sitk

    from sksurv_tace.preprocessing.imaging import AIR_HU

    return sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, AIR_HU, sitk.sitkFloat32)


def _window(hu: np.ndarray, params: dict) -> np.ndarray:
    lower = params["window_level"] - params["window_width"] / 2.0
    return np.clip((hu - lower) / params["window_width"], 0.0, 1.0).astype(np.float32)


def phases_25d(paths, label: str, columns, params: dict):
    """2.5-D ROI of several phases: ``(n_phases * (2 * n_neighbors + 1), size, size)``, phase after phase, every
    phase cut at the first phase's slice and crop (the tumour's), and the first phase's ROI mask."""
    import SimpleITK as sitk

    from sksurv_tace.preprocessing.imaging import _roi_from_arrays

    reference, tumour, others = read_phases(paths, label, columns, params)
    if reference.GetSize()[2] < 2:
        raise ValueError(f"{label}: {columns[0]} {paths[0]!r} has a single axial slice; a 3-D CT volume is needed")
    mask = sitk.GetArrayFromImage(sitk.DICOMOrient(tumour, "LPS")).astype(bool)
    rois, roi_mask = [], None
    for phase in [reference, *(_onto(image, reference) for image in others)]:
        oriented = sitk.DICOMOrient(phase, "LPS")
        roi, this_mask, _ = _roi_from_arrays(
            sitk.GetArrayFromImage(oriented), mask, oriented.GetSpacing()[:2], window_level=params["window_level"],
            window_width=params["window_width"], margin_mm=params["margin_mm"], image_size=params["image_size"],
            n_neighbors=params["n_neighbors"], lesions=params["lesions"],
        )  # fmt: skip
        rois.append(roi)
        roi_mask = this_mask if roi_mask is None else roi_mask
    return np.concatenate(rois, axis=0), roi_mask


def voi_grid(tumour, lesions: str, *, margin_mm: float, voi_size: int, voi_spacing=None):
    """The VOI's ``(origin, spacing)``: a cube of ``voi_size`` voxels on an axis-aligned (LPS) grid, centred on the
    physical bounding box of the tumour's voxels (``lesions``: the largest lesion's, or every tumour voxel's)."""
    import SimpleITK as sitk

    from sksurv_tace.preprocessing._alignment import _box
    from sksurv_tace.preprocessing.lesions import lesion_masks

    array = sitk.GetArrayViewFromImage(tumour).astype(bool)
    focus = lesion_masks(array, "largest")[0] if lesions == "largest" else array
    lo, hi = (np.asarray(v, dtype=float) for v in _box(focus))
    # the box's outer faces (voxel centres +- half a voxel), to physical space: extent = voxel count x spacing
    corners = [np.where(bits, hi + 0.5, lo - 0.5) for bits in np.ndindex(2, 2, 2)]
    points = np.array([tumour.TransformContinuousIndexToPhysicalPoint(c.tolist()) for c in corners])
    low, high = points.min(axis=0), points.max(axis=0)
    if voi_spacing is None:
        spacing = (float((high - low).max()) + 2.0 * margin_mm) / voi_size
    else:
        spacing = float(voi_spacing)
    origin = (low + high) / 2.0 - (voi_size - 1) / 2.0 * spacing
    return tuple(origin.tolist()), spacing


def _sample(image, origin, spacing: float, size: int, default: float):
    import SimpleITK as sitk

    out = sitk.Resample(image, (size,) * 3, sitk.Transform(), sitk.sitkLinear, origin, (spacing,) * 3,
                        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0), default, sitk.sitkFloat32)  # fmt: skip
    return sitk.GetArrayFromImage(out)


def voi_3d(paths, label: str, columns, params: dict):
    """3-D tumour VOI of one patient: ``(n_phases, voi_size, voi_size, voi_size)`` float32 in [0, 1] (axes z, y, x
    in LPS: slices inferior to superior, rows anterior to posterior, columns right to left) and its tumour mask
    ``(voi_size,) * 3`` bool (every tumour voxel, linear interpolation thresholded at 0.5)."""
    import SimpleITK as sitk

    from sksurv_tace.preprocessing.imaging import AIR_HU

    reference, tumour, others = read_phases(paths, label, columns, params)
    size = params["voi_size"]
    origin, spacing = voi_grid(tumour, params["lesions"], margin_mm=params["margin_mm"], voi_size=size,
                               voi_spacing=params["voi_spacing"])  # fmt: skip
    channels = [_window(_sample(image, origin, spacing, size, AIR_HU), params) for image in (reference, *others)]
    mask = _sample(sitk.Cast(tumour, sitk.sitkFloat32), origin, spacing, size, 0.0) >= 0.5
    return np.ascontiguousarray(np.stack(channels)), mask


def phase_columns(image_column: str, image_columns, mask_column: str) -> tuple[str, ...]:
    """The image (phase) columns read: ``image_columns``, else ``(image_column,)``; a ``ValueError`` when they clash."""
    if image_columns is None:
        return (image_column,)
    phases = tuple(image_columns)
    if not phases or not all(isinstance(c, str) for c in phases) or len(set(phases)) != len(phases):
        raise ValueError(f"image_columns must be a non-empty tuple of distinct column names; got {phases!r}")
    if image_column not in ("ct", phases[0]):
        raise ValueError(f"image_column={image_column!r} and image_columns={phases!r} disagree: the first of "
                         "image_columns is the reference phase; leave image_column at its default")  # fmt: skip
    if mask_column in phases:
        raise ValueError(f"image_columns {phases!r} include the mask column {mask_column!r}")
    return phases
