"""Shared fixtures: small cohorts written once per test session."""

import pytest
import torch

from sksurv_tace.datasets.synthetic import make_tace_cohort

# pytest -n 2 runs two workers on two cores: one torch thread each avoids oversubscription.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory):
    """A 24-patient synthetic cohort with small CT volumes (12 x 48 x 48), as ``(X, y, truth)``."""
    path = tmp_path_factory.mktemp("small_cohort")
    return make_tace_cohort(24, path=path, image_shape=(12, 48, 48), spacing=(3.0, 3.0, 3.0), random_state=7,
                            return_truth=True)  # fmt: skip


@pytest.fixture(scope="session")
def clinical_cohort(tmp_path_factory):
    """A 301-patient clinical-only synthetic cohort (no images), as ``(X, y, truth)``."""
    path = tmp_path_factory.mktemp("clinical_cohort")
    return make_tace_cohort(301, path=path, with_images=False, random_state=0, return_truth=True)


@pytest.fixture(scope="session")
def cohort(small_cohort):
    """``(X, y)`` of :func:`small_cohort` (test modules with another cohort define their own ``cohort``)."""
    X, y, _ = small_cohort
    return X, y


#: The smallest CTSurvival that still trains: 32 px ROIs, ResNet-18, 2 epochs.
TINY_CT = dict(max_epochs=2, batch_size=8, verbose=0, random_state=0)


@pytest.fixture(scope="session")
def tiny_ct_model(cohort):
    """A CTSurvival fitted on :func:`cohort` (32 px ROIs, 2 epochs); do not modify it in a test."""
    from sksurv_tace.models.deep import CTSurvival
    from sksurv_tace.preprocessing.imaging import CTPreprocessor

    return CTSurvival(image_preprocessor=CTPreprocessor(image_size=32), **TINY_CT).fit(*cohort)
