"""Shared helpers for rules: wildcard constraints from config, JSON params, path builders."""

import json
import re

from peftir import conditions as pcond
from peftir import config as pcfg
from peftir.precision import bf16_flag

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
    return config["relevance_threshold"]


def without(d, *keys):
    """`d` less `keys` (e.g. the GPU count, which changes how a job runs, not what it computes)."""
    return {k: v for k, v in d.items() if k not in keys}


def launcher(resources):
    """`python -m peftir`, or torchrun with one process per GPU when a job holds several (DDP)."""
    n = int(getattr(resources, "gpu", 1) or 1)
    return f"torchrun --standalone --nproc_per_node {n} -m peftir" if n > 1 else PY


# BM25 (bm25.smk): a pyserini prebuilt index per dataset, or the pipeline's own; the training split's
# search in QUERY_CHUNKS parallel jobs.
PREBUILT = config["bm25"]["prebuilt"]
QUERY_CHUNKS = config["bm25"]["query_chunks"]
TRAIN_PAIR = (config["train"]["dataset"], config["train"]["split"])


def bm25_index_input(w):
    return [] if w.ds in PREBUILT else [f"results/bm25/{w.ds}/index"]


def bm25_source(w):
    """Arguments (a list: each one shell-quoted by `:q`) naming the index to search."""
    return (
        ["--prebuilt", PREBUILT[w.ds]]
        if w.ds in PREBUILT
        else ["--index", f"results/bm25/{w.ds}/index"]
    )


def bm25_depth(w):
    return (
        config["negatives"]["depth"]
        if (w.ds, w.split) == TRAIN_PAIR
        else config["bm25"]["depth"]
    )


def system_dirs(stage):
    """results/{stage}/{run}/{budget}/s{seed} for the trained grid."""
    return [pcond.system_dir(stage, r, b, s) for r, b, s in pcfg.grid(config, stage)]


# Dense retrieval (retrieve.smk): a trained bi-encoder's directory, or the zero-shot backbone.
def model_input(w):
    return (
        []
        if w.run == "zero-shot"
        else [f"results/retriever/{w.run}/{w.budget}/s{w.seed}/model"]
    )


def model_arg(w):
    return (
        "zero-shot"
        if w.run == "zero-shot"
        else f"results/retriever/{w.run}/{w.budget}/s{w.seed}/model"
    )


# Tables and figures (report.smk, analysis.smk).
def metric_files(stage, systems):
    return [
        f"{d}/metrics/{ds}.{split}.json" for d in systems for ds, split in eval_pairs()
    ]


def stage_evals(stage):
    if stage == "reranker":
        return [
            {**e, "measures": config["rerank"]["measures"]}
            for e in config["evaluation"]
        ]
    return config["evaluation"]


def stage_systems(stage):
    return [
        f"results/{stage}/bm25/none/s0",
        f"results/{stage}/zero-shot/none/s0",
    ] + system_dirs(stage)


def table_stage(w):
    return "reranker" if w.table == "table3" else "retriever"


def stage_metrics(stage):
    return [
        f"{d}/metrics/{e['dataset']}.{e['split']}.json"
        for d in stage_systems(stage)
        for e in stage_evals(stage)
    ]


def answers_inputs(stages):
    """The primary metric file (first evaluation) and the curve of every trained system of both stages."""
    return [
        f"{d}/{f}"
        for s in stages
        for d in system_dirs(s)
        for f in (
            f"metrics/{stage_evals(s)[0]['dataset']}.{stage_evals(s)[0]['split']}.json",
            "curve.jsonl",
        )
    ]


# Snakemake's `report()` under another name: inside a function, a line that starts with `report` is read
# as the `report:` directive (and snakefmt wraps long calls onto such a line).
report_item = report


def figure_out(stem, caption, category, subcategory=None):
    """A figure's outputs: the PNG into the report (with its .rst caption), the PDF beside it."""
    return [
        report_item(
            f"{stem}.png",
            caption=f"../report/{caption}.rst",
            category=category,
            subcategory=subcategory,
        ),
        f"{stem}.pdf",
    ]


def table_out(stem, caption, category="Tables"):
    """A table's outputs: the rendered HTML into the report, CSV / Markdown / LaTeX beside it."""
    return [
        report_item(
            f"{stem}.html", caption=f"../report/{caption}.rst", category=category
        ),
        f"{stem}.csv",
        f"{stem}.md",
        f"{stem}.tex",
    ]
