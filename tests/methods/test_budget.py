"""Trainable-parameter counts and the budget solver against the paper's percentages (paper.md §3).

Hand-worked (BERT-base, d=768, L=12, denominator 109,482,240 = HF BertModel incl. pooler):
    Adapter r=16:  24·(2·768·16 + 16 + 768)            =   608,640 → 0.5559%
    LoRA r=16:     12·2·2·16·768                        =   589,824 → 0.5387%
    Prefix l=32:   2·12·32·768                          =   589,824 → 0.5387%
    MAM r=l=16:    2·12·16·768 + 12·(2·768·16+16+768)   =   599,232 → 0.5473%
    IAA-L 50/300:  24·(2·768·50+50+768) + 12·(2·768·300+300+768) = 7,405,248 → 6.7639%
"""

from __future__ import annotations

import pytest
import torch

from peftir.methods import apply_method, get_method
from peftir.methods.budget import backbone_params, percent, solve
from peftir.models.bert import Bert, BertConfig, n_params

from .conftest import TINY, backbone

BASE = BertConfig()

# (key, params, the % the paper prints)
PAPER = [
    ("bitfit", {}, 0.09),
    ("adapter", {"r": 16}, 0.56),
    ("lora", {"r": 16}, 0.54),
    ("prefix", {"l": 32}, 0.54),
    ("mam", {"r": 16, "l": 16}, 0.55),
    ("iaa", {"span": "sublayer", "r": 8, "ar": 8}, 0.57),
    ("iaa", {"span": "layer", "r": 12, "ar": 12}, 0.63),
    ("iaa", {"span": "model", "r": 15, "ar": 24}, 0.56),
    ("adapter", {"r": 200}, 6.76),
    ("lora", {"r": 200}, 6.73),
    ("iaa", {"span": "layer", "r": 50, "ar": 300}, 6.76),
    ("iaa", {"span": "model", "r": 185, "ar": 960}, 7.60),  # paper.md: "7.6% by count"
]
IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in p.items())}" for k, p, _ in PAPER]


def test_denominator_is_hf_bert_base_with_pooler():
    with torch.device("meta"):  # no memory, no init: just shapes
        ours = Bert(BASE)
    assert get_method("full").count_train(BASE, None) == n_params(ours) == 108_891_648  # our Bert: no pooler
    assert get_method("full").count(BASE) == 109_482_240  # full fine-tuning is 100% of the budget base
    assert backbone_params(BASE) == 109_482_240 == 108_891_648 + 768 * 768 + 768
    assert backbone_params(BASE, pooler=False) == 108_891_648


def test_denominator_equals_transformers_bertmodel():
    transformers = pytest.importorskip("transformers")
    with torch.device("meta"):
        hf = transformers.BertModel(transformers.BertConfig())
    assert sum(p.numel() for p in hf.parameters()) == backbone_params(BASE)


@pytest.mark.parametrize("key, params, paper_pct", PAPER, ids=IDS)
def test_paper_percentages(key, params, paper_pct):
    # 0.005 = the paper's 2-decimal rounding (stricter than the 0.01 pp asked for)
    assert abs(percent(key, BASE, params) - paper_pct) <= 0.005


@pytest.mark.parametrize("key, params, paper_pct", PAPER, ids=IDS)
def test_solver_recovers_paper_sizes(key, params, paper_pct):
    got, pct = solve(key, BASE, paper_pct, params)
    assert got == params
    assert pct == pytest.approx(percent(key, BASE, params))


def test_prefix_l200_is_3_37_not_3_6_percent():
    """The paper labels Prefix l=200 "3.6%"; by 2·L·l·d it is 3,686,400 / 109,482,240 = 3.37% (and
    3.39% without the pooler). No convention consistent with the l=32 → 0.54% row gives 3.6%
    (that needs l=214), so we report 3.37%."""
    assert percent("prefix", BASE, {"l": 200}) == pytest.approx(3.3671, abs=1e-4)
    assert percent("prefix", BASE, {"l": 200, "reparam": True}) == percent(
        "prefix", BASE, {"l": 200, "reparam": False}
    )


def test_prefix_training_count_includes_the_mlp():
    m = get_method("prefix")
    cfg = m.config({"l": 32})
    # 32·768 + (768·800 + 800) + (800·18432 + 18432)
    assert m.count_train(BASE, cfg) == 24_576 + 615_200 + 14_764_032
    assert m.count_train(BASE, m.config({"l": 32, "reparam": False})) == m.count(BASE, cfg) == 589_824


def test_solver_worked_example_and_ratio():
    assert solve("adapter", BASE, 0.5, {"r": 16}) == ({"r": 14}, pytest.approx(0.48854, abs=1e-5))
    params, _ = solve("iaa", BASE, 0.5, {"span": "layer", "r": 50, "ar": 300})
    assert params["ar"] == round(6 * params["r"]) and params["span"] == "layer"
    params, _ = solve("mam", BASE, 6.7, {"r": 16, "l": 16})
    assert params["r"] == params["l"]


def test_solver_no_size_fields_returns_natural_pct():
    assert solve("full", BASE, 0.5, {}) == ({}, pytest.approx(100.0))  # full = 100% of the backbone
    assert solve("bitfit", BASE, 6.7, None)[1] == pytest.approx(0.0933, abs=1e-4)


@pytest.mark.parametrize(
    "key, params",
    [
        ("adapter", {}),
        ("lora", {"r": 4}),
        ("prefix", {}),
        ("mam", {"r": 8, "l": 4}),
        ("iaa", {"span": "sublayer"}),
    ],
)
@pytest.mark.parametrize("budget", [0.5, 6.7])
def test_solver_on_a_small_backbone_is_closest(key, params, budget):
    """On another backbone the achieved % is the closest the integer sizes allow (brute force over x,
    the tied sizes following the given ratio)."""
    small = BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
    m = get_method(key)
    base = m.config(params)
    free, *tied = m.size_fields

    def sized(x):
        return {
            **params,
            free: x,
            **{f: max(1, round(getattr(base, f) / getattr(base, free) * x)) for f in tied},
        }

    got, pct = solve(key, small, budget, params)
    assert got == sized(got[free]) and pct == pytest.approx(percent(key, small, got))
    errors = [abs(percent(key, small, sized(x)) - budget) for x in range(1, 2 * got[free] + 2)]
    assert abs(pct - budget) == pytest.approx(min(errors))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_solver_rejects_bad_budget(bad):
    with pytest.raises(ValueError, match="budget"):
        solve("adapter", BASE, bad, {"r": 16})


@pytest.mark.parametrize(
    "key, params",
    [
        ("full", {}),
        ("bitfit", {}),
        ("lora", {"r": 3}),
        ("adapter", {"r": 3}),
        ("prefix", {"l": 3, "reparam": False}),
        ("mam", {"r": 3, "l": 2, "reparam": False}),
        ("iaa", {"span": "sublayer", "r": 2, "ar": 3}),
        ("iaa", {"span": "layer", "r": 2, "ar": 3}),
        ("iaa", {"span": "model", "r": 2, "ar": 3}),
    ],
)
def test_count_equals_actual_trainable_parameters(key, params):
    """count() (the budget formula) is the real number of trainable tensors' elements; for
    reparametrised prefixes it is count_train() that is (tested for every method in test_contract)."""
    model = apply_method(backbone(), key, params)
    m = get_method(key)
    assert m.count_train(TINY, m.config(params)) == n_params(model, trainable_only=True)
    if key != "full":  # full's count() is the budget denominator, which includes the unused pooler
        assert m.count(TINY, m.config(params)) == m.count_train(TINY, m.config(params)) or key in ("prefix", "mam")
