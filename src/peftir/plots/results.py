"""Results bar chart (paper.md §5 Tables 2-4 as a figure): one panel per metric, one bar per method
(seed mean, error bar ±1 std), the paper's number as a black cross where known, and the
significance markers (`*`, `†`) above the bars.

Input: the DataFrame of `peftir.analysis.tables.build_table`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from peftir.analysis.tables import metrics_of
from peftir.plots.style import finish, new_figure, styles

HATCH = {"-": "", "--": "//", "-.": "..", ":": "xx"}


def plot_results(
    table: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    title: str | None = "Effectiveness per method (mean ± std over seeds)",
    note: str | None = None,
    ncols: int = 4,
) -> Figure:
    metrics = list(metrics or metrics_of(table))
    labels = [
        m if pd.isna(b) or str(b) in m else f"{m} {b}" for m, b in zip(table["method"], table["budget"])
    ]
    ncols = min(ncols, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = new_figure(ncols, nrows, panel=(max(2.6, 0.45 * len(labels) + 1.0), 3.4))
    st = styles(labels)
    x = np.arange(len(labels))
    for ax, metric in zip(axes.ravel(), metrics):
        mean = table[f"{metric} mean"].to_numpy(float)
        std = np.nan_to_num(table[f"{metric} std"].to_numpy(float))
        bars = ax.bar(
            x,
            mean,
            yerr=std,
            color=[st[lab]["color"] for lab in labels],
            capsize=2,
            edgecolor="black",
            linewidth=0.4,
        )
        for bar, lab in zip(bars, labels):  # past eight methods colours repeat: hatch the repeats
            bar.set_hatch(HATCH[st[lab]["linestyle"]])
        if f"{metric} paper" in table:  # white-filled circles stay visible on any bar colour
            ax.plot(
                x,
                table[f"{metric} paper"].to_numpy(float),
                "o",
                markerfacecolor="white",
                markeredgecolor="black",
                markersize=4,
                linestyle="none",
                label="paper",
            )
        marks = table.get(f"{metric} marker", pd.Series([""] * len(labels)))
        top = np.nanmax(mean + std) if np.isfinite(mean).any() else 1.0
        for xi, (m, s, k) in enumerate(zip(mean, std, marks)):
            if isinstance(k, str) and k and np.isfinite(m):
                ax.text(xi, m + s + 0.01 * top, k, ha="center", va="bottom", fontsize=9)
        finite = mean[np.isfinite(mean)]
        lo = max(0.0, float(finite.min() - 0.15 * (top - finite.min() + 1e-9))) if len(finite) else 0.0
        ax.set_ylim(lo, top * 1.06 + 1e-9)
        ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
        ax.set(title=metric, ylabel=metric.split("/")[-1])
        ax.grid(axis="y", alpha=0.3)
    for ax in axes.ravel()[len(metrics) :]:
        ax.set_visible(False)
    if any(f"{m} paper" in table for m in metrics):
        fig.legend(*axes.ravel()[0].get_legend_handles_labels(), loc="upper right", fontsize=8)
    return finish(fig, title, note)
