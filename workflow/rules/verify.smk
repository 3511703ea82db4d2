"""Regression check, not part of `all`: `snakemake verify` compares every headline number (the metrics
behind both tables) with the expected-scores file the config names (`expected:`), reporting OK / within
tolerance / FAIL per number; it fails on any FAIL. The expected file is produced by the pipeline and
promoted deliberately: `snakemake expected_scores`, then copy results/verify/expected.yaml over it.
"""

import os

from peftir.verify import expected_path

HEADLINE = rules.tables.input.metrics + rules.tables_reranking.input.metrics


rule verify:
    """Headline numbers vs the expected-scores file kept in the repository."""
    input:
        metrics=HEADLINE,
        expected=lambda w: expected_path(config),
    output:
        report="results/verify/verify.json",
    log:
        "logs/verify/verify.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir verify --metrics {input.metrics:q} --expected {input.expected:q} --out {output.report:q}"
        " 2>&1 | tee {log:q}"


rule expected_scores:
    """A candidate expected-scores file from the current results (keeps the current file's tolerances)."""
    input:
        metrics=HEADLINE,
    output:
        expected="results/verify/expected.yaml",
    params:
        like=lambda w: expected_path(config),
        source=" ".join(
            os.path.relpath(f, workflow.basedir) for f in workflow.configfiles
        ),
    log:
        "logs/verify/expected_scores.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "python -m peftir verify --metrics {input.metrics:q} --expected {output.expected:q} --like {params.like:q}"
        " --write-expected --source {params.source:q} > {log:q} 2>&1"
