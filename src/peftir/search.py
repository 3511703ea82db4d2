"""`peftir search`: exact inner-product search (FAISS IndexFlatIP) over corpus shards, merged.

Each shard is searched on its own (only one shard's matrix in memory at a time) and the per-shard
top-k lists are merged by score; ties are broken by docid so the result equals an unsharded search.
"""

from __future__ import annotations

import numpy as np
import torch

from peftir.data.collections import load_queries
from peftir.data.trec import write_run
from peftir.inference import embed, load_model


def search_shard(q: np.ndarray, emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """-> scores (Q, k'), positions (Q, k') with k' = min(k, shard size)."""
    import faiss

    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(np.ascontiguousarray(emb, dtype=np.float32))
    return index.search(np.ascontiguousarray(q, dtype=np.float32), min(k, emb.shape[0]))


def search_shards(q: np.ndarray, shard_paths: list[str], k: int) -> list[list[tuple[float, str]]]:
    """Search shard by shard (one shard's matrix in memory at a time), then merge the per-shard top-k
    of each query with one lexsort: score descending, ties by docid, as an unsharded search."""
    scores, ids = [], []
    for path in shard_paths:
        with np.load(path, allow_pickle=False) as z:
            sid, emb = z["ids"], z["emb"]
        if len(sid) == 0:
            continue
        s, pos = search_shard(q, emb, k)
        scores.append(s)
        ids.append(sid[pos])
    if not scores:
        return [[] for _ in range(len(q))]
    S, ID = np.concatenate(scores, 1), np.concatenate(ids, 1)  # (Q, sum of per-shard k')
    out = []
    for i in range(len(q)):
        o = np.lexsort((ID[i], -S[i]))[:k]
        out.append(list(zip(S[i, o].tolist(), ID[i, o].tolist())))
    return out


def cmd_search(a) -> None:
    import faiss

    torch.set_num_threads(a.threads)
    faiss.omp_set_num_threads(a.threads)
    queries = load_queries(a.queries)
    qids = sorted(queries)
    model, tok = load_model(a.model, a.backbone_json, a.device, stage="retriever")
    q = embed(model, tok, [queries[x] for x in qids], a.q_len, 256, a.device)
    best = search_shards(q, a.shards, a.depth)
    run = {qid: {d: s for s, d in hits} for qid, hits in zip(qids, best)}
    write_run(run, a.out, tag=a.tag)


def register(sub) -> None:
    p = sub.add_parser("search", help="dense retrieval over encoded shards (FAISS flat IP)")
    p.add_argument("--model", required=True, help="trained model directory, or 'zero-shot'")
    p.add_argument("--backbone-json")
    p.add_argument("--queries", required=True)
    p.add_argument("--shards", nargs="+", required=True)
    p.add_argument("--depth", type=int, default=1000)
    p.add_argument("--q-len", type=int, default=32)
    p.add_argument("--out", required=True)
    p.add_argument("--tag", default="dense")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.set_defaults(func=cmd_search)
