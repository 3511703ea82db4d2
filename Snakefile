"""peftir: parameter-efficient tuning for IR (Ma et al., CIKM 2022), reproduced as a DAG.

Thin by design: every computation is a `python -m peftir <subcommand>` over the tested package
src/peftir; this file validates the config and includes the rules.
"""

from snakemake.utils import min_version, validate

min_version("9.0")


# config.yaml is the default; `--configfile other.yaml` REPLACES it (Snakemake would otherwise merge
# the two dicts, mixing e.g. the method grids of two experiments).
if not config:

    configfile: "config.yaml"


import os

from peftir import config as pcfg
from peftir import io as pio

# The config files again through peftir's strict loader (duplicate keys, templating refused), then
# peftir's check: the same schema plus semantic checks, every message naming its key
for _f in workflow.overwrite_configfiles or [f"{workflow.basedir}/config.yaml"]:
    pcfg.load_yaml(_f)
pcfg.validate(config, workflow.basedir)
validate(config, "workflow/schemas/config.schema.yaml")
# Jobs write and remove only inside results/, checkpoints/ and converted dataset roots (peftir.io)
os.environ[pio.OUTPUT_ROOTS_ENV] = os.pathsep.join(pcfg.output_roots(config, os.getcwd()))


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
    rerank_reference_bm25,


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


rule all:
    input:
        rules.tables.output,
        rules.tables_reranking.output,
        ANALYSIS_TARGETS,
