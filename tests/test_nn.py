"""Tests of sksurv_tace.models.nn: the discrete-time likelihood against direct NumPy evaluations, and the modules."""

import numpy as np
import pytest
import torch

from sksurv_tace.models.nn import (
    ClinicalMLP,
    DiscreteTimeNLL,
    FusionNet,
    ImageEncoder,
    ImageOnlyNet,
    discrete_time_nll,
    encode_survival,
    survival_from_logits,
)

CUTS = (0.0, 365.0, 730.0, 1095.0, 1460.0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# Hand-made cases (cuts 0/365/730/1095/1460; interval midpoints 182.5, 547.5, 912.5, 1277.5):
# time, event, intervals survived, interval of death (None = no death term)
HAND_CASES = [
    (10.0, True, [], 0),  # death in the first year
    (500.0, True, [0], 1),  # death in the second year
    (365.0, True, [], 0),  # death exactly at a cut: in the interval ending there (as S(365) and the metrics count it)
    (1460.0, True, [0, 1, 2], 3),  # death on the last cut: in the last interval
    (1400.0, True, [0, 1, 2], 3),  # death in the last interval
    (2000.0, True, [0, 1, 2, 3], None),  # death after the last cut: counts as survival of all intervals
    (400.0, False, [0], None),  # censored before the midpoint of interval 1: interval 1 not survived
    (600.0, False, [0, 1], None),  # censored after the midpoint of interval 1: interval 1 survived
    (547.5, False, [0, 1], None),  # censored exactly at the midpoint counts as survived (nnet-survival's >=)
    (100.0, False, [], None),  # censored early in the first interval
    (1500.0, False, [0, 1, 2, 3], None),  # censored beyond the last cut
]


def test_encode_survival_hand_cases():
    time = np.array([c[0] for c in HAND_CASES])
    event = np.array([c[1] for c in HAND_CASES])
    index, died = encode_survival(time, event, CUTS)
    for (t, _event, survived, death), k, d in zip(HAND_CASES, index, died, strict=True):
        if death is None:
            assert (k, d) == (len(survived), 0.0), t
        else:
            assert (k, d) == (death, 1.0), t
            assert survived == list(range(death))


@pytest.mark.parametrize("case", HAND_CASES, ids=[f"t{c[0]:g}-e{int(c[1])}" for c in HAND_CASES])
def test_loss_matches_direct_likelihood(case):
    time, event, survived, death = case
    rng = np.random.default_rng(int(time))
    logits = rng.normal(scale=2.0, size=4)
    h = _sigmoid(logits)  # conditional probability of surviving each interval
    likelihood = np.prod(h[survived]) * (1.0 - h[death] if death is not None else 1.0)
    index, died = encode_survival([time], [event], CUTS)
    loss = discrete_time_nll(
        torch.tensor(logits[None, :], dtype=torch.float64), torch.as_tensor(index), torch.as_tensor(died)
    )
    np.testing.assert_allclose(float(loss), -np.log(likelihood), rtol=1e-12)


def _nnet_survival_loss(y_pred, t, f, breaks):
    """Reference: make_surv_array + surv_likelihood of Gensheimer's nnet_survival_pytorch.py (sum of -log terms)."""
    n_intervals = len(breaks) - 1
    midpoints = breaks[:-1] + 0.5 * np.diff(breaks)
    y = np.zeros((len(t), 2 * n_intervals))
    for i in range(len(t)):
        if f[i]:
            y[i, :n_intervals] = 1.0 * (t[i] >= breaks[1:])
            if t[i] < breaks[-1]:
                y[i, n_intervals + np.where(t[i] < breaks[1:])[0][0]] = 1
        else:
            y[i, :n_intervals] = 1.0 * (t[i] >= midpoints)
    cens_uncens = 1.0 + y[:, :n_intervals] * (y_pred - 1.0)
    uncens = 1.0 - y[:, n_intervals:] * y_pred
    return -np.log(np.concatenate([cens_uncens, uncens], axis=1)).sum()


def test_loss_matches_nnet_survival_reference():
    # censoring="half_interval" is Nnet-survival's make_surv_array; its deaths on a cut day go to the next interval
    # (here: the interval ending there), so deaths are kept off the cuts for this comparison
    rng = np.random.default_rng(0)
    n = 200
    t = rng.exponential(900.0, n).round()
    t[:5] = [365.0, 730.0, 182.5, 1460.0, 3000.0]
    f = rng.random(n) < 0.6
    f[np.isin(t, CUTS)] = False
    logits = rng.normal(size=(n, 4))
    expected = _nnet_survival_loss(_sigmoid(logits), t, f, np.asarray(CUTS))
    index, died = encode_survival(t, f, CUTS, censoring="half_interval")
    got = discrete_time_nll(
        torch.tensor(logits), torch.as_tensor(index), torch.as_tensor(died, dtype=torch.float64), reduction="sum"
    )
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    mean = discrete_time_nll(torch.tensor(logits), torch.as_tensor(index), torch.as_tensor(died, dtype=torch.float64))
    np.testing.assert_allclose(float(mean), expected / n, rtol=1e-10)


def _pycox_logistic_hazard_loss(phi, t, f, cuts):
    """Reference: pycox's LabTransDiscreteTime (IdxDiscUnknownC: deaths rounded up to a cut, censorings down, times
    past the last cut censored there) and nll_logistic_hazard (BCE of the hazard logits, summed up to the index)."""
    t, f = t.astype(float).copy(), f.astype(bool).copy()
    late = t > cuts.max()
    t[late], f[late] = cuts.max(), False
    bins = np.searchsorted(cuts, t, side="left")
    exact = cuts[np.minimum(bins, len(cuts) - 1)] == t
    idx = np.where(f, bins, bins - 1 + exact)
    y = np.zeros_like(phi)
    y[np.arange(len(t)), idx] = f
    bce = np.logaddexp(0.0, phi) - y * phi
    return np.cumsum(bce, axis=1)[np.arange(len(t)), idx].sum()


def test_completed_censoring_matches_pycox_logistic_hazard():
    rng = np.random.default_rng(1)
    n = 200
    t = rng.exponential(900.0, n).round()
    t[:8] = [365.0, 730.0, 1095.0, 1460.0, 365.0, 1460.0, 182.5, 3000.0]
    f = rng.random(n) < 0.6
    f[:8] = [True, True, True, True, False, False, False, True]  # deaths and censorings on cut days
    logits = rng.normal(size=(n, 4))  # log-odds of surviving each interval
    # pycox's hazard logits: one node per cut, the first at t = 0 (hazard ~ 0: nobody dies at time 0)
    phi = np.column_stack([np.full(n, -60.0), -logits])
    expected = _pycox_logistic_hazard_loss(phi, t, f, np.asarray(CUTS))
    index, died = encode_survival(t, f, CUTS, censoring="completed")
    got = discrete_time_nll(
        torch.tensor(logits), torch.as_tensor(index), torch.as_tensor(died, dtype=torch.float64), reduction="sum"
    )
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)


def test_censoring_rules_by_hand():
    # cuts 0/365/730/1095/1460: censored at 600 (past the midpoint 547.5 of interval 1) survived intervals 0 and 1
    # under half_interval, only interval 0 under completed; at 400 (before the midpoint) interval 0 under both
    time = np.array([600.0, 400.0, 730.0, 100.0, 1500.0])
    event = np.zeros(5, dtype=bool)
    assert encode_survival(time, event, CUTS, censoring="half_interval")[0].tolist() == [2, 1, 2, 0, 4]
    assert encode_survival(time, event, CUTS, censoring="completed")[0].tolist() == [1, 1, 2, 0, 4]
    # one patient censored at 600, every h_j = 0.8: half_interval -> -2 log 0.8, completed -> -log 0.8
    logits = torch.full((1, 4), float(np.log(0.8 / 0.2)), dtype=torch.float64)
    for rule, n_survived in [("half_interval", 2), ("completed", 1)]:
        index, died = encode_survival([600.0], [False], CUTS, censoring=rule)
        loss = discrete_time_nll(logits, torch.as_tensor(index), torch.as_tensor(died, dtype=torch.float64))
        np.testing.assert_allclose(float(loss), -n_survived * np.log(0.8), rtol=1e-12)
    with pytest.raises(ValueError, match="censoring must be one of"):
        encode_survival(time, event, CUTS, censoring="midpoint")


def test_loss_is_finite_for_extreme_logits():
    # log(1 - sigmoid(60)) = -60 - log1p(exp(-60)); a product of probabilities would give log(0) = -inf in float32
    logits = torch.tensor([[60.0, -60.0, 0.0, 0.0]])
    loss = discrete_time_nll(logits, torch.tensor([0]), torch.tensor([1.0]))
    assert torch.isfinite(loss)
    np.testing.assert_allclose(float(loss), 60.0, rtol=1e-6)
    logits.requires_grad_(True)
    discrete_time_nll(logits, torch.tensor([2]), torch.tensor([0.0])).backward()
    assert torch.isfinite(logits.grad).all()


def test_loss_rejects_inconsistent_targets():
    logits = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="interval_index"):
        discrete_time_nll(logits, torch.tensor([0, 5]), torch.tensor([0.0, 0.0]))
    with pytest.raises(ValueError, match="event needs"):
        discrete_time_nll(logits, torch.tensor([4, 0]), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="reduction"):
        discrete_time_nll(logits, torch.tensor([0, 0]), torch.tensor([0.0, 0.0]), reduction="max")
    with pytest.raises(ValueError, match="cuts"):
        encode_survival([1.0], [True], (10.0, 20.0))


def test_criterion_wrapper_and_survival_from_logits():
    logits = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([[0, 1], [2, 0], [4, 0], [3, 1], [1, 0]], dtype=torch.float64)
    np.testing.assert_allclose(
        float(DiscreteTimeNLL()(logits, y)), float(discrete_time_nll(logits, y[:, 0].long(), y[:, 1])), rtol=1e-6
    )
    expected = np.cumprod(_sigmoid(logits.numpy()), axis=1)
    np.testing.assert_allclose(survival_from_logits(logits).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(("backbone", "width"), [("resnet18", 512), ("resnet50", 2048)])
def test_image_encoder_feature_width(backbone, width):
    encoder = ImageEncoder(backbone)
    assert encoder.out_features == width
    with torch.no_grad():
        assert encoder(torch.zeros(2, 3, 32, 32)).shape == (2, width)


def test_image_encoder_loads_local_weights(tmp_path):
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pt"
    torch.save(reference.state_dict(), path)
    encoder = ImageEncoder("resnet18", weights=path)
    np.testing.assert_array_equal(encoder.backbone.conv1.weight.detach(), reference.conv1.weight.detach())
    one_channel = ImageEncoder("resnet18", weights=path, in_channels=1)
    np.testing.assert_allclose(
        one_channel.backbone.conv1.weight.detach()[:, 0], reference.conv1.weight.detach().mean(dim=1), rtol=1e-6
    )
    with pytest.raises(ValueError, match="does not exist"):
        ImageEncoder("resnet18", weights=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="do not fit"):
        ImageEncoder("resnet50", weights=path)
    with pytest.raises(ValueError, match="torchvision ResNet"):
        ImageEncoder("vgg16")


def test_clinical_mlp_and_heads():
    mlp = ClinicalMLP(3, hidden=(16, 32, 64), dropout=0.1)
    assert [m.out_features for m in mlp.net if isinstance(m, torch.nn.Linear)] == [16, 32, 64]
    with pytest.raises(ValueError, match="at least one input"):
        ClinicalMLP(0)
    fusion = FusionNet(n_clinical=3, n_intervals=5).eval()
    image, clinical = torch.rand(2, 3, 32, 32), torch.rand(2, 3)
    assert fusion(image, clinical).shape == (2, 5)
    assert fusion.head.in_features == 512 + 64
    with pytest.raises(ValueError, match="clinical"):
        fusion(image)
    image_only = FusionNet(n_clinical=0).eval()
    assert image_only.clinical is None and image_only.head.in_features == 512
    assert ImageOnlyNet(n_intervals=3)(image).shape == (2, 3)


def test_baseline_logits_minimise_the_loss_of_a_constant_prediction():
    from sksurv_tace.models.nn import baseline_logits

    rng = np.random.default_rng(3)
    t = rng.exponential(900.0, 300).round() + 1
    f = rng.random(300) < 0.6
    index, died = encode_survival(t, f, CUTS)
    logits = torch.tensor(baseline_logits(index, died, 4), dtype=torch.float64).repeat(300, 1).requires_grad_(True)
    discrete_time_nll(logits, torch.as_tensor(index), torch.as_tensor(died, dtype=torch.float64)).backward()
    np.testing.assert_allclose(logits.grad.sum(dim=0).numpy(), 0.0, atol=1e-12)  # the maximum-likelihood constant
