"""`peftir train-reranker`: one cross-encoder, one PET method at one budget, one seed (paper.md §4).

`[CLS] q [SEP] p [SEP]` → pooled → Linear(d, 1); localized contrastive loss over 1 positive + n_neg
negatives drawn from the first-stage pool (the retriever's BM25 triples). The linear head is trained
for every method (it is new, the backbone has none), saved with the method's tensors, and counted
apart from the method's budget (`head_params`). The dev curve re-ranks the first-stage top
`dev_candidates` of `dev_queries` fixed dev queries (no positive injected: a query whose positive is
not among them scores 0) and reports RR@10. The job itself (data, Trainer, outputs: model/ with the
head's tensors, curve.jsonl, run_info.json) is peftir.train_job.run.
"""

from __future__ import annotations

from peftir import train_job
from peftir.data.trec import positions, ranked
from peftir.inference import max_len_of, score_pairs
from peftir.tasks import DevSet, RerankTask, rr_at_k


def dev_fn_for(dev: DevSet, corpus: dict[str, str], tok, q_len: int, max_len: int, batch_size: int = 64,
               device="cpu"):
    """Re-rank the first-stage top-`dev.candidates` of each dev query; -> {"RR@10": ...}."""
    first = {q: ranked(dev.run.get(q, {}), dev.candidates) for q in dev.qids}
    prior = {q: positions(hits) for q, hits in first.items()}  # ties keep the first stage's order
    pairs = [(q, d) for q in dev.qids for d, _ in first[q] if d in corpus]
    qs, ps = [dev.queries[q] for q, _ in pairs], [corpus[d] for _, d in pairs]

    def dev_fn(model):
        s = score_pairs(model, tok, qs, ps, q_len, max_len, batch_size, device)
        run: dict[str, dict[str, float]] = {}
        for (q, d), x in zip(pairs, s):
            run.setdefault(q, {})[d] = float(x)
        return {"RR@10": round(rr_at_k(run, dev.qrels, 10, prior), 6)}

    return dev_fn


def cmd_train_reranker(a) -> None:
    spec, hp, bb = train_job.job_specs(a)
    pooling = hp.get("pooling") or bb["pooling"]
    max_len = max_len_of(hp)
    stage = train_job.Stage(
        "reranker", pooling, {"method": spec, "train": hp, "backbone": bb, "pooling": pooling},
        key=[spec, hp, bb, pooling],
        task=lambda tok, sampler, cfg: RerankTask(tok, sampler, cfg.batch_size, hp["q_len"], max_len),
        dev_fn=lambda dev, corpus, tok, device: dev_fn_for(dev, corpus, tok, hp["q_len"], max_len, device=device),
        meta={"max_len": max_len})  # groups are local to a rank: no cross-device gather
    train_job.run(a, spec, hp, bb, stage)


def register(sub) -> None:
    p = sub.add_parser("train-reranker", help="train one cross-encoder (one method, budget, seed)")
    train_job.add_train_args(p)
    p.set_defaults(func=cmd_train_reranker)
