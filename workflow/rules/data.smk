"""Validate and materialise each collection under results/data/{ds}/ (one rule per dataset). A dataset of
format ir_datasets / msmarco-passage / msmarco-doc is first converted into its root (the shared layout).
"""

import os

for _ds, _d in config["datasets"].items():
    _convert = pcfg.convert_command(config, _ds)

    if _convert:

        rule:
            name:
                f"convert_data_{_ds.replace('-', '_')}"
            input:
                _convert[1],
            output:
                root=directory(pcfg.dataset_root(config, _ds)),
            params:
                args=_convert[0],
            log:
                f"logs/data/{_ds}/convert.log",
            benchmark:
                f"benchmarks/data/{_ds}/convert.tsv"
            conda:
                "../../envs/torch.yaml"
            shell:
                "python -m peftir {params.args:q} --out {output.root:q} > {log:q} 2>&1"

    rule:
        name:
            f"prepare_data_{_ds.replace('-', '_')}"
        input:
            [pcfg.dataset_root(config, _ds)] if _convert else [],
        output:
            corpus=f"results/data/{_ds}/corpus.jsonl.gz",
            queries=[f"results/data/{_ds}/queries.{s}.tsv" for s in _d["splits"]],
            qrels=[f"results/data/{_ds}/qrels.{s}.tsv" for s in _d["splits"]],
            report=f"results/data/{_ds}/report.json",
        params:
            root=(
                (lambda w, input: input[0])
                if _convert
                else pcfg.dataset_root(config, _ds)
            ),
            # converted: its input
            out=lambda w, output: os.path.dirname(output.report),
            splits=_d["splits"],
            qrels=["--qrels-name", _d["qrels"]] if _d.get("qrels") else [],
            origin=["--origin", _d["origin"]] if _d.get("origin") else [],
            sample=["--sample-json", as_json(_d["sample"])] if _d.get("sample") else [],
            seed=config["sample_seed"],
            judged="--judged-only" if _d.get("judged_only") else "",
        log:
            f"logs/data/{_ds}/prepare.log",
        conda:
            "../../envs/torch.yaml"
        shell:
            "python -m peftir prepare --root {params.root:q} --out {params.out:q} --splits {params.splits:q}"
            " {params.qrels:q} {params.origin:q} {params.sample:q}"
            " {params.judged:q} --seed {params.seed:q} > {log:q} 2>&1"
