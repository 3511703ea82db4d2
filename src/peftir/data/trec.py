"""TREC run files: `qid Q0 docid rank score tag`, ranked by descending score (ties: docid)."""

from __future__ import annotations

from pathlib import Path

from peftir.data.collections import DataError, _open_text
from peftir.io import atomic_open

Run = dict[str, dict[str, float]]


def read_run(path: str | Path) -> Run:
    run: Run = {}
    with _open_text(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise DataError(f"{path}:{n}: expected 'qid Q0 docid rank score tag', got {len(parts)} field(s)")
            qid, _, did, _, score, _ = parts
            try:
                run.setdefault(qid, {})[did] = float(score)
            except ValueError:
                raise DataError(f"{path}:{n}: score {score!r} is not a number") from None
    return run


def ranked(docs: dict[str, float], depth: int | None = None) -> list[tuple[str, float]]:
    items = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
    return items[:depth] if depth else items


def write_run(run: Run, path: str | Path, tag: str = "peftir", depth: int | None = None) -> None:
    with atomic_open(path) as f:
        for qid in sorted(run):
            for rank, (did, score) in enumerate(ranked(run[qid], depth), 1):
                f.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")
