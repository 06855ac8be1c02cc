"""Checks every estimator of the package must pass.

To add an estimator, append an entry to :data:`ESTIMATORS`: ``(id, factory, data)`` where ``factory()`` returns a
fresh, small, fast instance and ``data`` names a dataset of :data:`DATASETS` (add a factory there if none fits;
it receives an empty folder and returns ``(X, y)``). Survival estimators (with ``predict``) get the prediction
checks, transformers (with ``transform``) the transform checks; all get scikit-learn's checks that need no ``y``.
"""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils import estimator_checks
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv

from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.clinical_cox import ClinicalCox
from sksurv_tace.models.cnn_cox import CNNCox
from sksurv_tace.models.deep import CTSurvival, FusionSurvival
from sksurv_tace.models.radiomics_cox import RadiomicsCox
from sksurv_tace.models.recalibration import RecalibratedSurvival
from sksurv_tace.models.tumour_burden_cox import TumourBurdenCox
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor
from sksurv_tace.preprocessing.cox_screen import CoxFeatureSelector
from sksurv_tace.preprocessing.imaging import CTPreprocessor
from sksurv_tace.preprocessing.lesions import LesionBurden
from sksurv_tace.preprocessing.radiomics import RadiomicsExtractor

# -------------------------------------------------------------------------------------------------------------
# datasets: name -> factory(folder) -> (X, y)


def _clinical(folder):
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    return make_tace_cohort(120, path=folder, with_images=False, random_state=0)


def _features(folder):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 8)), columns=[f"feature_{i}" for i in range(8)])
    time = rng.exponential(400 * np.exp(-X["feature_0"].to_numpy()))
    return X, Surv.from_arrays(time < 900, np.minimum(time, 900))


def _images(folder):
    from sksurv_tace.datasets.synthetic import make_tace_cohort

    return make_tace_cohort(24, path=folder, image_shape=(12, 48, 48), random_state=0)


def _design(folder):
    X, y = _clinical(folder)
    return ClinicalPreprocessor().fit_transform(X), y


DATASETS = {"clinical": _clinical, "design": _design, "features": _features, "images": _images}

_CACHE = {}  # a radiomics cache shared by the image entries, set by the `load` fixture
_TINY_NET = dict(
    image_preprocessor=CTPreprocessor(image_size=32), max_epochs=1, batch_size=8, verbose=0, random_state=0
)


def _cached_extractor():
    return RadiomicsExtractor(memory=_CACHE.get("radiomics"), progress=False)


def _recalibrated():
    """A recalibration of a ClinicalCox locked after one fit on another cohort (frozen: clones keep it fitted)."""
    if "locked" not in _CACHE:
        from sksurv_tace.datasets.synthetic import make_tace_cohort

        X, y = make_tace_cohort(120, with_images=False, random_state=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _CACHE["locked"] = FrozenEstimator(ClinicalCox(p_univariate=0.2, p_multivariable=0.2).fit(X, y))
    return RecalibratedSurvival(_CACHE["locked"], method="slope")


# -------------------------------------------------------------------------------------------------------------
# estimators: (id, factory, data)

ESTIMATORS = [
    ("ClinicalPreprocessor", lambda: ClinicalPreprocessor(log_transform=["afp"]), "clinical"),
    ("CoxFeatureSelector", lambda: CoxFeatureSelector(p_univariate=0.2, p_multivariable=0.2), "design"),
    ("ClinicalCox", lambda: ClinicalCox(p_univariate=0.2, p_multivariable=0.2), "clinical"),
    ("RadiomicsExtractor", _cached_extractor, "images"),
    ("RadiomicsCox", lambda: RadiomicsCox(cv=3, n_alphas=20, random_state=0), "features"),
    ("RadiomicsCox+extractor", lambda: RadiomicsCox(extractor=_cached_extractor(), cv=3, random_state=0), "images"),
    ("ClinicalBranch", lambda: ClinicalBranch(p_univariate=0.2, p_multivariable=0.2), "clinical"),
    ("RecalibratedSurvival", _recalibrated, "clinical"),
    ("CTPreprocessor", lambda: CTPreprocessor(image_size=32), "images"),
    (
        "FusionSurvival",
        lambda: FusionSurvival(clinical=ClinicalBranch(p_univariate=0.2, p_multivariable=0.2), **_TINY_NET),
        "images",
    ),
    ("CTSurvival", lambda: CTSurvival(**_TINY_NET), "images"),
    ("CNNCox", lambda: CNNCox(CTSurvival(**_TINY_NET), p_univariate=0.2, p_multivariable=0.2), "images"),
    ("LesionBurden", LesionBurden, "images"),
    ("TumourBurdenCox", lambda: TumourBurdenCox(p_univariate=0.2, p_multivariable=0.2), "images"),
]

Y_FREE_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_repr",
    "check_mixin_order",
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_do_not_raise_errors_in_init_or_set_params",
]


def _ids(entries):
    return [entry[0] for entry in entries]


SURVIVAL = [e for e in ESTIMATORS if hasattr(e[1](), "predict")]
TRANSFORMERS = [e for e in ESTIMATORS if hasattr(e[1](), "transform")]


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    _CACHE["radiomics"] = str(tmp_path_factory.mktemp("radiomics_cache"))
    data = {}

    def get(kind):
        if kind not in data:
            data[kind] = DATASETS[kind](tmp_path_factory.mktemp(kind))
        return data[kind]

    return get


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. "no factor reached p < ..." on small data
        return estimator.fit(X, y)


@pytest.mark.parametrize("check", Y_FREE_CHECKS)
@pytest.mark.parametrize("name, factory, data", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_sklearn_checks_without_y(name, factory, data, check):
    function = getattr(estimator_checks, check, None)
    if function is None:
        pytest.skip(f"{check} is not in this scikit-learn version")
    function(name, factory())


@pytest.mark.parametrize("name, factory, data", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_fit_returns_self_and_keeps_params(name, factory, data, load):
    X, y = load(data)
    estimator = factory()
    before = joblib.hash(estimator.get_params())
    assert _fit(estimator, X, y) is estimator
    assert joblib.hash(estimator.get_params()) == before
    unfitted = clone(estimator)
    assert not [a for a in vars(unfitted) if a.endswith("_") and not a.startswith("__")]


@pytest.mark.parametrize("name, factory, data", SURVIVAL, ids=_ids(SURVIVAL))
def test_predict_score_and_pickle(name, factory, data, load):
    X, y = load(data)
    estimator = _fit(factory(), X, y)
    risk = estimator.predict(X)
    assert risk.shape == (len(X),) and np.isfinite(risk).all()
    harrell = concordance_index_censored(y[y.dtype.names[0]], y[y.dtype.names[1]], risk)[0]
    assert estimator.score(X, y) == pytest.approx(harrell, abs=1e-12)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict(X), risk)
    times = np.quantile(y[y.dtype.names[1]], [0.25, 0.5])
    surv = estimator.predict_survival_at(X.iloc[:5], times)
    assert surv.shape == (5, 2) and np.all((surv >= 0) & (surv <= 1)) and np.all(surv[:, 1] <= surv[:, 0] + 1e-12)
    np.testing.assert_array_equal(restored.predict_survival_at(X.iloc[:5], times), surv)
    # a clone refits to the same predictions (deterministic under its random_state)
    np.testing.assert_allclose(_fit(clone(estimator), X, y).predict(X), risk, rtol=1e-10)


@pytest.mark.parametrize("name, factory, data", TRANSFORMERS, ids=_ids(TRANSFORMERS))
def test_transform_and_pickle(name, factory, data, load):
    X, y = load(data)
    transformer = _fit(factory(), X, y)
    out = transformer.transform(X)
    restored = pickle.loads(pickle.dumps(transformer))
    if isinstance(transformer, CTPreprocessor):  # image tensors, one (channels, H, W) stack per patient
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape[:2] == (len(X), 3)
        np.testing.assert_array_equal(restored.transform(X), out)
        return
    assert isinstance(out, pd.DataFrame) and len(out) == len(X)
    assert list(out.columns) == list(transformer.get_feature_names_out())
    assert (out.dtypes == np.float64).all()
    pd.testing.assert_frame_equal(restored.transform(X), out)


@pytest.mark.parametrize("name, factory, data", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_not_fitted_error_before_fit(name, factory, data, load):
    X, _ = load(data)
    estimator = factory()
    if not estimator.__sklearn_tags__().requires_fit:
        pytest.skip(f"{name} learns nothing in fit")
    methods = ["predict", "predict_survival_function"] if hasattr(estimator, "predict") else ["transform"]
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(estimator, method)(X)


@pytest.mark.parametrize("name, factory, data", SURVIVAL, ids=_ids(SURVIVAL))
def test_integer_event_field_fits_as_the_bool_one(name, factory, data, load):
    """Issue 13: a 0/1 integer event field (the documented alternative to bool) failed inside scikit-survival."""
    X, y = load(data)
    event_name, time_name = y.dtype.names
    as_int = np.empty(len(y), dtype=[(event_name, "i8"), (time_name, "f8")])
    as_int[event_name], as_int[time_name] = y[event_name].astype(int), y[time_name]
    expected = _fit(factory(), X, y).predict(X)
    estimator = _fit(factory(), X, as_int)
    np.testing.assert_allclose(estimator.predict(X), expected, rtol=1e-10)
    assert estimator.score(X, as_int) == pytest.approx(estimator.score(X, y), abs=1e-12)
    assert as_int.dtype[event_name] == np.int64  # the user's target is not converted in place
