"""`peftir train-retriever`: one bi-encoder, one PET method at one budget, one seed.

The retrieval pieces of a training job (peftir.train_job.run): the contrastive task over BM25-negative
triples with in-batch negatives (gathered across devices under torchrun), the dev curve (RR@10 of
`dev_queries` fixed dev queries over the first-stage pool of `dev_candidates` each) and, when
configured, the update-direction probe (peftir.analysis.probe), written to --probe-out.
"""

from __future__ import annotations

import json

import numpy as np

from peftir import train_job
from peftir.inference import embed
from peftir.tasks import DevSet, RetrievalTask, rr_at_k


def dev_fn_for(dev: DevSet, tok, q_len, p_len, device="cpu"):
    def dev_fn(model):
        pe = embed(model, tok, dev.texts, p_len, device=device)
        qe = embed(model, tok, [dev.queries[q] for q in dev.qids], q_len, device=device)
        scores = qe @ pe.T
        top = np.argsort(-scores, axis=1)[:, :10]
        run = {q: {dev.pool[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(dev.qids)}
        return {"RR@10": round(rr_at_k(run, dev.qrels, 10), 6)}

    return dev_fn


def cmd_train_retriever(a) -> None:
    spec, hp, bb = train_job.job_specs(a)
    probe = None
    if a.probe_out and a.probe_json:  # update-direction probe (peftir.analysis.probe), on when configured
        from peftir.analysis.probe import retrieval_probe

        settings = json.loads(a.probe_json)

        def probe(task):
            return retrieval_probe(task, settings)

    stage = train_job.Stage(
        "retriever", bb["pooling"], {"method": spec, "train": hp, "backbone": bb},
        key=[spec, hp, bb, a.probe_json],
        task=lambda tok, sampler, cfg: RetrievalTask(tok, sampler, cfg.batch_size, hp["q_len"], hp["p_len"],
                                                     hp["temperature"]),
        dev_fn=lambda dev, corpus, tok, device: dev_fn_for(dev, tok, hp["q_len"], hp["p_len"], device),
        normalize=bb["normalize"], gather=True, probe=probe, probe_out=a.probe_out)
    train_job.run(a, spec, hp, bb, stage)


def register(sub) -> None:
    p = sub.add_parser("train-retriever", help="train one bi-encoder (one method, budget, seed)")
    train_job.add_train_args(p)
    p.add_argument("--probe-json", default="", help='update-direction probe settings, e.g. {"every": 10, '
                   '"batches": 2, "batch_size": 4, "seed": 0}; empty: no probe')
    p.add_argument("--probe-out", help="discrepancy.jsonl to write (empty when --probe-json is empty)")
    p.set_defaults(func=cmd_train_retriever)
