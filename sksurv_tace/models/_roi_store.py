"""A persistent on-disk store of a cohort's tumour ROIs, and the torch ``Dataset`` that reads it (not public).

With ``roi_store=folder`` the deep models (:mod:`sksurv_tace.models.deep`) never hold a cohort's ROIs in
memory: :func:`open_roi_store` preprocesses the patients a chunk at a time (bounded memory) and appends
their ROIs to one ``.npy`` file, and :class:`ROIDataset` reads the rows of each batch from it.

Where the files go and what is never touched
--------------------------------------------
One file per cohort and preprocessing, ``<folder>/roi-store-<key>.npy``, where ``key`` hashes what the
preprocessing cache (:func:`~sksurv_tace._patients.map_patients`) is keyed by: the SHA-256 of every
patient's image and mask files in row order (:func:`~sksurv_tace._patients.content_hash`), the
preprocessor's class, parameters (all but ``n_jobs``, ``memory``, ``progress``) and cache version. A
second fit on the same patients and preprocessing reuses the file (never rewritten: its mtime stays);
any change of a file, a parameter or the rows' order makes a new one. The file is first written under a
temporary name in the same folder and then linked to its final name only if that name is free, so an
existing file (the user's or another process's) is never overwritten, and an interrupted write leaves
no half-written store under a store's name (only a ``.roi-store-*.tmp`` file to delete). Nothing removes
old stores: delete the folder's ``roi-store-*.npy`` files to reclaim the space.

Why positioned reads, not a memory map
--------------------------------------
The file is a plain ``.npy`` (``np.load(path, mmap_mode="r")`` opens it), but :class:`ROIDataset`
reads each batch's rows with ``seek`` + ``readinto`` into a fresh array instead of slicing a
``numpy.memmap``: the pages a memory map touches count in the process's resident set (one epoch
touches the whole store, so peak RSS grows to the store's size, see ``benchmarks/roi_store.py``) and
the whole mapping counts against an address-space limit (``RLIMIT_AS``). Read this way, the ROIs go
through the operating system's page cache, which the kernel shrinks under memory pressure, and the
process holds only the batches in flight.
"""

from __future__ import annotations

import os
import tempfile

import joblib
import numpy as np
import torch

from sksurv_tace._patients import content_hash
from sksurv_tace._validation import check_path, row_labels

__all__ = ["ROIStore", "ROIDataset", "open_roi_store", "store_key"]

STORE_VERSION = 1  # bump when the file layout changes
_CHUNK_BYTES = 128 << 20  # ROIs preprocessed and written per chunk (a few MB for small images)
_FIRST_CHUNK = 16  # patients of the first chunk, which tells the ROI's shape and size
_IGNORED_PARAMS = ("n_jobs", "memory", "progress")  # parameters that do not change a ROI


def store_key(preprocessor, X, columns) -> str:
    """The store's key: file contents in row order, the preprocessor's class, parameters and cache version.

    Raises a ``ValueError`` naming the patient and column when a path is missing.
    """
    from sksurv_tace.preprocessing import imaging

    labels = row_labels(X)
    digests = [
        tuple(content_hash(check_path(value, label, column)) for value, column in zip(values, columns, strict=True))
        for label, values in zip(labels, X[list(columns)].itertuples(index=False, name=None), strict=True)
    ]
    params = {k: v for k, v in preprocessor.get_params(deep=False).items() if k not in _IGNORED_PARAMS}
    kind = f"{type(preprocessor).__module__}.{type(preprocessor).__qualname__}"
    return joblib.hash((STORE_VERSION, imaging._CACHE_VERSION, kind, sorted(params.items()), digests))


class ROIStore:
    """A ``(n, ...)`` float32 ``.npy`` file of ROIs, read row by row; pickles as its path and shape.

    Opening checks the file (a ``.npy`` header, float32, C order, ``n_rows`` rows, as many bytes as the
    header declares) and raises a ``ValueError`` naming the file when it is corrupt or truncated.

    Parameters
    ----------
    path : str
    n_rows : int or None
        Rows expected (the cohort's patients); None accepts any.
    """

    def __init__(self, path: str, n_rows: int | None = None):
        self.path = os.fspath(path)
        self.shape, self.offset = _read_header(self.path)
        if n_rows is not None and self.shape[0] != n_rows:
            raise ValueError(self._corrupt(f"it holds {self.shape[0]} rows for a cohort of {n_rows} patients"))
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * 4
        self._handle = None
        self._pid = None

    def _corrupt(self, why: str) -> str:
        return (
            f"ROI store {self.path!r} is corrupt or truncated ({why}); delete it and fit again (it is rebuilt "
            "from the images)"
        )

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self):
        return {**self.__dict__, "_handle": None, "_pid": None}  # an open file does not pickle

    def _file(self):
        if self._handle is None or self._pid != os.getpid():  # a DataLoader worker opens its own
            self._handle, self._pid = open(self.path, "rb"), os.getpid()  # noqa: SIM115 (kept open)
        return self._handle

    def read(self, rows) -> np.ndarray:
        """The ROIs of ``rows`` (ints, any order), shape ``(len(rows), ...)``, float32; runs of rows in one read."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"rows out of range for the {self.shape[0]} rows of ROI store {self.path!r}")
        out = np.empty((rows.size, *self.shape[1:]), dtype=np.float32)
        flat = out.reshape(rows.size, -1)
        handle = self._file()
        start = 0
        while start < rows.size:
            stop = start + 1
            while stop < rows.size and rows[stop] == rows[stop - 1] + 1:
                stop += 1
            handle.seek(self.offset + int(rows[start]) * self.row_bytes)
            wanted = (stop - start) * self.row_bytes
            if handle.readinto(memoryview(flat[start:stop]).cast("B")) != wanted:
                raise ValueError(self._corrupt(f"rows {rows[start]}..{rows[stop - 1]} could not be read in full"))
            start = stop
        return out


def _read_header(path: str) -> tuple[tuple[int, ...], int]:
    """``(shape, data offset)`` of a float32 C-order ``.npy`` file whose size matches its header."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f".npy format version {version}")
            shape, fortran, dtype = readers[version](handle)
            offset = handle.tell()
    except (ValueError, OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"ROI store {path!r} is corrupt or truncated (no valid .npy header: {exc}); delete it "
                         "and fit again (it is rebuilt from the images)") from None  # fmt: skip
    size = os.path.getsize(path)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    problem = None
    if dtype != np.float32 or fortran or len(shape) < 2:
        problem = f"dtype {dtype}, shape {shape}, fortran order {fortran}; a C-order float32 (n, ...) array expected"
    elif size != expected:
        problem = f"{size} bytes on disk, its header declares {expected}"
    if problem:
        raise ValueError(f"ROI store {path!r} is corrupt or truncated ({problem}); delete it and fit again (it is "
                         "rebuilt from the images)")  # fmt: skip
    return tuple(int(s) for s in shape), offset


def open_roi_store(preprocessor, X, columns, folder) -> ROIStore:
    """The store of ``X``'s ROIs in ``folder`` under ``preprocessor`` (fitted): reused if there, else written.

    Writing preprocesses the patients a chunk at a time with ``preprocessor.transform`` (which uses its
    ``memory`` cache and ``n_jobs``) and appends each chunk to the file, so memory holds one chunk.

    Parameters
    ----------
    preprocessor : CTPreprocessor
        Fitted (its parameters and transform make the ROIs).
    X : DataFrame
        The cohort, with the path ``columns``.
    columns : sequence of str
        The path columns (CT, mask, ...), hashed into the key.
    folder : str or path-like
        Created if missing.

    Returns
    -------
    ROIStore
    """
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"roi_store={folder!r} is a file; give a folder for the ROI store files")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"roi-store-{store_key(preprocessor, X, columns)}.npy")
    if not os.path.exists(path):
        _write_store(preprocessor, X, folder, path)
    return ROIStore(path, n_rows=len(X))


def _write_store(preprocessor, X, folder: str, path: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix=".roi-store-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            n, start, chunk = len(X), 0, min(_FIRST_CHUNK, len(X))
            while start < n:
                rois = np.ascontiguousarray(preprocessor.transform(X.iloc[start : start + chunk]), dtype=np.float32)
                if start == 0:
                    header = {"descr": np.lib.format.dtype_to_descr(rois.dtype), "fortran_order": False,
                              "shape": (n, *rois.shape[1:])}  # fmt: skip
                    np.lib.format.write_array_header_2_0(out, header)
                    chunk = max(1, _CHUNK_BYTES // max(1, rois[0].nbytes))
                out.write(memoryview(rois).cast("B"))
                start += len(rois)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # fails if the name is taken: nothing is overwritten
        except FileExistsError:
            pass  # written meanwhile by another process from the same inputs
    finally:
        os.unlink(tmp)


class ROIDataset(torch.utils.data.Dataset):
    """Rows of a :class:`ROIStore` (plus in-memory clinical features and targets) as the net's inputs.

    ``dataset[i]`` is one patient, ``dataset[[i, j, ...]]`` a whole batch (one read per run of rows),
    both ``({"image": ...[, "clinical": ...]}, target)`` as :class:`skorch.dataset.Dataset` gives them
    for a :class:`skorch.helper.SliceDict`, so the net sees the same arrays as on the in-memory path.

    Parameters
    ----------
    store : ROIStore
    clinical : ndarray of shape (n, p) or None
    target : ndarray of shape (n, k) or None
        None: a placeholder target, as skorch gives for prediction.
    """

    def __init__(self, store: ROIStore, clinical=None, target=None):
        self.store = store
        self.clinical = clinical
        self.target = target

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index):
        single = np.ndim(index) == 0
        rows = np.atleast_1d(np.asarray(index, dtype=np.int64))
        image = self.store.read(rows)
        X = {"image": image[0] if single else image}
        if self.clinical is not None:
            X["clinical"] = self.clinical[rows[0]] if single else self.clinical[rows]
        if self.target is None:
            return X, torch.Tensor([0])
        return X, self.target[rows[0]] if single else self.target[rows]
