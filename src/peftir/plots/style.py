"""Shared figure style: a colour-blind-safe palette, figure construction with a title and a footnote,
and atomic PNG + PDF output.

Figures are built as `matplotlib.figure.Figure` objects, never through `pyplot`, so no global
state or interactive backend is involved (rendering uses Agg); every plot function is pure: data
in, Figure out. The caller supplies the footnote, e.g. "backbone: all-MiniLM-L6-v2 (a
sentence-embedding model, not a plain pre-trained LM)", and labels this project's own evidence.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from peftir.io import atomic_open

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
LINESTYLES = ("-", "--", "-.", ":")


def styles(labels: Iterable[str]) -> dict[str, dict]:
    """A colour (and, past eight labels, a line style) per label, stable in the labels' order."""
    combos = itertools.cycle(itertools.product(LINESTYLES, OKABE_ITO))
    return {lab: {"linestyle": ls, "color": c} for lab, (ls, c) in zip(labels, combos)}


def new_figure(
    ncols: int = 1, nrows: int = 1, panel: tuple[float, float] = (4.2, 3.2), squeeze: bool = False
):
    """A Figure with a grid of axes (a 2-D array unless `squeeze`), sized per panel."""
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=squeeze)
    return fig, axes


def wrap(text: str, width_in: float, fontsize: float) -> str:
    """`text` broken into lines that fit `width_in` inches at `fontsize` points (~0.55 em per character)."""
    return textwrap.fill(text, max(20, int(width_in * 72 / (0.55 * fontsize))), break_on_hyphens=False)


def finish(fig: Figure, title: str | None = None, note: str | None = None) -> Figure:
    """Add the suptitle and a small footnote (bottom left), both wrapped to the figure's width."""
    width = fig.get_figwidth() * (0.7 if fig.legends else 0.96)  # a side legend takes part of the width
    if title:
        fig.suptitle(wrap(title, width, 12))
    if note:
        fig.supxlabel(wrap(note, width, 7), x=0.01, ha="left", fontsize=7, style="italic", color="0.3")
    return fig


def band(ax, x, mean, std, label: str, style: dict, alpha: float = 0.2, **kw) -> None:
    """Mean line with a ±1 std band."""
    x, mean, std = (np.asarray(v, dtype=float) for v in (x, mean, std))
    ax.plot(x, mean, label=label, **style, **kw)
    std = np.nan_to_num(std)
    if np.any(std > 0):
        ax.fill_between(x, mean - std, mean + std, color=style["color"], alpha=alpha, linewidth=0)


def save(fig: Figure, stem: str | Path, dpi: int = 150) -> list[Path]:
    """Write `<stem>.png` and `<stem>.pdf` atomically (reproducible: no creation date); returns paths."""
    stem = Path(stem)
    paths = []
    for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        path = stem.with_name(f"{stem.name}.{ext}")
        with atomic_open(path, "wb") as f:
            fig.savefig(f, format=ext, dpi=dpi, metadata=meta, bbox_inches="tight", pad_inches=0.1)  # nothing clipped
        paths.append(path)
    return paths
