"""validate_collection: counts worked out by hand on the `tiny` collection (see conftest)."""

from __future__ import annotations

import pytest
from data_testutil import write_lines

from peftir.data.collections import DataError
from peftir.data.validate import list_splits, split_files, split_report, validate_collection


def test_split_report_by_hand():
    queries = {"a": "x", "b": "", "c": "z"}
    qrels = {"a": {"d1": 1, "d9": 0}, "b": {"d1": -1}, "zz": {"d2": 3}}
    # positives: a only; b judged not relevant; c unjudged; zz unknown; d9 missing from the corpus
    assert split_report(queries, qrels, {"d1", "d2"}, duplicate_lines=2) == {
        "queries": 3, "empty_queries": 1, "qrels": 4, "duplicate_qrels_lines": 2,
        "grades": {"-1": 1, "0": 1, "1": 1, "3": 1}, "judged_queries": 2,
        "queries_with_positives": 1, "queries_without_positives": 2,
        "judged_missing_docs": 1, "judged_missing_lines": 1, "unknown_queries": 1, "unknown_query_lines": 1,
    }


def test_validate_tiny(tiny):
    r = validate_collection(tiny)
    assert (r["docs"], r["empty_docs"], r["queries_in_several_splits"]) == (8, 1, 0)
    train, test = r["splits"]["train"], r["splits"]["test"]
    assert (train["queries"], train["qrels"], train["judged_queries"]) == (4, 4, 3)
    assert (train["queries_with_positives"], train["queries_without_positives"]) == (2, 2)
    assert train["grades"] == {"0": 2, "1": 1, "2": 1}
    assert (test["qrels"], test["judged_missing_docs"], test["queries_with_positives"]) == (3, 1, 2)
    assert r["files"]["test"] == {"queries": "queries.test.tsv", "qrels": "qrels.test.tsv"}


def test_strict_names_the_line(tiny):
    with pytest.raises(DataError, match=r"qrels.test.tsv:3: document 'dX' is not in the corpus"):
        validate_collection(tiny, strict=True)
    write_lines(tiny / "qrels.test.tsv", ["t1 0 d5 1", "t9 0 d1 1"])
    with pytest.raises(DataError, match=r"qrels.test.tsv:2: query 't9' is not in queries.test.tsv"):
        validate_collection(tiny, splits=["test"], strict=True)
    assert validate_collection(tiny, splits=["test"])["splits"]["test"]["unknown_query_lines"] == 1


def test_empty_split_is_an_error(tiny):
    (tiny / "queries.dev.tsv").write_text("\n")
    (tiny / "qrels.dev.tsv").write_text("")
    assert list_splits(tiny) == ["dev", "test", "train"]
    with pytest.raises(DataError, match=r"queries.dev.tsv: split 'dev' has no queries"):
        validate_collection(tiny)


def test_file_naming(tmp_path, tiny):
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ["queries.tsv", "qrels.tsv", "qrels.gain.tsv"]:
        (flat / name).write_text("q\tx\n" if name.startswith("queries") else "q 0 d 1\n")
    assert list_splits(flat) == ["test"]
    assert split_files(flat, "test", "qrels.gain.tsv") == (flat / "queries.tsv", flat / "qrels.gain.tsv")
    with pytest.raises(DataError, match="no queries file for split 'train'"):
        split_files(flat, "train")
    with pytest.raises(DataError, match=r"needs '\{split\}'"):
        split_files(tiny, "train", "qrels.gain.tsv")
    with pytest.raises(DataError, match="qrels.gain.train.tsv: qrels file not found"):
        split_files(tiny, "train", "qrels.gain.{split}.tsv")
    with pytest.raises(DataError, match="no queries.tsv"):
        list_splits(tmp_path / "nothing")


def test_shared_collections_are_clean(shared_data):
    r = validate_collection(shared_data / "cranfield", strict=True)
    assert (r["docs"], r["empty_docs"]) == (1400, 2)
    t = r["splits"]["test"]
    assert (t["queries"], t["qrels"], t["queries_with_positives"]) == (225, 1837, 225)
    assert t["grades"] == {"-1": 225, "1": 128, "2": 387, "3": 734, "4": 363}
    c = validate_collection(shared_data / "cisi", strict=True)["splits"]["test"]
    assert (c["queries"], c["judged_queries"], c["qrels"], c["queries_without_positives"]) == (112, 76, 3114, 36)
