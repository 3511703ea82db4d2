"""BitFit (Ben Zaken et al. 2022): train only the bias terms, LayerNorm biases included (paper.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig


@dataclass(frozen=True)
class BitFitConfig:
    pass


@register("bitfit")
class BitFit(Method):
    Config = BitFitConfig
    zero_init_identity = True  # nothing is inserted: the model is the backbone

    def apply(self, model: Bert, cfg: BitFitConfig) -> Bert:
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.requires_grad_(True)
        return model

    def merge(self, model: Bert) -> Bert:  # trains BERT's own tensors: already plain BERT
        return model

    def count(self, c: BertConfig, cfg: BitFitConfig) -> int:
        d, i = c.hidden_size, c.intermediate_size
        # per layer: q,k,v,out biases (4d) + 2 LayerNorm biases (2d) + FFN up (i) + down (d)
        return d + c.num_hidden_layers * (4 * d + 2 * d + i + d)
