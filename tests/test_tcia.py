"""A TCIA download -> ``sksurv-tace manifest --tcia`` -> ``reproduce --manifest``; HCC-TACE-Seg's endpoints (issue 10).

The archive is built here in the NBIA Data Retriever's layout from the real HCC-TACE-Seg slices
(``tests/dicom_archive.py``): 12 patients, each with a pre-treatment CT series and a DICOM SEG
(segments Liver and Mass); HCC_003's series holds two phases under one Series Instance UID (the
SEG is drawn on the first); HCC_005 also has a follow-up study with its own CT and SEG; HCC_007 has
no SEG. The clinical table is the real one's first 13 rows (HCC_013 has no images).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_archive import real_ct_volume, sphere, write_ct_series, write_seg, write_two_phase_series

from sksurv_tace.cli import main
from sksurv_tace.datasets import build_tcia_manifest, load_hcc_tace_seg, load_manifest

RAW_TABLE = Path(__file__).resolve().parents[1] / "sksurv_tace" / "data" / "hcc_tace_seg_clinical.csv"
_SHARED_TABLE = Path(__file__).resolve().parents[2] / "shared/data/hcc_tace_seg_clinical"
_SHARED_TABLE = _SHARED_TABLE / "HCC-TACE-Seg_clinical_data-V2_copy_Tigeress06.csv"
PATIENTS = [f"HCC_{k:03d}" for k in range(1, 13)]
SPACING = (5.5, 5.5, 5.0)  # mm: 64 x 64 pixels of 5.5 mm cover the real slice's 352 mm field
SHAPE = (10, 64, 64)


def _folder(root, patient, date, study, number, series, uid):
    """The NBIA Data Retriever's folders: <collection>/<patient>/<date-study-uid tail>/<number-series-uid tail>."""
    study_folder = f"{date[4:6]}-{date[6:]}-{date[:4]}-NA-{study}-{uid[-5:]}"
    return root / "HCC-TACE-Seg" / patient / study_folder / f"{number}.000000-{series}-{uid[-9:-4]}"


def _segments(rng):
    """Liver and Mass on SHAPE: a large ball and a small one inside it, placed at random."""
    liver_centre = np.array([200.0, 170.0, 22.0]) + rng.uniform(-15, 15, 3) * (1, 1, 0.2)
    mass_centre = liver_centre + rng.uniform(-20, 20, 3) * (1, 1, 0.1)
    liver = sphere(SHAPE, liver_centre, 70.0, spacing=SPACING)
    mass = sphere(SHAPE, mass_centre, rng.uniform(12.0, 22.0), spacing=SPACING)
    return {"Liver": liver, "Mass": mass & liver}


def _write_patient(root, patient, k, *, date="20120301", with_seg=True, two_phases=False):
    """One study: a CT series and (``with_seg``) its SEG; returns (CT folder, SEG path or None)."""
    rng = np.random.default_rng(k)
    volume = real_ct_volume(SHAPE[0], SHAPE[1], patient="HCC_001" if k % 2 else "HCC_048")
    volume = (volume + rng.integers(-30, 30, size=volume.shape)).astype(np.int16)
    segments = _segments(rng)
    hu = volume.copy()
    hu[segments["Mass"]] = np.clip(hu[segments["Mass"]].astype(int) - 60 - 10 * k, -1024, 3071)
    ct_folder = _folder(root, patient, date, "CT ABDOMEN", 2, "LIVER 3 PHASE", f"1.2.{k}.{date}.12345")
    if two_phases:  # arterial and portal-venous phases under one Series Instance UID, same positions
        phases = write_two_phase_series(ct_folder, [hu, (hu + 40).astype(np.int16)], spacing=SPACING,
                                        patient_id=patient, study_date=date, random_state=k)  # fmt: skip
        segmented = phases[0]
    else:
        segmented = write_ct_series(ct_folder, hu, spacing=SPACING, patient_id=patient, study_date=date,
                                    shuffle_names=k % 3 == 0, feet_first=k % 4 == 0, random_state=k)  # fmt: skip
    if not with_seg:
        return ct_folder, None
    seg_path = _folder(root, patient, date, "CT ABDOMEN", 300, "Segmentation", f"1.2.{k}.{date}.99999") / "1-1.dcm"
    write_seg(seg_path, segmented, segments)
    return ct_folder, seg_path


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The 12-patient download, the clinical table (13 real rows, as TCIA distributes it) and what is expected."""
    root = tmp_path_factory.mktemp("tcia")
    expected = {}
    for k, patient in enumerate(PATIENTS, start=1):
        ct, seg = _write_patient(root / "download", patient, k, with_seg=patient != "HCC_007",
                                 two_phases=patient == "HCC_003")  # fmt: skip
        expected[patient] = (ct, seg)
    _write_patient(root / "download", "HCC_005", 50, date="20121101")  # follow-up study, SEG too: not chosen
    (root / "download" / "metadata.csv").write_text("Series UID,Collection\n1.2.3,HCC-TACE-Seg\n")  # NBIA's
    raw = pd.read_csv(RAW_TABLE, encoding="utf-8-sig").iloc[:13]
    raw.to_csv(root / "clinical.csv", index=False)
    return root, raw, expected


def test_manifest_command_writes_one_row_per_segmented_patient_and_logs_the_rest(archive, capsys):
    root, raw, expected = archive
    out = root / "cohort" / "manifest.csv"
    args = ["manifest", "--tcia", str(root / "download"), "--clinical", str(root / "clinical.csv"), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "11 patients written" in printed and "2 skipped" in printed
    X, y = load_manifest(out)
    written = [p for p in PATIENTS if p != "HCC_007"]
    assert X["patient_id"].tolist() == written
    for row in X.itertuples():
        ct, seg = expected[row.patient_id]
        assert Path(row.ct) == ct.resolve()  # the pre-treatment series (HCC_005: not the follow-up's)
        assert Path(row.mask) == seg.resolve()
        assert row.segment == "Mass"
    truth = raw.set_index("TCIA_ID").loc[written]  # OS in weeks in the source table
    np.testing.assert_allclose(y["time"], truth["OS"].to_numpy() * 7, atol=1e-3)
    np.testing.assert_array_equal(y["event"], truth["Death_1_StillAliveorLostToFU_0"].to_numpy() == 1)
    log = pd.read_csv(out.with_name("manifest_skipped.csv"))
    reasons = dict(zip(log["patient_id"], log["reason"], strict=True))
    assert set(reasons) == {"HCC_007", "HCC_013"}
    assert "no DICOM SEG" in reasons["HCC_007"]
    assert "no DICOM in the download" in reasons["HCC_013"]
    assert main(args) == 2  # never overwritten without --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--endpoint", "ttp"]) == 0
    _, y_ttp = load_manifest(out)
    np.testing.assert_allclose(y_ttp["time"], truth["TTP"].to_numpy() * 7, atol=1e-3)
    np.testing.assert_array_equal(y_ttp["event"], truth["Censored_0_progressed_1"].to_numpy() == 1)


def test_each_reason_for_leaving_a_patient_out(archive, tmp_path):
    import shutil

    root, _, expected = archive
    X, y = load_hcc_tace_seg()
    with pytest.raises(ValueError, match="no patient of .* could be written"):
        build_tcia_manifest(root / "download", (X, y), tmp_path / "none.csv", segment="Portal vein")
    log = pd.read_csv(tmp_path / "none_skipped.csv").set_index("patient_id")["reason"]
    assert log["HCC_001"] == "no SEG has a segment 'Portal vein' (segments present: Liver, Mass)"
    assert len(log) == 105  # 11 with another segment, HCC_007 without SEG, 93 rows with no DICOM
    table, _ = build_tcia_manifest(root / "download", (X, y), tmp_path / "two.csv", segment=2)
    assert set(table["segment"]) == {"Mass"} and len(table) == 11  # segment number 2 is Mass

    download = tmp_path / "download"
    download.mkdir()
    ct, seg = expected["HCC_001"]
    shutil.copy(seg, download / "HCC_001_seg.dcm")  # its CT series was not downloaded
    ct, seg = expected["HCC_002"]
    shutil.copytree(ct, download / "ct2")
    shutil.copy(seg, download / "seg2a.dcm")
    shutil.copy(seg, download / "seg2b.dcm")  # two SEGs of the same study: ambiguous
    ct, seg = expected["HCC_004"]
    shutil.copytree(ct, download / "ct4")
    sorted((download / "ct4").iterdir())[3].unlink()  # one segmented image missing
    shutil.copy(seg, download / "seg4.dcm")
    ct, seg = expected["HCC_006"]
    shutil.copytree(ct, download / "a" / "b")  # any layout: the headers say what is what
    shutil.copy(seg, download / "seg6.dcm")
    ct, seg = expected["HCC_009"]
    shutil.copytree(ct, download / "ct9")
    shutil.copy(seg, download / "ct9" / "seg9.dcm")
    clinical = pd.DataFrame({"patient_id": ["HCC_001", "HCC_002", "HCC_004", "HCC_006"], "time": [1.0, 2.0, 3.0, 4.0],
                             "event": [1, 0, 1, 0]})  # fmt: skip
    table, skipped = build_tcia_manifest(download, clinical, tmp_path / "m.csv")
    assert table[["patient_id", "time", "event", "ct", "mask", "segment"]].values.tolist() == [
        ["HCC_006", 4.0, 0, str(download / "a" / "b"), str(download / "seg6.dcm"), "Mass"]]  # fmt: skip
    log = pd.read_csv(tmp_path / "m_skipped.csv").set_index("patient_id")["reason"]
    pd.testing.assert_series_equal(log, skipped.set_index("patient_id")["reason"])
    assert "references series" in log["HCC_001"] and "not in the download" in log["HCC_001"]
    assert "several candidate SEGs" in log["HCC_002"] and "seg2a.dcm" in log["HCC_002"]
    assert log["HCC_004"].startswith("1 of the 10 CT images")
    assert log["HCC_009"] == "no row in the clinical table"

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metadata.csv").write_text("not DICOM\n")
    for folder, message in ((empty, "holds no DICOM file"), (tmp_path / "absent", "does not exist")):
        with pytest.raises(ValueError, match=message):
            build_tcia_manifest(folder, clinical, tmp_path / "e.csv")
    with pytest.raises(ValueError, match="endpoint must be"):
        build_tcia_manifest(download, clinical, tmp_path / "e.csv", endpoint="pfs")


def test_time_to_progression_from_the_real_table():
    X, y = load_hcc_tace_seg(endpoint="ttp")
    raw = pd.read_csv(RAW_TABLE, encoding="utf-8-sig")
    assert int(y["event"].sum()) == int((raw["Censored_0_progressed_1"] == 1).sum()) == 45  # issue 10: 45
    np.testing.assert_allclose(y["time"], raw["TTP"].to_numpy() * 7, atol=1e-3)  # TTP in weeks
    if _SHARED_TABLE.exists():  # an independent copy of the table agrees
        copy = pd.read_csv(_SHARED_TABLE, encoding="utf-8-sig")
        np.testing.assert_array_equal(y["event"], copy["Censored_0_progressed_1"].to_numpy() == 1)
    X_os, y_os = load_hcc_tace_seg()
    pd.testing.assert_frame_equal(X, X_os)  # the same patients and factors, another endpoint
    assert int(y_os["event"].sum()) == 93
    assert (y["time"] <= y_os["time"] + 1e-9).all()  # progression is never after the end of follow-up
    with pytest.raises(ValueError, match="endpoint must be 'os'"):
        load_hcc_tace_seg(endpoint="pfs")


def test_reproduce_on_the_manifest_runs_every_image_model_and_names_the_skipped_patient(
    archive, tmp_path, capsys, monkeypatch
):
    """The issue's end-to-end check; the quick preset's deep models trained for 2 epochs instead of up to 40 (this
    tests the plumbing from a TCIA download to the report, not what 9 training patients can teach a network)."""
    import json

    from sksurv_tace.paper import presets

    monkeypatch.setitem(presets._DEEP_PRESETS, "quick", {**presets._DEEP_PRESETS["quick"], "max_epochs": 2})
    root, _, _ = archive
    manifest = tmp_path / "manifest.csv"
    assert main(["manifest", "--tcia", str(root / "download"), "--clinical", str(root / "clinical.csv"),
                 "--out", str(manifest), "--quiet"]) == 0  # fmt: skip
    out = tmp_path / "out"
    argv = ["reproduce", "--quick", "--manifest", str(manifest), "--out", str(out), "--n-bootstrap", "20", "--quiet",
            "--n-jobs", "1"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["n_patients"] == 11 and results["skipped"] == {}
    assert {row["model"] for row in results["tables"]["table4"]} == {
        "FusionSurvival", "CTSurvival", "CNNCox", "RadiomicsCox", "ClinicalCox"}  # fmt: skip
    assert set(results["excluded_patients"]) == {"HCC_007", "HCC_013"}
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "- HCC_007: no DICOM SEG (segmentation) in the download" in report


def test_reproduce_lists_the_patients_of_the_skip_log_next_to_the_manifest(tmp_path, capsys):
    import json

    from sksurv_tace.datasets import make_tace_cohort

    make_tace_cohort(60, path=tmp_path / "c", with_images=False, random_state=0)
    log = pd.DataFrame({"patient_id": ["X_1", "X_2"], "reason": ["no DICOM SEG (segmentation) in the download",
                                                                 "no row in the clinical table"]})  # fmt: skip
    log.to_csv(tmp_path / "c" / "manifest_skipped.csv", index=False)
    out = tmp_path / "o"
    assert main(["reproduce", "--manifest", str(tmp_path / "c" / "manifest.csv"), "--out", str(out),
                 "--n-bootstrap", "20"]) == 0  # fmt: skip
    assert "2 patient(s) left out by 'sksurv-tace manifest'" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["excluded_patients"] == dict(zip(log["patient_id"], log["reason"], strict=True))
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "**Patients left out of the cohort (2):**" in report and "- X_2: no row in the clinical table" in report
    (tmp_path / "c" / "manifest_skipped.csv").write_text("id,why\nX_1,?\n")
    assert main(["reproduce", "--manifest", str(tmp_path / "c" / "manifest.csv"), "--out", str(out)]) == 2
    assert "is not a skip log" in capsys.readouterr().err
