"""`peftir evaluate`: ir-measures over a TREC run, aggregate and per-query values (for significance).

Measures are ir-measures strings (`RR@10`, `R@100`, `nDCG@10`). Binary measures count a document
as relevant when its grade >= `rel` (an explicit setting, default 1; passed to ir-measures as
`rel=`); nDCG uses the grades as gains. Queries are the judged queries of the qrels; a judged
query missing from the run scores 0 (trec_eval's `-c` convention), so systems are compared on the
same query set.
"""

from __future__ import annotations

import ir_measures

from peftir.data.collections import load_qrels
from peftir.data.trec import read_run
from peftir.io import write_json

BINARY = ("RR", "R", "P", "AP", "Success")


def parse_measure(name: str, rel: int = 1):
    """'RR@10' with rel=2 -> RR(rel=2)@10; nDCG is left graded."""
    m = ir_measures.parse_measure(name)
    if rel != 1 and m.NAME in BINARY and "rel" in m.SUPPORTED_PARAMS:
        m = m(rel=rel)
    return m


def evaluate(run: dict, qrels: dict, measures: list[str], rel: int = 1) -> dict:
    judged = {q: d for q, d in qrels.items() if any(g >= rel for g in d.values())}
    if not judged:
        raise ValueError("no judged query with a relevant document: cannot evaluate")
    parsed = {name: parse_measure(name, rel) for name in measures}
    per_query = {name: {q: 0.0 for q in judged} for name in measures}
    by_obj = {m: name for name, m in parsed.items()}
    run = {q: docs for q, docs in run.items() if q in judged}
    for r in ir_measures.iter_calc(list(parsed.values()), judged, run):
        per_query[by_obj[r.measure]][r.query_id] = float(r.value)
    agg = {name: sum(v.values()) / len(v) for name, v in per_query.items()}
    return {"aggregate": agg, "per_query": per_query, "n_queries": len(judged),
            "n_run_queries": len(run), "rel": rel}


def cmd_evaluate(a) -> None:
    res = evaluate(read_run(a.run), load_qrels(a.qrels), a.measures, a.rel)
    res["run"], res["qrels"] = a.run, a.qrels
    write_json(res, a.out)


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="score a TREC run with ir-measures (aggregate + per query)")
    p.add_argument("--run", required=True)
    p.add_argument("--qrels", required=True)
    p.add_argument("--measures", nargs="+", required=True, help="ir-measures strings, e.g. RR@10 nDCG@10")
    p.add_argument("--rel", type=int, default=1, help="minimum grade that counts as relevant")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_evaluate)
