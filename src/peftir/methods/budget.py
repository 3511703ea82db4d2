"""Budget solver: integer sizes (r, l, ar) that put a method's trainable share closest to a target %.

paper.md §3 [D]: budgets are percentages of the *backbone's* parameters, counted by each method's
`count()` (the paper's convention: prefixes without the reparametrisation MLP, adapters with biases).

Denominator. `backbone_params(c)` = our `Bert` (`bert_params`, no pooler) + the BERT pooler
(d·d + d), i.e. HF `BertModel` with `add_pooling_layer=True`: 108,891,648 + 590,592 = 109,482,240 for
BERT-base, the figure paper.md quotes. Only this denominator reproduces every % the paper prints: without
the pooler, Adapter r=200 is 6.79% and LoRA r=200 6.77% (paper: 6.76%, 6.73%). `pooler=False` is there
for backbones reported without one.

Search. The first size field is the free variable x; the others follow the ratio they have in the given
params (IAA-L r=50, ar=300 keeps ar = 6·r; MAM r=16, l=16 keeps l = r), rounded, at least 1. Counts
grow with x, so a doubling + bisection search finds the x whose % is closest (ties: the smaller x).

Worked example (BERT-base): adapter at 0.5% → 2·12·(2·768·r + r + 768) / 109,482,240; r=14 gives
0.4885%, r=15 0.5222%, so r=14 is returned.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from peftir.methods.registry import get_method
from peftir.models.bert import BertConfig


def bert_params(c: BertConfig) -> int:
    """Parameters of our `Bert` (embeddings + layers, no pooler): 108,891,648 for BERT-base."""
    d, L, i = c.hidden_size, c.num_hidden_layers, c.intermediate_size
    emb = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * d + 2 * d  # + LayerNorm
    attn = 4 * (d * d + d) + 2 * d  # q, k, v, out + LayerNorm
    ffn = (d * i + i) + (i * d + d) + 2 * d  # up, down + LayerNorm
    return emb + L * (attn + ffn)


def backbone_params(c: BertConfig, pooler: bool = True) -> int:
    """The % denominator: 109,482,240 for BERT-base (HF BertModel with pooler)."""
    d = c.hidden_size
    return bert_params(c) + (d * d + d if pooler else 0)


def percent(key: str, c: BertConfig, params: dict[str, Any] | None = None, pooler: bool = True) -> float:
    """100 · count / backbone_params, for method `key` with `params`."""
    m = get_method(key)
    return 100.0 * m.count(c, m.config(params)) / backbone_params(c, pooler)


def solve(
    key: str, c: BertConfig, budget_pct: float, base_params: dict[str, Any] | None = None, pooler: bool = True
) -> tuple[dict[str, Any], float]:
    """-> (params with the size fields set, achieved %). Methods without size fields (full, bitfit)
    return their params unchanged and their natural %."""
    m = get_method(key)
    params = dict(base_params or {})
    base = m.config(params)  # validates, and fills size fields the caller left out with defaults
    total = backbone_params(c, pooler)
    if not m.size_fields:
        return params, 100.0 * m.count(c, base) / total
    if not (isinstance(budget_pct, (int, float)) and math.isfinite(budget_pct) and budget_pct > 0):
        raise ValueError(f"budget_pct={budget_pct!r} must be a positive number (percent)")

    free, *tied = m.size_fields
    ratios = {f: getattr(base, f) / getattr(base, free) for f in tied}

    def sizes(x: int) -> dict[str, int]:
        return {free: x, **{f: max(1, round(q * x)) for f, q in ratios.items()}}

    def pct(x: int) -> float:
        return 100.0 * m.count(c, dataclasses.replace(base, **sizes(x))) / total

    hi = 1
    while pct(hi) < budget_pct:  # doubling: the first power of two at or above the budget
        hi *= 2
        if hi > 2**40:
            raise ValueError(f"method {key!r}: budget {budget_pct}% is out of reach")
    lo = 1
    while lo < hi:  # bisection: smallest x with pct(x) >= budget
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if pct(mid) < budget_pct else (lo, mid)
    best = min((x for x in (lo - 1, lo) if x >= 1), key=lambda x: (abs(pct(x) - budget_pct), x))
    out = {**params, **sizes(best)}
    m.config(out)  # the result must be a valid config
    return out, pct(best)
