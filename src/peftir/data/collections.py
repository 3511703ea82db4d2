"""Collections in the shared layout (BEIR corpus + TSV queries + TREC qrels).

    corpus.jsonl.gz            {"_id", "title", "text"} per line
    queries[.split].tsv        qid<TAB>text
    qrels[.split].tsv          qid 0 docid grade   (whitespace separated)

Rules for bad data (every error is a DataError reading `file:line: what is wrong`):

- bytes that are not UTF-8, a corrupt gzip stream, a line that does not parse, an empty or
  whitespace-containing id, a duplicate document or query id, a non-integer grade: error.
- a byte-order mark at the start of a file is ignored; blank lines are skipped; CRLF is accepted.
- an empty document or query text is kept (validate_collection counts them).
- a (qid, docid) pair judged twice with the same grade is read once (counted as a duplicate by
  `read_qrels`); judged twice with different grades: error naming both lines.
- qrels naming documents or queries that do not exist are not an error here: the loaders do not see
  the other files. `validate_collection` counts them, `prepare_collection` drops and reports them.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path


class DataError(ValueError):
    """Bad input data; the message names the file and line."""


_GRADE = re.compile(r"[+-]?[0-9]+")
_WS = re.compile(r"\s")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without its line end) of a UTF-8 text file, gzipped if `.gz`.

    Blank lines are yielded too (callers skip them); only `\\n` ends a line, a trailing `\\r` is
    dropped. Undecodable bytes and broken gzip streams raise DataError with the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    opener = gzip.open if path.suffix == ".gz" else open
    n = 0
    try:
        with opener(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(
                        f"{path}:{n}: not valid UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})"
                    ) from None
                if n == 1 and line.startswith("\ufeff"):
                    line = line[1:]
                yield n, line.rstrip("\n").rstrip("\r")
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}:{n + 1}: corrupt gzip data ({e.__class__.__name__}: {e})") from None


def check_id(value: str, what: str, where: str) -> str:
    """An id must be non-empty and free of whitespace (qrels and run files split on whitespace)."""
    if not value:
        raise DataError(f"{where}: empty {what}")
    if _WS.search(value):
        raise DataError(f"{where}: {what} {value!r} contains whitespace")
    return value


def doc_text(doc: dict) -> str:
    """The text a model sees: title and body joined by a space (title may be empty)."""
    return f"{doc.get('title', '')} {doc.get('text', '')}".strip()


def parse_corpus_line(line: str, where: str) -> tuple[str, dict]:
    """One BEIR record -> (docid, {"title", "text"}); `_id` may be a string or an integer."""
    try:
        d = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as e:
        raise DataError(f"{where}: not a JSON record ({e.__class__.__name__}: {e})") from None
    if not isinstance(d, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(d).__name__}")
    if "_id" not in d:
        raise DataError(f"{where}: record has no '_id'")
    did = d["_id"]
    if isinstance(did, bool) or not isinstance(did, (str, int)):
        raise DataError(f"{where}: '_id' must be a string, got {type(did).__name__}")
    out = {}
    for key in ("title", "text"):
        v = d.get(key)
        if v is None:
            v = ""
        if not isinstance(v, str):
            raise DataError(f"{where}: {key!r} must be a string, got {type(v).__name__}")
        out[key] = v
    return check_id(str(did), "document id", where), out


def iter_corpus(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield (docid, {"title", "text"}) from a BEIR corpus.jsonl[.gz], in file order.

    Does not check for duplicate ids (see `load_corpus` / `scan_corpus`)."""
    for n, line in iter_lines(path):
        if line.strip():
            yield parse_corpus_line(line, f"{path}:{n}")


def iter_corpus_checked(path: str | Path) -> Iterator[tuple[str, dict]]:
    """As iter_corpus, but a repeated document id is an error naming both lines."""
    seen: dict[str, int] = {}
    for n, line in iter_lines(path):
        if not line.strip():
            continue
        did, d = parse_corpus_line(line, f"{path}:{n}")
        if did in seen:
            raise DataError(f"{path}:{n}: duplicate document id {did!r} (first on line {seen[did]})")
        seen[did] = n
        yield did, d


def load_corpus(path: str | Path) -> dict[str, str]:
    """docid -> text (title + body). Duplicate ids are an error."""
    return {did: doc_text(d) for did, d in iter_corpus_checked(path)}


def iter_queries(path: str | Path) -> Iterator[tuple[int, str, str]]:
    """Yield (line number, qid, text) of a `qid<TAB>text` file; no duplicate check."""
    for n, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(f"{path}:{n}: expected 'qid<TAB>text', got {len(parts)} field(s)")
        yield n, check_id(parts[0], "query id", f"{path}:{n}"), parts[1]


def load_queries(path: str | Path) -> dict[str, str]:
    """qid -> text, in file order. Duplicate qids are an error; empty texts are kept."""
    out: dict[str, str] = {}
    lines: dict[str, int] = {}
    for n, qid, text in iter_queries(path):
        if qid in out:
            raise DataError(f"{path}:{n}: duplicate query id {qid!r} (first on line {lines[qid]})")
        out[qid], lines[qid] = text, n
    return out


def parse_qrels_line(line: str, where: str) -> tuple[str, str, int] | None:
    """`qid iter docid grade` (any whitespace) -> (qid, docid, grade); None for a blank line."""
    parts = line.split()
    if not parts:
        return None
    if len(parts) != 4:
        raise DataError(f"{where}: expected 'qid 0 docid grade', got {len(parts)} field(s)")
    qid, _, did, grade = parts
    if not _GRADE.fullmatch(grade):
        raise DataError(f"{where}: grade {grade!r} is not an integer")
    return qid, did, int(grade)


def read_qrels(path: str | Path) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str], int], int]:
    """(qrels, line number of each (qid, docid) pair, number of repeated identical lines)."""
    out: dict[str, dict[str, int]] = {}
    where_pair: dict[tuple[str, str], int] = {}
    dups = 0
    for n, line in iter_lines(path):
        rec = parse_qrels_line(line, f"{path}:{n}")
        if rec is None:
            continue
        qid, did, grade = rec
        old = out.setdefault(qid, {}).get(did)
        if old is not None:
            if old != grade:
                raise DataError(
                    f"{path}:{n}: query {qid!r} document {did!r} judged {grade}, but {old} on line "
                    f"{where_pair[qid, did]}"
                )
            dups += 1
            continue
        out[qid][did] = grade
        where_pair[qid, did] = n
    return out, where_pair, dups


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """qid -> {docid: grade}. Identical repeated lines are read once; conflicting ones are an error."""
    return read_qrels(path)[0]
