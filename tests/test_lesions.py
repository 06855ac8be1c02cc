"""Lesions of a tumour mask (sksurv_tace.preprocessing.lesions): closed-form spheres, pyradiomics' own shape values,
and what ``lesions="largest" | "union" | "all"`` shows the image models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

from sksurv_tace.preprocessing.lesions import BURDEN_COLUMNS, LesionBurden, label_lesions, lesion_burden, lesion_masks

SPACING = (2.0, 0.8, 0.8)  # (slice, row, column) mm
SHAPE = (24, 64, 64)
R_LARGE, R_SMALL = 10.0, 6.0  # mm
CENTRES = ((23.0, 18.0, 18.0), (23.0, 34.0, 36.0))  # mm, along (slice, row, column)


def _ball(centre, radius, shape=SHAPE, spacing=SPACING) -> np.ndarray:
    grid = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing, strict=True)), indexing="ij")
    return sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius**2


def _write(folder, name, array, spacing=SPACING) -> str:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    path = str(folder / name)
    sitk.WriteImage(image, path)
    return path


@pytest.fixture(scope="module")
def two_spheres(tmp_path_factory):
    """A CT with two spherical lesions (radius 10 and 6 mm) and its mask, plus the large sphere's own mask."""
    folder = tmp_path_factory.mktemp("spheres")
    large, small = _ball(CENTRES[0], R_LARGE), _ball(CENTRES[1], R_SMALL)
    assert not (large & small).any()
    rng = np.random.default_rng(0)
    ct = (rng.normal(60.0, 10.0, SHAPE) + 40.0 * large - 30.0 * small).astype(np.int16)
    paths = {
        "ct": _write(folder, "ct.nii.gz", ct),
        "mask": _write(folder, "mask.nii.gz", (large | small).astype(np.uint8)),
        "large": _write(folder, "large.nii.gz", large.astype(np.uint8)),
        "small": _write(folder, "small.nii.gz", small.astype(np.uint8)),
        "labels": _write(folder, "labels.nii.gz", (large | small).astype(np.uint8) * 2 + 1),  # 1 = liver, 3 = tumour
    }
    return paths, large, small


def _pyradiomics_shape(ct: str, mask: str) -> dict:
    """pyradiomics' shape features on the native grid (no resampling), as its own extractor computes them."""
    extractor = RadiomicsFeatureExtractor()
    extractor.disableAllFeatures()
    extractor.enableFeatureClassByName("shape")
    result = extractor.execute(ct, mask, label=1)
    return {k: float(result[f"original_shape_{k}"]) for k in ("Maximum3DDiameter", "Sphericity", "VoxelVolume")}


# --------------------------------------------------------------------------------------------- pure functions


def test_label_lesions_numbers_by_size_and_connectivity():
    mask = np.zeros((3, 8, 8), bool)
    mask[0, 0, 0] = True  # one voxel, first in scan order
    mask[1, 2:5, 2:5] = True  # 9 voxels
    mask[2, 5, 5] = True  # touches the 9-voxel square by a corner only
    labels, sizes = label_lesions(mask)
    assert sizes.tolist() == [10, 1]
    assert labels[1, 3, 3] == labels[2, 5, 5] == 1 and labels[0, 0, 0] == 2
    assert label_lesions(mask, connectivity=6)[1].tolist() == [9, 1, 1]
    assert label_lesions(mask, connectivity=18)[1].tolist() == [9, 1, 1]
    assert label_lesions(np.zeros((2, 2, 2), bool))[1].tolist() == []
    with pytest.raises(ValueError, match="connectivity must be 6, 18 or 26"):
        label_lesions(mask, connectivity=8)
    with pytest.raises(ValueError, match="3-D array"):
        label_lesions(mask[0])


def test_lesion_masks_modes():
    mask = np.zeros((1, 4, 12), bool)
    mask[0, :2, :2] = True  # 4 voxels
    mask[0, :3, 5:8] = True  # 9 voxels: the largest
    union, largest, every = (lesion_masks(mask, mode) for mode in ("union", "largest", "all"))
    assert len(union) == 1 and (union[0] == mask).all()
    assert len(largest) == 1 and largest[0].sum() == 9 and largest[0][0, 0, 5]
    assert [int(m.sum()) for m in every] == [9, 4] and (every[0] | every[1] == mask).all()
    with pytest.raises(ValueError, match=r"lesions must be one of \('largest', 'all', 'union'\)"):
        lesion_masks(mask, "biggest")


def test_two_spheres_closed_form_and_pyradiomics(two_spheres):
    paths, large, small = two_spheres
    out = lesion_burden(large | small, SPACING)
    assert out["lesion_count"] == 2
    exact = 4.0 / 3.0 * np.pi * (R_LARGE**3 + R_SMALL**3) / 1000.0  # mL
    assert out["tumour_volume_ml"] == pytest.approx(exact, rel=0.03)  # voxelisation of 2 x 0.8 x 0.8 mm voxels
    # the marching-cubes surface of a voxelised sphere spans its diameter to within one voxel (2 mm along z)
    assert abs(out["largest_lesion_diameter_mm"] - 2 * R_LARGE) <= max(SPACING)
    assert 0.85 < out["largest_lesion_sphericity"] <= 1.0
    # pyradiomics' extractor on the large sphere alone (native grid) gives the same diameter and sphericity, up to
    # the NIfTI file's float32 spacing
    reference = _pyradiomics_shape(paths["ct"], paths["large"])
    assert out["largest_lesion_diameter_mm"] == pytest.approx(reference["Maximum3DDiameter"], rel=1e-6)
    assert out["largest_lesion_sphericity"] == pytest.approx(reference["Sphericity"], rel=1e-6)
    small_only = _pyradiomics_shape(paths["ct"], paths["small"])
    both = reference["VoxelVolume"] + small_only["VoxelVolume"]
    assert out["tumour_volume_ml"] * 1000 == pytest.approx(both, rel=1e-6)


def test_lesion_burden_refuses_empty_mask_and_bad_spacing():
    with pytest.raises(ValueError, match="empty"):
        lesion_burden(np.zeros((2, 3, 3), bool), (1, 1, 1))
    with pytest.raises(ValueError, match="spacing must be 3 positive"):
        lesion_burden(np.ones((2, 3, 3), bool), (1, 0, 1))


# --------------------------------------------------------------------------------------------- the transformer


def test_lesion_burden_transformer(two_spheres):
    paths, large, small = two_spheres
    masks = [paths["mask"], paths["large"], paths["small"]]
    X = pd.DataFrame({"patient_id": ["A", "B", "C"], "ct": [paths["ct"]] * 3, "mask": masks}, index=[10, 11, 12])
    table = LesionBurden().fit_transform(X)
    assert list(table.columns) == list(BURDEN_COLUMNS) and table.index.tolist() == [10, 11, 12]
    assert table["lesion_count"].tolist() == [2, 1, 1] and (table.dtypes == np.float64).all()
    voxel_ml = np.prod(SPACING) / 1000.0
    np.testing.assert_allclose(table["tumour_volume_ml"], [(large | small).sum() * voxel_ml, large.sum() * voxel_ml,
                                                           small.sum() * voxel_ml])  # fmt: skip
    # the largest lesion of A is B's only lesion
    assert table.loc[10, "largest_lesion_diameter_mm"] == table.loc[11, "largest_lesion_diameter_mm"]
    assert table.loc[10, "largest_lesion_sphericity"] == table.loc[11, "largest_lesion_sphericity"]
    # a label map: the tumour label chosen by mask_label, as on the other image transformers
    labelled = X.assign(mask=paths["labels"])
    assert LesionBurden(mask_label=3).fit_transform(labelled.iloc[:1]).equals(table.iloc[:1].set_axis([10]))
    with pytest.raises(ValueError, match=r"patient A.*label"):
        LesionBurden().fit_transform(labelled.iloc[:1])
    assert LesionBurden().fit(X).get_feature_names_out().tolist() == list(BURDEN_COLUMNS)


def test_lesion_burden_names_the_patient(two_spheres, tmp_path):
    paths, _, _ = two_spheres
    empty = _write(tmp_path, "empty.nii.gz", np.zeros(SHAPE, np.uint8))
    X = pd.DataFrame({"patient_id": ["A", "B"], "ct": [paths["ct"]] * 2, "mask": [paths["mask"], empty]})
    with pytest.raises(ValueError, match=r"patient B"):
        LesionBurden().fit_transform(X)
    with pytest.raises(ValueError, match=r"connectivity"):
        LesionBurden(connectivity=4).fit(X)


# --------------------------------------------------------------------------------------------- what the models see


@pytest.fixture(scope="module")
def multinodular(tmp_path_factory):
    """A CT (1 x 1 mm pixels, 2 mm slices) with a 10 x 10 px lesion on slices 2-5 and a 5 x 5 px one on slice 6."""
    folder = tmp_path_factory.mktemp("multinodular")
    ct = np.random.default_rng(1).integers(-100, 240, (8, 40, 40)).astype(np.int16)
    mask = np.zeros(ct.shape, np.uint8)
    mask[2:6, 5:15, 5:15] = 1
    mask[6, 25:30, 30:35] = 1
    spacing = (2.0, 1.0, 1.0)
    X = pd.DataFrame({"patient_id": ["P1"], "ct": [_write(folder, "ct.nrrd", ct, spacing)],
                      "mask": [_write(folder, "mask.nrrd", mask, spacing)]})  # fmt: skip
    return X, ct, mask


def _window(hu):
    return np.clip((hu.astype(np.float64) - (70.0 - 175.0)) / 350.0, 0.0, 1.0)


def test_ct_preprocessor_lesions(multinodular):
    from sksurv_tace.preprocessing import CTPreprocessor

    X, ct, mask = multinodular
    # no margin and an output as large as the crop: the ROI is the windowed CT itself (the resize is the identity)
    largest = CTPreprocessor(margin_mm=0.0, image_size=10)
    images, masks = largest.transform(X, return_mask=True)
    np.testing.assert_allclose(images[0], _window(ct[1:4, 5:15, 5:15]), atol=1e-6)  # slice 2 and its neighbours
    assert masks[0].sum() == 100
    # "all": the box of every lesion on every slice (rows 5-29, columns 5-34), a 30 px square centred on it
    images, masks = CTPreprocessor(margin_mm=0.0, image_size=30, lesions="all").transform(X, return_mask=True)
    np.testing.assert_allclose(images[0], _window(ct[1:4, 3:33, 5:35]), atol=1e-6)
    assert masks[0].sum() == 100 and mask[6, 3:33, 5:35].sum() == 25  # the second lesion inside the crop
    # "union": the slice of largest total area (slice 2) and the tumour's box on it, here the large lesion's
    union = CTPreprocessor(margin_mm=0.0, image_size=10, lesions="union").transform(X)
    np.testing.assert_array_equal(union, largest.transform(X))


def test_largest_component_is_deprecated(multinodular):
    from sksurv_tace.preprocessing import CTPreprocessor

    X, _, _ = multinodular
    for value, lesions in ((True, "largest"), (False, "union")):
        with pytest.warns(FutureWarning, match=rf"largest_component={value}\) is deprecated.*lesions='{lesions}'"):
            old = CTPreprocessor(margin_mm=0.0, image_size=30, largest_component=value).transform(X)
        new = CTPreprocessor(margin_mm=0.0, image_size=30, lesions=lesions).transform(X)
        np.testing.assert_array_equal(old, new)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="disagree"):
        CTPreprocessor(largest_component=True, lesions="all").transform(X)
    with pytest.raises(ValueError, match="lesions"):
        CTPreprocessor(lesions="every").transform(X)


def test_radiomics_lesions(two_spheres):
    from sksurv_tace.preprocessing import RadiomicsExtractor

    paths, large, small = two_spheres
    X = pd.DataFrame({"patient_id": ["A"], "ct": [paths["ct"]], "mask": [paths["mask"]]})
    one = {name: X.assign(mask=paths[name]) for name in ("large", "small")}
    # native grid; no axis lengths: on a sphere pyradiomics returns them complex (sqrt of a -1e-16 eigenvalue)
    classes = {"firstorder": [], "shape": ["VoxelVolume", "Sphericity", "Maximum3DDiameter"]}
    kw = dict(settings={"binWidth": 25}, feature_classes=classes, progress=False)
    union = RadiomicsExtractor(**kw).fit_transform(X)
    assert union.equals(RadiomicsExtractor(lesions="union", **kw).fit_transform(X))
    alone = {name: RadiomicsExtractor(**kw).fit_transform(frame) for name, frame in one.items()}
    # "largest": the features of the large sphere's own mask
    pd.testing.assert_frame_equal(RadiomicsExtractor(lesions="largest", **kw).fit_transform(X), alone["large"])
    # "all": each sphere's features, averaged with weights 4/3 pi r^3 in voxels
    weights = np.array([large.sum(), small.sum()], dtype=float)
    expected = (alone["large"] * weights[0] + alone["small"] * weights[1]) / weights.sum()
    pd.testing.assert_frame_equal(RadiomicsExtractor(lesions="all", **kw).fit_transform(X), expected, rtol=1e-12)
    # the union's volume is the sum of the two, the per-lesion average lies between them
    volume = "original_shape_VoxelVolume"
    assert union[volume].iloc[0] == pytest.approx(alone["large"][volume].iloc[0] + alone["small"][volume].iloc[0])
    assert alone["small"][volume].iloc[0] < expected[volume].iloc[0] < alone["large"][volume].iloc[0]
    with pytest.raises(ValueError, match="lesions must be one of"):
        RadiomicsExtractor(lesions="each", **kw).fit(X)


def test_lesion_burden_of_a_dicom_seg(tmp_path):
    """A CT series and a multi-segment SEG built from real HCC-TACE-Seg slices (tests/dicom_archive.py): the burden
    of segment "Mass" (two spheres) is the burden of the array the SEG was written from."""
    from dicom_archive import real_ct_volume, sphere, write_ct_series, write_seg

    shape, spacing, origin = (12, 64, 64), (1.5, 1.5, 2.5), (-50.0, -50.0, -15.0)  # spacing and origin (x, y, z)
    mass = sphere(shape, (-20.0, -20.0, 0.0), 9.0, spacing=spacing, origin=origin)
    mass |= sphere(shape, (15.0, 20.0, 2.5), 5.0, spacing=spacing, origin=origin)
    liver = sphere(shape, (0.0, 0.0, 0.0), 45.0, spacing=spacing, origin=origin) & ~mass
    ct = write_ct_series(tmp_path / "ct", real_ct_volume(*shape[:2]), spacing=spacing, origin=origin)
    write_seg(tmp_path / "seg.dcm", ct, {"Liver": liver, "Mass": mass})
    X = pd.DataFrame({"patient_id": ["P1"], "ct": [str(tmp_path / "ct")], "mask": [str(tmp_path / "seg.dcm")]})
    table = LesionBurden(segment="Mass").fit_transform(X)
    expected = lesion_burden(mass, spacing[::-1])  # count, volume, diameter and sphericity ignore axis order
    assert table.iloc[0].to_dict() == pytest.approx(expected, rel=1e-6)
    assert expected["lesion_count"] == 2
    with pytest.raises(ValueError, match=r"patient P1.*Liver.*Mass"):
        LesionBurden().fit_transform(X)  # two segments and none chosen


def test_radiomics_of_a_sphere_keeps_pyradiomics_axis_lengths_real(two_spheres):
    """pyradiomics returns a sphere's axis lengths as complex numbers with a 1e-17 imaginary part (numpy's eig on
    equal eigenvalues); the extractor keeps the real part (it failed with a TypeError) and refuses a real complex."""
    from sksurv_tace.preprocessing import RadiomicsExtractor
    from sksurv_tace.preprocessing.radiomics import _real

    paths, _, _ = two_spheres
    X = pd.DataFrame({"patient_id": ["A"], "ct": [paths["ct"]], "mask": [paths["large"]]})
    axes = RadiomicsExtractor(feature_classes=["shape"], progress=False).fit_transform(X).filter(like="AxisLength")
    least, major, minor = (float(axes[f"original_shape_{k}AxisLength"].iloc[0]) for k in ("Least", "Major", "Minor"))
    assert 0 < least <= minor <= major < 2 * R_LARGE * 1.1
    assert _real(np.asarray(17.9 - 5.7e-17j), "f", "patient A") == 17.9
    with pytest.raises(ValueError, match="patient A: pyradiomics returned the complex value"):
        _real(np.asarray(1.0 + 0.5j), "f", "patient A")
