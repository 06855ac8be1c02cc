"""The paper's evaluation protocol: presets, the protocol, tables, figures and the report."""

from .protocol import MODEL_NAMES, PAPER_VALIDATION, ReproduceResult, cohort_options, paper_models, reproduce  # noqa: F401

__all__ = ["reproduce", "paper_models", "cohort_options", "ReproduceResult", "MODEL_NAMES", "PAPER_VALIDATION"]
