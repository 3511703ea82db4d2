"""MAM adapter (He et al. 2022, "Towards a Unified View of Parameter-Efficient Transfer Learning"):
prefix-tuning at the attention plus a scaled parallel adapter at the FFN (paper.md §3):

    K, V  get l prefix slots per layer                       (as `prefix`, reparam MLP by default)
    h' = LN(u + FFN(u) + s · ReLU(u W_down + b_down) W_up + b_up)     s = 4, W_up, b_up zero-init

Budget count: 2·L·l·d + L·(2·d·r + r + d) (r=l=16 on BERT-base: 0.55%); `count_train` adds the
prefix MLP when reparam=True (see prefix.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from peftir.methods.modules import Aside, Bottleneck, bottleneck_params, check_act, like
from peftir.methods.prefix import check_prefix, insert_prefix, prefix_count, prefix_count_train
from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig


@dataclass(frozen=True)
class MAMConfig:
    r: int = 16
    l: int = 16
    scale: float = 4.0
    act: str = "relu"
    reparam: bool = True
    mlp_hidden: int = 800
    prefix_dropout: float = 0.0


@register("mam")
class MAM(Method):
    Config = MAMConfig
    size_fields = ("r", "l")
    zero_init_identity = False  # the prefixes act from the start

    def validate(self, cfg: MAMConfig) -> None:
        super().validate(cfg)
        check_act(self.key, cfg.act)
        check_prefix(self.key, cfg.reparam, cfg.mlp_hidden, cfg.prefix_dropout)

    def apply(self, model: Bert, cfg: MAMConfig) -> Bert:
        insert_prefix(model, cfg.l, cfg.reparam, cfg.mlp_hidden, cfg.prefix_dropout)
        d = model.config.hidden_size
        for layer in model.encoder.layers:
            fb = layer.ffn_block  # parallel adapter: fed with the FFN's input u, added to FFN(u)
            fb.ffn = Aside(fb.ffn, Bottleneck(d, cfg.r, cfg.act, **like(fb.ffn)), scale=cfg.scale)
        return model

    def _adapters(self, c: BertConfig, cfg: MAMConfig) -> int:
        return c.num_hidden_layers * bottleneck_params(c.hidden_size, cfg.r)

    def count(self, c: BertConfig, cfg: MAMConfig) -> int:
        return prefix_count(c, cfg.l) + self._adapters(c, cfg)

    def count_train(self, c: BertConfig, cfg: MAMConfig) -> int:
        return prefix_count_train(c, cfg.l, cfg.reparam, cfg.mlp_hidden) + self._adapters(c, cfg)
