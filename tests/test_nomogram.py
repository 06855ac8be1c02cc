"""Nomograms of the Cox models (issue 14, item 3): checked against the model's predictions and a hand computation."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sksurv.ensemble import RandomSurvivalForest  # noqa: E402
from sksurv.util import Surv  # noqa: E402

from sksurv_tace.datasets import make_tace_cohort  # noqa: E402
from sksurv_tace.models import ClinicalCox, RadiomicsCox  # noqa: E402
from sksurv_tace.paper import Nomogram, nomogram  # noqa: E402

TIMES = (365.0, 730.0, 1095.0)
COLUMNS = ["age", "afp", "tumor_size", "bclc_b_subclass", "response", "mvi"]


@pytest.fixture(scope="module")
def fitted():
    X, y = make_tace_cohort(200, with_images=False, random_state=0)
    # p = 1 keeps every factor, so that continuous (one logged) and categorical factors are all drawn
    model = ClinicalCox(columns=COLUMNS, log_transform=["afp"], p_univariate=1.0, p_multivariable=1.0).fit(X, y)
    return model, X, nomogram(model, X, times=TIMES)


def _affine_residual(total, lp):
    A = np.column_stack([np.ones_like(lp), lp])
    fit, *_ = np.linalg.lstsq(A, total, rcond=None)
    return np.abs(A @ fit - total).max() / np.ptp(total), fit


def test_total_points_are_affine_in_the_linear_predictor(fitted):
    model, X, nomo = fitted
    assert isinstance(nomo, Nomogram)
    assert set(nomo.factors) == set(COLUMNS)
    total = nomo.total_points(X)
    lp = model.predict(X)
    residual, (_, slope) = _affine_residual(total, lp)
    assert residual < 1e-8
    assert slope == pytest.approx(100.0 / nomo.scale, rel=1e-10)
    np.testing.assert_allclose(nomo.linear_predictor(total), lp, rtol=0, atol=1e-10)
    # the points of each factor: 0 at its lowest-risk value, the widest factor spans exactly 0-100
    by_factor = nomo.points.groupby("factor")["points"]
    np.testing.assert_allclose(by_factor.min().to_numpy(), 0.0, atol=1e-12)
    assert by_factor.max().max() == pytest.approx(100.0, abs=1e-12)
    assert nomo.max_total == pytest.approx(by_factor.max().sum(), rel=1e-12)
    # categorical factors: one row per level, reference level at its factor's min or not, each level once
    levels = nomo.points[nomo.points["factor"] == "response"]["value"].tolist()
    assert levels == ["CR", "PR", "SD", "PD"]
    assert (nomo.points[nomo.points["factor"] == "afp"]["kind"] == "log1p").all()


def test_survival_read_off_the_nomogram_is_the_models(fitted):
    model, X, nomo = fitted
    read = nomo.survival(nomo.total_points(X))
    direct = np.vstack([[fn(t) for t in TIMES] for fn in model.predict_survival_function(X)])
    np.testing.assert_allclose(read, direct, rtol=0, atol=1e-8)
    np.testing.assert_allclose(read, model.predict_survival_at(X, TIMES), rtol=0, atol=1e-8)
    # the table: survival falls as total points rise, and is the model's at the table's linear predictors
    table = nomo.survival_table
    assert list(table.columns) == ["total_points", "linear_predictor", "survival_365", "survival_730", "survival_1095"]
    assert table["total_points"].iloc[0] == 0.0 and table["total_points"].iloc[-1] == pytest.approx(nomo.max_total)
    for t in TIMES:
        assert (np.diff(table[f"survival_{t:g}"]) < 0).all()
    s0 = model.model_.baseline_survival_
    expected = np.power(s0(365.0), np.exp(table["linear_predictor"].to_numpy()))
    np.testing.assert_allclose(table["survival_365"], expected, rtol=0, atol=1e-12)


def test_two_factor_model_gives_the_hand_computed_points():
    rng = np.random.default_rng(3)
    n = 80
    X = pd.DataFrame({"age": rng.uniform(40.0, 80.0, n).round(1), "mvi": rng.choice(["No", "Yes"], n)})
    hazard = np.exp(0.04 * (X["age"] - 60.0) + 0.9 * (X["mvi"] == "Yes"))
    time = np.ceil(rng.exponential(500.0 / hazard))
    y = Surv.from_arrays(rng.uniform(size=n) < 0.8, time)
    model = ClinicalCox(p_univariate=1.0, p_multivariable=1.0).fit(X, y)
    assert model.selected_features_ == ["age", "mvi=Yes"]
    b_age, b_mvi = model.coef_
    nomo = nomogram(model, X, times=(100.0, 200.0))

    # by hand: ranges of beta * x, the widest one is 100 points
    age_lo, age_hi = X["age"].min(), X["age"].max()
    range_age, range_mvi = abs(b_age) * (age_hi - age_lo), abs(b_mvi)
    scale = max(range_age, range_mvi)
    assert nomo.scale == pytest.approx(scale, rel=1e-12)
    low_age = min(b_age * age_lo, b_age * age_hi)
    low_mvi = min(0.0, b_mvi)
    points = nomo.points.set_index(["factor", "value"])["points"]
    assert points[("mvi", "No")] == pytest.approx(100 * (0.0 - low_mvi) / scale, abs=1e-12)
    assert points[("mvi", "Yes")] == pytest.approx(100 * (b_mvi - low_mvi) / scale, abs=1e-12)
    ages = nomo.points[nomo.points["factor"] == "age"]
    assert ages["value"].min() == age_lo and ages["value"].max() == age_hi
    for value, got in zip(ages["value"], ages["points"], strict=True):
        assert got == pytest.approx(100 * (b_age * value - low_age) / scale, abs=1e-12)
    # one patient: age 61.5, MVI yes
    patient = pd.DataFrame({"age": [61.5], "mvi": ["Yes"]})
    by_hand = 100 * (b_age * 61.5 - low_age) / scale + 100 * (b_mvi - low_mvi) / scale
    assert nomo.total_points(patient)[0] == pytest.approx(by_hand, abs=1e-10)
    assert nomo.offset == pytest.approx(low_age + low_mvi, abs=1e-12)
    assert nomo.max_total == pytest.approx(100 * (range_age + range_mvi) / scale, abs=1e-12)


def test_plot_has_one_row_per_factor_and_saves(fitted, tmp_path):
    _, _, nomo = fitted
    fig = nomo.plot()
    try:
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert labels[0] == "Points"
        assert labels[1 : 1 + len(nomo.factors)] == nomo.factors
        assert labels[1 + len(nomo.factors) :] == [
            "Total points",
            "Linear predictor",
            "1-year survival",
            "2-year survival",
            "3-year survival",
        ]
        path = tmp_path / "nomogram.png"
        fig.savefig(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:
        assert nomo.plot(ax=ax) is fig
    finally:
        plt.close(fig)


def test_radiomics_cox_design_columns_are_factors():
    """A Coxnet model (RadiomicsCox: z-scored design, alpha_ passed to predict): design columns as factors."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 6)), columns=[f"f{i}" for i in range(6)])
    time = np.ceil(rng.exponential(np.exp(-X["f0"].to_numpy() + 0.5 * X["f1"].to_numpy())) * 300)
    y = Surv.from_arrays(np.ones(120, bool), time)
    model = RadiomicsCox(alpha=0.05).fit(X, y)
    nomo = nomogram(model, X, times=(100.0,))
    assert set(nomo.factors) == set(model.selected_features_)
    assert (nomo.points["kind"] == "design").all()
    total = nomo.total_points(X)
    assert _affine_residual(total, model.predict(X))[0] < 1e-8
    np.testing.assert_allclose(nomo.survival(total), model.predict_survival_at(X, [100.0]), rtol=0, atol=1e-8)


def test_errors(fitted):
    _, X, _ = fitted
    with pytest.raises(ValueError, match="not fitted"):
        nomogram(ClinicalCox(), X)
    X2, y2 = X[["age", "afp"]], make_tace_cohort(200, with_images=False, random_state=0)[1]
    forest = RandomSurvivalForest(n_estimators=2, random_state=0).fit(X2, y2)
    with pytest.raises(ValueError, match="not a Cox-type model"):
        nomogram(forest, X2)
    with pytest.raises(ValueError, match="times"):
        nomogram(fitted[0], X, times=(1e6,))
