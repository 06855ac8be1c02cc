"""The data contract shared by the synthetic cohort and the manifest: clinical columns, levels, units."""

from __future__ import annotations

__all__ = ["TIME_UNITS", "CLINICAL_COLUMNS", "CLINICAL_UNITS"]

TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12.0, "years": 365.25}


CATEGORIES = {
    "sex": ["Female", "Male"],
    "portal_hypertension": ["No", "Yes"],
    "diabetes": ["No", "Yes"],
    "cirrhosis": ["No", "Yes"],
    "hepatitis": ["HBV", "No-HBV"],
    "tumor_number": ["<=2", ">2"],
    "tumor_location": ["Left", "Others", "Right"],
    "mvi": ["No", "Yes"],
    "albi_grade": ["1", "2-3"],
    "child_pugh": ["A", "B-C"],
    "bclc_b_subclass": ["B1", "B2", "B3", "B4"],
    "response": ["CR", "PR", "SD", "PD"],
}


CLINICAL_COLUMNS = [
    "age", "sex", "portal_hypertension", "diabetes", "cirrhosis", "hepatitis", "afp", "ast", "alt", "alb", "tbil",
    "tumor_number", "tumor_size", "tumor_location", "mvi", "albi_grade", "child_pugh", "bclc_b_subclass", "response",
]  # fmt: skip


#: Unit of each numeric clinical column (the paper's Table 1; HCC-TACE-Seg's AFP and tumour size are in the same
#: units). Table 1 and Table 2 print them; a cohort whose columns of these names hold other units must be converted.
CLINICAL_UNITS = {
    "age": "years",
    "afp": "ng/mL",
    "ast": "U/L",
    "alt": "U/L",
    "alb": "g/L",
    "tbil": "µmol/L",
    "tumor_size": "mm",
}
