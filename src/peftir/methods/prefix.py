"""Prefix-tuning (Li & Liang 2021) and its direct form P-tuning v2 (Liu et al. 2022), paper.md §3.

Every layer's attention gets l trainable key and value vectors prepended to the projected keys and
values ("past key/values"); the queries attend to them, the mask always attends to them:

    K_l = [P_k^l ; h W_k + b_k]   (B, l+T, d)        V_l = [P_v^l ; h W_v + b_v]   (B, l+T, d)

The prefixes P (2·L slots of shape (l, d); slot 2·layer is the key, 2·layer+1 the value, the HF peft /
P-tuning v2 layout) come from one of two parametrisations:
  reparam=True   (default, [I] the likely reference code): P = MLP(E), E = Embedding(l, d),
                 MLP = Linear(d, mlp_hidden) → tanh → Linear(mlp_hidden, 2·L·d)
  reparam=False  (P-tuning v2): P is itself the parameter, (2·L, l, d)
Initialisation [D] follows HF peft's PrefixEncoder: E and P ~ N(0, 1), MLP linears PyTorch defaults.

Two counts, kept apart on purpose:
  count()        the paper's budget: the prefixes only, 2·L·l·d (l=32 on BERT-base: 0.54%)
  count_train()  what receives gradients: with reparam the MLP too
                 l·d + (d·h + h) + (h·2Ld + 2Ld)  (l=32, h=800 on BERT-base: 15.4 M, 14%)
The budget solver uses count(); run_info's trainable count is the actual number (= count_train()).

Module surgery: `encoder.layers[i].attn_block.attention.{key,value}` become `PrefixLinear`s; the
shared `PrefixSource` is attached to the model as `model.prefix_encoder`. The encoder's only
prefix-aware code is that it pads the attention mask when keys outnumber queries (models/bert.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from peftir.methods.modules import Wrapper, like
from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig


class PrefixSource(nn.Module):
    """All 2·L prefixes of a model; `forward(j)` -> slot j, (l, d)."""

    def __init__(
        self,
        n_slots: int,
        l: int,
        d: int,
        reparam: bool,
        mlp_hidden: int,
        dropout: float,
        device=None,
        dtype=None,
    ):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.n_slots, self.l, self.d, self.reparam = n_slots, l, d, reparam
        if reparam:
            self.embedding = nn.Embedding(l, d, **kw)  # (l, d), N(0, 1)
            self.mlp = nn.Sequential(
                nn.Linear(d, mlp_hidden, **kw), nn.Tanh(), nn.Linear(mlp_hidden, n_slots * d, **kw)
            )
        else:
            self.prefix = nn.Parameter(torch.randn(n_slots, l, d, **kw))  # (2L, l, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, j: int):  # -> (l, d)
        if not self.reparam:
            return self.dropout(self.prefix[j])
        hidden = self.mlp[1](self.mlp[0](self.embedding.weight))  # (l, h)
        last, rows = self.mlp[2], slice(j * self.d, (j + 1) * self.d)  # only slot j's rows of (2Ld, h)
        return self.dropout(F.linear(hidden, last.weight[rows], last.bias[rows]))


class PrefixLinear(Wrapper):
    """A frozen k/v projection that prepends prefix slot `slot` to its output: (B, T, d) -> (B, l+T, d)."""

    def __init__(self, base: nn.Linear, source: PrefixSource, slot: int):
        super().__init__()
        self.slot = slot
        self._source = (source,)  # a tuple: referenced, not registered (it lives at model.prefix_encoder)
        self.base = base

    def forward(self, x):  # x (B, T, d)
        y = self.base(x)  # (B, T, d)
        p = self._source[0](self.slot).to(y.dtype)  # (l, d)
        return torch.cat([p.expand(y.shape[0], -1, -1), y], dim=1)  # (B, l+T, d)

    def extra_repr(self) -> str:
        return f"slot={self.slot}"


def insert_prefix(model: Bert, l: int, reparam: bool, mlp_hidden: int, dropout: float) -> PrefixSource:
    if "prefix_encoder" in model._modules:
        raise ValueError("model already has prefixes (model.prefix_encoder)")
    c = model.config
    source = PrefixSource(
        2 * c.num_hidden_layers, l, c.hidden_size, reparam, mlp_hidden, dropout, **like(model)
    )
    model.prefix_encoder = source
    for i, layer in enumerate(model.encoder.layers):
        attn = layer.attn_block.attention
        attn.key = PrefixLinear(attn.key, source, 2 * i)
        attn.value = PrefixLinear(attn.value, source, 2 * i + 1)
    return source


def prefix_count(c: BertConfig, l: int) -> int:
    """The paper's count: 2·L·l·d."""
    return 2 * c.num_hidden_layers * l * c.hidden_size


def prefix_count_train(c: BertConfig, l: int, reparam: bool, h: int) -> int:
    if not reparam:
        return prefix_count(c, l)
    d, out = c.hidden_size, 2 * c.num_hidden_layers * c.hidden_size
    return l * d + (d * h + h) + (h * out + out)


def check_prefix(key: str, reparam, mlp_hidden, dropout) -> None:
    if not isinstance(reparam, bool):
        raise ValueError(f"method {key!r}: reparam={reparam!r} must be true or false")  # noqa: TRY004 (config errors: ValueError)
    if isinstance(mlp_hidden, bool) or not isinstance(mlp_hidden, int) or mlp_hidden < 1:
        raise ValueError(f"method {key!r}: mlp_hidden={mlp_hidden!r} must be a positive integer")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"method {key!r}: dropout={dropout!r} must be in [0, 1)")


@dataclass(frozen=True)
class PrefixConfig:
    l: int = 32
    reparam: bool = True
    mlp_hidden: int = 800
    dropout: float = 0.0


@register("prefix")
class Prefix(Method):
    Config = PrefixConfig
    size_fields = ("l",)
    zero_init_identity = False  # the prefixes change every attention distribution from the start

    def validate(self, cfg: PrefixConfig) -> None:
        super().validate(cfg)
        check_prefix(self.key, cfg.reparam, cfg.mlp_hidden, cfg.dropout)

    def apply(self, model: Bert, cfg: PrefixConfig) -> Bert:
        insert_prefix(model, cfg.l, cfg.reparam, cfg.mlp_hidden, cfg.dropout)
        return model

    def count(self, c: BertConfig, cfg: PrefixConfig) -> int:
        return prefix_count(c, cfg.l)

    def count_train(self, c: BertConfig, cfg: PrefixConfig) -> int:
        return prefix_count_train(c, cfg.l, cfg.reparam, cfg.mlp_hidden)
