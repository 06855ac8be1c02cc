"""Tests of sksurv_tace.preprocessing.radiomics and RadiomicsCox: pyradiomics baselines, caching, dask."""

import ast
import inspect
import os
import shutil
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.util import Surv

from sksurv_tace.models.radiomics_cox import RadiomicsCox, correlation_filter
from sksurv_tace.preprocessing.imaging import CTPreprocessor
from sksurv_tace.preprocessing.radiomics import DEFAULT_CT_SETTINGS, RadiomicsExtractor

DATA = Path(__file__).parent / "data" / "pyradiomics"
CASES = ["brain1", "brain2", "breast1"]


def write_volumes(folder: Path, n: int, *, seed: int = 0, shape=(12, 40, 40), spacing=(2.0, 1.5, 1.5)) -> pd.DataFrame:
    """Tiny CT-like NIfTI volumes (HU) with a textured spherical tumour and its mask, one per patient."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    zz, yy, xx = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    rows = []
    for i in range(n):
        radius = rng.uniform(5, 9)
        centre = np.array(shape) / 2 + rng.uniform(-2, 2, 3)
        dist = np.sqrt(
            ((zz - centre[0]) * spacing[0]) ** 2
            + ((yy - centre[1]) * spacing[1]) ** 2
            + ((xx - centre[2]) * spacing[2]) ** 2
        )
        mask = (dist <= radius * 1.5).astype(np.uint8)
        ct = rng.normal(60, 10, shape) + mask * rng.normal(rng.uniform(-20, 40), rng.uniform(5, 40), shape)
        image = sitk.GetImageFromArray(ct.astype(np.float32))
        image.SetSpacing(spacing[::-1])
        label = sitk.GetImageFromArray(mask)
        label.CopyInformation(image)
        ct_path, mask_path = folder / f"p{i:02d}_ct.nii.gz", folder / f"p{i:02d}_mask.nii.gz"
        sitk.WriteImage(image, str(ct_path))
        sitk.WriteImage(label, str(mask_path))
        rows.append({"patient_id": f"P{i:02d}", "ct": str(ct_path), "mask": str(mask_path)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    return write_volumes(tmp_path_factory.mktemp("volumes"), 4)


@pytest.fixture(scope="module")
def baseline():
    table = pd.read_csv(DATA / "baseline_original.csv", index_col=0)
    settings = ast.literal_eval(table.loc["diagnostics_Configuration_Settings", "brain1"])
    return table.drop(index="diagnostics_Configuration_Settings").astype(float), settings


@pytest.fixture(scope="module")
def baseline_features(baseline):
    _, settings = baseline
    X = pd.DataFrame(
        {
            "patient_id": CASES,
            "ct": [str(DATA / f"{c}_image.nrrd") for c in CASES],
            "mask": [str(DATA / f"{c}_label.nrrd") for c in CASES],
        }
    )
    return RadiomicsExtractor(settings=settings, progress=False).fit_transform(X)


# -------------------------------------------------------------------------------------------------------------
# pyradiomics' own baseline


def test_baseline_settings_are_the_same_for_all_cases(baseline):
    table = pd.read_csv(DATA / "baseline_original.csv", index_col=0)
    rows = {ast.literal_eval(table.loc["diagnostics_Configuration_Settings", c]) == baseline[1] for c in CASES}
    assert rows == {True}


def test_extractor_reproduces_pyradiomics_baseline(baseline, baseline_features):
    expected, _ = baseline
    got = baseline_features.set_axis(CASES).T.loc[expected.index]
    assert got.shape == (107, 3)
    rel = (got - expected).abs() / expected.abs().clip(lower=1e-12)
    assert rel.to_numpy().max() <= 0.03  # pyradiomics' own test tolerance
    # all but brain1's mesh-based shape features agree to rounding
    mesh = [n for n in expected.index if n.startswith("original_shape_")]
    strict = rel.copy()
    strict.loc[mesh, "brain1"] = 0.0
    assert strict.to_numpy().max() < 1e-6
    assert rel.loc[mesh, "brain1"].max() < 2e-3


def test_yaml_parameter_file_equals_dict(tmp_path, baseline, baseline_features):
    _, settings = baseline
    from ruamel.yaml import YAML

    path = tmp_path / "params.yaml"
    clean = {k: v for k, v in settings.items() if v is not None}
    with open(path, "w") as handle:
        YAML(typ="safe", pure=True).dump({"setting": clean, "imageType": {"Original": {}}}, handle)
    assert "binWidth: 25" in path.read_text(encoding="utf-8")
    X = pd.DataFrame({"ct": [str(DATA / "breast1_image.nrrd")], "mask": [str(DATA / "breast1_label.nrrd")]})
    got = RadiomicsExtractor(settings=str(path), progress=False).fit_transform(X)
    pd.testing.assert_series_equal(got.iloc[0], baseline_features.iloc[2], check_names=False)


# -------------------------------------------------------------------------------------------------------------
# synthetic images


def test_default_ct_settings_give_a_finite_table(volumes):
    extractor = RadiomicsExtractor(progress=False)
    features = extractor.fit_transform(volumes)
    assert features.shape[0] == len(volumes) and features.shape[1] >= 100
    assert np.isfinite(features.to_numpy()).all()
    assert list(features.index) == list(volumes.index)
    assert list(features.columns) == list(extractor.get_feature_names_out())
    assert "original_glcm_Contrast" in features.columns
    # resampled to 1 mm: the voxel volume is the mask's physical volume, whatever the input spacing
    mask = sitk.ReadImage(volumes["mask"].iloc[0])
    volume = sitk.GetArrayViewFromImage(mask).sum() * np.prod(mask.GetSpacing())
    assert features["original_shape_VoxelVolume"].iloc[0] == pytest.approx(volume, rel=0.1)
    pd.testing.assert_frame_equal(extractor.transform(volumes), features)


def test_synthetic_cohort_table(tmp_path):
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    X, _ = make_tace_cohort(3, path=tmp_path, image_shape=(12, 48, 48), random_state=0)
    features = RadiomicsExtractor(progress=False).fit_transform(X)
    assert features.shape == (3, 107)
    assert np.isfinite(features.to_numpy()).all()


def test_cache_is_keyed_by_content_and_settings(tmp_path, volumes):
    cache = tmp_path / "cache"

    def entries():
        return sorted(p.name for p in cache.rglob("*") if p.is_dir() and (p / "output.pkl").exists())

    first = RadiomicsExtractor(memory=str(cache), progress=False).fit_transform(volumes)
    assert len(entries()) == len(volumes)
    # same content under other file names: served from the cache, identical values
    moved = volumes.copy()
    for column in ("ct", "mask"):
        moved[column] = [shutil.copy(p, tmp_path / f"copy_{column}_{i}.nii.gz") for i, p in enumerate(volumes[column])]
    start = time.perf_counter()
    again = RadiomicsExtractor(memory=str(cache), progress=False).fit_transform(moved)
    assert time.perf_counter() - start < 5
    pd.testing.assert_frame_equal(again, first)
    assert len(entries()) == len(volumes)
    # other settings or edited content: new entries
    RadiomicsExtractor(memory=str(cache), settings={"binWidth": 10}, progress=False).fit_transform(volumes.iloc[:1])
    assert len(entries()) == len(volumes) + 1
    image = sitk.ReadImage(moved["ct"].iloc[0]) + 5.0
    sitk.WriteImage(image, moved["ct"].iloc[0])
    edited = RadiomicsExtractor(memory=str(cache), progress=False).fit_transform(moved.iloc[:1])
    assert len(entries()) == len(volumes) + 2
    assert edited["original_firstorder_Mean"].iloc[0] == pytest.approx(first["original_firstorder_Mean"].iloc[0] + 5)


def test_parallel_and_dask_give_the_same_table(volumes):
    distributed = pytest.importorskip("dask.distributed")
    serial = RadiomicsExtractor(progress=False).fit_transform(volumes)
    parallel = RadiomicsExtractor(n_jobs=2, progress=False).fit_transform(volumes)
    pd.testing.assert_frame_equal(parallel, serial)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        with joblib.parallel_backend("dask"):
            on_dask = RadiomicsExtractor(progress=False).fit_transform(volumes)
        assert len(client.scheduler_info()["workers"]) == 2
    pd.testing.assert_frame_equal(on_dask, serial)


def test_bad_images_name_the_patient(tmp_path, volumes):
    extractor = RadiomicsExtractor(progress=False)
    empty = volumes.iloc[:2].copy()
    mask = sitk.ReadImage(empty["mask"].iloc[1]) * 0
    sitk.WriteImage(mask, str(tmp_path / "empty.nii.gz"))
    empty.loc[empty.index[1], "mask"] = str(tmp_path / "empty.nii.gz")
    with pytest.raises(ValueError, match="patient P01: mask .* is empty"):
        extractor.fit_transform(empty)
    other = volumes.iloc[:1].copy()
    small = sitk.Image([20, 20, 12], sitk.sitkUInt8)
    small[10, 10, 6] = 1
    sitk.WriteImage(small, str(tmp_path / "other.nii.gz"))
    other["mask"] = str(tmp_path / "other.nii.gz")
    with pytest.raises(ValueError, match="patient P00: mask geometry differs"):
        extractor.fit_transform(other)
    missing = volumes.iloc[:1].copy()
    missing["ct"] = str(tmp_path / "nope.nii.gz")
    with pytest.raises(ValueError, match="patient P00: ct file .* does not exist"):
        extractor.fit_transform(missing)
    with pytest.raises(ValueError, match="missing column"):
        extractor.fit_transform(volumes.drop(columns=["mask"]))
    with pytest.raises(ValueError, match="invalid pyradiomics parameters"):
        RadiomicsExtractor(settings={"binWidth": "wide"}, progress=False).fit(volumes)


def _write_like(array, reference: str, path: Path) -> str:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(sitk.ReadImage(reference))
    sitk.WriteImage(image, str(path))
    return str(path)


FAST = dict(feature_classes=["firstorder", "glcm", "shape"], progress=False)


def test_mask_label_rule_is_shared_with_ct_preprocessor(tmp_path, volumes):
    """One rule for every image path: the same parameter, default, selection and errors as CTPreprocessor."""
    assert inspect.signature(RadiomicsExtractor).parameters["mask_label"].default is None
    assert inspect.signature(CTPreprocessor).parameters["mask_label"].default is None
    X = volumes.iloc[:1].copy()
    binary = RadiomicsExtractor(**FAST).fit_transform(X)
    tumour = sitk.GetArrayFromImage(sitk.ReadImage(X["mask"].iloc[0]))
    assert set(np.unique(tumour)) == {0, 1}

    # a 0/255 mask: the same tumour (pyradiomics' label 1 used to find no voxel)
    X255 = X.assign(mask=_write_like(tumour * np.uint8(255), X["mask"].iloc[0], tmp_path / "m255.nii.gz"))
    pd.testing.assert_frame_equal(RadiomicsExtractor(**FAST).fit_transform(X255), binary)

    # liver = 1, tumour = 2: mask_label=2 (or pyradiomics' own label setting) gives the binary mask's features
    labels = np.where(tumour == 1, 2, 0).astype(np.uint8)
    labels[2:-2, 5:-5, 5:-5][labels[2:-2, 5:-5, 5:-5] == 0] = 1
    multi = X.assign(mask=_write_like(labels, X["mask"].iloc[0], tmp_path / "liver_tumour.nii.gz"))
    pd.testing.assert_frame_equal(RadiomicsExtractor(mask_label=2, **FAST).fit_transform(multi), binary)
    pd.testing.assert_frame_equal(
        RadiomicsExtractor(settings={**DEFAULT_CT_SETTINGS, "label": 2}, **FAST).fit_transform(multi), binary
    )
    with pytest.raises(ValueError, match="mask_label=1 and the pyradiomics setting label=2 disagree"):
        RadiomicsExtractor(mask_label=1, settings={"label": 2}, **FAST).fit(multi)

    # mask_label=None and two labels: refused with CTPreprocessor's very message (it used to give the liver's
    # features: pyradiomics' label 1)
    message = r"patient P00: mask '.*liver_tumour.nii.gz' holds 2 non-zero labels \(1, 2\).*pass mask_label="
    with pytest.raises(ValueError, match=message) as radiomics_error:
        RadiomicsExtractor(**FAST).fit_transform(multi)
    with pytest.raises(ValueError, match=message) as roi_error:
        CTPreprocessor(image_size=16).fit_transform(multi)
    assert str(radiomics_error.value) == str(roi_error.value)
    with pytest.raises(ValueError, match=r"no voxel with label 3 \(it holds non-zero labels 1, 2\)"):
        RadiomicsExtractor(mask_label=3, **FAST).fit_transform(multi)
    for bad in (0, 1.0, True):
        with pytest.raises(ValueError, match="mask_label"):
            RadiomicsExtractor(mask_label=bad, **FAST).fit(X)


def test_truncated_or_non_finite_images_name_the_patient(tmp_path, volumes):
    X = volumes.iloc[:2].copy()
    data = Path(X["ct"].iloc[1]).read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) * 9 // 10])
    cut = X.assign(ct=[X["ct"].iloc[0], str(tmp_path / "cut.nii.gz")])
    with pytest.raises(ValueError, match=r"patient P01: ct image '.*cut.nii.gz' is truncated or corrupt"):
        RadiomicsExtractor(**FAST).fit_transform(cut)
    ct = sitk.GetArrayFromImage(sitk.ReadImage(X["ct"].iloc[1]))
    tumour = sitk.GetArrayFromImage(sitk.ReadImage(X["mask"].iloc[1])) == 1
    ct[tuple(np.argwhere(tumour)[0])] = np.nan  # inside the tumour: pyradiomics still gave finite features
    nan = X.assign(ct=[X["ct"].iloc[0], _write_like(ct, X["ct"].iloc[1], tmp_path / "nan.nii.gz")])
    with pytest.raises(ValueError, match=r"patient P01: ct image '.*nan.nii.gz' holds 1 non-finite voxel\(s\)"):
        RadiomicsExtractor(**FAST).fit_transform(nan)


# -------------------------------------------------------------------------------------------------------------
# RadiomicsCox


@pytest.fixture(scope="module")
def feature_table():
    rng = np.random.default_rng(1)
    n = 150
    X = pd.DataFrame(rng.normal(size=(n, 12)), columns=[f"f{i}" for i in range(12)])
    X["f0_copy"] = 3 * X["f0"] + rng.normal(scale=0.05, size=n)  # |r| > 0.99 with f0
    X["constant"] = 1.0
    lp = 1.0 * X["f0"] - 0.8 * X["f1"]
    time = rng.exponential(500 * np.exp(-lp.to_numpy()))
    censor = rng.uniform(200, 2000, n)
    return X, Surv.from_arrays(time <= censor, np.minimum(time, censor))


def test_radiomics_cox_selects_the_signal(feature_table):
    X, y = feature_table
    model = RadiomicsCox(random_state=0).fit(X, y)
    assert "f0_copy" not in model.kept_features_ and "constant" not in model.kept_features_
    assert {"f0", "f1"} <= set(model.selected_features_)
    assert len(model.selected_features_) <= 8
    coef = dict(zip(model.selected_features_, model.coef_, strict=True))
    assert coef["f0"] > 0 > coef["f1"]
    assert model.cv_scores_.shape == model.alphas_.shape
    assert model.score(X, y) > 0.7


def test_radiomics_cox_is_coxnet_on_the_filtered_z_scores(feature_table):
    X, y = feature_table
    model = RadiomicsCox(alpha=0.05).fit(X, y)
    kept = model.kept_features_
    z = (X[kept] - X[kept].mean()) / X[kept].std(ddof=0)
    # the same penalty path (warm starts down to alpha=0.05) as the model's final fit
    ref = CoxnetSurvivalAnalysis(l1_ratio=1.0, alphas=model.model_.alphas_, fit_baseline_model=True)
    ref.fit(z.to_numpy(), y)
    assert model.model_.alphas_[-1] == 0.05
    np.testing.assert_allclose(model.predict(X), ref.predict(z.to_numpy(), alpha=0.05), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.coef_, ref.coef_[ref.coef_[:, -1] != 0, -1], rtol=1e-10)
    surv = model.predict_survival_at(X.iloc[:4], [100.0, 500.0])
    assert surv.shape == (4, 2) and np.all(surv[:, 1] <= surv[:, 0])


def test_correlation_filter_threshold():
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    df = pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.5, size=200), "c": rng.normal(size=200)})
    r = abs(np.corrcoef(df["a"], df["b"])[0, 1])
    assert correlation_filter(df, r - 0.01) == ["a", "c"]
    assert correlation_filter(df, r + 0.01) == ["a", "b", "c"]


def test_radiomics_cox_bad_features(feature_table):
    X, y = feature_table
    nan = X.copy()
    nan.loc[7, "f3"] = np.nan
    with pytest.raises(ValueError, match=r"feature 'f3' is missing or infinite at row 7"):
        RadiomicsCox().fit(nan, y)
    model = RadiomicsCox(alpha=0.05).fit(X, y)
    with pytest.raises(ValueError, match="missing column.*f1"):
        model.predict(X.drop(columns=["f1"]))


def test_radiomics_cox_with_extractor(tmp_path):
    X = write_volumes(tmp_path / "img", 16, seed=5, shape=(10, 32, 32))
    rng = np.random.default_rng(0)
    y = Surv.from_arrays(rng.random(16) < 0.8, rng.uniform(100, 1000, 16))
    extractor = RadiomicsExtractor(memory=str(tmp_path / "cache"), progress=False)
    model = RadiomicsCox(extractor=extractor, cv=3, random_state=0).fit(X, y)
    assert model.extractor_ is not extractor
    assert model.predict(X).shape == (16,)
    assert len(model.feature_names_) >= 100
    assert os.path.isdir(tmp_path / "cache")
