"""One cached, parallel per-patient map: ``(image, mask)`` files -> a result, for every image transformer.

:func:`map_patients` runs ``function(paths, label, columns, params)`` for every row of a patient
table. Results are cached on disk with :class:`joblib.Memory` (``sklearn.utils.validation.check_memory``)
keyed by the files' content (:func:`content_hash`), the function and ``params`` — never by the
paths, so moving a cohort keeps its cache and a changed file is recomputed. Cache hits are loaded
in the calling process; only misses go to joblib workers (``n_jobs``; any joblib backend, e.g.
``dask``). Used by :class:`~sksurv_tace.preprocessing.CTPreprocessor` and
:class:`~sksurv_tace.preprocessing.RadiomicsExtractor`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence

from joblib import Parallel, delayed
from sklearn.utils.validation import check_memory

from ._threads import parallel_stage
from ._validation import check_path, row_labels

__all__ = ["content_hash", "map_patients"]

_HASH_MEMO: dict[tuple, str] = {}


def _file_hash(path: str) -> str:
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _HASH_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASH_MEMO[key] = digest.hexdigest()
    return _HASH_MEMO[key]


def content_hash(path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (names and bytes, in name order).

    Memoised on ``(path, size, mtime, inode)``, so a file is read once per process.

    Parameters
    ----------
    path : str or path-like
        A file, or a folder (e.g. a DICOM series).

    Returns
    -------
    str
        Hex digest.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = file.write_text("abc")
    >>> content_hash(file)[:12]
    'ba7816bf8f01'
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        return _file_hash(path)
    digest = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            digest.update(name.encode() + b"\0" + _file_hash(full).encode())
    return digest.hexdigest()


def _cached_call(function_id, digests, params, function, paths, label, columns):
    """The cached entry point: joblib.Memory keys it on ``function_id``, ``digests`` and ``params`` only."""
    return function(paths, label, columns, params)


_IGNORED = ["function", "paths", "label", "columns"]


def _call_cached(memory, args: tuple):
    return memory.cache(_cached_call, ignore=_IGNORED)(*args)


def map_patients(
    function: Callable,
    X,
    columns: Sequence[str],
    params: dict,
    *,
    memory=None,
    n_jobs=None,
    progress: bool = False,
    desc: str = "patients",
) -> list:
    """``function(paths, label, columns, params)`` for every patient of ``X``, cached and in parallel.

    Parameters
    ----------
    function : callable
        A module-level function (picklable) of ``(paths, label, columns, params)``: ``paths`` the
        row's checked file paths in ``columns`` order, ``label`` the patient's name for messages.
    X : DataFrame
        One row per patient with the path ``columns``.
    columns : sequence of str
        Path columns, e.g. ``("ct", "mask")``.
    params : dict
        Everything else the result depends on; part of the cache key (joblib-hashable).
    memory : None, str, path-like or joblib.Memory, default=None
        Cache folder (:func:`sklearn.utils.validation.check_memory`); None computes every time.
    n_jobs : int or None, default=None
        joblib workers for the patients not in the cache.
    progress : bool, default=False
        Show a progress bar.
    desc : str, default="patients"
        Progress-bar label.

    Returns
    -------
    list
        One result per row, in row order.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a.txt", "b.txt"):
    ...     _ = (folder / name).write_text(name * 3)
    >>> X = pd.DataFrame({"patient_id": ["P1", "P2"], "file": [str(folder / "a.txt"), str(folder / "b.txt")]})
    >>> def size(paths, label, columns, params):
    ...     return pathlib.Path(paths[0]).stat().st_size * params["factor"]
    >>> map_patients(size, X, ["file"], {"factor": 2}, memory=str(folder / "cache"))
    [30, 30]
    """
    labels = row_labels(X)
    columns = tuple(columns)
    memory = check_memory(os.fspath(memory) if isinstance(memory, os.PathLike) else memory)
    rows = [
        tuple(check_path(value, label, column) for value, column in zip(values, columns, strict=True))
        for label, values in zip(labels, X[list(columns)].itertuples(index=False, name=None), strict=True)
    ]
    results = [None] * len(rows)
    from tqdm.auto import tqdm

    with tqdm(total=len(rows), disable=not progress, desc=desc, unit="patient") as bar:
        if memory.location is None:
            todo = list(range(len(rows)))
            tasks = [
                delayed(function)(paths, label, columns, params) for paths, label in zip(rows, labels, strict=True)
            ]
        else:  # cache hits are loaded here; only misses go to the workers
            cached = memory.cache(_cached_call, ignore=_IGNORED)
            function_id = f"{function.__module__}.{function.__qualname__}"
            keys = [
                (function_id, tuple(content_hash(p) for p in paths), params, function, paths, label, columns)
                for paths, label in zip(rows, labels, strict=True)
            ]
            todo = []
            for i, key in enumerate(keys):
                if cached.check_call_in_cache(*key):
                    results[i] = cached(*key)
                    bar.update()
                else:
                    todo.append(i)
            tasks = [delayed(_call_cached)(memory, keys[i]) for i in todo]
        if tasks:
            with parallel_stage(n_jobs):  # no idle worker left when the stage ends (issue 15)
                computed = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
                for i, result in zip(todo, computed, strict=True):
                    results[i] = result
                    bar.update()
    return results
