"""Loaders of the shared layout: each kind of bad data gives a DataError naming file and line, or is
handled by the documented rule; writers and readers round-trip (property-based)."""

from __future__ import annotations

import gzip
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peftir.data.collections import (
    DataError,
    doc_text,
    iter_corpus,
    load_corpus,
    load_qrels,
    load_queries,
    read_qrels,
)
from peftir.data.layout import collapse_ws, open_gzip_text, write_corpus, write_qrels, write_queries

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _write(path, data: bytes):
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n', "c.jsonl:2: duplicate document id 'a'"),
        (b'{"_id": "a"}\nnot json\n', "c.jsonl:2: not a JSON record"),
        (b'["a"]\n', "c.jsonl:1: expected a JSON object"),
        (b'{"text": "x"}\n', "c.jsonl:1: record has no '_id'"),
        (b'{"_id": true}\n', "c.jsonl:1: '_id' must be a string"),
        (b'{"_id": "a b"}\n', "c.jsonl:1: document id 'a b' contains whitespace"),
        (b'{"_id": ""}\n', "c.jsonl:1: empty document id"),
        (b'{"_id": "a", "text": 3}\n', "c.jsonl:1: 'text' must be a string"),
        (b'{"_id": "a"}\n{"_id": "b", "text": "caf\xe9"}\n', "c.jsonl:2: not valid UTF-8 (byte 0xe9 at column 26)"),
    ],
)
def test_corpus_errors(tmp_path, data, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_corpus(_write(tmp_path / "c.jsonl", data))


def test_corpus_rules(tmp_path):
    # BOM, blank lines, CRLF, integer ids, null/missing fields and empty documents are accepted
    p = _write(tmp_path / "c.jsonl.gz", b'\xef\xbb\xbf{"_id": 7, "title": null}\r\n\n{"_id": "e", "text": ""}\n')
    assert load_corpus(p) == {"7": "", "e": ""}
    assert list(iter_corpus(p)) == [("7", {"title": "", "text": ""}), ("e", {"title": "", "text": ""})]
    assert doc_text({"title": "T", "text": "body"}) == "T body"


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(b'{"_id": "a"}\n' * 1000)
    p = tmp_path / "c.jsonl.gz"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="corrupt gzip data"):
        load_corpus(p)
    p.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"c.jsonl.gz:1: corrupt gzip data"):
        load_corpus(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_queries(tmp_path / "nope.tsv")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"q1\tone\nq1\ttwo\n", "q.tsv:2: duplicate query id 'q1' (first on line 1)"),
        (b"q1 one\n", "q.tsv:1: expected 'qid<TAB>text', got 1 field"),
        (b"q1\tone\ttwo\n", "q.tsv:1: expected 'qid<TAB>text', got 3 field"),
        (b"\tone\n", "q.tsv:1: empty query id"),
        (b"q1\tok\nq2\t\xff\n", "q.tsv:2: not valid UTF-8"),
    ],
)
def test_query_errors(tmp_path, data, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_queries(_write(tmp_path / "q.tsv", data))


def test_query_rules(tmp_path):
    p = _write(tmp_path / "q.tsv", b"\xef\xbb\xbfq1\tone\r\n\n   \nq2\t\n")
    assert load_queries(p) == {"q1": "one", "q2": ""}  # empty text kept (counted by validate)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"q1 0 d1\n", "r.tsv:1: expected 'qid 0 docid grade', got 3 field"),
        (b"q1 0 d1 high\n", "r.tsv:1: grade 'high' is not an integer"),
        (b"q1 0 d1 1.5\n", "r.tsv:1: grade '1.5' is not an integer"),
        (b"q1 0 d1 1\nq1 0 d1 2\n", "r.tsv:2: query 'q1' document 'd1' judged 2, but 1 on line 1"),
    ],
)
def test_qrels_errors(tmp_path, data, message):
    with pytest.raises(DataError, match=message):
        load_qrels(_write(tmp_path / "r.tsv", data))


def test_qrels_rules(tmp_path):
    p = _write(tmp_path / "r.tsv", b"q1 0 d1 1\nq1\tQ0\td2\t-1\n\nq1 0 d1 1\n")
    qrels, where, dups = read_qrels(p)
    assert qrels == {"q1": {"d1": 1, "d2": -1}}
    assert where == {("q1", "d1"): 1, ("q1", "d2"): 2}
    assert dups == 1


# ---- property-based: round trips and garbage ---------------------------------------------------

ids = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=12).filter(
    lambda s: not any(c.isspace() for c in s) and not s.startswith("\ufeff")
)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@FAST
@given(docs=st.dictionaries(ids, st.tuples(texts, texts), max_size=8))
def test_corpus_round_trip(tmp_path_factory, docs):
    p = tmp_path_factory.mktemp("c") / "corpus.jsonl.gz"
    with open_gzip_text(p) as f:
        write_corpus(((d, {"title": t, "text": x}) for d, (t, x) in docs.items()), f)
    got = list(iter_corpus(p))
    assert got == [(d, {"title": collapse_ws(t), "text": collapse_ws(x)}) for d, (t, x) in docs.items()]


@FAST
@given(queries=st.dictionaries(ids, texts, max_size=8))
def test_queries_round_trip(tmp_path_factory, queries):
    p = tmp_path_factory.mktemp("q") / "queries.tsv"
    with open(p, "w", encoding="utf-8", newline="\n") as f:
        write_queries(queries, f)
    assert load_queries(p) == {q: collapse_ws(t) for q, t in queries.items()}


@FAST
@given(qrels=st.dictionaries(ids, st.dictionaries(ids, st.integers(-5, 5), min_size=1, max_size=4), max_size=6))
def test_qrels_round_trip(tmp_path_factory, qrels):
    p = tmp_path_factory.mktemp("r") / "qrels.tsv"
    with open(p, "w", encoding="utf-8", newline="\n") as f:
        write_qrels(qrels, f)
    assert load_qrels(p) == qrels


def _parsers():
    from peftir.data.debian_builder import iter_stanzas, read_source_map
    from peftir.data.msmarco import iter_msmarco_corpus, load_msmarco_queries, load_top1000
    from peftir.data.smart import parse_smart
    from peftir.data.trec import read_run

    return [load_corpus, load_queries, load_qrels, read_run, load_msmarco_queries, load_top1000,
            lambda p: list(iter_msmarco_corpus(p)), parse_smart, lambda p: list(iter_stanzas(p)), read_source_map]


# near-misses: lines built from pieces of the real formats, so that parsers get past their first check
TOKENS = ['{"_id": "a"', '{"_id": 1, "text": [1]}', '{"_id": null}', "}", '"', "\t", " ", "q1", "d1", "0", "Q0",
          "-1", "1e999", "nan", ".I 1", ".I", ".W", ".T", ".X", "Package:", "Package: a", "Source: b (1)",
          "Description-en: x", " .", " more", "\r", "\ufeff", "\xff", "é"]
near_miss = st.lists(st.lists(st.sampled_from(TOKENS), max_size=6).map("".join), max_size=8).map(
    lambda lines: "\n".join(lines).encode("utf-8", "surrogateescape"))


@FAST
@given(data=st.binary(max_size=200) | st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass"))
       | near_miss)
def test_garbage_only_raises_data_error(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("g")
    for i, parse in enumerate(_parsers()):
        for suffix in ("", ".gz"):
            try:
                parse(_write(d / f"f{i}{suffix}", data))
            except DataError:
                pass
    (d / "raw.gz").write_bytes(data)  # a .gz name over bytes that are not gzip-compressed
    try:
        load_corpus(d / "raw.gz")
    except DataError:
        pass


def test_writer_rejects_bad_ids():
    with pytest.raises(DataError, match="contains whitespace"):
        write_queries({"a b": "x"}, io.StringIO())
    with pytest.raises(DataError, match="duplicate document id"):
        write_corpus([("a", {}), ("a", {})], io.StringIO())
