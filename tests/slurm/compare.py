"""Evidence of the SLURM test (tests/slurm/run_slurm_test.sh): the jobs SLURM ran, and the SLURM run's results
against the local run's, number by number.

- jobs: SLURM's job completion records (jobcomp/filetxt) and `squeue --states=all`, against the jobs
  Snakemake sent to SLURM (its log's `Job stats` total less the localrules it ran in its own process);
- results: every `results/**/metrics/*.json` and `results/tables/*.csv` of the local run exists in the SLURM
  run and holds the same numbers (|a - b| <= 1e-6 + 1e-6 |b|), strings equal; table columns that measure
  the run rather than the model (wall-clock time: a header naming `time`) are left out and counted.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
from pathlib import Path

TOL = 1e-6
TIMING = re.compile(r"\btime\b", re.IGNORECASE)  # e.g. "train time s": wall clock, differs run to run


def job_stats(log: str) -> dict[str, int]:
    block = log.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.MULTILINE)}


def local_jobs(log: str) -> int:
    """Jobs Snakemake ran itself (localrules): 'localrule X:' headers."""
    return len(re.findall(r"^localrule \w+:", log, re.MULTILINE))


def jobcomp(path: Path) -> list[dict[str, str]]:
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        rows.append(dict(kv.split("=", 1) for kv in line.split() if "=" in kv))
    return rows


def numbers(path: Path):
    """A flat list of the values of a metrics JSON or a table CSV (floats where they parse)."""
    if path.suffix == ".json":
        def flat(x):
            if isinstance(x, dict):
                for k in sorted(x):
                    yield from ((f"{k}.{p}", v) for p, v in flat(x[k]))
            elif isinstance(x, list):
                for i, v in enumerate(x):
                    yield from ((f"{i}.{p}", w) for p, w in flat(v))
            else:
                yield "", x
        return list(flat(json.loads(path.read_text())))
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    keep = [j for j, h in enumerate(rows[0] if rows else []) if not TIMING.search(h)]
    return [(f"{i}.{rows[0][j]}", row[j]) for i, row in enumerate(rows) for j in keep if j < len(row)]


def timing_columns(path: Path) -> int:
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    return sum(bool(TIMING.search(h)) for h in header)


def same(a, b) -> bool:
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return abs(fa - fb) <= TOL + TOL * abs(fb)


def compare(local: Path, slurm: Path) -> dict:
    files = sorted([*local.glob("results/**/metrics/*.json"), *local.glob("results/tables/*.csv")])
    diffs, missing, values, skipped = [], [], 0, 0
    for f in files:
        rel = f.relative_to(local)
        g = slurm / rel
        if not g.exists():
            missing.append(str(rel))
            continue
        a, b = numbers(f), numbers(g)
        if [k for k, _ in a] != [k for k, _ in b]:
            diffs.append(f"{rel}: different shape")
            continue
        values += len(a)
        skipped += timing_columns(f) if f.suffix == ".csv" else 0
        diffs += [f"{rel} {k}: local {x!r} slurm {y!r}" for (k, x), (_, y) in zip(a, b) if not same(x, y)]
    return {"files": len(files), "values": values, "timing_columns_skipped": skipped, "missing": missing,
            "diffs": diffs[:50], "n_diffs": len(diffs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--slurm-seconds", type=int)
    ap.add_argument("--local-seconds", default="null")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    log = (a.state / "log" / "snakemake-slurm.log").read_text()
    stats = job_stats(log)
    sent = stats["total"] - local_jobs(log)
    records = jobcomp(a.state / "log" / "jobcomp.txt")
    completed = [r for r in records if r.get("JobState") == "COMPLETED"]
    squeue = [ln.split("|") for ln in (a.state / "log" / "squeue.txt").read_text().splitlines() if ln.strip()]
    summary = {
        "dag_jobs": stats["total"], "sent_to_slurm": sent, "local_rules_run": local_jobs(log),
        "slurm_jobcomp_records": len(records), "slurm_jobs_completed": len(completed),
        "squeue_jobs": len(squeue), "squeue_completed": sum(s[-1] == "COMPLETED" for s in squeue),
        "slurm_wall_s": a.slurm_seconds,
        "local_wall_s": None if a.local_seconds in ("null", "") else int(a.local_seconds),
    }
    ok = sent > 0 and len(completed) == sent
    if a.compare:
        summary["comparison"] = compare(a.state / "local", a.state / "slurm")
        c = summary["comparison"]
        ok = ok and c["files"] > 0 and not c["missing"] and c["n_diffs"] == 0
    summary["ok"] = ok
    a.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
