"""Update-direction discrepancy figure (claim 3 measured; this project's reconstruction, paper.md §6):
cosine between a step's change of each layer's output and the negative gradient there, against the
layer (left) and, optionally, against the training step (right).

Inputs: per method the DataFrames of `peftir.analysis.discrepancy.by_layer` (layer, mean, std) and
`by_step` (step, mean, std).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from peftir.plots.style import band, finish, new_figure, styles


def plot_discrepancy(
    by_layer: Mapping[str, pd.DataFrame],
    by_step: Mapping[str, pd.DataFrame] | None = None,
    title: str | None = "Update direction vs. steepest descent, per layer (this project's measurement)",
    note: str | None = None,
) -> Figure:
    fig, axes = new_figure(2 if by_step else 1, 1, panel=(4.8, 3.4))
    st = styles(list(by_layer) + [m for m in (by_step or {}) if m not in by_layer])
    ax = axes[0, 0]
    for method, df in by_layer.items():
        ax.errorbar(
            df["layer"],
            df["mean"],
            yerr=df["std"],
            label=method,
            capsize=2,
            marker="o",
            markersize=3,
            **st[method],
        )
    ax.axhline(0, color="0.5", linewidth=0.6)
    ax.set(
        xlabel="layer l (output of encoder.layers[l])",
        title="by layer",
        ylabel=r"$\cos(\Delta H_l,\ -\partial L / \partial H_l)$",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if by_step:
        ax = axes[0, 1]
        for method, df in by_step.items():
            band(ax, df["step"], df["mean"], df["std"], method, st[method], marker="o", markersize=3)
        ax.axhline(0, color="0.5", linewidth=0.6)
        ax.set(xlabel="training step", ylabel="cosine, mean over layers", title="by step")
        ax.grid(alpha=0.3)
    return finish(fig, title, note)
