"""Survival models for HCC patients treated with TACE, compatible with scikit-learn and scikit-survival."""

__version__ = "0.1.0"

__all__ = ["__version__"]
