"""Figures of a clinical survival paper, as matplotlib figures usable from a notebook or a report.

Every function returns a :class:`matplotlib.figure.Figure` (built with the object API, no
``plt.show``; close it with ``plt.close(fig)``) and, where it draws a single panel, accepts
an ``ax`` to draw into an existing figure. Inputs are the results of
:mod:`sksurv_tace.metrics` (risk scores: higher = higher risk; survival times in days)
and :func:`sksurv_tace.preprocessing.cox_table`. :func:`save_figure` writes PNG (150 dpi) and SVG.
"""

from .figure_style import COLORS, DPI, FIGSIZE, horizon_label, save_figure  # noqa: F401
from .figures_clinical import plot_calibration, plot_decision_curve, plot_hazard_ratios, plot_risk_groups  # noqa: F401
from .figures_discrimination import plot_c_index, plot_pvalue_matrix, plot_td_roc  # noqa: F401
from .figures_training import plot_learning_curves, training_summary  # noqa: F401
from .formatting import format_p  # noqa: F401

__all__ = [
    "plot_td_roc",
    "plot_calibration",
    "plot_risk_groups",
    "plot_decision_curve",
    "plot_pvalue_matrix",
    "plot_c_index",
    "plot_hazard_ratios",
    "plot_learning_curves",
    "training_summary",
    "save_figure",
    "format_p",
    "horizon_label",
]
