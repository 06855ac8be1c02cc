"""CT image input and the tumour-ROI preprocessing of the deep models.

:func:`read_image` reads one CT or mask (NIfTI, NRRD, MHA, any other format SimpleITK
reads, a DICOM series folder or a single DICOM file) with correct Hounsfield units.
:class:`CTPreprocessor` turns a table of ``ct``/``mask`` paths into the
``(n, 3, image_size, image_size)`` float32 tumour-ROI tensors the networks take
(the 2.5D input of the paper: the axial slice with the largest tumour area and its
neighbours, a square crop with a peritumoural margin, liver window).
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from sksurv_tace._patients import map_patients
from sksurv_tace._validation import check_clinical_columns, check_nifti_file, check_path, row_labels
from sksurv_tace.preprocessing._alignment import check_mask_geometry, check_segment, read_ct_and_tumour
from sksurv_tace.preprocessing._volume import MODES, phase_columns, phases_25d, voi_3d
from sksurv_tace.preprocessing.dicom import _read_series, is_dicom_seg
from sksurv_tace.preprocessing.image_checks import (
    _check_mask_label,
    _non_finite_message,
    _read_error,
    _shape_problem,
    check_image_paths,
)
from sksurv_tace.preprocessing.lesions import LESION_MODES, _check_lesions, _roi_focus

__all__ = ["read_image", "CTPreprocessor"]

AIR_HU = -1000.0  # fill value where the crop leaves the volume
_GEOMETRY_TOLERANCE = 1e-3  # the same tolerance as sksurv_tace.preprocessing.image_checks.check_image_paths
# bump when the preprocessing or its checks change, to invalidate on-disk caches (2: one mask-label rule,
# truncated NIfTI and non-finite voxels refused; 3: DICOM SEG masks, mask_geometry, series checks)
_CACHE_VERSION = 3


def read_image(path, *, acquisition=None, instances=None):
    """Read a medical image with SimpleITK, refusing truncated files, non-finite voxels and irregular series.

    Parameters
    ----------
    path : str or path-like
        A file SimpleITK reads (NIfTI ``.nii``/``.nii.gz``, NRRD, MHA/MHD, a single DICOM
        file, ...) or a folder holding one DICOM series, read with GDCM through
        :class:`SimpleITK.ImageSeriesReader` (slices sorted by position along the slice normal,
        whatever the file names or instance numbers). DICOM pixel values come back rescaled
        (``stored * RescaleSlope + RescaleIntercept``), i.e. in Hounsfield units for CT. A DICOM
        SEG file is refused here: it is a mask read onto its CT
        (:func:`~sksurv_tace.preprocessing.read_dicom_seg`, or ``segment=`` on the transformers).
    acquisition : int, optional
        DICOM folders only: keep the images of this AcquisitionNumber (one phase of a series
        that stores several phases under one Series Instance UID). Default None: every image.
    instances : collection of str, optional
        DICOM folders only: keep the images with these SOP Instance UIDs, e.g. those a DICOM SEG
        references (what the transformers do for a SEG mask). Default None: every image.

    Returns
    -------
    image : SimpleITK.Image

    Raises
    ------
    ValueError
        Naming the path when it does not exist, holds no or several DICOM series, or cannot be
        read; for a DICOM folder whose (kept) slices do not make one regular volume: duplicate
        slice positions, two acquisitions covering the same slices (two phases under one Series
        Instance UID), missing slices or uneven spacing, with the spacings and acquisitions found
        (the default is to refuse; ``acquisition=`` or ``instances=`` select one volume); when it
        is a SEG file; when it is a truncated or corrupt
        NIfTI file (``.nii``, ``.nii.gz``, ``.hdr``/``.img``), which SimpleITK reads without an
        error, the missing voxels 0; and with the count when it holds NaN or infinite voxels
        (which SimpleITK reads from NIfTI as 0). For NIfTI the data size the header declares is
        checked against the file, and float voxels are counted as stored: a ``.nii.gz`` is
        decompressed once more for it (about 0.12 s CPU per 60 MB of voxels; this also finds a
        damaged gzip stream, which SimpleITK decodes into wrong voxels without an error), a
        ``.nii`` of integers only has its size compared.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, SimpleITK as sitk
    >>> path = os.path.join(tempfile.mkdtemp(), "ct.nrrd")
    >>> sitk.WriteImage(sitk.GetImageFromArray(np.full((2, 4, 4), -1000, np.int16)), path)
    >>> image = read_image(path)
    >>> image.GetSize(), float(sitk.GetArrayViewFromImage(image).max())
    ((4, 4, 2), -1000.0)
    >>> cut = path.replace(".nrrd", ".nii")
    >>> sitk.WriteImage(image, cut)
    >>> os.truncate(cut, 352 + 2 * 4 * 4 * 2 - 6)  # header, then 32 int16 voxels: the last 3 cut off
    >>> read_image(cut)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image '...ct.nii' is truncated or corrupt: its header declares 64 bytes of voxel data from byte 352, ...
    """
    import SimpleITK as sitk

    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"image path must be a string or path-like; got {path!r}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"image {path!r} does not exist")
    stored = None  # non-finite voxels as stored in a NIfTI file (ITK reads them as 0)
    try:
        if os.path.isdir(path):
            image = _read_series(path, instances=instances, acquisition=acquisition)
        else:
            if is_dicom_seg(path):
                raise ValueError(f"{path!r} is a DICOM SEG (a segmentation, not an image); read it onto its CT "
                                 "with read_dicom_seg, or give segment= to the image transformers")  # fmt: skip
            stored = check_nifti_file(path)
            image = sitk.ReadImage(path)
    except RuntimeError as exc:
        raise ValueError(_read_error(path, exc)) from None
    _check_finite(image, path, stored)
    return image


def _check_finite(image, path: str, stored) -> None:
    """Refuse NaN or infinite voxels anywhere in the image (counted as stored for NIfTI), naming the file and count."""
    import SimpleITK as sitk

    if stored is not None:
        n_nan, n_inf = stored
    else:
        array = sitk.GetArrayViewFromImage(image)
        if not np.issubdtype(array.dtype, np.inexact):
            return  # integer voxels are always finite
        finite = np.isfinite(array)
        if finite.all():
            return
        n_nan = int(np.count_nonzero(np.isnan(array)))
        n_inf = int(finite.size - np.count_nonzero(finite)) - n_nan
    if n_nan or n_inf:
        size = int(np.prod(image.GetSize())) * image.GetNumberOfComponentsPerPixel()
        raise ValueError(_non_finite_message(path, n_nan, n_inf, size))


# --------------------------------------------------------------------------- per-patient work


def _roi_from_arrays(
    ct: np.ndarray,
    mask: np.ndarray,
    spacing_xy: tuple[float, float],
    *,
    window_level: float,
    window_width: float,
    margin_mm: float,
    image_size: int,
    n_neighbors: int,
    lesions: str = "largest",
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Cut the tumour ROI out of one volume.

    ``ct`` (HU) and ``mask`` (bool, non-empty) are ``(z, y, x)`` arrays of one grid with
    in-plane spacing ``spacing_xy = (sx, sy)`` in mm. Returns the windowed ROI
    ``(2 * n_neighbors + 1, image_size, image_size)`` float32 in [0, 1], the ROI mask of
    the central slice ``(image_size, image_size)`` bool (every tumour voxel), and a dict
    describing the crop. ``lesions`` chooses the slice and the box (:mod:`sksurv_tace.preprocessing.lesions`).
    """
    import torch

    n_slices, n_rows, n_cols = ct.shape
    k, (y0, y1, x0, x1) = _roi_focus(mask, lesions)  # first slice of largest tumour area, the box to crop
    slices = np.clip(np.arange(k - n_neighbors, k + n_neighbors + 1), 0, n_slices - 1)

    sx, sy = float(spacing_xy[0]), float(spacing_xy[1])
    side_mm = max((x1 - x0 + 1) * sx, (y1 - y0 + 1) * sy) + 2.0 * margin_mm
    # the same physical side along x and y: anisotropic pixels give a non-square pixel crop,
    # made square (isotropic) by the single resize below
    width = max(1, int(np.floor(side_mm / sx + 0.5)))
    height = max(1, int(np.floor(side_mm / sy + 0.5)))
    start_x = int(np.floor((x0 + x1) / 2.0 - (width - 1) / 2.0 + 0.5))
    start_y = int(np.floor((y0 + y1) / 2.0 - (height - 1) / 2.0 + 0.5))

    crop = np.full((len(slices), height, width), AIR_HU, dtype=np.float64)
    crop_mask = np.zeros((height, width), dtype=np.float32)
    ys, ye = max(start_y, 0), min(start_y + height, n_rows)
    xs, xe = max(start_x, 0), min(start_x + width, n_cols)
    crop[:, ys - start_y : ye - start_y, xs - start_x : xe - start_x] = ct[slices, ys:ye, xs:xe]
    crop_mask[ys - start_y : ye - start_y, xs - start_x : xe - start_x] = mask[k, ys:ye, xs:xe]

    lower = window_level - window_width / 2.0
    windowed = np.clip((crop - lower) / window_width, 0.0, 1.0).astype(np.float32)

    with torch.no_grad():
        stack = torch.from_numpy(np.concatenate([windowed, crop_mask[None]], axis=0))[None]
        resized = torch.nn.functional.interpolate(
            stack, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        )[0].numpy()
    roi = np.clip(resized[:-1], 0.0, 1.0).astype(np.float32, copy=False)
    roi_mask = resized[-1] >= 0.5
    info = {
        "slice": k,
        "slices": slices.tolist(),
        "crop_start_xy": (start_x, start_y),
        "crop_size_xy": (width, height),
        "side_mm": side_mm,
    }
    return np.ascontiguousarray(roi), roi_mask, info


def _read_checked(path: str, label: str, column: str, *, volume: bool = True, instances=None):
    """Read one file of a patient: the checks of :func:`read_image` (finite voxels, complete file), a scalar
    image, 3-D if ``volume``; errors name the patient (``label``) and the column."""
    try:
        image = read_image(path, instances=instances)
    except ValueError as exc:
        raise ValueError(f"{label}: {column} {exc}") from None
    problem = _shape_problem(image, label, column, path, volume=volume)
    if problem is not None:
        raise ValueError(problem)
    return image


def _read_patient(paths, label: str, columns, mask_label, *, volume: bool = True, segment=None,
                  mask_geometry="strict"):  # fmt: skip
    """One patient's checked ``(CT image, tumour image)``: the tumour (a label image's ``mask_label`` or a DICOM
    SEG's ``segment``) as a 0/1 uint8 image on the CT's grid (``mask_geometry``), for
    :class:`~sksurv_tace.preprocessing.RadiomicsExtractor` (see :mod:`sksurv_tace.preprocessing._alignment`)."""
    return read_ct_and_tumour(paths, label, columns, mask_label=mask_label, segment=segment,
                              mask_geometry=mask_geometry, volume=volume, tolerance=_GEOMETRY_TOLERANCE)  # fmt: skip


def _load_pair(ct_path: str, mask_path: str, label: str, image_column: str, mask_column: str, mask_label,
               segment=None, mask_geometry="strict"):  # fmt: skip
    """Read, check and orient (LPS) one patient's CT and tumour: ``(ct HU, tumour bool, (sx, sy))``.

    The same reading, checks, tumour rule and alignment as :func:`_read_patient`.
    """
    import SimpleITK as sitk

    image, tumour_image = _read_patient((ct_path, mask_path), label, (image_column, mask_column), mask_label,
                                        segment=segment, mask_geometry=mask_geometry)  # fmt: skip
    # axial slices along the array's first axis, rows anterior->posterior, columns right->left
    image = sitk.DICOMOrient(image, "LPS")
    mask = sitk.DICOMOrient(tumour_image, "LPS")
    if image.GetSize()[2] < 2:
        raise ValueError(
            f"{label}: {image_column} {ct_path!r} has a single axial slice (a 2-D image of size "
            f"{image.GetSize()[:2]}); a 3-D CT volume is needed"
        )
    ct = sitk.GetArrayFromImage(image)  # stored type; only the crop is converted to float
    tumour = sitk.GetArrayFromImage(mask).astype(bool)
    return ct, tumour, image.GetSpacing()[:2]


def _preprocess_patient(paths: tuple[str, str], label: str, columns: tuple[str, str], params: dict):
    """One patient's ``(roi, roi_mask)``: the per-patient function of :func:`~sksurv_tace._patients.map_patients`."""
    ct, tumour, spacing = _load_pair(*paths, label, *columns, params["mask_label"], params.get("segment"),
                                     params.get("mask_geometry", "strict"))  # fmt: skip
    roi, roi_mask, _ = _roi_from_arrays(
        ct,
        tumour,
        spacing,
        window_level=params["window_level"],
        window_width=params["window_width"],
        margin_mm=params["margin_mm"],
        image_size=params["image_size"],
        n_neighbors=params["n_neighbors"],
        lesions=params["lesions"],
    )
    return roi, roi_mask


# --------------------------------------------------------------------------- the transformer


class CTPreprocessor(TransformerMixin, BaseEstimator):
    """Turn CT volumes and tumour masks into 2.5D tumour-ROI tensors (or 3-D VOIs) for the deep models.

    For each patient (row of ``X``):

    1. read the CT and its mask with SimpleITK (see :func:`read_image`), check that they
       share one grid, and orient both to LPS (axial slices; columns run from the
       patient's right to left, rows from anterior to posterior, as radiologists view them);
    2. take the largest tumour (largest 26-connected component of the mask; see
       ``lesions``), the axial slice where its area is largest (the first such
       slice on ties), and that slice's ``n_neighbors`` neighbours on each side as
       channels (indices clamped at the first/last slice of the volume);
    3. crop a square centred on the tumour's bounding box on that slice, of side
       ``max(bounding-box extent in mm) + 2 * margin_mm``, filled with air (-1000 HU)
       where it leaves the volume;
    4. map HU through the window ``clip((HU - (window_level - window_width / 2)) /
       window_width, 0, 1)``;
    5. resize to ``image_size`` x ``image_size`` pixels by bilinear interpolation with
       antialiasing (:func:`torch.nn.functional.interpolate`, ``align_corners=False``;
       deterministic on CPU).

    Anisotropic in-plane pixels are handled without a separate resampling: the crop
    spans the same physical side (mm) along x and y, so the single resize of step 5
    also makes the output pixels isotropic. The tumour is selected in the mask by the rule
    :class:`~sksurv_tace.preprocessing.RadiomicsExtractor` shares (see ``mask_label``).
    The ROI mask of ``transform(X, return_mask=True)`` and
    :meth:`transform_masks` is the tumour mask of the central slice resized the same
    way and thresholded at 0.5; it shows every tumour in the ROI.
    The fit is stateless: it checks the parameters, the path columns and the paths.

    Parameters
    ----------
    image_column : str, default="ct"
        Column of ``X`` holding the CT path (file or DICOM series folder).
    mask_column : str, default="mask"
        Column of ``X`` holding the tumour mask: a label image on the CT's grid (see
        ``mask_geometry``) or a DICOM SEG file (recognised by its content, whatever its name;
        see ``segment``).
    window_level : float, default=70.0
        Window centre in HU (liver window).
    window_width : float, default=350.0
        Window width in HU.
    margin_mm : float, default=50.0
        Peritumoural margin added on each side of the tumour's bounding box, in mm
        (the paper stresses the tissue within ~5 cm of the tumour).
    image_size : int, default=224
        Side of the output images in pixels.
    n_neighbors : int, default=1
        Slices taken on each side of the largest-tumour slice: ``2 * n_neighbors + 1``
        channels (3 by default, as an ImageNet-style backbone expects).
    mode : {"2.5d", "3d"}, default="2.5d"
        "2.5d": the slices above. "3d": a cubic tumour VOI ``(voi_size,) * 3`` instead, centred on the
        physical bounding box of the tumour (of the largest lesion with ``lesions="largest"``, of every
        tumour voxel otherwise), of side ``max(box extent in mm) + 2 * margin_mm`` (the 2.5-D rule), sampled
        on an axis-aligned grid of cubic voxels in LPS order (slices inferior to superior, rows anterior to
        posterior, columns right to left) by linear interpolation (SimpleITK, no antialiasing; air outside
        the volume), then windowed: output ``(n, n_phases, voi_size, voi_size, voi_size)``, for a 3-D
        backbone (``backbone="resnet18_3d"``).
    voi_size : int, default=64
        ``mode="3d"``: voxels along each side of the VOI.
    voi_spacing : float or None, default=None
        ``mode="3d"``: None adapts the voxel size to the tumour (side / ``voi_size``, as the 2.5-D resize
        does); a value (mm) fixes it, the VOI then spanning ``voi_size * voi_spacing`` mm around the tumour's
        centre whatever its size (``margin_mm`` unused; e.g. 64 voxels at 1 mm).
    image_columns : tuple of str or None, default=None
        Several phases (e.g. ``("ct", "ct_portal")``) stacked as channels; None reads ``image_column`` only.
        The first phase is the reference: the mask belongs to it (``mask_geometry``) and each other phase,
        which must cover the tumour, is resampled onto its grid by linear interpolation (in 3-D straight onto
        the VOI grid, one interpolation). Channels run phase after phase: ``n_phases * (2 * n_neighbors + 1)``
        in 2.5-D (``n_neighbors=0``: one slice per phase), ``n_phases`` in 3-D. ``image_column`` must then be
        left at its default or name the first phase.
    mask_label : int or None, default=None
        Label value of the tumour in the mask (other labels, e.g. a liver label, are
        ignored). None: the mask must be binary (one non-zero value, e.g. 0/1 or 0/255),
        and every non-zero voxel is tumour; a mask with several non-zero labels is refused
        (a ``ValueError`` naming the patient and the labels found), as is ``0``. The same
        parameter, default and rule as :class:`~sksurv_tace.preprocessing.RadiomicsExtractor`.
        For label images only (a DICOM SEG's tumour is chosen by ``segment``).
    segment : str, int, tuple or None, default=None
        DICOM SEG masks only: the tumour segment by label (e.g. ``"Mass"``) or number, or
        several as a tuple (their union, e.g. ``("Mass", "Necrosis")``). None: the SEG's only
        segment; a SEG with several segments is refused (a ``ValueError`` naming the patient
        and the segments present), as is a label not in the SEG. The segment is rasterised
        onto the CT's grid from the frames' positions (omitted empty frames and SEGs covering
        part of the CT included), and a CT series folder is read with only the images the SEG
        references (so a folder holding two phases reads as the segmented one).
    mask_geometry : {"strict", "resample"}, default="strict"
        "strict": the mask must lie on the CT's grid (size, spacing, origin, direction within
        1e-3) once both are in one orientation, so a mask stored in another axis order (e.g.
        RAS) on the CT's grid is accepted. "resample": a mask on another grid (a z-cropped
        mask, a mask drawn on another phase) is resampled onto the CT by nearest neighbour,
        refused (naming the patient) when the tumour lies partly outside the CT.
    lesions : {"largest", "union", "all"}, default="largest"
        Which lesions (26-connected components of the tumour mask,
        :func:`~sksurv_tace.preprocessing.label_lesions`) of a multinodular liver choose the slice and
        the crop: "largest", the largest lesion (its slice of largest area, its box on it); "union",
        every tumour voxel as one ROI (the slice of largest total tumour area, the tumour's box on it);
        "all", the slice of largest total tumour area, cropped around the in-plane box of every lesion
        on every slice, so that no lesion lies outside the crop. The ROI mask shows every tumour voxel
        of the slice in each case.
    largest_component : bool or "deprecated", default="deprecated"
        Deprecated (FutureWarning), use ``lesions``: True is ``lesions="largest"``, False is
        ``lesions="union"``.
    n_jobs : int or None, default=None
        Patients processed in parallel with :class:`joblib.Parallel` (None = 1).
    memory : None, str, path-like or joblib.Memory, default=None
        Cache of the per-patient results: None caches nothing; a folder or a
        :class:`joblib.Memory` caches on disk keyed by the SHA-256 of each file's content
        (of a folder's files for DICOM) and the parameters, so refitting (a grid search)
        never decodes a volume twice, even after the files moved.
    progress : bool, default=False
        Show a tqdm progress bar over patients.

    See Also
    --------
    read_image : the reader used for every CT and mask.

    Notes
    -----
    Errors name the patient (``patient_id`` column, else the row index): a missing path
    column or file, an unreadable, truncated or corrupt file (see :func:`read_image`), a
    CT or mask with NaN or infinite voxels (anywhere in the volume: NaN outside the tumour
    would still reach the crop's margin), a 2-D image, a mask of another size, spacing,
    origin or direction than its CT (tolerance 1e-3, after orientation; with
    ``mask_geometry="strict"``), an empty mask, a mask without ``mask_label`` or, with
    ``mask_label=None``, with several non-zero labels, a DICOM SEG without the ``segment``,
    a DICOM series folder with duplicate slice positions, missing slices or uneven spacing
    (see :func:`read_image`).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd, SimpleITK as sitk
    >>> folder = tempfile.mkdtemp()
    >>> ct = np.full((5, 40, 40), 40, np.int16)
    >>> mask = np.zeros(ct.shape, np.uint8)
    >>> mask[1:4, 15:25, 15:25] = 1
    >>> for name, array in [("ct.nii.gz", ct), ("mask.nii.gz", mask)]:
    ...     image = sitk.GetImageFromArray(array)
    ...     image.SetSpacing((1.0, 1.0, 2.0))
    ...     sitk.WriteImage(image, os.path.join(folder, name))
    >>> X = pd.DataFrame({"patient_id": ["P1"], "ct": [os.path.join(folder, "ct.nii.gz")],
    ...                   "mask": [os.path.join(folder, "mask.nii.gz")]})
    >>> roi = CTPreprocessor(margin_mm=5.0, image_size=40).fit_transform(X)
    >>> roi.shape, roi.dtype, round(float(roi.max()), 4)
    ((1, 3, 40, 40), dtype('float32'), 0.4143)
    >>> int(CTPreprocessor(margin_mm=5.0, image_size=40).transform_masks(X).sum())  # 10 px tumour + 2 x 5 px, x2
    400
    >>> CTPreprocessor(mode="3d", voi_size=16, margin_mm=5.0).fit_transform(X).shape  # a 3-D VOI
    (1, 1, 16, 16, 16)
    """

    _parameter_constraints: dict = {
        "image_column": [str],
        "mask_column": [str],
        "window_level": [Real],
        "window_width": [Interval(Real, 0, None, closed="neither")],
        "margin_mm": [Interval(Real, 0, None, closed="left")],
        "image_size": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 0, None, closed="left")],
        "mode": [StrOptions(set(MODES))],
        "voi_size": [Interval(Integral, 1, None, closed="left")],
        "voi_spacing": [Interval(Real, 0, None, closed="neither"), None],
        "image_columns": [tuple, list, None],
        "mask_label": [Interval(Integral, None, None, closed="neither"), None],
        "segment": [str, Integral, tuple, list, None],
        "mask_geometry": [StrOptions({"strict", "resample"})],
        "lesions": [StrOptions(set(LESION_MODES))],
        "largest_component": ["boolean", StrOptions({"deprecated"})],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        image_column="ct",
        mask_column="mask",
        window_level=70.0,
        window_width=350.0,
        margin_mm=50.0,
        image_size=224,
        n_neighbors=1,
        mode="2.5d",
        voi_size=64,
        voi_spacing=None,
        image_columns=None,
        mask_label=None,
        segment=None,
        mask_geometry="strict",
        lesions="largest",
        largest_component="deprecated",
        n_jobs=None,
        memory=None,
        progress=False,
    ):
        self.image_column = image_column
        self.mask_column = mask_column
        self.window_level = window_level
        self.window_width = window_width
        self.margin_mm = margin_mm
        self.image_size = image_size
        self.n_neighbors = n_neighbors
        self.mode = mode
        self.voi_size = voi_size
        self.voi_spacing = voi_spacing
        self.image_columns = image_columns
        self.mask_label = mask_label
        self.segment = segment
        self.mask_geometry = mask_geometry
        self.lesions = lesions
        self.largest_component = largest_component
        self.n_jobs = n_jobs
        self.memory = memory
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _check_input(self, X) -> list[str]:
        self._validate_params()
        _check_mask_label(self.mask_label)
        check_segment(self.segment)
        check_mask_geometry(self.mask_geometry)
        check_clinical_columns(X, self._path_columns())
        return row_labels(X)

    def _path_columns(self) -> list[str]:
        """Every path column read: the phases (``image_columns``, else ``image_column``), then the mask."""
        return [*phase_columns(self.image_column, self.image_columns, self.mask_column), self.mask_column]

    def _lesions(self) -> str:
        """``lesions``, or what the deprecated ``largest_component`` asks for (with a FutureWarning)."""
        lesions = _check_lesions(self.lesions)
        if isinstance(self.largest_component, str) and self.largest_component == "deprecated":
            return lesions
        import warnings

        asked = "largest" if self.largest_component else "union"
        warnings.warn(
            f"CTPreprocessor(largest_component={self.largest_component}) is deprecated and will be removed; use "
            f"lesions={asked!r}",
            FutureWarning,
            stacklevel=3,
        )
        if lesions != "largest" and lesions != asked:
            raise ValueError(f"largest_component={self.largest_component} and lesions={lesions!r} disagree")
        return asked

    def fit(self, X, y=None):
        """Check the parameters, the path columns and every patient's files (nothing is learnt).

        Every CT and mask is checked before any is preprocessed (headers, NIfTI completeness,
        grids, tumour in the mask: :func:`~sksurv_tace.preprocessing.image_checks.check_image_paths`),
        and all bad patients are reported in one ``ValueError``.

        Parameters
        ----------
        X : DataFrame
            One row per patient with the ``image_column`` and ``mask_column`` paths.
        y : ignored

        Returns
        -------
        self : CTPreprocessor
        """
        labels = self._check_input(X)
        phases = self._path_columns()[:-1]
        for column in phases[1:]:  # the other phases: present (checked in full when read)
            for label, path in zip(labels, X[column], strict=True):
                check_path(path, label, column)
        check_image_paths(X, image_column=phases[0], mask_column=self.mask_column, mask_label=self.mask_label,
                          segment=self.segment, mask_geometry=self.mask_geometry, labels=labels,
                          tolerance=_GEOMETRY_TOLERANCE)  # fmt: skip
        return self

    def transform(self, X, return_mask=False):
        """Tumour-ROI tensors of every patient.

        Parameters
        ----------
        X : DataFrame
            One row per patient with the ``image_column`` and ``mask_column`` paths.
        return_mask : bool, default=False
            Also return the tumour mask of the central slice on the same ROI grid.

        Returns
        -------
        images : ndarray of float32, shape (n_samples, 2 * n_neighbors + 1, image_size, image_size)
            Windowed CT in [0, 1] (``n_phases`` times the channels with ``image_columns``; ``mode="3d"``:
            shape ``(n_samples, n_phases, voi_size, voi_size, voi_size)``).
        masks : ndarray of bool, shape (n_samples, image_size, image_size)
            Only when ``return_mask=True`` (``mode="3d"``: ``(n_samples, voi_size, voi_size, voi_size)``).
        """
        self._check_input(X)
        columns = tuple(self._path_columns())
        params = {
            "window_level": float(self.window_level),
            "window_width": float(self.window_width),
            "margin_mm": float(self.margin_mm),
            "image_size": int(self.image_size),
            "n_neighbors": int(self.n_neighbors),
            "mask_label": _check_mask_label(self.mask_label),
            "segment": check_segment(self.segment),
            "mask_geometry": self.mask_geometry,
            "lesions": self._lesions(),
        }
        params["version"] = _CACHE_VERSION
        function = _preprocess_patient
        if self.mode == "3d":  # keys added only off the default, so that default caches stay valid
            params.update(mode="3d", voi_size=int(self.voi_size), voi_spacing=self.voi_spacing)
            params["voi_spacing"] = None if self.voi_spacing is None else float(self.voi_spacing)
            function = voi_3d
        elif len(columns) > 2:
            function = phases_25d
        results = map_patients(function, X, columns, params, memory=self.memory, n_jobs=self.n_jobs,
                               progress=self.progress, desc="CT ROIs")  # fmt: skip
        if self.mode == "3d":
            shape, channels = (params["voi_size"],) * 3, len(columns) - 1
        else:
            shape, channels = (params["image_size"],) * 2, (2 * params["n_neighbors"] + 1) * (len(columns) - 1)
        images = np.empty((len(results), channels, *shape), dtype=np.float32)
        masks = np.empty((len(results), *shape), dtype=bool)
        for i, (roi, roi_mask) in enumerate(results):
            images[i], masks[i] = roi, roi_mask
        return (images, masks) if return_mask else images

    def transform_masks(self, X):
        """Tumour masks on the ROI grid of :meth:`transform` (central slice), e.g. for Grad-CAM overlays.

        Parameters
        ----------
        X : DataFrame
            As for :meth:`transform`.

        Returns
        -------
        masks : ndarray of bool, shape (n_samples, image_size, image_size)
        """
        return self.transform(X, return_mask=True)[1]
