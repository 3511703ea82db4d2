"""The config's `analysis` section and the facts the analysis rules derive from it (torch-free, so the
Snakefile can import it). A config without the section gets `DEFAULTS` (the embedded default's
values live, commented, in config.yaml); a partial section is completed key by key.
"""

from __future__ import annotations

import copy
import json

PROBE = {"every": 10, "batches": 2, "batch_size": 4, "seed": 0}
LANDSCAPE_COMPUTE = {"points_1d": 21, "directions_1d": 1, "grid_2d": 11, "span": 1.0, "path_points": 21,
                     "path_range": [0.0, 1.0], "sample_queries": 64, "sample_seed": 0, "direction_seed": 0,
                     "vectors": "filter"}  # fmt: skip
DEFAULTS = {
    "alpha": 0.05,
    "paper_datasets": {},
    "convergence": {"metric": "RR@10", "fractions": [0.9, 0.95], "ema_beta": 0.9, "spike_k": 3.0},
    "landscape": {
        "enabled": True,
        "budgets": ["small"],
        "n_seeds": 1,
        "radius": 0.5,
        "compute": LANDSCAPE_COMPUTE,
    },
    "discrepancy": {"enabled": True, **PROBE},
    "figure3": {"enabled": True},
}


def _merge(base: dict, over: dict | None) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) and out[k] else v
    return out


def section(config: dict) -> dict:
    return _merge(DEFAULTS, config.get("analysis"))


def probe_json(config: dict) -> str:
    """The train-retriever probe settings as JSON, or "" when the probe is off."""
    d = section(config)["discrepancy"]
    return json.dumps({k: d[k] for k in PROBE}, sort_keys=True) if d["enabled"] else ""


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
