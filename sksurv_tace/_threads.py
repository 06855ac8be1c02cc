"""Thread settings of the CPU path, chosen in one place (issue 15).

The rule (``docs/scale.rst``): torch trains with one intra-op thread per core this process may run on
(:func:`os.sched_getaffinity`) less the cores busy with this package's own worker processes, and its OpenMP
threads wait passively (``OMP_WAIT_POLICY=PASSIVE``, set before torch is loaded where we can); a joblib-parallel
stage (radiomics, ROI preprocessing) keeps the parent's BLAS/OpenMP pools at one thread while its workers run, and
shuts loky's reusable workers down when it ends, so nothing of it is left alive while the nets train.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["available_cores", "configure_threads", "parallel_stage", "passive_openmp", "stop_idle_workers"]

#: What :func:`configure_threads` last set: ``(intra_op, inter_op)``; None before its first call.
_CHOSEN: tuple[int, int] | None = None


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity (a container's or ``taskset``'s limit), not the machine's.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> 1 <= available_cores() <= (os.cpu_count() or 1)
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def passive_openmp() -> bool:
    """Make OpenMP threads sleep, not spin, when they wait: ``OMP_WAIT_POLICY=PASSIVE`` unless the user set one.

    GNU OpenMP (torch's CPU backend) reads the variable once, when it is loaded: it takes effect in this process
    only if torch is not imported yet, and in every worker process started afterwards. With the default (active)
    policy a thread that reaches a barrier spins on its core; when another process takes the core of the thread it
    waits for, an epoch runs 10-25x slower (``benchmarks/RESULTS.md``, issue 15).

    Returns
    -------
    bool
        Whether this process's torch will wait passively (the variable is PASSIVE and torch not loaded before).

    Examples
    --------
    >>> isinstance(passive_openmp(), bool)
    True
    """
    loaded = "torch" in sys.modules
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # also read by the worker processes started later
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" and not loaded


def configure_threads(busy_workers: int = 0) -> tuple[int, int]:
    """Size torch's thread pools to the cores available, less ``busy_workers``; the same answer on every call.

    Intra-op threads: ``max(1, available_cores() - busy_workers)``, or fewer if torch was set to fewer (by the
    user, ``OMP_NUM_THREADS`` or ``torch.set_num_threads``): never raised, only lowered, so on a machine where torch
    already uses that many nothing changes, nor do any numbers. Inter-op threads: at most as many, set once per
    process (torch allows it only before its first parallel work; later calls keep what is set).
    Idle loky workers of a finished parallel stage are shut down first (:func:`stop_idle_workers`).

    Parameters
    ----------
    busy_workers : int, default=0
        Cores taken by worker processes of this run that are still computing.

    Returns
    -------
    (int, int)
        torch's intra-op and inter-op thread counts now.

    Examples
    --------
    >>> intra, inter = configure_threads()
    >>> 1 <= intra <= available_cores() and configure_threads() == (intra, inter)
    True
    """
    global _CHOSEN
    passive_openmp()
    stop_idle_workers()
    import torch

    intra = min(torch.get_num_threads(), max(1, available_cores() - max(0, int(busy_workers))))
    if torch.get_num_threads() != intra:
        torch.set_num_threads(intra)
    if _CHOSEN is None and torch.get_num_interop_threads() > intra:
        with contextlib.suppress(RuntimeError):  # parallel work already ran: torch refuses, keep its setting
            torch.set_num_interop_threads(intra)
    _CHOSEN = (torch.get_num_threads(), torch.get_num_interop_threads())
    return _CHOSEN


def stop_idle_workers(kill: bool = False) -> None:
    """Shut loky's reusable worker processes (joblib's default backend) down, if any are alive.

    Parameters
    ----------
    kill : bool, default=False
        Kill them rather than let them finish (after an error or an interrupt).

    Examples
    --------
    >>> stop_idle_workers()
    """
    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=kill)


@contextlib.contextmanager
def parallel_stage(n_jobs):
    """Around a joblib-parallel stage: the parent's BLAS/OpenMP pools at one thread while ``n_jobs`` workers run,
    and the workers shut down when it ends.

    With ``n_jobs`` None or 1 the work runs in this process: nothing is limited (numbers unchanged).

    Parameters
    ----------
    n_jobs : int or None
        As given to :class:`joblib.Parallel`.

    Examples
    --------
    >>> from joblib import Parallel, delayed
    >>> with parallel_stage(2):
    ...     Parallel(n_jobs=2)(delayed(abs)(-k) for k in range(3))
    [0, 1, 2]
    """
    if n_jobs is None or n_jobs == 1:
        yield
        return
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        stop_idle_workers()
