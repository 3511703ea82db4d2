"""One trained bi-encoder's loss landscape (landscape.py on a real model; this project's evidence for
claim 4, paper.md §6 [D]) and the sharpness summary drawn from it.

θ_1 = the trained trainable parameters (model/trainable.safetensors), θ_0 = the same model rebuilt by the
factory with the training seed before training (`factory.build` with one seed reproduces the initial
trainable parameters exactly). The loss is the training objective (contrastive loss with in-batch
negatives, `RetrievalTask.loss`) in eval mode, averaged over a fixed sample of training triples
drawn with its own seed: `sample_queries` queries (rounded up to whole training batches), each with
1 positive + `n_neg` BM25 negatives — the same sample for every method.

Arrays written (.npz, with `meta`): alphas_1d (n,), losses_1d (k, n) for k random directions;
alphas_2d, betas_2d, losses_2d (n2, n2); ts, losses_path (the straight line θ_0 → θ_1).

Sharpness summary per landscape ([D] definitions, radius r from config):
  sharpness       (f(−r) + f(r))/2 − f(0) on each 1-D direction (landscape.sharpness)
  sharpness rel   the same divided by f(0)
  2-D max rise    max f(α, β) − f(0, 0) over the grid points with max(|α|, |β|) ≤ r
                  (Keskar et al. 2017's ε-sharpness on the 2-D slice)
  path barrier    max_t g(t) − max(g(0), g(1)) over t ∈ [0, 1] (0: no bump on the straight path)
  path drop       g(0) − g(1), the loss reduction training achieved on the sample
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import torch

from peftir.analysis import landscape as ls
from peftir.analysis import settings as aset


def settings_of(given: dict | None) -> dict:
    """The grid and sample: `given` over config.yaml's analysis.landscape.compute (the one place of the
    defaults); an unknown key is refused."""
    defaults = aset.defaults()["landscape"]["compute"]
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise ValueError(f"landscape settings: unknown keys {unknown}; valid: {sorted(defaults)}")
    return {**defaults, **(given or {})}


def load_initial_and_trained(model_dir: str | Path, device: str = "cpu"):
    """-> (model holding θ_1 in eval mode, θ_0 as detached tensors in trainable-parameter order)."""
    from peftir.models import factory

    model_dir = Path(model_dir)
    meta = json.loads((model_dir / "model.json").read_text())
    spec = {**meta["spec"], "params": meta["params"], "budget_pct": None}
    model = factory.build(
        meta["stage"],
        meta["backbone"],
        spec,
        meta["pooling"],
        meta.get("normalize", False),
        seed=meta.get("seed", 0),
    )
    theta0 = [p.detach().clone() for _, p in ls.trainable_parameters(model)]
    factory.load_trained(model, model_dir)  # safetensors only; checks the names against the model
    model.meta = meta
    return model.to(device).eval(), [t.to(device) for t in theta0]


def training_sample(task, n_queries: int, seed: int) -> list[dict]:
    """ceil(n_queries / batch size) training batches drawn from a fresh seeded RNG."""
    rng = random.Random(seed)
    return [task.batch(rng) for _ in range(max(1, math.ceil(n_queries / task.batch_size)))]


def loss_function(model, task, batches, device: str = "cpu", bf16: bool = False):
    """-> g(): the mean training loss over `batches` at the model's current parameters. With bf16 the
    encoder runs under bf16 autocast as in training (`retriever.bf16`); the scores and the loss stay fp32."""
    from peftir.tasks import to_device

    batches = [to_device(b, device) for b in batches]

    @torch.no_grad()
    def loss_fn() -> float:
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            return float(np.mean([task.loss(model, b).item() for b in batches]))

    return loss_fn


def compute(model, theta0, loss_fn, settings: dict) -> dict[str, np.ndarray]:
    """Every slice of one model (settings: `settings_of`)."""
    s = settings_of(settings)
    params = [p for _, p in ls.trainable_parameters(model)]
    gen = torch.Generator().manual_seed(int(s["direction_seed"]))
    a1 = np.linspace(-s["span"], s["span"], s["points_1d"])
    dirs = [ls.random_direction(params, gen, s["vectors"]) for _ in range(s["directions_1d"])]
    l1 = np.stack([ls.loss_1d(params, loss_fn, d, a1) for d in dirs])  # (k, n)
    d1, d2 = (ls.random_direction(params, gen, s["vectors"]) for _ in range(2))
    a2 = np.linspace(-s["span"], s["span"], s["grid_2d"])
    l2 = ls.loss_2d(params, loss_fn, d1, d2, a2, a2)  # (n2, n2), rows α
    ts = np.linspace(*s["path_range"], s["path_points"])
    theta1 = [p.detach().clone() for p in params]
    lp = ls.linear_path(params, theta0, theta1, loss_fn, ts)
    return {"alphas_1d": a1, "losses_1d": l1, "alphas_2d": a2, "betas_2d": a2, "losses_2d": l2,
            "ts": ts, "losses_path": lp}  # fmt: skip


def run(model_dir, triples, corpus, hp: dict, settings: dict, device: str = "cpu") -> tuple[dict, dict]:
    """Every slice of one trained bi-encoder (`hp`: the retriever section, for the batch size, lengths,
    negatives and temperature of the training loss) -> (arrays, metadata)."""
    from peftir.data.collections import load_corpus
    from peftir.models.backbone import load_tokenizer
    from peftir.precision import resolve_bf16
    from peftir.tasks import RetrievalTask, TripleSampler
    from peftir.train import TrainConfig

    s = settings_of(settings)
    model, theta0 = load_initial_and_trained(model_dir, device)
    sampler = TripleSampler(triples, load_corpus(corpus), hp["n_neg"])
    tok = load_tokenizer(model.meta["backbone"])
    cfg = TrainConfig.from_dict(hp)  # the retriever section, checked: bf16 and the batch as trained
    task = RetrievalTask(tok, sampler, cfg.batch_size, hp["q_len"], hp["p_len"], hp["temperature"])
    batches = training_sample(task, s["sample_queries"], s["sample_seed"])
    bf16 = resolve_bf16(cfg.bf16, device)  # as trained where the device computes bf16 natively
    data = compute(model, theta0, loss_function(model, task, batches, device, bf16), s)
    meta = {"settings": s, "bf16": bf16, "method": model.meta["spec"], "achieved_pct": model.meta.get("achieved_pct"),
            "trainable_params": sum(p.numel() for _, p in ls.trainable_parameters(model)),
            "sample_queries": len(batches) * task.batch_size}  # fmt: skip
    return data, meta


def slices(data: dict) -> tuple[dict, dict, dict]:
    """The three plot inputs (plots/landscape.py) of one loaded .npz: 1-D, 2-D, path."""
    return (
        {"alphas": data["alphas_1d"], "losses": data["losses_1d"]},
        {"alphas": data["alphas_2d"], "betas": data["betas_2d"], "losses": data["losses_2d"]},
        {"ts": data["ts"], "losses": data["losses_path"]},
    )


def summary(data: dict, radius: float) -> dict[str, list[float]]:
    """Sharpness measures of one landscape (module docstring); lists: one value per 1-D direction."""
    a1, l1 = data["alphas_1d"], np.atleast_2d(data["losses_1d"])
    out = {
        "loss at θ1": [float(np.interp(0.0, a1, row)) for row in l1],
        f"sharpness r={radius:g}": [ls.sharpness(a1, row, radius) for row in l1],
        f"sharpness rel r={radius:g}": [ls.sharpness(a1, row, radius, relative=True) for row in l1],
    }
    a, b, z = data["alphas_2d"], data["betas_2d"], data["losses_2d"]
    inside = (np.abs(a)[:, None] <= radius + 1e-12) & (np.abs(b)[None, :] <= radius + 1e-12)
    centre = z[np.argmin(np.abs(a)), np.argmin(np.abs(b))]
    out[f"2-D max rise r={radius:g}"] = [float(z[inside].max() - centre)]
    ts, g = data["ts"], data["losses_path"]
    seg = (ts >= -1e-12) & (ts <= 1 + 1e-12)
    g0, g1 = np.interp(0.0, ts, g), np.interp(1.0, ts, g)
    out["path barrier"] = [float(g[seg].max() - max(g0, g1))]
    out["path drop"] = [float(g0 - g1)]
    return out
