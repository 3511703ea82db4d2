"""Cross-encoder re-ranking (paper.md §4): train one cross-encoder per (method run, budget, seed), re-rank
the first stage's top-`rerank.depth`, plus two reference rows: the first stage truncated (BM25) and the
zero-shot backbone as a bi-encoder. Uses TRAIN_DS and DEV from train.smk (include after it).
"""

RERANK = config["rerank"]
RERANK_EVALS = [{**e, "measures": RERANK["measures"]} for e in config["evaluation"]]
RERANKER_SYSTEMS = [
    "results/reranker/bm25/none/s0",
    "results/reranker/zero-shot/none/s0",
] + system_dirs("reranker")


# the run re-ranked: `rerank.candidates` is `bm25` or a retrieval system `{run}/{budget}/s{seed}`
FIRST_STAGE = "results/retriever/{system}/runs/{{ds}}.{{split}}.run".format(
    system="bm25/none/s0" if RERANK["candidates"] == "bm25" else RERANK["candidates"]
)


rule train_reranker:
    """One cross-encoder: one PET method at one budget, one seed (head always trained)."""
    wildcard_constraints:
        run="|".join(RUNS),
        budget="|".join(BUDGETS),
    input:
        triples=f"results/train/{TRAIN_DS}/triples.jsonl.gz",
        corpus=data(TRAIN_DS, "corpus"),
        dev_queries=data(TRAIN_DS, "queries", DEV["split"]),
        dev_qrels=data(TRAIN_DS, "qrels", DEV["split"]),
        dev_run=f"results/retriever/bm25/none/s0/runs/{TRAIN_DS}.{DEV['split']}.run",
    output:
        model=directory("results/reranker/{run}/{budget}/s{seed}/model"),
        curve="results/reranker/{run}/{budget}/s{seed}/curve.jsonl",
        info="results/reranker/{run}/{budget}/s{seed}/run_info.json",
    params:
        method=lambda w: pcfg.method_json(config, w.run, w.budget),
        hp=lambda w: as_json(
            {
                **without(config["reranker"], "gpus"),
                "lr": pcfg.reranker_lr(config, w.run),
            }
        ),
        backbone=backbone_json(),
        ckpt="checkpoints/reranker/{run}/{budget}/s{seed}",
        launch=lambda w, resources: launcher(resources),
    log:
        "logs/reranker/{run}/{budget}/s{seed}/train.log",
    benchmark:
        "benchmarks/reranker/{run}/{budget}/s{seed}/train.tsv"
    # the longest jobs of the default (~10 min each on one core) start first, so that the end of the run is
    # not one cross-encoder training (and then re-ranking) alone while the other core idles
    priority: 10
    threads: config["threads"]
    resources:
        gpu=config["reranker"]["gpus"],
    conda:
        "../../envs/torch.yaml"
    shell:
        "{params.launch} train-reranker --method-json {params.method:q} --train-json {params.hp:q}"
        " --backbone-json {params.backbone:q} --triples {input.triples:q} --corpus {input.corpus:q}"
        " --dev-queries {input.dev_queries:q} --dev-qrels {input.dev_qrels:q} --dev-run {input.dev_run:q}"
        " --seed {wildcards.seed:q} --out {output.model:q} --curve {output.curve:q} --run-info {output.info:q}"
        " --ckpt-dir {params.ckpt:q} --threads {threads} > {log:q} 2>&1"


rule rerank:
    """Re-rank the first stage's top-depth of one split with one trained cross-encoder."""
    wildcard_constraints:
        run="|".join(RUNS),
        budget="|".join(BUDGETS),
    input:
        model="results/reranker/{run}/{budget}/s{seed}/model",
        first=FIRST_STAGE,
        queries="results/data/{ds}/queries.{split}.tsv",
        corpus="results/data/{ds}/corpus.jsonl.gz",
    output:
        run="results/reranker/{run}/{budget}/s{seed}/runs/{ds}.{split}.run",
        info="results/reranker/{run}/{budget}/s{seed}/runs/{ds}.{split}.info.json",
    params:
        depth=RERANK["depth"],
        candidates=RERANK["candidates"],
        bs=RERANK["batch_size"],
        bf16=bf16_flag(RERANK["bf16"]),
    log:
        "logs/reranker/{run}/{budget}/s{seed}/rerank.{ds}.{split}.log",
    benchmark:
        "benchmarks/reranker/{run}/{budget}/s{seed}/rerank.{ds}.{split}.tsv"
    priority: 10
    threads: config["threads"]
    resources:
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m peftir rerank --model {input.model:q} --run {input.first:q} --queries {input.queries:q}"
        " --corpus {input.corpus:q} --depth {params.depth:q} --candidates {params.candidates:q}"
        " --batch-size {params.bs:q} {params.bf16:q} --out {output.run:q} --run-info {output.info:q}"
        " --tag {wildcards.run:q} --threads {threads} > {log:q} 2>&1"


rule rerank_reference_bm25:
    """Reference row: BM25's own top-depth, truncated, not re-ranked."""
    input:
        first="results/retriever/bm25/none/s0/runs/{ds}.{split}.run",
    output:
        run="results/reranker/bm25/none/s0/runs/{ds}.{split}.run",
    params:
        depth=RERANK["depth"],
    log:
        "logs/reranker/bm25/none/s0/truncate.{ds}.{split}.log",
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m peftir rerank --model none --run {input.first:q} --depth {params.depth:q} --out {output.run:q}"
        " --tag bm25 > {log:q} 2>&1"


rule rerank_zero_shot:
    """Reference row: the zero-shot backbone as a bi-encoder re-scores the first stage's top-depth."""
    input:
        first=FIRST_STAGE,
        queries="results/data/{ds}/queries.{split}.tsv",
        corpus="results/data/{ds}/corpus.jsonl.gz",
    output:
        run="results/reranker/zero-shot/none/s0/runs/{ds}.{split}.run",
        info="results/reranker/zero-shot/none/s0/runs/{ds}.{split}.info.json",
    params:
        backbone=backbone_json(),
        depth=RERANK["depth"],
        candidates=RERANK["candidates"],
        q_len=config["reranker"]["q_len"],
        p_len=config["reranker"]["p_len"],
        bs=RERANK["batch_size"],
        bf16=bf16_flag(RERANK["bf16"]),
    log:
        "logs/reranker/zero-shot/none/s0/rerank.{ds}.{split}.log",
    benchmark:
        "benchmarks/reranker/zero-shot/none/s0/rerank.{ds}.{split}.tsv"
    threads: config["threads"]
    resources:
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m peftir rerank --model zero-shot --backbone-json {params.backbone:q} --run {input.first:q}"
        " --queries {input.queries:q} --corpus {input.corpus:q} --depth {params.depth:q}"
        " --candidates {params.candidates:q} --q-len {params.q_len:q} --p-len {params.p_len:q} --batch-size {params.bs:q}"
        " {params.bf16:q} --out {output.run:q} --run-info {output.info:q} --tag zero-shot --threads {threads}"
        " > {log:q} 2>&1"


rule tables_reranking:
    """The re-ranking table: first stage, zero-shot backbone, every trained cross-encoder (mean ± std over seeds)."""
    input:
        metrics=[
            f"{d}/metrics/{e['dataset']}.{e['split']}.json"
            for d in RERANKER_SYSTEMS
            for e in RERANK_EVALS
        ],
        infos=[f"{d}/run_info.json" for d in system_dirs("reranker")],
    output:
        csv="results/tables/reranking.csv",
        html=report(
            "results/tables/reranking.html",
            caption="../report/reranking.rst",
            category="Tables",
        ),
        md="results/tables/reranking.md",
        tex="results/tables/reranking.tex",
    params:
        systems=RERANKER_SYSTEMS,
        evals=as_json(RERANK_EVALS),
        backbone=config["backbone"]["name"],
    log:
        "logs/tables/reranking.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir table --stage reranker --systems {params.systems:q} --evals {params.evals:q}"
        " --backbone {params.backbone:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q}"
        " --html {output.html:q} > {log:q} 2>&1"
