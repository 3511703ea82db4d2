"""Each re-ranker of a finished run against BM25 (and IAA-L against the other small-budget methods): paired
t-test on per-query values, one line per system and evaluation set.

    .venv/bin/python bench/p_vs_bm25.py [WORKDIR]

Reads WORKDIR/results/reranker/*/metrics/*.json (RR@10 for Debian, nDCG@10 for the human-judged sets).
The tables carry p-values against full fine-tuning and the best PET method; the question "does a
cross-encoder beat the first stage?" (issue 4) needs this one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from peftir.analysis.significance import paired_ttest
from peftir.io import read_json

SETS = [("debian.dev", "RR@10"), ("debian.test", "RR@10"), ("cranfield.test", "nDCG@10"), ("cisi.test", "nDCG@10")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", nargs="?", default=".")
    a = ap.parse_args()
    root = Path(a.workdir) / "results" / "reranker"
    systems = sorted(str(p.parent.relative_to(root)) for p in root.glob("*/*/s*/metrics"))
    systems = [s for s in systems if not s.startswith("bm25/")]

    def per_query(system: str, ds: str, measure: str) -> dict | None:
        f = root / system / "metrics" / f"{ds}.json"
        return read_json(f)["per_query"][measure] if f.exists() else None

    def line(system: str, ref: str) -> str:
        cells = []
        for ds, m in SETS:
            a_, b_ = per_query(system, ds, m), per_query(ref, ds, m)
            if a_ is None or b_ is None:
                continue
            t = paired_ttest(a_, b_)
            cells.append(f"{ds} {m} {sum(a_.values()) / len(a_):.3f} Δ{t.mean_diff:+.3f} p={t.p:.3f}")
        return f"{system} vs {ref}: " + " | ".join(cells)

    for s in systems:
        print(line(s, "bm25/none/s0"))
    if "iaa-l/small/s1" in systems:
        for s in systems:
            if s != "iaa-l/small/s1" and not s.startswith("zero-shot"):
                print(line("iaa-l/small/s1", s))


if __name__ == "__main__":
    main()
