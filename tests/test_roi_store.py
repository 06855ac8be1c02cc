"""The deep models' on-disk ROI store (``roi_store=``, issue 12): same predictions, reuse, corruption, pickling."""

import os
import pickle

import numpy as np
import pytest

from sksurv_tace.datasets import make_tace_cohort
from sksurv_tace.models import ClinicalBranch, CTSurvival, FusionSurvival, _roi_store
from sksurv_tace.models._roi_store import ROIDataset, ROIStore, open_roi_store
from sksurv_tace.preprocessing import CTPreprocessor

QUICK = dict(max_epochs=1, batch_size=6, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return make_tace_cohort(12, path=tmp_path_factory.mktemp("cohort"), image_shape=(8, 40, 40), random_state=0)


def _store_files(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith("roi-store-"))


def test_store_holds_the_preprocessors_rois_and_is_reused(cohort, tmp_path, monkeypatch):
    X, _ = cohort
    monkeypatch.setattr(_roi_store, "_CHUNK_BYTES", 5 * 3 * 32 * 32 * 4)  # chunks of 16, 5, 5, ... patients
    pre = CTPreprocessor(image_size=32).fit(X)
    store = open_roi_store(pre, X, ["ct", "mask"], tmp_path)
    expected = pre.transform(X)
    on_disk = np.load(store.path, mmap_mode="r")  # a plain .npy file
    assert on_disk.shape == expected.shape == (12, 3, 32, 32)
    np.testing.assert_array_equal(on_disk, expected)
    order = [7, 2, 3, 4, 0, 11]  # runs and jumps, as a shuffled batch reads them
    np.testing.assert_array_equal(store.read(order), expected[order])
    stamp = os.stat(store.path).st_mtime_ns
    again = open_roi_store(CTPreprocessor(image_size=32, n_jobs=1).fit(X), X, ["ct", "mask"], tmp_path)
    assert again.path == store.path and os.stat(store.path).st_mtime_ns == stamp  # reused, not rewritten
    open_roi_store(pre, X.iloc[::-1], ["ct", "mask"], tmp_path)  # another row order: another file
    open_roi_store(CTPreprocessor(image_size=24).fit(X), X, ["ct", "mask"], tmp_path)  # another parameter
    assert len(_store_files(tmp_path)) == 3
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_dataset_gives_the_in_memory_items(cohort, tmp_path):
    X, _ = cohort
    pre = CTPreprocessor(image_size=32).fit(X)
    images = pre.transform(X)
    clinical, target = np.arange(24, dtype=np.float32).reshape(12, 2), np.ones((12, 4), np.float32)
    dataset = ROIDataset(open_roi_store(pre, X, ["ct", "mask"], tmp_path), clinical=clinical, target=target)
    item, y = dataset[3]
    np.testing.assert_array_equal(item["image"], images[3])
    np.testing.assert_array_equal(item["clinical"], clinical[3])
    batch, y = pickle.loads(pickle.dumps(dataset))[[5, 1]]  # pickles with its file open (DataLoader workers)
    np.testing.assert_array_equal(batch["image"], images[[5, 1]])
    assert y.shape == (2, 4)


@pytest.mark.parametrize("model", ["ct", "fusion_ensemble"])
def test_store_predictions_equal_in_memory(cohort, tmp_path, model):
    X, y = cohort
    if model == "ct":
        make = lambda **kw: CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), **QUICK, **kw)  # noqa: E731
    else:  # fold ensemble (its FixedSplit subsets) + BatchNorm recalibration over the training rows + clinical
        make = lambda **kw: FusionSurvival(  # noqa: E731
            image_preprocessor=CTPreprocessor(image_size=32),
            clinical=ClinicalBranch(select=False),
            n_ensemble=2,
            recalibrate_bn=True,
            **QUICK,
            **kw,
        )
    in_memory = make().fit(X, y)
    stored = make(roi_store=tmp_path / "store").fit(X, y)
    (name,) = _store_files(tmp_path / "store")
    stamp = os.stat(tmp_path / "store" / name).st_mtime_ns
    # bit-identical: the same float32 rows reach the net in the same batches and order, the same random draws
    np.testing.assert_array_equal(
        stored.predict_survival_function(X, return_array=True),
        in_memory.predict_survival_function(X, return_array=True),
    )
    assert _store_files(tmp_path / "store") == [name]  # prediction on the training rows reused the file
    assert os.stat(tmp_path / "store" / name).st_mtime_ns == stamp
    for a, b in zip(stored.learning_curve_["train_loss"], in_memory.learning_curve_["train_loss"], strict=True):
        assert a == b


def test_pickled_model_predicts_new_patients_elsewhere(cohort, tmp_path, monkeypatch):
    X, y = cohort
    model = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), roi_store="rois", early_stopping=None,
                       recalibrate_bn=False, **QUICK)  # fmt: skip
    monkeypatch.chdir(tmp_path)
    model.fit(X, y)
    blob = pickle.dumps(model)  # no open file, no memory map in the fitted model
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = pickle.loads(blob)
    new_X, _ = make_tace_cohort(5, path=tmp_path / "new", image_shape=(8, 40, 40), random_state=1)
    monkeypatch.chdir(tmp_path)
    expected = model.set_params(roi_store=None).predict(new_X)
    monkeypatch.chdir(elsewhere)
    np.testing.assert_array_equal(loaded.predict(new_X), expected)
    assert len(_store_files(elsewhere / "rois")) == 1  # the relative folder, created where the model now runs


def test_corrupt_or_short_store_is_refused(cohort, tmp_path):
    X, y = cohort
    pre = CTPreprocessor(image_size=32).fit(X)
    path = open_roi_store(pre, X, ["ct", "mask"], tmp_path).path
    size = os.path.getsize(path)
    os.truncate(path, size - 100)  # a store cut short
    model = CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), roi_store=tmp_path, **QUICK)
    with pytest.raises(ValueError, match=r"ROI store '.*roi-store-.*\.npy' is corrupt or truncated \(.* bytes on disk"):
        model.fit(X, y)
    with open(path, "r+b") as handle:  # a damaged header
        handle.write(b"garbage!")
    with pytest.raises(ValueError, match="corrupt or truncated .no valid .npy header"):
        open_roi_store(pre, X, ["ct", "mask"], tmp_path)
    store = ROIStore(open_roi_store(pre, X.iloc[:4], ["ct", "mask"], tmp_path).path)
    with pytest.raises(ValueError, match="holds 4 rows for a cohort of 12 patients"):
        ROIStore(store.path, n_rows=12)
    os.truncate(store.path, os.path.getsize(store.path) - 4)  # cut after it was opened: found when read
    with pytest.raises(ValueError, match=r"rows 3..3 could not be read in full"):
        store.read([3])


def test_store_parameters_are_checked(cohort, tmp_path):
    X, y = cohort
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    for params, message in [
        ({"roi_store": 3}, "roi_store must be None or a folder path"),
        ({"num_workers": -1}, "num_workers must be a non-negative int"),
        ({"roi_store": a_file}, "is a file; give a folder"),
    ]:
        with pytest.raises(ValueError, match=message):
            CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), **QUICK, **params).fit(X, y)
