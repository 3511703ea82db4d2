"""Full fine-tuning: every backbone parameter trains (the reference of every table)."""

from __future__ import annotations

from dataclasses import dataclass

from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig


@dataclass(frozen=True)
class FullConfig:
    pass


@register("full")
class Full(Method):
    Config = FullConfig

    def apply(self, model: Bert, cfg: FullConfig) -> Bert:
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def count(self, c: BertConfig, cfg: FullConfig) -> int:
        d, L, i = c.hidden_size, c.num_hidden_layers, c.intermediate_size
        emb = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * d + 2 * d
        layer = 4 * (d * d + d) + 2 * d + (d * i + i) + (i * d + d) + 2 * d + 2 * d
        return emb + L * layer
