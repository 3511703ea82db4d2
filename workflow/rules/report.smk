"""Tables (CSV + Markdown + LaTeX) and figures from the metrics; every one goes into the HTML report."""

RETRIEVER_SYSTEMS = [
    "results/retriever/bm25/none/s0",
    "results/retriever/zero-shot/none/s0",
] + system_dirs("retriever")


rule tables:
    """The retrieval table: BM25, zero-shot backbone, every trained method x budget (mean ± std over seeds)."""
    input:
        metrics=metric_files("retriever", RETRIEVER_SYSTEMS),
        infos=[f"{d}/run_info.json" for d in system_dirs("retriever")],
    output:
        csv="results/tables/retrieval.csv",
        html=report(
            "results/tables/retrieval.html",
            caption="../report/retrieval.rst",
            category="Tables",
        ),
        md="results/tables/retrieval.md",
        tex="results/tables/retrieval.tex",
    params:
        systems=RETRIEVER_SYSTEMS,
        evals=as_json(config["evaluation"]),
        backbone=config["backbone"]["name"],
    log:
        "logs/tables/retrieval.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir table --stage retriever --systems {params.systems:q} --evals {params.evals:q}"
        " --backbone {params.backbone:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q}"
        " --html {output.html:q} > {log:q} 2>&1"
