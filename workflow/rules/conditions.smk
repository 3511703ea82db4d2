"""The index of conditions (Pyserini 2CR style): every system, its headline number, the command that
regenerates it. `python -m peftir conditions --config X` prints the same list from the command line.
"""

import os

from peftir import conditions as pcond


rule conditions:
    """Every system of the run with its headline metric and its snakemake command, as a sortable page."""
    input:
        pcond.targets(config),
    output:
        report(
            "results/report/conditions.html",
            caption="../report/conditions.rst",
            category="Index",
        ),
    log:
        "logs/report/conditions.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        cfg=lambda w: as_json(config),
        name=(
            os.path.relpath(workflow.config_settings.configfiles[-1])
            if workflow.config_settings.configfiles
            else "config.yaml"
        ),
    shell:
        "python -m peftir conditions --config-json {params.cfg:q} --config-name {params.name:q} --html {output:q} > {log:q} 2>&1"
