"""TumourBurdenCox: clinical factors + log2 tumour volume + lesion count, against lifelines on the same design."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from sksurv_tace import TumourBurdenCox
from sksurv_tace.preprocessing import LesionBurden


@pytest.fixture(scope="module")
def fitted(small_cohort):
    X, y, _ = small_cohort
    model = TumourBurdenCox(clinical_columns=["mvi", "albi_grade"], select_clinical=False).fit(X, y)
    return X, y, model


def test_coefficients_equal_lifelines(fitted):
    X, y, model = fitted
    burden = LesionBurden().fit_transform(X)
    design = pd.DataFrame({
        "mvi=Yes": (X["mvi"] == "Yes").astype(float),
        "albi_grade=2-3": (X["albi_grade"] == "2-3").astype(float),
        "log2_tumour_volume_ml": np.log2(burden["tumour_volume_ml"]),
        "lesion_count": burden["lesion_count"],
    })  # fmt: skip
    assert model.features_ == list(design.columns)
    # Efron ties; lifelines' default stopping rule (|step| < 1e-7) stops 6e-5 short, so iterate to convergence
    options = {"precision": 0.0, "r_precision": 1e-12, "max_steps": 100}
    reference = CoxPHFitter().fit(design.assign(T=y["time"], E=y["event"]), "T", "E", fit_options=options)
    np.testing.assert_allclose(model.coef_, reference.params_[model.features_].to_numpy(), atol=1e-7)
    np.testing.assert_allclose(model.summary_["HR"], np.exp(model.coef_), rtol=1e-5)
    np.testing.assert_allclose(model.predict(X), design.to_numpy() @ model.coef_, atol=1e-10)


def test_passthrough_equals_measuring(fitted):
    X, y, model = fitted
    table = X.drop(columns=["ct", "mask"]).join(LesionBurden().fit_transform(X))
    passthrough = TumourBurdenCox("passthrough", clinical_columns=["mvi", "albi_grade"], select_clinical=False)
    passthrough.fit(table, y)
    assert passthrough.features_ == model.features_
    np.testing.assert_allclose(passthrough.predict(table), model.predict(X), atol=1e-12)
    bad = table.copy()
    bad.loc[bad.index[3], "tumour_volume_ml"] = 0.0
    with pytest.raises(ValueError, match=r"tumour_volume_ml must be a positive number \(mL\); not at patient "):
        passthrough.predict(bad)
    bad = table.assign(lesion_count=table["lesion_count"] + 0.5)
    with pytest.raises(ValueError, match=r"lesion_count must be an integer >= 1"):
        passthrough.predict(bad)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['tumour_volume_ml', 'lesion_count'\]"):
        passthrough.predict(X)


def test_screen_keeps_the_burden_and_excludes_image_columns(small_cohort):
    X, y, _ = small_cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # screen and summary warnings of 24 patients and 17 factors
        model = TumourBurdenCox(p_univariate=0.2, p_multivariable=0.2).fit(X, y)
    assert model.features_[-2:] == ["log2_tumour_volume_ml", "lesion_count"]
    screened = set(model.clinical_.summary_["factor"])
    assert "mvi" in screened and not {"ct", "mask", "patient_id"} & screened
