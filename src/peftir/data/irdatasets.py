"""Adapter from `ir_datasets` (https://ir-datasets.com) to the shared layout.

`ir_datasets` is optional and imported only when used. Each dataset id names one split's queries and
qrels over a shared document collection, e.g. {"train": "msmarco-passage/train/judged",
"dev": "msmarco-passage/dev/small"}; documents are taken from the first id that has them.
Record fields: documents `doc_id` plus `title` (if any) and `text` or `body` (else
`default_text()`); queries `query_id` plus `text` (or `title`, else `default_text()`); qrels
`query_id`, `doc_id`, `relevance`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from pathlib import Path

from peftir.data.collections import DataError
from peftir.data.layout import write_layout
from peftir.io import atomic_path, write_json

log = logging.getLogger(__name__)


def import_ir_datasets():
    try:
        return importlib.import_module("ir_datasets")
    except ModuleNotFoundError as e:
        if e.name != "ir_datasets":
            raise
        raise DataError("the ir_datasets package is not installed: run `pip install ir-datasets`") from None


def _text(rec, fields: tuple[str, ...]) -> str:
    for f in fields:
        v = getattr(rec, f, None)
        if isinstance(v, str):
            return v
    if hasattr(rec, "default_text"):
        return rec.default_text()
    raise DataError(f"ir_datasets record {rec!r} has none of the fields {fields} and no default_text()")


def doc_record(doc) -> tuple[str, dict]:
    title = getattr(doc, "title", "")
    body = _text(doc, ("text", "body"))
    return str(doc.doc_id), {"title": title if isinstance(title, str) else "", "text": body}


def read_qrels_iter(it, dataset_id: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in it:
        qid, did, g = str(r.query_id), str(r.doc_id), int(r.relevance)
        old = out.setdefault(qid, {}).get(did)
        if old is not None and old != g:
            raise DataError(f"{dataset_id}: query {qid!r} document {did!r} judged both {old} and {g}")
        out[qid][did] = g
    return out


def from_ir_datasets(
    dataset_id: str | Mapping[str, str],
    out_dir: str | Path,
    split: str = "test",
    judged_only: bool = False,
    progress: bool = True,
) -> dict:
    """Write an ir_datasets dataset in the shared layout under `out_dir` (atomically).

    `dataset_id` is one id (written as split `split`) or {split: id}. Returns the report (also
    written as report.json). Qrels naming unknown queries or documents are dropped and counted."""
    from tqdm import tqdm

    irds = import_ir_datasets()
    ids = dict(dataset_id) if isinstance(dataset_id, Mapping) else {split: dataset_id}
    sets = {s: irds.load(i) for s, i in ids.items()}
    with_docs = [s for s, ds in sets.items() if ds.has_docs()]
    if not with_docs:
        raise DataError(f"none of {list(ids.values())} has documents")
    queries, qrels = {}, {}
    for s, ds in sets.items():
        if not ds.has_queries():
            raise DataError(f"{ids[s]}: no queries")
        queries[s] = {str(q.query_id): _text(q, ("text", "title")) for q in ds.queries_iter()}
        if ds.has_qrels():
            qrels[s] = read_qrels_iter(ds.qrels_iter(), ids[s])
        if judged_only and s in qrels:
            queries[s] = {q: t for q, t in queries[s].items() if q in qrels[s]}
        if not queries[s]:
            raise DataError(f"{ids[s]}: split {s!r} has no queries")
    source = sets[with_docs[0]]
    total = source.docs_count() if hasattr(source, "docs_count") else None
    docs = (doc_record(d) for d in tqdm(source.docs_iter(), desc="docs", total=total, unit=" docs",
                                         disable=not progress))
    report = {"ir_datasets": ids, "docs_from": ids[with_docs[0]], "judged_only": judged_only}
    with atomic_path(out_dir) as tmp:
        written = write_layout(tmp, docs, queries, qrels)
        report.update(output=written["report"], dropped_qrels=written["dropped_qrels"])
        write_json(report, tmp / "report.json")
    log.info("ir_datasets %s -> %s: %d docs", ids, out_dir, report["output"]["docs"])
    return report
