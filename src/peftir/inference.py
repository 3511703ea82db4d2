"""Inference helpers the commands share: load a model, embed texts, score pairs, split into shards.

- `load_model`: a trained model directory (`peftir train-retriever` / `train-reranker`) or the literal
  `zero-shot` (the untouched backbone as a bi-encoder), on a device, in eval mode.
- `embed`: bi-encoder embeddings of texts, float32 (N, d) in input order (`encode`, `search`, `rerank`
  with the zero-shot scorer, the retriever's dev curve).
- `score_pairs`: cross-encoder scores of (query, passage) pairs, float32 (N,) (`rerank`, the
  re-ranker's dev curve); `max_len_of` is the pair length a re-ranker was trained with.
- `shard_bounds`, `read_shard`: shard i of n holds positions [i*N//n, (i+1)*N//n) (corpus shards for
  `encode`, query chunks for `split-queries`).
Both encoders batch in length-sorted order (less padding) and write each result back to its input
position, so the output does not depend on the batch size.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from peftir.data.collections import iter_lines, parse_corpus_line
from peftir.tasks import encode_pairs


def load_model(model: str, backbone_json: str | None, device: str, stage: str | None = None):
    """-> (model, tokenizer) in eval mode on `device`. `model` is a trained model directory, which must
    be of `stage` when given ("retriever" or "reranker"), or `zero-shot`: the backbone as a bi-encoder,
    described by `backbone_json` ({"name", "pooling", "normalize"})."""
    from peftir.models import factory
    from peftir.models.backbone import load_tokenizer

    if model == "zero-shot":
        if not backbone_json:
            raise ValueError("--model zero-shot needs --backbone-json")
        bb = json.loads(backbone_json)
        m = factory.zero_shot("retriever", bb["name"], bb["pooling"], bb["normalize"])
        return m.to(device).eval(), load_tokenizer(bb["name"])
    m = factory.load(model, device)
    if stage is not None and m.meta["stage"] != stage:
        kind = {"retriever": "bi-encoder", "reranker": "cross-encoder"}.get(stage, stage)
        raise ValueError(f"{model}: a {m.meta['stage']} model, not a {kind} (train-{stage})")
    return m, load_tokenizer(m.meta["backbone"])


@torch.no_grad()
def embed(model, tok, texts, max_len, batch_size=128, device="cpu", desc=None):
    """Encode texts in length-sorted batches (less padding), return float32 (N, d) in input order."""
    from tqdm import tqdm

    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), model.bert.config.hidden_size), dtype=np.float32)
    for i in tqdm(range(0, len(texts), batch_size), desc=desc, disable=desc is None, mininterval=5):
        idx = order[i : i + batch_size]
        b = tok([texts[j] for j in idx], max_length=max_len, truncation=True, padding=True, return_tensors="pt")
        e = model.encode(b["input_ids"].to(device), b["attention_mask"].to(device))
        out[idx] = e.float().cpu().numpy()
    return out


def max_len_of(hp: dict) -> int:
    """The pair length: `max_len`, else q_len + p_len + 3 special tokens."""
    return int(hp.get("max_len") or hp["q_len"] + hp["p_len"] + 3)


@torch.no_grad()
def score_pairs(model, tok, queries: list[str], passages: list[str], q_len: int, max_len: int,
                batch_size: int = 64, device="cpu", desc=None) -> np.ndarray:
    """Cross-encoder scores of (queries[i], passages[i]), in length-sorted batches (less padding);
    float32 (N,) in input order."""
    from tqdm import tqdm

    order = np.argsort([-(len(q) + len(p)) for q, p in zip(queries, passages)], kind="stable")
    out = np.zeros(len(queries), dtype=np.float32)
    for i in tqdm(range(0, len(order), batch_size), desc=desc, disable=desc is None, mininterval=5):
        idx = order[i : i + batch_size]
        b = encode_pairs(tok, [queries[j] for j in idx], [passages[j] for j in idx], q_len, max_len)
        s = model.score(**{k: v.to(device) for k, v in b.items()})
        out[idx] = s.float().cpu().numpy()
    return out


def shard_bounds(n_items: int, shard: int, n_shards: int) -> tuple[int, int]:
    """E.g. 10 items, 3 shards -> (0,3), (3,6), (6,10)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is not in [0, {n_shards})")
    return shard * n_items // n_shards, (shard + 1) * n_items // n_shards


def read_shard(corpus: str | Path, shard: int, n_shards: int) -> list[tuple[str, dict]]:
    """The (docid, doc) records of one shard, streaming: a first pass counts the records, a second parses
    and keeps only the shard's (a shard job never holds the whole corpus, e.g. 22 GB of MS MARCO documents).
    Equals list(iter_corpus(corpus))[lo:hi]."""
    n = sum(1 for _, line in iter_lines(corpus) if line.strip())
    lo, hi = shard_bounds(n, shard, n_shards)
    out, i = [], 0
    for k, line in iter_lines(corpus):
        if not line.strip():
            continue
        if i >= hi:
            break
        if i >= lo:
            out.append(parse_corpus_line(line, f"{corpus}:{k}"))
        i += 1
    return out
