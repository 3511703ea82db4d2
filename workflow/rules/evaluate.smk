"""Metrics per run file (aggregate + per-query values, for significance tests)."""


rule evaluate:
    """ir-measures on one run of one system."""
    input:
        run="results/{stage}/{run}/{budget}/s{seed}/runs/{ds}.{split}.run",
        qrels="results/data/{ds}/qrels.{split}.tsv",
    output:
        metrics="results/{stage}/{run}/{budget}/s{seed}/metrics/{ds}.{split}.json",
    params:
        measures=lambda w: measures_for(w.ds, w.split, w.stage),
        rel=lambda w: rel_for(w.ds, w.split),
    wildcard_constraints:
        stage="retriever|reranker",
    log:
        "logs/{stage}/{run}/{budget}/s{seed}/evaluate.{ds}.{split}.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir evaluate --run {input.run:q} --qrels {input.qrels:q} --measures {params.measures:q}"
        " --rel {params.rel:q} --out {output.metrics:q} > {log:q} 2>&1"
