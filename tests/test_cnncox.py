"""Tests of CNNCox (the paper's DLOP_Cox): Cox PH on the CT network's score and the selected clinical factors."""

import pickle
import warnings

import numpy as np
import pytest
from lifelines import CoxPHFitter
from sklearn.base import clone

from sksurv_tace.models.cnn_cox import CNNCox
from sksurv_tace.models.deep import CTSurvival
from sksurv_tace.preprocessing.imaging import CTPreprocessor

TINY = dict(image_preprocessor=CTPreprocessor(image_size=32), max_epochs=2, batch_size=8, verbose=0, random_state=0)
COLUMNS = ["mvi", "albi_grade", "age"]


@pytest.fixture(scope="module")
def cnn(tiny_ct_model):
    return tiny_ct_model


@pytest.fixture(scope="module")
def model(cnn, cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CNNCox(cnn, prefit=True, select_clinical=False, clinical_columns=COLUMNS).fit(*cohort)


def test_prefit_cnn_is_used_as_is(model, cnn):
    assert model.cnn_ is cnn
    assert model.features_ == ["mvi=Yes", "albi_grade=2-3", "age", "cnn_survival"]


def test_coefficients_and_summary_agree_with_lifelines(model, cnn, cohort):
    X, y = cohort
    design = model.preprocessor_.transform(X.drop(columns=["patient_id", "ct", "mask"]))[model.features_[:-1]]
    design["cnn_survival"] = cnn.predict_survival_at(X, [1095.0])[:, 0]
    data = design.assign(T=y["time"], E=y["event"].astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # lifelines run to convergence (its default stops a few 1e-4 short on this flat likelihood)
        reference = CoxPHFitter().fit(
            data, duration_col="T", event_col="E", fit_options={"precision": 0.0, "r_precision": 1e-12}
        )
    # scikit-survival's Efron fit (coef_, predictions) against lifelines' Efron fit
    np.testing.assert_allclose(model.coef_, reference.params_[model.features_].to_numpy(), rtol=1e-4, atol=1e-6)
    summary = model.summary_.loc["cnn_survival"]
    ref = reference.summary.loc["cnn_survival"]
    assert summary["HR"] == pytest.approx(ref["exp(coef)"], rel=1e-6)
    assert summary["HR_lower"] == pytest.approx(ref["exp(coef) lower 95%"], rel=1e-6)
    assert summary["p"] == pytest.approx(ref["p"], rel=1e-6)
    np.testing.assert_allclose(model.predict(X), design.to_numpy() @ model.coef_, rtol=1e-10, atol=1e-10)


def test_survival_functions_and_pickle(model, cohort):
    X, y = cohort
    surv = model.predict_survival_at(X, [365.0, 730.0, 1095.0])
    assert np.all((surv >= 0) & (surv <= 1)) and np.all(np.diff(surv, axis=1) <= 1e-12)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_fits_its_own_cnn_with_clinical_screen(cohort):
    X, y = cohort
    estimator = CNNCox(CTSurvival(**{**TINY, "max_epochs": 1}), p_univariate=0.2, p_multivariable=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X, y)
    assert estimator.cnn_ is not estimator.cnn and estimator.cnn_.history_ is not None
    assert estimator.features_[:-1] == estimator.selector_.selected_features_
    assert estimator.features_[-1] == "cnn_survival"
    assert clone(estimator).get_params()["cnn"].get_params()["max_epochs"] == 1


def test_bad_input(cnn, cohort):
    X, y = cohort
    with pytest.raises(ValueError, match="prefit"):
        CNNCox(prefit=True).fit(X, y)
    with pytest.raises(ValueError, match="mask"):
        CNNCox(cnn, prefit=True, clinical_columns=COLUMNS).fit(X.drop(columns=["mask"]), y)


def test_dump_model_refers_to_the_network_file(model, cnn, cohort, tmp_path):
    import joblib

    from sksurv_tace.models import dump_model, load_model

    X, _ = cohort
    joblib.dump(cnn, tmp_path / "CTSurvival.joblib")
    dump_model(model, tmp_path / "CNNCox.joblib", cnn_file=tmp_path / "CTSurvival.joblib")
    assert model.cnn_ is cnn and model.cnn is cnn  # the fitted model keeps its network
    assert (tmp_path / "CNNCox.joblib").stat().st_size < (tmp_path / "CTSurvival.joblib").stat().st_size / 20
    reloaded = load_model(tmp_path / "CNNCox.joblib")
    np.testing.assert_array_equal(reloaded.predict(X), model.predict(X))
    assert reloaded.cnn is reloaded.cnn_
    alone = joblib.load(tmp_path / "CNNCox.joblib")  # without its network: a clear error, naming the file
    with pytest.raises(ValueError, match=r"without its CT network, which is in the file 'CTSurvival.joblib'"):
        alone.predict(X)
    (tmp_path / "CTSurvival.joblib").rename(tmp_path / "moved.joblib")
    with pytest.raises(FileNotFoundError, match="CTSurvival.joblib"):
        load_model(tmp_path / "CNNCox.joblib")
    with pytest.raises(ValueError, match="fitted CNNCox"):
        dump_model(cnn, tmp_path / "x.joblib", cnn_file=tmp_path / "moved.joblib")


def test_cross_fit_scores_come_from_nets_that_never_saw_the_row(cnn, cohort):
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    X, y = cohort
    model = CNNCox(cnn, prefit=True, cross_fit=2, select_clinical=False, clinical_columns=["age"], alpha=0.1)
    model.fit(X, y)
    assert model.cnn_ is cnn  # the network trained on all rows scores new patients
    in_sample = cnn.predict_survival_at(X, [1095.0])[:, 0]
    folds = model.cross_fit_folds_
    assert len(folds) == 2 and sorted(np.concatenate(folds).tolist()) == list(range(len(X)))
    assert not np.allclose(model.train_score_, in_sample)
    for held_out in folds:
        train = np.setdiff1d(np.arange(len(X)), held_out)
        unseen = clone(cnn).fit(X.iloc[train], y[train])  # seeded: the same net as the fold's
        np.testing.assert_array_equal(
            model.train_score_[held_out], unseen.predict_survival_at(X.iloc[held_out], [1095.0])[:, 0]
        )
    # the Cox stage is fitted on the out-of-fold scores, predictions use the full network's
    design = np.column_stack([X["age"].to_numpy(float), model.train_score_])
    np.testing.assert_allclose(
        model.coef_, CoxPHSurvivalAnalysis(alpha=0.1, ties="efron").fit(design, y).coef_, rtol=1e-6
    )
    np.testing.assert_allclose(model._design(X)[:, -1], in_sample)
    default = CNNCox(cnn, prefit=True, select_clinical=False, clinical_columns=["age"], alpha=0.1).fit(X, y)
    assert default.cross_fit_folds_ is None
    np.testing.assert_array_equal(default.train_score_, in_sample)
    with pytest.raises(ValueError, match="cross_fit"):
        CNNCox(cnn, prefit=True, cross_fit=1).fit(X, y)
