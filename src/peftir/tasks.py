"""Training tasks: how a batch is drawn and scored. The trainer is task-agnostic.

Retrieval (bi-encoder): each query with 1 positive + `n_neg` negatives sampled from its BM25 pool;
loss over own group + in-batch negatives. Re-ranking (cross-encoder): each query with 1 positive +
`n_neg` negatives from the first-stage top-k, localized contrastive loss within the group.
Sampling uses the trainer's seeded `random.Random`, so a resumed run draws the same batches.
"""

from __future__ import annotations

import logging
import random

import torch

from peftir.data.trec import ranked
from peftir.io import read_jsonl

log = logging.getLogger(__name__)


class TripleSampler:
    """Epoch-wise shuffled queries; per query one positive and `n_neg` negatives (with replacement
    only when the pool is smaller than n_neg). `neg_depth`: draw the negatives from the first `neg_depth`
    of each pool only (a pool is in first-stage rank order, positives removed: mine-negatives), e.g. a
    cross-encoder's from the depth it will re-rank; None: the whole pool."""

    def __init__(self, triples_path, corpus: dict[str, str], n_neg: int, neg_depth: int | None = None):
        if neg_depth is not None and neg_depth < 1:
            raise ValueError(f"neg_depth must be positive or None, got {neg_depth}")
        rows = read_jsonl(triples_path)
        if neg_depth is not None:
            rows = [{**r, "negs": r["negs"][:neg_depth]} for r in rows]
        self.rows = [r for r in rows if r["pos"] and r["negs"]]
        # documented rule: a query without a positive or without a negative is skipped and counted
        # (in run_info.json under "triples"); mine-negatives already drops queries without positives
        self.stats = {"queries": len(rows), "used": len(self.rows),
                      "skipped_no_positive": sum(not r["pos"] for r in rows),
                      "skipped_no_negative": sum(bool(r["pos"]) and not r["negs"] for r in rows)}
        if len(self.rows) < len(rows):
            log.warning("%s: skipping %d of %d training queries: %s", triples_path, len(rows) - len(self.rows),
                        len(rows), self.stats)
        if not self.rows:
            raise ValueError(f"{triples_path}: no training query has both a positive and a negative")
        missing = {d for r in self.rows for d in r["pos"] + r["negs"] if d not in corpus}
        if missing:
            raise ValueError(f"{triples_path}: {len(missing)} passage ids not in the corpus, e.g. {sorted(missing)[:3]}")
        self.corpus, self.n_neg = corpus, n_neg
        self.order: list[int] = []

    def draw(self, rng: random.Random, batch_size: int):
        out = []
        for _ in range(batch_size):
            if not self.order:
                self.order = list(range(len(self.rows)))
                rng.shuffle(self.order)
            r = self.rows[self.order.pop()]
            negs = r["negs"]
            negs = rng.sample(negs, self.n_neg) if len(negs) >= self.n_neg else rng.choices(negs, k=self.n_neg)
            out.append((r["query"], [self.corpus[rng.choice(r["pos"])]] + [self.corpus[d] for d in negs]))
        return out

    def state(self):
        return {"order": list(self.order)}

    def load_state(self, s):
        self.order = list(s["order"])


class RetrievalTask:
    def __init__(self, tokenizer, sampler: TripleSampler, batch_size: int, q_len: int, p_len: int,
                 temperature: float):
        self.tok, self.sampler = tokenizer, sampler
        self.batch_size, self.q_len, self.p_len, self.temperature = batch_size, q_len, p_len, temperature

    def batch(self, rng: random.Random):
        groups = self.sampler.draw(rng, self.batch_size)
        q = self.tok([g[0] for g in groups], max_length=self.q_len, truncation=True, padding=True,
                     return_tensors="pt")
        p = self.tok([t for g in groups for t in g[1]], max_length=self.p_len, truncation=True, padding=True,
                     return_tensors="pt")
        return {"q": dict(q), "p": dict(p)}

    def loss(self, model, batch):
        return model(batch["q"], batch["p"], self.temperature)

    def tokens(self, batch) -> int:
        return int(batch["q"]["attention_mask"].sum() + batch["p"]["attention_mask"].sum())


def to_device(batch, device):
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if isinstance(batch, torch.Tensor) else batch


class DevSet:
    """A fixed dev subset for learning curves: the first `n_queries` judged dev queries (sorted by a
    seeded shuffle) ranked against one shared pool = their positives ∪ their BM25 top-`candidates`.
    Cheap enough to run every few hundred steps; reported as dev_RR@10 in curve.jsonl."""

    def __init__(self, queries, qrels, run, corpus, n_queries: int, candidates: int, seed: int = 0):
        qids = sorted(q for q in qrels if q in queries and any(g > 0 for g in qrels[q].values()))
        random.Random(seed).shuffle(qids)
        self.qids = sorted(qids[:n_queries])
        if not self.qids:
            raise ValueError("dev subset is empty: no judged dev query")
        pool = set()
        for q in self.qids:
            pool.update(d for d, g in qrels[q].items() if g > 0 and d in corpus)
            pool.update(d for d, _ in sorted(run.get(q, {}).items(), key=lambda kv: -kv[1])[:candidates])
        self.pool = sorted(pool)
        self.queries = {q: queries[q] for q in self.qids}
        self.qrels = {q: qrels[q] for q in self.qids}
        self.texts = [corpus[d] for d in self.pool]
        self.run = run
        self.candidates = candidates


def rr_at_k(run: dict[str, dict[str, float]], qrels, k: int = 10,
            prior: dict[str, dict[str, int]] | None = None) -> float:
    """Mean reciprocal rank of the first relevant doc within the top k (0 if none); ties by `prior[q]`
    (a re-ranker's first-stage order) when given, then docid, as peftir.data.trec.ranked.
    E.g. run {q: {a: .9, b: .8}}, qrels {q: {b: 1}} -> 0.5."""
    total = 0.0
    for q, rel in qrels.items():
        top = ranked(run.get(q, {}), k, None if prior is None else prior.get(q, {}))
        total += next((1.0 / i for i, (d, _) in enumerate(top, 1) if rel.get(d, 0) > 0), 0.0)
    return total / max(1, len(qrels))


def clip_queries(tok, texts: list[str], q_len: int) -> list[str]:
    """Cut each query text after its first `q_len` word pieces (no special tokens), so that in a
    `[CLS] q [SEP] p [SEP]` pair the query keeps at most q_len pieces and the passage gets the rest.
    E.g. q_len=2: 'what is apt' -> 'what is'."""
    enc = tok(texts, max_length=q_len, truncation=True, add_special_tokens=False, return_offsets_mapping=True)
    return [t[: o[-1][1]] if o else t for t, o in zip(texts, enc["offset_mapping"])]


def encode_pairs(tok, queries: list[str], passages: list[str], q_len: int, max_len: int) -> dict:
    """Tokenise (q, p) pairs as `[CLS] q [SEP] p [SEP]` (token_type_ids 0 for q, 1 for p), queries
    clipped to q_len pieces, passages truncated so each pair fits max_len. -> dict of (N, T) tensors."""
    b = tok(clip_queries(tok, queries, q_len), passages, max_length=max_len, truncation="only_second",
            padding=True, return_token_type_ids=True, return_tensors="pt")
    return {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


class RerankTask:
    """Cross-encoder training: each query's group = 1 positive + n_neg negatives from its first-stage
    pool (the same triples as the retriever), scored jointly as pairs; localized contrastive loss
    (softmax CE over the group, positive first; paper.md §4)."""

    def __init__(self, tokenizer, sampler: TripleSampler, batch_size: int, q_len: int, max_len: int):
        if q_len + 3 >= max_len:
            raise ValueError(f"max_len {max_len} leaves no room for a passage after q_len {q_len} "
                             "and 3 special tokens")
        self.tok, self.sampler = tokenizer, sampler
        self.batch_size, self.q_len, self.max_len = batch_size, q_len, max_len
        self.group = 1 + sampler.n_neg

    def batch(self, rng: random.Random):
        groups = self.sampler.draw(rng, self.batch_size)  # [(query, [pos, neg, ...])] * Q
        qs = [g[0] for g in groups for _ in g[1]]
        ps = [t for g in groups for t in g[1]]
        return {"pairs": encode_pairs(self.tok, qs, ps, self.q_len, self.max_len)}  # (Q*G, T)

    def loss(self, model, batch):
        return model(batch["pairs"], self.group)

    def tokens(self, batch) -> int:
        return int(batch["pairs"]["attention_mask"].sum())
