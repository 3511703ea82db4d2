"""Materialise a collection (optionally a seeded sample of it) for the pipeline.

    out_dir/corpus.jsonl.gz        kept documents, input order, deterministic gzip
    out_dir/queries.{split}.tsv    kept queries, input order
    out_dir/qrels.{split}.tsv      their judgments (documents all in the corpus)
    out_dir/sample.json            only when sampling: seed, spec and the sampled ids (for audit)
    out_dir/report.json            counts of input and output, what was dropped, file checksums

The folder is written beside `out_dir` under a temporary name and renamed into place at the end,
so a killed job leaves no folder that looks complete.

Sampling (`sample={"queries": {"train": 4000, "dev": 500}, "max_docs": 10000}`, both keys optional):
per listed split keep a seeded random sample of the queries that have >= 1 positive judgment
(grade >= 1); splits not listed keep all their queries (with `judged_only`, all that have a positive
judgment: e.g. CISI's 36 unjudged queries would only cost re-ranking time). With `max_docs`, the corpus is restricted
to every document judged (any grade) for any kept query, plus a seeded random fill of the other
documents up to `max_docs`; when the judged documents alone exceed `max_docs` they are all kept and
the report says so. Each random draw has its own `random.Random(f"{seed}:...")`, so the result
depends only on the input and the seed.

Dropped with a logged warning and counted in the report: qrels lines naming a query not in the split's
queries file, or a document not in the corpus (use `strict=True` to make both an error). Refused, naming
the file: an empty corpus, a split whose kept queries all have empty texts, a split left with no positive
judgment on a document of the corpus.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from peftir.data.collections import DataError, iter_corpus
from peftir.data.layout import write_layout
from peftir.data.validate import CORPUS, collection_report, list_splits, read_checked
from peftir.io import atomic_path, sha256_file, write_json

log = logging.getLogger(__name__)


def parse_sample(sample: dict | None, splits: list[str]) -> tuple[dict[str, int], int | None]:
    """Check a sampling spec; return ({split: n}, max_docs)."""
    if not sample:
        return {}, None
    if not isinstance(sample, dict) or set(sample) - {"queries", "max_docs"}:
        raise DataError(f"sample spec: only keys 'queries' and 'max_docs' are allowed, got {sample!r}")
    qspec = sample.get("queries") or {}
    if not isinstance(qspec, dict):
        raise DataError(f"sample spec: 'queries' must map split -> count, got {qspec!r}")
    for split, n in qspec.items():
        if split not in splits:
            raise DataError(f"sample spec: split {split!r} is not among {splits}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DataError(f"sample spec: queries[{split!r}] must be a positive integer, got {n!r}")
    max_docs = sample.get("max_docs")
    if max_docs is not None and (isinstance(max_docs, bool) or not isinstance(max_docs, int) or max_docs < 1):
        raise DataError(f"sample spec: max_docs must be a positive integer, got {max_docs!r}")
    return dict(qspec), max_docs


def sample_queries(queries: dict[str, str], qrels: dict, n: int | None, rng: random.Random) -> list[str]:
    """Kept qids in input order: all of them (n None), or n drawn from those with a positive."""
    if n is None:
        return list(queries)
    cands = [q for q in queries if any(g >= 1 for g in qrels.get(q, {}).values())]
    chosen = set(cands if n >= len(cands) else rng.sample(cands, n))
    return [q for q in queries if q in chosen]


def sample_docs(doc_ids: list[str], judged: set[str], max_docs: int | None, rng: random.Random):
    """(kept doc ids or None for all, fill ids in input order, judged exceed max_docs?)."""
    if max_docs is None:
        return None, [], False
    if len(judged) >= max_docs:
        return set(judged), [], len(judged) > max_docs
    others = [d for d in doc_ids if d not in judged]
    fill = set(rng.sample(others, min(max_docs - len(judged), len(others))))
    return judged | fill, [d for d in doc_ids if d in fill], False


def check_split(queries_file: Path, qrels_file: Path, split: str, queries: dict[str, str], qrels: dict,
                counts: dict) -> None:
    """Log the judgments dropped (with counts); refuse a split that is left with nothing to evaluate:
    every query text empty, or no query with a positive judgment on a document of the corpus."""
    for key, what in (("qrels_missing_doc_lines", "name a document not in the corpus"),
                      ("qrels_unknown_query_lines", "name a query not in the queries file")):
        if counts.get(key):
            log.warning("%s: %d judgment line(s) of split %r %s: dropped", qrels_file, counts[key], split, what)
    blank = sum(1 for t in queries.values() if not t.strip())
    if queries and blank == len(queries):
        raise DataError(f"{queries_file}: every one of the {len(queries)} kept queries of split {split!r} has an "
                        "empty text: nothing to search with")
    if blank:
        log.warning("%s: %d of %d kept queries of split %r have an empty text", queries_file, blank,
                    len(queries), split)
    if not any(g >= 1 for docs in qrels.values() for g in docs.values()):
        raise DataError(f"{qrels_file}: no query of split {split!r} is left with a positive judgment on a "
                        f"document of the corpus ({counts.get('qrels_missing_doc_lines', 0)} judgment line(s) "
                        f"named documents not in the corpus, {counts.get('qrels_unknown_query_lines', 0)} "
                        "named unknown queries): nothing to evaluate")


def prepare_collection(
    root: str | Path,
    out_dir: str | Path,
    splits: list[str] | None = None,
    sample: dict | None = None,
    seed: int = 0,
    qrels_name: str | None = None,
    strict: bool = False,
    progress: bool = True,
    judged_only: bool = False,
) -> dict:
    """Validate the collection under `root` and write it (or a sample) to `out_dir`; see module doc.
    Returns the report that is also written to `out_dir/report.json`."""
    from tqdm import tqdm

    root, out = Path(root), Path(out_dir)
    if not root.is_dir():
        raise DataError(f"{root}: collection folder not found")
    if out.resolve() == root.resolve():
        raise DataError(f"{out}: output folder must differ from the collection folder")
    splits = list(splits or list_splits(root))
    qspec, max_docs = parse_sample(sample, splits)

    doc_ids, empty, data, files = read_checked(root, splits, qrels_name, strict, progress)
    if not doc_ids:
        raise DataError(f"{root / CORPUS}: the corpus holds no document (empty file or no JSON line)")
    ids = frozenset(doc_ids)
    report = {"root": str(root), "out": str(out), "splits": splits, "qrels_name": qrels_name,
              "seed": seed, "sample": sample or None, "judged_only": judged_only, "input_files": files,
              "input": collection_report(doc_ids, empty, data)}

    q_out, r_out, audit, dropped = {}, {}, {"seed": seed, "spec": sample, "queries": {}}, {}
    for split, (queries, qrels, _) in data.items():
        n = qspec.get(split, len(queries) if judged_only else None)  # judged_only: every query with a positive
        kept = sample_queries(queries, qrels, n, random.Random(f"{seed}:queries:{split}"))
        if not kept:
            raise DataError(f"{root / files[split]['qrels']}: no query of split {split!r} has a positive "
                            "judgment, so there is nothing to sample")
        q_out[split] = {q: queries[q] for q in kept}
        r_out[split] = {q: qrels[q] for q in kept if q in qrels}
        if split in qspec:
            audit["queries"][split] = kept
        dropped[split] = {"queries_not_sampled": len(queries) - len(kept)}
    judged = {d for qr in r_out.values() for docs in qr.values() for d in docs if d in ids}
    keep_docs, fill, exceeded = sample_docs(doc_ids, judged, max_docs, random.Random(f"{seed}:docs"))
    if exceeded:
        log.warning("%d judged documents exceed max_docs=%d: keeping all of them", len(judged), max_docs)
    for split, qr in r_out.items():
        n0 = sum(map(len, qr.values()))
        r_out[split] = {q: {d: g for d, g in docs.items() if d in ids} for q, docs in qr.items()}
        dropped[split]["qrels_missing_doc_lines"] = n0 - sum(map(len, r_out[split].values()))
        dropped[split]["qrels_unknown_query_lines"] = report["input"]["splits"][split]["unknown_query_lines"]
        check_split(root / files[split]["queries"], root / files[split]["qrels"], split, q_out[split],
                    r_out[split], dropped[split])
    audit["docs"] = {"max_docs": max_docs, "judged": len(judged), "judged_exceed_max_docs": exceeded,
                     "filled": fill}
    report.update(dropped=dropped, sampling=None if not sample else {
        "queries": {s: len(v) for s, v in audit["queries"].items()},
        "judged_docs": len(judged), "filled_docs": len(fill), "judged_exceed_max_docs": exceeded})

    def docs():
        it = iter_corpus(root / CORPUS)
        for did, d in tqdm(it, desc="write corpus", total=len(doc_ids), unit=" docs", disable=not progress):
            if keep_docs is None or did in keep_docs:
                yield did, d

    with atomic_path(out) as tmp:
        report["output"] = write_layout(tmp, docs(), q_out, r_out,
                                        extra={"sample.json": audit} if sample else None)["report"]
        report["files"] = {p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
                           for p in sorted(tmp.iterdir())}
        write_json(report, tmp / "report.json")
    log.info("prepared %s -> %s: %d docs, %s", root, out, report["output"]["docs"],
             {s: r["queries"] for s, r in report["output"]["splits"].items()})
    return report

