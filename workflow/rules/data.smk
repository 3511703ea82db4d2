"""Validate and materialise each collection under results/data/{ds}/ (one rule per dataset)."""

for _ds, _d in config["datasets"].items():

    rule:
        name:
            f"prepare_data_{_ds.replace('-', '_')}"
        output:
            corpus=f"results/data/{_ds}/corpus.jsonl.gz",
            queries=[f"results/data/{_ds}/queries.{s}.tsv" for s in _d["splits"]],
            qrels=[f"results/data/{_ds}/qrels.{s}.tsv" for s in _d["splits"]],
            report=f"results/data/{_ds}/report.json",
        params:
            root=pcfg.dataset_root(config, _ds),
            out=f"results/data/{_ds}",
            splits=" ".join(_d["splits"]),
            qrels=f"--qrels-name {_d['qrels']}" if _d.get("qrels") else "",
            origin=f"--origin {_d['origin']}" if _d.get("origin") else "",
            sample=as_json(_d.get("sample")),
            seed=config.get("sample_seed", 13),
        log:
            f"logs/data/{_ds}/prepare.log",
        shell:
            "{PY} prepare --root {params.root:q} --out {params.out:q} --splits {params.splits}"
            " {params.qrels} {params.origin} --sample-json {params.sample:q}"
            " --seed {params.seed} > {log:q} 2>&1"
