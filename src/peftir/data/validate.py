"""Find a collection's files and count what is in them (the counts go into provenance).

A collection folder holds `corpus.jsonl.gz` and, per split, `queries.{split}.tsv` and
`qrels.{split}.tsv`; a collection without splits holds `queries.tsv` and `qrels.tsv`, and its one
split is called "test". An alternative qrels file (e.g. Cranfield's graded `qrels.gain.tsv`) is
named with `qrels_name`, which may contain `{split}`.

Rules: a split without queries is an error. Judgments naming a document that is not in the corpus
("judged but missing") or a query that is not in the split's queries file ("unknown query") are
counted, or an error naming the qrels line when `strict=True`. A query is positive-judged when it
has at least one grade >= 1 (trec_eval's rule), so Cranfield's -1 lines are not positives.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from peftir.data.collections import DataError, iter_corpus_checked, load_queries, read_qrels

log = logging.getLogger(__name__)

CORPUS = "corpus.jsonl.gz"


def list_splits(root: str | Path) -> list[str]:
    """Splits present in a folder: from `queries.{split}.tsv`, or ["test"] for `queries.tsv`."""
    root = Path(root)
    found = sorted(p.name[len("queries.") : -len(".tsv")] for p in root.glob("queries.*.tsv"))
    if found:
        return found
    if (root / "queries.tsv").is_file():
        return ["test"]
    raise DataError(f"{root}: no queries.tsv or queries.<split>.tsv")


def split_files(root: str | Path, split: str, qrels_name: str | None = None) -> tuple[Path, Path]:
    """(queries file, qrels file) of one split, following the naming rules above."""
    root = Path(root)
    q = root / f"queries.{split}.tsv"
    flat = not q.is_file() and split == "test" and (root / "queries.tsv").is_file()
    if flat:
        q = root / "queries.tsv"
    if not q.is_file():
        raise DataError(f"{root}: no queries file for split {split!r} (have: {', '.join(list_splits(root))})")
    if qrels_name:
        if "{split}" not in qrels_name and not flat:
            raise DataError(f"qrels name {qrels_name!r} needs '{{split}}' for a collection with splits")
        r = root / qrels_name.replace("{split}", split)
    else:
        r = root / ("qrels.tsv" if flat else f"qrels.{split}.tsv")
    if not r.is_file():
        raise DataError(f"{r}: qrels file not found")
    return q, r


def scan_corpus(path: str | Path, progress: bool = False) -> tuple[list[str], int]:
    """(document ids in file order, number of documents whose title and text are both empty)."""
    from tqdm import tqdm

    ids, empty = [], 0
    for did, d in tqdm(iter_corpus_checked(path), desc="corpus", unit=" docs", disable=not progress):
        ids.append(did)
        empty += not (d["title"].strip() or d["text"].strip())
    return ids, empty


def split_report(
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    doc_ids: set[str] | frozenset[str],
    duplicate_lines: int = 0,
) -> dict:
    """Counts for one split (pure: no files). Hand-checked example in tests/data/test_validate.py."""
    grades: Counter = Counter()
    missing_lines, missing_docs, unknown_lines, unknown_q = 0, set(), 0, set()
    for qid, docs in qrels.items():
        known = qid in queries
        if not known:
            unknown_q.add(qid)
        for did, g in docs.items():
            grades[g] += 1
            unknown_lines += not known
            if did not in doc_ids:
                missing_lines += 1
                missing_docs.add(did)
    positive = {q for q, docs in qrels.items() if q in queries and any(g >= 1 for g in docs.values())}
    return {
        "queries": len(queries),
        "empty_queries": sum(1 for t in queries.values() if not t.strip()),
        "qrels": sum(grades.values()),
        "duplicate_qrels_lines": duplicate_lines,
        "grades": {str(g): grades[g] for g in sorted(grades)},
        "judged_queries": sum(1 for q in queries if q in qrels),
        "queries_with_positives": len(positive),
        "queries_without_positives": len(queries) - len(positive),
        "judged_missing_docs": len(missing_docs),
        "judged_missing_lines": missing_lines,
        "unknown_queries": len(unknown_q),
        "unknown_query_lines": unknown_lines,
    }


def collection_report(
    doc_ids: Iterable[str],
    empty_docs: int,
    splits: Mapping[str, tuple[Mapping[str, str], Mapping[str, Mapping[str, int]], int]],
) -> dict:
    """Report over a whole collection; `splits` maps split -> (queries, qrels, duplicate lines)."""
    ids = frozenset(doc_ids)
    out = {"docs": len(ids), "empty_docs": empty_docs, "splits": {}}
    owner: Counter = Counter()
    for split, (qs, qr, dups) in splits.items():
        out["splits"][split] = split_report(qs, qr, ids, dups)
        owner.update(qs.keys())
    out["queries_in_several_splits"] = sum(1 for c in owner.values() if c > 1)
    return out


def check_split(split: str, qpath: Path, rpath: Path, queries, qrels, where, doc_ids, strict: bool) -> None:
    """Raise on an empty split; with `strict`, also on the first judged-but-missing / unknown line."""
    if not queries:
        raise DataError(f"{qpath}: split {split!r} has no queries")
    if not strict:
        return
    for qid, docs in qrels.items():
        for did in docs:
            if qid not in queries:
                raise DataError(f"{rpath}:{where[qid, did]}: query {qid!r} is not in {qpath.name}")
            if did not in doc_ids:
                raise DataError(f"{rpath}:{where[qid, did]}: document {did!r} is not in the corpus")


def read_checked(root: Path, splits, qrels_name, strict: bool, progress: bool):
    """Read the corpus ids and every split's queries and qrels, checked against each other.
    -> (doc_ids, empty doc ids, {split: (queries, qrels, duplicate qrels)}, {split: file names})."""
    paths = {split: split_files(root, split, qrels_name) for split in splits}  # fail fast on names
    doc_ids, empty = scan_corpus(root / CORPUS, progress=progress)
    ids = frozenset(doc_ids)
    data, files = {}, {}
    for split, (qpath, rpath) in paths.items():
        queries = load_queries(qpath)
        qrels, where, dups = read_qrels(rpath)
        check_split(split, qpath, rpath, queries, qrels, where, ids, strict)
        data[split] = (queries, qrels, dups)
        files[split] = {"queries": qpath.name, "qrels": rpath.name}
    return doc_ids, empty, data, files


def validate_collection(
    root: str | Path,
    splits: list[str] | None = None,
    qrels_name: str | None = None,
    strict: bool = False,
    progress: bool = False,
) -> dict:
    """Read and check a collection folder; return its report (counts per split; see module doc)."""
    root = Path(root)
    doc_ids, empty, data, files = read_checked(root, splits or list_splits(root), qrels_name, strict, progress)
    report = collection_report(doc_ids, empty, data)
    report["root"] = str(root)
    report["files"] = files
    for split, r in report["splits"].items():
        if r["judged_missing_lines"] or r["unknown_query_lines"]:
            log.warning("%s [%s]: %d qrels lines name missing documents, %d name unknown queries",
                        root, split, r["judged_missing_lines"], r["unknown_query_lines"])
    return report
