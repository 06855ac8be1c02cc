"""How the deep models trained: learning curves with the epoch each network kept.

Re-exported by :mod:`sksurv_tace.paper.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from sksurv_tace.paper.figure_style import COLORS, check_columns, check_mapping

__all__ = ["plot_learning_curves", "training_summary"]

_COLUMNS = ("member", "epoch", "train_loss", "valid_loss", "best")


def plot_learning_curves(curves: Mapping[str, pd.DataFrame], *, title: str | None = None) -> Figure:
    """Training and internal-validation loss per epoch, one panel per model, the kept epoch marked.

    Parameters
    ----------
    curves : mapping of str to DataFrame
        Model name -> its ``learning_curve_`` (``member, epoch, train_loss, valid_loss, best``), as
        :class:`~sksurv_tace.models.FusionSurvival` and :class:`~sksurv_tace.models.CTSurvival` give it.
        Each ensemble member is one pair of lines.
    title : str, optional

    Returns
    -------
    Figure
        Solid lines: training loss; dashed: validation loss; a dot on the validation curve at each
        member's kept (best) epoch.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"member": 0, "epoch": [1, 2, 3], "train_loss": [1.2, 1.0, 0.9],
    ...                       "valid_loss": [1.1, 1.0, 1.05], "best": [False, True, False]})
    >>> fig = plot_learning_curves({"CTSurvival": curve})
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
    ['training', 'validation']
    >>> plt.close(fig)
    """
    curves = check_mapping(curves, "curves", "learning_curve_ DataFrame")
    for name, table in curves.items():
        check_columns(table, _COLUMNS, f"curves[{name!r}]")
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6), layout="constrained", squeeze=False)
    for ax, (name, table) in zip(axes[0], curves.items(), strict=True):
        for k, (_, rows) in enumerate(table.groupby("member", sort=True)):
            color = COLORS[k % (len(COLORS) - 1)]
            first = k == 0
            ax.plot(rows["epoch"], rows["train_loss"], color=color, lw=1.4, label="training" if first else None)
            ax.plot(rows["epoch"], rows["valid_loss"], color=color, lw=1.4, ls="--",
                    label="validation" if first else None)  # fmt: skip
            kept = rows[rows["best"].astype(bool)]
            ax.plot(kept["epoch"], kept["valid_loss"], "o", color=color, ms=6,
                    label="kept epoch" if first else None)  # fmt: skip
        members = table["member"].nunique()
        ax.set(title=name + (f" ({members} nets)" if members > 1 else ""), xlabel="Epoch",
               ylabel="Discrete-time survival loss")  # fmt: skip
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def training_summary(curves: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model and network: epochs run, the kept epoch, and the validation loss at epoch 1 and at the kept epoch.

    Parameters
    ----------
    curves : mapping of str to DataFrame
        As for :func:`plot_learning_curves`.

    Returns
    -------
    DataFrame
        ``model, member, epochs, best_epoch, valid_loss_epoch1, valid_loss_best``.

    Examples
    --------
    >>> curve = pd.DataFrame({"member": 0, "epoch": [1, 2, 3], "train_loss": [1.2, 1.0, 0.9],
    ...                       "valid_loss": [1.1, 1.0, 1.05], "best": [False, True, False]})
    >>> training_summary({"CTSurvival": curve}).values.tolist()
    [['CTSurvival', 0, 3, 2, 1.1, 1.0]]
    """
    curves = check_mapping(curves, "curves", "learning_curve_ DataFrame")
    rows = []
    for name, table in curves.items():
        check_columns(table, _COLUMNS, f"curves[{name!r}]")
        for member, group in table.groupby("member", sort=True):
            kept = group[group["best"].astype(bool)]
            best = int(kept["epoch"].iloc[0]) if len(kept) else int(group["epoch"].max())
            first, at_best = (float(group.loc[group["epoch"] == e, "valid_loss"].iloc[0]) for e in (1, best))
            rows.append(dict(model=name, member=int(member), epochs=int(group["epoch"].max()), best_epoch=best,
                             valid_loss_epoch1=first, valid_loss_best=at_best))  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "member", "epochs", "best_epoch", "valid_loss_epoch1",
                                       "valid_loss_best"])  # fmt: skip
