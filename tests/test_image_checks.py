"""Fail-early checks of a cohort's image files (issue 15): every bad patient named at once, grouped by problem."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from sksurv_tace.datasets import load_manifest, make_tace_cohort, write_manifest
from sksurv_tace.preprocessing import image_checks
from sksurv_tace.preprocessing.image_checks import PROBLEM_KINDS, check_image_paths, find_image_problems
from sksurv_tace.preprocessing.imaging import CTPreprocessor, read_image

#: patient -> the problem given to its files by :func:`_break_five`
BAD = {
    "TACE0001": "missing",
    "TACE0002": "unreadable",
    "TACE0003": "truncated",
    "TACE0004": "geometry",
    "TACE0005": "mask",
}


def _break_five(folder: Path) -> Path:
    """An 8-patient synthetic cohort whose first five patients each have one bad file; its manifest."""
    X, y = make_tace_cohort(8, path=folder, image_shape=(8, 32, 32), random_state=0)
    os.remove(X.loc[0, "ct"])  # missing file
    Path(X.loc[1, "ct"]).write_bytes(np.random.default_rng(0).bytes(3000))  # corrupt: random bytes
    cut = X.loc[2, "ct"].replace(".nii.gz", ".nii")  # truncated NIfTI: half of an uncompressed file
    sitk.WriteImage(sitk.ReadImage(X.loc[2, "ct"]), cut)
    os.truncate(cut, os.path.getsize(cut) // 2)
    X.loc[2, "ct"] = cut
    mask = sitk.ReadImage(X.loc[3, "mask"])  # mask on another grid
    mask.SetSpacing([2.0 * s for s in mask.GetSpacing()])
    sitk.WriteImage(mask, X.loc[3, "mask"])
    sitk.WriteImage(sitk.ReadImage(X.loc[4, "mask"]) * 0, X.loc[4, "mask"])  # empty mask
    return write_manifest(folder / "manifest.csv", X, y)


@pytest.fixture(scope="module")
def bad_cohort(tmp_path_factory):
    """``(X, y)`` of the cohort of :func:`_break_five`, loaded without the manifest's file check."""
    return load_manifest(_break_five(tmp_path_factory.mktemp("bad_cohort")), check_files=False)


def _blocks(message: str) -> dict[str, list[str]]:
    """The error's groups: heading (without its count) -> the lines under it."""
    blocks, heading = {}, None
    for line in message.splitlines()[1:]:
        if line.startswith("    "):
            blocks[heading].append(line.strip())
        else:
            heading = line.strip().rsplit(" (", 1)[0]
            blocks[heading] = []
    return blocks


def test_five_bad_patients_are_named_in_one_error_grouped_by_problem(bad_cohort):
    X, _ = bad_cohort
    with pytest.raises(ValueError) as error:
        check_image_paths(X)
    message = str(error.value)
    assert message.startswith("the image files of 5 of 8 patient(s) cannot be used")
    blocks = _blocks(message)
    assert list(blocks) == [PROBLEM_KINDS[kind] for kind in BAD.values()]  # one group per problem, in order
    for (patient, kind), row in zip(BAD.items(), X.itertuples(), strict=False):
        (line,) = blocks[PROBLEM_KINDS[kind]]
        assert line.startswith(f"patient {patient}: ")
        assert (row.mask if kind in ("geometry", "mask") else row.ct) in line  # the file is named
    for patient in X["patient_id"].iloc[5:]:
        assert patient not in message
    assert "ImageIO" not in message and "Traceback" not in message
    assert "is truncated or corrupt: its header declares" in blocks[PROBLEM_KINDS["truncated"]][0]
    assert "is empty (no tumour voxel)" in blocks[PROBLEM_KINDS["mask"]][0]
    assert "mask geometry differs from its image (spacing" in blocks[PROBLEM_KINDS["geometry"]][0]


def test_problem_table_is_the_same_with_threads(bad_cohort):
    X, _ = bad_cohort
    table = find_image_problems(X, n_jobs=1)
    assert dict(zip(table["patient"].str.removeprefix("patient "), table["problem"], strict=True)) == BAD
    assert table["column"].tolist() == ["ct", "ct", "ct", "mask", "mask"]
    pd.testing.assert_frame_equal(find_image_problems(X, n_jobs=4), table)
    assert find_image_problems(X.iloc[5:]).empty


def test_estimators_refuse_every_bad_patient_before_any_preprocessing(bad_cohort, monkeypatch):
    from sksurv_tace.models.deep import CTSurvival
    from sksurv_tace.models.radiomics_cox import RadiomicsCox
    from sksurv_tace.preprocessing import imaging, radiomics
    from sksurv_tace.preprocessing.radiomics import RadiomicsExtractor

    def no_work(*args, **kwargs):
        raise AssertionError("a patient was preprocessed before every file was checked")

    monkeypatch.setattr(imaging, "map_patients", no_work)
    monkeypatch.setattr(radiomics, "map_patients", no_work)
    X, y = bad_cohort
    with pytest.raises(ValueError) as expected:
        check_image_paths(X)
    fits = {
        "CTPreprocessor": lambda: CTPreprocessor(image_size=16).fit(X),
        "RadiomicsExtractor": lambda: RadiomicsExtractor(progress=False).fit(X),
        "RadiomicsExtractor.fit_transform": lambda: RadiomicsExtractor(progress=False).fit_transform(X),
        "CTSurvival": lambda: CTSurvival(max_epochs=1, verbose=0).fit(X, y),
        "RadiomicsCox": lambda: RadiomicsCox(extractor=RadiomicsExtractor(progress=False)).fit(X, y),
    }
    for name, fit in fits.items():
        with pytest.raises(ValueError) as error:
            fit()
        assert str(error.value) == str(expected.value), name


def test_reproduce_refuses_before_training_or_writing(bad_cohort, tmp_path):
    from sksurv_tace.paper.run import reproduce

    X, y = bad_cohort
    out, lines = tmp_path / "out", []
    with pytest.raises(ValueError, match="the image files of 5 of 8 patient") as error:
        reproduce(X, y, out=out, quick=True, n_bootstrap=10, log=lines.append)
    assert all(f"patient {patient}:" in str(error.value) for patient in BAD)
    assert not out.exists() and not any(line.startswith("[fit") for line in lines)


def test_checks_are_memoised_per_file_and_follow_changes(tmp_path, monkeypatch):
    X, _ = make_tace_cohort(3, path=tmp_path, image_shape=(8, 32, 32), random_state=1)
    calls = []
    inspect = image_checks._inspect
    monkeypatch.setattr(image_checks, "_inspect", lambda path: calls.append(path) or inspect(path))
    check_image_paths(X)
    assert sorted(calls) == sorted([*X["ct"], *X["mask"]])
    check_image_paths(X)  # nothing read again: the files are unchanged
    assert len(calls) == 6
    kept = tmp_path / "kept.nii.gz"
    shutil.copy(X.loc[1, "mask"], kept)
    sitk.WriteImage(sitk.ReadImage(X.loc[1, "mask"]) * 0, X.loc[1, "mask"])  # a changed file is checked again
    with pytest.raises(ValueError, match=r"empty or ambiguous mask \(1 patient\):\n    patient TACE0002: mask"):
        check_image_paths(X)
    assert calls[6:] == [X.loc[1, "mask"]]
    shutil.copy(kept, X.loc[1, "mask"])
    check_image_paths(X)


def test_cut_gzip_non_finite_voxels_and_ambiguous_masks(tmp_path):
    X, _ = make_tace_cohort(3, path=tmp_path, image_shape=(8, 32, 32), random_state=2)
    data = Path(X.loc[0, "ct"]).read_bytes()
    Path(X.loc[0, "ct"]).write_bytes(data[: len(data) * 9 // 10])  # a .nii.gz: found by decompressing it
    ct = sitk.ReadImage(X.loc[1, "ct"], sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(ct)
    array[0, 0, :3] = np.nan
    nan = sitk.GetImageFromArray(array)
    nan.CopyInformation(ct)
    X.loc[1, "ct"] = str(tmp_path / "nan.nii.gz")
    sitk.WriteImage(nan, X.loc[1, "ct"])
    mask = sitk.ReadImage(X.loc[2, "mask"])
    liver = sitk.GetImageFromArray(np.where(sitk.GetArrayFromImage(mask) > 0, 2, 1).astype(np.uint8))
    liver.CopyInformation(mask)  # liver = 1 around a tumour = 2
    sitk.WriteImage(liver, X.loc[2, "mask"])
    table = find_image_problems(X)
    assert table["problem"].tolist() == ["truncated", "non_finite", "mask"]
    assert "ends inside gzip member" in table["message"][0]
    assert "holds 3 non-finite voxel(s)" in table["message"][1]
    assert "holds 2 non-zero labels (1, 2)" in table["message"][2]
    assert find_image_problems(X.iloc[2:], mask_label=2).empty  # the tumour's label given: fine
    assert "has no voxel with label 3" in find_image_problems(X.iloc[2:], mask_label=3)["message"][0]


@pytest.mark.parametrize(
    "name, content",
    [("random.nii.gz", b"\x01\x02" * 700), ("text.nrrd", b"hello\n"), ("text.mha", b"ObjectType = Image\nNDims = 3\n"),
     ("header.nii", b"\x5c\x01\x00\x00" + bytes(400)), ("table.csv", b"patient,age\n")],
)  # fmt: skip
def test_unreadable_files_are_described_in_words(tmp_path, name, content):
    """Never SimpleITK's raw 'Unable to determine ImageIO reader', its source location or object address."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"cannot be read: it is (not in an image format|damaged)") as error:
        read_image(path)
    assert "ImageIO reader" not in str(error.value) and ".cxx" not in str(error.value) and "0x" not in str(error.value)
    X = pd.DataFrame({"patient_id": ["P1"], "ct": [str(path)], "mask": [str(path)]})
    (ct, mask) = find_image_problems(X)["message"]
    assert ct == f"patient P1: ct {error.value}" and mask == f"patient P1: mask {error.value}"


def test_load_manifest_names_every_missing_file(tmp_path):
    table = pd.DataFrame({"patient_id": ["a", "b", "c"], "time": [10.0, 20.0, 30.0], "event": [1, 0, 1],
                          "ct": ["a.nii.gz", "b.nii.gz", "c.nii.gz"],
                          "mask": ["a_m.nii.gz", "b_m.nii.gz", "x"]})  # fmt: skip
    for name in ("b.nii.gz", "a_m.nii.gz", "b_m.nii.gz"):
        (tmp_path / name).write_bytes(b"")
    table.to_csv(tmp_path / "m.csv", index=False)
    every = (r"3 image file\(s\) missing: patient a's ct file .*a\.nii\.gz' does not exist; "
             r"patient c's ct file .*; patient c's mask file .*x' does not exist")  # fmt: skip
    with pytest.raises(ValueError, match=every):
        load_manifest(tmp_path / "m.csv")
    X, _ = load_manifest(tmp_path / "m.csv", check_files=False)
    kinds = ["missing", "unreadable", "unreadable", "unreadable", "missing", "missing"]  # the empty files: unreadable
    assert find_image_problems(X)["problem"].tolist() == kinds
