"""Convergence figure (paper.md §6, claim 2): training loss (raw and EMA-smoothed) and the dev metric
against the step, one line per method, the mean over seeds with a ±1 std band.

Input: `{method: peftir.analysis.curves.method_bands(...)}`, i.e. per method the DataFrames
"loss", "loss_ema" and "dev", each with columns step, mean, std.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from peftir.plots.style import band, finish, new_figure, styles


def _draw(ax_loss, ax_dev, bands: Mapping[str, Mapping[str, pd.DataFrame]], st: dict, metric: str,
          log_loss: bool) -> None:
    for method, b in bands.items():
        raw, smooth, dev = b.get("loss"), b.get("loss_ema"), b.get("dev")
        if raw is not None and len(raw):
            ax_loss.plot(raw["step"], raw["mean"], color=st[method]["color"], alpha=0.25, linewidth=0.7)
        if smooth is not None and len(smooth):
            band(ax_loss, smooth["step"], smooth["mean"], smooth["std"], method, st[method])
        if dev is not None and len(dev):
            band(ax_dev, dev["step"], dev["mean"], dev["std"], method, st[method], marker="o", markersize=3)
    ax_loss.set(xlabel="training step", ylabel="training loss (faint: raw; solid: EMA)", title="loss")
    if log_loss:
        ax_loss.set_yscale("log")
    ax_dev.set(xlabel="training step", ylabel=metric, title=metric)
    for ax in (ax_loss, ax_dev):
        ax.grid(alpha=0.3)
    ax_dev.legend(fontsize=8, title="mean ± std over seeds", title_fontsize=8)


def plot_convergence(
    bands: Mapping[str, Mapping[str, pd.DataFrame]],
    metric: str = "dev RR@10",
    title: str | None = "Training loss and dev effectiveness",
    note: str | None = None,
    log_loss: bool = False,
) -> Figure:
    fig, axes = new_figure(2, 1, panel=(5.0, 3.4))
    _draw(*axes[0], bands, styles(bands), metric, log_loss)
    return finish(fig, title, note)


def plot_convergence_rows(
    rows: Mapping[str, Mapping[str, Mapping[str, pd.DataFrame]]],
    metric: str = "dev RR@10",
    title: str | None = "Training loss and dev effectiveness",
    note: str | None = None,
    log_loss: bool = False,
) -> Figure:
    """One row of (loss, dev) panels per group (e.g. per budget, full fine-tuning in each as the
    reference): `rows` maps a row title to that row's `{method: bands}`. A method keeps its colour
    across rows."""
    labels = list(dict.fromkeys(m for bands in rows.values() for m in bands))
    st = styles(labels)
    fig, axes = new_figure(2, max(1, len(rows)), panel=(5.0, 3.2))
    for (name, bands), (ax_loss, ax_dev) in zip(rows.items(), axes):
        _draw(ax_loss, ax_dev, bands, st, metric, log_loss)
        ax_loss.set_title(f"{name}: loss")
        ax_dev.set_title(f"{name}: {metric}")
    return finish(fig, title, note)
