"""Tests of the skorch survival estimators FusionSurvival and CTSurvival (tiny images, ResNet-18, 1-2 epochs)."""

import pickle
import shutil
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.dataset import Dataset
from sksurv.functions import StepFunction
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv

from sksurv_tace._survival import survival_at_times
from sksurv_tace.models._net import EventStratifiedSplit, SurvivalNet
from sksurv_tace.models.clinical_branch import ClinicalBranch
from sksurv_tace.models.deep import CTSurvival, FusionSurvival
from sksurv_tace.models.nn import ImageOnlyNet
from sksurv_tace.preprocessing.clinical import ClinicalPreprocessor
from sksurv_tace.preprocessing.cox_screen import CoxFeatureSelector
from sksurv_tace.preprocessing.imaging import CTPreprocessor

TINY = dict(image_preprocessor=CTPreprocessor(image_size=32), max_epochs=2, batch_size=8, verbose=0, random_state=0)
SCREEN = dict(p_univariate=0.2, p_multivariable=0.2)


@pytest.fixture(autouse=True, scope="module")
def _threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no factor reached p < ..." on 24 patients
        return model.fit(X, y)


@pytest.fixture(scope="module")
def fusion(cohort):
    return _fit(FusionSurvival(**TINY, clinical=ClinicalBranch(**SCREEN)), *cohort)


@pytest.fixture(scope="module")
def ct_model(tiny_ct_model):
    return tiny_ct_model


@pytest.mark.parametrize("name", ["fusion", "ct_model"])
def test_survival_functions_are_monotone_probabilities(name, request, cohort):
    model = request.getfixturevalue(name)
    X, y = cohort
    surv = model.predict_survival_function(X, return_array=True)
    assert surv.shape == (len(X), 5)
    np.testing.assert_array_equal(model.unique_times_, [0, 365, 730, 1095, 1460])
    assert np.all(surv[:, 0] == 1.0)
    assert np.all((surv >= 0) & (surv <= 1))
    assert np.all(np.diff(surv, axis=1) <= 0)
    functions = model.predict_survival_function(X.iloc[:3])
    assert all(isinstance(f, StepFunction) for f in functions)
    for f, row in zip(functions, surv[:3], strict=True):
        np.testing.assert_allclose(f(model.unique_times_), row)
    # piecewise constant between the cuts, dropping at each cut
    at = model.predict_survival_at(X.iloc[:3], [0.0, 200.0, 364.9, 365.0, 1000.0, 1095.0, 1460.0])
    np.testing.assert_allclose(at, surv[:3][:, [0, 0, 0, 1, 2, 3, 4]])


@pytest.mark.parametrize("name", ["fusion", "ct_model"])
def test_risk_is_one_minus_survival_at_horizon(name, request, cohort):
    model = request.getfixturevalue(name)
    X, y = cohort
    risk = model.predict(X)
    s3 = model.predict_survival_function(X, return_array=True)[:, 3]  # S(1095) = h1 h2 h3
    np.testing.assert_allclose(risk, 1.0 - s3)
    np.testing.assert_array_equal(rankdata(risk), rankdata(-s3))
    assert model.score(X, y) == pytest.approx(concordance_index_censored(y["event"], y["time"], risk)[0], abs=1e-12)
    assert np.ptp(risk) > 0  # the net does not predict one constant


def test_same_seed_same_predictions_other_seed_differs(fusion, cohort):
    X, y = cohort
    again = _fit(clone(fusion), X, y)
    np.testing.assert_array_equal(again.predict(X), fusion.predict(X))
    other = _fit(clone(fusion).set_params(random_state=1), X, y)
    assert not np.allclose(other.predict(X), fusion.predict(X))


@pytest.mark.parametrize("name", ["fusion", "ct_model"])
def test_pickle_and_joblib_round_trip(name, request, cohort, tmp_path):
    model = request.getfixturevalue(name)
    X, _ = cohort
    risk = model.predict(X)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), risk)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(X), risk)
    assert loaded.get_params()["device"] == "auto"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback of a net saved for CUDA")
def test_net_saved_for_cuda_loads_on_cpu(ct_model, cohort):
    from skorch.exceptions import DeviceWarning

    X, _ = cohort
    risk = ct_model.predict(X)
    cuda_model = pickle.loads(pickle.dumps(ct_model))
    cuda_model.net_.device = "cuda"  # as pickled by a CUDA machine
    with pytest.warns(DeviceWarning):
        restored = pickle.loads(pickle.dumps(cuda_model))
    assert str(restored.net_.device) == "cpu"
    # the LR scheduler inside callbacks_ references the optimizer: it must travel with the device-mapped state
    assert "callbacks_" in ct_model.net_.cuda_dependent_attributes_
    np.testing.assert_array_equal(restored.predict(X), risk)


def test_device_auto_is_kept_as_a_parameter(ct_model, cohort):
    assert ct_model.get_params(deep=False)["device"] == "auto"
    assert ct_model.net_.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert clone(ct_model).get_params(deep=False)["device"] == "auto"
    assert next(ct_model.net_.module_.parameters()).device.type == ct_model.net_.device
    with pytest.raises(ValueError, match="device"):
        clone(ct_model).set_params(device="gpu0").fit(*cohort)


def test_skorch_methods_are_not_public_on_the_estimators():
    for model in (CTSurvival(), FusionSurvival()):
        for name in ("partial_fit", "predict_proba", "initialize", "module_", "callbacks_"):
            assert not hasattr(model, name)


def test_clinical_branch_uses_cox_selected_training_factors(fusion, cohort):
    X, y = cohort
    clinical = X.drop(columns=["patient_id", "ct", "mask"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        design = ClinicalPreprocessor().fit_transform(clinical)
        expected = CoxFeatureSelector(**SCREEN).fit(design, y).selected_features_
    assert fusion.clinical_.selected_features_ == expected
    assert fusion.net_.module_.clinical.net[0].in_features == len(expected)
    assert fusion.net_.module_.encoder.out_features == 512


def test_selection_off_and_hidden_widths(cohort):
    X, y = cohort
    model = FusionSurvival(**{**TINY, "max_epochs": 1}, clinical=ClinicalBranch(select=False), hidden=(8,))
    model = _fit(model, X, y)
    assert model.clinical_.selected_features_ == list(ClinicalPreprocessor().fit(X).get_feature_names_out())
    assert model.net_.module_.clinical.net[0].out_features == 8
    assert model.get_params()["hidden"] == (8,)


def test_grid_search_with_td_auc_scorer(cohort):
    from sksurv_tace.metrics.scoring import make_survival_scorer

    X, y = cohort
    # binary/numeric factors only: a 12-patient fold may miss a level of a 4-level factor (refused at predict)
    columns = ["age", "mvi", "albi_grade", "tumor_size"]
    grid = {"image_preprocessor__margin_mm": [20, 50], "clinical__p_univariate": [0.05, 0.2]}
    search = GridSearchCV(
        FusionSurvival(**{**TINY, "max_epochs": 1}, clinical=ClinicalBranch(columns=columns, p_multivariable=0.2)),
        grid,
        scoring=make_survival_scorer("td_auc", horizon=1095),
        cv=2,
        error_score="raise",
    )
    _fit(search, X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert best.image_preprocessor_.margin_mm == search.best_params_["image_preprocessor__margin_mm"]
    assert best.clinical_.p_univariate == search.best_params_["clinical__p_univariate"]
    assert best.predict(X).shape == (len(X),)
    # the sub-estimators the user passed are cloned, never fitted in place
    assert not hasattr(search.estimator.clinical, "selected_features_")


def test_early_stopping_on_event_stratified_split(cohort):
    X, y = cohort
    model = _fit(CTSurvival(**{**TINY, "max_epochs": 3}, early_stopping="loss", patience=1, valid_fraction=0.25), X, y)
    history = model.history_
    assert "valid_loss" in history[-1]
    assert len(history) <= 3
    assert model.net_.callbacks_ == [] and model.net_.optimizer_ is None  # dropped after fit by default
    kept = _fit(clone(model).set_params(save_optimizer=True), X, y)
    assert "early_stopping" in dict(kept.net_.callbacks_) and kept.net_.optimizer_ is not None
    np.testing.assert_array_equal(kept.predict(X), model.predict(X))


def test_saved_model_is_about_the_size_of_its_weights(ct_model):
    import io

    weights = io.BytesIO()
    torch.save(ct_model.net_.module_.state_dict(), weights)
    size = len(pickle.dumps(ct_model))
    assert size <= 1.2 * weights.getbuffer().nbytes, (size, weights.getbuffer().nbytes)


def test_epoch_table_has_no_colour_codes_in_a_redirected_log(cohort, capsys):
    X, y = cohort
    _fit(CTSurvival(**{**TINY, "max_epochs": 1, "verbose": 1}), X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "\x1b[" not in out


def test_event_stratified_split_keeps_event_share():
    y = np.zeros((40, 2))
    y[:10, 1] = 1.0  # 25% deaths
    train, valid = EventStratifiedSplit(0.2, random_state=0)(np.arange(40), y)
    assert len(valid) == 8 and len(train) == 32
    assert y[valid.indices, 1].sum() == 2  # 25% of 8
    assert set(train.indices).isdisjoint(valid.indices)


def test_survival_at_times_is_piecewise_constant():
    surv = np.array([[1.0, 0.8, 0.5]])
    got = survival_at_times(surv, [0, 10, 20], [0, 9.99, 10, 15, 20])
    np.testing.assert_array_equal(got, [[1.0, 1.0, 0.8, 0.8, 0.5]])
    with pytest.raises(ValueError, match="beyond the last interval cut"):
        survival_at_times(surv, [0, 10, 20], [25])


# ------------------------------------------------------------------------------------------------ bad input


def test_bad_horizon_and_times(ct_model, cohort):
    X, y = cohort
    with pytest.raises(ValueError, match="horizon"):
        CTSurvival(**TINY, horizon=2000).fit(X, y)
    with pytest.raises(ValueError, match="beyond the last interval cut"):
        ct_model.predict_survival_at(X, [1500.0])
    with pytest.raises(ValueError, match="horizon"):
        clone(ct_model).set_params(cuts=(0, 365, 730)).fit(X, y)


def test_missing_columns_and_bad_targets(fusion, cohort):
    X, y = cohort
    with pytest.raises(ValueError, match="ct"):
        CTSurvival(**TINY).fit(X.drop(columns=["ct"]), y)
    with pytest.raises(ValueError, match="mvi"):
        fusion.predict(X.drop(columns=["mvi"]))
    with pytest.raises(ValueError, match="DataFrame"):
        CTSurvival(**TINY).fit(X.to_numpy(), y)
    all_censored = Surv.from_arrays(np.zeros(len(X), bool), y["time"])
    with pytest.raises(ValueError, match="censored"):
        CTSurvival(**TINY).fit(X, all_censored)


def _copy_patient(X, tmp_path, edit):
    """Copy the first patient's files, apply ``edit(ct_image, mask_image) -> (ct, mask)``, return a new X."""
    ct = sitk.ReadImage(X["ct"].iloc[0])
    mask = sitk.ReadImage(X["mask"].iloc[0])
    ct, mask = edit(ct, mask)
    X = X.copy()
    for column, image in (("ct", ct), ("mask", mask)):
        path = tmp_path / f"{column}.nii.gz"
        sitk.WriteImage(image, str(path))
        X.loc[X.index[0], column] = str(path)
    return X


def test_empty_mask_is_refused(cohort, tmp_path):
    X, y = cohort

    def empty(ct, mask):
        return ct, mask * 0

    bad = _copy_patient(X, tmp_path, empty)
    with pytest.raises(ValueError, match=str(X["patient_id"].iloc[0])):
        CTSurvival(**TINY).fit(bad, y)


def test_mask_of_another_size_is_refused(cohort, tmp_path):
    X, y = cohort

    def shrink(ct, mask):
        return ct, mask[:, :, : mask.GetSize()[2] - 2]

    bad = _copy_patient(X, tmp_path, shrink)
    with pytest.raises(ValueError, match="(?i)size|geometry"):
        CTSurvival(**TINY).fit(bad, y)


def test_volumes_of_different_sizes_share_one_roi_grid(ct_model, cohort, tmp_path):
    X, _ = cohort

    def pad(ct, mask):  # another in-plane size for this patient only (CT and mask still agree)
        return sitk.ConstantPad(ct, (6, 10, 0), (6, 10, 0), -1000), sitk.ConstantPad(mask, (6, 10, 0), (6, 10, 0), 0)

    padded = _copy_patient(X.iloc[:3], tmp_path, pad)
    assert sitk.ReadImage(padded["ct"].iloc[0]).GetSize() != sitk.ReadImage(padded["ct"].iloc[1]).GetSize()
    inputs = ct_model.prepare_inputs(padded)
    assert inputs["image"].shape == (3, 3, 32, 32)
    # padding with air keeps the physical ROI (the crop fills outside the volume with -1000 HU too)
    np.testing.assert_allclose(inputs["image"], ct_model.prepare_inputs(X.iloc[:3])["image"], atol=1e-6)
    np.testing.assert_allclose(ct_model.predict(padded), ct_model.predict(X.iloc[:3]), atol=1e-6)


def test_missing_file_is_refused(ct_model, cohort, tmp_path):
    X, y = cohort
    moved = X.copy()
    target = tmp_path / "moved.nii.gz"
    shutil.copy(X["ct"].iloc[1], target)
    moved.loc[moved.index[1], "ct"] = str(tmp_path / "does_not_exist.nii.gz")
    with pytest.raises(ValueError, match="does_not_exist"):
        ct_model.predict(moved)


def test_fusion_without_clinical_columns_uses_the_image_alone(cohort):
    X, y = cohort
    with pytest.warns(UserWarning, match="no clinical feature"):
        model = FusionSurvival(**{**TINY, "max_epochs": 1}).fit(X[["patient_id", "ct", "mask"]], y)
    assert model.clinical_.selected_features_ == [] and model.net_.module_.clinical is None
    assert np.isfinite(model.predict(X)).all()


def test_params_are_tunable_and_untouched_by_fit(cohort):
    model = CTSurvival(**TINY, backbone="resnet34", dropout=0.3)
    params = model.get_params(deep=False)
    assert params["backbone"] == "resnet34" and params["dropout"] == 0.3 and "train_split" not in params
    assert isinstance(pd.Series(params), pd.Series)
    assert model.set_params(lr=0.05).lr == 0.05


def test_training_batches_are_shuffled_and_no_batch_of_one():
    from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

    net = SurvivalNet(ImageOnlyNet, batch_size=8)
    dataset = Dataset(np.arange(17, dtype=np.float32)[:, None], np.zeros((17, 2), np.float32))
    train = net.get_iterator(dataset, training=True)
    assert isinstance(train.sampler, BatchSampler) and isinstance(train.sampler.sampler, RandomSampler)
    assert train.sampler.drop_last  # 17 = 2 * 8 + 1
    batches = [x for x, _ in train]
    assert [len(b) for b in batches] == [8, 8]
    valid = [x for x, _ in net.get_iterator(dataset, training=False)]
    assert torch.cat(valid)[:, 0].tolist() == list(range(17))  # prediction order kept, last batch of one kept
    assert isinstance(net.get_iterator(dataset, training=False).sampler.sampler, SequentialSampler)
    assert not net.get_iterator(Dataset(np.zeros((18, 1)), np.zeros((18, 2))), training=True).sampler.drop_last
    unshuffled = SurvivalNet(ImageOnlyNet, batch_size=8, iterator_train__shuffle=False)
    unshuffled = unshuffled.get_iterator(dataset, training=True)
    assert isinstance(unshuffled.sampler.sampler, SequentialSampler)


def _members_survival(model, X):
    """Each member's S at the cuts from its torch module directly: sigmoid, cumulative product, S(0) = 1 first."""
    inputs = {k: torch.as_tensor(v) for k, v in model.prepare_inputs(X).items()}
    out = []
    for net in model.nets_:
        with torch.no_grad():
            logits = net.module_.eval()(**inputs).double().numpy()
        out.append(np.column_stack([np.ones(len(X)), np.cumprod(1.0 / (1.0 + np.exp(-logits)), axis=1)]))
    return np.stack(out)


def test_fold_ensemble_averages_members_trained_on_internal_folds(cohort):
    X, y = cohort
    model = CTSurvival(**TINY, n_ensemble=2)
    model.fit(X, y)
    assert len(model.nets_) == 2 and model.net_ is model.nets_[0]
    assert model.best_epoch_.shape == (2,) and set(model.best_epoch_) <= {1, 2}
    # each member validates on its held-out fold, trains on the rest: the folds partition the patients
    splits = [net.train_split for net in model.nets_]
    held_out = [np.asarray(s.valid) for s in splits]
    assert sorted(np.concatenate(held_out).tolist()) == list(range(len(X)))
    for split in splits:
        assert not set(split.train) & set(split.valid) and len(split.train) + len(split.valid) == len(X)
    members = _members_survival(model, X)
    assert not np.allclose(members[0], members[1])
    mean = members.mean(axis=0)
    np.testing.assert_allclose(model.predict_survival_function(X, return_array=True), mean, rtol=1e-5)
    np.testing.assert_allclose(model.predict(X), 1.0 - mean[:, 3], rtol=1e-5)
    again = clone(model).fit(X, y)  # deterministic under random_state
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))
    curve = model.learning_curve_
    assert list(curve.columns) == ["member", "epoch", "train_loss", "valid_loss", "best"]
    assert curve.groupby("member")["best"].sum().tolist() == [1, 1]
    with pytest.raises(ValueError, match="n_ensemble"):
        CTSurvival(**TINY, n_ensemble=0).fit(X, y)


def test_single_net_learning_curve_and_best_epoch(ct_model):
    curve = ct_model.learning_curve_
    history = ct_model.history_
    np.testing.assert_allclose(curve["train_loss"], history[:, "train_loss"])
    np.testing.assert_allclose(curve["valid_loss"], history[:, "valid_loss"])
    best = int(ct_model.best_epoch_[0])
    assert curve.loc[curve["best"], "epoch"].tolist() == [best]
    assert curve["valid_loss"].iloc[best - 1] == curve["valid_loss"].min()  # the epoch early stopping restored


def test_constant_hazard_interpolation_between_cuts(ct_model, cohort):
    X, _ = cohort
    step = ct_model.predict_survival_function(X.iloc[:4], return_array=True)
    smooth = pickle.loads(pickle.dumps(ct_model)).set_params(interpolation="constant_hazard")
    at = smooth.predict_survival_at(X.iloc[:4], [182.5, 365.0, 912.5, 1095.0])
    # constant hazard in (c_k, c_k+1]: S at the midpoint is the geometric mean of S at the two cuts
    np.testing.assert_allclose(at[:, 0], np.sqrt(step[:, 0] * step[:, 1]), rtol=1e-12)
    np.testing.assert_allclose(at[:, 2], np.sqrt(step[:, 2] * step[:, 3]), rtol=1e-12)
    np.testing.assert_allclose(at[:, [1, 3]], step[:, [1, 3]], rtol=1e-12)  # the cuts are unchanged
    np.testing.assert_allclose(smooth.predict(X.iloc[:4]), ct_model.predict(X.iloc[:4]))  # horizon on a cut
    functions = smooth.predict_survival_function(X.iloc[:2])
    np.testing.assert_allclose([f(182.5)[0] for f in functions], at[:2, 0], rtol=1e-12)
    with pytest.raises(ValueError, match="interpolation"):
        pickle.loads(pickle.dumps(ct_model)).set_params(interpolation="linear").predict(X.iloc[:2])


def test_censoring_rule_is_checked_and_used(cohort):
    X, y = cohort
    with pytest.raises(ValueError, match="censoring"):
        CTSurvival(**TINY, censoring="midpoint").fit(X, y)


def test_recalibrated_batchnorm_holds_the_training_rows_statistics(cohort):
    X, y = cohort
    # early_stopping=None: all 24 patients train, in three equal batches of 8 (the running mean is their mean)
    options = {**TINY, "max_epochs": 1, "early_stopping": None, "augment": False}
    model = CTSurvival(**options, recalibrate_bn=True).fit(X, y)
    stale = CTSurvival(**options, recalibrate_bn=False).fit(X, y)
    backbone = model.net_.module_.encoder.backbone
    with torch.no_grad():
        conv = backbone.conv1(torch.as_tensor(model.prepare_inputs(X)["image"]))
    np.testing.assert_allclose(
        backbone.bn1.running_mean.numpy(), conv.mean(dim=(0, 2, 3)).numpy(), rtol=1e-4, atol=1e-6
    )
    assert not np.allclose(stale.net_.module_.encoder.backbone.bn1.running_mean.numpy(), conv.mean(dim=(0, 2, 3)))
    # the same weights: recalibration draws no random number and leaves training untouched
    torch.testing.assert_close(backbone.conv1.weight, stale.net_.module_.encoder.backbone.conv1.weight)


def test_baseline_bias_starts_at_the_life_table(cohort):
    from sksurv_tace.models.nn import baseline_logits, encode_survival

    X, y = cohort
    model = CTSurvival(**{**TINY, "max_epochs": 1, "early_stopping": None}, baseline_bias=True, lr=0.0).fit(X, y)
    index, died = encode_survival(y["time"], y["event"])
    expected = baseline_logits(index, died, 4)
    np.testing.assert_allclose(model.net_.module_.head.bias.detach().numpy(), expected, rtol=1e-6)


def test_warmup_then_cosine_learning_rate_per_epoch(cohort):
    # closed form: epoch k (1-based) of a 3-epoch warm-up trains at k/3 of lr, then cosine decay to 0 at max_epochs
    X, y = cohort
    lr, epochs, warmup = 1e-3, 6, 3
    options = {**TINY, "max_epochs": epochs, "early_stopping": None, "augment": False, "lr": lr}
    model = CTSurvival(**options, warmup_epochs=warmup).fit(X, y)
    lrs = np.array(model.net_.history[:, "event_lr"])
    decay = 0.5 * (1 + np.cos(np.pi * np.arange(1, epochs - warmup + 1) / (epochs - warmup + 1)))
    np.testing.assert_allclose(lrs, lr * np.r_[[1 / 3, 2 / 3, 1.0], decay], rtol=1e-12)
    # no warm-up: torch's CosineAnnealingLR over max_epochs, as before the option existed
    plain = CTSurvival(**options).fit(X, y)
    cosine = 0.5 * (1 + np.cos(np.pi * np.arange(epochs) / epochs))
    np.testing.assert_allclose(np.array(plain.net_.history[:, "event_lr"]), lr * cosine, rtol=1e-12)
    pickle.loads(pickle.dumps(model))  # the schedule is a class, not a lambda


@pytest.mark.parametrize(
    "options, message",
    [
        ({"warmup_epochs": -1}, "warmup_epochs must be an int"),
        ({"warmup_epochs": 2.5}, "warmup_epochs must be an int"),
        ({"warmup_epochs": 2, "max_epochs": 2}, r"in \[0, max_epochs\)"),
        ({"warmup_epochs": 1, "lr_schedule": None}, "needs lr_schedule='cosine'"),
    ],
)
def test_bad_warmup_is_refused(cohort, options, message):
    with pytest.raises(ValueError, match=message):
        CTSurvival(**{**TINY, **options}).fit(*cohort)
