"""Tests of Grad-CAM maps: captum's LayerGradCam against a direct computation with hooks (Selvaraju et al. 2017)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from sksurv_tace.explain import grad_cam, plot_grad_cam
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.deep import CTSurvival, FusionSurvival
from sksurv_tace.preprocessing.imaging import CTPreprocessor

TINY = dict(
    # layer4 of ResNet-18 is 2 x 2 at 64 px: grad_cam's default is layer3 (4 x 4)
    image_preprocessor=CTPreprocessor(image_size=64),
    max_epochs=1,
    batch_size=8,
    verbose=0,
    random_state=0,
)


@pytest.fixture(scope="module")
def ct_model(cohort):
    torch.set_num_threads(2)
    return CTSurvival(**TINY).fit(*cohort)


def _reference_grad_cam(model, X, target, layer="layer3"):
    """Grad-CAM by hand: activations A and gradients dT/dA of a layer, w_k = mean_ij dT/dA_kij, relu(sum_k w_k A_k)."""
    inputs = model.prepare_inputs(X)
    module = model.net_.module_.eval()
    store = {}
    handle = getattr(module.encoder.backbone, layer).register_forward_hook(lambda m, i, o: store.update(a=o))
    try:
        image = torch.as_tensor(inputs["image"])
        args = (image, torch.as_tensor(inputs["clinical"])) if "clinical" in inputs else (image,)
        survival = torch.cumprod(torch.sigmoid(module(*args)), dim=1)[:, 2]  # S(1095) = h1 h2 h3
        value = 1 - survival if target == "risk" else -torch.log(survival)
        grads = torch.autograd.grad(value.sum(), store["a"])[0]
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * store["a"]).sum(dim=1, keepdim=True))
    cam = torch.nn.functional.interpolate(cam, size=image.shape[-2:], mode="bilinear", align_corners=False)
    return cam[:, 0].detach().numpy()


@pytest.mark.parametrize("target", ["risk", "cumulative_hazard"])
def test_grad_cam_matches_direct_computation(ct_model, cohort, target):
    X, _ = cohort
    ct_model.net_.module_.train()
    maps = grad_cam(ct_model, X.iloc[:5], target=target, batch_size=2)
    assert ct_model.net_.module_.training  # the module's mode is restored
    assert maps.shape == (5, 64, 64) and maps.dtype == np.float32
    assert np.all(maps >= 0) and np.isfinite(maps).all()
    np.testing.assert_allclose(maps, _reference_grad_cam(ct_model, X.iloc[:5], target), rtol=1e-4, atol=1e-8)


def test_grad_cam_of_a_chosen_layer(ct_model, cohort):
    X, _ = cohort
    maps = grad_cam(ct_model, X.iloc[:3], layer=ct_model.net_.module_.encoder.last_block)
    np.testing.assert_allclose(maps, _reference_grad_cam(ct_model, X.iloc[:3], "risk", "layer4"), rtol=1e-4, atol=1e-8)


def test_grad_cam_for_fusion_model(cohort):
    X, y = cohort
    model = FusionSurvival(**TINY, clinical=ClinicalBranch(select=False, columns=["mvi", "age"])).fit(X, y)
    maps = grad_cam(model, X.iloc[:3])
    np.testing.assert_allclose(maps, _reference_grad_cam(model, X.iloc[:3], "risk"), rtol=1e-4, atol=1e-8)
    signed = grad_cam(model, X.iloc[:3], relu=False)
    assert np.all(np.abs(signed).reshape(3, -1).max(axis=1) > 0)  # the risk depends on every patient's ROI
    assert np.ptp(signed[0]) > 0  # the map varies over the ROI


def test_plot_grad_cam_returns_figure(ct_model, cohort):
    X, _ = cohort
    fig = plot_grad_cam(ct_model, X.iloc[:5], n_cols=3)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6  # five panels and the colour bar
    assert "Grad-CAM" in fig.axes[-1].get_ylabel()
    assert fig.axes[0].get_title().startswith(str(X["patient_id"].iloc[0]))
    assert len(fig.axes[0].images) == 2  # CT and heat map
    flat = plot_grad_cam(ct_model, X.iloc[:2], heatmaps=np.zeros((2, 64, 64)))
    assert "no region raises the risk" in [t.get_text() for t in flat.axes[0].texts]


def test_bad_input(ct_model, cohort):
    X, _ = cohort
    with pytest.raises(ValueError, match="target"):
        grad_cam(ct_model, X.iloc[:2], target="logit")
    with pytest.raises(ValueError, match="not a fitted image model"):
        grad_cam(object(), X.iloc[:2])
    with pytest.raises(ValueError, match="heatmaps"):
        plot_grad_cam(ct_model, X.iloc[:2], heatmaps=np.zeros((3, 64, 64)))
