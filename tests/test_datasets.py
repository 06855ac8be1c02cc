import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from sksurv.metrics import concordance_index_censored
from sksurv.nonparametric import kaplan_meier_estimator

from sksurv_tace.datasets._schema import CLINICAL_COLUMNS
from sksurv_tace.datasets.hcc_tace_seg import load_hcc_tace_seg
from sksurv_tace.datasets.manifest import load_manifest, write_manifest
from sksurv_tace.datasets.synthetic import albi_score, clinical_linear_predictor, make_tace_cohort
from sksurv_tace.preprocessing.image_checks import check_image_paths

_SHARED_CSV = Path(__file__).parents[2] / "shared/data/hcc_tace_seg_clinical/clinical_Data.csv"


def test_manifest_round_trip(small_cohort, tmp_path):
    X, y, _ = small_cohort
    manifest = X["ct"].iloc[0].rsplit("/images/", 1)[0] + "/manifest.csv"
    X2, y2 = load_manifest(manifest)
    pd.testing.assert_frame_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert list(X.columns) == ["patient_id", *CLINICAL_COLUMNS, "ct", "mask"]
    # paths in the manifest are relative, so the cohort folder can move
    raw = pd.read_csv(manifest)
    assert raw["ct"].str.startswith("images/").all()


def test_images_read_and_match_masks(small_cohort):
    X, _, _ = small_cohort
    check_image_paths(X)  # raises on unreadable files, empty masks, geometry mismatch
    for ct_path, mask_path in zip(X["ct"], X["mask"], strict=True):
        ct, mask = sitk.ReadImage(ct_path), sitk.ReadImage(mask_path)
        assert ct.GetSize() == mask.GetSize() == (48, 48, 12)
        assert ct.GetSpacing() == mask.GetSpacing() == (3.0, 3.0, 3.0)
        ct_a, mask_a = sitk.GetArrayFromImage(ct), sitk.GetArrayFromImage(mask)
        assert mask_a.sum() > 0
        assert ct_a.min() < -900  # air
        liver_like = ct_a[(ct_a > 30) & (ct_a < 90)]
        assert liver_like.size > 1000  # liver / soft tissue around 60 HU


def test_same_seed_same_cohort_byte_for_byte(tmp_path):
    kwargs = dict(image_shape=(8, 32, 32), random_state=3)
    Xa, ya = make_tace_cohort(15, path=tmp_path / "a", **kwargs)
    Xb, yb = make_tace_cohort(15, path=tmp_path / "b", **kwargs)
    assert filecmp.cmp(tmp_path / "a" / "manifest.csv", tmp_path / "b" / "manifest.csv", shallow=False)
    a = sitk.GetArrayFromImage(sitk.ReadImage(Xa["ct"][3]))
    b = sitk.GetArrayFromImage(sitk.ReadImage(Xb["ct"][3]))
    np.testing.assert_array_equal(a, b)
    Xc, _ = make_tace_cohort(15, path=tmp_path / "c", **{**kwargs, "random_state": 4})
    assert not Xc.drop(columns=["ct", "mask"]).equals(Xa.drop(columns=["ct", "mask"]))


def _share(series, level):
    return float((series.astype(str) == level).mean())


def test_cohort_matches_table1(clinical_cohort):
    """Medians and proportions sit near the paper's Table 1 (both cohorts pooled, n=301)."""
    X, _, _ = clinical_cohort
    medians = {"age": 61.0, "afp": 140.0, "ast": 64.0, "alt": 40.0, "alb": 37.9, "tbil": 20.2, "tumor_size": 47.0}
    for column, median in medians.items():
        q1, q2, q3 = np.percentile(X[column], [25, 50, 75])
        iqr = q3 - q1
        assert abs(q2 - median) < 0.35 * iqr, column
    proportions = {
        ("sex", "Male"): 0.757, ("portal_hypertension", "Yes"): 0.243, ("diabetes", "Yes"): 0.186,
        ("cirrhosis", "Yes"): 0.635, ("hepatitis", "HBV"): 0.890, ("tumor_number", ">2"): 0.422,
        ("tumor_location", "Right"): 0.661, ("mvi", "Yes"): 0.525, ("child_pugh", "B-C"): 0.292,
        ("bclc_b_subclass", "B1"): 0.395, ("bclc_b_subclass", "B4"): 0.116,
    }  # fmt: skip
    for (column, level), share in proportions.items():
        # binomial SE at n=301 is <= 0.029: allow ~2.5 SE
        assert abs(_share(X[column], level) - share) < 0.07, (column, level)


def test_albi_grade_follows_formula(clinical_cohort):
    X, _, _ = clinical_cohort
    # Johnson et al. 2015: grade 1 <= -2.60; worked example: albumin 40 g/L, bilirubin 10 µmol/L -> -2.74
    assert albi_score(40.0, 10.0) == pytest.approx(0.66 * 1.0 - 0.085 * 40.0)
    expected = np.where(albi_score(X["alb"], X["tbil"]) <= -2.60, "1", "2-3")
    np.testing.assert_array_equal(X["albi_grade"].astype(str), expected)
    # Bolondi's subclasses: B2 is Child-Pugh A only, B4 Child-Pugh B only
    assert (X.loc[X["bclc_b_subclass"] == "B2", "child_pugh"] == "A").all()
    assert (X.loc[X["bclc_b_subclass"] == "B4", "child_pugh"] == "B-C").all()


def test_survival_and_oracles(clinical_cohort):
    X, y, truth = clinical_cohort
    np.testing.assert_allclose(truth["clinical_lp"], clinical_linear_predictor(X))
    times, surv = kaplan_meier_estimator(y["event"], y["time"])
    median_os = times[np.searchsorted(-surv, -0.5)]
    assert 500 < median_os < 1000  # ~2 years
    full = concordance_index_censored(y["event"], y["time"], truth["lp"])[0]
    clinical = concordance_index_censored(y["event"], y["time"], truth["clinical_lp"])[0]
    assert 0.75 < full < 0.86
    assert 0.58 < clinical < 0.70
    assert full - clinical > 0.08  # images must matter
    assert y["time"].max() <= (np.datetime64("2022-01-01") - np.datetime64("2012-01-01")).astype(int)


def test_image_phenotype_is_not_mean_intensity_alone(small_cohort):
    """Heterogeneity of the tumour (SD of HU) follows the latent phenotype."""
    X, _, truth = small_cohort
    sds = []
    for ct_path, mask_path in zip(X["ct"], X["mask"], strict=True):
        ct = sitk.GetArrayFromImage(sitk.ReadImage(ct_path)).astype(float)
        mask = sitk.GetArrayFromImage(sitk.ReadImage(mask_path)).astype(bool)
        sds.append(ct[mask].std())
    rho = pd.Series(sds).corr(truth["phenotype"], method="spearman")
    assert rho > 0.5


def test_refuses_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        make_tace_cohort(5, path=tmp_path, with_images=False, random_state=0)
    make_tace_cohort(5, path=tmp_path, with_images=False, random_state=0, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_load_manifest_time_units_and_columns(tmp_path):
    table = pd.DataFrame({"id": ["p1", "p2", "p3"], "os_weeks": [10, 20, 30], "dead": [1, 0, 1], "stage": [1, 2, 2]})
    table.to_csv(tmp_path / "m.csv", index=False)
    X, y = load_manifest(
        tmp_path / "m.csv", id_column="id", time_column="os_weeks", event_column="dead", time_unit="weeks",
        categorical=["stage"],
    )  # fmt: skip
    np.testing.assert_allclose(y["time"], [70.0, 140.0, 210.0])
    assert y["event"].tolist() == [True, False, True]
    assert list(X.columns) == ["patient_id", "stage"]
    assert isinstance(X["stage"].dtype, pd.CategoricalDtype)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("time", [10.0, -3.0, 5.0], r"negative at patient p2; times count from the start of follow-up"),
        ("time", [10.0, np.nan, 5.0], r"missing or not finite at patient p2"),
        ("time", [0.0, -0.5, 5.0], r"survival time is negative at patient p2;"),
        ("event", [1, 2, 0], r"must be 0 or 1; invalid at patient p2"),
        ("event", [1, np.nan, 0], r"must be 0 or 1; invalid at patient p2"),
    ],
)
def test_load_manifest_bad_target(tmp_path, column, values, message):
    table = pd.DataFrame({"patient_id": ["p1", "p2", "p3"], "time": [10.0, 20.0, 5.0], "event": [1, 0, 1]})
    table[column] = values
    table.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ValueError, match=message):
        load_manifest(tmp_path / "m.csv")


def test_load_manifest_missing_things(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_manifest(tmp_path / "nope.csv")
    pd.DataFrame({"patient_id": ["a"], "time": [1.0]}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['event'\]"):
        load_manifest(tmp_path / "m.csv")
    pd.DataFrame({"patient_id": ["a", "a"], "time": [1.0, 2.0], "event": [1, 1]}).to_csv(tmp_path / "m.csv")
    with pytest.raises(ValueError, match=r"patient id\(s\) \['a'\] repeat"):
        load_manifest(tmp_path / "m.csv")
    table = pd.DataFrame({"patient_id": ["a"], "time": [1.0], "event": [1], "ct": ["a.nii.gz"], "mask": ["m.nii"]})
    table.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ValueError, match=r"patient a's ct file .*a\.nii\.gz' does not exist"):
        load_manifest(tmp_path / "m.csv")
    with pytest.raises(ValueError, match="time_unit"):
        load_manifest(tmp_path / "m.csv", time_unit="fortnights")


def test_load_manifest_names_a_non_utf8_file_and_suggests_encoding(tmp_path):
    """A Windows-1252 manifest raised pandas' bare UnicodeDecodeError; now a ValueError naming file, byte and line."""
    text = "patient_id,time,event,centre\np1,10,1,Paris\np2,20,0,Créteil\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("cp1252"))
    position = text.encode("cp1252").index(b"\xe9")
    message = rf"manifest '.*excel.csv' is not utf-8 text: byte 0xe9 at byte position {position} \(line 3\).*encoding="
    with pytest.raises(ValueError, match=message):
        load_manifest(path)
    X, y = load_manifest(path, encoding="cp1252")
    assert X["centre"].tolist() == ["Paris", "Créteil"] and y["time"].tolist() == [10.0, 20.0]
    # a UTF-8 byte-order mark (Excel's "CSV UTF-8") is skipped; UTF-16 is named
    (tmp_path / "bom.csv").write_bytes(text.encode("utf-8-sig"))
    assert load_manifest(tmp_path / "bom.csv")[0]["centre"].tolist() == ["Paris", "Créteil"]
    (tmp_path / "utf16.csv").write_bytes(text.encode("utf-16"))
    with pytest.raises(ValueError, match=r"utf16.csv' is not utf-8 text: byte 0x(ff|fe) at byte position 0 .*utf-16"):
        load_manifest(tmp_path / "utf16.csv")
    assert load_manifest(tmp_path / "utf16.csv", encoding="utf-16")[0]["centre"].tolist() == ["Paris", "Créteil"]
    with pytest.raises(ValueError, match="encoding 'klingon' is not an encoding Python knows"):
        load_manifest(path, encoding="klingon")


def test_write_manifest_keeps_outside_paths_absolute(tmp_path):
    from sksurv.util import Surv

    X = pd.DataFrame({"patient_id": ["a"], "ct": ["/elsewhere/a.nii.gz"]})
    write_manifest(tmp_path / "m.csv", X, Surv.from_arrays([True], [3.0]))
    assert pd.read_csv(tmp_path / "m.csv")["ct"].tolist() == ["/elsewhere/a.nii.gz"]
    assert X["ct"].tolist() == ["/elsewhere/a.nii.gz"]  # the caller's frame is untouched


def test_bad_n_patients():
    with pytest.raises(ValueError, match="n_patients"):
        make_tace_cohort(1)


def test_load_hcc_tace_seg():
    X, y = load_hcc_tace_seg()
    assert X.shape == (105, 23)
    assert int(y["event"].sum()) == 93  # data README: 93 of 105 died
    raw = pd.read_csv(_SHARED_CSV, encoding="utf-8-sig") if _SHARED_CSV.exists() else None
    assert X["patient_id"].iloc[0] == "HCC_001"
    assert y["time"][0] == pytest.approx(350.2857143 * 7, abs=1e-3)  # OS of HCC_001 in weeks, as days
    assert X["tumor_size"].isna().sum() == 52  # data README: Tr_Size has 52 missing
    assert X["bclc"].value_counts().to_dict() == {"C": 66, "B": 24, "A": 12, "D": 3, "0": 0}
    assert X["child_pugh"].value_counts().to_dict() == {"A": 86, "B": 18, "C": 1}
    if raw is not None:  # the bundled copy agrees with the shared one value for value
        np.testing.assert_allclose(y["time"], raw["OS"].to_numpy() * 7, atol=1e-3)
