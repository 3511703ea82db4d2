"""Issue 17's power bar on a finished run: the paired 95% CI half-width of (method - full fine-tuning) on
one evaluation set and measure, per method and budget, seeds pooled per query (peftir.analysis.significance,
as the tables and answers do), and the number of queries a half-width of `--target` would need.

    .venv/bin/python bench/power.py [WORKDIR] [--eval debian.dev] [--measure RR@10] [--target 0.005]
        [--ref full/natural] [--json OUT]

Reads WORKDIR/results/retriever/*/*/s*/metrics/{eval}.json (or --stage reranker). The projection keeps the
per-query spread and scales by sqrt(n / n_needed); it says how far a design is from the bar, not more.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from peftir.analysis.significance import paired_ttest
from peftir.io import read_json


def load(root: Path, ev: str, measure: str) -> dict[tuple[str, str], dict[int, dict[str, float]]]:
    """(run, budget) -> seed -> per-query values."""
    out: dict[tuple[str, str], dict[int, dict[str, float]]] = defaultdict(dict)
    for f in sorted(root.glob(f"*/*/s*/metrics/{ev}.json")):
        run, budget, seed = f.parts[-5], f.parts[-4], int(f.parts[-3][1:])
        out[(run, budget)][seed] = read_json(f)["per_query"][measure]
    return out


def power(systems, target: float, full=("full", "natural")) -> list[dict]:
    """One row per trained system other than `full` (the reference; any (run, budget)): (system - ref)."""
    ref = systems[full]
    rows = []
    for (run, budget), seeds in sorted(systems.items()):
        if (run, budget) == full or budget == "none":
            continue
        t = paired_ttest(list(seeds.values()), list(ref.values()))
        half = t.ci95
        rows.append({"method": run, "budget": budget, "seeds": len(seeds), "n": t.n, "diff": round(t.mean_diff, 4),
                     "half_width": round(half, 4), "p": t.p, "meets": half <= target,
                     "queries_needed": math.ceil(t.n * (half / target) ** 2)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", nargs="?", default=".")
    ap.add_argument("--stage", default="retriever", choices=["retriever", "reranker"])
    ap.add_argument("--eval", default="debian.dev")
    ap.add_argument("--measure", default="RR@10")
    ap.add_argument("--target", type=float, default=0.005)
    ap.add_argument("--ref", default="full/natural", help="the reference system, run/budget (Q2: iaa-l/small)")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    systems = load(Path(a.workdir) / "results" / a.stage, a.eval, a.measure)
    ref = tuple(a.ref.split("/"))
    if ref not in systems:
        raise SystemExit(f"{a.workdir}: no metrics of {a.ref} for {a.eval}")
    rows = power(systems, a.target, ref)
    print(f"{a.stage} {a.eval} {a.measure}: (method - {a.ref}), seeds pooled per query; {a.ref} has "
          f"{len(systems[ref])} seed(s)")
    for r in rows:
        print(f"  {r['method']:8s} {r['budget']:7s} seeds {r['seeds']}  n {r['n']}  Δ {r['diff']:+.4f} "
              f"± {r['half_width']:.4f}  p {r['p']:.3g}  {'ok' if r['meets'] else 'over'} "
              f"(≤ {a.target} needs ~{r['queries_needed']} queries)")
    if a.json:
        Path(a.json).write_text(json.dumps({"eval": a.eval, "measure": a.measure, "target": a.target, "rows": rows},
                                           indent=1) + "\n")


if __name__ == "__main__":
    main()
