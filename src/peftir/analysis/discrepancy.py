"""Update-direction discrepancy: the paper's claim 3 measured (paper.md §1, §6).

The paper argues that *scattered* trainable modules (frozen blocks between them) cannot move a
layer's representation in the direction the loss asks for. The paper gives no measurement; this is
this project's reconstruction, labelled as such wherever it is reported. On a fixed probe batch:

    before the optimizer step:  H_l = output of layer l,   g_l = ∂L/∂H_l   (l = 0 .. L−1)
    after the step:             H'_l on the same batch,    ΔH_l = H'_l − H_l
    discrepancy:                c_l = cos(vec ΔH_l, vec(−g_l))     (flattened over the batch)

c_l = 1 means the step moved layer l's output exactly along steepest descent (what training the
representation itself with SGD would do); c_l near 0, a step mostly orthogonal to it. c_l is NaN
when ΔH_l = 0 (nothing before layer l trains) or g_l = 0.

Layer outputs are collected with forward hooks on whatever module currently sits at each position
of the layer list (`model.encoder.layers[i]`, or a PET method's wrapper around it), so a wrapper's
output — e.g. IAA-L's Layer(h) + BN(h) — is what is measured. A layer called several times per
forward (a bi-encoder encodes queries and passages with the same layers) contributes every call,
concatenated. [D] Probes run in eval mode (no dropout), so ΔH reflects the parameter change only.
The probe computes g_l with `torch.autograd.grad` and never touches the parameters' `.grad`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pandas as pd
import torch
from torch import nn


def find_layers(model: nn.Module) -> list[nn.Module]:
    """The modules at the positions of the encoder's layer list: `model.encoder.layers`, else the
    unique ModuleList whose qualified name ends in `encoder.layers` (a task model wrapping Bert)."""
    enc = getattr(model, "encoder", None)
    if isinstance(getattr(enc, "layers", None), nn.ModuleList):
        return list(enc.layers)
    found = [
        (n, m)
        for n, m in model.named_modules()
        if n.endswith("encoder.layers") and isinstance(m, nn.ModuleList)
    ]
    if len(found) != 1:
        raise ValueError(f"expected one `encoder.layers` ModuleList, found {[n for n, _ in found]}")
    return list(found[0][1])


def _first_tensor(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _flat(tensors: Sequence[torch.Tensor], masks: Sequence[torch.Tensor | None]) -> torch.Tensor:
    parts = []
    for t, m in zip(tensors, masks):
        t = t.detach().double()
        if m is not None:
            m = m.to(t.device, t.dtype)
            while m.dim() < t.dim():
                m = m.unsqueeze(-1)
            t = t * m
        parts.append(t.reshape(-1))
    return torch.cat(parts)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    na, nb = a.norm(), b.norm()
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else math.nan


class UpdateDirectionProbe:
    """Use around one optimizer step:

        probe = UpdateDirectionProbe()
        probe.before_step(model, lambda: model(**probe_batch), loss_fn)   # H_l, g_l
        optimizer.step()
        cosines = probe.after_step(model, step=global_step)               # c_l per layer

    `batch_fn()` runs the model on the fixed probe batch; `loss_fn(outputs)` returns the scalar
    loss (omit it when `batch_fn` returns the loss). `mask`: optional padding mask, one tensor for
    every layer call or a list with one per call (broadcast against H from the left, e.g. (B, T)
    for H of shape (B, T, d)); masked positions are excluded from both vectors.
    `records` accumulates {"step", "layer", "cosine", "delta_norm", "grad_norm"} rows.
    """

    def __init__(
        self, layers: Callable[[nn.Module], Sequence[nn.Module]] = find_layers, eval_mode: bool = True
    ):
        self.layers = layers
        self.eval_mode = eval_mode
        self.records: list[dict] = []
        self._state = None

    def _run(self, model, batch_fn, loss_fn, grad: bool):
        """Forward on the probe batch with hooks; returns (outputs per layer and call, loss)."""
        captured: list[list[torch.Tensor]] = [[] for _ in self.layers(model)]
        active = [True]  # capture only this explicit forward (not checkpoint recomputation)

        def hook(i):
            def fn(module, inputs, out):
                if not active[0]:
                    return None
                h = _first_tensor(out)
                if grad and not h.requires_grad:  # nothing upstream trains: make H a leaf for ∂L/∂H
                    h = h.detach().requires_grad_(True)
                    out = (h, *out[1:]) if isinstance(out, (tuple, list)) else h
                captured[i].append(h)
                return out

            return fn

        flags = {m: m.training for m in model.modules()}
        handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(self.layers(model))]
        try:
            if self.eval_mode:
                model.eval()
            with torch.set_grad_enabled(grad):
                outputs = batch_fn()
                loss = loss_fn(outputs) if loss_fn is not None else outputs
            active[0] = False
        finally:
            for h in handles:
                h.remove()
            for m, f in flags.items():
                m.training = f
        return captured, loss

    def before_step(
        self, model: nn.Module, batch_fn: Callable, loss_fn: Callable | None = None, mask=None
    ) -> None:
        self._batch_fn, self._loss_fn = batch_fn, loss_fn
        hs, loss = self._run(model, batch_fn, loss_fn, grad=True)
        flat = [h for calls in hs for h in calls]
        if not loss.requires_grad:
            raise ValueError("the probe loss does not depend on any layer output")
        grads = torch.autograd.grad(loss, flat, allow_unused=True)
        grads = [torch.zeros_like(h) if g is None else g for h, g in zip(flat, grads)]
        it = iter(grads)
        gs = [[next(it) for _ in calls] for calls in hs]
        self._state = ([[h.detach().clone() for h in calls] for calls in hs], gs, mask)

    def after_step(self, model: nn.Module, step: int | None = None) -> list[float]:
        if self._state is None:
            raise RuntimeError("after_step called before before_step")
        hs, gs, mask = self._state
        new, _ = self._run(model, self._batch_fn, self._loss_fn, grad=False)
        out = []
        for layer, (h0, h1, g) in enumerate(zip(hs, new, gs)):
            if len(h0) != len(h1):
                raise RuntimeError(f"layer {layer}: {len(h0)} calls before the step, {len(h1)} after")
            masks = list(mask) if isinstance(mask, (list, tuple)) else [mask] * len(h0)
            delta = _flat([b - a for a, b in zip(h0, h1)], masks)
            neg_g = -_flat(g, masks)
            c = cosine(delta, neg_g)
            out.append(c)
            self.records.append(
                {
                    "step": step,
                    "layer": layer,
                    "cosine": c,
                    "delta_norm": float(delta.norm()),
                    "grad_norm": float(neg_g.norm()),
                }
            )
        self._state = None
        return out


# --- summaries -----------------------------------------------------------------------------------


def records_frame(records: Sequence[dict]) -> pd.DataFrame:
    """Probe records (possibly from several seeds, with an extra "seed" key) as a DataFrame."""
    return pd.DataFrame(list(records), columns=None if records else ["step", "layer", "cosine"])


def _summ(df: pd.DataFrame, by: str) -> pd.DataFrame:
    g = df.dropna(subset=["cosine"]).groupby(by)["cosine"]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0.0), "n": g.size()})
    return out.reset_index()


def by_layer(records) -> pd.DataFrame:
    """Cosine per layer over all probed steps (and seeds): columns layer, mean, std, n."""
    df = records if isinstance(records, pd.DataFrame) else records_frame(records)
    return _summ(df, "layer")


def by_step(records, layers: Sequence[int] | None = None) -> pd.DataFrame:
    """Cosine per probed step, averaged over `layers` (default all): columns step, mean, std, n."""
    df = records if isinstance(records, pd.DataFrame) else records_frame(records)
    if layers is not None:
        df = df[df["layer"].isin(list(layers))]
    return _summ(df, "step")
