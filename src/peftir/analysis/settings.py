"""The config's `analysis` section and the facts the analysis rules derive from it (torch-free, so the
Snakefile can import it). Its defaults live once, commented, in config.yaml's `analysis` section: the
resolved configuration always holds them; a hand-made partial section (a test, a direct CLI call) is laid
over them by the same overlay rules (peftir.config.overlay).
"""

from __future__ import annotations

import json

PROBE_KEYS = ("every", "batches", "batch_size", "seed")  # the discrepancy probe's settings (train-retriever)


def defaults() -> dict:
    """config.yaml's `analysis` section (the one place its defaults live)."""
    from peftir import config as pcfg

    return pcfg.load_yaml(pcfg.BASE)["analysis"]


def section(config: dict) -> dict:
    from peftir import config as pcfg

    return pcfg.overlay(defaults(), config.get("analysis") or {})


def probe_json(config: dict) -> str:
    """The train-retriever probe settings as JSON, or "" when the probe is off."""
    d = section(config)["discrepancy"]
    return json.dumps({k: d[k] for k in PROBE_KEYS}, sort_keys=True) if d["enabled"] else ""


def landscape_grid(config: dict, grid: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The (run, budget, seed) that get a landscape: the configured budgets (`natural` for full
    fine-tuning and BitFit), the first `n_seeds` seeds each system has."""
    ls = section(config)["landscape"]
    if not ls["enabled"]:
        return []
    seeds: dict[tuple[str, str], list[int]] = {}
    for run, budget, seed in grid:
        if budget in ls["budgets"]:
            seeds.setdefault((run, budget), []).append(seed)
    return [(r, b, s) for (r, b), ss in seeds.items() for s in ss[: ls["n_seeds"]]]


def has_iaa(config: dict) -> bool:
    return any(m["method"] == "iaa" for m in config["methods"].values())
