"""DICOM series hygiene and DICOM SEG masks, on series built from the real HCC-TACE-Seg slices (tests/dicom_archive.py).

The truth of every case is the array the series or SEG was written from: a read series must give back
that volume with its origin and spacing (as SimpleITK reads the same array from NRRD), a SEG segment
must come back voxel for voxel on the CT's grid.
"""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from dicom_archive import real_ct_volume, sphere, write_ct_series, write_seg, write_two_phase_series

from sksurv_tace.preprocessing import (
    CTPreprocessor,
    RadiomicsExtractor,
    check_image_paths,
    dicom_seg_segments,
    is_dicom_seg,
    read_dicom_seg,
    read_image,
)

SPACING = (6.25, 6.25, 2.5)  # the real slice's 0.78125 mm pixels, 8x8 block means
ORIGIN = (-200.0, -180.0, -60.0)
SHAPE = (12, 64, 64)


def _segments(shape=SHAPE, spacing=SPACING, origin=ORIGIN):
    liver = sphere(shape, (-20.0, 20.0, -46.0), 60.0, spacing=spacing, origin=origin)
    mass = sphere(shape, (-10.0, 10.0, -46.0), 12.0, spacing=spacing, origin=origin)
    vein = np.zeros(shape, dtype=bool)
    vein[3:6, 30:33, 40:43] = True
    aorta = np.zeros(shape, dtype=bool)  # empty: no frame of it in a SEG that omits empty frames
    return {"Liver": liver, "Mass": mass, "Portal vein": vein, "Abdominal aorta": aorta}


def _volume():
    volume = real_ct_volume(SHAPE[0], SHAPE[1])
    return np.where(_segments()["Mass"], 90, volume).astype(np.int16)  # an enhancing tumour


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """One patient: CT series (shuffled names, feet-first), SEGs with and without empty frames."""
    root = tmp_path_factory.mktemp("archive")
    ct = write_ct_series(root / "ct", _volume(), spacing=SPACING, origin=ORIGIN, shuffle_names=True, feet_first=True)
    write_seg(root / "seg_sparse.dcm", ct, _segments(), omit_empty_frames=True)
    write_seg(root / "seg_full.dcm", ct, _segments(), omit_empty_frames=False)
    write_seg(root / "mass_only", ct, {"Mass": _segments()["Mass"]})  # no extension: recognised by content
    return root, ct


def _frame(ct, mask, pid="P1"):
    return pd.DataFrame({"patient_id": [pid], "ct": [str(ct)], "mask": [str(mask)]})


# --------------------------------------------------------------------------- series


@pytest.mark.parametrize("feet_first", [False, True])
@pytest.mark.parametrize("shuffle_names", [False, True])
def test_series_reads_back_whatever_the_order_of_files(tmp_path, feet_first, shuffle_names):
    volume = _volume()
    write_ct_series(
        tmp_path / "ct",
        volume,
        spacing=SPACING,
        origin=ORIGIN,
        feet_first=feet_first,
        shuffle_names=shuffle_names,
        random_state=3,
    )
    reference = sitk.GetImageFromArray(volume)
    reference.SetSpacing(SPACING)
    reference.SetOrigin(ORIGIN)
    sitk.WriteImage(reference, str(tmp_path / "ct.nrrd"))
    for image in (read_image(tmp_path / "ct"), read_image(tmp_path / "ct.nrrd")):
        np.testing.assert_array_equal(sitk.GetArrayFromImage(image), volume)
        np.testing.assert_allclose(image.GetSpacing(), SPACING, atol=1e-6)
        np.testing.assert_allclose(image.GetOrigin(), ORIGIN, atol=1e-6)


def test_missing_slice_names_the_path_and_spacings(tmp_path):
    write_ct_series(tmp_path / "ct", _volume(), spacing=SPACING, origin=ORIGIN, skip_slices=(6,))
    with pytest.raises(
        ValueError,
        match=r"unevenly spaced slices \(spacings found: 2\.5 mm, 5 mm; median 2\.5 mm\); "
        r"about 1 slice\(s\) missing",
    ) as info:
        read_image(tmp_path / "ct")
    assert str(tmp_path / "ct") in str(info.value)


def test_duplicate_positions_are_refused(tmp_path):
    write_ct_series(tmp_path / "ct", _volume(), spacing=SPACING, origin=ORIGIN, duplicate_slices=(4,))
    with pytest.raises(ValueError, match=r"has 1 duplicate slice position\(s\) \(at -50 mm along the slice normal\)"):
        read_image(tmp_path / "ct")


@pytest.mark.parametrize(
    ("z_offset", "message"),
    [
        (0.0, r"duplicate slice position\(s\).*2 acquisitions \(AcquisitionNumber 1, 2\)"),
        (
            1.25,
            r"holds 2 acquisitions covering the same slice range \(AcquisitionNumber 1, 2\).* are 1\.25 mm apart",
        ),
        (
            1.0,
            r"holds 2 acquisitions covering the same slice range .* slices are 1 mm, 1\.5 mm apart: read one with "
            r"acquisition=",
        ),
    ],
)
def test_two_phases_under_one_series_uid(tmp_path, z_offset, message):
    volume = _volume()
    write_two_phase_series(tmp_path / "ct", [volume, volume + 40], spacing=SPACING, origin=ORIGIN, z_offset=z_offset)
    with pytest.raises(ValueError, match=message):
        read_image(tmp_path / "ct")
    second = read_image(tmp_path / "ct", acquisition=2)  # one phase, read on request
    np.testing.assert_array_equal(sitk.GetArrayFromImage(second), volume + 40)
    assert second.GetOrigin()[2] == pytest.approx(ORIGIN[2] + z_offset)


def test_the_seg_picks_its_phase_of_a_doubled_series(tmp_path):
    volume = _volume()
    phases = write_two_phase_series(tmp_path / "ct", [volume + 40, volume], spacing=SPACING, origin=ORIGIN)
    write_seg(tmp_path / "seg.dcm", phases[1], _segments())  # drawn on the second phase
    single = write_ct_series(tmp_path / "clean", volume, spacing=SPACING, origin=ORIGIN)
    write_seg(tmp_path / "clean_seg.dcm", single, _segments())
    pre = CTPreprocessor(segment="Mass", image_size=32, margin_mm=10.0)
    doubled = pre.fit_transform(_frame(tmp_path / "ct", tmp_path / "seg.dcm"))
    clean = pre.fit_transform(_frame(tmp_path / "clean", tmp_path / "clean_seg.dcm"))
    np.testing.assert_array_equal(doubled, clean)


# --------------------------------------------------------------------------- SEG


def test_seg_is_recognised_by_content(archive):
    root, _ = archive
    assert is_dicom_seg(root / "mass_only") and is_dicom_seg(root / "seg_sparse.dcm")
    assert not is_dicom_seg(root / "ct") and not is_dicom_seg(sorted((root / "ct").iterdir())[0])
    assert dicom_seg_segments(root / "seg_sparse.dcm") == {
        1: "Liver",
        2: "Mass",
        3: "Portal vein",
        4: "Abdominal aorta",
    }
    with pytest.raises(ValueError, match="is a DICOM SEG"):
        read_image(root / "mass_only")


@pytest.mark.parametrize("name", ["seg_sparse.dcm", "seg_full.dcm"])
@pytest.mark.parametrize(
    ("segment", "truth"),
    [
        ("Mass", ["Mass"]),
        (2, ["Mass"]),
        ("portal VEIN", ["Portal vein"]),
        (("Mass", "Portal vein"), ["Mass", "Portal vein"]),
        ([1, "Mass"], ["Liver"]),
    ],
)
def test_segments_are_rasterised_onto_the_ct(archive, name, segment, truth):
    root, _ = archive
    ct = read_image(root / "ct")
    mask = sitk.GetArrayFromImage(read_dicom_seg(root / name, ct, segment=segment))
    expected = np.logical_or.reduce([_segments()[t] for t in truth])
    np.testing.assert_array_equal(mask.astype(bool), expected)
    assert mask.dtype == np.uint8 and mask.max() == 1


def test_seg_covering_part_of_the_ct(tmp_path):
    """A SEG drawn on slices 3..8 only (referencing 6 of the 12 images) lands on those slices of the full CT."""
    ct = write_ct_series(tmp_path / "ct", _volume(), spacing=SPACING, origin=ORIGIN)
    part = {name: mask[3:9] for name, mask in _segments().items()}
    write_seg(tmp_path / "seg.dcm", ct[3:9], part)
    image = read_image(tmp_path / "ct")
    mask = sitk.GetArrayFromImage(read_dicom_seg(tmp_path / "seg.dcm", image, segment="Liver")).astype(bool)
    expected = np.zeros(SHAPE, dtype=bool)
    expected[3:9] = _segments()["Liver"][3:9]
    np.testing.assert_array_equal(mask, expected)


def test_seg_errors_name_the_patient_and_the_segments(archive):
    root, _ = archive
    present = "1 'Liver', 2 'Mass', 3 'Portal vein', 4 'Abdominal aorta'"
    X = _frame(root / "ct", root / "seg_sparse.dcm", pid="HCC_007")
    with pytest.raises(
        ValueError,
        match=rf"patient HCC_007: mask DICOM SEG .* has no segment 'Necrosis'; its "
        rf"segments are {present}",
    ):
        CTPreprocessor(segment=("Mass", "Necrosis")).fit(X)
    with pytest.raises(
        ValueError,
        match=rf"patient HCC_007: mask DICOM SEG .* holds 4 segments \({present}\); "
        "pass segment=",
    ):
        RadiomicsExtractor().fit(X)
    with pytest.raises(ValueError, match=r"patient HCC_007: mask DICOM SEG .*segment \('Abdominal aorta',\) is empty"):
        CTPreprocessor(segment="Abdominal aorta").fit(X)
    with pytest.raises(ValueError, match=r"patient HCC_007: mask .* is a DICOM SEG: choose its segment with segment="):
        CTPreprocessor(mask_label=2).fit(X)
    for bad in ((), 0, 1.5, True, {"Mass"}):
        with pytest.raises(ValueError, match="segment"):
            CTPreprocessor(segment=bad).fit(X)
        with pytest.raises(ValueError, match="segment"):
            RadiomicsExtractor(segment=bad).fit(X)
    # the transform path (no pre-flight) gives the same messages
    with pytest.raises(ValueError, match=r"patient HCC_007: mask DICOM SEG .* has no segment 'Necrosis'"):
        CTPreprocessor(segment="Necrosis").transform(X)
    # a one-segment SEG needs no segment=
    roi = CTPreprocessor(image_size=16).fit_transform(_frame(root / "ct", root / "mass_only"))
    assert roi.shape == (1, 3, 16, 16)


def test_segment_on_a_label_image_is_refused(tmp_path):
    image = sitk.GetImageFromArray(_segments()["Mass"].astype(np.uint8))
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    sitk.WriteImage(image, str(tmp_path / "mask.nii.gz"))
    write_ct_series(tmp_path / "ct", _volume(), spacing=SPACING, origin=ORIGIN)
    X = _frame(tmp_path / "ct", tmp_path / "mask.nii.gz")
    with pytest.raises(ValueError, match=r"patient P1: mask .* is not a DICOM SEG: segment=\('Mass',\) applies"):
        CTPreprocessor(segment="Mass").fit(X)
    assert CTPreprocessor(image_size=16).fit_transform(X).shape == (1, 3, 16, 16)


def test_seg_on_another_grid(tmp_path):
    """A SEG drawn on another reconstruction of the same study (offset by (1.1, -0.9, 0.8) mm): refused as
    'strict', resampled by nearest neighbour otherwise; the tumour's voxel count within 1% of the same ball
    drawn on the CT (3.125 mm pixels: on 6.25 mm ones a 30 mm ball has too few voxels for 1%)."""
    shape, spacing = (32, 128, 128), (3.125, 3.125, 2.5)
    centre, radius = (-10.0, 10.0, ORIGIN[2] + 40.0), 30.0
    volume = real_ct_volume(*shape[:2])
    write_ct_series(tmp_path / "ct", volume, spacing=spacing, origin=ORIGIN)
    shifted = (ORIGIN[0] + 1.1, ORIGIN[1] - 0.9, ORIGIN[2] + 0.8)
    other = write_ct_series(tmp_path / "other", volume, spacing=spacing, origin=shifted, study_date="20120102")
    write_seg(tmp_path / "seg.dcm", other, {"Mass": sphere(shape, centre, radius, spacing=spacing, origin=shifted)})
    X = _frame(tmp_path / "ct", tmp_path / "seg.dcm")
    with pytest.raises(
        ValueError,
        match=r"mask on another grid than its CT.*\n.*patient P1: mask DICOM SEG .* is not "
        r"on the CT's voxel grid: its frames lie between the CT's voxels",
    ):
        check_image_paths(X)
    image = read_image(tmp_path / "ct")
    aligned = sitk.GetArrayFromImage(read_dicom_seg(tmp_path / "seg.dcm", image, mask_geometry="resample"))
    truth = sphere(shape, centre, radius, spacing=spacing, origin=ORIGIN)
    assert abs(int(aligned.sum()) - int(truth.sum())) <= 0.01 * truth.sum()
    assert 2 * np.sum(aligned.astype(bool) & truth) / (aligned.sum() + truth.sum()) > 0.9  # Dice
    check_image_paths(X, mask_geometry="resample")
    assert CTPreprocessor(mask_geometry="resample", image_size=16).fit_transform(X).shape == (1, 3, 16, 16)


# --------------------------------------------------------------------------- end to end


def _dicom_manifest(root, n=12):
    """A cohort of ``n`` patients, each a CT series (shuffled names, alternating real slices) and a two-segment SEG
    (Liver, Mass; the Mass a ball of random radius 8-16 mm), written as a manifest with a ``segment`` column."""
    from sksurv_tace.datasets import make_tace_cohort
    from sksurv_tace.datasets.manifest import write_manifest

    X, y = make_tace_cohort(n, random_state=0, with_images=False)
    rng = np.random.default_rng(0)
    liver = sphere(SHAPE, (-20.0, 20.0, -46.0), 60.0, spacing=SPACING, origin=ORIGIN)
    masses = []
    for i, pid in enumerate(X["patient_id"]):
        mass = sphere(
            SHAPE, (-10.0 + 20.0 * rng.random(), 10.0, -46.0), 8.0 + 8.0 * rng.random(), spacing=SPACING, origin=ORIGIN
        )
        volume = np.where(
            mass, 60 + 60 * rng.random(), real_ct_volume(*SHAPE[:2], patient=("HCC_001", "HCC_048")[i % 2])
        )
        ct = write_ct_series(
            root / pid / "ct", volume, spacing=SPACING, origin=ORIGIN, patient_id=pid, shuffle_names=True
        )
        write_seg(root / pid / "seg.dcm", ct, {"Liver": liver, "Mass": mass})
        masses.append(mass)
    X["ct"] = [str(root / pid / "ct") for pid in X["patient_id"]]
    X["mask"] = [str(root / pid / "seg.dcm") for pid in X["patient_id"]]
    X["segment"] = "Mass"
    return write_manifest(root / "manifest.csv", X, y), X, masses


def test_end_to_end_transformers_and_command_line(tmp_path, capsys):
    """CTPreprocessor and RadiomicsExtractor on a DICOM + SEG cohort (each patient's tumour volume equal to its ball);
    the command line takes the segment from the manifest's column (its pre-flight refuses the two-segment SEGs
    without it), the presets pass it to both image transformers, and a loaded model takes --segment."""
    from sksurv_tace.cli import main
    from sksurv_tace.models import RadiomicsCox
    from sksurv_tace.paper.presets import paper_models
    from sksurv_tace.preprocessing._alignment import apply_image_options

    manifest, X, masses = _dicom_manifest(tmp_path)
    X = X.drop(columns="segment")
    rois = CTPreprocessor(segment="Mass", image_size=32, margin_mm=10.0).fit_transform(X)
    assert rois.shape == (12, 3, 32, 32) and np.isfinite(rois).all()
    volume = {"shape": ["VoxelVolume"], "firstorder": ["Mean"]}
    extractor = RadiomicsExtractor(segment="Mass", settings={"binWidth": 25}, feature_classes=volume, progress=False)
    features = extractor.fit_transform(X)
    voxel_mm3 = float(np.prod(SPACING))
    np.testing.assert_allclose(features["original_shape_VoxelVolume"], [m.sum() * voxel_mm3 for m in masses])

    model = str(tmp_path / "clinical.joblib")
    assert main(["fit", "--manifest", str(manifest), "--model", "ClinicalCox", "--out", model, "--quiet"]) == 0
    pd.read_csv(manifest).drop(columns="segment").to_csv(tmp_path / "bare.csv", index=False)
    assert (
        main(
            [
                "fit",
                "--manifest",
                str(tmp_path / "bare.csv"),
                "--model",
                "ClinicalCox",
                "--out",
                model,
                "--overwrite",
                "--quiet",
            ]
        )
        == 2
    )
    assert "holds 2 segments (1 'Liver', 2 'Mass'); pass segment=" in capsys.readouterr().err

    models = paper_models(quick=True, image_options={"segment": "Mass", "mask_geometry": "resample"})
    for name in ("RadiomicsCox", "CTSurvival", "CNNCox", "FusionSurvival"):
        params = models[name].get_params()
        assert {params[k] for k in params if k.endswith("__segment")} == {"Mass"}
        assert {params[k] for k in params if k.endswith("__mask_geometry")} == {"resample"}

    y = np.array(
        [(bool(e), t) for e, t in zip(*_events(len(X)), strict=True)], dtype=[("event", bool), ("time", float)]
    )
    fitted = RadiomicsCox(extractor=extractor, random_state=0).fit(X, y)
    apply_image_options(fitted, {"segment": "Liver"})  # what predict/validate --segment do to a loaded model
    assert fitted.extractor_.segment == "Liver" and fitted.extractor.segment == "Liver"
    liver = fitted.extractor_.transform(X)["original_shape_VoxelVolume"]
    np.testing.assert_allclose(liver, _segments()["Liver"].sum() * voxel_mm3)

    from sksurv_tace.models import CTSurvival  # the deep models take the segment through image_preprocessor=

    deep = CTSurvival(
        image_preprocessor=CTPreprocessor(segment="Mass", image_size=16, margin_mm=10.0),
        max_epochs=1,
        batch_size=6,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    assert deep.image_preprocessor_.segment == "Mass" and deep.predict(X).shape == (12,)
    np.testing.assert_array_equal(
        deep.image_preprocessor_.transform(X),
        CTPreprocessor(segment="Mass", image_size=16, margin_mm=10.0).transform(X),
    )


def _events(n):
    rng = np.random.default_rng(1)
    return rng.random(n) < 0.7, 100.0 + 900.0 * rng.random(n)


def test_command_line_errors_name_the_segments(tmp_path, capsys):
    from sksurv_tace.cli import main

    manifest, _, _ = _dicom_manifest(tmp_path, n=3)
    table = pd.read_csv(manifest)
    table.loc[1, "segment"] = "Liver"
    table.to_csv(tmp_path / "mixed.csv", index=False)
    args = ["--model", "RadiomicsCox", "--out", str(tmp_path / "m.joblib")]
    assert main(["fit", "--manifest", str(tmp_path / "mixed.csv"), *args]) == 2
    assert "the manifest's segment column holds several values (Liver, Mass)" in capsys.readouterr().err
    assert main(["fit", "--manifest", str(manifest), *args, "--segment", "Necrosis"]) == 2
    err = capsys.readouterr().err
    assert (
        "patient TACE0001: mask DICOM SEG" in err
        and "has no segment 'Necrosis'; its segments are 1 'Liver', 2 'Mass'" in err
    )


def test_preflight_lists_every_bad_dicom_patient_by_problem(tmp_path):
    """One pre-flight error for a cohort: a series with a missing slice, a doubled series without a SEG, a SEG
    without the segment, and a good patient with a doubled series and its SEG (the SEG's instances are read)."""
    volume = _volume()
    rows = []
    gap = write_ct_series(tmp_path / "gap", volume, spacing=SPACING, origin=ORIGIN, skip_slices=(5,), patient_id="A")
    write_seg(tmp_path / "a.dcm", gap, {"Mass": np.delete(_segments()["Mass"], 5, axis=0)})
    rows.append(("A", tmp_path / "gap", tmp_path / "a.dcm"))
    phases = write_two_phase_series(tmp_path / "two", [volume, volume + 40], spacing=SPACING, origin=ORIGIN)
    write_seg(tmp_path / "b.dcm", phases[0], {"Liver": _segments()["Liver"]})
    rows.append(("B", tmp_path / "two", tmp_path / "b.dcm"))
    write_seg(tmp_path / "c.dcm", phases[1], _segments())
    rows.append(("C", tmp_path / "two", tmp_path / "c.dcm"))
    X = pd.DataFrame(rows, columns=["patient_id", "ct", "mask"]).astype(str)
    with pytest.raises(ValueError) as info:
        check_image_paths(X, segment="Mass")
    message = str(info.value)
    assert message.startswith("the image files of 2 of 3 patient(s) cannot be used")
    assert (
        "DICOM series with duplicate, missing or unevenly spaced slices (1 patient):\n    patient A: ct DICOM "
        in message
    )
    assert "about 1 slice(s) missing" in message
    assert "empty or ambiguous mask (1 patient):\n    patient B: mask DICOM SEG" in message
    assert "has no segment 'Mass'; its segments are 1 'Liver'" in message
    assert "patient C" not in message


def test_series_rewritten_in_place_is_read_again(tmp_path):
    volume = _volume()
    write_ct_series(tmp_path / "ct", volume, spacing=SPACING, origin=ORIGIN)
    assert read_image(tmp_path / "ct").GetOrigin()[2] == pytest.approx(ORIGIN[2])
    moved = (ORIGIN[0], ORIGIN[1], ORIGIN[2] + 10.0)
    write_ct_series(tmp_path / "ct", volume, spacing=SPACING, origin=moved)  # the same file names, new positions
    assert read_image(tmp_path / "ct").GetOrigin()[2] == pytest.approx(ORIGIN[2] + 10.0)
