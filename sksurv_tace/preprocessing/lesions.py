"""Lesions of a tumour mask: connected components, which of them an image model sees, and the tumour burden.

A multinodular liver (53 of HCC-TACE-Seg's 105 patients) has a tumour mask of several disjoint
lesions. Lesions are the connected components of the mask (:func:`label_lesions`, scipy's
:func:`scipy.ndimage.label`): with the default ``connectivity=26`` two tumour voxels belong to one
lesion when they touch by a face, an edge or a corner (``18``: face or edge, ``6``: face only).

Which lesions an image model sees is ``lesions=`` on :class:`~sksurv_tace.preprocessing.CTPreprocessor`
and :class:`~sksurv_tace.preprocessing.RadiomicsExtractor`:

* ``"largest"``: only the largest lesion (most voxels; the first in scan order on ties). The deep
  models' default: the 2.5D slice and the crop are chosen on it.
* ``"union"``: every lesion as one region of interest. The radiomics default (pyradiomics' one
  ROI); for the deep models, the slice of largest total tumour area and the bounding box of the
  tumour on that slice.
* ``"all"``: every lesion on its own. Radiomics: features per lesion, averaged with the lesions'
  voxel counts as weights. Deep models: the slice of largest total tumour area, cropped around the
  in-plane bounding box of every lesion on every slice, so that no lesion falls outside the crop.

:class:`LesionBurden` measures the tumour burden per patient: lesion count, total tumour volume,
the largest lesion's maximum 3-D diameter and sphericity (the last two as pyradiomics'
``shape`` class computes them, so they equal ``original_shape_Maximum3DDiameter`` and
``original_shape_Sphericity`` of the largest lesion on its native grid).
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from sksurv_tace._patients import map_patients
from sksurv_tace._validation import check_clinical_columns

__all__ = ["LESION_MODES", "BURDEN_COLUMNS", "LesionBurden", "label_lesions", "lesion_burden", "lesion_masks"]

#: The values of ``lesions=``: see the module docstring.
LESION_MODES = ("largest", "all", "union")

#: Columns of :class:`LesionBurden` and keys of :func:`lesion_burden`.
BURDEN_COLUMNS = ("lesion_count", "tumour_volume_ml", "largest_lesion_diameter_mm", "largest_lesion_sphericity")

_CONNECTIVITY = {6: 1, 18: 2, 26: 3}  # neighbours -> rank of scipy.ndimage.generate_binary_structure


def _check_lesions(lesions) -> str:
    """``lesions`` if it is one of :data:`LESION_MODES`, else a ``ValueError`` naming them."""
    if not isinstance(lesions, str) or lesions not in LESION_MODES:
        raise ValueError(f"lesions must be one of {LESION_MODES}; got {lesions!r}")
    return lesions


def _check_connectivity(connectivity) -> int:
    if isinstance(connectivity, bool) or connectivity not in _CONNECTIVITY:
        raise ValueError(f"connectivity must be 6, 18 or 26 (neighbours of a voxel); got {connectivity!r}")
    return int(connectivity)


def label_lesions(mask, *, connectivity: int = 26) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of a 3-D tumour mask, numbered from the largest.

    Parameters
    ----------
    mask : array-like of bool, shape (n_slices, n_rows, n_cols)
        Tumour voxels (non-zero = tumour).
    connectivity : {6, 18, 26}, default=26
        Neighbours that join two voxels into one lesion: face (6), face or edge (18), face, edge or
        corner (26).

    Returns
    -------
    labels : ndarray of int32, same shape as ``mask``
        0 outside the tumour, ``1 .. n`` for the lesions by decreasing voxel count (ties in scan
        order, i.e. by their first voxel in C order).
    sizes : ndarray of int64, shape (n,)
        Voxel count of each lesion, ``sizes[i]`` for label ``i + 1``.

    Examples
    --------
    >>> mask = np.zeros((1, 3, 7), bool)
    >>> mask[0, :, :2] = True  # 6 voxels
    >>> mask[0, 1, 4:] = True  # 3 voxels
    >>> labels, sizes = label_lesions(mask)
    >>> labels[0].tolist(), sizes.tolist()
    ([[1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 2, 2, 2], [1, 1, 0, 0, 0, 0, 0]], [6, 3])
    >>> label_lesions(np.eye(3, dtype=bool)[None], connectivity=6)[1].tolist()  # corners do not join
    [1, 1, 1]
    """
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(3, _CONNECTIVITY[_check_connectivity(connectivity)])
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.ndim != 3:
        raise ValueError(f"mask must be a 3-D array (slices, rows, columns); got shape {mask.shape}")
    labels = np.zeros(mask.shape, dtype=np.int32)
    if not mask.any():
        return labels, np.zeros(0, dtype=np.int64)
    # label inside the tumour's bounding box only: a CT volume is mostly not tumour (5 s -> ms at 512x512x96)
    box = tuple(
        slice(hit[0], hit[-1] + 1)
        for hit in (np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3))
    )
    inside, n = ndimage.label(mask[box], structure=structure)
    sizes = np.bincount(inside.ravel(), minlength=n + 1)[1:].astype(np.int64)
    order = np.argsort(-sizes, kind="stable")  # scipy numbers components in scan order
    if n and (order != np.arange(n)).any():
        relabel = np.zeros(n + 1, dtype=np.int32)
        relabel[order + 1] = np.arange(1, n + 1, dtype=np.int32)
        inside = relabel[inside]
    labels[box] = inside
    return labels, sizes[order]


def lesion_masks(mask, lesions: str, *, connectivity: int = 26) -> list[np.ndarray]:
    """The boolean masks an image model sees under ``lesions`` (one mask, or one per lesion for ``"all"``).

    Parameters
    ----------
    mask : array-like of bool, shape (n_slices, n_rows, n_cols)
        A non-empty tumour mask.
    lesions : {"largest", "all", "union"}
    connectivity : {6, 18, 26}, default=26

    Returns
    -------
    list of ndarray of bool
        ``"union"``: ``[mask]``; ``"largest"``: ``[largest lesion]``; ``"all"``: every lesion, largest first.

    Examples
    --------
    >>> mask = np.zeros((1, 1, 6), bool); mask[0, 0, [0, 1, 4]] = True
    >>> [int(m.sum()) for m in lesion_masks(mask, "all")], int(lesion_masks(mask, "largest")[0].sum())
    ([2, 1], 2)
    """
    _check_lesions(lesions)
    mask = np.asarray(mask).astype(bool, copy=False)
    if lesions == "union":
        return [mask]
    labels, sizes = label_lesions(mask, connectivity=connectivity)
    if lesions == "largest":
        return [labels == 1]
    return [labels == i for i in range(1, len(sizes) + 1)]


def _volume_weighted(rows: list[dict], sizes: list[int]) -> dict:
    """Per-lesion feature rows averaged with the lesions' voxel counts as weights (``lesions="all"`` radiomics);
    pyradiomics' non-numeric ``diagnostics_*`` entries are those of the first (largest) lesion.

    >>> _volume_weighted([{"a": 1.0, "diagnostics_x": "v1"}, {"a": 4.0, "diagnostics_x": "v2"}], [3, 1])
    {'a': 1.75, 'diagnostics_x': 'v1'}
    """
    weights = np.asarray(sizes, dtype=np.float64) / float(np.sum(sizes))
    out = {}
    for name, first in rows[0].items():
        if name.startswith("diagnostics_"):
            out[name] = first
        else:
            out[name] = float(sum(w * float(row[name]) for w, row in zip(weights, rows, strict=True)))
    return out


def _roi_focus(mask: np.ndarray, lesions: str, *, connectivity: int = 26) -> tuple[int, tuple[int, int, int, int]]:
    """The 2.5D crop's axial slice and in-plane bounding box ``(row0, row1, col0, col1)`` (inclusive) under ``lesions``.

    ``"largest"``: the slice where the largest lesion's area is largest (the first on ties) and that lesion's box
    on it; ``"union"``: the slice of largest tumour area and the whole tumour's box on it; ``"all"``: the slice of
    largest tumour area and the box of every tumour voxel of every slice.

    Examples
    --------
    >>> mask = np.zeros((3, 10, 10), bool)
    >>> mask[0:3, 1:5, 1:5] = True  # a large lesion on three slices
    >>> mask[2, 7:10, 7:9] = True  # a small one on the last slice
    >>> _roi_focus(mask, "largest"), _roi_focus(mask, "union"), _roi_focus(mask, "all")
    ((0, (1, 4, 1, 4)), (2, (1, 9, 1, 8)), (2, (1, 9, 1, 8)))
    """
    _check_lesions(lesions)
    mask = np.asarray(mask).astype(bool, copy=False)
    focus = lesion_masks(mask, "largest", connectivity=connectivity)[0] if lesions == "largest" else mask
    k = int(np.argmax(focus.sum(axis=(1, 2))))
    plane = mask.any(axis=0) if lesions == "all" else focus[k]
    rows, cols = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    return k, (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))


def _shape_of(lesion: np.ndarray, spacing) -> tuple[float, float]:
    """pyradiomics' ``(Maximum3DDiameter, Sphericity)`` of one lesion, computed on its bounding box."""
    import SimpleITK as sitk
    from radiomics import setVerbosity
    from radiomics.shape import RadiomicsShape

    setVerbosity(40)
    box = tuple(slice(max(int(i.min()) - 1, 0), int(i.max()) + 2) for i in np.nonzero(lesion))
    crop = np.ascontiguousarray(lesion[box], dtype=np.uint8)
    mask = sitk.GetImageFromArray(crop)
    mask.SetSpacing(tuple(float(s) for s in spacing[::-1]))  # SimpleITK orders (x, y, z)
    image = sitk.Cast(mask, sitk.sitkFloat32)
    shape = RadiomicsShape(image, mask, label=1)
    return float(shape.getMaximum3DDiameterFeatureValue()), float(shape.getSphericityFeatureValue())


def lesion_burden(mask, spacing, *, connectivity: int = 26) -> dict:
    """Lesion count, total tumour volume and the largest lesion's diameter and sphericity of one tumour mask.

    Parameters
    ----------
    mask : array-like of bool, shape (n_slices, n_rows, n_cols)
        Tumour voxels; at least one.
    spacing : sequence of 3 float
        Voxel size in mm along the array's axes ``(slice, row, column)``.
    connectivity : {6, 18, 26}, default=26
        See :func:`label_lesions`.

    Returns
    -------
    dict
        ``lesion_count`` (int); ``tumour_volume_ml``: tumour voxels x voxel volume / 1000 (pyradiomics'
        ``VoxelVolume`` in mL); ``largest_lesion_diameter_mm``: the largest lesion's maximum 3-D diameter
        (largest distance between two vertices of its marching-cubes surface, pyradiomics'
        ``Maximum3DDiameter``); ``largest_lesion_sphericity``: ``(36 pi V^2)^(1/3) / A`` of that surface's
        volume and area (pyradiomics' ``Sphericity``: 1 for a sphere, about 0.9 for a sphere of radius 8
        voxels, whose voxelised surface is rougher).

    Examples
    --------
    >>> z, y, x = np.mgrid[:20, :20, :20]
    >>> ball = (z - 9.5) ** 2 + (y - 9.5) ** 2 + (x - 9.5) ** 2 <= 36  # radius 6 voxels
    >>> cube = np.zeros_like(ball); cube[1:4, 1:4, 14:17] = True
    >>> out = lesion_burden(ball | cube, (1.0, 1.0, 1.0))
    >>> out["lesion_count"], round(out["tumour_volume_ml"], 3), round(out["largest_lesion_diameter_mm"], 1)
    (2, 0.939, 12.7)
    """
    spacing = np.asarray(spacing, dtype=np.float64)
    if spacing.shape != (3,) or not np.isfinite(spacing).all() or (spacing <= 0).any():
        raise ValueError(f"spacing must be 3 positive voxel sizes in mm; got {spacing.tolist()}")
    labels, sizes = label_lesions(mask, connectivity=connectivity)
    if len(sizes) == 0:
        raise ValueError("the tumour mask is empty: there is no lesion to measure")
    diameter, sphericity = _shape_of(labels == 1, spacing)
    return {
        "lesion_count": len(sizes),
        "tumour_volume_ml": float(sizes.sum() * np.prod(spacing) / 1000.0),
        "largest_lesion_diameter_mm": diameter,
        "largest_lesion_sphericity": sphericity,
    }


def _burden_patient(paths, label: str, columns, params: dict) -> dict:
    """One patient's :func:`lesion_burden`: the per-patient function of :func:`~sksurv_tace._patients.map_patients`."""
    import SimpleITK as sitk

    from sksurv_tace.preprocessing.imaging import _read_patient

    options = {k: params[k] for k in ("segment", "mask_geometry") if params[k] is not None}
    _, tumour = _read_patient(paths, label, columns, params["mask_label"], **options)
    spacing = tumour.GetSpacing()[::-1]  # (slice, row, column), the array's axes
    return lesion_burden(sitk.GetArrayViewFromImage(tumour), spacing, connectivity=params["connectivity"])


class LesionBurden(TransformerMixin, BaseEstimator):
    """Tumour burden per patient from the CT / tumour-mask path columns: lesion count, volume, largest lesion.

    Each patient's CT and mask are read, checked and aligned by the reader every image transformer of the
    package uses (:class:`~sksurv_tace.preprocessing.CTPreprocessor`,
    :class:`~sksurv_tace.preprocessing.RadiomicsExtractor`: the same ``mask_label``, ``segment`` and
    ``mask_geometry``), then measured by :func:`lesion_burden`. Stateless: ``fit`` only checks the parameters.

    Parameters
    ----------
    image_column, mask_column : str, default="ct", "mask"
        Columns of ``X`` holding the CT and the tumour mask paths.
    mask_label : int or None, default=None
        Tumour label of a label-map mask (None: a binary mask), as on the other image transformers.
    segment : str, int, tuple or None, default=None
        The tumour segment(s) of a DICOM SEG mask, as on the other image transformers.
    mask_geometry : {"strict", "resample"} or None, default=None
        Alignment of a mask on another grid, as on the other image transformers (None: their default).
    connectivity : {6, 18, 26}, default=26
        Voxel neighbourhood that joins tumour voxels into one lesion (see :func:`label_lesions`).
    n_jobs : int or None, default=None
        Patients processed in parallel by joblib.
    memory : None, str, path-like or joblib.Memory, default=None
        Disk cache keyed by the files' content and the parameters (see
        :func:`~sksurv_tace._patients.map_patients`).
    progress : bool, default=False
        Show a progress bar over patients.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(3, path=tempfile.mkdtemp(), image_shape=(16, 48, 48), random_state=0)
    >>> burden = LesionBurden().fit_transform(X)
    >>> list(burden.columns)
    ['lesion_count', 'tumour_volume_ml', 'largest_lesion_diameter_mm', 'largest_lesion_sphericity']
    >>> bool((burden["lesion_count"] >= 1).all() and (burden["tumour_volume_ml"] > 0).all())
    True
    """

    _parameter_constraints: dict = {
        "image_column": [str],
        "mask_column": [str],
        "mask_label": [Integral, None],
        "segment": [str, Integral, tuple, list, None],
        "mask_geometry": [StrOptions({"strict", "resample"}), None],
        "connectivity": [Integral],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        image_column="ct",
        mask_column="mask",
        mask_label=None,
        segment=None,
        mask_geometry=None,
        connectivity=26,
        n_jobs=None,
        memory=None,
        progress=False,
    ):
        self.image_column = image_column
        self.mask_column = mask_column
        self.mask_label = mask_label
        self.segment = segment
        self.mask_geometry = mask_geometry
        self.connectivity = connectivity
        self.n_jobs = n_jobs
        self.memory = memory
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def _params(self, X) -> dict:
        from sksurv_tace.preprocessing.image_checks import _check_mask_label

        self._validate_params()
        check_clinical_columns(X, [self.image_column, self.mask_column])
        return {
            "mask_label": _check_mask_label(self.mask_label),
            "segment": tuple(self.segment) if isinstance(self.segment, list) else self.segment,
            "mask_geometry": self.mask_geometry,
            "connectivity": _check_connectivity(self.connectivity),
            "rule": 1,
        }

    def fit(self, X, y=None):
        """Check the parameters and the path columns (nothing is learnt).

        Parameters
        ----------
        X : DataFrame
            One row per patient with the ``image_column`` and ``mask_column`` paths.
        y : ignored

        Returns
        -------
        self : LesionBurden
        """
        self._params(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """The tumour burden of every patient.

        Parameters
        ----------
        X : DataFrame
            One row per patient with the path columns.

        Returns
        -------
        DataFrame
            Index of ``X``, columns :data:`BURDEN_COLUMNS`, float64 (``lesion_count`` holds whole numbers).
        """
        params = self._params(X)
        rows = map_patients(_burden_patient, X, (self.image_column, self.mask_column), params, memory=self.memory,
                            n_jobs=self.n_jobs, progress=self.progress, desc="tumour burden")  # fmt: skip
        frame = pd.DataFrame.from_records(rows, index=X.index, columns=list(BURDEN_COLUMNS))
        return frame.astype(np.float64)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: :data:`BURDEN_COLUMNS`."""
        check_is_fitted(self, "n_features_in_")
        return np.asarray(BURDEN_COLUMNS, dtype=object)
