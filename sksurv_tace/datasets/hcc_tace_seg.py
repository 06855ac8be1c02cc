"""The real HCC-TACE-Seg clinical table (TCIA), as ``(X, y)``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sksurv.util import Surv

from sksurv_tace.datasets._schema import TIME_UNITS

__all__ = ["load_hcc_tace_seg"]

_MRECIST = {1.0: "CR", 2.0: "PR", 3.0: "SD", 4.0: "PD"}


_NO_YES = {0: "No", 1: "Yes"}


_HCC_PAPER_FACTORS = [
    "age", "sex", "hepatitis", "diabetes", "cirrhosis", "child_pugh", "afp", "tumor_nodularity", "tumor_involvement",
    "vascular_invasion", "portal_vein_thrombosis", "bclc", "response",
]  # fmt: skip


def load_hcc_tace_seg(*, paper_factors: bool = False, endpoint: str = "os"):
    """Load the real HCC-TACE-Seg clinical table: 105 HCC patients treated with TACE (clinical data only).

    The Cancer Imaging Archive collection HCC-TACE-Seg (doi:10.7937/TCIA.5FNA-0924; Moawad
    et al., *Sci Data* 2023, doi:10.1038/s41597-023-01928-3), CC BY 4.0: cite both when
    you use it. Overall survival is recorded in weeks there and converted to days here
    (× 7, rounded to 0.001 day); 93 of the 105 patients died. Time to progression (``endpoint="ttp"``,
    also in weeks there) has 45 progressions; the other 60 patients are censored at their last
    progression-free assessment (death without progression included). The CT volumes are not bundled
    (:func:`~sksurv_tace.datasets.build_tcia_manifest` joins a TCIA download to this table), so this
    cohort exercises the clinical models and the metrics on real TACE data.

    Columns of ``X`` (text factors as pandas ``category``):

    ==================================  ====================================================
    ``patient_id``                      TCIA id (``HCC_001`` …)
    ``age``                             years at diagnosis
    ``sex``                             Male / Female
    ``hepatitis``                       No virus / HBV only / HCV only / HCV and HBV
    ``diabetes``, ``cirrhosis``         No / Yes (cirrhosis: ``Evidence_of_cirh``)
    ``smoking``, ``alcohol``            No / Yes
    ``child_pugh``                      A / B / C
    ``performance_status``              BCLC performance status group: 0, 1-2, 3-4
    ``tumor_size``                      largest tumour diameter in **mm** (52 missing)
    ``tumor_nodularity``                uninodular / multinodular
    ``tumor_involvement``               liver involvement ``<=50%`` / ``>50%``
    ``vascular_invasion``               No / Yes
    ``portal_vein_thrombosis``          No / Yes
    ``lymph_nodes``, ``metastasis``     No / Yes
    ``afp``                             alpha-fetoprotein, ng/mL
    ``clip_score``                      CLIP score 0–6 (ordered category)
    ``okuda``                           I / II / III
    ``tnm``                             TNM stage
    ``bclc``                            BCLC stage A / B / C / D
    ``response``                        mRECIST response after TACE, the majority of the three
                                        readers (reader 1 breaks ties): CR / PR / SD / PD,
                                        coded 1–4 in the source; 6 missing (9 for reader 1)
    ==================================  ====================================================

    Parameters
    ----------
    paper_factors : bool, default=False
        Keep only ``patient_id`` and the factors of the DLOP paper's Table 2 that this table
        has (age, sex, hepatitis, diabetes, cirrhosis, Child–Pugh, AFP, tumour nodularity and
        involvement, vascular invasion, portal vein thrombosis, BCLC stage, response), with
        sparse levels merged so that a Cox model can be fitted on an 8:2 or 5-fold split:
        Child–Pugh ``B-C`` (18 + 1), BCLC ``C-D`` (66 + 3), response ``SD-PD`` (32 + 4).
        Tumour size (52 missing) and the overlapping staging systems (CLIP, Okuda, TNM) are
        left out: with all of them a multivariable Cox model of 105 patients does not converge.
    endpoint : {"os", "ttp"}, default="os"
        ``"os"``: overall survival (event ``Death_1_StillAliveorLostToFU_0``, time ``OS``);
        ``"ttp"``: time to progression (event ``Censored_0_progressed_1``, time ``TTP``).

    Returns
    -------
    X : DataFrame of shape (105, 23), or (105, 14) with ``paper_factors``
    y : structured array
        ``event`` (death, or progression with ``endpoint="ttp"``) and ``time`` in days.

    Examples
    --------
    >>> X, y = load_hcc_tace_seg()
    >>> X.shape, int(y["event"].sum())
    ((105, 23), 93)
    >>> load_hcc_tace_seg(paper_factors=True)[0]["bclc"].value_counts().to_dict()
    {'C-D': 69, 'B': 24, 'A': 12}
    >>> _, y_ttp = load_hcc_tace_seg(endpoint="ttp")
    >>> int(y_ttp["event"].sum()), float(np.median(y_ttp["time"]))
    (45, 145.0)
    """
    from importlib.resources import files

    raw = pd.read_csv(files("sksurv_tace") / "data" / "hcc_tace_seg_clinical.csv", encoding="utf-8-sig")
    return _hcc_tace_seg_table(raw, paper_factors=paper_factors, endpoint=endpoint)


#: The endpoints of the HCC-TACE-Seg table: (time column in weeks, event column).
_ENDPOINTS = {"os": ("OS", "Death_1_StillAliveorLostToFU_0"), "ttp": ("TTP", "Censored_0_progressed_1")}


def _hcc_tace_seg_table(raw: pd.DataFrame, *, paper_factors: bool = False, endpoint: str = "os"):
    """``(X, y)`` of the table as TCIA distributes it (``raw``: its 57 columns, ``TCIA_ID`` first)."""
    if endpoint not in _ENDPOINTS:
        raise ValueError(f"endpoint must be 'os' (overall survival) or 'ttp' (time to progression); got {endpoint!r}")
    needed = ["TCIA_ID", *_ENDPOINTS[endpoint], "1_mRECIST", "2_mRECIST", "3_mRECIST"]
    missing = [c for c in needed if c not in raw]
    if missing:
        raise ValueError(f"the HCC-TACE-Seg clinical table lacks the column(s) {missing}")
    readers = raw[["1_mRECIST", "2_mRECIST", "3_mRECIST"]]
    majority = readers.mode(axis=1)
    response = np.where(majority.notna().sum(axis=1) == 1, majority[0], raw["1_mRECIST"])
    X = pd.DataFrame({
        "patient_id": raw["TCIA_ID"].astype(str),
        "age": raw["age"].astype(float),
        "sex": raw["Sex"].map({1: "Male", 2: "Female"}),
        "hepatitis": raw["hepatitis"],
        "diabetes": raw["Diabetes"].map(_NO_YES),
        "cirrhosis": raw["Evidence_of_cirh"].map(_NO_YES),
        "smoking": raw["Smoking"].map(_NO_YES),
        "alcohol": raw["Alcohol"].map(_NO_YES),
        "child_pugh": raw["CPS"],
        "performance_status": raw["PS_bclc_0_0_1-2_1_3-4_3"].map({0: "0", 1: "1-2", 3: "3-4"}),
        "tumor_size": raw["Tr_Size"] * 10.0,
        "tumor_nodularity": raw["tumor_nodul"],
        "tumor_involvement": raw["T_involvment"].map({"< or = 50%": "<=50%", ">50%": ">50%"}),
        "vascular_invasion": raw["Vascular invasion"].map(_NO_YES),
        "portal_vein_thrombosis": raw["Portal Vein Thrombosis"].map(_NO_YES),
        "lymph_nodes": raw["Lymphnodes"].map(_NO_YES),
        "metastasis": raw["Metastasis"].map(_NO_YES),
        "afp": raw["AFP"].astype(float),
        "clip_score": raw["CLIP_Score"].str.replace("Stage_", "", regex=False),
        "okuda": raw["Okuda"].str.replace("Stage ", "", regex=False),
        "tnm": raw["TNM"].str.replace("Stage-", "", regex=False),
        "bclc": raw["BCLC"].str.replace("Stage-", "", regex=False),
        "response": pd.Series(response).map(_MRECIST),
    })  # fmt: skip
    ordered = {
        "clip_score": ["0", "1", "2", "3", "4", "5", "6"], "bclc": ["0", "A", "B", "C", "D"],
        "child_pugh": ["A", "B", "C"], "response": ["CR", "PR", "SD", "PD"], "okuda": ["I", "II", "III"],
        "performance_status": ["0", "1-2", "3-4"],
    }  # fmt: skip
    for column in X.columns.drop(["patient_id", "age", "tumor_size", "afp"]):
        levels = ordered.get(column, sorted(X[column].dropna().unique()))
        X[column] = pd.Categorical(X[column], categories=levels, ordered=column in ordered)
    if paper_factors:
        merged = {"child_pugh": {"B": "B-C", "C": "B-C"}, "bclc": {"C": "C-D", "D": "C-D"},
                  "response": {"SD": "SD-PD", "PD": "SD-PD"}}  # fmt: skip
        X = X[["patient_id", *_HCC_PAPER_FACTORS]].copy()
        for column, mapping in merged.items():
            values = X[column].astype(object).replace(mapping)
            levels = list(dict.fromkeys(mapping.get(c, c) for c in X[column].cat.categories))
            X[column] = pd.Categorical(values, categories=[c for c in levels if (values == c).any()])
    time_column, event_column = _ENDPOINTS[endpoint]
    days = np.round(pd.to_numeric(raw[time_column], errors="coerce").to_numpy(float) * TIME_UNITS["weeks"], 3)
    event = pd.to_numeric(raw[event_column], errors="coerce").to_numpy(float)
    bad = np.isnan(days) | (days < 0) | ~np.isin(event, (0.0, 1.0))
    if bad.any():
        ids = raw["TCIA_ID"].astype(str)[bad].tolist()
        raise ValueError(f"HCC-TACE-Seg table: {time_column!r}/{event_column!r} missing or invalid for {ids[:10]}")
    y = Surv.from_arrays(event.astype(bool), days)
    return X, y
