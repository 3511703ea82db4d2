"""Shared helpers for rules: wildcard constraints from config, JSON params, path builders."""

import json
import re

from peftir import config as pcfg

DATASETS = list(config["datasets"])
RUNS = list(config["methods"])
BUDGETS = list(config["budgets"]) + [pcfg.NATURAL]
SYSTEMS_FIXED = ["bm25", "zero-shot"]  # reference systems with budget "none", seed 0
PY = "python -m peftir"


wildcard_constraints:
    ds="|".join(DATASETS),
    split="[a-z0-9_-]+",
    run="|".join(RUNS + SYSTEMS_FIXED),
    budget="|".join(BUDGETS + ["none"]),
    seed=r"\d+",
    shard=r"\d+",


def data(ds, what, split=None):
    """Materialised collection files under results/data/{ds}/."""
    if what == "corpus":
        return f"results/data/{ds}/corpus.jsonl.gz"
    return f"results/data/{ds}/{what}.{split}.tsv"


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def train_section(stage):
    return as_json(config[stage])


def backbone_json():
    return as_json(config["backbone"])


def eval_pairs():
    return [(e["dataset"], e["split"]) for e in config["evaluation"]]


def measures_for(ds, split, stage="retriever"):
    if stage == "reranker":
        return config["rerank"]["measures"]
    for e in config["evaluation"]:
        if (e["dataset"], e["split"]) == (ds, split):
            return e["measures"]
    raise ValueError(f"no evaluation configured for {ds}/{split}")


def rel_for(ds, split):
    """Minimum relevant grade for binary measures: the evaluation's `rel` (TREC DL: 2), else the global one."""
    for e in config["evaluation"]:
        if (e["dataset"], e["split"]) == (ds, split) and "rel" in e:
            return e["rel"]
    return config.get("relevance_threshold", 1)


def without(d, *keys):
    """`d` less `keys` (e.g. the GPU count, which changes how a job runs, not what it computes)."""
    return {k: v for k, v in d.items() if k not in keys}


def launcher(resources):
    """`python -m peftir`, or torchrun with one process per GPU when a job holds several (DDP)."""
    n = int(getattr(resources, "gpu", 1) or 1)
    return f"torchrun --standalone --nproc_per_node {n} -m peftir" if n > 1 else PY


# BM25 (bm25.smk): a pyserini prebuilt index per dataset, or the pipeline's own; the training split's
# search in QUERY_CHUNKS parallel jobs.
PREBUILT = config["bm25"].get("prebuilt") or {}
QUERY_CHUNKS = config["bm25"].get("query_chunks", 1)
TRAIN_PAIR = (config["train"]["dataset"], config["train"]["split"])


def bm25_index_input(w):
    return [] if w.ds in PREBUILT else [f"results/bm25/{w.ds}/index"]


def bm25_source(w):
    """Arguments (a list: each one shell-quoted by `:q`) naming the index to search."""
    return ["--prebuilt", PREBUILT[w.ds]] if w.ds in PREBUILT else ["--index", f"results/bm25/{w.ds}/index"]


def bm25_depth(w):
    return config["negatives"]["depth"] if (w.ds, w.split) == TRAIN_PAIR else config["bm25"]["depth"]


def system_dirs(stage):
    """results/{stage}/{run}/{budget}/s{seed} for the trained grid."""
    return [f"results/{stage}/{r}/{b}/s{s}" for r, b, s in pcfg.grid(config, stage)]
