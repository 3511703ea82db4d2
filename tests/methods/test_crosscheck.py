"""Cross-checks against independent implementations.

1. LoRA vs Hugging Face peft's LoRA on `transformers.BertModel` with the same weights.
2. Every insertion method vs a hand-written BERT forward that spells out the paper's equations
   (paper.md §2; eager softmax attention with prefix keys/values concatenated on the left). transformers
   5.x cannot serve as the prefix reference: its BertModel takes a cache only as a decoder and then
   shifts position ids by the cache length, which is not prefix-tuning.
All trainable tensors are randomised first so zero-initialised parts are exercised.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from peftir.methods import apply_method
from peftir.models.bert import Bert, convert_hf_state_dict

from .conftest import TINY, backbone, perturb_trainable


def test_lora_matches_hf_peft(batch):
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    ids, mask = batch
    hf_cfg = transformers.BertConfig(
        **{**TINY.to_dict(), "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    hf = transformers.BertModel(hf_cfg).eval()
    ours = Bert(TINY).eval()
    ours.load_state_dict(convert_hf_state_dict(hf.state_dict()), strict=True)
    hf = peft.get_peft_model(
        hf, peft.LoraConfig(r=4, lora_alpha=32, lora_dropout=0.0, target_modules=["query", "value"])
    ).eval()
    ours = apply_method(ours, "lora", {"r": 4, "alpha": 32}).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for i in range(TINY.num_hidden_layers):
            for t in ("query", "value"):
                theirs = getattr(hf.base_model.model.encoder.layer[i].attention.self, t)
                mine = getattr(ours.encoder.layers[i].attn_block.attention, t)
                theirs.lora_B["default"].weight.normal_(0, 0.5, generator=g)  # B is zero at init
                mine.lora_A.copy_(theirs.lora_A["default"].weight)  # (r, in)
                mine.lora_B.copy_(theirs.lora_B["default"].weight)  # (out, r)
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        out = ours(ids, mask)
        with hf.disable_adapter():
            plain = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    assert (ref - plain).abs().max() > 1e-3  # the LoRA update is not a no-op
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    assert sum(p.numel() for p in hf.parameters() if p.requires_grad) == sum(
        p.numel() for p in ours.parameters() if p.requires_grad
    )


# --- a reference forward, equations written out -------------------------------------------------


def _bn(x, bn):  # BN(x) = f(x W_down + b_down) W_up + b_up
    return bn.act(x @ bn.down.weight.T + bn.down.bias) @ bn.up.weight.T + bn.up.bias


def _prefixes(src):  # -> (2L, l, d), computed from the raw parameters (layout: slot 2i key, 2i+1 value)
    if not src.reparam:
        return src.prefix
    lin1, lin2 = src.mlp[0], src.mlp[2]
    p = torch.tanh(src.embedding.weight @ lin1.weight.T + lin1.bias) @ lin2.weight.T + lin2.bias  # (l, 2Ld)
    return p.view(src.l, src.n_slots, src.d).transpose(0, 1)


def reference(W, model, key, span, ids, mask):
    """BERT post-LN forward from the backbone state dict W, plus the method's modules taken from
    `model` (wrappers forward attribute reads, so `model.encoder.layers[i].attn_block` works for all)."""
    c, d, H = TINY, TINY.hidden_size, TINY.num_attention_heads
    ln = lambda x, n: F.layer_norm(x, (d,), W[n + ".weight"], W[n + ".bias"], c.layer_norm_eps)
    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
    B, T = ids.shape
    h = ln(
        W["embeddings.word.weight"][ids]
        + W["embeddings.position.weight"][:T]
        + W["embeddings.token_type.weight"][0],
        "embeddings.norm",
    )
    h0 = h
    P = _prefixes(model.prefix_encoder) if key in ("prefix", "mam") else None
    houlsby = key in ("adapter", "iaa")
    for i in range(c.num_hidden_layers):
        p, mod = f"encoder.layers.{i}", model.encoder.layers[i]
        q, k, v = (lin(h, f"{p}.attn_block.attention.{n}") for n in ("query", "key", "value"))
        keep = mask.bool()  # (B, S)
        if P is not None:  # K = [P_k ; h W_k], V = [P_v ; h W_v]
            k = torch.cat([P[2 * i].expand(B, -1, -1), k], 1)
            v = torch.cat([P[2 * i + 1].expand(B, -1, -1), v], 1)
            keep = torch.cat([torch.ones(B, P.shape[1], dtype=torch.bool), keep], 1)
        heads = lambda x: x.view(B, x.shape[1], H, d // H).transpose(1, 2)
        s = heads(q) @ heads(k).transpose(-1, -2) / math.sqrt(d // H)  # (B, H, T, S)
        s = s.masked_fill(~keep[:, None, None, :], float("-inf"))
        a = (s.softmax(-1) @ heads(v)).transpose(1, 2).reshape(B, T, d)
        attn = lin(a, f"{p}.attn_block.attention.out")
        if houlsby:
            attn = attn + _bn(attn, mod.attn_block.attention.adapter)  # A_a(Attn(h))
        u = ln(h + attn, f"{p}.attn_block.norm")
        if span == "sublayer":
            u = u + _bn(h, mod.attn_block.aside)  # + BN_a(h)
        f = lin(F.gelu(lin(u, f"{p}.ffn_block.ffn.up")), f"{p}.ffn_block.ffn.down")
        if houlsby:
            f = f + _bn(f, mod.ffn_block.ffn.adapter)  # A_f(FFN(u))
        if key == "mam":
            f = f + mod.ffn_block.ffn.scale * _bn(u, mod.ffn_block.ffn.aside)  # + 4 · PA(u)
        out = ln(u + f, f"{p}.ffn_block.norm")
        if span == "sublayer":
            out = out + _bn(u, mod.ffn_block.aside)  # + BN_f(u)
        if span == "layer":
            out = out + _bn(h, mod.aside)  # Layer(h) + BN(h)
        h = out
    if span == "model":
        h = h + _bn(h0, model.encoder.aside)  # Encoder(h0) + BN(h0)
    return h


@pytest.mark.parametrize(
    "key, params",
    [
        ("prefix", {"l": 5}),
        ("prefix", {"l": 3, "reparam": False}),
        ("adapter", {"r": 4, "act": "gelu"}),
        ("mam", {"r": 4, "l": 3}),
        ("mam", {"r": 2, "l": 6, "reparam": False, "scale": 2.0}),
        ("iaa", {"span": "sublayer", "r": 3, "ar": 5}),
        ("iaa", {"span": "layer", "r": 3, "ar": 5}),
        ("iaa", {"span": "model", "r": 3, "ar": 5, "aside_act": "gelu"}),
    ],
)
def test_matches_reference_equations(key, params, batch):
    ids, mask = batch
    base = backbone(dtype=torch.float64)
    W = {n: t.clone() for n, t in base.state_dict().items()}
    torch.manual_seed(1)
    model = apply_method(base, key, params).eval()
    perturb_trainable(model, scale=0.3)
    with torch.no_grad():
        out = model(ids, mask)
        ref = reference(W, model, key, params.get("span"), ids, mask)
        plain = backbone(dtype=torch.float64)(ids, mask)
    assert (out - plain).abs().max() > 1e-3  # the method does something
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    for i in range(2 * TINY.num_hidden_layers) if key in ("prefix", "mam") else ():
        torch.testing.assert_close(model.prefix_encoder(i), _prefixes(model.prefix_encoder)[i])
