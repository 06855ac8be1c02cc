"""Thread settings of the CPU path (issue 15): sized to the cores this process may use, the same on every call."""

import os

import pytest
import torch
from joblib import Parallel, delayed

from sksurv_tace import _threads


def test_available_cores_follows_the_affinity():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert _threads.available_cores() == expected >= 1


@pytest.mark.parametrize("busy", [0, 1, 64])
def test_configure_threads_never_exceeds_the_free_cores_and_is_idempotent(busy):
    before = torch.get_num_threads()
    try:
        first = _threads.configure_threads(busy_workers=busy)
        assert first == _threads.configure_threads(busy_workers=busy)  # idempotent
        intra, inter = first
        assert 1 <= intra <= min(before, max(1, _threads.available_cores() - busy)) and intra == torch.get_num_threads()
        assert 1 <= inter
    finally:
        torch.set_num_threads(before)


def test_configure_threads_never_raises_a_users_setting():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # as tests/conftest.py does
        assert _threads.configure_threads() == (1, torch.get_num_interop_threads())
    finally:
        torch.set_num_threads(before)


def test_passive_openmp_keeps_a_users_choice(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert _threads.passive_openmp() is False and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    _threads.passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_a_parallel_stage_leaves_no_worker_alive():
    from joblib.externals.loky import reusable_executor

    with _threads.parallel_stage(2):
        assert Parallel(n_jobs=2)(delayed(abs)(-k) for k in range(4)) == [0, 1, 2, 3]
    executor = reusable_executor._executor
    assert executor is None or (executor._flags.shutdown and not executor._processes)
