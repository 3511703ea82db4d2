"""MS MARCO in its official file formats, and a converter to the shared layout.

Passage ranking (https://microsoft.github.io/msmarco/):
    collection.tsv                 pid<TAB>passage
    queries.{train,dev,eval}.tsv   qid<TAB>query            (also queries.dev.small.tsv, TREC DL topics)
    qrels.{train,dev}.tsv          qid<TAB>0<TAB>pid<TAB>1
    2019qrels-pass.txt             qid Q0 pid grade          (TREC DL, space separated, grades 0-3)
    top1000.dev                    qid<TAB>pid<TAB>query<TAB>passage
Document ranking:
    msmarco-docs.tsv               docid<TAB>url<TAB>title<TAB>body
    msmarco-doctrain-queries.tsv   qid<TAB>query
    msmarco-doctrain-qrels.tsv     qid 0 docid 1
    2019qrels-docs.txt             qid Q0 docid grade        (TREC DL)

A document becomes {"title": title, "text": body}; truncation (FirstP) is the tokenizer's job.
Qrels in every variant are read by `load_qrels` (any whitespace, four fields). After conversion
with `msmarco_to_layout` the rest of the pipeline sees only the shared layout.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from peftir.data.collections import DataError, check_id, iter_lines, load_qrels
from peftir.data.irdatasets import from_ir_datasets  # noqa: F401  (re-exported)
from peftir.data.layout import write_layout
from peftir.io import atomic_path, write_json

log = logging.getLogger(__name__)

load_msmarco_qrels = load_qrels


def _fields(path, n: int, line: str, k: int, what: str) -> list[str]:
    parts = line.split("\t", k - 1)
    if len(parts) != k:
        raise DataError(f"{path}:{n}: expected '{what}', got {len(parts)} tab-separated field(s)")
    return parts


def iter_msmarco_collection(path: str | Path) -> Iterator[tuple[str, str]]:
    """(pid, passage) from collection.tsv; a tab inside the passage is kept as text."""
    for n, line in iter_lines(path):
        if line.strip():
            pid, text = _fields(path, n, line, 2, "pid<TAB>passage")
            yield check_id(pid, "passage id", f"{path}:{n}"), text


def load_msmarco_queries(path: str | Path) -> dict[str, str]:
    """qid -> query text from any `qid<TAB>text` query file; duplicate qids are an error."""
    out: dict[str, str] = {}
    for n, line in iter_lines(path):
        if not line.strip():
            continue
        qid, text = _fields(path, n, line, 2, "qid<TAB>query")
        check_id(qid, "query id", f"{path}:{n}")
        if qid in out:
            raise DataError(f"{path}:{n}: duplicate query id {qid!r}")
        out[qid] = text
    return out


def iter_top1000(path: str | Path) -> Iterator[tuple[str, str, str, str]]:
    """(qid, pid, query, passage) rows of top1000.dev / top1000.eval."""
    for n, line in iter_lines(path):
        if line.strip():
            qid, pid, query, passage = _fields(path, n, line, 4, "qid<TAB>pid<TAB>query<TAB>passage")
            yield check_id(qid, "query id", f"{path}:{n}"), check_id(pid, "passage id", f"{path}:{n}"), query, passage


def load_top1000(path: str | Path) -> tuple[dict[str, list[str]], dict[str, str], dict[str, str]]:
    """(candidates qid -> [pid, ...] in file order, queries, passages) from a top1000 file."""
    cands: dict[str, list[str]] = {}
    queries: dict[str, str] = {}
    passages: dict[str, str] = {}
    for qid, pid, query, passage in iter_top1000(path):
        cands.setdefault(qid, []).append(pid)
        queries.setdefault(qid, query)
        passages.setdefault(pid, passage)
    return cands, queries, passages


def iter_msmarco_docs(path: str | Path) -> Iterator[tuple[str, str, str, str]]:
    """(docid, url, title, body) from msmarco-docs.tsv."""
    for n, line in iter_lines(path):
        if line.strip():
            docid, url, title, body = _fields(path, n, line, 4, "docid<TAB>url<TAB>title<TAB>body")
            yield check_id(docid, "document id", f"{path}:{n}"), url, title, body


def iter_msmarco_corpus(path: str | Path, kind: str = "auto") -> Iterator[tuple[str, dict]]:
    """(id, {"title", "text"}) from collection.tsv (kind "passage") or msmarco-docs.tsv ("document");
    "auto" decides by the number of tab-separated fields of the first line (2 or 4)."""
    if kind == "auto":
        first = next((ln for _, ln in iter_lines(path) if ln.strip()), "")
        kind = "document" if len(first.split("\t")) == 4 else "passage"
    if kind == "passage":
        return ((pid, {"title": "", "text": text}) for pid, text in iter_msmarco_collection(path))
    if kind == "document":
        return ((d, {"title": t, "text": b}) for d, _, t, b in iter_msmarco_docs(path))
    raise DataError(f"unknown MS MARCO corpus kind {kind!r} (passage, document or auto)")


def msmarco_to_layout(
    out_dir: str | Path,
    collection: str | Path,
    queries: Mapping[str, str | Path],
    qrels: Mapping[str, str | Path] | None = None,
    kind: str = "auto",
    judged_only: bool = False,
    progress: bool = True,
) -> dict:
    """Write MS MARCO files in the shared layout under `out_dir` (atomically).

    `queries` and `qrels` map a split name to a file, e.g. {"train": "queries.train.tsv",
    "dev": "queries.dev.small.tsv"} and {"train": "qrels.train.tsv", "dev": "qrels.dev.small.tsv"}.
    A split without qrels (eval) gets a queries file only. `judged_only` keeps only the queries
    that have a qrels line. Qrels lines naming unknown queries or passages are dropped and counted.
    Returns the report that is also written as report.json."""
    from tqdm import tqdm

    qrels = dict(qrels or {})
    if set(qrels) - set(queries):
        raise DataError(f"qrels given for splits without queries: {sorted(set(qrels) - set(queries))}")
    qs = {s: load_msmarco_queries(p) for s, p in queries.items()}
    qr = {s: load_qrels(p) for s, p in qrels.items()}
    if judged_only:
        qs = {s: {q: t for q, t in v.items() if s not in qr or q in qr[s]} for s, v in qs.items()}
    for s, v in qs.items():
        if not v:
            raise DataError(f"{queries[s]}: split {s!r} has no queries" + (" with qrels" if judged_only else ""))
    def docs():
        yield from tqdm(iter_msmarco_corpus(collection, kind), desc="collection", unit=" docs", disable=not progress)

    report = {"collection": str(collection), "kind": kind, "judged_only": judged_only,
              "queries_files": {s: str(p) for s, p in queries.items()},
              "qrels_files": {s: str(p) for s, p in qrels.items()}}
    with atomic_path(out_dir) as tmp:
        written = write_layout(tmp, docs(), qs, qr)
        report.update(output=written["report"], dropped_qrels=written["dropped_qrels"])
        write_json(report, tmp / "report.json")
    log.info("MS MARCO -> %s: %d docs, %s", out_dir, report["output"]["docs"], {s: len(v) for s, v in qs.items()})
    return report

