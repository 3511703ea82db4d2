"""Train one bi-encoder per (method run, budget, seed)."""

from peftir.analysis import settings as aset

TRAIN_DS = config["train"]["dataset"]
DEV = next(
    (
        e
        for e in config["evaluation"]
        if e["dataset"] == TRAIN_DS and e["split"] != config["train"]["split"]
    ),
    None,
)


rule train_retriever:
    """One bi-encoder: one PET method at one budget, one seed."""
    input:
        triples=f"results/train/{TRAIN_DS}/triples.jsonl.gz",
        corpus=data(TRAIN_DS, "corpus"),
        dev_queries=data(TRAIN_DS, "queries", DEV["split"]),
        dev_qrels=data(TRAIN_DS, "qrels", DEV["split"]),
        dev_run=f"results/retriever/bm25/none/s0/runs/{TRAIN_DS}.{DEV['split']}.run",
    output:
        model=directory("results/retriever/{run}/{budget}/s{seed}/model"),
        curve="results/retriever/{run}/{budget}/s{seed}/curve.jsonl",
        info="results/retriever/{run}/{budget}/s{seed}/run_info.json",
        probe="results/retriever/{run}/{budget}/s{seed}/discrepancy.jsonl",  # empty unless analysis.discrepancy.enabled
    params:
        method=lambda w: pcfg.method_json(config, w.run, w.budget),
        hp=lambda w: as_json(
            {
                **without(config["retriever"], "gpus"),
                "lr": config["methods"][w.run]["lr"],
            }
        ),
        probe=aset.probe_json(config),
        backbone=backbone_json(),
        ckpt="checkpoints/retriever/{run}/{budget}/s{seed}",
        launch=lambda w, resources: launcher(resources),
    log:
        "logs/retriever/{run}/{budget}/s{seed}/train.log",
    benchmark:
        "benchmarks/retriever/{run}/{budget}/s{seed}/train.tsv"
    threads: config["threads"]
    resources:
        gpu=config["retriever"]["gpus"],
    conda:
        "../../envs/torch.yaml"
    shell:
        "{params.launch} train-retriever --method-json {params.method:q} --train-json {params.hp:q}"
        " --backbone-json {params.backbone:q} --triples {input.triples:q} --corpus {input.corpus:q}"
        " --dev-queries {input.dev_queries:q} --dev-qrels {input.dev_qrels:q} --dev-run {input.dev_run:q}"
        " --seed {wildcards.seed:q} --out {output.model:q} --curve {output.curve:q} --run-info {output.info:q}"
        " --ckpt-dir {params.ckpt:q} --probe-json={params.probe:q} --probe-out {output.probe:q}"
        " --threads {threads} > {log:q} 2>&1"
