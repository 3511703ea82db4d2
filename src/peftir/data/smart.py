"""Converters from the classic SMART-format test collections to the shared layout.

Follows the conversion rules of the shared data README (cranfield/ and cisi/ sections):

- Cranfield (`cran.all.1400`, `cran.qry`, `cranqrel`): `_id` = `.I`, title = `.T`, text = `.W`;
  once `.W` has started, everything up to the next `.I` is text and bare tag lines (`.A`, `.B`,
  `.W`) are dropped (documents 240, 576, 578). Query id = position in `cran.qry` (1-225), which is
  how `cranqrel` numbers them; text = `.W`. `qrels.tsv` keeps the raw Cleverdon grade (1 = complete
  answer ... 4 = minimum interest, -1 = not relevant); `qrels.gain.tsv` has gain = 5 - grade for
  grades 1-4 and 0 for -1.
- CISI (`CISI.ALL`, `CISI.QRY`, `CISI.REL`): `_id` = `.I`, title = `.T`, text = `.W` (up to the next
  tag); queries: qid = `.I`, text = `.W` only (`.T`/`.A`/`.B` of 55 queries are left out);
  `CISI.REL` lines `qid docid 0 0.000000` become `qid 0 docid 1`.

Whitespace is collapsed to single spaces; nothing else changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from peftir.data.collections import DataError, iter_lines
from peftir.data.layout import collapse_ws, open_gzip_text, write_corpus, write_qrels, write_queries

_TAG = re.compile(r"\.([A-Z])(?:\s+(\S.*))?\s*")

Qrels = dict[str, dict[str, int]]


def parse_smart(path: str | Path, text_to_next_record: bool = False) -> list[tuple[str, dict[str, str]]]:
    """SMART records -> [(.I id, {tag letter: field text})], in file order.

    A line that is only a tag (`.T`) starts a field; repeated fields (several `.A`) are joined.
    With `text_to_next_record`, a `.W` field runs to the next `.I` and bare tag lines inside it are
    dropped (Cranfield's rule)."""
    records: list[tuple[str, dict[str, list[str]]]] = []
    field = None
    for n, line in iter_lines(path):
        m = _TAG.fullmatch(line)
        if m and m.group(1) == "I":
            if not m.group(2) or len(m.group(2).split()) != 1:
                raise DataError(f"{path}:{n}: '.I' needs one id")
            records.append((m.group(2), {}))
            field = None
            continue
        if not records:
            if line.strip():
                raise DataError(f"{path}:{n}: text before the first '.I' record")
            continue
        fields = records[-1][1]
        if m and not m.group(2):
            if text_to_next_record and field == "W":
                continue
            field = m.group(1)
            fields.setdefault(field, [])
            continue
        if field is None:
            if line.strip():
                raise DataError(f"{path}:{n}: text outside a field in record {records[-1][0]!r}")
            continue
        fields[field].append(line)
    return [(rid, {k: collapse_ws(" ".join(v)) for k, v in f.items()}) for rid, f in records]


def _unique(records, path) -> None:
    seen = set()
    for rid, _ in records:
        if rid in seen:
            raise DataError(f"{path}: duplicate record id {rid!r}")
        seen.add(rid)


def _docs(path: Path, text_to_next_record: bool) -> list[tuple[str, dict]]:
    recs = parse_smart(path, text_to_next_record)
    _unique(recs, path)
    return [(rid, {"title": f.get("T", ""), "text": f.get("W", "")}) for rid, f in recs]


def _table(path: Path, ncols: int) -> list[tuple[int, list[str]]]:
    out = []
    for n, line in iter_lines(path):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != ncols:
            raise DataError(f"{path}:{n}: expected {ncols} whitespace-separated fields, got {len(parts)}")
        out.append((n, parts))
    return out


def _int(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{where}: {value!r} is not an integer") from None


def convert_cranfield(raw_dir: str | Path) -> tuple[list, dict[str, str], dict[str, Qrels]]:
    """(docs, queries, {"qrels.tsv": raw grades, "qrels.gain.tsv": gains}) from the raw files."""
    raw = Path(raw_dir)
    docs = _docs(raw / "cran.all.1400", text_to_next_record=True)
    queries = {str(i): f.get("W", "") for i, (_, f) in enumerate(parse_smart(raw / "cran.qry"), 1)}
    grades: Qrels = {}
    gains: Qrels = {}
    for n, (qid, did, g) in _table(raw / "cranqrel", 3):
        grade = _int(g, f"{raw / 'cranqrel'}:{n}")
        if grade not in (-1, 1, 2, 3, 4):
            raise DataError(f"{raw / 'cranqrel'}:{n}: grade {grade} is not one of -1, 1, 2, 3, 4")
        if did in grades.get(qid, {}):
            raise DataError(f"{raw / 'cranqrel'}:{n}: query {qid} document {did} judged twice")
        grades.setdefault(qid, {})[did] = grade
        gains.setdefault(qid, {})[did] = 5 - grade if grade > 0 else 0
    return docs, queries, {"qrels.tsv": grades, "qrels.gain.tsv": gains}


def convert_cisi(raw_dir: str | Path) -> tuple[list, dict[str, str], dict[str, Qrels]]:
    """(docs, queries, {"qrels.tsv": binary qrels}) from CISI.ALL, CISI.QRY, CISI.REL."""
    raw = Path(raw_dir)
    docs = _docs(raw / "CISI.ALL", text_to_next_record=False)
    qrecs = parse_smart(raw / "CISI.QRY")
    _unique(qrecs, raw / "CISI.QRY")
    queries = {rid: f.get("W", "") for rid, f in qrecs}
    qrels: Qrels = {}
    for n, (qid, did, _, _) in _table(raw / "CISI.REL", 4):
        if did in qrels.get(qid, {}):
            raise DataError(f"{raw / 'CISI.REL'}:{n}: query {qid} document {did} listed twice")
        qrels.setdefault(qid, {})[did] = 1
    return docs, queries, {"qrels.tsv": qrels}


def write_flat(folder: str | Path, docs, queries: dict[str, str], qrels_files: dict[str, Qrels]) -> None:
    """Write corpus.jsonl.gz, queries.tsv and the qrels files (split-less layout) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open_gzip_text(folder / "corpus.jsonl.gz") as f:
        write_corpus(docs, f)
    with open(folder / "queries.tsv", "w", encoding="utf-8", newline="\n") as f:
        write_queries(queries, f)
    for name, qrels in qrels_files.items():
        with open(folder / name, "w", encoding="utf-8", newline="\n") as f:
            write_qrels(qrels, f)
