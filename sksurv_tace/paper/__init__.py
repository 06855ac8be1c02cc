"""The paper's evaluation protocol: presets, the protocol, tables, figures and the report."""

from .model_card import model_card, tripod_checklist, write_model_card, write_tripod_checklist  # noqa: F401
from .nomogram import Nomogram, nomogram  # noqa: F401
from .presets import MODEL_NAMES, PAPER_VALIDATION, cohort_options, paper_models  # noqa: F401
from .protocol import ProtocolResult, run_protocol, split_cohort  # noqa: F401
from .report import report_from_results  # noqa: F401
from .run import ReproduceResult, reproduce  # noqa: F401
from .validate import ValidationResult, development_summary, validate, write_validation  # noqa: F401
from .validation_card import validation_model_card, validation_tripod_checklist  # noqa: F401

__all__ = [
    "reproduce",
    "ReproduceResult",
    "report_from_results",
    "run_protocol",
    "ProtocolResult",
    "split_cohort",
    "paper_models",
    "cohort_options",
    "MODEL_NAMES",
    "PAPER_VALIDATION",
    "nomogram",
    "Nomogram",
    "validate",
    "ValidationResult",
    "development_summary",
    "write_validation",
    "write_model_card",
    "write_tripod_checklist",
    "model_card",
    "tripod_checklist",
    "validation_model_card",
    "validation_tripod_checklist",
]
