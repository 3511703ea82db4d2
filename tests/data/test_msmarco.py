"""MS MARCO official formats (tiny files written here) and the ir_datasets adapter (a fake module)."""

from __future__ import annotations

import sys
import types
from collections import namedtuple

import pytest

from peftir.data.collections import DataError, iter_corpus, load_qrels, load_queries
from peftir.data.irdatasets import from_ir_datasets
from peftir.data.msmarco import (
    iter_msmarco_corpus,
    iter_msmarco_docs,
    load_msmarco_qrels,
    load_msmarco_queries,
    load_top1000,
    msmarco_to_layout,
)


def _w(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def passage(tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    _w(d / "collection.tsv", "0\tThe presence of communication.\n1\tManhattan  Project\tsecond tab\n2\tüber text\n")
    _w(d / "queries.train.tsv", "121352\tdefine extreme\n634306\twhat is chattel\n999\tunjudged query\n")
    _w(d / "qrels.train.tsv", "121352\t0\t2\t1\n634306\t0\t1\t1\n634306\t0\t77\t1\n")
    _w(d / "queries.dev.small.tsv", "1048585\twhat is paula deen's brother\n")
    _w(d / "qrels.dev.small.tsv", "1048585\t0\t0\t1\n")
    _w(d / "queries.eval.small.tsv", "5\teval query\n")
    _w(d / "2019qrels-pass.txt", "19335 Q0 0 0\n19335 Q0 1 3\n19335 Q0 2 2\n")
    _w(d / "top1000.dev", "1048585\t0\twhat is paula deen's brother\tThe presence of communication.\n"
                          "1048585\t2\twhat is paula deen's brother\tüber text\n")
    return d


def test_readers(passage):
    assert list(iter_msmarco_corpus(passage / "collection.tsv"))[1] == (
        "1", {"title": "", "text": "Manhattan  Project\tsecond tab"})
    assert load_msmarco_queries(passage / "queries.train.tsv")["634306"] == "what is chattel"
    assert load_msmarco_qrels(passage / "2019qrels-pass.txt") == {"19335": {"0": 0, "1": 3, "2": 2}}
    cands, queries, passages = load_top1000(passage / "top1000.dev")
    assert cands == {"1048585": ["0", "2"]} and passages["2"] == "über text"
    assert queries == {"1048585": "what is paula deen's brother"}


def test_document_format(tmp_path):
    p = _w(tmp_path / "msmarco-docs.tsv", "D1\thttp://a\tA title\tbody text\nD2\thttp://b\t\tno title\n")
    assert list(iter_msmarco_docs(p))[1] == ("D2", "http://b", "", "no title")
    assert list(iter_msmarco_corpus(p)) == [("D1", {"title": "A title", "text": "body text"}),
                                            ("D2", {"title": "", "text": "no title"})]
    q = _w(tmp_path / "msmarco-doctrain-qrels.tsv", "3 0 D1 1\n")
    assert load_msmarco_qrels(q) == {"3": {"D1": 1}}
    _w(tmp_path / "bad.tsv", "D1\thttp://a\tonly three\n")
    with pytest.raises(DataError, match=r"bad.tsv:1: expected 'docid<TAB>url<TAB>title<TAB>body', got 3"):
        list(iter_msmarco_docs(tmp_path / "bad.tsv"))


def test_duplicate_and_malformed_queries(tmp_path):
    with pytest.raises(DataError, match="q.tsv:2: duplicate query id '1'"):
        load_msmarco_queries(_w(tmp_path / "q.tsv", "1\ta\n1\tb\n"))
    with pytest.raises(DataError, match="q.tsv:1: expected 'qid<TAB>query'"):
        load_msmarco_queries(_w(tmp_path / "q.tsv", "1 a\n"))


def test_to_layout(passage, tmp_path):
    out = tmp_path / "out"
    r = msmarco_to_layout(out, passage / "collection.tsv",
                          {"train": passage / "queries.train.tsv", "dev": passage / "queries.dev.small.tsv",
                           "eval": passage / "queries.eval.small.tsv"},
                          {"train": passage / "qrels.train.tsv", "dev": passage / "qrels.dev.small.tsv"},
                          judged_only=True, progress=False)
    assert [d for d, _ in iter_corpus(out / "corpus.jsonl.gz")] == ["0", "1", "2"]
    assert dict(iter_corpus(out / "corpus.jsonl.gz"))["1"]["text"] == "Manhattan Project second tab"
    assert list(load_queries(out / "queries.train.tsv")) == ["121352", "634306"]  # 999 has no qrels
    assert load_qrels(out / "qrels.train.tsv") == {"121352": {"2": 1}, "634306": {"1": 1}}  # 77 missing
    assert load_queries(out / "queries.eval.tsv") == {"5": "eval query"} and not (out / "qrels.eval.tsv").exists()
    assert r["dropped_qrels"]["train"] == {"unknown_query_lines": 0, "missing_doc_lines": 1}
    assert r["output"]["docs"] == 3 and (out / "report.json").is_file()
    with pytest.raises(DataError, match="qrels given for splits without queries"):
        msmarco_to_layout(out, passage / "collection.tsv", {}, {"x": passage / "qrels.train.tsv"})


# ---- ir_datasets adapter with a fake module -----------------------------------------------------

Doc = namedtuple("Doc", "doc_id title text")
BodyDoc = namedtuple("BodyDoc", "doc_id url body")
Query = namedtuple("Query", "query_id text")
Topic = namedtuple("Topic", "query_id title description")
Qrel = namedtuple("Qrel", "query_id doc_id relevance iteration")


class FakeDataset:
    def __init__(self, docs=None, queries=(), qrels=()):
        self._docs, self._queries, self._qrels = docs, list(queries), list(qrels)

    def has_docs(self):
        return self._docs is not None

    def has_queries(self):
        return bool(self._queries)

    def has_qrels(self):
        return bool(self._qrels)

    def docs_iter(self):
        return iter(self._docs)

    def docs_count(self):
        return len(self._docs)

    def queries_iter(self):
        return iter(self._queries)

    def qrels_iter(self):
        return iter(self._qrels)


@pytest.fixture
def fake_irds(monkeypatch):
    docs = [Doc("d1", "T1", "text one"), Doc("d2", "", "text two")]
    registry = {
        "toy/train": FakeDataset(docs, [Query("q1", "first"), Query("q2", "unjudged")],
                                 [Qrel("q1", "d1", 1, "0"), Qrel("q1", "d9", 1, "0")]),
        "toy/trec-dl": FakeDataset(None, [Topic("t1", "topic title", "long description")],
                                   [Qrel("t1", "d2", 3, "Q0"), Qrel("t1", "d1", 0, "Q0")]),
        "docs/only": FakeDataset([BodyDoc("x", "http://x", "the body")], [Query("a", "b")], [Qrel("a", "x", 1, "0")]),
    }
    module = types.SimpleNamespace(load=lambda i: registry[i])
    monkeypatch.setitem(sys.modules, "ir_datasets", module)
    return registry


def test_from_ir_datasets(fake_irds, tmp_path):
    out = tmp_path / "toy"
    r = from_ir_datasets({"train": "toy/train", "test": "toy/trec-dl"}, out, judged_only=True, progress=False)
    assert list(iter_corpus(out / "corpus.jsonl.gz")) == [("d1", {"title": "T1", "text": "text one"}),
                                                          ("d2", {"title": "", "text": "text two"})]
    assert load_queries(out / "queries.train.tsv") == {"q1": "first"}
    assert load_queries(out / "queries.test.tsv") == {"t1": "topic title"}
    assert load_qrels(out / "qrels.test.tsv") == {"t1": {"d2": 3, "d1": 0}}
    assert r["dropped_qrels"]["train"]["missing_doc_lines"] == 1 and r["docs_from"] == "toy/train"
    from_ir_datasets("docs/only", tmp_path / "one", split="dev", progress=False)
    assert list(iter_corpus(tmp_path / "one" / "corpus.jsonl.gz")) == [("x", {"title": "", "text": "the body"})]
    assert (tmp_path / "one" / "queries.dev.tsv").is_file()


def test_ir_datasets_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ir_datasets", None)  # makes the import fail
    with pytest.raises(DataError, match="pip install ir-datasets"):
        from_ir_datasets("msmarco-passage/dev/small", tmp_path / "o")
    assert not (tmp_path / "o").exists()
