"""Where a pipeline run spent its time and memory, from Snakemake's `benchmark:` files.

    .venv/bin/python bench/grid_cost.py [WORKDIR] [--json OUT]

Reads WORKDIR/benchmarks/**/*.tsv (one per job of every rule that declares `benchmark:`; the light
rules — evaluate, tables, plots — have none) and prints, per stage and rule, the number of jobs, the
summed and the largest job wall time, the summed CPU time and the largest peak resident memory
(`max_rss`, MB). Wall times are per job: with `--cores 2` two jobs overlap, so the sums exceed the
run's wall clock. The whole run's wall clock is the `time` of the command that ran it.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path


def job_kind(rel: Path) -> tuple[str, str]:
    """benchmarks/<stage>/.../<name>.tsv -> (stage, rule-like name): e.g. retriever/lora/small/s1/
    encode.debian.0.tsv -> ("retriever", "encode"); bm25/debian/search.train.tsv -> ("bm25", "search")."""
    parts = rel.parts
    return parts[0], parts[-1].split(".")[0]


def read_bench(path: Path) -> dict[str, float]:
    with path.open() as f:
        row = list(csv.DictReader(f, delimiter="\t"))[-1]  # a rerun appends; the last line is the latest
    out = {}
    for k in ("s", "max_rss", "cpu_time"):
        try:
            out[k] = float(row.get(k, "nan"))
        except ValueError:
            out[k] = float("nan")
    return out


def summarise(root: Path) -> dict[tuple[str, str], dict[str, float]]:
    acc: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: {"jobs": 0, "wall_s": 0.0, "max_wall_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0})
    for p in sorted((root / "benchmarks").rglob("*.tsv")):
        b, a = read_bench(p), acc[job_kind(p.relative_to(root / "benchmarks"))]
        a["jobs"] += 1
        a["wall_s"] += b["s"]
        a["max_wall_s"] = max(a["max_wall_s"], b["s"])
        a["cpu_s"] += b["cpu_time"] if b["cpu_time"] == b["cpu_time"] else 0.0
        a["max_rss_mb"] = max(a["max_rss_mb"], b["max_rss"] if b["max_rss"] == b["max_rss"] else 0.0)
    return dict(acc)


def markdown(rows: dict[tuple[str, str], dict[str, float]]) -> str:
    out = ["| stage | job | jobs | wall s (sum) | wall s (largest) | CPU s (sum) | peak RSS MB (largest) |",
           "|---|---|---|---|---|---|---|"]
    tot = {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0}
    for (stage, job), a in sorted(rows.items()):
        out.append(f"| {stage} | {job} | {a['jobs']} | {a['wall_s']:.0f} | {a['max_wall_s']:.0f} | {a['cpu_s']:.0f} "
                   f"| {a['max_rss_mb']:.0f} |")
        tot["jobs"] += a["jobs"]
        tot["wall_s"] += a["wall_s"]
        tot["cpu_s"] += a["cpu_s"]
        tot["max_rss_mb"] = max(tot["max_rss_mb"], a["max_rss_mb"])
    out.append(f"| **all** | | {tot['jobs']} | {tot['wall_s']:.0f} | | {tot['cpu_s']:.0f} | {tot['max_rss_mb']:.0f} |")
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", nargs="?", default=".")
    ap.add_argument("--json", help="also write the per-rule figures here")
    a = ap.parse_args(argv)
    root = Path(a.workdir)
    if not (root / "benchmarks").is_dir():
        raise SystemExit(f"{root / 'benchmarks'}: no such directory (run the pipeline there first)")
    rows = summarise(root)
    print(markdown(rows))
    if a.json:
        Path(a.json).write_text(json.dumps({f"{s}/{j}": v for (s, j), v in sorted(rows.items())}, indent=1) + "\n")


if __name__ == "__main__":
    main()
