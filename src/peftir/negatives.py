"""Training examples with BM25 hard negatives (as in DPR, Karpukhin et al. 2020, and Ma et al. 2022).

For every query with at least one judged-relevant document (grade > 0) we keep

    {"qid", "query", "pos": [docids], "negs": [docids]}

`pos` are the relevant documents, highest grade first (ties: docid). `negs` is the negative pool: the
BM25 hits at ranks skip_top+1 .. depth (ranked by score, ties by docid) that are not relevant to the
query; judged non-relevant documents (grade <= 0) are kept, they are true negatives. By default the
whole pool is stored in BM25 rank order and the trainer samples its negatives from it afresh each
epoch (with its own seed); with `n_neg` set, at most `n_neg` are stored, sampled without replacement
with a generator seeded by (seed, qid), so a query's sample does not depend on which other queries
are mined.

Worked example: run q1 = d1 > d2 > d3 > d4, qrels q1: d2=1, d9=2, depth=3, skip_top=0
-> pos = [d9, d2] (grade 2 before 1), negs = [d1, d3] (d4 lies below depth, d2 is relevant).
"""

from __future__ import annotations

import logging
import random
import statistics

from peftir.data.collections import load_qrels, load_queries
from peftir.data.trec import Run, ranked, read_run
from peftir.io import write_json, write_jsonl

log = logging.getLogger(__name__)


def mine_triples(
    run: Run,
    qrels: dict[str, dict[str, int]],
    queries: dict[str, str],
    n_neg: int | None = None,
    depth: int = 100,
    seed: int = 0,
    skip_top: int = 0,
) -> tuple[list[dict], dict]:
    """Training examples for every query in `queries` that has a positive; returns (examples, stats).

    Queries without a positive are skipped (stats "skipped_no_positive"); queries whose pool holds
    fewer negatives than wanted (n_neg; or, when the whole pool is kept, when the run holds fewer than
    `depth` hits for it) are kept with what there is ("few_negatives"; "no_negatives" of them have
    none at all, e.g. because the query is absent from the run).
    """
    if depth < 1 or skip_top < 0 or skip_top >= depth:
        raise ValueError(f"need 0 <= skip_top < depth, got skip_top={skip_top}, depth={depth}")
    if n_neg is not None and n_neg < 1:
        raise ValueError(f"n_neg must be positive or None, got {n_neg}")
    examples: list[dict] = []
    skipped = few = none = not_in_run = pos_retrieved = 0
    for qid in sorted(queries):
        judged = qrels.get(qid, {})
        pos = sorted((d for d, g in judged.items() if g > 0), key=lambda d: (-judged[d], d))
        if not pos:
            skipped += 1
            continue
        if qid not in run:
            not_in_run += 1
        hits = [d for d, _ in ranked(run.get(qid, {}), depth)]
        relevant = set(pos)
        pos_retrieved += any(d in relevant for d in hits)
        window = hits[skip_top:]
        negs = [d for d in window if d not in relevant]
        # wanted: n_neg, or all depth - skip_top ranks less the positives found there
        want = n_neg if n_neg is not None else depth - skip_top - (len(window) - len(negs))
        if n_neg is not None and len(negs) > n_neg:
            negs = random.Random(f"{seed}:{qid}").sample(negs, n_neg)
        few += len(negs) < want
        none += not negs
        examples.append({"qid": qid, "query": queries[qid], "pos": pos, "negs": negs})
    sizes = [len(e["negs"]) for e in examples]
    stats = {
        "queries": len(queries),
        "examples": len(examples),
        "skipped_no_positive": skipped,
        "few_negatives": few,
        "no_negatives": none,
        "not_in_run": not_in_run,
        "positive_in_top_depth": pos_retrieved,
        "negatives_mean": round(statistics.fmean(sizes), 3) if sizes else 0.0,
        "negatives_min": min(sizes, default=0),
        "positives_total": sum(len(e["pos"]) for e in examples),
        "params": {"depth": depth, "skip_top": skip_top, "n_neg": n_neg, "seed": seed},
    }
    return examples, stats


def _cmd_mine(args) -> None:
    examples, stats = mine_triples(
        read_run(args.run),
        load_qrels(args.qrels),
        load_queries(args.queries),
        n_neg=args.n_neg,
        depth=args.depth,
        seed=args.seed,
        skip_top=args.skip_top,
    )
    if not examples:
        raise ValueError(f"no query of {args.queries} has a positive in {args.qrels}")
    write_jsonl(examples, args.out)
    if args.stats:
        write_json(stats, args.stats)
    log.info("mined %d examples: %s", len(examples), stats)


def register(subparsers) -> None:
    p = subparsers.add_parser("mine-negatives", help="training examples with BM25 hard negatives")
    p.add_argument("--run", required=True, help="BM25 TREC run over the training queries")
    p.add_argument("--qrels", required=True, help="training qrels")
    p.add_argument("--queries", required=True, help="training queries TSV")
    p.add_argument("--out", required=True, help="output .jsonl.gz of {qid, query, pos, negs}")
    p.add_argument("--stats", help="output JSON with counts (skipped, few negatives, ...)")
    p.add_argument("--depth", type=int, default=100, help="negatives come from the BM25 top-depth")
    p.add_argument("--skip-top", type=int, default=0, help="ignore the first N hits (false negatives)")
    p.add_argument(
        "--n-neg",
        type=int,
        default=None,
        help="store at most N sampled negatives per query (default: the whole pool)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for --n-neg sampling")
    p.set_defaults(func=_cmd_mine)
