"""Dense retrieval: encode each corpus shard (one job per shard), then FAISS search merging shards."""


rule encode_shard:
    """Embed one shard of a corpus with one bi-encoder."""
    wildcard_constraints:
        run="|".join(RUNS + ["zero-shot"]),
    input:
        model=model_input,
        corpus="results/data/{ds}/corpus.jsonl.gz",
    output:
        emb=temp("results/retriever/{run}/{budget}/s{seed}/emb/{ds}/shard{shard}.npz"),
    params:
        model=model_arg,
        backbone=backbone_json(),
        n=config["encode"]["n_shards"],
        p_len=lambda w: pcfg.encode_p_len(config, w.ds),
        bs=config["encode"]["batch_size"],
        bf16=bf16_flag(config["encode"]["bf16"]),
    log:
        "logs/retriever/{run}/{budget}/s{seed}/encode.{ds}.{shard}.log",
    benchmark:
        "benchmarks/retriever/{run}/{budget}/s{seed}/encode.{ds}.{shard}.tsv"
    threads: config["threads"]
    resources:
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "TOKENIZERS_PARALLELISM=true RAYON_NUM_THREADS={threads} python -m peftir encode --model {params.model:q} --backbone-json {params.backbone:q} --corpus {input.corpus:q}"
        " --shard {wildcards.shard:q} --n-shards {params.n:q} --p-len {params.p_len:q} --batch-size {params.bs:q}"
        " {params.bf16:q} --out {output.emb:q} --threads {threads} > {log:q} 2>&1"


rule dense_search:
    """Exact inner-product search of one split's queries over all shards (top-k merged)."""
    wildcard_constraints:
        run="|".join(RUNS + ["zero-shot"]),
    input:
        model=model_input,
        queries="results/data/{ds}/queries.{split}.tsv",
        shards=expand(
            "results/retriever/{{run}}/{{budget}}/s{{seed}}/emb/{{ds}}/shard{shard}.npz",
            shard=range(config["encode"]["n_shards"]),
        ),
    output:
        run="results/retriever/{run}/{budget}/s{seed}/runs/{ds}.{split}.run",
    params:
        model=model_arg,
        backbone=backbone_json(),
        depth=config["search"]["depth"],
        q_len=config["retriever"]["q_len"],
    log:
        "logs/retriever/{run}/{budget}/s{seed}/search.{ds}.{split}.log",
    benchmark:
        "benchmarks/retriever/{run}/{budget}/s{seed}/search.{ds}.{split}.tsv"
    threads: config["threads"]
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m peftir search --model {params.model:q} --backbone-json {params.backbone:q} --queries {input.queries:q}"
        " --shards {input.shards:q} --depth {params.depth:q} --q-len {params.q_len:q} --out {output.run:q}"
        " --tag {wildcards.run:q} --threads {threads} > {log:q} 2>&1"
