"""The synthetic cohort's image phenotype families (issue 11): their oracles and what each family hides."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy import ndimage, stats
from sklearn.base import clone
from sksurv.metrics import concordance_index_censored

from sksurv_tace.datasets.synthetic import IMAGE_LOG_HAZARD_RATIO, make_tace_cohort

_REFERENCE = json.loads((Path(__file__).parent / "data" / "texture_cohort_reference.json").read_text())
_SMALL = dict(image_shape=(12, 48, 48), spacing=(3.0, 3.0, 3.0))
_BIN_WIDTH = 25.0


def _read(path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(path))


def _first_order(x: np.ndarray, voxel_volume: float) -> dict:
    """pyradiomics' first-order features (its documented formulas; binWidth 25, voxelArrayShift 0) in numpy."""
    x = x.astype(np.float64)
    p10, p25, p75, p90 = np.percentile(x, [10, 25, 75, 90])
    robust = x[(x >= p10) & (x <= p90)]
    mean, centred = x.mean(), x - x.mean()
    m2 = (centred**2).mean()
    _, counts = np.unique(np.floor(x / _BIN_WIDTH), return_counts=True)
    share = counts / counts.sum()
    energy = float((x**2).sum())
    return {
        "10Percentile": p10, "90Percentile": p90, "Energy": energy, "TotalEnergy": energy * voxel_volume,
        "Entropy": -(share * np.log2(share + np.spacing(1))).sum(), "InterquartileRange": p75 - p25,
        "Kurtosis": (centred**4).mean() / m2**2 if m2 else 0.0, "Maximum": x.max(),
        "MeanAbsoluteDeviation": np.abs(centred).mean(), "Mean": mean, "Median": np.median(x), "Minimum": x.min(),
        "Range": x.max() - x.min(), "RobustMeanAbsoluteDeviation": np.abs(robust - robust.mean()).mean(),
        "RootMeanSquared": np.sqrt(energy / x.size), "Skewness": (centred**3).mean() / m2**1.5 if m2 else 0.0,
        "Uniformity": (share**2).sum(), "Variance": m2,
    }  # fmt: skip


def _pyradiomics_first_order(ct_path, mask_path) -> dict:
    import radiomics
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    radiomics.setVerbosity(40)
    extractor = RadiomicsFeatureExtractor(binWidth=_BIN_WIDTH, minimumROIDimensions=1)
    extractor.disableAllFeatures()
    extractor.enableFeatureClassByName("firstorder")
    result = extractor.execute(str(ct_path), str(mask_path), label=1)
    return {k.removeprefix("original_firstorder_"): float(v) for k, v in result.items() if "firstorder" in k}


@pytest.fixture(scope="module")
def spatial_cohort(tmp_path_factory):
    path = tmp_path_factory.mktemp("spatial")
    return make_tace_cohort(301, path=path, phenotype="spatial", random_state=0, return_truth=True, **_SMALL)


def test_spatial_first_order_features_independent_of_phenotype(spatial_cohort):
    """Every pyradiomics first-order feature inside the mask has |Spearman| < 0.15 with z (301 patients).

    The features of all 301 patients are computed in numpy with pyradiomics' formulas (pyradiomics itself takes
    ~13 s for them here); patient 0's are checked against pyradiomics' own values. The placement that carries z
    is visible: the correlation of HU with depth inside the tumour follows z.
    """
    X, _, truth = spatial_cohort
    volume = float(np.prod(_SMALL["spacing"]))
    rows, depth_slopes = [], []
    for ct_path, mask_path in zip(X["ct"], X["mask"], strict=True):
        ct, mask = _read(ct_path), _read(mask_path).astype(bool)
        rows.append(_first_order(ct[mask], volume))
        depth = ndimage.distance_transform_edt(mask)[mask]
        depth_slopes.append(stats.spearmanr(ct[mask], depth)[0] if np.ptp(depth) > 0 else 0.0)
    features = pd.DataFrame(rows)
    reference = _pyradiomics_first_order(X["ct"].iloc[0], X["mask"].iloc[0])
    assert set(reference) == set(features.columns)
    for name, value in reference.items():
        assert features.loc[0, name] == pytest.approx(value, rel=1e-9, abs=1e-9), name
    rho = features.corrwith(truth["phenotype"], method="spearman")
    assert rho.abs().max() < 0.15, rho.sort_values().to_dict()
    # higher z: necrosis central, enhancement at the rim -> HU falls with depth
    assert stats.spearmanr(np.nan_to_num(depth_slopes), truth["phenotype"])[0] < -0.5


def test_none_is_a_negative_control():
    X, y, truth = make_tace_cohort(301, with_images=False, phenotype="none", random_state=0, return_truth=True)
    assert concordance_index_censored(y["event"], y["time"], truth["image_lp"])[0] == 0.5
    np.testing.assert_array_equal(truth["lp"], truth["clinical_lp"])
    assert truth.attrs["image_log_hazard_ratio"] == 0.0
    # the latent is still drawn (and shown in the images as in "texture"), only survival ignores it
    X_texture, _, truth_texture = make_tace_cohort(301, with_images=False, random_state=0, return_truth=True)
    pd.testing.assert_frame_equal(X.drop(columns="patient_id"), X_texture.drop(columns="patient_id"))
    np.testing.assert_array_equal(truth["phenotype"], truth_texture["phenotype"])


@pytest.mark.parametrize("family", ["texture", "spatial", "peritumoral", "mixed"])
def test_each_family_has_its_own_oracle(family):
    X, y, truth = make_tace_cohort(301, with_images=False, phenotype=family, random_state=0, return_truth=True)
    parts = [c for c in truth.columns if c.startswith("lp_")]
    assert parts == (["lp_spatial", "lp_peritumoral"] if family == "mixed" else [f"lp_{family}"])
    np.testing.assert_allclose(truth[parts].sum(axis=1), truth["image_lp"])
    np.testing.assert_allclose(truth["image_lp"], IMAGE_LOG_HAZARD_RATIO * truth["phenotype"])
    assert truth["phenotype"].std() == pytest.approx(1.0, abs=0.1)  # mixed: (z_s + z_p) / sqrt(2)
    image = concordance_index_censored(y["event"], y["time"], truth["image_lp"])[0]
    full = concordance_index_censored(y["event"], y["time"], truth["lp"])[0]
    assert 0.62 < image < full  # the image part alone carries risk, the full oracle more
    if family == "mixed":
        assert abs(np.corrcoef(truth["phenotype_spatial"], truth["phenotype_peritumoral"])[0, 1]) < 0.15


def test_texture_default_unchanged():
    """The default family is bit for bit the cohort of commit 33beb3c (before the families)."""
    X, y, truth = make_tace_cohort(12, image_shape=(8, 32, 32), spacing=(3.0, 3.0, 3.0), random_state=7,
                                   return_truth=True)  # fmt: skip
    digest = hashlib.sha256()
    for ct_path, mask_path in zip(X["ct"], X["mask"], strict=True):
        digest.update(_read(ct_path).tobytes())
        digest.update(_read(mask_path).tobytes())
    assert digest.hexdigest() == _REFERENCE["images_sha256"]
    assert hashlib.sha256(y.tobytes()).hexdigest() == _REFERENCE["y_sha256"]
    first4 = truth[["clinical_lp", "phenotype", "image_lp", "lp"]].to_numpy()
    assert hashlib.sha256(first4.tobytes()).hexdigest() == _REFERENCE["truth_first4_sha256"]
    assert int(_read(X["ct"].iloc[0]).astype(np.int64).sum()) == _REFERENCE["ct0_sum"]
    np.testing.assert_allclose(truth["lp"].to_numpy()[:5], _REFERENCE["lp_first5"], atol=1e-6)


@pytest.mark.parametrize("family", ["spatial", "peritumoral", "mixed", "none"])
def test_families_deterministic(tmp_path, family):
    kwargs = dict(image_shape=(8, 40, 40), spacing=(3.0, 3.0, 3.0), phenotype=family, random_state=5)
    Xa, ya = make_tace_cohort(4, path=tmp_path / "a", **kwargs)
    Xb, yb = make_tace_cohort(4, path=tmp_path / "b", **kwargs)
    np.testing.assert_array_equal(ya, yb)
    for column in ("ct", "mask"):
        for a, b in zip(Xa[column], Xb[column], strict=True):
            np.testing.assert_array_equal(_read(a), _read(b))


def _render(family, z, seed=11):
    from sksurv_tace.datasets._phantom import render_ct

    return render_ct(np.random.default_rng(seed), shape=(16, 96, 96), spacing=(2.5, 1.5, 1.5),
                     tumor_diameters_mm=[40.0, 12.0], phenotype=z, family=family, nuisance=0.3)  # fmt: skip


def test_peritumoral_phenotype_acts_only_outside_the_mask():
    """Same seed and nuisance, z = -2 vs +2: identical inside the mask, different in the liver around it."""
    low_ct, low_mask = _render("peritumoral", -2.0)
    high_ct, high_mask = _render("peritumoral", 2.0)
    np.testing.assert_array_equal(low_mask, high_mask)
    inside = low_mask.astype(bool)
    np.testing.assert_array_equal(low_ct[inside], high_ct[inside])
    changed = low_ct != high_ct
    assert changed.sum() > 100
    distance = ndimage.distance_transform_edt(~inside, sampling=(2.5, 1.5, 1.5))
    assert distance[changed].max() <= 1.5 * 40.0 / 2 + 20.0  # only near the main tumour (its box)


def test_spatial_phenotype_permutes_one_multiset():
    """Same seed: z moves the tumour's HU values around without changing them (before scanner noise)."""
    from sksurv_tace.datasets._phantom import _arrange_spatially

    mask = np.zeros((10, 30, 30), dtype=bool)
    zz, yy, xx = np.ogrid[:10, :30, :30]
    mask[((zz - 5) / 4.0) ** 2 + ((yy - 15) / 10.0) ** 2 + ((xx - 15) / 10.0) ** 2 <= 1.0] = True
    axes = (np.arange(10) * 2.5, np.arange(30) * 1.5, np.arange(30) * 1.5)
    lesion = [((12.5, 22.5, 22.5), (10.0, 15.0, 15.0))]
    arranged = []
    for z in (-2.0, 0.0, 2.0):
        ct = np.zeros(mask.shape, dtype=np.float32)
        _arrange_spatially(np.random.default_rng(0), ct, mask, z, axes, lesion)
        arranged.append(ct[mask])
    for values in arranged[1:]:
        np.testing.assert_array_equal(np.sort(values), np.sort(arranged[0]))
        assert not np.array_equal(values, arranged[0])
    depth = _depth(mask)
    # high z: necrosis (darkest) central, enhancement at the rim
    assert stats.spearmanr(arranged[2], depth)[0] < -0.5 < stats.spearmanr(arranged[0], depth)[0]


def _depth(mask):
    return ndimage.distance_transform_edt(mask, sampling=(2.5, 1.5, 1.5))[mask]


def test_clinical_correlation():
    kwargs = dict(with_images=False, return_truth=True, random_state=0)
    X, _, truth = make_tace_cohort(301, clinical_correlation=0.6, **kwargs)
    mvi = (X["mvi"].astype(str) == "Yes").to_numpy()
    worse = X["response"].astype(str).map({"CR": 0, "PR": 1, "SD": 2, "PD": 3}).to_numpy()
    assert stats.spearmanr(mvi, truth["phenotype"])[0] > 0.3
    assert stats.spearmanr(worse, truth["phenotype"])[0] > 0.3
    assert abs(mvi.mean() - 0.525) < 0.07 and abs((worse == 3).mean() - 0.15) < 0.05
    X0, _, truth0 = make_tace_cohort(301, **kwargs)
    assert abs(stats.spearmanr((X0["mvi"].astype(str) == "Yes"), truth0["phenotype"])[0]) < 0.15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phenotype": "shape"}, "phenotype must be one of"),
        ({"phenotype_strength": float("nan")}, "phenotype_strength must be finite"),
        ({"phenotype_strength": "1"}, "phenotype_strength must be a real number"),
        ({"clinical_correlation": 1.0}, "clinical_correlation must lie strictly between -1 and 1"),
    ],
)
def test_bad_phenotype_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_tace_cohort(5, with_images=False, **kwargs)


def _ball(shape, spacing, radius_mm):
    grids = np.meshgrid(*((np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing, strict=True)),
                        indexing="ij")  # fmt: skip
    return sum(g**2 for g in grids) <= radius_mm**2


_BALLS = [((41, 41, 41), (1.0, 1.0, 1.0), 10.0, 5.0), ((25, 61, 61), (2.5, 1.0, 1.0), 12.0, 6.0)]


@pytest.mark.parametrize(("shape", "spacing", "radius", "ring"), _BALLS)
def test_peritumoral_ring_of_a_ball(shape, spacing, radius, ring):
    """The ring of a ball of radius r lies in the shell (r, r + w] and holds the shell (r, r + w - 2d].

    ``d`` is half a voxel's diagonal (every point within ``r - d`` of the centre has a tumour voxel centre within
    ``d``); the voxel counts sit between the two shells' volumes ``4/3 π (R³ − r³)`` (closed form).
    """
    from sksurv_tace.preprocessing import peritumoral_ring

    tumour = _ball(shape, spacing, radius)
    body = np.full(shape, 40.0)
    shell = peritumoral_ring(tumour, body, spacing, ring)
    half_diagonal = float(np.linalg.norm(spacing)) / 2
    inner = _ball(shape, spacing, radius + ring - 2 * half_diagonal) & ~tumour
    outer = _ball(shape, spacing, radius + ring) & ~tumour
    assert (shell >= inner).all() and (shell <= outer).all()
    volume = [
        4 / 3 * np.pi * ((radius + w) ** 3 - radius**3) / np.prod(spacing) for w in (ring - 2 * half_diagonal, ring)
    ]
    assert 0.97 * volume[0] < shell.sum() < 1.03 * volume[1]
    assert not (shell & tumour).any()
    # air outside the body is no ring: the half of the volume made air loses its half of the shell
    body[:, :, : shape[2] // 2] = -1000.0
    half = peritumoral_ring(tumour, body, spacing, ring)
    assert not half[:, :, : shape[2] // 2].any()
    np.testing.assert_array_equal(half[:, :, shape[2] // 2 :], shell[:, :, shape[2] // 2 :])
    # gas inside the body (a hole in the filled body outline) stays in the ring
    body[:] = 40.0
    body[shape[0] // 2, shape[1] // 2, shape[2] // 2 + int((radius + 1.0) / spacing[2])] = -1000.0
    np.testing.assert_array_equal(peritumoral_ring(tumour, body, spacing, ring), shell)


def test_radiomics_extractor_ring_regions(tmp_path):
    from sksurv_tace.preprocessing import RadiomicsExtractor, peritumoral_ring

    X, _ = make_tace_cohort(2, path=tmp_path, phenotype="peritumoral", random_state=0, **_SMALL)
    kwargs = dict(settings={"binWidth": 25}, feature_classes=["firstorder"], progress=False)
    tumour = RadiomicsExtractor(**kwargs).fit_transform(X)
    both = RadiomicsExtractor(region="tumour+ring", ring_mm=6.0, **kwargs).fit_transform(X)
    ring = RadiomicsExtractor(region="ring", ring_mm=6.0, **kwargs).fit_transform(X)
    pd.testing.assert_frame_equal(both[tumour.columns], tumour)
    pd.testing.assert_frame_equal(both[ring.columns], ring)
    assert list(ring.columns) == ["ring_" + c for c in tumour.columns]
    for row, (ct_path, mask_path) in enumerate(zip(X["ct"], X["mask"], strict=True)):
        ct, mask = _read(ct_path).astype(float), _read(mask_path).astype(bool)
        shell = peritumoral_ring(mask, ct, _SMALL["spacing"], 6.0)
        assert ring["ring_original_firstorder_Mean"].iloc[row] == pytest.approx(ct[shell].mean())
        assert ring["ring_original_firstorder_Maximum"].iloc[row] == ct[shell].max()
    with pytest.raises(ValueError, match="region must be one of"):
        RadiomicsExtractor(region="margin").fit(X)
    with pytest.raises(ValueError, match="ring_mm must be a positive number"):
        RadiomicsExtractor(region="ring", ring_mm=0).fit(X)


def test_image_only_models_near_chance_under_none(tmp_path):
    # The negative control of issue 11 on five protocol splits (301 patients, small volumes, one torch thread).
    # Under "none" survival ignores the image latent, but the image still shows the tumour's size and number,
    # which drive the BCLC-B subclass, a clinical risk factor: the tumour size alone has C = 0.573 averaged over
    # these validation splits. So the image-only models are bounded by that, not by 0.55: RadiomicsCox (numpy
    # and scikit-learn only, the same on every machine) must average within 0.5 +- 0.05 as the issue asks;
    # CTSurvival (torch, whose float results move a little between CPUs) within [0.45, C of the tumour size].
    import warnings

    import torch

    from sksurv_tace import metrics
    from sksurv_tace.models.deep import CTSurvival
    from sksurv_tace.paper.presets import cohort_options, paper_models
    from sksurv_tace.paper.protocol import split_cohort
    from sksurv_tace.preprocessing.imaging import CTPreprocessor

    X, y = make_tace_cohort(301, path=tmp_path / "none", phenotype="none", random_state=0, **_SMALL)
    cache = str(tmp_path / "cache")
    radiomics = paper_models(quick=True, memory=cache, progress=False, **cohort_options(X))["RadiomicsCox"]
    ct = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32, memory=cache), max_epochs=6, batch_size=16,
                    verbose=0)  # fmt: skip
    size = X["tumor_size"].to_numpy(dtype=float)
    c = {"RadiomicsCox": [], "CTSurvival": [], "tumour size": []}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for split in range(5):
            train, valid = split_cohort(y, split)
            c["tumour size"].append(metrics.harrell_c(y[valid], size[valid]))
            for name, model in (("RadiomicsCox", radiomics), ("CTSurvival", ct)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # small-sample Cox screen warnings
                    fitted = clone(model).set_params(random_state=split).fit(X.iloc[train], y[train])
                c[name].append(metrics.harrell_c(y[valid], fitted.predict(X.iloc[valid])))
    finally:
        torch.set_num_threads(threads)
    mean = {name: float(np.mean(values)) for name, values in c.items()}
    assert mean["tumour size"] == pytest.approx(0.573, abs=1e-3), mean  # the image's legitimate clinical signal
    assert abs(mean["RadiomicsCox"] - 0.5) <= 0.05, mean
    assert 0.45 <= mean["CTSurvival"] <= mean["tumour size"], mean
