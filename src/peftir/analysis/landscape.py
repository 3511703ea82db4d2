"""Loss landscapes (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets", §4-5), restricted
to the trainable parameters — this project's evidence for claim 4, "IAA smooths the loss surface"
(paper.md §6, [D]).

With θ the trainable parameters at the end of training and δ, η random directions,

    1-D:  f(α)    = L(θ + α δ)                 2-D:  f(α, β) = L(θ + α δ + β η)
    path: g(t)    = L((1 − t) θ_0 + t θ_1)     (θ_0 initial, θ_1 final; Goodfellow et al. 2015)

Filter normalisation (Li et al. eq. 1): each direction entry is Gaussian, then for every tensor
with ≥ 2 dimensions each *filter* (a slice along dim 0: a row of a Linear weight, one output unit)
is rescaled to the norm of the same slice of the weight, d_i ← d_i · ‖θ_i‖ / ‖d_i‖, which removes
the scale invariance between layers and lets methods of different sizes be compared. A weight slice
of norm 0 (e.g. LoRA's zero-initialised B before training) gets a zero direction.
[D] 1-D tensors (biases, LayerNorm): Li et al. set their direction to zero (`--xignore biasbn` in
their code). That would freeze BitFit entirely (it trains only biases), so the default here,
`vectors="filter"`, treats a 1-D tensor as one filter (rescaled to the whole tensor's norm);
`vectors="zero"` reproduces Li et al.

`loss_fn` is a zero-argument callable returning a float: the caller evaluates the training loss on a
fixed sample under `torch.no_grad()` in eval mode. Every function restores the parameters bit for
bit, also when `loss_fn` raises.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from peftir.io import atomic_open

Params = Sequence[torch.Tensor]
LossFn = Callable[[], float]


def trainable_parameters(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """(name, parameter) for every parameter that requires grad, in `named_parameters` order."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def normalise_direction(direction: Params, params: Params, vectors: str = "filter") -> list[torch.Tensor]:
    """Filter-normalise `direction` to `params` (module docstring); returns new tensors."""
    if vectors not in ("filter", "zero"):
        raise ValueError(f"vectors={vectors!r}: expected 'filter' or 'zero'")
    out = []
    for d, p in zip(direction, params, strict=True):
        dtype = torch.promote_types(p.dtype, torch.float32)  # normalise in ≥ fp32, return p's dtype
        d, w = d.detach().to(p.device, dtype, copy=True), p.detach().to(dtype)
        if d.dim() <= 1 and vectors == "zero":
            d.zero_()
        elif d.dim() <= 1:
            d.mul_(w.norm() / (d.norm() + 1e-10))
        else:
            dn = d.reshape(d.shape[0], -1).norm(dim=1)  # (filters,)
            wn = w.reshape(w.shape[0], -1).norm(dim=1)
            d.mul_((wn / (dn + 1e-10)).view(-1, *[1] * (d.dim() - 1)))
        out.append(d.to(p.dtype))
    return out


def random_direction(
    params: Params, generator: torch.Generator, vectors: str = "filter"
) -> list[torch.Tensor]:
    """A filter-normalised Gaussian direction, one tensor per parameter (drawn on the CPU with
    `generator`, so a seed gives the same direction on any device)."""
    raw = [torch.randn(p.shape, generator=generator, dtype=torch.float32) for p in params]
    return normalise_direction(raw, params, vectors)


@contextlib.contextmanager
def _restored(params: Params):
    saved = [p.detach().clone() for p in params]
    try:
        yield saved
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)


def _set(params: Params, values: Sequence[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, v in zip(params, values):
            p.copy_(v)


def loss_1d(params: Params, loss_fn: LossFn, direction: Params, alphas) -> np.ndarray:
    """f(α) = L(θ + α δ) for each α; shape (len(alphas),)."""
    out = []
    with _restored(params) as theta:
        for a in alphas:
            _set(params, [t + float(a) * d for t, d in zip(theta, direction)])
            out.append(float(loss_fn()))
    return np.array(out)


def loss_2d(params: Params, loss_fn: LossFn, d1: Params, d2: Params, alphas, betas) -> np.ndarray:
    """f(α, β) = L(θ + α δ + β η); shape (len(alphas), len(betas)), rows indexed by α."""
    out = np.empty((len(alphas), len(betas)))
    with _restored(params) as theta:
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                _set(params, [t + float(a) * x + float(b) * y for t, x, y in zip(theta, d1, d2)])
                out[i, j] = float(loss_fn())
    return out


def linear_path(params: Params, theta0: Params, theta1: Params, loss_fn: LossFn, ts) -> np.ndarray:
    """g(t) = L((1 − t) θ_0 + t θ_1) for each t; the parameters are restored to their current values."""
    out = []
    with _restored(params):
        for t in ts:
            t = float(t)
            _set(params, [(1 - t) * a.to(p) + t * b.to(p) for p, a, b in zip(params, theta0, theta1)])
            out.append(float(loss_fn()))
    return np.array(out)


def sharpness(alphas, losses, radius: float, relative: bool = False) -> float:
    """Loss rise at distance `radius`: (f(−r) + f(r))/2 − f(0), linearly interpolated on the 1-D
    curve; divided by f(0) when `relative`. Needs the alphas to cover [−r, r]."""
    a, f = np.asarray(alphas, dtype=float), np.asarray(losses, dtype=float)
    order = np.argsort(a)
    a, f = a[order], f[order]
    if a[0] > -radius or a[-1] < radius:
        raise ValueError(f"alphas span [{a[0]}, {a[-1]}], which does not cover ±{radius}")
    centre = np.interp(0.0, a, f)
    rise = (np.interp(-radius, a, f) + np.interp(radius, a, f)) / 2 - centre
    return float(rise / centre) if relative else float(rise)


def save_landscape(path: str | Path, meta: dict | None = None, **arrays) -> None:
    """Write arrays (e.g. alphas, losses, betas, ts) and a JSON `meta` dict to one .npz, atomically."""
    with atomic_open(path, "wb") as f:
        np.savez(f, _meta=np.array(json.dumps(meta or {}, sort_keys=True)), **arrays)


def load_landscape(path: str | Path) -> dict:
    """The arrays saved by `save_landscape`, plus its metadata under "meta"."""
    with np.load(path) as z:
        out = {k: z[k] for k in z.files if k != "_meta"}
        out["meta"] = json.loads(str(z["_meta"])) if "_meta" in z.files else {}
    return out
