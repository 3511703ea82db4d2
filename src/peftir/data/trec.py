"""TREC run files: `qid Q0 docid rank score tag`, ranked by descending score (ties: docid).

Reading: six whitespace-separated fields per line; the rank column is ignored (trec_eval re-sorts by
score). A score that is not a finite number, or a document listed twice for one query, is a
DataError naming the line. Writing rejects non-finite scores and ids with whitespace.
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


def ranked(docs: dict[str, float], depth: int | None = None) -> list[tuple[str, float]]:
    items = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
    return items[:depth] if depth else items


def write_run(run: Run, path: str | Path, tag: str = "peftir", depth: int | None = None) -> None:
    check_id(tag, "run tag", str(path))
    with atomic_open(path) as f:
        for qid in sorted(run):
            check_id(qid, "query id", str(path))
            for rank, (did, score) in enumerate(ranked(run[qid], depth), 1):
                check_id(did, "document id", str(path))
                if not math.isfinite(score):
                    raise DataError(f"{path}: query {qid!r} document {did!r}: score {score} is not finite")
                f.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")
