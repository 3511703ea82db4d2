"""TREC run files: `qid Q0 docid rank score tag`, ranked by descending score (ties: docid, or first an
earlier ranking: a re-ranker's tie keeps the first stage's order).

Reading: six whitespace-separated fields per line; the rank column is ignored (trec_eval re-sorts by
score). A score that is not a finite number, or a document listed twice for one query, is a
DataError naming the line. Writing rejects non-finite scores and ids with whitespace, and writes the
scores of each query strictly decreasing at its 6 decimals: a tie (or two scores that round alike)
is written one step of 1e-6 below the score above it. Every reader then sees the ranking the writer
chose, whatever its own tie rule (trec_eval and pytrec_eval break ties by docid, descending).
"""

from __future__ import annotations

import math
from pathlib import Path

from peftir.data.collections import DataError, check_id, iter_lines
from peftir.io import atomic_open

Run = dict[str, dict[str, float]]


def read_run(path: str | Path) -> Run:
    run: Run = {}
    for n, line in iter_lines(path):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise DataError(f"{path}:{n}: expected 'qid Q0 docid rank score tag', got {len(parts)} field(s)")
        qid, _, did, _, score, _ = parts
        try:
            value = float(score)
        except ValueError:
            raise DataError(f"{path}:{n}: score {score!r} is not a number") from None
        if not math.isfinite(value):
            raise DataError(f"{path}:{n}: score {score!r} is not finite")
        docs = run.setdefault(qid, {})
        if did in docs:
            raise DataError(f"{path}:{n}: document {did!r} listed twice for query {qid!r}")
        docs[did] = value
    return run


def ranked(docs: dict[str, float], depth: int | None = None,
           prior: dict[str, int] | None = None) -> list[tuple[str, float]]:
    """(docid, score) by descending score; ties by `prior` (docid -> its position in an earlier ranking,
    e.g. the first stage that a re-ranker re-scored; absent docs last), then by docid.
    E.g. {a: 1, b: 1, c: 2} -> [(c, 2), (a, 1), (b, 1)]; with prior {b: 0, a: 1} -> [(c, 2), (b, 1), (a, 1)]."""
    if prior is None:
        items = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
    else:
        last = len(prior)
        items = sorted(docs.items(), key=lambda kv: (-kv[1], prior.get(kv[0], last), kv[0]))
    return items[:depth] if depth else items


def positions(hits: list[tuple[str, float]]) -> dict[str, int]:
    """A ranking's docid -> position (0 = top): the `prior` with which a re-ranking keeps its order on ties."""
    return {d: i for i, (d, _) in enumerate(hits)}


STEP = 1e-6  # the written precision: scores go out with 6 decimals


def strictly_decreasing(scores: list[float]) -> list[float]:
    """Scores already in ranking order -> the values to write: each rounded to 6 decimals, and lowered
    to one STEP below the previous where it would tie with it or exceed it. E.g. [2, 1, 1, 1.0000001]
    -> [2.0, 1.0, 0.999999, 0.999998]; distinct scores more than 1e-6 apart are written unchanged."""
    out: list[float] = []
    for s in scores:
        w = round(s, 6)
        if out and w >= out[-1]:
            w = round(out[-1] - STEP, 6)
            if w >= out[-1]:  # |score| beyond ~1e9: 1e-6 is below float resolution there
                raise DataError(f"score {s} is too large to write ties at 6 decimals")
        out.append(w)
    return out


def write_run(run: Run, path: str | Path, tag: str = "peftir", depth: int | None = None,
              prior: dict[str, dict[str, int]] | None = None) -> None:
    """Write `run` ranked by `ranked` (ties by `prior[qid]` when given, then docid), top `depth` per
    query, with strictly decreasing scores (module docstring); atomically."""
    check_id(tag, "run tag", str(path))
    with atomic_open(path) as f:
        for qid in sorted(run):
            check_id(qid, "query id", str(path))
            hits = ranked(run[qid], depth, None if prior is None else prior.get(qid, {}))
            for did, score in hits:
                check_id(did, "document id", str(path))
                if not math.isfinite(score):
                    raise DataError(f"{path}: query {qid!r} document {did!r}: score {score} is not finite")
            for rank, ((did, _), w) in enumerate(zip(hits, strictly_decreasing([s for _, s in hits])), 1):
                f.write(f"{qid} Q0 {did} {rank} {w:.6f} {tag}\n")
