"""LoRA (Hu et al. 2022) on W_q and W_v: W x + (alpha / r) B A x, with B zero-initialised (paper.md §3)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig


class LoRALinear(nn.Module):
    """Wraps a frozen nn.Linear; `lora_A` (r, in) Kaiming-uniform, `lora_B` (out, r) zeros (as HF peft)."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **kw))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **kw))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):  # (..., in) -> (..., out)
        return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling


@dataclass(frozen=True)
class LoRAConfig:
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    targets: tuple[str, ...] = ("query", "value")

    def __post_init__(self):  # YAML/JSON give lists (or one string): store a hashable tuple
        t = self.targets
        object.__setattr__(self, "targets", (t,) if isinstance(t, str) else tuple(t))


@register("lora")
class LoRA(Method):
    Config = LoRAConfig
    size_fields = ("r",)
    zero_init_identity = True

    def validate(self, cfg: LoRAConfig) -> None:
        super().validate(cfg)
        bad = sorted(set(cfg.targets) - {"query", "key", "value", "out"})
        if bad:
            raise ValueError(f"method 'lora': unknown targets {bad}; valid: ['key', 'out', 'query', 'value']")

    def apply(self, model: Bert, cfg: LoRAConfig) -> Bert:
        for layer in model.encoder.layers:
            attn = layer.attn_block.attention
            for t in cfg.targets:
                setattr(attn, t, LoRALinear(getattr(attn, t), cfg.r, cfg.alpha, cfg.dropout))
        return model

    def merge(self, model: Bert) -> Bert:
        """W <- W + (alpha / r) B A in every wrapped projection (what HF peft's merge_and_unload does)."""
        for layer in model.encoder.layers:
            attn = layer.attn_block.attention
            for name, m in list(attn.named_children()):
                if isinstance(m, LoRALinear):
                    with torch.no_grad():
                        m.base.weight += (m.lora_B @ m.lora_A) * m.scaling  # (out, r) @ (r, in)
                    setattr(attn, name, m.base)
        return model

    def count(self, c: BertConfig, cfg: LoRAConfig) -> int:
        return c.num_hidden_layers * len(cfg.targets) * 2 * cfg.r * c.hidden_size
