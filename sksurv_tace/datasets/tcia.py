"""A manifest from a TCIA download: :func:`build_tcia_manifest` (HCC-TACE-Seg: CT series + DICOM SEG per patient).

The NBIA Data Retriever writes ``<collection>/<PatientID>/<study>/<series>/1-01.dcm ...``; folder names are
not trusted here: every file's DICOM header (read without its pixels) says which patient, study and series
it belongs to, and a segmentation (Modality ``SEG``) names the CT series it was drawn on in its
``ReferencedSeriesSequence`` (or, per frame, in ``SourceImageSequence``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["build_tcia_manifest"]


@dataclass
class _Series:
    """One DICOM series of the download, as its headers describe it."""

    uid: str
    patient: str
    study: str
    study_date: str
    modality: str
    description: str
    files: list = field(default_factory=list)  # (path, SOP instance UID)


@dataclass
class _Segmentation:
    """One DICOM SEG file: what it segments and what it references."""

    path: str
    patient: str
    study: str
    study_date: str
    labels: list
    series: list  # referenced series UIDs
    instances: set  # referenced SOP instance UIDs


def skipped_log_path(manifest) -> Path:
    """The skip log written next to a manifest: ``<manifest stem>_skipped.csv`` (read back by ``reproduce``)."""
    manifest = Path(manifest)
    return manifest.with_name(f"{manifest.stem}_skipped.csv")


def read_skipped_log(manifest) -> dict | None:
    """The patients :func:`build_tcia_manifest` left out of ``manifest`` (``patient_id -> reason``), None without a log.

    Raises a ``ValueError`` when the file next to the manifest is not such a log.
    """
    import pandas as pd

    log = skipped_log_path(manifest)
    if not log.is_file():
        return None
    table = pd.read_csv(log, dtype=str, keep_default_na=False)
    if list(table.columns) != ["patient_id", "reason"]:
        raise ValueError(f"{log} is not a skip log of 'sksurv-tace manifest' (columns patient_id, reason)")
    return dict(zip(table["patient_id"], table["reason"], strict=True))


def _read_header(path: str):
    """The header of ``path`` without pixels, or None when it is not a DICOM file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _text(header, keyword: str) -> str:
    value = header.get(keyword, "")
    return str(value).strip() if value is not None else ""


def _referenced(header) -> tuple[list, set]:
    """Series and SOP instance UIDs a SEG references (ReferencedSeriesSequence, then each frame's source images)."""
    series, instances = [], set()
    for item in header.get("ReferencedSeriesSequence", []):
        uid = _text(item, "SeriesInstanceUID")
        if uid and uid not in series:
            series.append(uid)
        instances |= {_text(i, "ReferencedSOPInstanceUID") for i in item.get("ReferencedInstanceSequence", [])}
    for frame in header.get("PerFrameFunctionalGroupsSequence", []):
        for derivation in frame.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                instances.add(_text(source, "ReferencedSOPInstanceUID"))
    instances.discard("")
    return series, instances


def _scan(root: Path, progress: bool):
    """Every DICOM file under ``root``: the series (by Series Instance UID) and the SEG files."""
    from tqdm.auto import tqdm

    folders = [(d, sorted(f)) for d, _, f in os.walk(root) if f]
    series: dict[str, _Series] = {}
    segmentations: list[_Segmentation] = []
    n_files = 0
    with tqdm(sorted(folders), disable=not progress, desc="reading DICOM headers", unit="folder") as bar:
        for folder, names in bar:
            for name in names:
                path = os.path.join(folder, name)
                header = _read_header(path)
                if header is None or "SeriesInstanceUID" not in header:
                    continue
                n_files += 1
                patient = _text(header, "PatientID")
                bar.set_postfix_str(patient, refresh=False)
                uid = _text(header, "SeriesInstanceUID")
                modality = _text(header, "Modality").upper()
                if modality == "SEG":
                    referenced_series, instances = _referenced(header)
                    labels = [_text(s, "SegmentLabel") for s in header.get("SegmentSequence", [])]
                    segmentations.append(_Segmentation(path, patient, _text(header, "StudyInstanceUID"),
                                                       _text(header, "StudyDate"), labels, referenced_series,
                                                       instances))  # fmt: skip
                    continue
                found = series.setdefault(uid, _Series(uid, patient, _text(header, "StudyInstanceUID"),
                                                       _text(header, "StudyDate"), modality,
                                                       _text(header, "SeriesDescription")))  # fmt: skip
                found.files.append((path, _text(header, "SOPInstanceUID")))
    return series, segmentations, n_files


def _matching_label(labels: list, segment) -> str | None:
    """The SEG's spelling of ``segment`` (a label, case-insensitive, or a 1-based segment number), else None."""
    if isinstance(segment, int | np.integer):
        return labels[segment - 1] if 1 <= segment <= len(labels) else None
    for label in labels:
        if label.casefold() == str(segment).casefold():
            return label
    return None


def _choose(patient: str, segmentations: list, series: dict, segment):
    """The patient's (SEG file, CT folder, segment label), or the reason for skipping the patient."""
    if not segmentations:
        return None, "no DICOM SEG (segmentation) in the download"
    with_label = [(s, _matching_label(s.labels, segment)) for s in segmentations]
    with_label = [(s, label) for s, label in with_label if label is not None]
    if not with_label:
        present = sorted({label for s in segmentations for label in s.labels})
        return None, f"no SEG has a segment {segment!r} (segments present: {', '.join(present) or 'none'})"

    def date(item):  # the CT's study date (the SEG's when the CT is absent); unknown dates last
        seg = item[0]
        ct = series.get(seg.series[0]) if seg.series else None
        return (ct.study_date if ct and ct.study_date else seg.study_date) or "99999999"

    first = min(date(item) for item in with_label)
    candidates = [item for item in with_label if date(item) == first]
    if len(candidates) > 1:
        files = "; ".join(s.path for s, _ in candidates)
        when = f"study date {first}" if first != "99999999" else "no study date"
        return None, f"several candidate SEGs with segment {segment!r} ({when}): {files}"
    seg, label = candidates[0]
    referenced = list(seg.series)
    if not referenced:  # no ReferencedSeriesSequence: the series of the frames' source images
        referenced = sorted({uid for uid, s in series.items() if seg.instances & {sop for _, sop in s.files}})
    if len(referenced) != 1:
        return None, f"SEG {seg.path} references {len(referenced)} CT series ({', '.join(referenced) or 'none found'})"
    ct = series.get(referenced[0])
    if ct is None:
        return None, f"SEG {seg.path} references series {referenced[0]}, which is not in the download"
    if ct.patient != patient:
        return None, f"SEG {seg.path} references series {ct.uid} of another patient ({ct.patient})"
    present = {sop for _, sop in ct.files}
    missing = seg.instances - present
    if missing:
        return None, (f"{len(missing)} of the {len(seg.instances)} CT images SEG {seg.path} references are not in "
                      f"series {ct.uid} of the download")  # fmt: skip
    folders = sorted({os.path.dirname(p) for p, _ in ct.files})
    if len(folders) != 1:
        return None, f"CT series {ct.uid} is split over {len(folders)} folders ({'; '.join(folders)})"
    others = sorted({uid for uid, s in series.items() if uid != ct.uid and
                     any(os.path.dirname(p) == folders[0] for p, _ in s.files)})  # fmt: skip
    if others:
        return None, f"CT folder {folders[0]} also holds series {', '.join(others)}"
    return (seg.path, folders[0], label), None


def _clinical_table(clinical, *, endpoint: str, paper_factors: bool):
    """``(X, y)`` from the HCC-TACE-Seg table (a path), ``load_hcc_tace_seg``'s ``(X, y)`` or a DataFrame."""
    from sksurv_tace.datasets.hcc_tace_seg import _hcc_tace_seg_table
    from sksurv_tace.datasets.manifest import load_manifest

    if isinstance(clinical, tuple) and len(clinical) == 2:
        X, y = clinical
        if "patient_id" not in X:
            raise ValueError("clinical: the (X, y) pair's X has no 'patient_id' column")
        return X.reset_index(drop=True), y
    if isinstance(clinical, pd.DataFrame):
        table = clinical
    elif isinstance(clinical, str | os.PathLike):
        path = Path(clinical)
        if not path.is_file():
            raise ValueError(f"clinical table {str(path)!r} does not exist")
        if path.suffix.lower() in (".xlsx", ".xls"):
            try:
                table = pd.read_excel(path, sheet_name=0)
            except ImportError:
                raise ValueError(f"reading {path.name} needs openpyxl (pip install openpyxl); or save its first "
                                 "sheet as CSV") from None  # fmt: skip
        else:
            table = pd.read_csv(path, encoding="utf-8-sig", dtype={"TCIA_ID": str, "patient_id": str})
        if "TCIA_ID" not in table and {"patient_id", "time", "event"} <= set(table.columns):
            return load_manifest(path, image_columns=(), check_files=False)
    else:
        raise ValueError(f"clinical must be a path, a DataFrame or an (X, y) pair; got {type(clinical).__name__}")
    if "TCIA_ID" in table:
        return _hcc_tace_seg_table(table, paper_factors=paper_factors, endpoint=endpoint)
    needed = {"patient_id", "time", "event"}
    if not needed <= set(table.columns):
        raise ValueError(
            f"clinical table: expected the HCC-TACE-Seg table (column 'TCIA_ID') or the columns patient_id, time "
            f"(days) and event; missing {sorted(needed - set(table.columns))} (columns: {list(table.columns)[:8]} ...)"
        )
    from sksurv.util import Surv

    X = table.drop(columns=["time", "event"]).reset_index(drop=True)
    X["patient_id"] = X["patient_id"].astype(str)
    return X, Surv.from_arrays(table["event"].to_numpy().astype(bool), table["time"].to_numpy(float))


def build_tcia_manifest(
    download_dir,
    clinical,
    out,
    *,
    segment="Mass",
    endpoint: str = "os",
    paper_factors: bool = True,
    overwrite: bool = False,
    progress: bool = False,
):
    """Write a cohort manifest from a TCIA download: each patient's pre-treatment CT series and its DICOM SEG.

    Every file under ``download_dir`` is identified by its DICOM header (read without
    pixels), so any folder layout works; the NBIA Data Retriever writes
    ``<collection>/<PatientID>/<study>/<series>/1-01.dcm …``. For each patient (DICOM
    ``PatientID``) the segmentations (Modality ``SEG``) holding ``segment`` are found; when
    several studies have one, the earliest study date is taken (the pre-treatment CT of
    HCC-TACE-Seg; its follow-up CTs have no SEG). The CT series the SEG references
    (``ReferencedSeriesSequence``, else its frames' source images) must be in the download,
    in one folder of its own, with every image the SEG references. A series holding more
    images than were segmented (two phases under one Series Instance UID) is kept: reading
    the CT with a SEG mask keeps only the images the SEG references.

    The manifest (:func:`~sksurv_tace.datasets.load_manifest`'s format) has ``patient_id``,
    ``time``, ``event``, the clinical columns, then ``ct`` (the series folder), ``mask`` (the
    SEG file) and ``segment`` (the SEG's label, e.g. ``Mass``), paths relative to the
    manifest when they lie under its folder. Every patient left out is written with the
    reason to ``<manifest stem>_skipped.csv`` next to it (columns ``patient_id``,
    ``reason``): no SEG, no SEG with ``segment``, several candidate SEGs, a referenced
    series or image not downloaded, no clinical row; and clinical rows with no DICOM in the
    download.

    Parameters
    ----------
    download_dir : str or path-like
        The download's folder (any depth).
    clinical : str, path-like, DataFrame or (X, y)
        The HCC-TACE-Seg clinical table as TCIA distributes it (CSV, or ``.xlsx`` with
        openpyxl; recognised by its ``TCIA_ID`` column and converted as
        :func:`~sksurv_tace.datasets.load_hcc_tace_seg` does), the ``(X, y)`` that
        function returns, or a table with ``patient_id``, ``time`` (days) and ``event``.
    out : str or path-like
        The manifest CSV to write.
    segment : str or int, default="Mass"
        The SEG segment that is the tumour: a label (case-insensitive) or a 1-based
        segment number.
    endpoint : {"os", "ttp"}, default="os"
        With the HCC-TACE-Seg table: overall survival or time to progression.
    paper_factors : bool, default=True
        With the HCC-TACE-Seg table: keep the DLOP paper's factors only (see
        :func:`~sksurv_tace.datasets.load_hcc_tace_seg`).
    overwrite : bool, default=False
        Replace an existing ``out``; without it an existing file is refused.
    progress : bool, default=False
        A progress bar over the download's folders, showing the patient being read.

    Returns
    -------
    manifest : DataFrame
        The rows written, one per patient: ``patient_id``, ``time``, ``event``, the clinical
        columns, ``ct``, ``mask``, ``segment`` (absolute paths).
    skipped : DataFrame
        ``patient_id`` and ``reason`` of every patient left out (the log's rows).

    Raises
    ------
    ValueError
        When ``download_dir`` does not exist or holds no DICOM file, ``out`` exists without
        ``overwrite``, the clinical table is not one of the accepted forms, or no patient
        could be written (the reasons are in the log).

    Examples
    --------
    >>> import tempfile
    >>> from sksurv_tace.datasets import load_hcc_tace_seg
    >>> folder = tempfile.mkdtemp()
    >>> build_tcia_manifest(folder, load_hcc_tace_seg(), folder + "/manifest.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ... holds no DICOM file (...)
    """
    from sksurv_tace.datasets.manifest import write_manifest

    if endpoint not in ("os", "ttp"):
        raise ValueError(f"endpoint must be 'os' or 'ttp'; got {endpoint!r}")
    if not isinstance(segment, str | int | np.integer) or isinstance(segment, bool) or segment == "":
        raise ValueError(f"segment must be a segment label (e.g. 'Mass') or a 1-based number; got {segment!r}")
    root, out = Path(download_dir), Path(out)
    if not root.is_dir():
        raise ValueError(f"TCIA download folder {str(root)!r} does not exist")
    log = skipped_log_path(out)
    if out.exists() and not overwrite:
        raise ValueError(f"{str(out)!r} already exists; choose another file or pass overwrite=True")
    X, y = _clinical_table(clinical, endpoint=endpoint, paper_factors=paper_factors)
    series, segmentations, n_files = _scan(root, progress)
    if n_files == 0:
        raise ValueError(f"TCIA download folder {str(root)!r} holds no DICOM file (read with pydicom; "
                         "download the collection with the NBIA Data Retriever)")  # fmt: skip
    by_patient = defaultdict(list)
    for seg in segmentations:
        by_patient[seg.patient].append(seg)
    patients = sorted({s.patient for s in series.values()} | set(by_patient))
    rows = {str(p): i for i, p in enumerate(X["patient_id"])}
    chosen, skipped = {}, []
    for patient in patients:
        found, reason = _choose(patient, by_patient.get(patient, []), series, segment)
        if reason is None and patient not in rows:
            reason = "no row in the clinical table"
        if reason is None:
            chosen[patient] = found
        else:
            skipped.append((patient, reason))
    skipped += [(p, "no DICOM in the download") for p in rows if p not in set(patients)]
    skipped = pd.DataFrame(skipped, columns=["patient_id", "reason"])
    log.parent.mkdir(parents=True, exist_ok=True)
    skipped.to_csv(log, index=False, lineterminator="\n")
    if not chosen:
        raise ValueError(f"no patient of {str(root)!r} could be written to the manifest; the reasons are in {log}")
    keep = [rows[p] for p in chosen]
    table = X.iloc[keep].reset_index(drop=True)
    table["ct"] = [chosen[p][1] for p in chosen]
    table["mask"] = [chosen[p][0] for p in chosen]
    table["segment"] = [chosen[p][2] for p in chosen]
    write_manifest(out, table, y[keep], image_columns=("ct", "mask"))
    table.insert(1, "time", y["time"][keep])
    table.insert(2, "event", y["event"][keep].astype(int))
    return table, skipped
