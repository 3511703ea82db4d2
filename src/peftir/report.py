"""`peftir table`: collect metrics of every system of a stage into one table (CSV, Markdown, LaTeX).

A system is a directory results/{stage}/{run}/{budget}/s{seed}; seeds of one (run, budget) are
aggregated as mean (± std over seeds when there are several).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from peftir.io import atomic_open, read_json

REFERENCE = {"bm25": "BM25", "zero-shot": "Zero-shot backbone"}


def parse_system(d: str) -> tuple[str, str, int]:
    parts = Path(d).parts
    return parts[-3], parts[-2], int(parts[-1].removeprefix("s"))


def collect(systems: list[str], evals: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for d in systems:
        run, budget, _ = parse_system(d)
        groups[(run, budget)].append(d)
    rows = []
    for (run, budget), dirs in groups.items():
        row = {"system": REFERENCE.get(run, run), "run": run, "budget": budget, "seeds": len(dirs)}
        info = [read_json(Path(d) / "run_info.json") for d in dirs if (Path(d) / "run_info.json").exists()]
        if info:
            row["trainable_pct"] = info[0]["achieved_pct"]
            row["trainable_params"] = info[0]["trainable_params"]
            row["head_params"] = info[0].get("head_params", 0)
            row["train_time_s"] = statistics.mean(i["stats"]["train_time_s"] for i in info)
        elif run == "zero-shot":
            row["trainable_pct"], row["trainable_params"] = 0.0, 0
        for e in evals:
            for m in e["measures"]:
                vals = [read_json(Path(d) / "metrics" / f"{e['dataset']}.{e['split']}.json")["aggregate"][m]
                        for d in dirs]
                col = f"{e['dataset']}.{e['split']} {m}"
                row[col] = statistics.mean(vals)
                row[col + " std"] = statistics.stdev(vals) if len(vals) > 1 else None
        rows.append(row)
    return rows


def metric_columns(evals) -> list[str]:
    return [f"{e['dataset']}.{e['split']} {m}" for e in evals for m in e["measures"]]


def fmt(row, col) -> str:
    v, s = row.get(col), row.get(col + " std")
    if v is None:
        return "–"
    return f"{v:.3f}" + (f" ± {s:.3f}" if s is not None else "")


def label(row) -> str:
    if row["run"] in REFERENCE:
        return row["system"]
    return f"{row['run']} ({row['budget']})"


def pct(row) -> str:
    p = row.get("trainable_pct")
    return "–" if p is None else f"{p:.2f}%"


def write_tables(rows, evals, csv_path, md_path, tex_path, note: str = "") -> None:
    cols = metric_columns(evals)
    with atomic_open(csv_path) as f:
        keys = ["system", "run", "budget", "seeds", "trainable_pct", "trainable_params", "head_params", "train_time_s"]
        head = keys + [c2 for c in cols for c2 in (c, c + " std")]
        f.write(",".join(f'"{h}"' for h in head) + "\n")
        for r in rows:
            f.write(",".join("" if r.get(h) is None else str(r.get(h)) for h in head) + "\n")
    with atomic_open(md_path) as f:
        if note:
            f.write(f"{note}\n\n")
        f.write("| system | trainable | " + " | ".join(cols) + " |\n")
        f.write("|---|---:|" + "---:|" * len(cols) + "\n")
        for r in rows:
            f.write(f"| {label(r)} | {pct(r)} | " + " | ".join(fmt(r, c) for c in cols) + " |\n")
    with atomic_open(tex_path) as f:
        f.write("\\begin{tabular}{l r " + "r " * len(cols) + "}\n\\toprule\n")
        f.write("System & Trainable & " + " & ".join(c.replace("_", "\\_").replace("@", "@") for c in cols)
                + " \\\\\n\\midrule\n")
        for r in rows:
            cells = [label(r), pct(r).replace("%", "\\%")] + [fmt(r, c).replace("±", "$\\pm$") for c in cols]
            f.write(" & ".join(cells) + " \\\\\n")
        f.write("\\bottomrule\n\\end{tabular}\n")


def cmd_table(a) -> None:
    evals = json.loads(a.evals)
    rows = collect(a.systems, evals)
    note = (f"Backbone: {a.backbone}" + (" (a sentence-embedding model, not a plain pre-trained LM)."
                                          if "minilm" in a.backbone.lower() else "."))
    write_tables(rows, evals, a.csv, a.md, a.tex, note)


def register(sub) -> None:
    p = sub.add_parser("table", help="results table of one stage (CSV, Markdown, LaTeX)")
    p.add_argument("--stage", required=True, choices=["retriever", "reranker"])
    p.add_argument("--systems", nargs="+", required=True)
    p.add_argument("--evals", required=True, help="the config's evaluation list as JSON")
    p.add_argument("--backbone", default="")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--tex", required=True)
    p.set_defaults(func=cmd_table)
