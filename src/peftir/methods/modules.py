"""Shared building blocks for module surgery: the bottleneck and three ways to attach it.

Bottleneck (Houlsby et al. 2019, eq. of paper.md §2; also IAA's aside module):

    BN(x) = f(x W_down + b_down) W_up + b_up          x (..., d) -> (..., r) -> (..., d)

W_down is Kaiming-uniform (PyTorch's `nn.Linear` default, a=sqrt(5), as LoRA's A), b_down zeros;
W_up and b_up are zero-initialised so every attachment below starts as the identity.

Attachments (each wraps a frozen module `base`, kept under the child name `base`):

    AdapterAfter(base, BN):  y = base(*args);  return y + BN(y)       # Houlsby: A(Attn(h)), A(FFN(u))
    Aside(base, BN, s):      return base(x, *rest) + s * BN(x)         # IAA aside (s=1); MAM parallel (s=4)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTS = {"relu": F.relu, "gelu": F.gelu}


def check_act(key: str, act: str) -> None:
    if act not in ACTS:
        raise ValueError(f"method {key!r}: act={act!r}; valid: {sorted(ACTS)}")


def like(module: nn.Module) -> dict:
    """`device`/`dtype` factory kwargs of a module's first parameter (new modules follow the backbone)."""
    p = next(module.parameters())
    return {"device": p.device, "dtype": p.dtype}


def bottleneck_params(d: int, r: int) -> int:
    """Trainable parameters of one bottleneck with biases: d*r + r + r*d + d."""
    return 2 * d * r + r + d


class Bottleneck(nn.Module):
    def __init__(self, d: int, r: int, act: str = "relu", device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.down = nn.Linear(d, r, **kw)
        self.up = nn.Linear(r, d, **kw)
        self.act_name = act
        self.act = ACTS[act]
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
            nn.init.zeros_(self.down.bias)
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def forward(self, x):  # (..., d) -> (..., r) -> (..., d)
        return self.up(self.act(self.down(x)))

    def extra_repr(self) -> str:
        return f"act={self.act_name}"


class Wrapper(nn.Module):
    """Base of the attachments: names the wrapper lacks are read from (and plain values written to) `base`,
    so `model.encoder.layers` and `model.encoder.gradient_checkpointing = True` still work after IAA-M
    wraps the encoder (the HF peft `__getattr__` forwarding pattern)."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            base = self.__dict__.get("_modules", {}).get("base")
            if base is None:
                raise
            return getattr(base, name)

    def __setattr__(self, name, value):
        base = self.__dict__.get("_modules", {}).get("base")
        plain = not isinstance(value, (nn.Module, torch.Tensor))
        if plain and base is not None and name not in self.__dict__ and hasattr(base, name):
            setattr(base, name, value)
        else:
            super().__setattr__(name, value)


class AdapterAfter(Wrapper):
    """Houlsby adapter on the output of `base`: y + BN(y), y = base(*args, **kwargs)."""

    def __init__(self, base: nn.Module, adapter: Bottleneck):
        super().__init__()
        self.base = base
        self.adapter = adapter

    def forward(self, *args, **kwargs):
        y = self.base(*args, **kwargs)  # (B, T, d)
        return y + self.adapter(y)


class Aside(Wrapper):
    """A bottleneck alongside `base`, fed with base's first input: base(x, *rest) + scale * BN(x)."""

    def __init__(self, base: nn.Module, aside: Bottleneck, scale: float = 1.0):
        super().__init__()
        self.scale = scale  # set before `base`: plain attributes are forwarded once base exists
        self.base = base
        self.aside = aside

    def forward(self, x, *args, **kwargs):  # x (B, T, d)
        out = self.base(x, *args, **kwargs)
        side = self.aside(x)
        return out + side if self.scale == 1.0 else out + self.scale * side

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def insert_houlsby(model: nn.Module, r: int, act: str) -> None:
    """Two Houlsby adapters per layer: after the attention output projection and after the FFN output,
    i.e. before each residual Add & LayerNorm: u = LN(h + A_a(Attn(h))), h' = LN(u + A_f(FFN(u)))."""
    d = model.config.hidden_size
    for layer in model.encoder.layers:
        ab, fb = layer.attn_block, layer.ffn_block
        ab.attention = AdapterAfter(ab.attention, Bottleneck(d, r, act, **like(ab.attention)))
        fb.ffn = AdapterAfter(fb.ffn, Bottleneck(d, r, act, **like(fb.ffn)))
