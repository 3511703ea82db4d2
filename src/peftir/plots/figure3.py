"""Figure 3 as a schematic: one panel per method, a post-LN BERT layer drawn bottom-up (embeddings,
attention, Add & LayerNorm, feed-forward, Add & LayerNorm) in grey (frozen), and the method's
trainable modules in colour where the code inserts them.

Input: `{run: [Insertion, ...]}` from `peftir.analysis.figure3.describe_methods` — the figure is
drawn from the module structure the code builds, not from a hand-made list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from peftir.plots.style import OKABE_ITO, finish, new_figure

FROZEN = "#E4E4E4"
COLOURS = {"series": OKABE_ITO[0], "parallel": OKABE_ITO[1], "low-rank": OKABE_ITO[2], "prefix": OKABE_ITO[3],
           "in-place": OKABE_ITO[4], "source": OKABE_ITO[5]}  # fmt: skip
LEGEND = {"series": "adapter in series (y + BN(y))", "parallel": "aside / parallel (+ s·BN(x))",
          "low-rank": "low-rank update W + BA", "prefix": "prefix slots on K, V",
          "in-place": "frozen weights made trainable", "source": "shared generator (all layers)"}  # fmt: skip
# the frozen column: box -> (y_bottom, y_top, label); series slots sit just above their box
BOXES = {"embeddings": (-1.4, -0.8, "Embeddings"), "attention": (1.0, 2.0, "Multi-head attention\nQ K V, out"),
         "attn_norm": (3.2, 3.7, "Add & LayerNorm"), "ffn": (5.0, 6.0, "Feed-forward\nup, act, down"),
         "ffn_norm": (7.2, 7.7, "Add & LayerNorm")}  # fmt: skip
SERIES_SLOT = {"attention": 2.6, "ffn": 6.6}
SHORT = {"attention": "attn", "attn_block": "attn block", "ffn": "FFN", "ffn_block": "FFN block"}
# parallel modules: box -> (tap y = its input, merge y = its output ⊕, x of the module)
SPANS = {"attn_block": (0.5, 4.1, 2.4), "ffn_block": (4.4, 8.1, 2.4), "ffn": (4.4, 6.3, 2.4),
         "attention": (0.5, 2.3, 2.4), "layer": (0.2, 8.6, 3.6), "encoder": (-0.4, 9.1, 4.8)}  # fmt: skip


def _box(ax, x, y0, y1, text, face, edge="0.35", w=2.6, hatch=None, fontsize=6):
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y0),
            w,
            y1 - y0,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=face,
            edgecolor=edge,
            linewidth=0.8,
            hatch=hatch,
            zorder=3,
        )
    )
    ax.text(x, (y0 + y1) / 2, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _arrow(ax, a, b, colour="0.3", style="-|>", ls="-"):
    ax.add_patch(
        FancyArrowPatch(
            a, b, arrowstyle=style, mutation_scale=7, color=colour, linewidth=0.8, linestyle=ls, zorder=2
        )
    )


def _plus(ax, y, x=0.0):
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.17, y - 0.17),
            0.34,
            0.34,
            boxstyle="circle,pad=0",
            facecolor="white",
            edgecolor="0.2",
            linewidth=0.8,
            zorder=5,
        )
    )
    ax.text(x, y, "+", ha="center", va="center", fontsize=8, zorder=6)


def _panel(ax, run: str, ins: Sequence) -> None:
    in_place = {i.box: i for i in ins if i.kind == "in-place"}
    _arrow(ax, (0, -0.8), (0, 9.6))  # the residual stream, bottom-up
    for box, (y0, y1, text) in BOXES.items():
        hit = in_place.get(box)
        trainable_all = hit is not None and "weight" in hit.target
        face = COLOURS["in-place"] if trainable_all else FROZEN
        note = f"\n[{hit.target} trainable]" if hit is not None and not trainable_all else ""
        _box(
            ax,
            0,
            y0,
            y1,
            text + note,
            face,
            edge=COLOURS["in-place"] if hit else "0.35",
            hatch="///" if hit is not None and not trainable_all else None,
        )
    ax.text(0, -0.2, "h (layer input)", ha="center", fontsize=6, zorder=4, backgroundcolor="white")
    ax.text(0, 9.75, "h' (layer output)", ha="center", fontsize=6)
    left = {"attention": 0}
    for i in ins:
        c = COLOURS.get(i.kind, "0.5")
        if i.kind == "series":
            y = SERIES_SLOT.get(i.box, 8.4)
            _box(ax, 0, y - 0.25, y + 0.25, f"adapter (after {SHORT.get(i.box, i.box)})", c, w=2.2)
        elif i.kind == "parallel" and i.box in SPANS:
            tap, merge, x = SPANS[i.box]
            _arrow(ax, (0, tap), (x, tap), c, style="-")
            _arrow(ax, (x, tap), (x, (tap + merge) / 2 - 0.35), c)
            scale = f", {i.detail}" if i.detail else ""
            _box(
                ax,
                x,
                (tap + merge) / 2 - 0.35,
                (tap + merge) / 2 + 0.35,
                f"BN\n(aside {SHORT.get(i.box, i.box)}{scale})",
                c,
                w=1.1,
                fontsize=5,
            )
            _arrow(ax, (x, (tap + merge) / 2 + 0.35), (x, merge), c, style="-")
            _arrow(ax, (x, merge), (0.17, merge), c)
            _plus(ax, merge)
        elif i.kind in ("low-rank", "prefix") and i.box in BOXES:
            y0, y1, _ = BOXES[i.box]
            k = left[i.box] = left.get(i.box, 0) + 1
            y = y0 + 0.25 + 0.55 * (k - 1)
            what = f"ΔW_{i.target[0]} = BA" if i.kind == "low-rank" else f"prefix P_{i.target[0]}"
            _box(ax, -2.6, y - 0.2, y + 0.2, f"{what} ({i.target})", c, w=1.9, fontsize=5)
            _arrow(ax, (-1.65, y), (-1.3, y), c)
        elif i.kind == "source":
            _box(ax, -2.6, -1.4, -0.6, f"{i.module}\n({i.target}, shared)", c, w=1.9, fontsize=5)
            _arrow(ax, (-2.6, -0.6), (-2.6, 1.0), c, ls="--")
    if any(i.box == "encoder" for i in ins):
        ax.text(4.8, 9.35, "after layer L−1", ha="center", fontsize=5)
    ax.set_title(run, fontsize=9)
    ax.set_xlim(-3.7, 5.5)
    ax.set_ylim(-1.6, 10.0)
    ax.axis("off")


def plot_figure3(
    structure: Mapping[str, Sequence],
    title: str
    | None = "Where each method's trainable modules sit in a BERT layer (from the code's module graph)",
    note: str | None = None,
    ncols: int = 5,
) -> Figure:
    n = max(1, len(structure))
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(ncols, nrows, panel=(3.2, 4.0))
    for ax, (run, ins) in zip(axes.ravel(), structure.items()):
        _panel(ax, run, ins)
    for ax in axes.ravel()[len(structure) :]:
        ax.set_visible(False)
    kinds = [k for k in COLOURS if any(i.kind == k for ins in structure.values() for i in ins)]
    handles = [Patch(facecolor=FROZEN, edgecolor="0.35", label="frozen")]
    handles += [Patch(facecolor=COLOURS[k], label=LEGEND[k]) for k in kinds]
    fig.legend(
        handles=handles, loc="outside right center", ncol=1, fontsize=7, frameon=False  # clear of the footnote
    )
    return finish(fig, title, note)
