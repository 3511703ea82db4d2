"""The analysis subcommands on small synthetic inputs laid out as the pipeline writes them, and the
config-derived settings the rules use."""

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from peftir.analysis import settings
from peftir.analysis.landscape import save_landscape
from peftir.cli import main
from peftir.io import write_jsonl

SYSTEMS = [("full", "natural"), ("lora", "small"), ("adapter", "small")]


def _png_ok(stem):
    img = imread(f"{stem}.png")
    assert img[..., :3].std() > 0.01 and (stem.parent / f"{stem.name}.pdf").stat().st_size > 1000


def _curve(k, seed):
    rng = np.random.default_rng(seed)
    rows = [
        {
            "step": s,
            "loss": float(2 * np.exp(-s / (10 + 5 * k)) + 0.05 * rng.random()),
            "lr": 1e-3,
            "grad_norm": 1.0,
        }
        for s in range(1, 41)
    ]
    rows += [{"step": s, "dev_RR@10": 0.3 * (1 - np.exp(-(s + 1) / (8 + 4 * k)))} for s in range(0, 41, 10)]
    return rows


def test_convergence(tmp_path):
    curves = []
    for k, (run, budget) in enumerate(SYSTEMS):
        for seed in (1, 2):
            p = tmp_path / "results" / "retriever" / run / budget / f"s{seed}" / "curve.jsonl"
            write_jsonl(_curve(k, seed), p)
            curves.append(str(p))
    fig, tab = tmp_path / "fig" / "conv", tmp_path / "tab" / "conv"
    assert (
        main(
            [
                "convergence",
                "--curves",
                *curves,
                "--budgets",
                '{"small": 0.5}',
                "--fig-stem",
                str(fig),
                "--table-stem",
                str(tab),
                "--backbone",
                "all-MiniLM-L6-v2",
            ]
        )
        == 0
    )
    _png_ok(fig)
    df = pd.read_csv(f"{tab}.csv")
    assert df["method"].tolist() == ["full", "lora", "adapter"] and (df["final dev_RR@10 n"] == 2).all()
    # the slower curve (k larger) reaches 90% of its final value later
    assert df["steps to 90% mean"].tolist() == sorted(df["steps to 90% mean"].tolist())
    md = (tmp_path / "tab" / "conv.md").read_text()
    assert "e-0" in md  # last-half variances in scientific notation
    assert "sentence-embedding" in (tmp_path / "tab" / "conv.html").read_text()


def test_plot_landscape(tmp_path):
    a, b, t = np.linspace(-1, 1, 5), np.linspace(-1, 1, 3), np.linspace(0, 1, 4)
    inputs = []
    for k, (run, budget) in enumerate(SYSTEMS):
        p = tmp_path / "ls" / run / budget / "s1.npz"
        meta = {"run": run, "budget": budget, "seed": 1, "achieved_pct": 0.5}
        save_landscape(
            p,
            meta,
            alphas_1d=a,
            losses_1d=np.stack([(k + 1) * a**2 + 1, (k + 2) * a**2 + 1]),
            alphas_2d=b,
            betas_2d=b,
            losses_2d=(k + 1) * (b[:, None] ** 2 + b[None, :] ** 2) + 1,
            ts=t,
            losses_path=2 - t,
        )
        inputs.append(str(p))
    stems = {f: tmp_path / "out" / f for f in ("l1", "l2", "path")}
    assert (
        main(
            [
                "plot-landscape",
                "--inputs",
                *inputs,
                "--radius",
                "0.5",
                "--fig-1d",
                str(stems["l1"]),
                "--fig-2d",
                str(stems["l2"]),
                "--fig-path",
                str(stems["path"]),
                "--table-stem",
                str(tmp_path / "out" / "sharp"),
            ]
        )
        == 0
    )
    for s in stems.values():
        _png_ok(s)
    df = pd.read_csv(tmp_path / "out" / "sharp.csv")
    # f = c·α² + 1: sharpness at r = .5 is c/4 for c = k+1, k+2 (two directions)
    assert df["sharpness r=0.5 mean"].tolist() == pytest.approx([0.375, 0.625, 0.875])
    assert df["path drop mean"].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_discrepancy_report(tmp_path):
    inputs = []
    for k, (run, budget) in enumerate(SYSTEMS):
        recs = [
            {
                "step": s,
                "batch": 0,
                "layer": layer,
                "cosine": 0.1 * (k + 1) + 0.01 * layer,
                "delta_norm": 1.0,
                "grad_norm": 1.0,
            }
            for s in (1, 2, 4)
            for layer in range(3)
        ]
        recs[0]["cosine"] = float("nan")  # a layer that did not move
        p = tmp_path / "results" / "retriever" / run / budget / "s1" / "discrepancy.jsonl"
        write_jsonl(recs, p)
        inputs.append(str(p))
    empty = tmp_path / "results" / "retriever" / "bitfit" / "natural" / "s1" / "discrepancy.jsonl"
    write_jsonl([], empty)  # the probe was off for this one: skipped
    fig, tab = tmp_path / "d" / "fig", tmp_path / "d" / "tab"
    assert (
        main(
            [
                "discrepancy-report",
                "--inputs",
                *inputs,
                str(empty),
                "--fig-stem",
                str(fig),
                "--table-stem",
                str(tab),
            ]
        )
        == 0
    )
    _png_ok(fig)
    df = pd.read_csv(f"{tab}.csv")
    assert df["method"].tolist() == ["full", "lora", "adapter"]
    assert df["layer 0 n"].tolist() == [2, 2, 2] and df["layer 2 mean"].tolist() == pytest.approx(
        [0.12, 0.22, 0.32]
    )
    assert "reconstruction" in (tmp_path / "d" / "tab.html").read_text()


def test_settings_defaults_and_grid():
    cfg = {
        "methods": {"full": {"method": "full"}, "iaa-l": {"method": "iaa"}},
        "analysis": {
            "landscape": {"budgets": ["small", "natural"], "compute": {"grid_2d": 5}},
            "discrepancy": {"every": 3},
        },
    }
    s = settings.section(cfg)
    default = settings.defaults()  # config.yaml's analysis section: the gaps of a partial section
    assert s["landscape"]["compute"]["grid_2d"] == 5
    assert s["landscape"]["compute"]["points_1d"] == default["landscape"]["compute"]["points_1d"]
    assert json.loads(settings.probe_json(cfg)) == {"every": 3, "batches": 2, "batch_size": 4, "seed": 0}
    assert settings.probe_json({"analysis": {"discrepancy": {"enabled": False}}}) == ""
    grid = [("full", "natural", 1), ("full", "natural", 2), ("lora", "small", 1), ("lora", "large", 1)]
    assert settings.landscape_grid(cfg, grid) == [("full", "natural", 1), ("lora", "small", 1)]
    assert settings.landscape_grid({"analysis": {"landscape": {"enabled": False}}}, grid) == []
    assert settings.has_iaa(cfg) and settings.section({}) == default
