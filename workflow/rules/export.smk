"""Export trained systems for use outside peftir (python -m peftir export): sentence-transformers for
every method, HF peft for LoRA retrievers, each with a model card. Not part of `all`: `snakemake export_all`
(every system) or one directory, e.g. `snakemake results/export/retriever/lora/small/s1`.
"""


rule export:
    """One trained system -> results/export/{stage}/{run}/{budget}/s{seed}/{sentence-transformers,peft}."""
    input:
        model="results/{stage}/{run}/{budget}/s{seed}/model",
        info="results/{stage}/{run}/{budget}/s{seed}/run_info.json",
        metrics=lambda w: [
            f"results/{w.stage}/{w.run}/{w.budget}/s{w.seed}/metrics/{ds}.{split}.json"
            for ds, split in eval_pairs()
        ],
    output:
        directory("results/export/{stage}/{run}/{budget}/s{seed}"),
    log:
        "logs/export/{stage}/{run}/{budget}/s{seed}.log",
    benchmark:
        "benchmarks/export/{stage}/{run}/{budget}/s{seed}.tsv"
    wildcard_constraints:
        stage="retriever|reranker",
        run="|".join(RUNS),
        budget="|".join(BUDGETS),
    conda:
        "../../envs/torch.yaml"
    params:
        data=f"{TRAIN_DS}/{config['train']['split']}",
    shell:
        "python -m peftir export --model {input.model:q} --out {output:q} --run-info {input.info:q}"
        " --metrics {input.metrics:q} --data {params.data:q} > {log:q} 2>&1"


rule export_all:
    """Every trained system of the run, exported."""
    input:
        [
            f"results/export/{stage}/{r}/{b}/s{s}"
            for stage in ("retriever", "reranker")
            for r, b, s in pcfg.grid(config, stage)
        ],
