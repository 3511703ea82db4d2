"""Figures: pure functions (data in, `matplotlib.figure.Figure` out) and `save(fig, stem)` → PNG + PDF."""

from peftir.plots.discrepancy import plot_discrepancy
from peftir.plots.figure3 import plot_figure3
from peftir.plots.landscape import plot_landscape_1d, plot_landscape_2d, plot_linear_path
from peftir.plots.results import plot_results
from peftir.plots.style import OKABE_ITO, save
from peftir.plots.training import plot_convergence, plot_convergence_rows

BACKBONE_NOTE = "backbone: all-MiniLM-L6-v2 (a sentence-embedding model, not a plain pre-trained LM)"

__all__ = [
    "BACKBONE_NOTE",
    "OKABE_ITO",
    "plot_convergence",
    "plot_convergence_rows",
    "plot_discrepancy",
    "plot_figure3",
    "plot_landscape_1d",
    "plot_landscape_2d",
    "plot_linear_path",
    "plot_results",
    "save",
]
