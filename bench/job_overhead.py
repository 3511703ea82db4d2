"""The fixed cost every pipeline job pays before its work: interpreter, imports, model load (issue 17).

    .venv/bin/python bench/job_overhead.py [--reps 5] [--out FILE]

Each stage runs in a FRESH `python` process (a job's situation: nothing imported, nothing cached in the
process), timed from the parent (wall) and by the child's own getrusage (CPU), interleaved over rounds:
  - `python`      : `python -c pass`, the baseline (interpreter start-up)
  - `cli`         : `import peftir.cli` (what every `python -m peftir` pays before parsing its arguments)
  - `torch`       : + torch and transformers (every train, encode, rerank job)
  - `faiss`       : + faiss and numpy (every search job)
  - `model`       : + the backbone's weights and tokenizer loaded (train, encode, rerank, landscape)
The job's fixed cost is `model` (or `faiss` for a search job) minus nothing: all of it is paid per job.
Results: bench/results/job_overhead.json; multiplied by the job counts of a run (bench/grid_cost.py),
it is that run's share of start-up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from _common import machine, med, write_result

PRELUDE = "import resource, json, sys\n"
EPILOGUE = ("r = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print(json.dumps({'cpu': r.ru_utime + r.ru_stime}))\n")
STAGES = {
    "python": "pass",
    "cli": "import peftir.cli",
    "torch": "import peftir.cli, torch, transformers",
    "faiss": "import peftir.cli, numpy, faiss",
    "model": ("import peftir.cli, torch\n"
              "from peftir.models.backbone import load_backbone, load_tokenizer\n"
              "m = load_backbone('all-MiniLM-L6-v2'); t = load_tokenizer('all-MiniLM-L6-v2')"),
}


def run_stage(code: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PRELUDE + code + "\n" + EPILOGUE], check=True,
                         capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    return wall, json.loads(out.strip().splitlines()[-1])["cpu"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    walls: dict[str, list[float]] = {s: [] for s in STAGES}
    cpus: dict[str, list[float]] = {s: [] for s in STAGES}
    names = list(STAGES)
    run_stage(STAGES["model"])  # warm the page cache once (a pipeline's jobs find it warm too)
    for r in range(a.reps):
        for n in names[r % len(names):] + names[: r % len(names)]:
            w, c = run_stage(STAGES[n])
            walls[n].append(w)
            cpus[n].append(c)
        print(f"round {r + 1}/{a.reps}: " + ", ".join(f"{n}={walls[n][-1]:.2f}s" for n in names))
    base = med(walls["python"])
    result = {"machine": machine(), "reps": a.reps,
              "stages": {n: {"median_wall_s": round(med(walls[n]), 3), "median_cpu_s": round(med(cpus[n]), 3),
                             "ratio_to_python": round(med(walls[n]) / base, 1)} for n in names}}
    for n, v in result["stages"].items():
        print(f"{n:8s} wall {v['median_wall_s']:6.2f} s  cpu {v['median_cpu_s']:6.2f} s  ({v['ratio_to_python']}x python)")
    print(f"-> {write_result('job_overhead', result, a.out)}")


if __name__ == "__main__":
    main()
