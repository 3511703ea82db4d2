"""Every plot function renders synthetic data to a non-trivial PNG (and a PDF)."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from peftir.analysis.curves import method_bands, parse_curve
from peftir.analysis.tables import build_table
from peftir.plots import (
    BACKBONE_NOTE,
    plot_convergence,
    plot_discrepancy,
    plot_landscape_1d,
    plot_landscape_2d,
    plot_linear_path,
    plot_results,
    save,
)

METHODS = ("full", "lora", "iaa-l")


def _check(fig, tmp_path, name):
    png, pdf = save(fig, tmp_path / "fig" / name, dpi=60)
    assert png.name == f"{name}.png" and pdf.name == f"{name}.pdf"
    assert png.stat().st_size > 3000 and pdf.stat().st_size > 1000
    img = imread(png)
    assert img.ndim == 3 and img[..., :3].std() > 0.01  # not a uniform image
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".")]


def _curves(i):
    rng = np.random.default_rng(i)
    rows = [{"step": s, "loss": float(np.exp(-s / 30) + 0.05 * rng.random())} for s in range(0, 100, 2)]
    rows += [{"step": s, "dev_RR@10": 0.3 * (1 - np.exp(-s / 40)) + 0.01 * i} for s in range(10, 100, 20)]
    return parse_curve(rows)


def test_convergence(tmp_path):
    bands = {m: method_bands([_curves(i + k) for i in range(3)]) for k, m in enumerate(METHODS)}
    _check(plot_convergence(bands, note=BACKBONE_NOTE), tmp_path, "convergence")


def test_landscapes(tmp_path):
    a = np.linspace(-1, 1, 11)
    d1 = {
        m: {"alphas": a, "losses": np.stack([(k + 1) * a**2 + 0.1 * j for j in range(2)])}
        for k, m in enumerate(METHODS)
    }
    _check(plot_landscape_1d(d1, note=BACKBONE_NOTE), tmp_path, "l1d")
    A, B = np.meshgrid(a, a[:7], indexing="ij")
    d2 = {
        m: {"alphas": a, "betas": a[:7], "losses": (k + 1) * A**2 + B**2 + 0.1} for k, m in enumerate(METHODS)
    }
    _check(plot_landscape_2d(d2, note=BACKBONE_NOTE, log=True), tmp_path, "l2d")
    t = np.linspace(0, 1, 9)
    path = {m: {"ts": t, "losses": (k + 1) * (1 - t) ** 2} for k, m in enumerate(METHODS)}
    _check(plot_linear_path(path), tmp_path, "path")


def test_discrepancy(tmp_path):
    layers = {
        m: pd.DataFrame({"layer": range(6), "mean": np.linspace(0.2, 0.8, 6) / (k + 1), "std": 0.05})
        for k, m in enumerate(METHODS)
    }
    steps = {
        m: pd.DataFrame({"step": [10, 20, 30], "mean": [0.3, 0.4, 0.5], "std": [0.1, 0.0, 0.1]})
        for m in METHODS
    }
    _check(plot_discrepancy(layers, steps, note=BACKBONE_NOTE), tmp_path, "disc")
    _check(plot_discrepancy(layers), tmp_path, "disc_layers")


@pytest.mark.parametrize("paper", [None, {"LoRA": {"a/RR@10": 0.30}}])
def test_results(tmp_path, paper):
    rows = [
        {
            "label": "Full",
            "trainable_pct": 100,
            "values": {"a/RR@10": [0.31, 0.32], "b/nDCG@10": [0.6, 0.62]},
        },
        {
            "label": "LoRA",
            "budget": "0.5%",
            "values": {"a/RR@10": [0.30, 0.305]},
            "markers": {"a/RR@10": "†*"},
        },
        {"label": "IAA-L", "budget": "0.5%", "values": {"a/RR@10": 0.33, "b/nDCG@10": 0.61}},
    ]
    table = build_table(rows, ["a/RR@10", "b/nDCG@10"], paper)
    _check(plot_results(table, note=BACKBONE_NOTE), tmp_path, "results")
