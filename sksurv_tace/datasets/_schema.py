"""The data contract shared by the synthetic cohort and the manifest: clinical columns, levels, time units."""

from __future__ import annotations

__all__ = ["TIME_UNITS", "CLINICAL_COLUMNS"]

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
