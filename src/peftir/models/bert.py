"""A compact post-LN BERT encoder (Devlin et al. 2019) that loads Hugging Face BERT checkpoints.

Why our own: PET methods are applied by *module surgery* (wrapping or replacing named sub-modules),
and that needs stable, readable module boundaries that match the paper's equations (paper.md §2):

    layer l:   u  = attn_block(h)  = LN(h + Attn(h))          # `encoder.layers[l].attn_block`
               h' = ffn_block(u)   = LN(u + FFN(u))           # `encoder.layers[l].ffn_block`
    model:     h_L = encoder(h_0)                             # `encoder`, h_0 = embeddings output

`Attn` is `attn_block.attention` (q/k/v projections + output projection `out`), `FFN` is
`ffn_block.ffn` (`up` → act → `down`). The encoder knows nothing about PET methods. One generic
feature serves prefix-tuning: the key/value projections may return *more* positions than the
queries (extra memory slots prepended on the left, exactly like past key/values); the attention
mask is then padded with "attend" for those slots.

Outputs equal `transformers.BertModel(...).last_hidden_state` (tested to 1e-5).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_dict(cls, d: dict) -> BertConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_json(cls, path: str | Path) -> BertConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        return asdict(self)


_ACT = {"gelu": F.gelu, "relu": F.relu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


class Embeddings(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.word = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):  # (B, T) -> (B, T, d)
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word(input_ids) + self.position(pos)[None] + self.token_type(token_type_ids)
        return self.dropout(self.norm(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention plus its output projection (BERT's SelfAttention + SelfOutput.dense)."""

    def __init__(self, c: BertConfig):
        super().__init__()
        d = c.hidden_size
        self.n_heads = c.num_attention_heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.out = nn.Linear(d, d)
        self.p_drop = c.attention_probs_dropout_prob

    def forward(self, h, bias):  # h (B, T, d); bias (B, 1, 1, T) additive
        B, T, d = h.shape
        q, k, v = self.query(h), self.key(h), self.value(h)  # k, v: (B, S, d), S >= T (prefix slots)
        S = k.shape[1]
        if S > bias.shape[-1]:  # extra memory slots on the left are always attended to
            bias = F.pad(bias, (S - bias.shape[-1], 0), value=0.0)
        split = lambda x: x.view(B, x.shape[1], self.n_heads, d // self.n_heads).transpose(1, 2)
        a = F.scaled_dot_product_attention(
            split(q), split(k), split(v), attn_mask=bias.to(q.dtype), dropout_p=self.p_drop if self.training else 0.0
        )  # (B, heads, T, d/heads)
        return self.out(a.transpose(1, 2).reshape(B, T, d))


class AttentionBlock(nn.Module):
    """u = LN(h + Attn(h)): the attention sub-layer."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.attention = SelfAttention(c)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, h, bias):
        return self.norm(h + self.dropout(self.attention(h, bias)))


class FeedForward(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.up = nn.Linear(c.hidden_size, c.intermediate_size)
        self.down = nn.Linear(c.intermediate_size, c.hidden_size)
        self.act = _ACT[c.hidden_act]

    def forward(self, u):  # (B, T, d) -> (B, T, 4d) -> (B, T, d)
        return self.down(self.act(self.up(u)))


class FFNBlock(nn.Module):
    """h' = LN(u + FFN(u)): the feed-forward sub-layer."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.ffn = FeedForward(c)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, u, bias=None):  # bias unused; kept so every block has the same signature
        return self.norm(u + self.dropout(self.ffn(u)))


class Layer(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.attn_block = AttentionBlock(c)
        self.ffn_block = FFNBlock(c)

    def forward(self, h, bias):
        return self.ffn_block(self.attn_block(h, bias), bias)


class Encoder(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.gradient_checkpointing = False

    def forward(self, h, bias):
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                h = checkpoint(layer, h, bias, use_reentrant=False)
            else:
                h = layer(h, bias)
        return h


class Bert(nn.Module):
    """Token ids → contextual states (B, T, d). No pooler: pooling lives in the task models."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.config = c
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.apply(self._init)

    @staticmethod
    def _init(m):  # BERT's initialisation (used for random / tiny backbones only)
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        h0 = self.embeddings(input_ids, token_type_ids)
        dtype = h0.dtype
        bias = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min  # (B,1,1,T)
        return self.encoder(h0, bias)


# --- loading Hugging Face checkpoints -------------------------------------------------------------

_RENAMES = [
    ("embeddings.word_embeddings.", "embeddings.word."),
    ("embeddings.position_embeddings.", "embeddings.position."),
    ("embeddings.token_type_embeddings.", "embeddings.token_type."),
    ("embeddings.LayerNorm.", "embeddings.norm."),
    ("encoder.layer.", "encoder.layers."),
    (".attention.self.query.", ".attn_block.attention.query."),
    (".attention.self.key.", ".attn_block.attention.key."),
    (".attention.self.value.", ".attn_block.attention.value."),
    (".attention.output.dense.", ".attn_block.attention.out."),
    (".attention.output.LayerNorm.", ".attn_block.norm."),
    (".intermediate.dense.", ".ffn_block.ffn.up."),
    (".output.dense.", ".ffn_block.ffn.down."),
    (".output.LayerNorm.", ".ffn_block.norm."),
]


def convert_hf_state_dict(sd: dict) -> dict:
    """Map `transformers.BertModel` parameter names onto ours; drops the pooler and MLM heads."""
    out = {}
    for k, v in sd.items():
        k = k.removeprefix("bert.")
        if not k.startswith(("embeddings.", "encoder.")) or "position_ids" in k:
            continue
        k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        for a, b in _RENAMES:
            k = k.replace(a, b)
        out[k] = v
    return out


def load_hf_weights(path: str | Path) -> dict:
    path = Path(path)
    st = path / "model.safetensors"
    if st.exists():
        from safetensors.torch import load_file

        return load_file(str(st))
    pt = path / "pytorch_model.bin"
    if pt.exists():
        return torch.load(pt, map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{path}: no model.safetensors or pytorch_model.bin")


def bert_from_pretrained(path: str | Path) -> Bert:
    path = Path(path)
    model = Bert(BertConfig.from_json(path / "config.json"))
    missing, unexpected = model.load_state_dict(convert_hf_state_dict(load_hf_weights(path)), strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: checkpoint does not match BERT: missing={missing} unexpected={unexpected}")
    return model


def n_params(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["Bert", "BertConfig", "bert_from_pretrained", "convert_hf_state_dict", "math", "n_params"]
