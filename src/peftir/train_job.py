"""One training job: the routine `peftir train-retriever` and `peftir train-reranker` share.

Wires data (corpus, BM25-negative triples, dev subset) → model (factory) → Trainer, and writes model/
(trainable tensors + model.json), curve.jsonl and run_info.json, each atomically; under torchrun every
rank trains and rank 0 writes. What differs by stage comes in as a `Stage`: the model's pooling, the
task, the dev curve, the optional update-direction probe, the checkpoint key and extra metadata.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from peftir import distributed
from peftir.data.collections import load_corpus, load_qrels, load_queries
from peftir.data.trec import read_run
from peftir.io import write_json, write_jsonl
from peftir.models import factory
from peftir.models.backbone import check_declared_backbone, load_tokenizer
from peftir.provenance import RunInfo
from peftir.tasks import DevSet, TripleSampler
from peftir.train import TrainConfig, Trainer


@dataclass(frozen=True)
class Stage:
    """What one kind of training job brings to `run`."""

    name: str  # "retriever" | "reranker": the factory's stage; run_info's command is train-<name>
    pooling: str
    config: dict  # run_info.json's "config"
    key: list  # the settings a checkpoint must match to be resumed (with the seed and the input files)
    task: Callable[[Any, TripleSampler, TrainConfig], Any]  # (tokenizer, sampler, cfg) -> task
    dev_fn: Callable[[DevSet, dict, Any, str], Callable]  # (dev set, corpus, tokenizer, device) -> dev_fn
    normalize: bool = False
    gather: bool = False  # multi-GPU: in-batch negatives gathered from every device (bi-encoders)
    probe: Callable[[Any], Any] | None = None  # task -> update-direction probe (peftir.analysis.probe)
    probe_out: str | None = None  # discrepancy.jsonl: the probe's records (empty when there is no probe)
    meta: dict = field(default_factory=dict)  # more keys for model.json and run_info.json (e.g. max_len)


def add_train_args(p) -> None:
    """The arguments every training command takes."""
    p.add_argument("--method-json", required=True, help="method spec (see peftir.models.factory)")
    p.add_argument("--train-json", required=True, help="training hyper-parameters (config section)")
    p.add_argument("--backbone-json", required=True, help='{"name": ..., "pooling": ..., "normalize": ...}')
    p.add_argument("--corpus", required=True)
    p.add_argument("--triples", required=True, help="BM25-negative triples (jsonl.gz)")
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


def job_specs(a) -> tuple[dict, dict, dict]:
    """(method spec, training hyper-parameters, backbone) from the command's JSON arguments."""
    return json.loads(a.method_json), json.loads(a.train_json), json.loads(a.backbone_json)


def run(a, spec: dict, hp: dict, bb: dict, stage: Stage) -> None:
    """Train one model of `stage` (one method at one budget, one seed) and write its outputs."""
    torch.set_num_threads(a.threads)
    ctx = distributed.init(a.device)  # torchrun: this rank's GPU and the process group; else a no-op
    info = RunInfo(f"train-{stage.name}", stage.config, seed=a.seed, device=ctx.device)
    corpus = load_corpus(a.corpus)
    tok = load_tokenizer(bb["name"])
    model = factory.build(stage.name, bb["name"], spec, stage.pooling, stage.normalize, seed=a.seed)
    check_declared_backbone(model.bert.config, bb.get("config"))  # the sizes the dry run solved
    if ctx.enabled and stage.gather:
        model.gather = distributed.gather_with_grad  # cross-device in-batch negatives
    sampler = TripleSampler(a.triples, corpus, hp["n_neg"], hp.get("neg_depth"))
    info.update(triples=sampler.stats)  # queries skipped for want of a positive / a negative, counted
    cfg = TrainConfig.from_dict(hp)
    task = stage.task(tok, sampler, cfg)
    dev_fn = None
    if a.dev_queries and cfg.eval_every and ctx.is_main:
        dev = DevSet(load_queries(a.dev_queries), load_qrels(a.dev_qrels), read_run(a.dev_run), corpus,
                     hp["dev_queries"], hp["dev_candidates"], seed=0)
        dev_fn = stage.dev_fn(dev, corpus, tok, ctx.device)
    probe = stage.probe(task) if stage.probe else None
    trainer = Trainer(model, task, cfg, a.seed, a.ckpt_dir, dev_fn=dev_fn, probe=probe, device=ctx.device,
                      key=json.dumps(stage.key, sort_keys=True), dist=ctx,
                      inputs={"triples": a.triples, "corpus": a.corpus, "dev_queries": a.dev_queries,
                              "dev_qrels": a.dev_qrels, "dev_run": a.dev_run})
    trainer.run()
    stats = trainer.stats()  # a collective under torchrun: every rank calls it
    if ctx.is_main:  # rank 0 writes every output
        trainer.write_curve(a.curve)
        if stage.probe_out:
            write_jsonl(probe.records if probe else [], stage.probe_out)  # empty when the probe is off
        factory.save(model, a.out, {"seed": a.seed, "train": hp, **stage.meta})
        m = model.meta
        write_json(info.finish(stats=stats, resolved_params=m["params"], achieved_pct=m["achieved_pct"],
                               trainable_params=m["trainable_params"], total_params=m["backbone_params"],
                               head_params=m["head_params"], **stage.meta), a.run_info)
        trainer.cleanup()
    distributed.finish()
