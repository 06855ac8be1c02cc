"""Masks off the CT's exact voxel grid: mask_geometry='strict' (after orientation) or 'resample', on both image
transformers; radiomics from a DICOM folder equal to radiomics from the same CT as NRRD.

Truth: a ball drawn on the CT's grid (tests/dicom_archive.py ``sphere``), its voxel count and position; the
aligned mask is what CTPreprocessor's ROI mask and pyradiomics' shape VoxelVolume see.
"""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from dicom_archive import real_ct_volume, sphere, write_ct_series

from sksurv_tace.preprocessing import CTPreprocessor, RadiomicsExtractor, check_image_paths
from sksurv_tace.preprocessing._alignment import read_ct_and_tumour

SHAPE = (32, 128, 128)
SPACING = (3.125, 3.125, 2.5)
ORIGIN = (-200.0, -180.0, -60.0)
CENTRE, RADIUS = (-10.0, 10.0, -20.0), 30.0
FEATURES = {"shape": ["VoxelVolume"], "firstorder": ["Mean", "Variance", "Entropy"], "glcm": ["Contrast"]}
SETTINGS = {"binWidth": 25}  # no resampling: features on the CT's own grid


def _truth():
    return sphere(SHAPE, CENTRE, RADIUS, spacing=SPACING, origin=ORIGIN)


def _ct():
    return np.where(_truth(), 60, real_ct_volume(SHAPE[0], SHAPE[1])).astype(np.int16)


def _write(array, path, spacing=SPACING, origin=ORIGIN, direction=None):
    image = sitk.GetImageFromArray(np.asarray(array))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    sitk.WriteImage(image, str(path))
    return str(path)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("alignment")
    ct = _write(_ct(), root / "ct.nrrd")
    mask = _write(_truth().astype(np.uint8), root / "mask.nii.gz")
    return root, ct, mask


def _frame(ct, mask, pid="P1"):
    return pd.DataFrame({"patient_id": [pid], "ct": [str(ct)], "mask": [str(mask)]})


def _aligned(ct, mask, geometry):
    return read_ct_and_tumour((str(ct), str(mask)), "patient P1", ("ct", "mask"), mask_geometry=geometry)


def _ras(root):
    """The truth on the CT's grid, stored in RAS order (x and y reversed, origin at the other corner)."""
    array = _truth().astype(np.uint8)[:, ::-1, ::-1]
    corner = (ORIGIN[0] + SPACING[0] * (SHAPE[2] - 1), ORIGIN[1] + SPACING[1] * (SHAPE[1] - 1), ORIGIN[2])
    return _write(array, root / "mask_ras.nii.gz", origin=corner, direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))


def _zcrop(root):
    """The truth's slab only, one slice either side of the ball (what SEG -> label converters write)."""
    slices = np.flatnonzero(_truth().any(axis=(1, 2)))
    first, last = slices[0] - 1, slices[-1] + 1
    assert first > 0 and last < SHAPE[0] - 1  # a true crop
    origin = (ORIGIN[0], ORIGIN[1], ORIGIN[2] + first * SPACING[2])
    return _write(_truth()[first : last + 1].astype(np.uint8), root / "mask_z.nii.gz", origin=origin)


def _other_phase(root):
    """The same ball drawn on another phase's grid (offset (1.1, -0.9, 0.8) mm, 3 mm slices)."""
    origin, spacing = (ORIGIN[0] + 1.1, ORIGIN[1] - 0.9, ORIGIN[2] + 0.8), (SPACING[0], SPACING[1], 3.0)
    shape = (27, SHAPE[1], SHAPE[2])
    ball = sphere(shape, CENTRE, RADIUS, spacing=spacing, origin=origin)
    return _write(ball.astype(np.uint8), root / "mask_phase.nii.gz", spacing=spacing, origin=origin)


@pytest.mark.parametrize(
    ("make", "strict_ok", "exact"), [(_ras, True, True), (_zcrop, False, True), (_other_phase, False, False)]
)
def test_aligned_mask_matches_the_truth(case, make, strict_ok, exact):
    root, ct, _ = case
    mask = make(root)
    truth = _truth()
    X = _frame(ct, mask)
    if strict_ok:
        check_image_paths(X)
        _, tumour = _aligned(ct, mask, "strict")
        np.testing.assert_array_equal(sitk.GetArrayFromImage(tumour).astype(bool), truth)
    else:
        with pytest.raises(ValueError, match=r"patient P1: mask geometry differs .* pass mask_geometry='resample'"):
            check_image_paths(X)
        with pytest.raises(ValueError, match=r"patient P1: mask geometry differs .* pass mask_geometry='resample'"):
            _aligned(ct, mask, "strict")
    check_image_paths(X, mask_geometry="resample")
    image, tumour = _aligned(ct, mask, "resample")
    aligned = sitk.GetArrayFromImage(tumour).astype(bool)
    assert tumour.GetSize() == image.GetSize() and tumour.GetOrigin() == image.GetOrigin()
    if exact:
        np.testing.assert_array_equal(aligned, truth)
    assert abs(int(aligned.sum()) - int(truth.sum())) <= 0.01 * truth.sum()


def test_transformers_see_the_aligned_tumour(case):
    """CTPreprocessor's ROI and pyradiomics' features from the RAS-stored and the z-cropped mask equal those from the
    mask on the CT's grid."""
    root, ct, mask = case
    reference = _frame(ct, mask)
    pre = CTPreprocessor(image_size=32, margin_mm=10.0, mask_geometry="resample")
    rad = RadiomicsExtractor(settings=SETTINGS, feature_classes=FEATURES, mask_geometry="resample", progress=False)
    roi, features = pre.fit_transform(reference), rad.fit_transform(reference)
    for other in (_ras(root), _zcrop(root)):
        X = _frame(ct, other)
        np.testing.assert_array_equal(pre.fit_transform(X), roi)
        pd.testing.assert_frame_equal(rad.fit_transform(X), features)
    np.testing.assert_array_equal(
        CTPreprocessor(image_size=32, margin_mm=10.0).fit_transform(_frame(ct, _ras(root))), roi
    )
    voxel_mm3 = float(np.prod(SPACING))
    assert features["original_shape_VoxelVolume"].iloc[0] == pytest.approx(_truth().sum() * voxel_mm3)


def test_tumour_outside_the_ct_is_refused(case):
    root, ct, _ = case
    far = (ORIGIN[0], ORIGIN[1], ORIGIN[2] + SHAPE[0] * SPACING[2] - 10.0)  # the ball's slab ends above the CT
    mask = _write(_truth().astype(np.uint8), root / "mask_far.nii.gz", origin=far)
    X = _frame(ct, mask, pid="HCC_009")
    message = r"patient HCC_009: mask .*mask_far.nii.gz': the mask's tumour spans .* outside the CT's"
    with pytest.raises(ValueError, match=message):
        check_image_paths(X, mask_geometry="resample")
    with pytest.raises(ValueError, match=message):
        CTPreprocessor(mask_geometry="resample").transform(X)
    with pytest.raises(ValueError, match="mask_geometry"):
        CTPreprocessor(mask_geometry="nearest").fit(X)


def test_radiomics_leaves_the_geometry_to_pyradiomics_correct_mask(case):
    """With pyradiomics' correctMask the z-cropped mask is not refused here: pyradiomics resamples it (its own
    nearest-neighbour correction), giving the features of the mask on the CT's grid."""
    root, ct, mask = case
    cropped = _frame(ct, _zcrop(root))
    with pytest.raises(ValueError, match="mask on another grid than its CT"):
        RadiomicsExtractor(settings=SETTINGS, feature_classes=FEATURES, progress=False).fit(cropped)
    settings = dict(SETTINGS, correctMask=True, geometryTolerance=1e-3)
    corrected = RadiomicsExtractor(settings=settings, feature_classes=FEATURES, progress=False).fit_transform(cropped)
    reference = RadiomicsExtractor(settings=SETTINGS, feature_classes=FEATURES, progress=False).fit_transform(
        _frame(ct, mask)
    )
    pd.testing.assert_frame_equal(corrected, reference, rtol=1e-9)


def test_radiomics_from_a_dicom_folder_equals_nrrd(tmp_path):
    """The same CT as a DICOM series folder (shuffled names) and as NRRD: every feature equal to 1e-6."""
    volume = _ct()
    write_ct_series(tmp_path / "dicom", volume, spacing=SPACING, origin=ORIGIN, shuffle_names=True)
    nrrd = _write(volume, tmp_path / "ct.nrrd")
    mask = _write(_truth().astype(np.uint8), tmp_path / "mask.nrrd")
    extractor = RadiomicsExtractor(settings={"binWidth": 25, "resampledPixelSpacing": [2, 2, 2]}, progress=False)
    from_dicom = extractor.fit_transform(_frame(tmp_path / "dicom", mask))
    from_nrrd = extractor.fit_transform(_frame(nrrd, mask))
    assert from_dicom.shape[1] > 90
    np.testing.assert_allclose(from_dicom.to_numpy(), from_nrrd.to_numpy(), rtol=1e-6, atol=1e-6)


def test_reproduce_on_a_manifest_of_misaligned_masks(case, tmp_path, capsys, monkeypatch):
    """Issue 10, item 8, end to end: a manifest whose masks are on the CT's grid, stored in RAS order, z-cropped or
    drawn on another phase. Under the default 'strict' the pre-flight refuses the last two kinds, naming each
    patient; with --mask-geometry resample reproduce runs every image model. Deep models: 2 epochs (plumbing)."""
    import json

    from sksurv_tace.cli import main
    from sksurv_tace.datasets import make_tace_cohort, write_manifest
    from sksurv_tace.paper import presets

    monkeypatch.setitem(presets._DEEP_PRESETS, "quick", {**presets._DEEP_PRESETS["quick"], "max_epochs": 2})
    root, ct, same_grid = case
    masks = {"grid": same_grid, "ras": _ras(root), "zcrop": _zcrop(root), "phase": _other_phase(root)}
    kinds = list(masks) * 4  # 16 patients
    X, y = make_tace_cohort(len(kinds), with_images=False, random_state=0)
    X = X[["patient_id", "age", "afp", "mvi"]].assign(ct=ct, mask=[masks[k] for k in kinds])  # no rare levels
    manifest = write_manifest(tmp_path / "manifest.csv", X, y)
    argv = ["reproduce", "--quick", "--manifest", str(manifest), "--n-bootstrap", "20", "--quiet", "--n-jobs", "1"]
    assert main([*argv, "--out", str(tmp_path / "strict")]) == 2
    err = capsys.readouterr().err
    refused = [pid for pid, kind in zip(X["patient_id"], kinds, strict=True) if kind in ("zcrop", "phase")]
    assert all(f"patient {pid}: mask geometry differs" in err for pid in refused)
    assert "mask_geometry='resample'" in err
    out = tmp_path / "resampled"
    assert main([*argv, "--mask-geometry", "resample", "--out", str(out)]) == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["skipped"] == {} and results["n_patients"] == len(kinds)
    assert {row["model"] for row in results["tables"]["table4"]} == {
        "FusionSurvival", "CTSurvival", "CNNCox", "RadiomicsCox", "ClinicalCox"}  # fmt: skip
