"""An index of every system of a run with its headline number and the one command that regenerates it,
like Pyserini's reproducibility (2CR) pages (issue 16, item 4).

    python -m peftir conditions [--config config/seeds.yaml] [--workdir runs/seeds] [--html conditions.html]

A system is (stage, run, budget, seed): the trained grid of `peftir.config.grid` plus the reference rows
BM25 and the zero-shot backbone (budget none, seed 0). Its directory is `SYSTEM_DIR`; the headline is the
first measure of the training collection's held-out evaluation (e.g. Debian dev RR@10; re-rankers: the
first of `rerank.measures`), read from `{system}/metrics/{ds}.{split}.json`, else "not run". The command
is `snakemake` with that metrics file as target: it builds exactly what the number needs.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from peftir import config as pcfg

SYSTEM_DIR = "results/{stage}/{run}/{budget}/s{seed}"  # the rules' layout (common.smk `system_dirs`)
REFERENCES = (("bm25", "none", 0), ("zero-shot", "none", 0))
STAGES = ("retriever", "reranker")
COLUMNS = ["stage", "system", "method", "budget", "seed", "headline", "value", "command"]


def system_dir(stage: str, run: str, budget: str, seed: int) -> str:
    return SYSTEM_DIR.format(stage=stage, run=run, budget=budget, seed=seed)


def headline(config: dict, stage: str) -> tuple[str, str, str]:
    """-> (dataset, split, measure): the training collection's held-out split (else the first evaluation)."""
    evals, train = config["evaluation"], config["train"]
    e = next((e for e in evals if e["dataset"] == train["dataset"] and e["split"] != train["split"]), evals[0])
    measure = config["rerank"]["measures"][0] if stage == "reranker" else e["measures"][0]
    return e["dataset"], e["split"], measure


def systems(config: dict) -> list[tuple[str, str, str, int]]:
    """(stage, run, budget, seed) for the reference rows and the trained grid, retrievers first."""
    return [(st, *s) for st in STAGES for s in (*REFERENCES, *pcfg.grid(config, st))]


def targets(config: dict) -> list[str]:
    """The headline metrics file of every system (what the index page needs)."""
    out = []
    for stage, run, budget, seed in systems(config):
        ds, split, _ = headline(config, stage)
        out.append(f"{system_dir(stage, run, budget, seed)}/metrics/{ds}.{split}.json")
    return out


def conditions(config: dict, config_name: str = "config.yaml", workdir: str | Path = ".") -> list[dict]:
    """One row per system: what it is, its headline number ("not run" without a metrics file), its command."""
    workdir = Path(workdir)
    rows = []
    for (stage, run, budget, seed), target in zip(systems(config), targets(config)):
        ds, split, measure = headline(config, stage)
        value: float | str = "not run"
        if (workdir / target).exists():
            value = round(float(json.loads((workdir / target).read_text())["aggregate"][measure]), 4)
        cmd = ["snakemake", target, "--cores", "all"]  # the target first: --configfile takes several values
        cmd += ["--directory", str(workdir)] if str(workdir) != "." else []
        method = config["methods"][run]["method"] if run in config["methods"] else run
        rows.append({"stage": stage, "system": run, "method": method, "budget": budget, "seed": seed,
                     "headline": f"{ds} {split} {measure}", "value": value,
                     "command": shlex.join([*cmd, "--configfile", config_name])})
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [f"`{r[c]}`" if c == "command" else str(r[c]) for c in COLUMNS]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def html_page(rows: list[dict], title: str, caption: str) -> str:
    from peftir import html

    cells = [[*(r[c] for c in COLUMNS[:-1]), f"<code>{html.html.escape(r['command'])}</code>"] for r in rows]
    return html.page(title, html.table(COLUMNS, cells, caption, raw_columns=("command",)))


def cmd_conditions(a) -> None:
    from peftir.io import atomic_open

    overlays = [c for c in (a.config or []) if Path(c).resolve() != Path(pcfg.BASE).resolve()]
    if a.config_json:
        config = json.loads(a.config_json)
    else:  # config.yaml + overlays, as snakemake --configfile resolves them (peftir.config.resolve)
        config = pcfg.validate(pcfg.resolve(overlays), a.base)
    name = a.config_name or (overlays[-1] if overlays else "config.yaml")
    rows = conditions(config, name, a.workdir)
    print(markdown(rows), end="")
    done = sum(isinstance(r["value"], float) for r in rows)
    caption = (f"Every system of the run configured by <code>{name}</code> "
               f"(backbone {config['backbone']['name']}): {len(rows)} systems, {done} with results. Click a "
               "column header to sort. Each command rebuilds exactly what its number needs (training, encoding, "
               "search or re-ranking, evaluation) and nothing already up to date.")
    if a.html:
        with atomic_open(a.html, "w") as f:
            f.write(html_page(rows, "Conditions: every system and the command that regenerates it", caption))


def register(sub) -> None:
    p = sub.add_parser("conditions", help="list every system of a run with its headline metric and its command")
    p.add_argument("--config", action="append", metavar="YAML",
                   help="the run's config: an overlay on config.yaml, as `snakemake --configfile` (repeatable)")
    p.add_argument("--base", default=".", help="directory that relative roots are resolved from")
    p.add_argument("--config-json", help="the resolved config as JSON (rules), instead of reading --config")
    p.add_argument("--config-name", help="the config file named in the commands (default: --config)")
    p.add_argument("--workdir", default=".", help="the run's working directory (results/ lives there)")
    p.add_argument("--html", help="also write the index as a sortable HTML page (for the report)")
    p.set_defaults(func=cmd_conditions)
