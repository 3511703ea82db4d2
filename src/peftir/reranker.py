"""`peftir train-reranker`: one cross-encoder, one PET method at one budget, one seed (paper.md §4).

`[CLS] q [SEP] p [SEP]` → pooled → Linear(d, 1); localized contrastive loss over 1 positive + n_neg
negatives drawn from the first-stage pool (the retriever's BM25 triples). The linear head is trained
for every method (it is new, the backbone has none), saved with the method's tensors, and counted
apart from the method's budget (`head_params`). The dev curve re-ranks the first-stage top
`dev_candidates` of `dev_queries` fixed dev queries (no positive injected: a query whose positive is
not among them scores 0) and reports RR@10.
Writes model/ (trainable tensors incl. the head + model.json), curve.jsonl and run_info.json, atomically.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import torch

from peftir import distributed
from peftir.data.collections import load_corpus, load_qrels, load_queries
from peftir.data.trec import ranked, read_run
from peftir.io import write_json
from peftir.models import factory
from peftir.models.backbone import load_tokenizer
from peftir.provenance import RunInfo
from peftir.retriever import add_common
from peftir.tasks import DevSet, RerankTask, TripleSampler, encode_pairs, rr_at_k
from peftir.train import TrainConfig, Trainer

log = logging.getLogger(__name__)


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


def dev_fn_for(dev: DevSet, corpus: dict[str, str], tok, q_len: int, max_len: int, batch_size: int = 64,
               device="cpu"):
    """Re-rank the first-stage top-`dev.candidates` of each dev query; -> {"RR@10": ...}."""
    pairs = [(q, d) for q in dev.qids for d, _ in ranked(dev.run.get(q, {}), dev.candidates) if d in corpus]
    qs, ps = [dev.queries[q] for q, _ in pairs], [corpus[d] for _, d in pairs]

    def dev_fn(model):
        s = score_pairs(model, tok, qs, ps, q_len, max_len, batch_size, device)
        run: dict[str, dict[str, float]] = {}
        for (q, d), x in zip(pairs, s):
            run.setdefault(q, {})[d] = float(x)
        return {"RR@10": round(rr_at_k(run, dev.qrels, 10), 6)}

    return dev_fn


def cmd_train_reranker(a) -> None:
    torch.set_num_threads(a.threads)
    ctx = distributed.init(a.device)  # torchrun: this rank's GPU and the process group; else a no-op
    spec, hp, bb = json.loads(a.method_json), json.loads(a.train_json), json.loads(a.backbone_json)
    pooling = hp.get("pooling") or bb["pooling"]
    info = RunInfo("train-reranker", {"method": spec, "train": hp, "backbone": bb, "pooling": pooling},
                   seed=a.seed, device=ctx.device)
    corpus = load_corpus(a.corpus)
    tok = load_tokenizer(bb["name"])
    model = factory.build("reranker", bb["name"], spec, pooling, seed=a.seed)
    sampler = TripleSampler(a.triples, corpus, hp["n_neg"])
    info.update(triples=sampler.stats)  # queries skipped for want of a positive / a negative, counted
    cfg = TrainConfig.from_dict(hp)
    max_len = max_len_of(hp)
    task = RerankTask(tok, sampler, cfg.batch_size, hp["q_len"], max_len)
    dev_fn = None
    if a.dev_queries and cfg.eval_every and ctx.is_main:
        dev = DevSet(load_queries(a.dev_queries), load_qrels(a.dev_qrels), read_run(a.dev_run), corpus,
                     hp["dev_queries"], hp["dev_candidates"], seed=0)
        dev_fn = dev_fn_for(dev, corpus, tok, hp["q_len"], max_len, device=ctx.device)
    trainer = Trainer(model, task, cfg, a.seed, a.ckpt_dir, dev_fn=dev_fn, device=ctx.device,
                      key=json.dumps([spec, hp, bb, pooling], sort_keys=True), dist=ctx,
                      inputs={"triples": a.triples, "corpus": a.corpus, "dev_queries": a.dev_queries,
                              "dev_qrels": a.dev_qrels, "dev_run": a.dev_run})
    trainer.run()
    stats = trainer.stats()  # a collective under torchrun: every rank calls it
    if ctx.is_main:  # rank 0 writes every output (groups are local to a rank: no cross-device gather)
        trainer.write_curve(a.curve)
        factory.save(model, a.out, {"seed": a.seed, "train": hp, "max_len": max_len})
        m = model.meta
        write_json(info.finish(stats=stats, resolved_params=m["params"], achieved_pct=m["achieved_pct"],
                               trainable_params=m["trainable_params"], total_params=m["backbone_params"],
                               head_params=m["head_params"], max_len=max_len), a.run_info)
        trainer.cleanup()
    distributed.finish()


def register(sub) -> None:
    p = sub.add_parser("train-reranker", help="train one cross-encoder (one method, budget, seed)")
    add_common(p)
    p.add_argument("--triples", required=True, help="BM25-negative triples (jsonl.gz), as for the retriever")
    p.set_defaults(func=cmd_train_reranker)
