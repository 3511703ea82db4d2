"""`peftir train-retriever`: one bi-encoder, one PET method at one budget, one seed.

Wires data (corpus, BM25-negative triples, dev subset) → model (factory) → Trainer, and writes
model/ (trainable tensors + model.json), curve.jsonl and run_info.json, each atomically.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import torch

from peftir import distributed
from peftir.config import check_declared_backbone
from peftir.data.collections import load_corpus, load_qrels, load_queries
from peftir.data.trec import read_run
from peftir.io import write_json, write_jsonl
from peftir.models import factory
from peftir.models.backbone import load_tokenizer
from peftir.provenance import RunInfo
from peftir.tasks import DevSet, RetrievalTask, TripleSampler, rr_at_k
from peftir.train import TrainConfig, Trainer

log = logging.getLogger(__name__)


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


def dev_fn_for(dev: DevSet, tok, q_len, p_len):
    def dev_fn(model):
        pe = embed(model, tok, dev.texts, p_len)
        qe = embed(model, tok, [dev.queries[q] for q in dev.qids], q_len)
        scores = qe @ pe.T
        top = np.argsort(-scores, axis=1)[:, :10]
        run = {q: {dev.pool[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(dev.qids)}
        return {"RR@10": round(rr_at_k(run, dev.qrels, 10), 6)}

    return dev_fn


def cmd_train_retriever(a) -> None:
    torch.set_num_threads(a.threads)
    ctx = distributed.init(a.device)  # torchrun: this rank's GPU and the process group; else a no-op
    spec, hp, bb = json.loads(a.method_json), json.loads(a.train_json), json.loads(a.backbone_json)
    info = RunInfo("train-retriever", {"method": spec, "train": hp, "backbone": bb}, seed=a.seed, device=ctx.device)
    corpus = load_corpus(a.corpus)
    tok = load_tokenizer(bb["name"])
    model = factory.build("retriever", bb["name"], spec, bb["pooling"], bb["normalize"], seed=a.seed)
    check_declared_backbone(model.bert.config, bb.get("config"))  # the sizes the dry run solved
    if ctx.enabled:
        model.gather = distributed.gather_with_grad  # cross-device in-batch negatives
    sampler = TripleSampler(a.triples, corpus, hp["n_neg"])
    info.update(triples=sampler.stats)  # queries skipped for want of a positive / a negative, counted
    cfg = TrainConfig.from_dict(hp)
    task = RetrievalTask(tok, sampler, cfg.batch_size, hp["q_len"], hp["p_len"], hp["temperature"])
    dev_fn = None
    if a.dev_queries and cfg.eval_every and ctx.is_main:
        dev = DevSet(load_queries(a.dev_queries), load_qrels(a.dev_qrels), read_run(a.dev_run), corpus,
                     hp["dev_queries"], hp["dev_candidates"], seed=0)
        dev_fn = dev_fn_for(dev, tok, hp["q_len"], hp["p_len"])
    probe = None
    if a.probe_out and a.probe_json:  # update-direction probe (peftir.analysis.probe), on when configured
        from peftir.analysis.probe import retrieval_probe

        probe = retrieval_probe(task, json.loads(a.probe_json))
    trainer = Trainer(model, task, cfg, a.seed, a.ckpt_dir, dev_fn=dev_fn, probe=probe, device=ctx.device,
                      key=json.dumps([spec, hp, bb, a.probe_json], sort_keys=True), dist=ctx,
                      inputs={"triples": a.triples, "corpus": a.corpus, "dev_queries": a.dev_queries,
                              "dev_qrels": a.dev_qrels, "dev_run": a.dev_run})
    trainer.run()
    stats = trainer.stats()  # a collective under torchrun: every rank calls it
    if ctx.is_main:  # rank 0 writes every output
        trainer.write_curve(a.curve)
        if a.probe_out:
            write_jsonl(probe.records if probe else [], a.probe_out)  # empty when the probe is off
        factory.save(model, a.out, {"seed": a.seed, "train": hp})
        m = model.meta
        write_json(info.finish(stats=stats, resolved_params=m["params"], achieved_pct=m["achieved_pct"],
                               trainable_params=m["trainable_params"], total_params=m["backbone_params"],
                               head_params=m["head_params"]), a.run_info)
        trainer.cleanup()
    distributed.finish()


def add_common(p) -> None:
    p.add_argument("--method-json", required=True, help="method spec (see peftir.models.factory)")
    p.add_argument("--train-json", required=True, help="training hyper-parameters (config section)")
    p.add_argument("--backbone-json", required=True, help='{"name": ..., "pooling": ..., "normalize": ...}')
    p.add_argument("--corpus", required=True)
    p.add_argument("--dev-queries")
    p.add_argument("--dev-qrels")
    p.add_argument("--dev-run", help="first-stage dev run (candidate pool of the dev subset)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--curve", required=True)
    p.add_argument("--run-info", required=True)
    p.add_argument("--ckpt-dir", help="resumable checkpoints live here (outside Snakemake outputs)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def register(sub) -> None:
    p = sub.add_parser("train-retriever", help="train one bi-encoder (one method, budget, seed)")
    add_common(p)
    p.add_argument("--triples", required=True, help="BM25-negative triples (jsonl.gz)")
    p.add_argument("--probe-json", default="", help='update-direction probe settings, e.g. {"every": 10, '
                   '"batches": 2, "batch_size": 4, "seed": 0}; empty: no probe')
    p.add_argument("--probe-out", help="discrepancy.jsonl to write (empty when --probe-json is empty)")
    p.set_defaults(func=cmd_train_retriever)
