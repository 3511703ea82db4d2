"""IAA, "Inside and Aside" (Ma et al., CIKM 2022, paper.md §2, figure 3).

Inside: Houlsby adapters A (bottleneck r) exactly as method `adapter`. Aside: bottlenecks
BN(x) = f(x W_down + b_down) W_up + b_up (bottleneck ar, f ReLU [D], W_up/b_up zero-init, W_down
Kaiming-uniform) alongside frozen blocks, so the trainable modules form one connected pathway.
With LN the frozen post-LN, the ⊕ after it (no re-normalisation):

    span="sublayer" (IAA-S):  u = LN(h + A_a(Attn(h))) + BN_a(h);  h' = LN(u + A_f(FFN(u))) + BN_f(u)
    span="layer"    (IAA-L):  h' = Layer(h) + BN(h)
    span="model"    (IAA-M):  h_L = Encoder(h_0) + BN(h_0)             h_0 = embeddings output

Count: 2·L·(2dr + r + d) + n·(2d·ar + ar + d), n = 2L / L / 1 asides.
One registry key, `iaa`, with `span` a config field: {method: iaa, params: {span: layer, r: 12, ar: 12}}.
"""

from __future__ import annotations

from dataclasses import dataclass

from peftir.methods.modules import Aside, Bottleneck, bottleneck_params, check_act, insert_houlsby, like
from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig

SPANS = ("sublayer", "layer", "model")


@dataclass(frozen=True)
class IAAConfig:
    span: str = "layer"
    r: int = 12
    ar: int = 12
    act: str = "relu"  # g of the inside adapters
    aside_act: str = "relu"  # f of the aside modules


@register("iaa")
class IAA(Method):
    Config = IAAConfig
    size_fields = ("r", "ar")
    zero_init_identity = True

    def validate(self, cfg: IAAConfig) -> None:
        super().validate(cfg)
        if cfg.span not in SPANS:
            raise ValueError(f"method {self.key!r}: span={cfg.span!r}; valid: {list(SPANS)}")
        check_act(self.key, cfg.act)
        check_act(self.key, cfg.aside_act)

    def apply(self, model: Bert, cfg: IAAConfig) -> Bert:
        insert_houlsby(model, cfg.r, cfg.act)  # inside first: the asides then wrap the adapted blocks
        d, enc = model.config.hidden_size, model.encoder

        def bn(ref):
            return Bottleneck(d, cfg.ar, cfg.aside_act, **like(ref))

        if cfg.span == "sublayer":
            for layer in enc.layers:
                layer.attn_block = Aside(layer.attn_block, bn(layer))  # (h, bias) -> attn_block + BN_a(h)
                layer.ffn_block = Aside(layer.ffn_block, bn(layer))  # (u, bias) -> ffn_block + BN_f(u)
        elif cfg.span == "layer":
            for i, layer in enumerate(enc.layers):
                enc.layers[i] = Aside(layer, bn(layer))  # (h, bias) -> Layer(h) + BN(h)
        else:
            model.encoder = Aside(enc, bn(enc))  # (h0, bias) -> Encoder(h0) + BN(h0)
        return model

    def n_asides(self, c: BertConfig, span: str) -> int:
        return {"sublayer": 2 * c.num_hidden_layers, "layer": c.num_hidden_layers, "model": 1}[span]

    def count(self, c: BertConfig, cfg: IAAConfig) -> int:
        d = c.hidden_size
        inside = 2 * c.num_hidden_layers * bottleneck_params(d, cfg.r)
        return inside + self.n_asides(c, cfg.span) * bottleneck_params(d, cfg.ar)
