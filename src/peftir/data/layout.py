"""Writers for the shared layout (see collections.py), byte-for-byte deterministic.

Texts are normalised as the layout prescribes: whitespace (line breaks included) collapsed to single
spaces and trimmed, nothing else changed. `corpus.jsonl.gz` is written with gzip level 9 and a
header that carries no file name and time stamp 0, so the same input gives the same bytes.
Every writer takes an open text stream; `write_layout` writes a whole folder atomically.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from peftir.data.collections import DataError, check_id
from peftir.io import write_json


def collapse_ws(text: str) -> str:
    """Whitespace runs (any Unicode whitespace, line breaks included) -> one space; trimmed."""
    return " ".join(text.split())


class _GzipText:
    """Text writer over a GzipFile that hands each write to zlib as it comes (no re-chunking by a
    TextIOWrapper buffer), so the compressed bytes equal those of writing line by line."""

    def __init__(self, gz: gzip.GzipFile):
        self._gz = gz

    def write(self, s: str) -> int:
        return self._gz.write(s.encode("utf-8"))


@contextlib.contextmanager
def open_gzip_text(path: str | Path):
    """Write UTF-8 text to a deterministic gzip file (no name, mtime 0, level 9)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        yield _GzipText(gz)


def corpus_line(did: str, title: str, text: str) -> str:
    check_id(str(did), "document id", "corpus record")
    rec = {"_id": str(did), "title": collapse_ws(title or ""), "text": collapse_ws(text or "")}
    return json.dumps(rec, ensure_ascii=False) + "\n"


def write_corpus(docs: Iterable[tuple[str, Mapping]], f) -> int:
    """Write (docid, {"title", "text"}) records; returns the count. Duplicate ids are an error."""
    seen: set[str] = set()
    for did, d in docs:
        if did in seen:
            raise DataError(f"corpus: duplicate document id {did!r}")
        seen.add(did)
        f.write(corpus_line(did, d.get("title", ""), d.get("text", "")))
    return len(seen)


def write_queries(queries: Mapping[str, str] | Iterable[tuple[str, str]], f) -> int:
    items = queries.items() if isinstance(queries, Mapping) else queries
    n = 0
    for qid, text in items:
        f.write(f"{check_id(str(qid), 'query id', 'queries')}\t{collapse_ws(text)}\n")
        n += 1
    return n


def write_qrels(qrels: Mapping[str, Mapping[str, int]], f, order: Iterable[str] | None = None) -> int:
    """`qid<TAB>0<TAB>docid<TAB>grade` lines, queries in `order` (default: mapping order)."""
    n = 0
    for qid in qrels if order is None else order:
        for did, grade in qrels.get(qid, {}).items():
            check_id(str(qid), "query id", "qrels")
            check_id(str(did), "document id", "qrels")
            f.write(f"{qid}\t0\t{did}\t{int(grade)}\n")
            n += 1
    return n


def write_layout(
    folder: str | Path,
    docs: Iterable[tuple[str, Mapping]],
    queries: Mapping[str, Mapping[str, str]],
    qrels: Mapping[str, Mapping[str, Mapping[str, int]]],
    extra: Mapping[str, object] | None = None,
) -> dict:
    """Write corpus.jsonl.gz, queries.{split}.tsv, qrels.{split}.tsv (+ `extra` JSON files) into
    `folder` (callers wrap this in peftir.io.atomic_path). The layout's promises are kept: qrels
    lines naming a query not in the split or a document not written are dropped and counted.
    Returns {"report": validate.collection_report of what was written, "dropped_qrels": {split: {...}}}."""
    from peftir.data.validate import collection_report

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids: set[str] = set()
    empty = [0]

    def tap():
        for did, d in docs:
            ids.add(did)
            empty[0] += not (d.get("title", "").strip() or d.get("text", "").strip())
            yield did, d

    with open_gzip_text(folder / "corpus.jsonl.gz") as f:
        write_corpus(tap(), f)
    dropped, written = {}, {}
    for split, qs in queries.items():
        with open(folder / f"queries.{split}.tsv", "w", encoding="utf-8", newline="\n") as f:
            write_queries(qs, f)
        written[split] = (qs, {}, 0)
        if split not in qrels:
            continue
        qr = qrels[split]
        unknown = sum(len(v) for q, v in qr.items() if q not in qs)
        kept = {q: {d: g for d, g in qr[q].items() if d in ids} for q in qs if q in qr}
        missing = sum(len(qr[q]) - len(v) for q, v in kept.items())
        with open(folder / f"qrels.{split}.tsv", "w", encoding="utf-8", newline="\n") as f:
            write_qrels(kept, f)
        written[split] = (qs, kept, 0)
        dropped[split] = {"unknown_query_lines": unknown, "missing_doc_lines": missing}
    for name, obj in (extra or {}).items():
        write_json(obj, folder / name)
    return {"report": collection_report(ids, empty[0], written), "dropped_qrels": dropped}
