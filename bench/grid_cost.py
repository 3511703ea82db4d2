"""Where a pipeline run spent its time and memory, from Snakemake's `benchmark:` files.

    .venv/bin/python bench/grid_cost.py [WORKDIR] [--json OUT]

Reads WORKDIR/benchmarks/**/*.tsv (one per job of every rule that declares `benchmark:`; the light
rules — evaluate, tables, plots — have none) and prints, per stage and rule, the number of jobs, the
summed and the largest job wall time, the summed CPU time and the largest peak resident memory
(`max_rss`, MB). Wall times are per job: with `--cores 2` two jobs overlap, so the sums exceed the
run's wall clock. The whole run's wall clock is the `time` of the command that ran it.

Snakemake's benchmark files undercount CPU: they sample a job every 30 s after its first 30 s, so the CPU
a job spends after its last sample is lost. The exact figures come from WORKDIR/benchmarks/jobs.jsonl
(peftir.joblog: every `python -m peftir` process, light rules included, appends its getrusage CPU time
at exit); from it this prints, per command, the jobs, summed wall and CPU, and the mean time from process
start to the command's start (interpreter and imports), and for the whole run its span (first job start
to last job end), the summed CPU and the utilisation: summed CPU / (cores x span).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean


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


def joblog_summary(rows: list[dict], cores: int, wall_s: float | None = None) -> dict:
    """Per command and whole-run figures from peftir.joblog rows (see the module docstring)."""
    t0 = min((r["start"] for r in rows), default=0.0)
    per: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "ready": [],
                                                "first": float("inf"), "last": float("-inf")})
    for r in rows:
        a = per[r["command"]]
        a["jobs"] += 1
        a["wall_s"] += r["wall_s"]
        a["cpu_s"] += r["cpu_s"]
        a["ready"].append(r.get("ready_s", float("nan")))
        a["first"], a["last"] = min(a["first"], r["start"] - t0), max(a["last"], r["end"] - t0)
    cmds = {c: {"jobs": a["jobs"], "wall_s": round(a["wall_s"], 1), "cpu_s": round(a["cpu_s"], 1),
                "cpu_per_wall": round(a["cpu_s"] / a["wall_s"], 3) if a["wall_s"] else None,
                "mean_ready_s": round(mean(a["ready"]), 2),
                # when the command ran: its first job's start and last job's end, minutes after the first job
                "window_min": [round(a["first"] / 60, 1), round(a["last"] / 60, 1)]}
            for c, a in sorted(per.items())}
    span = (max(r["end"] for r in rows) - t0) if rows else 0.0
    wall = wall_s or span
    cpu = sum(r["cpu_s"] for r in rows)
    job_wall = sum(r["wall_s"] for r in rows)
    return {"commands": cmds, "jobs": len(rows), "span_s": round(span, 1), "wall_s": round(wall, 1),
            "cores": cores, "cpu_s": round(cpu, 1), "job_wall_s": round(job_wall, 1),
            "utilisation": round(cpu / (cores * wall), 3) if wall else None,
            "held": round(job_wall / (cores * wall), 3) if wall else None}  # share of core time inside a job


def joblog_markdown(s: dict) -> str:
    out = ["| command | jobs | wall s (sum) | CPU s (sum) | CPU / wall | start-up s (mean) | ran (min) |",
           "|---|---|---|---|---|---|---|"]
    for c, a in s["commands"].items():
        w = a.get("window_min") or ["", ""]
        out.append(f"| {c} | {a['jobs']} | {a['wall_s']:.0f} | {a['cpu_s']:.0f} | {a['cpu_per_wall']:.2f} "
                   f"| {a['mean_ready_s']:.1f} | {w[0]}-{w[1]} |")
    out.append(f"| **all** | {s['jobs']} | {s['job_wall_s']:.0f} | {s['cpu_s']:.0f} | | | |")
    out.append(f"\nrun wall {s['wall_s']:.0f} s (jobs' span {s['span_s']:.0f} s); summed job CPU "
               f"{s['cpu_s']:.0f} s = {100 * (s['utilisation'] or 0):.1f}% of {s['cores']} x wall; jobs held the cores "
               f"{100 * (s.get('held') or 0):.1f}% of it")
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", nargs="?", default=".")
    ap.add_argument("--json", help="also write the per-rule figures here")
    ap.add_argument("--cores", type=int, default=2, help="cores of the run, for the utilisation (default 2)")
    ap.add_argument("--wall", type=float, help="the run's wall clock in s (default: first job start to last end)")
    a = ap.parse_args(argv)
    root = Path(a.workdir)
    if not (root / "benchmarks").is_dir():
        raise SystemExit(f"{root / 'benchmarks'}: no such directory (run the pipeline there first)")
    rows = summarise(root)
    print(markdown(rows))
    out = {f"{s}/{j}": v for (s, j), v in sorted(rows.items())}
    log = root / "benchmarks" / "jobs.jsonl"
    if log.is_file():
        from peftir import joblog

        summary = joblog_summary(joblog.read(str(log)), a.cores, a.wall)
        print("\nFrom the job log (exact CPU time of every peftir process):\n")
        print(joblog_markdown(summary))
        out["joblog"] = summary
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
