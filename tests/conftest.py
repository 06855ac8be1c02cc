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
