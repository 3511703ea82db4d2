"""Loss-landscape figures (Li et al. 2018; this project's evidence for claim 4, paper.md §6 [D]):
1-D curves along filter-normalised directions, 2-D contours as small multiples, and the linear path
from the initial to the trained parameters.

Inputs are the dicts `peftir.analysis.landscape.load_landscape` returns, one per method:
1-D {"alphas", "losses"} (losses (n,) or (k, n) for k directions/seeds: mean with a min–max band),
2-D {"alphas", "betas", "losses" (len(alphas), len(betas))}, path {"ts", "losses"}.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from peftir.plots.style import finish, new_figure, styles


def _curves(ax, data: Mapping[str, Mapping], xkey: str, logy: bool) -> None:
    st = styles(data)
    for method, d in data.items():
        x, y = np.asarray(d[xkey], float), np.atleast_2d(np.asarray(d["losses"], float))
        ax.plot(x, y.mean(axis=0), label=method, **st[method])
        if len(y) > 1:
            ax.fill_between(
                x, y.min(axis=0), y.max(axis=0), color=st[method]["color"], alpha=0.2, linewidth=0
            )
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    multi = any(np.ndim(d["losses"]) > 1 and len(d["losses"]) > 1 for d in data.values())
    ax.legend(fontsize=8, title="band: min–max over directions" if multi else None, title_fontsize=7)


def plot_landscape_1d(
    data: Mapping[str, Mapping],
    title: str | None = "1-D loss landscape, trainable parameters (this project's evidence)",
    note: str | None = None,
    logy: bool = False,
) -> Figure:
    fig, axes = new_figure(1, 1, panel=(5.0, 3.6))
    ax = axes[0, 0]
    _curves(ax, data, "alphas", logy)
    ax.set(xlabel="step along the direction α (0 = trained parameters)", ylabel="training loss")
    return finish(fig, title, note)


def plot_linear_path(
    data: Mapping[str, Mapping],
    title: str
    | None = "Loss on the straight path from initial to trained parameters (this project's evidence)",
    note: str | None = None,
    logy: bool = False,
) -> Figure:
    fig, axes = new_figure(1, 1, panel=(5.0, 3.6))
    ax = axes[0, 0]
    _curves(ax, data, "ts", logy)
    ax.set(xlabel="interpolation t (0 = initial, 1 = trained)", ylabel="training loss")
    return finish(fig, title, note)


def _levels(z: np.ndarray, levels: int) -> np.ndarray:
    lv = np.linspace(np.nanmin(z), np.nanmax(z), levels)
    return np.linspace(lv[0] - 0.5, lv[0] + 0.5, levels) if lv[0] == lv[-1] else lv


def plot_landscape_2d(
    data: Mapping[str, Mapping],
    title: str | None = "2-D loss landscape, trainable parameters (this project's evidence)",
    note: str | None = None,
    levels: int = 20,
    log: bool = False,
    ncols: int = 3,
    shared_scale: bool = False,
) -> Figure:
    """Small multiples, one contour panel per method; the trained parameters (α = β = 0) are marked with a
    star. Each panel has its own colour scale and colour bar (a flat PET surface next to full fine-tuning
    would otherwise be one colour) and states its loss range in the title; `shared_scale` puts every panel
    on one set of levels with one colour bar instead."""
    n = len(data)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(ncols, nrows, panel=(3.6 if not shared_scale else 3.4, 3.0))
    tf = (lambda z: np.log10(np.maximum(z, 1e-12))) if log else (lambda z: z)
    grids = {m: tf(np.asarray(d["losses"], float)) for m, d in data.items()}
    shared = _levels(np.concatenate([z.ravel() for z in grids.values()]), levels) if shared_scale else None
    label = "log10 training loss" if log else "training loss"
    cs = None
    for ax, (method, d) in zip(axes.ravel(), data.items()):
        z = grids[method]
        lv = shared if shared_scale else _levels(z, levels)
        a, b = np.asarray(d["alphas"], float), np.asarray(d["betas"], float)
        cs = ax.contourf(a, b, z.T, levels=lv, cmap="viridis")  # contour wants z[y, x] = z[β, α]
        ax.contour(a, b, z.T, levels=lv, colors="white", linewidths=0.3, alpha=0.6)
        ax.plot([0], [0], marker="*", color="#E69F00", markersize=10, markeredgecolor="black")
        ax.set(xlabel="α", ylabel="β", aspect="equal")
        ax.set_title(f"{method}\n{label} {np.nanmin(z):.3g} – {np.nanmax(z):.3g}", fontsize=9)
        if not shared_scale:
            fig.colorbar(cs, ax=ax, shrink=0.85, ticks=MaxNLocator(5)).ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    if shared_scale and cs is not None:
        fig.colorbar(cs, ax=axes.ravel().tolist(), label=label)
    if not shared_scale:
        note = "Each panel has its own colour scale (range in its title). " + (note or "")
    return finish(fig, title, note)
