"""Degenerate inputs fail at `prepare`, naming the file and the reason (issue 13): an empty or zero-byte
corpus, a split whose queries all have empty texts, a split left with no judged query; judgments dropped
on the way are logged with their counts."""

from __future__ import annotations

import gzip
import logging

import pytest
from data_testutil import write_corpus, write_lines

from peftir.data.collections import DataError
from peftir.data.prepare import prepare_collection


def _flat(root, docs=(("1", "", "a"), ("2", "", "b")), queries=("1\tq one", "2\tq two"),
          qrels=("1 0 1 1", "2 0 2 1")):
    root.mkdir()
    write_corpus(root / "corpus.jsonl.gz", list(docs))
    write_lines(root / "queries.tsv", list(queries))
    write_lines(root / "qrels.tsv", list(qrels))
    return root


def test_empty_corpus_is_refused_naming_it(tmp_path):
    root = _flat(tmp_path / "c", docs=())
    with pytest.raises(DataError, match=r"corpus.jsonl.gz: the corpus holds no document"):
        prepare_collection(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_zero_byte_corpus_is_refused_naming_it(tmp_path):
    root = _flat(tmp_path / "c")
    (root / "corpus.jsonl.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"corpus.jsonl.gz"):
        prepare_collection(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_all_empty_query_texts_are_refused(tmp_path):
    root = _flat(tmp_path / "c", queries=("1\t", "2\t "))
    with pytest.raises(DataError, match=r"queries.tsv: every one of the 2 kept queries of split 'test' has an "
                                        r"empty text"):
        prepare_collection(root, tmp_path / "out", progress=False)


def test_some_empty_query_texts_are_logged(tmp_path, caplog):
    root = _flat(tmp_path / "c", queries=("1\t", "2\tq two"))
    with caplog.at_level(logging.WARNING):
        prepare_collection(root, tmp_path / "out", progress=False)
    assert "1 of 2 kept queries of split 'test' have an empty text" in caplog.text


def test_no_judged_query_left_is_refused(tmp_path):
    """Every judgment names a document that is not in the corpus: nothing could ever be found."""
    root = _flat(tmp_path / "c", qrels=("1 0 X 1", "2 0 Y 1"))
    with pytest.raises(DataError, match=r"qrels.tsv: no query of split 'test' is left with a positive judgment "
                                        r"on a document of the corpus \(2 judgment line\(s\) named documents"):
        prepare_collection(root, tmp_path / "out", progress=False)


def test_dropped_judgments_are_logged_with_counts(tmp_path, caplog):
    root = _flat(tmp_path / "c", qrels=("1 0 1 1", "2 0 Z 1", "9 0 1 1"))
    with caplog.at_level(logging.WARNING):
        r = prepare_collection(root, tmp_path / "out", progress=False)
    assert "1 judgment line(s) of split 'test' name a document not in the corpus: dropped" in caplog.text
    assert "1 judgment line(s) of split 'test' name a query not in the queries file: dropped" in caplog.text
    assert r["dropped"]["test"]["qrels_missing_doc_lines"] == 1


def test_gzip_with_only_blank_lines_is_an_empty_corpus(tmp_path):
    root = _flat(tmp_path / "c")
    with gzip.open(root / "corpus.jsonl.gz", "wt") as f:
        f.write("\n\n")
    with pytest.raises(DataError, match=r"corpus.jsonl.gz"):
        prepare_collection(root, tmp_path / "out", progress=False)
