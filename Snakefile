"""peftir: parameter-efficient tuning for IR (Ma et al., CIKM 2022), reproduced as a DAG.

Thin by design: every computation is a `python -m peftir <subcommand>` over the tested package
src/peftir; this file validates the config and includes the rules.
"""

import os

from snakemake.utils import min_version, validate

min_version("9.0")


report: "workflow/report/workflow.rst"  # the landing page: what ran, where each table lives


# One resolved configuration: config.yaml (beside this file) is always the base; every `--configfile X`
# (in order), then `--config key=value`, is an overlay on it. Maps merge key by key, lists and scalars
# replace, null removes a key, `_replace: true` replaces a whole map (peftir.config.overlay; config.yaml's
# header). Snakemake merges `configfile:` the same way but knows no removal; peftir resolves it, reading
# every file through its strict loader (duplicate keys, templating refused).
configfile: os.path.join(workflow.basedir, "config.yaml")


from peftir import config as pcfg
from peftir import io as pio
from peftir import joblog

pcfg.resolve_workflow(config, workflow)
# peftir's check first: the same schema plus semantic checks, every message naming its key
pcfg.validate(config, workflow.basedir)
validate(config, "workflow/schemas/config.schema.yaml")
# Jobs write and remove only inside results/, checkpoints/ and converted dataset roots (peftir.io)
os.environ[pio.OUTPUT_ROOTS_ENV] = os.pathsep.join(
    pcfg.output_roots(config, os.getcwd())
)
# Every `python -m peftir` job appends its CPU time to this log as it exits (peftir.joblog: Snakemake's
# benchmark files miss up to the last 30 s of a job's CPU); bench/grid_cost.py reads it.
os.environ.setdefault(joblog.ENV, os.path.abspath("benchmarks/jobs.jsonl"))


# Cheap steps run in the Snakemake process itself, never as cluster jobs (profiles/slurm).
localrules:
    all,
    evaluate,
    tables,
    tables_reranking,
    paper_table,
    convergence,
    landscape_plot,
    figure3,
    answers,
    rerank_reference_bm25,
    export_all,
    conditions,


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/bm25.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/rerank.smk"
include: "workflow/rules/retrieve.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/verify.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/conditions.smk"


rule all:
    input:
        rules.tables.output,
        rules.tables_reranking.output,
        ANALYSIS_TARGETS,
        rules.conditions.output,
