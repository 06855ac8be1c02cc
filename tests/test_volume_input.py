"""3-D tumour VOIs, multi-phase input and 3-D backbones (issue 12, item 3): shapes and geometry.

The geometry tests place a ball of known radius at a known physical position in volumes with
anisotropic voxels and check where and how large it comes out; the expected values come from the
ball, not from the code under test.
"""

import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch

from sksurv_tace.datasets import make_tace_cohort
from sksurv_tace.models import CTSurvival, FusionSurvival
from sksurv_tace.models.nn import FusionNet, ImageEncoder, ImageOnlyNet
from sksurv_tace.preprocessing import CTPreprocessor


@pytest.fixture
def monai():
    return pytest.importorskip("monai")  # the 3-D backbones' optional extra sksurv_tace[3d] (in dev)


RADIUS = 10.0  # mm
SPACING = (0.8, 0.8, 2.5)  # (x, y, z) mm: anisotropic
ORIGIN = (-20.0, 35.0, 100.0)
SIZE = (60, 60, 24)  # (x, y, z)
CENTRE_INDEX = np.array([27, 31, 11])  # (x, y, z): the ball's centre on a voxel centre
CENTRE = np.asarray(ORIGIN) + CENTRE_INDEX * np.asarray(SPACING)


def _grid(size, spacing, origin):
    axes = [np.arange(n) * s + o for n, s, o in zip(size[::-1], spacing[::-1], origin[::-1], strict=True)]
    return np.meshgrid(*axes, indexing="ij")  # z, y, x in mm


def _ball_image(path, *, size=SIZE, spacing=SPACING, origin=ORIGIN, inside=200, outside=0, mask=False):
    """A volume holding the ball of RADIUS mm around CENTRE (physical), written to ``path``."""
    zz, yy, xx = _grid(size, spacing, origin)
    ball = np.sqrt((xx - CENTRE[0]) ** 2 + (yy - CENTRE[1]) ** 2 + (zz - CENTRE[2]) ** 2) <= RADIUS
    array = ball.astype(np.uint8) if mask else np.where(ball, inside, outside).astype(np.int16)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return str(path)


@pytest.fixture
def ball(tmp_path):
    return pd.DataFrame(
        {"patient_id": ["P7"], "ct": [_ball_image(tmp_path / "ct.nii.gz")],
         "mask": [_ball_image(tmp_path / "mask.nii.gz", mask=True)]}
    )  # fmt: skip


def _bright(volume):
    """Voxels above the midpoint between the volume's lowest and highest value."""
    return volume > (volume.max() + volume.min()) / 2.0


def _extents(region):
    return [int(np.ptp(np.flatnonzero(region.any(axis=tuple(a for a in range(3) if a != k))))) + 1 for k in range(3)]


def test_voi_fixed_spacing_ball_centred_isotropic_right_radius(ball):
    pre = CTPreprocessor(mode="3d", voi_size=32, voi_spacing=1.0)
    voi, mask = pre.fit(ball).transform(ball, return_mask=True)
    assert voi.shape == (1, 1, 32, 32, 32) and voi.dtype == np.float32 and mask.shape == (1, 32, 32, 32)
    # window [70 - 175, 70 + 175] HU: 0 HU -> 105/350, 200 HU -> 305/350
    assert voi.min() == pytest.approx(105 / 350) and voi.max() == pytest.approx(305 / 350)
    inside = _bright(voi[0, 0])
    centre = (32 - 1) / 2.0
    np.testing.assert_allclose(np.argwhere(inside).mean(axis=0), centre, atol=0.25)  # centred on the ball
    np.testing.assert_allclose(np.argwhere(mask[0]).mean(axis=0), centre, atol=0.25)
    radius = (3.0 * inside.sum() / (4.0 * np.pi)) ** (1 / 3)  # 1 mm voxels: radius in voxels = mm
    assert radius == pytest.approx(RADIUS, rel=0.05)
    # isotropic: the same diameter along z (2.5 mm slices) as along y and x (0.8 mm), within a slice's quantisation
    for extent in _extents(inside):
        assert abs(extent - 2 * RADIUS) <= 2.5


def test_voi_adaptive_spacing_follows_margin_rule(ball):
    # side = the tumour box's largest extent (9 slices x 2.5 mm = 22.5 mm along z) + 2 x margin, over 24 voxels
    z = _grid(SIZE, SPACING, ORIGIN)[0][:, 0, 0]
    slices = np.count_nonzero(np.abs(z - CENTRE[2]) <= RADIUS)
    spacing = (slices * SPACING[2] + 2 * 5.0) / 24
    voi = CTPreprocessor(mode="3d", voi_size=24, margin_mm=5.0).fit_transform(ball)
    inside = _bright(voi[0, 0])
    np.testing.assert_allclose(np.argwhere(inside).mean(axis=0), 11.5, atol=0.25)
    assert (3.0 * inside.sum() / (4.0 * np.pi)) ** (1 / 3) == pytest.approx(RADIUS / spacing, rel=0.06)


def test_voi_mask_on_another_grid_follows_mask_geometry(ball, tmp_path):
    other = _ball_image(tmp_path / "mask_1mm.nii.gz", size=(40, 40, 30), spacing=(1.0, 1.0, 1.0),
                        origin=tuple(CENTRE - 19.5), mask=True)  # fmt: skip
    X = ball.assign(mask=[other])
    with pytest.raises(ValueError, match="P7.*mask geometry differs"):
        CTPreprocessor(mode="3d", voi_size=16).fit(X)
    voi = CTPreprocessor(mode="3d", voi_size=32, voi_spacing=1.0, mask_geometry="resample").fit_transform(X)
    # centred on the resampled mask's box on the CT grid: within half a CT voxel (2.5 mm slices) of the ball's centre
    offset = np.abs(np.argwhere(_bright(voi[0, 0])).mean(axis=0) - 15.5)  # (z, y, x) voxels of 1 mm
    assert offset[0] <= SPACING[2] / 2 + 0.25 and (offset[1:] <= 0.6).all(), offset


def test_second_phase_on_another_grid_is_resampled_onto_the_first(ball, tmp_path):
    portal = _ball_image(tmp_path / "portal.nii.gz", size=(50, 50, 40), spacing=(1.0, 1.1, 1.5),
                         origin=(-18.3, 37.1, 97.4), inside=100, outside=-50)  # fmt: skip
    X = ball.assign(ct_portal=[portal])
    pre = CTPreprocessor(mode="3d", voi_size=32, voi_spacing=1.0, image_columns=("ct", "ct_portal"))
    voi = pre.fit_transform(X)
    assert voi.shape == (1, 2, 32, 32, 32)
    arterial, venous = _bright(voi[0, 0]), _bright(voi[0, 1])
    np.testing.assert_allclose(np.argwhere(venous).mean(axis=0), np.argwhere(arterial).mean(axis=0), atol=0.3)
    assert np.median(voi[0, 1][venous]) == pytest.approx((100 + 105) / 350, abs=1e-3)
    assert (arterial != venous).mean() < 0.03
    # 2.5-D: phase after phase, the first phase's channels those of the single-phase input, bit for bit
    single = CTPreprocessor(image_size=32).fit_transform(ball)
    both = CTPreprocessor(image_size=32, image_columns=("ct", "ct_portal")).fit_transform(X)
    assert both.shape == (1, 6, 32, 32)
    np.testing.assert_array_equal(both[:, :3], single)
    one_slice = CTPreprocessor(image_size=32, n_neighbors=0, image_columns=("ct", "ct_portal")).fit_transform(X)
    assert one_slice.shape == (1, 2, 32, 32)
    np.testing.assert_array_equal(one_slice[:, 1], both[:, 4])  # the portal phase's central slice


def test_phase_errors_name_patient_and_column(ball, tmp_path):
    X = ball.assign(ct_portal=[str(tmp_path / "missing.nii.gz")])
    pre = CTPreprocessor(mode="3d", voi_size=16, image_columns=("ct", "ct_portal"))
    with pytest.raises(ValueError, match=r"P7: ct_portal file .*missing\.nii\.gz' does not exist"):
        pre.fit(X)
    with pytest.raises(ValueError, match=r"P7: ct_portal file .*does not exist"):
        pre.transform(X)
    far = _ball_image(tmp_path / "far.nii.gz", origin=(500.0, 500.0, 500.0))
    with pytest.raises(ValueError, match=r"P7: ct_portal .*far\.nii\.gz.*outside phase ct_portal"):
        pre.transform(ball.assign(ct_portal=[far]))
    with pytest.raises(ValueError, match="include the mask column"):
        CTPreprocessor(image_columns=("ct", "mask")).fit(ball)
    with pytest.raises(ValueError, match="disagree"):
        CTPreprocessor(image_column="arterial", image_columns=("ct",)).fit(ball)


def _medicalnet_file(path, depth=10, with_head=True):
    """A state dict laid out as MedicalNet's ``resnet_10.pth`` (DataParallel ``module.`` keys, 1 input channel,
    shortcut B without downsampling bias, a ``conv_seg`` segmentation head), random values."""
    from monai.networks.nets import resnet

    torch.manual_seed(0)
    net = resnet.resnet10(spatial_dims=3, n_input_channels=1, feed_forward=False, shortcut_type="B",
                          bias_downsample=False, conv1_t_stride=2)  # fmt: skip
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    if with_head:
        state["module.conv_seg.0.weight"] = torch.zeros(512, 32, 2, 2, 2)
        state["module.conv_seg.6.weight"] = torch.zeros(2, 32, 1, 1, 1)
    torch.save({"state_dict": state}, path)
    return state


def test_3d_backbones_and_medicalnet_weights(tmp_path, monai):
    for name, features in (("resnet10_3d", 512), ("resnet18_3d", 512)):
        encoder = ImageEncoder(name, in_channels=2)
        assert encoder.out_features == features
        assert encoder(torch.zeros(2, 2, 16, 16, 16)).shape == (2, features)
    assert ImageOnlyNet(backbone="resnet10_3d", in_channels=1)(torch.zeros(2, 1, 16, 16, 16)).shape == (2, 4)
    assert FusionNet(3, backbone="resnet10_3d", in_channels=2)(
        torch.zeros(2, 2, 16, 16, 16), torch.zeros(2, 3)
    ).shape == (
        2,
        4,
    )
    path = tmp_path / "resnet_10.pth"
    state = _medicalnet_file(path)
    with pytest.warns(UserWarning, match=r"loaded partly.*module\.|conv_seg") as record:
        encoder = ImageEncoder("resnet10_3d", weights=path, in_channels=2)
    assert "conv_seg.0.weight" in str(record[0].message) and "conv_seg.6.weight" in str(record[0].message)
    loaded = encoder.backbone.state_dict()
    torch.testing.assert_close(loaded["layer4.0.downsample.0.weight"], state["module.layer4.0.downsample.0.weight"])
    torch.testing.assert_close(loaded["bn1.running_var"], state["module.bn1.running_var"])
    # MedicalNet's one CT channel, averaged and repeated over the two phases
    torch.testing.assert_close(loaded["conv1.weight"], state["module.conv1.weight"].repeat(1, 2, 1, 1, 1))
    _medicalnet_file(path, with_head=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # everything fits: no warning
        ImageEncoder("resnet10_3d", weights=path, in_channels=1)
    torch.save(ImageEncoder("resnet18").backbone.state_dict(), tmp_path / "resnet18_2d.pth")
    with pytest.raises(ValueError, match="do not fit resnet10_3d: none of its .* is a convolution weight"):
        ImageEncoder("resnet10_3d", weights=tmp_path / "resnet18_2d.pth")
    with pytest.raises(ValueError, match="resnet18_3d"):
        ImageEncoder("resnet18_4d")


@pytest.fixture(scope="module")
def two_phase_cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two_phase")
    return make_tace_cohort(12, path=folder, image_shape=(8, 40, 40), random_state=1, phases=("arterial", "portal"))


def test_deep_models_train_and_predict_on_3d_two_phase_input(two_phase_cohort, monai):
    X, y = two_phase_cohort
    pre = CTPreprocessor(mode="3d", voi_size=16, margin_mm=10.0, image_columns=("ct", "ct_portal"))
    # augmentation of 5-D batches is tests/test_augmentation.py's (BatchAugment: in-plane, every slice alike)
    common = dict(image_preprocessor=pre, backbone="resnet10_3d", max_epochs=2, batch_size=6, early_stopping=None,
                  verbose=0, random_state=0, augment=False)  # fmt: skip
    with pytest.raises(ValueError, match="3-D VOIs.*need a 3-D backbone"):
        CTSurvival(**{**common, "backbone": "resnet18"}).fit(X, y)
    model = CTSurvival(**common).fit(X, y)
    assert model.image_columns_ == ["ct", "ct_portal", "mask"]
    assert model.net_.module_.encoder.backbone.conv1.in_channels == 2
    risk = model.predict(X)
    assert risk.shape == (12,) and np.isfinite(risk).all() and ((risk >= 0) & (risk <= 1)).all()
    assert model.predict_survival_at(X.iloc[:3], [365.0, 1095.0]).shape == (3, 2)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), risk)
    with pytest.raises(ValueError, match="ct_portal"):
        model.predict(X.drop(columns="ct_portal"))
    X1 = X.drop(columns="ct_portal")  # one phase: a path column left in X would be a clinical factor
    fusion = FusionSurvival(**{**common, "image_preprocessor": CTPreprocessor(mode="3d", voi_size=16)}).fit(X1, y)
    assert fusion.net_.module_.encoder.backbone.conv1.in_channels == 1
    assert "ct_portal" not in fusion.clinical_.feature_names_in_
    assert np.isfinite(fusion.predict(X1)).all()


def test_synthetic_portal_phase(two_phase_cohort, tmp_path):
    X2, y2 = two_phase_cohort
    X1, y1 = make_tace_cohort(12, path=tmp_path, image_shape=(8, 40, 40), random_state=1)
    np.testing.assert_array_equal(y1, y2)  # the arterial cohort unchanged, file for file
    pd.testing.assert_frame_equal(X1.drop(columns=["ct", "mask"]), X2.drop(columns=["ct", "mask", "ct_portal"]))
    for column in ("ct", "mask"):
        for a, b in zip(X1[column], X2[column], strict=True):
            with open(a, "rb") as fa, open(b, "rb") as fb:
                assert fa.read() == fb.read()
    manifest = pd.read_csv(os.path.join(os.path.dirname(os.path.dirname(X2["ct"][0])), "manifest.csv"))
    assert manifest["ct_portal"].tolist() == [f"images/{pid}_ct_portal.nii.gz" for pid in X2["patient_id"]]
    from scipy import ndimage

    tumour_shift, liver_shift = [], []
    for ct_path, portal_path, mask_path in zip(X2["ct"], X2["ct_portal"], X2["mask"], strict=True):
        arterial, portal = sitk.ReadImage(ct_path), sitk.ReadImage(portal_path)
        assert portal.GetSpacing() != arterial.GetSpacing() and portal.GetOrigin() != arterial.GetOrigin()
        # on the arterial grid, away from the edges the motion (<= 2 mm) blurs: tumour washout, liver enhancement
        onto = sitk.GetArrayFromImage(sitk.Resample(portal, arterial, sitk.Transform(), sitk.sitkLinear, -1000.0))
        art = sitk.GetArrayFromImage(arterial).astype(float)
        mask = sitk.GetArrayFromImage(sitk.ReadImage(mask_path)).astype(bool)
        tumour = ndimage.binary_erosion(mask, iterations=2)
        liver = ~ndimage.binary_dilation(mask, iterations=4) & ndimage.binary_erosion(
            (art > 30) & (art < 90), iterations=2
        )
        if tumour.sum() > 30:
            tumour_shift.append(float((onto[tumour] - art[tumour]).mean()))
        liver_shift.append(float((onto[liver] - art[liver]).mean()))
    assert len(tumour_shift) >= 4
    assert np.median(tumour_shift) == pytest.approx(-20.0, abs=6.0)
    assert np.median(liver_shift) == pytest.approx(30.0, abs=6.0)
    with pytest.raises(ValueError, match="phases must be"):
        make_tace_cohort(4, with_images=False, phases=("portal",))
