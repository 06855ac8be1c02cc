import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from sksurv.util import Surv

from sksurv_tace._validation import check_clinical_columns, check_survival_target, row_labels
from sksurv_tace.preprocessing.image_checks import check_image_paths


def _y(event, time):
    y = np.empty(len(time), dtype=[("event", float), ("time", float)])
    y["event"], y["time"] = event, time
    return y


def test_valid_target_passes_through():
    event, time = check_survival_target(Surv.from_arrays([True, False], [3.0, 4.0]))
    assert event.dtype == bool and event.tolist() == [True, False]
    assert time.tolist() == [3.0, 4.0]
    event, _ = check_survival_target(_y([1, 0], [3.0, 4.0]))
    assert event.tolist() == [True, False]


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (_y([1, 0, 1], [1.0, np.nan, 2.0]), r"missing or not finite at row 1"),
        (_y([1, 0, 1], [1.0, -2.0, 2.0]), r"negative at row 1; times count from the start of follow-up"),
        (_y([1, 0, 1], [0.0, -1e-9, 2.0]), r"negative at row 1;"),
        (_y([1, 0.5, 1], [1.0, 2.0, 2.0]), r"0/1 or bool; invalid value\(s\) \[0.5\] at row 1"),
        (_y([0, 0, 0], [1.0, 2.0, 2.0]), r"all 3 patients are censored"),
        (np.array([1.0, 2.0]), r"structured array"),
    ],
)
def test_bad_targets(y, message):
    with pytest.raises(ValueError, match=message):
        check_survival_target(y)


def test_length_mismatch_and_labels():
    X = pd.DataFrame({"patient_id": ["A", "B"]})
    with pytest.raises(ValueError, match="has 3 rows but X has 2"):
        check_survival_target(_y([1, 0, 1], [1.0, 2.0, 3.0]), n_samples=len(X))
    with pytest.raises(ValueError, match="at patient B"):
        check_survival_target(_y([1, 0], [1.0, -1.0]), labels=row_labels(X))
    assert row_labels(pd.DataFrame({"a": [1]}, index=["x"])) == ["row 'x'"]


def test_zero_time_accepted():
    # scikit-survival, lifelines and R's survival accept a death or censoring at time 0 (flchain has three)
    event, time = check_survival_target(_y([1, 0], [0.0, 0.0]))
    assert time.tolist() == [0.0, 0.0]
    assert event.tolist() == [True, False]


def test_missing_columns():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['ct'\]"):
        check_clinical_columns(pd.DataFrame({"mask": []}), ["ct", "mask"])
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        check_clinical_columns(np.zeros((2, 2)), ["ct"])


def _write(path, array, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return str(path)


@pytest.fixture
def image_pair(tmp_path):
    ct = np.full((4, 8, 8), 40, dtype=np.int16)
    mask = np.zeros((4, 8, 8), dtype=np.uint8)
    mask[2, 3:5, 3:5] = 1
    return _write(tmp_path / "ct.nii.gz", ct), _write(tmp_path / "mask.nii.gz", mask), tmp_path


def test_image_checks(image_pair):
    ct, mask, folder = image_pair
    good = pd.DataFrame({"patient_id": ["P1"], "ct": [ct], "mask": [mask]})
    check_image_paths(good)

    empty = _write(folder / "empty.nii.gz", np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"patient P2: mask .* is empty"):
        check_image_paths(pd.DataFrame({"patient_id": ["P1", "P2"], "ct": [ct, ct], "mask": [mask, empty]}))

    shifted = _write(folder / "shifted.nii.gz", np.ones((4, 8, 8), dtype=np.uint8), origin=(5.0, 0.0, 0.0))
    with pytest.raises(ValueError, match=r"patient P1: mask geometry differs .*origin"):
        check_image_paths(pd.DataFrame({"patient_id": ["P1"], "ct": [ct], "mask": [shifted]}))

    small = _write(folder / "small.nii.gz", np.ones((4, 8, 6), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"patient P1: mask geometry differs .*size"):
        check_image_paths(pd.DataFrame({"patient_id": ["P1"], "ct": [ct], "mask": [small]}))

    with pytest.raises(ValueError, match=r"patient P1: ct file .*nope.nii.gz' does not exist"):
        check_image_paths(pd.DataFrame({"patient_id": ["P1"], "ct": [str(folder / "nope.nii.gz")], "mask": [mask]}))

    garbage = folder / "garbage.nii.gz"
    garbage.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"patient P1: ct image .* cannot be read"):
        check_image_paths(pd.DataFrame({"patient_id": ["P1"], "ct": [str(garbage)], "mask": [mask]}))

    with pytest.raises(ValueError, match=r"patient P1: no 'ct' path"):
        check_image_paths(pd.DataFrame({"patient_id": ["P1"], "ct": [np.nan], "mask": [mask]}))
