"""`peftir rerank`: re-score the top-`depth` documents of a first-stage TREC run (paper.md §4: top 100).

`--model` is one of
- a trained cross-encoder directory (`peftir train-reranker`): score = head([CLS] q [SEP] p [SEP]);
- `zero-shot`: the untouched backbone as a bi-encoder (a reference row; needs --backbone-json):
  score = dot product of the pooled embeddings, cosine when the backbone config normalizes;
- `none`: no re-scoring, the first stage's own top-`depth` (the reference row "first stage, truncated").
The output run holds exactly the first stage's top-`depth` documents of each query (fewer only where
the first stage retrieved fewer), ranked by the new scores; a tie keeps the first stage's order (the
re-ranker cannot tell the two apart, the first stage could: e.g. two Debian packages whose descriptions
agree in every word the cross-encoder reads, where BM25 saw the differing tail). Written atomically,
with strictly decreasing scores so that every TREC tool reads that ranking (peftir.data.trec).
With --run-info, provenance and cost (pairs scored per second) go to a JSON file beside it.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from peftir.data.collections import load_corpus, load_queries
from peftir.data.trec import positions, ranked, read_run, write_run
from peftir.inference import embed, load_model, max_len_of, score_pairs
from peftir.io import write_json
from peftir.precision import add_bf16_arg, resolve_bf16
from peftir.provenance import RunInfo

log = logging.getLogger(__name__)


def top_candidates(run: dict, depth: int) -> dict[str, list[tuple[str, float]]]:
    """qid -> the run's top-`depth` (docid, score), ties by docid. E.g. {q: {a: 1, b: 2, c: 2}}, depth 2
    -> {q: [(b, 2), (c, 2)]}."""
    return {q: ranked(docs, depth) for q, docs in run.items()}


def check_inputs(cands, queries, corpus) -> None:
    missing_q = sorted(set(cands) - set(queries))
    if missing_q:
        raise ValueError(f"{len(missing_q)} run queries are not in the queries file, e.g. {missing_q[:3]}")
    missing_d = sorted({d for hits in cands.values() for d, _ in hits if d not in corpus})
    if missing_d:
        raise ValueError(f"{len(missing_d)} run documents are not in the corpus, e.g. {missing_d[:3]}")


def rerank_bi(model, tok, cands, queries, corpus, q_len: int, p_len: int, batch_size: int, device):
    """Bi-encoder scores (dot; cosine when the model normalizes); each distinct candidate embedded once."""
    qids = sorted(cands)
    docs = sorted({d for hits in cands.values() for d, _ in hits})
    pe = embed(model, tok, [corpus[d] for d in docs], p_len, batch_size, device, desc="embed passages")
    qe = embed(model, tok, [queries[q] for q in qids], q_len, batch_size, device, desc="embed queries")
    pos = {d: i for i, d in enumerate(docs)}
    run = {}
    for i, q in enumerate(qids):
        idx = np.array([pos[d] for d, _ in cands[q]], dtype=np.int64)
        s = pe[idx] @ qe[i]  # (k, d) @ (d,) -> (k,)
        run[q] = {d: float(x) for (d, _), x in zip(cands[q], s)}
    return run


def rerank_cross(model, tok, cands, queries, corpus, q_len: int, max_len: int, batch_size: int, device):
    """Cross-encoder scores of every (query, candidate) pair, in length-sorted batches."""
    pairs = [(q, d) for q in sorted(cands) for d, _ in cands[q]]
    s = score_pairs(model, tok, [queries[q] for q, _ in pairs], [corpus[d] for _, d in pairs], q_len, max_len,
                    batch_size, device, desc=f"rerank {len(pairs)} pairs")
    run: dict[str, dict[str, float]] = {q: {} for q in cands}
    for (q, d), x in zip(pairs, s):
        run[q][d] = float(x)
    return run


def cmd_rerank(a) -> None:
    torch.set_num_threads(a.threads)
    bf16 = resolve_bf16(a.bf16, a.device)
    cfg = {"model": a.model, "first_stage": a.run, "candidates": a.candidates, "depth": a.depth,
           "bf16": bf16, "bf16_setting": a.bf16, "batch_size": a.batch_size}
    info = RunInfo("rerank", cfg, device=a.device)
    cands = top_candidates(read_run(a.run), a.depth)
    n_pairs = sum(len(h) for h in cands.values())
    t0 = time.perf_counter()
    if a.model == "none":
        run = {q: dict(hits) for q, hits in cands.items()}
    else:
        if not (a.queries and a.corpus):
            raise ValueError(f"--model {a.model} needs --queries and --corpus")
        model, tok = load_model(a.model, a.backbone_json, a.device, stage="reranker")
        queries, corpus = load_queries(a.queries), load_corpus(a.corpus)
        check_inputs(cands, queries, corpus)
        t0 = time.perf_counter()  # scoring only: the cost per pair
        with torch.autocast(device_type=torch.device(a.device).type, dtype=torch.bfloat16, enabled=bf16):
            if a.model == "zero-shot":
                cfg.update(q_len=a.q_len or 32, p_len=a.p_len or 128)
                run = rerank_bi(model, tok, cands, queries, corpus, cfg["q_len"], cfg["p_len"], a.batch_size,
                                a.device)
            else:
                hp = model.meta.get("train", {})
                cfg.update(q_len=a.q_len or hp["q_len"],
                           max_len=a.max_len or model.meta.get("max_len") or max_len_of(hp))
                run = rerank_cross(model, tok, cands, queries, corpus, cfg["q_len"], cfg["max_len"],
                                   a.batch_size, a.device)
    dt = time.perf_counter() - t0
    write_run(run, a.out, tag=a.tag, prior={q: positions(h) for q, h in cands.items()})
    if a.run_info:
        info.update(config=cfg)
        write_json(info.finish(n_queries=len(cands), n_pairs=n_pairs, rerank_time_s=round(dt, 3),
                               pairs_per_s=round(n_pairs / max(dt, 1e-9), 1)), a.run_info)


def register(sub) -> None:
    p = sub.add_parser("rerank", help="re-rank the top-depth of a first-stage run")
    p.add_argument("--run", required=True, help="first-stage TREC run")
    p.add_argument("--model", required=True,
                   help="cross-encoder directory, 'zero-shot' (backbone as bi-encoder) or 'none' (truncate)")
    p.add_argument("--queries", help="qid<TAB>text (not needed with --model none)")
    p.add_argument("--corpus", help="corpus.jsonl.gz (not needed with --model none)")
    p.add_argument("--backbone-json", help="backbone config, for --model zero-shot")
    p.add_argument("--depth", type=int, default=100, help="re-rank this many top documents per query")
    p.add_argument("--q-len", type=int, help="query pieces (default: the training q_len; zero-shot 32)")
    p.add_argument("--p-len", type=int, help="passage pieces for --model zero-shot (default 128)")
    p.add_argument("--max-len", type=int, help="pair length (default: the model's training max_len)")
    p.add_argument("--batch-size", type=int, default=64)
    add_bf16_arg(p)
    p.add_argument("--out", required=True)
    p.add_argument("--run-info", help="write provenance and cost (pairs/s) here")
    p.add_argument("--candidates", default="", help="name of the first-stage system (recorded in --run-info)")
    p.add_argument("--tag", default="rerank")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.set_defaults(func=cmd_rerank)
