"""Houlsby adapters (Houlsby et al. 2019), two per layer (paper.md §2-3):

    A(h) = h + g(h W_d + b_d) W_u + b_u          bottleneck r, W_u and b_u zero-initialised
    u  = LN(h + A_a(Attn(h)))                    after the attention output projection
    h' = LN(u + A_f(FFN(u)))                     after the FFN output

Trainable: 2·L·(2·d·r + r + d) (r=16 on BERT-base: 0.56%; r=200: 6.76%).
"""

from __future__ import annotations

from dataclasses import dataclass

from peftir.methods.modules import bottleneck_params, check_act, insert_houlsby
from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig


@dataclass(frozen=True)
class AdapterConfig:
    r: int = 16
    act: str = "relu"  # g; [D] Houlsby et al. leave it open, ReLU as IAA's aside


@register("adapter")
class Adapter(Method):
    Config = AdapterConfig
    size_fields = ("r",)
    zero_init_identity = True

    def validate(self, cfg: AdapterConfig) -> None:
        super().validate(cfg)
        check_act(self.key, cfg.act)

    def apply(self, model: Bert, cfg: AdapterConfig) -> Bert:
        insert_houlsby(model, cfg.r, cfg.act)
        return model

    def count(self, c: BertConfig, cfg: AdapterConfig) -> int:
        return 2 * c.num_hidden_layers * bottleneck_params(c.hidden_size, cfg.r)
