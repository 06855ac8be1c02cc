"""DICOM input: series folders with their slices checked, and DICOM SEG masks rasterised onto their CT.

A CT series folder is read slice by slice from its headers (pydicom), sorted along the slice
normal, and checked before SimpleITK reads the pixels: duplicate slice positions (two phases
stored under one Series Instance UID, as in several HCC-TACE-Seg studies), missing slices and
unevenly spaced slices are a ``ValueError`` naming the folder and the spacings found, instead of
a volume with a wrong z-spacing and one ITK line on stderr. ``acquisition=`` keeps one
acquisition (phase) of a doubled series, ``instances=`` the CT images a segmentation was drawn on.

A DICOM Segmentation (SEG) file is recognised by its content (SOP Class UID), not its name. Its
segments are chosen by label or number (:func:`select_segments`), and its frames are placed by
their image position onto the referenced CT's voxel grid (:func:`read_dicom_seg`): sparse SEGs
whose empty frames were omitted, segments with different frame counts and SEGs covering a few
slices of the CT all come out as a full mask on the CT's grid. Reading uses highdicom
(``highdicom.seg.segread``) and pydicom.
"""

from __future__ import annotations

import os
from numbers import Integral
from typing import NamedTuple

import numpy as np

__all__ = ["SEG_SOP_CLASS_UID", "is_dicom_seg", "dicom_seg_segments", "select_segments", "read_dicom_seg"]

#: SOP Class UID of the DICOM Segmentation Storage IOD.
SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"

_POSITION_TOLERANCE = 1e-3  # mm: two slices closer than this along the normal share a position
_SPACING_TOLERANCE = 0.01  # relative: gaps further than 1% from the median gap make the spacing uneven
_GRID_TOLERANCE = 1e-2  # voxels: a SEG frame within this of a CT voxel position is on the CT's grid
_MEMO: dict[tuple, object] = {}


class _SeriesError(ValueError):
    """A DICOM series folder whose slices do not make one regular volume (duplicate, missing, uneven)."""


def _stat_key(what: str, path: str, *extra) -> tuple:
    stat = os.stat(path)
    return (what, os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, *extra)


def _memoised(key: tuple, compute):
    if key not in _MEMO:
        _MEMO[key] = compute()
    return _MEMO[key]


# --------------------------------------------------------------------------- series folders


class _Slice(NamedTuple):
    path: str
    series: str
    instance: str
    acquisition: object
    position: tuple
    orientation: tuple


def _slice_headers(folder: str) -> list[_Slice]:
    """Headers of the image files of ``folder`` with a position (non-DICOM files and SEG/RT objects skipped)."""
    import pydicom

    def compute():
        found = []
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            try:
                ds = pydicom.dcmread(
                    path,
                    stop_before_pixels=True,
                    specific_tags=[
                        "SeriesInstanceUID",
                        "SOPInstanceUID",
                        "SOPClassUID",
                        "AcquisitionNumber",
                        "ImagePositionPatient",
                        "ImageOrientationPatient",
                    ],
                )
            except (pydicom.errors.InvalidDicomError, OSError, ValueError, EOFError):
                continue
            if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
                continue
            if str(ds.get("SOPClassUID", "")) == SEG_SOP_CLASS_UID:
                continue
            found.append(
                _Slice(
                    path,
                    str(ds.get("SeriesInstanceUID", "")),
                    str(ds.get("SOPInstanceUID", "")),
                    ds.get("AcquisitionNumber"),
                    tuple(float(v) for v in ds.ImagePositionPatient),
                    tuple(float(v) for v in ds.ImageOrientationPatient),
                )
            )
        return found

    # keyed on every file's name, size and modification time: a slice replaced in place is read again
    listing = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file():
                stat = entry.stat()
                listing.append((entry.name, stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return _memoised(("slices", os.path.realpath(folder), tuple(sorted(listing))), compute)


def _format_numbers(values, unit: str = "") -> str:
    return ", ".join(f"{v:.4g}{unit}" for v in values)


def _series_files(folder, *, instances=None, acquisition=None) -> list[str]:
    """The files of the DICOM series in ``folder``, sorted along the slice normal, checked as one regular volume.

    Parameters
    ----------
    folder : str or path-like
        A folder holding one DICOM series (non-DICOM files and SEG objects are ignored).
    instances : collection of str, optional
        Keep only the images with these SOP Instance UIDs (e.g. those a SEG references).
    acquisition : int, optional
        Keep only the images with this AcquisitionNumber (one phase of a doubled series).

    Returns
    -------
    list of str
        File paths, slice positions ascending along the normal of ImageOrientationPatient.

    Raises
    ------
    ValueError
        Naming the folder: no series, several Series Instance UIDs, no image left after
        ``instances``/``acquisition``, images of several orientations; :class:`_SeriesError`
        (a ``ValueError``) for duplicate slice positions, two or more acquisitions whose slices
        cover the same range (phases under one Series Instance UID), missing slices or uneven
        spacing, with the spacings found and the acquisitions present. Acquisitions that follow
        each other along z (axial scanners numbering each slice or block) are one volume.
    """
    folder = os.fspath(folder)
    slices = _slice_headers(folder)
    if not slices:
        raise ValueError(f"folder {folder!r} holds no DICOM series")
    series = sorted({s.series for s in slices})
    if len(series) > 1:
        raise ValueError(
            f"folder {folder!r} holds {len(series)} DICOM series ({', '.join(series)}); "
            "point to a folder with one series"
        )
    if instances is not None:
        wanted = set(instances)
        slices = [s for s in slices if s.instance in wanted]
        if not slices:
            raise ValueError(f"folder {folder!r} holds none of the {len(wanted)} referenced SOP instances")
    acquisitions = sorted({s.acquisition for s in slices if s.acquisition is not None}, key=int)
    if acquisition is not None:
        slices = [s for s in slices if s.acquisition is not None and int(s.acquisition) == int(acquisition)]
        if not slices:
            raise ValueError(
                f"folder {folder!r} has no image of AcquisitionNumber {acquisition} (it holds "
                f"{_format_numbers(acquisitions) or 'none'})"
            )
    orientations = np.array([s.orientation for s in slices])
    if np.abs(orientations - orientations[0]).max() > 1e-4:
        raise ValueError(f"folder {folder!r} holds images of several orientations (ImageOrientationPatient)")
    normal = np.cross(orientations[0][:3], orientations[0][3:])
    where = np.array([s.position for s in slices]) @ normal
    order = np.argsort(where, kind="stable")
    files, where = [slices[i].path for i in order], where[order]
    if len(files) > 1:
        numbers = [slices[i].acquisition for i in order]
        _check_spacing(folder, where, acquisitions if acquisition is None else [acquisition], numbers)
    return files


def _overlapping_acquisitions(where: np.ndarray, numbers) -> list:
    """Acquisitions of two or more slices whose z-ranges overlap another's by half or more: phases of one series.
    (Axial scanners that number each slice or each block of slices as an acquisition do not overlap.)"""
    groups = {}
    for z, number in zip(where, numbers, strict=True):
        if number is not None:
            groups.setdefault(int(number), []).append(z)
    ranges = {k: (min(v), max(v)) for k, v in groups.items() if len(v) >= 2}
    found = set()
    for a in ranges:
        for b in ranges:
            if a < b:
                (a0, a1), (b0, b1) = ranges[a], ranges[b]
                overlap = min(a1, b1) - max(a0, b0)
                if overlap > 0 and overlap >= 0.5 * min(a1 - a0, b1 - b0):
                    found |= {a, b}
    return sorted(found)


def _check_spacing(folder: str, where: np.ndarray, acquisitions, numbers) -> None:
    gaps = np.diff(where)
    phases = ""
    if len(acquisitions) > 1:
        phases = (
            f"; its images belong to {len(acquisitions)} acquisitions (AcquisitionNumber "
            f"{_format_numbers(acquisitions)}), e.g. two phases under one Series Instance UID: read one "
            "with acquisition=, or give the DICOM SEG drawn on it (only the images it references are read)"
        )
    duplicate = gaps < _POSITION_TOLERANCE
    if duplicate.any():
        at = _format_numbers(np.unique(np.round(where[1:][duplicate], 3))[:5], " mm")
        raise _SeriesError(
            f"DICOM series {folder!r} has {int(duplicate.sum())} duplicate slice position(s) (at "
            f"{at} along the slice normal){phases}"
        )
    overlapping = _overlapping_acquisitions(where, numbers) if len(acquisitions) > 1 else []
    if overlapping:
        found = np.unique(np.round(gaps, 3))
        raise _SeriesError(
            f"DICOM series {folder!r} holds {len(overlapping)} acquisitions covering the same slice range "
            f"(AcquisitionNumber {_format_numbers(overlapping)}), e.g. two phases under one Series Instance UID; "
            f"read as one volume its slices are {_format_numbers(found[:8], ' mm')} apart: read one with "
            "acquisition=, or give the DICOM SEG drawn on it (only the images it references are read)"
        )
    step = float(np.median(gaps))
    uneven = np.abs(gaps - step) > max(_SPACING_TOLERANCE * step, _POSITION_TOLERANCE)
    if uneven.any():
        found = np.unique(np.round(gaps, 3))
        missing = int(np.sum(np.maximum(np.rint(gaps[uneven] / step) - 1, 0)))
        what = f"; about {missing} slice(s) missing" if missing else ""
        raise _SeriesError(
            f"DICOM series {folder!r} has unevenly spaced slices (spacings found: "
            f"{_format_numbers(found[:8], ' mm')}; median {step:.4g} mm){what}{phases}"
        )


def _read_series(folder, *, instances=None, acquisition=None):
    """Read a checked DICOM series folder (:func:`_series_files`) with SimpleITK, in Hounsfield units for CT."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(_series_files(folder, instances=instances, acquisition=acquisition))
    return reader.Execute()


def _folder_instances(folder) -> set[str]:
    """SOP Instance UIDs of the images in a DICOM folder."""
    return {s.instance for s in _slice_headers(os.fspath(folder))}


# --------------------------------------------------------------------------- DICOM SEG


def is_dicom_seg(path) -> bool:
    """Whether ``path`` is a DICOM Segmentation file, by its content (SOP Class UID), whatever its name.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bool
        False for folders, non-DICOM files and other DICOM objects.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mask.seg"
    >>> _ = path.write_bytes(b"not DICOM")
    >>> is_dicom_seg(path)
    False
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        return False

    def compute():
        import pydicom

        with open(path, "rb") as handle:
            head = handle.read(132)
        if head[128:132] != b"DICM":
            return False
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except Exception:  # noqa: BLE001 (a damaged file is not a SEG; the image reader names the problem)
            return False
        return str(ds.get("SOPClassUID", "")) == SEG_SOP_CLASS_UID

    return _memoised(_stat_key("is_seg", path), compute)


class _SegInfo(NamedTuple):
    segments: dict  # number -> label
    referenced: frozenset  # referenced image SOP Instance UIDs
    positions: np.ndarray  # (n_frames, 3)
    numbers: np.ndarray  # (n_frames,) segment number of each frame
    orientation: np.ndarray  # (6,)
    pixel_spacing: np.ndarray  # (row spacing, column spacing)
    rows: int
    columns: int


def _functional(ds, i: int, name: str):
    frame = ds.PerFrameFunctionalGroupsSequence[i]
    if name in frame:
        return frame[name].value[0]
    return ds.SharedFunctionalGroupsSequence[0][name].value[0]


def _seg_info(path: str) -> _SegInfo:
    """The header of a SEG file (no pixels), memoised per file; a ``ValueError`` if it cannot be parsed."""
    import pydicom

    def compute():
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            segments = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
            referenced = frozenset(
                str(i.ReferencedSOPInstanceUID)
                for s in ds.get("ReferencedSeriesSequence", [])
                for i in s.ReferencedInstanceSequence
            )
            n = int(ds.get("NumberOfFrames", 1))
            positions = np.array(
                [[float(v) for v in _functional(ds, i, "PlanePositionSequence").ImagePositionPatient] for i in range(n)]
            ).reshape(n, 3)
            numbers = np.array(
                [int(_functional(ds, i, "SegmentIdentificationSequence").ReferencedSegmentNumber) for i in range(n)],
                dtype=int,
            )
            orientation = np.array(
                [float(v) for v in _functional(ds, 0, "PlaneOrientationSequence").ImageOrientationPatient]
            )
            spacing = np.array([float(v) for v in _functional(ds, 0, "PixelMeasuresSequence").PixelSpacing])
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"DICOM SEG {path!r} cannot be read: {type(exc).__name__}: {exc}") from None
        return _SegInfo(segments, referenced, positions, numbers, orientation, spacing, int(ds.Rows), int(ds.Columns))

    return _memoised(_stat_key("seg", path), compute)


def dicom_seg_segments(path) -> dict[int, str]:
    """Segment numbers and labels of a DICOM SEG file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict of int to str
        ``{segment number: segment label}``, e.g. ``{1: "Liver", 2: "Mass", 3: "Portal vein"}``.

    Raises
    ------
    ValueError
        When ``path`` is not a readable DICOM SEG file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "seg.dcm"
    >>> _ = path.write_bytes(b"not DICOM")
    >>> dicom_seg_segments(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: '...seg.dcm' is not a DICOM SEG file
    """
    path = os.fspath(path)
    if not is_dicom_seg(path):
        raise ValueError(f"{path!r} is not a DICOM SEG file")
    return dict(_seg_info(path).segments)


def _describe(segments: dict) -> str:
    return ", ".join(f"{n} {label!r}" for n, label in sorted(segments.items())) or "none"


def select_segments(segments: dict, segment, *, where: str = "the DICOM SEG") -> list[int]:
    """The segment numbers ``segment`` selects among ``segments`` (``{number: label}``).

    Parameters
    ----------
    segments : dict of int to str
        As :func:`dicom_seg_segments` returns.
    segment : str, int, sequence of str or int, or None
        A label (exact, else case-insensitive match), a segment number, or several of them
        (their union). None: the only segment of a one-segment SEG; a SEG with several segments
        is refused, since which one is the tumour is the user's call.
    where : str, default="the DICOM SEG"
        How the errors name the file (and patient).

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        Naming ``where`` and the segments present, for a label or number not found, or for
        ``segment=None`` on a SEG with several segments.

    Examples
    --------
    >>> segments = {1: "Liver", 2: "Mass", 3: "Portal vein", 4: "Abdominal aorta"}
    >>> select_segments(segments, "Mass"), select_segments(segments, ("mass", 3))
    ([2], [2, 3])
    >>> select_segments(segments, "Necrosis")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the DICOM SEG has no segment 'Necrosis'; its segments are 1 'Liver', 2 'Mass', ...
    """
    if segment is None:
        if len(segments) == 1:
            return list(segments)
        raise ValueError(
            f"{where} holds {len(segments)} segments ({_describe(segments)}); pass segment= with the "
            "tumour's label or number (e.g. segment='Mass'), or several as a tuple"
        )
    wanted = [segment] if isinstance(segment, str | Integral) else list(segment)
    chosen = []
    for item in wanted:
        if isinstance(item, Integral) and not isinstance(item, bool):
            matches = [int(item)] if int(item) in segments else []
        elif isinstance(item, str):
            matches = [n for n, label in segments.items() if label == item]
            matches = matches or [n for n, label in segments.items() if label.casefold() == item.casefold()]
        else:
            raise ValueError(f"segment must be a label, a number or a tuple of them; got {item!r}")
        if not matches:
            raise ValueError(f"{where} has no segment {item!r}; its segments are {_describe(segments)}")
        chosen += [n for n in matches if n not in chosen]
    return chosen


def _seg_pixels(path: str, frames: np.ndarray) -> np.ndarray:
    """``(len(frames), rows, columns)`` bool pixels of the chosen frames (fractional SEGs thresholded at 0.5)."""
    import highdicom as hd

    seg = hd.seg.segread(path)
    pixels = np.asarray(seg.pixel_array)
    if pixels.ndim == 2:
        pixels = pixels[None]
    pixels = pixels[frames]
    if str(seg.SegmentationType) == "FRACTIONAL":
        return pixels >= 0.5 * float(seg.MaximumFractionalValue)
    return pixels > 0


class _OffGridError(ValueError):
    """A SEG whose frames do not lie on its CT's voxel grid."""


def _index_of(points: np.ndarray, geometry) -> np.ndarray:
    """Continuous ``(x, y, z)`` voxel indices of physical points on a grid ``(size, spacing, origin, direction)``."""
    _, spacing, origin, direction = geometry
    matrix = np.asarray(direction, dtype=float).reshape(3, 3) * np.asarray(spacing, dtype=float)
    return np.linalg.solve(matrix, (np.asarray(points, dtype=float) - np.asarray(origin, dtype=float)).T).T


def _seg_on_grid(path: str, numbers, geometry, *, with_pixels: bool = True) -> np.ndarray | None:
    """The union of segments ``numbers`` of a SEG placed onto a CT grid ``(size, spacing, origin, direction)``.

    Frames are placed by their ImagePositionPatient: each must lie in the CT's slice plane at a
    voxel position (within 1e-2 voxel), with the CT's row/column directions and pixel spacing,
    inside the CT. Returns a ``(z, y, x)`` bool array (None when ``with_pixels`` is False: the
    geometry check alone); raises :class:`_OffGridError` naming what differs otherwise.
    """
    info = _seg_info(path)
    size, spacing, _, direction = geometry
    direction = np.asarray(direction, dtype=float).reshape(3, 3)
    frames = np.flatnonzero(np.isin(info.numbers, list(numbers)))
    expected = np.concatenate([direction[:, 0], direction[:, 1]])
    if np.abs(info.orientation - expected).max() > 1e-4:
        raise _OffGridError(
            f"its frames' orientation {tuple(np.round(info.orientation, 4).tolist())} differs from "
            f"the CT's {tuple(np.round(expected, 4).tolist())}"
        )
    if np.abs(info.pixel_spacing - np.array([spacing[1], spacing[0]])).max() > 1e-3:
        raise _OffGridError(
            f"its pixel spacing {tuple(info.pixel_spacing.tolist())} differs from the CT's {(spacing[1], spacing[0])}"
        )
    index = _index_of(info.positions[frames], geometry) if len(frames) else np.empty((0, 3))
    rounded = np.rint(index)
    if len(frames) and np.abs(index - rounded).max() > _GRID_TOLERANCE:
        raise _OffGridError(
            f"its frames lie between the CT's voxels (offsets up to {np.abs(index - rounded).max():.3g} voxel)"
        )
    rounded = rounded.astype(int)
    nx, ny, nz = size
    inside = (
        (rounded[:, 0] >= 0)
        & (rounded[:, 1] >= 0)
        & (rounded[:, 0] + info.columns <= nx)
        & (rounded[:, 1] + info.rows <= ny)
        & (rounded[:, 2] >= 0)
        & (rounded[:, 2] < nz)
    )
    if not inside.all():
        raise _OffGridError(f"{int((~inside).sum())} of its frames lie outside the CT volume")
    if not with_pixels:
        return None
    mask = np.zeros((nz, ny, nx), dtype=bool)
    pixels = _seg_pixels(path, frames) if len(frames) else ()
    for (x, y, z), frame in zip(rounded, pixels, strict=True):
        mask[z, y : y + info.rows, x : x + info.columns] |= frame
    return mask


def _seg_volume(path: str, numbers):
    """The SEG's own volume of segments ``numbers`` (union) as a SimpleITK uint8 image, from highdicom's geometry."""
    import highdicom as hd
    import SimpleITK as sitk

    seg = hd.seg.segread(path)
    volume = seg.get_volume(segment_numbers=list(numbers), combine_segments=True, relabel=True)
    array = np.asarray(volume.array) > 0  # (slices, rows, columns)
    affine = np.asarray(volume.affine, dtype=float)  # voxel (slice, row, column) -> LPS mm
    spacing = np.linalg.norm(affine[:3, :3], axis=0)  # slice, row, column
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing((spacing[2], spacing[1], spacing[0]))
    image.SetOrigin(tuple(affine[:3, 3]))
    columns = affine[:3, :3] / spacing
    image.SetDirection(tuple(np.stack([columns[:, 2], columns[:, 1], columns[:, 0]], axis=1).ravel()))
    return image


def read_dicom_seg(path, reference, *, segment=None, mask_geometry="strict"):
    """Rasterise the chosen segment(s) of a DICOM SEG onto a CT image's voxel grid.

    Parameters
    ----------
    path : str or path-like
        The DICOM SEG file.
    reference : SimpleITK.Image
        The CT it was drawn on (e.g. read with :func:`~sksurv_tace.preprocessing.read_image`).
    segment : str, int, tuple or None, default=None
        Which segment(s), see :func:`select_segments` (None: the only segment of a
        one-segment SEG).
    mask_geometry : {"strict", "resample"}, default="strict"
        "strict": every frame must lie on the CT's grid (same orientation and pixel spacing, at a
        voxel position); omitted empty frames and SEGs covering part of the CT are fine.
        "resample": a SEG on another grid is built as its own volume (highdicom) and resampled
        onto the CT by nearest neighbour.

    Returns
    -------
    SimpleITK.Image
        A 0/1 uint8 mask with the CT's geometry.

    Raises
    ------
    ValueError
        For a file that is not a readable SEG, a segment not found (naming the segments present),
        or frames off the CT's grid under "strict".

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> read_dicom_seg(__file__, sitk.Image(4, 4, 2, sitk.sitkInt16))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: '...dicom.py' is not a DICOM SEG file
    """
    import SimpleITK as sitk

    path = os.fspath(path)
    segments = dicom_seg_segments(path)
    numbers = select_segments(segments, segment, where=f"DICOM SEG {path!r}")
    geometry = (reference.GetSize(), reference.GetSpacing(), reference.GetOrigin(), reference.GetDirection())
    try:
        array = _seg_on_grid(path, numbers, geometry)
    except _OffGridError as exc:
        if mask_geometry != "resample":
            raise ValueError(
                f"DICOM SEG {path!r} is not on the CT's voxel grid: {exc}; pass "
                "mask_geometry='resample' to resample it onto the CT (nearest neighbour)"
            ) from None
        from sksurv_tace.preprocessing._alignment import resample_onto

        return resample_onto(_seg_volume(path, numbers), reference, f"DICOM SEG {path!r}")
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.CopyInformation(reference)
    return image
