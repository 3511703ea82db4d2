"""The evidence (issue 5): the paper's Tables 2-4 with significance markers, convergence per stage, loss
landscapes (compute .npz, then draw), the update-direction discrepancy (this project's reconstruction),
Figure 3, and the paper's three questions answered with intervals (results/answers.md). Every table and
figure goes into the HTML report. Include after train.smk and report.smk.
"""

from peftir.analysis import settings as aset

AN = aset.section(config)
# stages with trained systems (`methods.*.stages`): convergence needs their curves, Table 3 cross-encoders
STAGES = [s for s in ("retriever", "reranker") if system_dirs(s)]
PAPER_TABLE_IDS = (
    ["table2"]
    + (["table4"] if aset.has_iaa(config) else [])
    + (["table3"] if "reranker" in STAGES else [])
)
LANDSCAPES = [
    f"results/analysis/landscape/{r}/{b}/s{s}.npz"
    for r, b, s in aset.landscape_grid(config, pcfg.grid(config))
]


rule paper_table:
    """Table 2, 3 or 4 of the paper for this config (mean ± std over seeds, * and † markers)."""
    input:
        metrics=lambda w: stage_metrics(table_stage(w)),
        infos=lambda w: [f"{d}/run_info.json" for d in system_dirs(table_stage(w))],
    output:
        table_out("results/tables/{table}", "paper_table"),
    params:
        stage=table_stage,
        systems=lambda w: stage_systems(table_stage(w)),
        evals=lambda w: as_json(stage_evals(table_stage(w))),
        alpha=AN["alpha"],
        paper=as_json(AN["paper_datasets"]),
        backbone=config["backbone"]["name"],
    wildcard_constraints:
        table="table2|table3|table4",
    log:
        "logs/tables/{table}.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir paper-table --kind {wildcards.table:q} --stage {params.stage:q} --systems {params.systems:q}"
        " --evals {params.evals:q} --alpha {params.alpha:q} --paper-datasets {params.paper:q}"
        " --backbone {params.backbone:q} --stem results/tables/{wildcards.table:q} > {log:q} 2>&1"


rule convergence:
    """Convergence of one stage: loss and dev metric vs step (figure) and the summary table."""
    input:
        curves=lambda w: [f"{d}/curve.jsonl" for d in system_dirs(w.stage)],
    output:
        figure_out("results/figures/convergence.{stage}", "convergence", "Convergence"),
        table_out("results/tables/convergence.{stage}", "convergence", "Convergence"),
    params:
        metric=AN["convergence"]["metric"],
        fractions=AN["convergence"]["fractions"],
        beta=AN["convergence"]["ema_beta"],
        k=AN["convergence"]["spike_k"],
        budgets=as_json(config["budgets"]),
        backbone=config["backbone"]["name"],
    wildcard_constraints:
        stage="|".join(STAGES),
    log:
        "logs/analysis/convergence.{stage}.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir convergence --stage {wildcards.stage} --curves {input.curves:q} --metric {params.metric:q}"
        " --fractions {params.fractions:q} --beta {params.beta:q} --spike-k {params.k:q} --budgets {params.budgets:q}"
        " --backbone {params.backbone:q} --fig-stem results/figures/convergence.{wildcards.stage}"
        " --table-stem results/tables/convergence.{wildcards.stage} > {log:q} 2>&1"


rule landscape:
    """Loss landscape of one trained bi-encoder: 1-D, 2-D and initial→final path (costly: its own rule)."""
    input:
        model="results/retriever/{run}/{budget}/s{seed}/model",
        triples=f"results/train/{TRAIN_DS}/triples.jsonl.gz",
        corpus=data(TRAIN_DS, "corpus"),
    output:
        npz="results/analysis/landscape/{run}/{budget}/s{seed}.npz",
    params:
        hp=as_json(without(config["retriever"], "gpus")),
        settings=as_json(AN["landscape"]["compute"]),
    log:
        "logs/analysis/landscape/{run}/{budget}/s{seed}.log",
    benchmark:
        "benchmarks/analysis/landscape/{run}/{budget}/s{seed}.tsv"
    threads: config["threads"]
    resources:
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "python -m peftir landscape --model {input.model:q} --triples {input.triples:q} --corpus {input.corpus:q}"
        " --train-json {params.hp:q} --settings-json {params.settings:q} --out {output.npz:q}"
        " --threads {threads} > {log:q} 2>&1"


rule landscape_plot:
    """Draw the landscapes (PNG + PDF) and the sharpness table from the .npz files (cheap)."""
    input:
        npz=LANDSCAPES,
    output:
        figure_out("results/figures/landscape_1d", "landscape", "Loss landscapes"),
        figure_out("results/figures/landscape_2d", "landscape", "Loss landscapes"),
        figure_out("results/figures/landscape_path", "landscape", "Loss landscapes"),
        table_out("results/tables/landscape_sharpness", "landscape", "Loss landscapes"),
    params:
        radius=AN["landscape"]["radius"],
        backbone=config["backbone"]["name"],
    log:
        "logs/analysis/landscape_plot.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir plot-landscape --inputs {input.npz:q} --radius {params.radius:q} --backbone {params.backbone:q}"
        " --fig-1d results/figures/landscape_1d --fig-2d results/figures/landscape_2d"
        " --fig-path results/figures/landscape_path --table-stem results/tables/landscape_sharpness > {log:q} 2>&1"


rule discrepancy:
    """Update-direction discrepancy per layer and step (this project's reconstruction of claim 3)."""
    input:
        probes=[f"{d}/discrepancy.jsonl" for d in system_dirs("retriever")],
    output:
        figure_out(
            "results/figures/discrepancy",
            "discrepancy",
            "Update-direction discrepancy",
        ),
        table_out(
            "results/tables/discrepancy", "discrepancy", "Update-direction discrepancy"
        ),
    params:
        backbone=config["backbone"]["name"],
    log:
        "logs/analysis/discrepancy.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir discrepancy-report --inputs {input.probes:q} --backbone {params.backbone:q}"
        " --fig-stem results/figures/discrepancy --table-stem results/tables/discrepancy > {log:q} 2>&1"


rule figure3:
    """Figure 3: where each configured method's modules sit, from the module graph the code builds."""
    output:
        figure_out("results/figures/figure3", "figure3", "Figure 3"),
        json="results/figures/figure3.json",
    params:
        methods=as_json(
            [
                [r, {"method": m["method"], "params": pcfg.base_params(config, r)}]
                for r, m in config["methods"].items()
            ]
        ),
        backbone=config["backbone"]["name"],
    log:
        "logs/analysis/figure3.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir figure3 --methods-json {params.methods:q} --backbone {params.backbone:q}"
        " --stem results/figures/figure3 --json {output.json:q} > {log:q} 2>&1"


rule answers:
    """The paper's three questions per stage: effect, 95% CI, p-value, one sentence each (issue 17)."""
    input:
        answers_inputs(STAGES),
    output:
        md=report_item(
            "results/answers.md", caption="../report/answers.rst", category="Answers"
        ),
        json="results/answers.json",
    params:
        systems=[d for s in STAGES for d in system_dirs(s)],
        curves=[f"{d}/curve.jsonl" for s in STAGES for d in system_dirs(s)],
        evals=as_json({s: stage_evals(s) for s in ("retriever", "reranker")}),
        methods=as_json(
            {r: {"method": m["method"]} for r, m in config["methods"].items()}
        ),
        budget=AN["answers"]["budget"],
        pct=config["budgets"].get(AN["answers"]["budget"], ""),
        iaa=AN["answers"]["iaa_run"],
        adapter=AN["answers"]["adapter_method"],
        margin=AN["answers"]["margin"],
        alpha=AN["alpha"],
        metric=AN["convergence"]["metric"],
        fraction=AN["convergence"]["fractions"][0],
        beta=AN["convergence"]["ema_beta"],
        k=AN["convergence"]["spike_k"],
        backbone=config["backbone"]["name"],
    log:
        "logs/analysis/answers.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir answers --systems {params.systems:q} --curves {params.curves:q} --evals {params.evals:q}"
        " --methods {params.methods:q} --budget {params.budget:q} --budget-pct {params.pct:q} --iaa-run {params.iaa:q}"
        " --adapter-method {params.adapter:q} --margin {params.margin:q} --alpha {params.alpha:q}"
        " --metric {params.metric:q} --fraction {params.fraction:q} --beta {params.beta:q} --spike-k {params.k:q}"
        " --backbone {params.backbone:q} --json {output.json:q} --md {output.md:q} > {log:q} 2>&1"


ANALYSIS_TARGETS = (
    [f"results/tables/{t}.html" for t in PAPER_TABLE_IDS]
    + [
        f"results/{k}/convergence.{s}.{x}"
        for s in STAGES
        for k, x in (("figures", "png"), ("tables", "html"))
    ]
    + (rules.landscape_plot.output if LANDSCAPES else [])
    + (rules.discrepancy.output if AN["discrepancy"]["enabled"] else [])
    + (rules.figure3.output if AN["figure3"]["enabled"] else [])
    + rules.answers.output
)
