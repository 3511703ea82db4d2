"""Shared fixtures for the PET method tests: a tiny random BERT (a few hundred KB), CPU, 1 thread."""

from __future__ import annotations

import pytest
import torch

from peftir.methods import apply_method, method_names
from peftir.models.bert import Bert, BertConfig

torch.set_num_threads(1)

TINY = BertConfig(
    vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
)

# Extra configurations per key, beyond each registered method's defaults (which always run).
VARIANTS = {
    "iaa": [
        {"span": "sublayer"},
        {"span": "model"},
        {"span": "layer", "r": 3, "ar": 5, "act": "gelu", "aside_act": "gelu"},
    ],
    "prefix": [{"reparam": False, "l": 4}],
    "mam": [{"reparam": False, "r": 3, "l": 5}],
    "lora": [{"targets": ["query", "key", "value", "out"], "r": 2}],
}


def cases() -> list:
    """(key, params) for every registered method: its defaults plus VARIANTS; new methods join by
    registering."""
    out = []
    for key in method_names():
        for params in [{}, *VARIANTS.get(key, [])]:
            out.append(pytest.param(key, params, id=key + "".join(f"-{k}={v}" for k, v in params.items())))
    return out


def backbone(seed: int = 0, dtype=torch.float32) -> Bert:
    torch.manual_seed(seed)
    return Bert(TINY).to(dtype).eval()


def applied(key: str, params: dict, backbone_seed: int = 0, method_seed: int = 1, dtype=torch.float32):
    model = backbone(backbone_seed, dtype)
    torch.manual_seed(method_seed)
    return apply_method(model, key, params).eval()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(123)
    ids = torch.randint(0, TINY.vocab_size, (3, 7), generator=g)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 5:] = 0  # one padded row
    mask[2, 3:] = 0
    return ids, mask


def trainable_names(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def perturb_trainable(model, scale: float = 0.1, seed: int = 7) -> None:
    """Random values in every trainable tensor, so zero-initialised parts take part in a comparison."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
