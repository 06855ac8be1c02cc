"""Test-data builders: DICOM CT series and DICOM SEG files made from the real HCC-TACE-Seg slices.

Every CT slice written here is a copy of a real CT header from ``tests/data/dicom`` (HCC_001 or
HCC_048: patient, equipment, rescale tags as the scanner wrote them) with its geometry, UIDs and
pixels replaced; the pixels come from :func:`real_ct_volume`, the real slice shrunk to a small
square (block mean) so tests stay fast. SEG files are real DICOM Segmentation objects written with
highdicom, referencing the CT instances they were drawn on.

Conventions (the package's, SimpleITK's ``GetArrayFromImage``): a volume is a ``(z, y, x)`` array;
``volume[k, i, j]`` lies at ``origin + (j * sx, i * sy, k * sz)`` in DICOM patient coordinates
(LPS, mm), i.e. slices are axial with ImageOrientationPatient ``1\\0\\0\\0\\1\\0`` and slice ``k``
at ``z = origin[2] + k * sz``. Reading such a folder with
:func:`sksurv_tace.preprocessing.read_image` must give back ``volume`` with that origin and spacing.

Public API (stable; other test modules import it):

* :func:`real_ct_volume` -- a small HU volume from a real slice;
* :func:`sphere` -- a boolean ball on a grid, for tumours and truth masks;
* :func:`write_ct_series` -- one CT series folder (shuffled names, feet-first order, missing slices);
* :func:`write_two_phase_series` -- two phases under one Series Instance UID (HCC-TACE-Seg's doubled series);
* :func:`write_seg` -- a multi-segment DICOM SEG on a written series (with or without empty frames).
"""

from __future__ import annotations

import copy as copy_module
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "REAL_SLICES",
    "SEG_LABELS",
    "real_ct_volume",
    "sphere",
    "write_ct_series",
    "write_two_phase_series",
    "write_seg",
]

DATA = Path(__file__).resolve().parent / "data" / "dicom"
#: The real slices (``tests/data/dicom``, see its SOURCE.txt), by patient.
REAL_SLICES = {"HCC_001": DATA / "HCC_001" / "1-01.dcm", "HCC_048": DATA / "HCC_048" / "1-01.dcm"}
#: Segment labels of HCC-TACE-Seg's SEG files, in their usual order (segment numbers 1..4).
SEG_LABELS = ("Liver", "Mass", "Portal vein", "Abdominal aorta")

_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root, for generate_uid's deterministic UIDs


def _uid(*parts) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=_UID_ROOT, entropy_srcs=[str(p) for p in parts]))


@functools.lru_cache(maxsize=4)
def _real_hu(patient: str) -> np.ndarray:
    import pydicom

    ds = pydicom.dcmread(REAL_SLICES[patient])
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    hu.setflags(write=False)
    return hu


def real_ct_volume(n_slices: int = 12, size: int = 64, *, patient: str = "HCC_001") -> np.ndarray:
    """A small CT volume in HU from a real 512x512 slice: block-mean shrunk to ``size`` x ``size``.

    Slice ``k`` is the real slice plus ``k`` HU (so slices differ and their order can be checked);
    values are clipped to [-1024, 3071] and rounded to int16.

    Parameters
    ----------
    n_slices : int, default=12
    size : int, default=64
        Side in pixels; 512 must be a multiple of it.
    patient : {"HCC_001", "HCC_048"}, default="HCC_001"

    Returns
    -------
    ndarray of int16, shape (n_slices, size, size)
    """
    hu = np.maximum(_real_hu(patient), -1024.0)  # outside the reconstruction circle: air
    if 512 % size:
        raise ValueError(f"size must divide 512; got {size}")
    block = 512 // size
    small = hu.reshape(size, block, size, block).mean(axis=(1, 3))
    volume = small[None] + np.arange(n_slices, dtype=np.float64)[:, None, None]
    return np.clip(np.rint(volume), -1024, 3071).astype(np.int16)


def sphere(shape: Sequence[int], centre_mm, radius_mm: float, *, spacing, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Voxels of a ``(z, y, x)`` grid whose centre lies within ``radius_mm`` of ``centre_mm`` (x, y, z in mm).

    Parameters
    ----------
    shape : (nz, ny, nx)
    centre_mm : (x, y, z)
    radius_mm : float
    spacing : (sx, sy, sz)
    origin : (x, y, z), default=(0, 0, 0)

    Returns
    -------
    ndarray of bool, shape ``shape``
    """
    nz, ny, nx = shape
    z, y, x = np.meshgrid(*(origin[a] + spacing[a] * np.arange(n) for a, n in ((2, nz), (1, ny), (0, nx))),
                          indexing="ij")  # fmt: skip
    cx, cy, cz = centre_mm
    return (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius_mm**2


def write_ct_series(
    folder,
    volume_hu: np.ndarray,
    *,
    spacing: Sequence[float],
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    patient_id: str = "HCC_TEST",
    study_uid: str | None = None,
    series_uid: str | None = None,
    study_date: str = "20120101",
    feet_first: bool = False,
    shuffle_names: bool = False,
    skip_slices: Sequence[int] = (),
    duplicate_slices: Sequence[int] = (),
    acquisition_number: int = 1,
    first_instance: int = 1,
    name_prefix: str = "",
    template: str = "HCC_001",
    random_state: int = 0,
) -> list:
    """Write ``volume_hu`` as a DICOM CT series folder, one real-header slice per file.

    Parameters
    ----------
    folder : path-like
        Created if missing; files are added to it (so two calls can share a folder).
    volume_hu : ndarray, shape (nz, ny, nx)
        HU values (stored as int16 ``HU + 1024`` with RescaleIntercept -1024, as the real slices).
    spacing : (sx, sy, sz)
        Pixel spacing (columns, rows) and slice spacing in mm.
    origin : (x, y, z), default=(0, 0, 0)
        Position of voxel ``[0, 0, 0]``.
    patient_id, study_date : str
    study_uid, series_uid : str, optional
        Deterministic UIDs derived from ``patient_id`` (and ``study_date``) when None.
    feet_first : bool, default=False
        PatientPosition ``FFS`` and instance numbers rising from the feet (slice ``k = 0``) upwards;
        default ``HFS`` with instance 1 at the top slice. The geometry is the same either way.
    shuffle_names : bool, default=False
        File names in a random order unrelated to position (``random_state``).
    skip_slices : sequence of int
        Slices ``k`` not written (a missing slice).
    duplicate_slices : sequence of int
        Slices ``k`` written twice, as two instances at the same position.
    acquisition_number : int, default=1
        AcquisitionNumber of every slice (a phase).
    first_instance : int, default=1
        InstanceNumber of the first file written.
    name_prefix : str, default=""
        Prefix of the file names (``{prefix}{n:03d}.dcm``).
    template : {"HCC_001", "HCC_048"}, default="HCC_001"
        The real header copied.
    random_state : int, default=0

    Returns
    -------
    list of pydicom.Dataset
        The datasets written, in slice order (``k`` ascending, duplicates after their original);
        each has ``.filename`` set to its path. Pass them to :func:`write_seg`.
    """
    import pydicom

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    volume = np.asarray(volume_hu)
    if volume.ndim != 3:
        raise ValueError(f"volume_hu must be (z, y, x); got shape {volume.shape}")
    nz, ny, nx = volume.shape
    sx, sy, sz = (float(v) for v in spacing)
    study_uid = study_uid or _uid(patient_id, study_date, "study")
    series_uid = series_uid or _uid(patient_id, study_date, study_uid, "series")
    frame_uid = _uid(study_uid, "frame of reference")
    base = pydicom.dcmread(REAL_SLICES[template])
    kept = [k for k in range(nz) if k not in set(skip_slices)]
    slices = sorted([(k, 0) for k in kept] + [(k, 1) for k in duplicate_slices if k in kept])
    order = slices if feet_first else slices[::-1]  # instance numbering order
    numbers = {key: first_instance + n for n, key in enumerate(order)}
    names = [f"{name_prefix}{first_instance + n:03d}.dcm" for n in range(len(slices))]
    if shuffle_names:
        names = list(np.random.default_rng(random_state).permutation(names))
    written = []
    for n, (k, copy) in enumerate(slices):
        ds = copy_module.deepcopy(base)
        instance = numbers[(k, copy)]
        position = (float(origin[0]), float(origin[1]), float(origin[2]) + k * sz)
        ds.PatientID = patient_id
        ds.PatientName = f"{patient_id}^"  # family name only
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.SOPInstanceUID = _uid(series_uid, acquisition_number, k, copy)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study_date
        ds.AcquisitionNumber = int(acquisition_number)
        ds.AcquisitionTime = f"{100000 + 100 * int(acquisition_number):06d}"
        ds.InstanceNumber = int(instance)
        ds.PatientPosition = "FFS" if feet_first else "HFS"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [f"{v:.6g}" for v in position]
        ds.SliceLocation = f"{position[2]:.6g}"
        ds.PixelSpacing = [f"{sy:.6g}", f"{sx:.6g}"]  # DICOM: row spacing (y), column spacing (x)
        ds.SliceThickness = f"{sz:.6g}"
        ds.Rows, ds.Columns = ny, nx
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        for tag in ("SmallestImagePixelValue", "LargestImagePixelValue", "WindowCenter", "WindowWidth"):
            if tag in ds:
                delattr(ds, tag)
        stored = np.asarray(volume[k], dtype=np.float64) + 1024.0
        ds.PixelData = np.clip(np.rint(stored), -32768, 32767).astype("<i2").tobytes()
        path = folder / names[n]
        ds.save_as(path, enforce_file_format=True)
        ds.filename = os.fspath(path)
        written.append(ds)
    return written


def write_two_phase_series(
    folder,
    volumes: Sequence[np.ndarray],
    *,
    spacing: Sequence[float],
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    z_offset: float = 0.0,
    patient_id: str = "HCC_TEST",
    study_date: str = "20120101",
    shuffle_names: bool = True,
    random_state: int = 0,
) -> list[list]:
    """Two (or more) phases written under one Series Instance UID in one folder, as in HCC-TACE-Seg.

    Phase ``p`` gets AcquisitionNumber ``p + 1``, its own AcquisitionTime and SOP Instance UIDs,
    continuing instance numbers, and slice positions shifted by ``p * z_offset`` mm (0: the phases'
    slices share positions, so the folder has duplicate positions; 1.25 with 2.5 mm slices: they
    interleave).

    Returns
    -------
    list of lists of pydicom.Dataset
        Each phase's datasets in slice order (see :func:`write_ct_series`).
    """
    study_uid = _uid(patient_id, study_date, "study")
    series_uid = _uid(patient_id, study_date, study_uid, "series")
    phases, first = [], 1
    for p, volume in enumerate(volumes):
        shifted = (origin[0], origin[1], origin[2] + p * z_offset)
        written = write_ct_series(
            folder, volume, spacing=spacing, origin=shifted, patient_id=patient_id, study_uid=study_uid,
            series_uid=series_uid, study_date=study_date, acquisition_number=p + 1, first_instance=first,
            name_prefix=f"x{p}_" if not shuffle_names else "", shuffle_names=False, random_state=random_state,
        )  # fmt: skip
        first += len(written)
        phases.append(written)
    if shuffle_names:  # one random naming over both phases, so file order says nothing about the phase
        every = [ds for phase in phases for ds in phase]
        rng = np.random.default_rng(random_state)
        parent = Path(every[0].filename).parent
        targets = [parent / f"IM{n:04d}.tmp" for n in rng.permutation(len(every))]
        for ds, target in zip(every, targets, strict=True):
            os.replace(ds.filename, target)
            ds.filename = os.fspath(target)
        for ds in every:
            final = Path(ds.filename).with_suffix(".dcm")
            os.replace(ds.filename, final)
            ds.filename = os.fspath(final)
    return phases


def write_seg(
    path,
    ct_datasets: Sequence,
    segments: Mapping[str, np.ndarray],
    *,
    omit_empty_frames: bool = True,
    series_uid: str | None = None,
):
    """Write a binary DICOM SEG (highdicom) of ``segments`` drawn on the CT slices ``ct_datasets``.

    Parameters
    ----------
    path : path-like
        The SEG file to write.
    ct_datasets : sequence of pydicom.Dataset
        The CT slices, in slice order, as :func:`write_ct_series` returns them.
    segments : mapping of str to ndarray of bool, shape (len(ct_datasets), rows, columns)
        Segment label -> mask; segment numbers follow the mapping's order (1, 2, ...).
    omit_empty_frames : bool, default=True
        Leave out frames with no segmented pixel (what most archives store; the standard then
        gives segments different frame counts). False stores every frame of every segment.
    series_uid : str, optional

    Returns
    -------
    highdicom.seg.Segmentation
        The dataset written.
    """
    import highdicom as hd

    labels = list(segments)
    stack = np.stack([np.asarray(segments[name], dtype=bool) for name in labels], axis=-1)
    if stack.shape[:3] != (len(ct_datasets), ct_datasets[0].Rows, ct_datasets[0].Columns):
        raise ValueError(f"segments of shape {stack.shape[:3]} do not match the {len(ct_datasets)} CT slices")
    tissue = hd.sr.CodedConcept("85756007", "SCT", "Tissue")
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n + 1,
            segment_label=name,
            segmented_property_category=tissue,
            segmented_property_type=tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for n, name in enumerate(labels)
    ]
    ct0 = ct_datasets[0]
    seg = hd.seg.Segmentation(
        source_images=list(ct_datasets),
        pixel_array=stack.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_uid or _uid(ct0.SeriesInstanceUID, "seg", os.fspath(path)),
        series_number=300,
        sop_instance_uid=_uid(ct0.SeriesInstanceUID, "seg instance", os.fspath(path)),
        instance_number=1,
        manufacturer="sksurv_tace tests",
        manufacturer_model_name="dicom_archive",
        software_versions="1",
        device_serial_number="0",
        omit_empty_frames=omit_empty_frames,
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)
    return seg
