"""Tests of sksurv_tace.preprocessing.imaging: image reading (NIfTI, NRRD, MHA, DICOM) and CTPreprocessor.

Expected values are closed forms computed here from the synthetic volumes (window
formula, slice indices, pixel counts), the DICOM standard's rescale rule applied to
the raw Pixel Data bytes of two real TCIA slices (tests/data/dicom/SOURCE.txt), and
properties (same array from every format, cache hits, parallel == serial).
"""

import gzip
import os
import pathlib
import re
import shutil
import struct

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from sksurv_tace.preprocessing import imaging
from sksurv_tace.preprocessing.image_checks import check_image_paths
from sksurv_tace.preprocessing.imaging import CTPreprocessor, read_image

DICOM_DIR = pathlib.Path(__file__).parent / "data" / "dicom"

SHAPE = (12, 48, 48)  # (z, y, x)
SPACING = (2.0, 2.0, 3.0)  # (x, y, z) mm, SimpleITK order


def window(hu, level=70.0, width=350.0):
    """The liver window in closed form."""
    return np.clip((np.asarray(hu, dtype=np.float64) - (level - width / 2.0)) / width, 0.0, 1.0)


def background(shape=SHAPE):
    """A volume whose slice z holds -100 + 20 z HU (inside the default window), so a pixel names its slice."""
    return np.broadcast_to((-100.0 + 20.0 * np.arange(shape[0]))[:, None, None], shape).astype(np.int16)


def tumour_blob(shape=SHAPE, centre_slice=6, rows=(20, 28), cols=(16, 24)):
    """Squares of side 8 px (at centre_slice), 6 px (+-1 slice) and 4 px (+-2 slices): the largest at centre_slice."""
    mask = np.zeros(shape, np.uint8)
    for dz, shrink in [(0, 0), (-1, 1), (1, 1), (-2, 2), (2, 2)]:
        z = centre_slice + dz
        if 0 <= z < shape[0]:
            mask[z, rows[0] + shrink : rows[1] - shrink, cols[0] + shrink : cols[1] - shrink] = 1
    return mask


def write(array, path, spacing=SPACING, origin=(0.0, 0.0, 0.0), direction=None):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    sitk.WriteImage(image, str(path))
    return str(path)


def write_dicom_series(array, folder, spacing=SPACING, origin=(0.0, 0.0, 0.0)):
    """One CT slice per file with the tags a scanner writes; stored = HU + 1024 with RescaleIntercept -1024."""
    folder.mkdir()
    image = sitk.GetImageFromArray(np.asarray(array, dtype=np.int16))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series = "1.2.826.0.1.3680043.2.1125.99.1"
    for k in range(image.GetDepth()):
        piece = image[:, :, k]
        tags = {
            "0008|0060": "CT",
            "0020|000d": series + ".0",
            "0020|000e": series,
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0020|0032": "\\".join(f"{v:g}" for v in image.TransformIndexToPhysicalPoint((0, 0, k))),
            "0020|0013": str(k + 1),
            "0018|0050": f"{spacing[2]:g}",
            "0028|1052": "-1024",
            "0028|1053": "1",
        }
        for key, value in tags.items():
            piece.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(piece)
    return str(folder)


@pytest.fixture
def cohort(tmp_path):
    """Three patients (NIfTI) with the tumour's largest slice at 6, 0 (first) and 11 (last)."""
    rows = []
    for pid, centre in [("P1", 6), ("P2", 0), ("P3", 11)]:
        rows.append(
            {
                "patient_id": pid,
                "ct": write(background(), tmp_path / f"{pid}_ct.nii.gz"),
                "mask": write(tumour_blob(centre_slice=centre), tmp_path / f"{pid}_mask.nii.gz"),
            }
        )
    return pd.DataFrame(rows)


def crop(volume, slices, rows, cols, fill=-1000.0):
    """Reference crop by plain indexing with air padding (rows/cols may leave the volume)."""
    pad = 64
    padded = np.pad(volume.astype(np.float64), ((0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    return padded[np.asarray(slices)][:, rows[0] + pad : rows[1] + pad, cols[0] + pad : cols[1] + pad]


# --------------------------------------------------------------------------- read_image


def test_read_image_formats_agree(tmp_path):
    volume = (np.arange(np.prod(SHAPE)).reshape(SHAPE) % 2000 - 1000).astype(np.int16)
    origin = (-10.5, 20.25, -30.0)
    paths = [
        write(volume, tmp_path / "ct.nii.gz", origin=origin),
        write(volume, tmp_path / "ct.nrrd", origin=origin),
        write(volume, tmp_path / "ct.mha", origin=origin),
        write_dicom_series(volume, tmp_path / "dicom", origin=origin),
    ]
    for path in paths:
        image = read_image(path)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(image), volume, err_msg=path)
        np.testing.assert_allclose(image.GetSpacing(), SPACING, atol=1e-6, err_msg=path)
        np.testing.assert_allclose(image.GetOrigin(), origin, atol=1e-6, err_msg=path)
    # a single DICOM file reads too (one slice)
    single = read_image(str(tmp_path / "dicom" / "slice003.dcm"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(single)[0], volume[3])


def test_read_image_errors_name_the_path(tmp_path):
    with pytest.raises(ValueError, match="nowhere.nii.gz.*does not exist"):
        read_image(tmp_path / "nowhere.nii.gz")
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="garbage.nii.gz.*cannot be read"):
        read_image(garbage)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no DICOM series"):
        read_image(tmp_path / "empty")
    both = tmp_path / "two_series"
    both.mkdir()
    for name in ("HCC_001", "HCC_048"):
        shutil.copy(DICOM_DIR / name / "1-01.dcm", both / f"{name}.dcm")
    with pytest.raises(ValueError, match="two_series.*2 DICOM series"):
        read_image(both)
    with pytest.raises(ValueError, match="path"):
        read_image(None)


def _raw_pixel_data(path):
    """The stored int16 values from the Pixel Data element (7FE0,0010), OW, explicit VR little endian."""
    data = pathlib.Path(path).read_bytes()
    at = data.rindex(b"\xe0\x7f\x10\x00OW\x00\x00")
    (length,) = struct.unpack("<I", data[at + 8 : at + 12])
    assert length == 512 * 512 * 2
    return np.frombuffer(data[at + 12 : at + 12 + length], dtype="<i2").reshape(512, 512)


@pytest.mark.parametrize("name, mode_bin", [("HCC_001", -1020), ("HCC_048", -1000)])
def test_real_dicom_slices_read_in_hounsfield_units(name, mode_bin):
    path = DICOM_DIR / name / "1-01.dcm"
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    intercept = float(reader.GetMetaData("0028|1052"))
    slope = float(reader.GetMetaData("0028|1053"))
    assert (intercept, slope) == (-1024.0, 1.0)

    hu = sitk.GetArrayFromImage(read_image(path))[0]
    hu_folder = sitk.GetArrayFromImage(read_image(path.parent))[0]
    np.testing.assert_array_equal(hu, hu_folder)
    # DICOM PS3.3 C.11.1.1.2: output value = stored value * RescaleSlope + RescaleIntercept
    np.testing.assert_array_equal(hu, _raw_pixel_data(path).astype(np.float64) * slope + intercept)
    # inside the reconstruction circle the most frequent 20-HU bin is the air around the body (~ -1000 HU)
    fov = hu > hu.min()
    counts, edges = np.histogram(hu[fov], bins=np.arange(-1100, 1500, 20))
    assert edges[np.argmax(counts)] == mode_bin
    assert -1040 <= edges[np.argmax(counts)] <= -960


@pytest.mark.parametrize("name", ["HCC_001", "HCC_048"])
def test_real_dicom_slices_agree_with_pydicom(name):
    pydicom = pytest.importorskip("pydicom")
    path = DICOM_DIR / name / "1-01.dcm"
    dataset = pydicom.dcmread(path)
    expected = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_image(path))[0], expected)


# --------------------------------------------------------------------------- CTPreprocessor output


def test_output_shape_dtype_range(cohort):
    images, masks = CTPreprocessor(image_size=32, margin_mm=20.0).fit(cohort).transform(cohort, return_mask=True)
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.float32
    assert masks.shape == (3, 32, 32) and masks.dtype == bool
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() > 0.0 and masks.all(axis=(1, 2)).sum() == 0 and masks.any(axis=(1, 2)).all()
    five = CTPreprocessor(image_size=16, n_neighbors=2).fit_transform(cohort)
    assert five.shape == (3, 5, 16, 16)


@pytest.mark.parametrize("pid, slices", [("P1", [5, 6, 7]), ("P2", [0, 0, 1]), ("P3", [10, 11, 11])])
def test_largest_tumour_slice_neighbours_and_crop(cohort, pid, slices):
    """Tumour on its largest slice: rows 20..27, cols 16..23 (8 px = 16 mm); margin 10 mm = 5 px -> 18 px crop.

    With image_size equal to the crop's pixel size the resize is the identity, so the
    output must equal the windowed crop cut here by plain indexing (air beyond the edges).
    """
    row = cohort[cohort.patient_id == pid]
    images, masks = CTPreprocessor(margin_mm=10.0, image_size=18).transform(row, return_mask=True)
    expected = window(crop(background(), slices, (15, 33), (11, 29)))
    np.testing.assert_allclose(images[0], expected, atol=1e-6)
    # each channel is the window of its own slice's HU value: -100 + 20 z
    np.testing.assert_allclose(images[0, :, 0, 0], window(-100.0 + 20.0 * np.array(slices)), atol=1e-6)
    # the ROI mask is the 8 x 8 tumour with 5 px of margin on every side
    expected_mask = np.zeros((18, 18), bool)
    expected_mask[5:13, 5:13] = True
    np.testing.assert_array_equal(masks[0], expected_mask)


@pytest.mark.parametrize("level, width", [(70.0, 350.0), (40.0, 400.0), (-600.0, 1000.0)])
def test_window_maps_hu_to_closed_form(tmp_path, level, width):
    ramp = np.linspace(-1100, 1100, 48).round().astype(np.int16)  # across each row, clipped at both ends
    volume = np.broadcast_to(ramp[None, None, :], SHAPE).copy()
    X = pd.DataFrame(
        {
            "patient_id": ["R"],
            "ct": [write(volume, tmp_path / "ramp.nrrd")],
            "mask": [write(tumour_blob(rows=(20, 28), cols=(20, 28)), tmp_path / "mask.nrrd")],
        }
    )
    # crop 8 px + 2 * 20 px margin = 48 px: the whole slice, identity resize
    images = CTPreprocessor(window_level=level, window_width=width, margin_mm=40.0, image_size=48).transform(X)
    expected = window(ramp.astype(np.float64), level, width)
    for channel in range(3):
        np.testing.assert_allclose(images[0, channel], np.broadcast_to(expected, (48, 48)), atol=1e-6)
    assert images.min() == 0.0 and images.max() == 1.0


@pytest.mark.parametrize(
    "spacing, tumour, margin_mm, image_size, expected_rows, expected_cols",
    [
        # 8 px x 2 mm tumour, 10 mm margin: 36 mm = 18 px crop, upsampled x2 -> 16 x 16 px at rows/cols 10..25
        ((2.0, 2.0, 3.0), ((20, 28), (16, 24)), 10.0, 36, (10, 26), (10, 26)),
        # 20 px x 1 mm tumour, 50 mm margin (default): 120 px crop, downsampled /2 -> 10 x 10 px at 25..34
        ((1.0, 1.0, 3.0), ((14, 34), (14, 34)), 50.0, 60, (25, 35), (25, 35)),
        # anisotropic pixels 1 mm (x) x 2 mm (y): tumour 8 mm x 8 mm, margin 4 mm -> 16 mm side,
        # 16 px (x) x 8 px (y) crop resized to 16 x 16: the square tumour stays square, 8 x 8 px at 4..11
        ((1.0, 2.0, 3.0), ((20, 24), (16, 24)), 4.0, 16, (4, 12), (4, 12)),
    ],
)
def test_crop_holds_tumour_and_margin(tmp_path, spacing, tumour, margin_mm, image_size, expected_rows, expected_cols):
    mask = np.zeros(SHAPE, np.uint8)
    (r0, r1), (c0, c1) = tumour
    mask[5:8, r0:r1, c0:c1] = 1
    volume = np.full(SHAPE, 40, np.int16)
    volume[mask == 1] = 150
    X = pd.DataFrame(
        {
            "ct": [write(volume, tmp_path / "ct.nii.gz", spacing=spacing)],
            "mask": [write(mask, tmp_path / "mask.nii.gz", spacing=spacing)],
        }
    )
    images, masks = CTPreprocessor(margin_mm=margin_mm, image_size=image_size).transform(X, return_mask=True)
    expected = np.zeros((image_size, image_size), bool)
    expected[slice(*expected_rows), slice(*expected_cols)] = True
    np.testing.assert_array_equal(masks[0], expected)
    # the image agrees: tumour HU inside the mask's core, liver-like tissue in the margin
    core = expected.copy()
    core[expected_rows[0], :] = core[expected_rows[1] - 1, :] = False
    core[:, expected_cols[0]] = core[:, expected_cols[1] - 1] = False
    np.testing.assert_allclose(images[0, 1][core], window(150.0), atol=1e-6)
    margin_row = images[0, 1][expected_rows[0] - 2, expected_cols[0] : expected_cols[1]]
    np.testing.assert_allclose(margin_row, window(40.0), atol=1e-6)


def test_crop_outside_the_volume_is_air(tmp_path):
    mask = np.zeros(SHAPE, np.uint8)
    mask[6, 0:6, 40:48] = 1  # tumour in a corner: rows 0..5, cols 40..47 (16 mm wide at 2 mm)
    X = pd.DataFrame(
        {
            "ct": [write(background(), tmp_path / "ct.nii.gz")],
            "mask": [write(mask, tmp_path / "mask.nii.gz")],
        }
    )
    images = CTPreprocessor(margin_mm=20.0, image_size=28).transform(X)
    # side 16 + 40 mm = 28 px centred on (row 2.5, col 43.5): rows -11..16, cols 30..57
    expected = window(crop(background(), [5, 6, 7], (-11, 17), (30, 58)))
    np.testing.assert_allclose(images[0], expected, atol=1e-6)
    assert (images[0, :, :11, :] == 0.0).all() and (images[0, :, :, 18:] == 0.0).all()
    assert (images[0, 1, 11:, :18] > 0.0).all()


def test_same_array_from_nifti_nrrd_and_dicom_series(tmp_path):
    rng = np.random.default_rng(0)
    volume = (rng.normal(60, 40, SHAPE) + background()).round().astype(np.int16)
    spacing = (0.75, 0.75, 2.5)
    mask_path = write(tumour_blob(), tmp_path / "mask.nii.gz", spacing=spacing)
    paths = [
        write(volume, tmp_path / "ct.nii.gz", spacing=spacing),
        write(volume, tmp_path / "ct.nrrd", spacing=spacing),
        write_dicom_series(volume, tmp_path / "series", spacing=spacing),
    ]
    X = pd.DataFrame({"patient_id": ["nii", "nrrd", "dcm"], "ct": paths, "mask": [mask_path] * 3})
    images = CTPreprocessor(margin_mm=5.0, image_size=20).transform(X)
    np.testing.assert_array_equal(images[0], images[1])
    np.testing.assert_array_equal(images[0], images[2])


def test_orientation_does_not_change_the_roi(tmp_path, cohort):
    """A volume stored flipped in x and y (direction diag(-1, -1, 1)) describes the same anatomy."""
    volume = background().copy()
    volume[:, 10:14, 30:40] = 300  # an asymmetric structure, so a flip would show
    mask = tumour_blob()
    size = np.array(SHAPE[::-1]) - 1
    flipped_origin = tuple(np.array(SPACING) * size * np.array([1, 1, 0]))
    X = pd.DataFrame(
        {
            "ct": [
                write(volume, tmp_path / "lps.nii.gz"),
                write(
                    volume[:, ::-1, ::-1].copy(),
                    tmp_path / "flip.nii.gz",
                    origin=flipped_origin,
                    direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1),
                ),
            ],
            "mask": [
                write(mask, tmp_path / "lps_mask.nii.gz"),
                write(
                    mask[:, ::-1, ::-1].copy(),
                    tmp_path / "flip_mask.nii.gz",
                    origin=flipped_origin,
                    direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1),
                ),
            ],
        }
    )
    images = CTPreprocessor(margin_mm=20.0, image_size=24).transform(X)
    np.testing.assert_array_equal(images[0], images[1])


def test_roi_follows_the_largest_tumour_of_a_multifocal_mask(tmp_path):
    """Main tumour: 168 voxels, largest slice 6 (8 x 8 px). A flat satellite on slice 1 (9 x 9 px = 81 voxels)
    has the largest single-slice area but the smaller volume: the ROI must stay on the main tumour."""
    mask = tumour_blob()
    mask[1, 36:45, 36:45] = 1
    X = pd.DataFrame({"ct": [write(background(), tmp_path / "ct.nrrd")], "mask": [write(mask, tmp_path / "mask.nrrd")]})
    images, masks = CTPreprocessor(margin_mm=10.0, image_size=18).transform(X, return_mask=True)
    np.testing.assert_allclose(images[0], window(crop(background(), [5, 6, 7], (15, 33), (11, 29))), atol=1e-6)
    assert masks[0].sum() == 64
    # every voxel counted: slice 1 wins; satellite box rows/cols 36..44 (18 mm) + 2 x 10 mm = 19 px from 31
    images, masks = CTPreprocessor(margin_mm=10.0, image_size=19, lesions="union").transform(
        X, return_mask=True
    )
    np.testing.assert_allclose(images[0], window(crop(background(), [0, 1, 2], (31, 50), (31, 50))), atol=1e-6)
    assert masks[0].sum() == 81

    # a small satellite on the main tumour's slice: outside the ROI by default, inside the union's box otherwise
    mask = tumour_blob()
    mask[6, 40:43, 40:43] = 1
    X["mask"] = [write(mask, tmp_path / "mask2.nrrd")]
    images, masks = CTPreprocessor(margin_mm=10.0, image_size=18).transform(X, return_mask=True)
    np.testing.assert_allclose(images[0], window(crop(background(), [5, 6, 7], (15, 33), (11, 29))), atol=1e-6)
    assert masks[0].sum() == 64
    # union box rows 20..42 (23 px), cols 16..42 (27 px): side 54 + 20 mm = 37 px, rows 13..49, cols 11..47
    images, masks = CTPreprocessor(margin_mm=10.0, image_size=37, lesions="union").transform(
        X, return_mask=True
    )
    np.testing.assert_allclose(images[0], window(crop(background(), [5, 6, 7], (13, 50), (11, 48))), atol=1e-6)
    assert masks[0].sum() == 64 + 9


def test_mask_label_selects_the_tumour(tmp_path):
    labels = np.zeros(SHAPE, np.uint8)
    labels[2:10, 5:45, 5:45] = 1  # "liver", larger than the tumour on every slice
    labels[tumour_blob() == 1] = 2
    X = pd.DataFrame(
        {"ct": [write(background(), tmp_path / "ct.nrrd")], "mask": [write(labels, tmp_path / "labels.nrrd")]}
    )
    images, masks = CTPreprocessor(margin_mm=10.0, image_size=18, mask_label=2).transform(X, return_mask=True)
    np.testing.assert_allclose(images[0], window(crop(background(), [5, 6, 7], (15, 33), (11, 29))), atol=1e-6)
    assert masks[0].sum() == 64
    with pytest.raises(ValueError, match=r"no voxel with label 3 \(it holds non-zero labels 1, 2\)"):
        CTPreprocessor(mask_label=3).transform(X)


def test_multi_label_mask_is_refused_without_mask_label(tmp_path):
    """Liver = 1, tumour = 2 (an HCC-TACE-Seg style export): with mask_label=None the tumour is ambiguous."""
    labels = np.zeros(SHAPE, np.uint8)
    labels[2:10, 5:45, 5:45] = 1
    labels[tumour_blob() == 1] = 2
    X = pd.DataFrame(
        {
            "patient_id": ["L"],
            "ct": [write(background(), tmp_path / "ct.nrrd")],
            "mask": [write(labels, tmp_path / "labels.nrrd")],
        }
    )
    message = r"patient L: mask '.*labels.nrrd' holds 2 non-zero labels \(1, 2\).*pass mask_label="
    with pytest.raises(ValueError, match=message):
        CTPreprocessor(image_size=16).fit_transform(X)
    # the same rule for any labels: 0/1/255
    labels[0, 0, 0] = 255
    X["mask"] = [write(labels, tmp_path / "three.nrrd")]
    with pytest.raises(ValueError, match=r"holds 3 non-zero labels \(1, 2, 255\)"):
        CTPreprocessor(image_size=16).fit_transform(X)


def test_binary_mask_of_any_value_is_the_tumour(tmp_path):
    """With mask_label=None a 0/255 (or float 0/1) mask gives the ROI of the 0/1 mask; mask_label=255 too."""
    ct = write(background(), tmp_path / "ct.nrrd")
    X = pd.DataFrame({"ct": [ct] * 3, "mask": [
        write(tumour_blob(), tmp_path / "m1.nrrd"),
        write(tumour_blob() * np.uint8(255), tmp_path / "m255.nrrd"),
        write(tumour_blob().astype(np.float32), tmp_path / "mfloat.nii.gz"),
    ]})  # fmt: skip
    images, masks = CTPreprocessor(margin_mm=10.0, image_size=18).transform(X, return_mask=True)
    for i in (1, 2):
        np.testing.assert_array_equal(images[i], images[0])
        np.testing.assert_array_equal(masks[i], masks[0])
    np.testing.assert_array_equal(CTPreprocessor(margin_mm=10.0, image_size=18, mask_label=255).transform(X[1:2]),
                                  images[1:2])  # fmt: skip


@pytest.mark.parametrize("bad", [0, True, 1.5, "2"])
def test_bad_mask_label_is_refused_in_fit(cohort, bad):
    with pytest.raises(ValueError, match="mask_label"):
        CTPreprocessor(mask_label=bad).fit(cohort)


# --------------------------------------------------------------------------- truncated files, non-finite voxels


def _truncate(path, keep):
    """Cut a file: ``keep`` a fraction of its bytes (float), its first ``keep`` bytes (int), or all but ``-keep``."""
    data = pathlib.Path(path).read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    pathlib.Path(path).write_bytes(data[:n])
    return str(path)


def _no_zero_volume():
    """A CT volume without any 0 HU voxel, so a zero-filled read would show."""
    volume = background().copy()
    volume[volume == 0] = 10
    return volume


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("keep", [0.5, 0.97, -1], ids=["half", "97%", "last byte cut"])
def test_truncated_nifti_is_refused(tmp_path, cohort, suffix, keep):
    """SimpleITK 2.x reads a cut NIfTI without error, the missing voxels 0 HU; every image path must refuse it."""
    path = _truncate(write(_no_zero_volume(), tmp_path / f"cut{suffix}"), keep)
    with pytest.raises(ValueError, match=rf"image '.*cut{re.escape(suffix)}' is truncated or corrupt"):
        read_image(path)
    X = cohort.copy()
    X.loc[1, "ct"] = path
    with pytest.raises(ValueError, match=rf"patient P2: ct image '.*cut{re.escape(suffix)}' is truncated or corrupt"):
        CTPreprocessor(image_size=16).fit_transform(X)
    X = cohort.copy()
    X.loc[2, "mask"] = _truncate(write(tumour_blob(centre_slice=11), tmp_path / f"mask{suffix}"), keep)
    with pytest.raises(ValueError, match=r"patient P3: mask image '.*mask.nii.* is truncated or corrupt"):
        CTPreprocessor(image_size=16).fit_transform(X)
    with pytest.raises(ValueError, match=r"patient P3: mask image '.*mask.nii.* is truncated or corrupt"):
        check_image_paths(X)


def test_nifti_completeness_check(tmp_path):
    """Complete files pass; a cut header, a cut .hdr/.img pair and a damaged gzip stream are refused."""
    volume = _no_zero_volume()
    for name in ("ok.nii", "ok.nii.gz", "ok.hdr", "okz.img.gz"):
        np.testing.assert_array_equal(sitk.GetArrayFromImage(read_image(write(volume, tmp_path / name))), volume)
    data = (tmp_path / "ok.nii.gz").read_bytes()
    raw = gzip.decompress(data)
    two = tmp_path / "two_members.nii.gz"  # concatenated gzip members: one stream for zlib's gzread
    two.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read_image(two)), volume)

    header = _truncate(write(volume, tmp_path / "header.nii"), 200)
    with pytest.raises(ValueError, match=r"header.nii' is truncated or corrupt: it ends inside its 348-byte header"):
        read_image(header)
    pair = write(volume, tmp_path / "pair.hdr")
    _truncate(tmp_path / "pair.img", -2)
    with pytest.raises(ValueError, match=r"pair.img' is truncated or corrupt: .*holds only 55294 of them"):
        read_image(pair)
    # one flipped bit mid-file (0.36 MB stream): SimpleITK 2.5 decodes it without an error into wrong voxels
    noise = np.random.default_rng(0).integers(-1000, 1000, (24, 96, 96), dtype=np.int16)
    damaged = bytearray(pathlib.Path(write(noise, tmp_path / "damaged.nii.gz")).read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    (tmp_path / "damaged.nii.gz").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match=r"damaged.nii.gz' is truncated or corrupt: it fails gzip decoding"):
        read_image(tmp_path / "damaged.nii.gz")


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["tumour", "outside"])
def test_non_finite_ct_voxels_are_refused(tmp_path, cohort, suffix, value, where):
    """NaN/inf voxels gave a NaN-free ROI without a word (SimpleITK reads them from NIfTI as 0, the window
    clips them elsewhere): refused anywhere in the CT, naming the patient, the file and the count."""
    volume = background().astype(np.float32)
    at = (6, 24, 20) if where == "tumour" else (0, 2, 2)
    volume[at] = value
    volume[at[0], at[1], at[2] + 1] = value
    X = cohort.copy()
    X.loc[1, "ct"] = write(volume, tmp_path / f"float_ct{suffix}")
    n_nan = 2 if np.isnan(value) else 0
    message = (
        rf"patient P2: ct image '.*float_ct{re.escape(suffix)}' holds 2 non-finite voxel\(s\) of {np.prod(SHAPE)} "
        rf"\({n_nan} NaN, {2 - n_nan} infinite\)"
    )
    with pytest.raises(ValueError, match=message):
        CTPreprocessor(image_size=16).fit_transform(X)
    with pytest.raises(ValueError, match=message[len("patient P2: ct ") :]):
        read_image(X.loc[1, "ct"])
    # the finite float volume is accepted and equals the integer one
    X.loc[1, "ct"] = write(background().astype(np.float32), tmp_path / f"float_ok{suffix}")
    np.testing.assert_array_equal(
        CTPreprocessor(image_size=16).transform(X), CTPreprocessor(image_size=16).transform(cohort)
    )


def test_non_finite_mask_voxels_are_refused(tmp_path, cohort):
    mask = tumour_blob().astype(np.float64)
    mask[0, 0, 0] = np.nan
    X = cohort.copy()
    X.loc[0, "mask"] = write(mask, tmp_path / "nan_mask.nii.gz")
    with pytest.raises(ValueError, match=r"patient P1: mask image '.*nan_mask.nii.gz' holds 1 non-finite voxel"):
        CTPreprocessor(image_size=16).fit_transform(X)


# --------------------------------------------------------------------------- cache, parallel, determinism


def test_cache_hit_returns_identical_arrays_without_reading(cohort, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    pre = CTPreprocessor(margin_mm=10.0, image_size=24, memory=str(cache))
    first, first_masks = pre.transform(cohort, return_mask=True)
    uncached = CTPreprocessor(margin_mm=10.0, image_size=24).transform(cohort)
    np.testing.assert_array_equal(first, uncached)

    # the cache is keyed by content: copies under other names hit too
    moved = cohort.copy()
    for column in ("ct", "mask"):
        moved[column] = [shutil.copy(p, tmp_path / f"moved_{os.path.basename(p)}") for p in cohort[column]]

    def fail(path, **options):
        raise AssertionError(f"read_image called for {path}")

    monkeypatch.setattr(imaging, "read_image", fail)
    second, second_masks = clone(pre).transform(cohort, return_mask=True)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first_masks, second_masks)
    np.testing.assert_array_equal(first, CTPreprocessor(margin_mm=10.0, image_size=24, memory=cache).transform(moved))

    # other parameters or other content miss the cache (and so read)
    with pytest.raises(AssertionError, match="read_image called"):
        CTPreprocessor(margin_mm=10.0, image_size=25, memory=str(cache)).transform(cohort)
    write(background() + 1, moved.ct.iloc[0])
    with pytest.raises(AssertionError, match="read_image called"):
        pre.transform(moved)


def test_parallel_equals_serial_and_is_deterministic(cohort):
    serial = CTPreprocessor(margin_mm=15.0, image_size=20, n_jobs=1).transform(cohort)
    parallel = CTPreprocessor(margin_mm=15.0, image_size=20, n_jobs=2, progress=True).transform(cohort)
    again = CTPreprocessor(margin_mm=15.0, image_size=20).transform(cohort)
    np.testing.assert_array_equal(serial, parallel)
    np.testing.assert_array_equal(serial, again)


def test_transform_masks_matches_transform(cohort):
    pre = CTPreprocessor(margin_mm=10.0, image_size=18)
    np.testing.assert_array_equal(pre.transform_masks(cohort), pre.transform(cohort, return_mask=True)[1])


# --------------------------------------------------------------------------- bad input


def _corrupt(tmp_path, cohort, what):
    X = cohort.copy()
    if what == "missing column":
        return X.drop(columns="mask"), r"missing column\(s\) \['mask'\]"
    if what == "missing path":
        X.loc[1, "ct"] = np.nan
        return X, "patient P2: no 'ct' path given"
    if what == "missing file":
        X.loc[1, "mask"] = str(tmp_path / "gone.nii.gz")
        return X, "patient P2: mask file .*gone.nii.gz.* does not exist"
    if what == "unreadable file":
        bad = tmp_path / "bad.nii.gz"
        bad.write_bytes(b"\x00" * 64)
        X.loc[1, "ct"] = str(bad)
        return X, "patient P2: ct image .*bad.nii.gz.* cannot be read"
    if what == "empty mask":
        X.loc[1, "mask"] = write(np.zeros(SHAPE, np.uint8), tmp_path / "empty.nii.gz")
        return X, "patient P2: mask .*empty.nii.gz.* is empty"
    if what == "mask size":
        X.loc[1, "mask"] = write(tumour_blob((12, 48, 40), cols=(16, 24)), tmp_path / "small.nii.gz")
        return X, "patient P2: mask geometry differs from its image \\(size"
    if what == "mask spacing":
        X.loc[1, "mask"] = write(tumour_blob(), tmp_path / "spacing.nii.gz", spacing=(1.0, 1.0, 3.0))
        return X, "patient P2: mask geometry differs from its image \\(spacing"
    if what == "2-D image":
        X.loc[1, "ct"] = write(background()[6], tmp_path / "slice.nii.gz", spacing=SPACING[:2], origin=(0.0, 0.0))
        return X, "patient P2: ct .*slice.nii.gz.* is a 2-D image"
    if what == "single slice":
        X.loc[1, "ct"] = write(background()[6:7], tmp_path / "one.nii.gz")
        X.loc[1, "mask"] = write(tumour_blob()[6:7], tmp_path / "one_mask.nii.gz")
        return X, "patient P2: ct .*one.nii.gz.* has a single axial slice"
    raise AssertionError(what)


@pytest.mark.parametrize(
    "what",
    [
        "missing column",
        "missing path",
        "missing file",
        "unreadable file",
        "empty mask",
        "mask size",
        "mask spacing",
        "2-D image",
        "single slice",
    ],
)
def test_bad_input_names_the_patient(tmp_path, cohort, what):
    X, message = _corrupt(tmp_path, cohort, what)
    with pytest.raises(ValueError, match=message):
        CTPreprocessor(image_size=16).fit_transform(X)


def test_fit_checks_paths_and_parameters(tmp_path, cohort):
    X = cohort.copy()
    X.loc[2, "ct"] = str(tmp_path / "missing.nrrd")
    with pytest.raises(ValueError, match="patient P3: ct file .*missing.nrrd.* does not exist"):
        CTPreprocessor().fit(X)
    for bad in [{"window_width": 0.0}, {"image_size": 0}, {"margin_mm": -1.0}, {"n_neighbors": -1}]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            CTPreprocessor(**bad).fit(cohort)
    with pytest.raises(ValueError, match="DataFrame"):
        CTPreprocessor().fit(cohort.to_numpy())


def test_sklearn_conventions(cohort):
    name = "CTPreprocessor"
    estimator = CTPreprocessor(image_size=16, memory=None)
    check_no_attributes_set_in_init(name, estimator)
    check_parameters_default_constructible(name, CTPreprocessor())
    check_get_params_invariance(name, estimator)
    check_set_params(name, estimator)
    assert clone(estimator).get_params() == estimator.get_params()
    assert estimator.fit(cohort) is estimator and estimator.__dict__.keys() == clone(estimator).__dict__.keys()
    assert estimator.__sklearn_tags__().requires_fit is False
