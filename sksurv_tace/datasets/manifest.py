"""A user's cohort as a CSV manifest: :func:`write_manifest` and :func:`load_manifest`."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import numpy as np
import pandas as pd

from sksurv_tace._validation import check_clinical_columns, check_survival_target, describe_rows, row_labels
from sksurv_tace.datasets._schema import CATEGORIES, TIME_UNITS

__all__ = ["load_manifest", "write_manifest"]


def _tidy_dtypes(X):
    X = X.copy()
    for column, levels in CATEGORIES.items():
        if column in X:
            X[column] = pd.Categorical(X[column].astype(str), categories=levels)
    return X.reset_index(drop=True)


def write_manifest(path, X: pd.DataFrame, y, *, image_columns=("ct", "mask")) -> Path:
    """Write a cohort as a CSV manifest: ``patient_id``, ``time``, ``event``, clinical columns, image paths.

    Image paths are written relative to the manifest's folder when they lie under it,
    so the folder can be moved as a whole.

    Parameters
    ----------
    path : str or path-like
        The CSV file to write.
    X : DataFrame
        One row per patient (with a ``patient_id`` column, or one is made from the index).
    y : structured array
        Survival target, times in days.
    image_columns : sequence of str, default=("ct", "mask")
        Path columns to write relative to the manifest.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from sksurv.util import Surv
    >>> folder = tempfile.mkdtemp()
    >>> X = pd.DataFrame({"patient_id": ["a", "b"], "age": [60.0, 70.0]})
    >>> write_manifest(folder + "/manifest.csv", X, Surv.from_arrays([1, 0], [100.0, 200.0])).name
    'manifest.csv'
    """
    path = Path(path)
    event, time = check_survival_target(y, n_samples=len(X), labels=row_labels(X), require_event=False)
    table = X.copy()
    if "patient_id" not in table:
        table.insert(0, "patient_id", [str(i) for i in table.index])
    base = path.parent.resolve()
    for column in image_columns:
        if column in table:
            table[column] = [_relative_to(p, base) for p in table[column]]
    table.insert(1, "time", time)
    table.insert(2, "event", event.astype(int))
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, lineterminator="\n")
    return path


def _relative_to(value, base: Path) -> str:
    p = Path(value)
    try:
        return p.resolve().relative_to(base).as_posix()
    except ValueError:
        return str(value)


def _decoding_error(path: Path, encoding: str, exc: UnicodeError) -> str:
    """The message for a manifest that is not ``encoding`` text: the file, the first bad byte's position and line."""
    raw = path.read_bytes()
    try:
        raw.decode(encoding)  # the whole file, so the position is from its start (pandas decodes in chunks)
    except UnicodeDecodeError as whole:
        start = whole.start
        line = raw[:start].decode(encoding, errors="replace").count("\n") + 1
        where = f": byte 0x{raw[start]:02x} at byte position {start} (line {line}) cannot be decoded ({whole.reason})"
    else:
        where = f" ({exc})"
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = 'it starts with a UTF-16 byte-order mark: pass encoding="utf-16"'
    else:
        hint = 'pass the file\'s encoding, e.g. encoding="cp1252" (Excel on Windows) or "latin-1", or save it as UTF-8'
    return f"manifest {str(path)!r} is not {encoding} text{where}; {hint}"


def load_manifest(
    path,
    *,
    id_column: str = "patient_id",
    time_column: str = "time",
    event_column: str = "event",
    image_columns=("ct", "mask"),
    time_unit: str = "days",
    categorical=None,
    check_files: bool = True,
    encoding: str = "utf-8",
):
    """Load a cohort from a CSV manifest.

    Parameters
    ----------
    path : str or path-like
        CSV with one row per patient: an id, the survival time, the event (1 = death,
        0 = censored), clinical columns, and optionally image path columns (relative to
        the CSV's folder, or absolute).
    id_column, time_column, event_column : str
        Names of the id, time and event columns. The id column is kept in ``X`` as
        ``patient_id``; time and event go into ``y``.
    image_columns : sequence of str, default=("ct", "mask")
        Path columns, made absolute. Columns not present are ignored (clinical-only cohort).
    time_unit : {"days", "weeks", "months", "years"}, default="days"
        Unit of ``time_column``; times are converted to days (a month is 365.25/12 days).
    categorical : sequence of str, optional
        Columns to read as categorical in addition to text columns (e.g. integer-coded stages).
    check_files : bool, default=True
        Raise when image files do not exist, naming every missing one (reading, geometry and
        masks are checked by :func:`~sksurv_tace.preprocessing.image_checks.check_image_paths`,
        which ``reproduce`` and the image transformers' ``fit`` run).
    encoding : str, default="utf-8"
        Text encoding of the CSV (a UTF-8 byte-order mark is skipped). A CSV saved by
        Excel on Windows is often ``"cp1252"``; ``"utf-16"`` for "Unicode text" exports.

    Returns
    -------
    X : DataFrame
        ``patient_id``, clinical columns (text columns as ``category``), absolute image paths.
    y : structured array
        ``event`` (bool) and ``time`` in days.

    Raises
    ------
    ValueError
        Naming the patient and the problem: a missing column, a bad time or event,
        a duplicated patient id, an image path that does not exist; or naming the file,
        the byte position and line when it is not text in ``encoding`` (suggesting an
        ``encoding=``).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> from sksurv_tace.datasets import make_tace_cohort
    >>> X, y = make_tace_cohort(10, path=folder, with_images=False, random_state=0)
    >>> X2, y2 = load_manifest(folder + "/manifest.csv")
    >>> X2.equals(X), bool((y2 == y).all())
    (True, True)

    A manifest saved in another encoding is read with ``encoding=``:

    >>> _ = open(folder + "/latin.csv", "w", encoding="cp1252").write("patient_id,time,event\\nJosé,100,1\\n")
    >>> X3, _ = load_manifest(folder + "/latin.csv", encoding="cp1252")
    >>> X3["patient_id"].tolist()
    ['José']
    """
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(f"encoding {encoding!r} is not an encoding Python knows (e.g. 'utf-8', 'cp1252')") from None
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"manifest {str(path)!r} does not exist")
    try:
        table = pd.read_csv(path, dtype={id_column: str}, encoding=encoding)
    except UnicodeError as exc:
        raise ValueError(_decoding_error(path, encoding, exc)) from None
    check_clinical_columns(table, [id_column, time_column, event_column], what=f"manifest {path.name}")
    table = table.rename(columns={id_column: "patient_id"})
    labels = [f"patient {p}" for p in table["patient_id"]]
    duplicated = table["patient_id"].duplicated(keep=False)
    if duplicated.any():
        raise ValueError(f"manifest {path.name}: patient id(s) {sorted(set(table['patient_id'][duplicated]))} repeat")
    time = pd.to_numeric(table.pop(time_column), errors="coerce").to_numpy(dtype=float) * TIME_UNITS[time_unit]
    raw_event = pd.to_numeric(table.pop(event_column), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(raw_event) | ~np.isin(raw_event, (0.0, 1.0))
    if bad.any():
        rows = describe_rows(labels, bad)
        raise ValueError(f"manifest {path.name}: column {event_column!r} must be 0 or 1; invalid at {rows}")
    y = np.empty(len(table), dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = raw_event.astype(bool), time
    check_survival_target(y, labels=labels, require_event=False, name=f"manifest {path.name}")

    base = path.parent.resolve()
    absent = []  # every missing file, reported at once
    for column in image_columns:
        if column not in table:
            continue
        resolved = []
        for label, value in zip(labels, table[column], strict=True):
            if not isinstance(value, str) or not value:
                raise ValueError(f"manifest {path.name}: {label} has no {column!r} path")
            p = Path(value) if os.path.isabs(value) else base / value
            if check_files and not p.exists():
                absent.append(f"{label}'s {column} file {str(p)!r} does not exist")
            resolved.append(str(p))
        table[column] = resolved
    if absent:
        more = f"; and {len(absent) - 10} more" if len(absent) > 10 else ""
        raise ValueError(f"manifest {path.name}: {len(absent)} image file(s) missing: {'; '.join(absent[:10])}{more}")
    for column in table.columns:
        if column in image_columns or column == "patient_id":
            continue
        if table[column].dtype == object or column in (categorical or ()) or column in CATEGORIES:
            table[column] = table[column].astype(str).where(table[column].notna())
            levels = CATEGORIES.get(column)
            if levels is not None and set(table[column].dropna()) <= set(levels):
                table[column] = pd.Categorical(table[column], categories=levels)
            else:
                table[column] = table[column].astype("category")
    return table.reset_index(drop=True), y
