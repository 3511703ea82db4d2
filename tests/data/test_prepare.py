"""prepare_collection on the `tiny` collection (see conftest): layout, sampling, atomicity."""

from __future__ import annotations

import json

import pytest
from data_testutil import write_corpus, write_lines

import peftir.data.prepare as prepare_mod
from peftir.data.collections import DataError, iter_corpus, load_corpus, load_qrels, load_queries
from peftir.data.prepare import prepare_collection, sample_docs, sample_queries


def test_full_copy(tiny, tmp_path):
    out = tmp_path / "out"
    r = prepare_collection(tiny, out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "corpus.jsonl.gz", "qrels.test.tsv", "qrels.train.tsv", "queries.test.tsv", "queries.train.tsv", "report.json"]
    assert len(load_corpus(out / "corpus.jsonl.gz")) == 8
    assert list(load_queries(out / "queries.train.tsv")) == ["q1", "q2", "q3", "q4"]  # no-positive ones kept
    assert load_qrels(out / "qrels.test.tsv") == {"t1": {"d5": 1}, "t2": {"d1": 1}}  # dX dropped
    assert r["dropped"]["test"]["qrels_missing_doc_lines"] == 1
    assert r["output"]["splits"]["test"]["judged_missing_docs"] == 0
    assert json.loads((out / "report.json").read_text())["output"] == r["output"]
    assert set(r["files"]) == {"corpus.jsonl.gz", "qrels.test.tsv", "qrels.train.tsv", "queries.test.tsv",
                               "queries.train.tsv"}
    gz = (out / "corpus.jsonl.gz").read_bytes()
    assert gz[3] == 0 and gz[4:8] == b"\0\0\0\0"  # no file name, mtime 0


def test_judged_only_keeps_queries_with_a_positive(tiny, tmp_path):
    """train: q3 has no judgment and q4 only a grade-0 one: both go; sampled splits are unaffected."""
    r = prepare_collection(tiny, tmp_path / "out", progress=False, judged_only=True)
    assert list(load_queries(tmp_path / "out" / "queries.train.tsv")) == ["q1", "q2"]
    assert list(load_queries(tmp_path / "out" / "queries.test.tsv")) == ["t1", "t2"]
    assert r["judged_only"] and r["dropped"]["train"]["queries_not_sampled"] == 2
    s = prepare_collection(tiny, tmp_path / "s", progress=False, judged_only=True, sample={"queries": {"train": 1}})
    assert len(load_queries(tmp_path / "s" / "queries.train.tsv")) == 1 and s["judged_only"]


def test_flat_collection_with_graded_qrels(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    write_corpus(root / "corpus.jsonl.gz", [("1", "", "a"), ("2", "", "b")])
    write_lines(root / "queries.tsv", ["1\tq"])
    write_lines(root / "qrels.tsv", ["1 0 1 1", "1 0 2 -1"])
    write_lines(root / "qrels.gain.tsv", ["1 0 1 4", "1 0 2 0"])
    prepare_collection(root, tmp_path / "out", qrels_name="qrels.gain.tsv", progress=False)
    assert load_qrels(tmp_path / "out" / "qrels.test.tsv") == {"1": {"1": 4, "2": 0}}
    assert not (tmp_path / "out" / "qrels.tsv").exists()


def test_sampling(tiny, tmp_path):
    spec = {"queries": {"train": 1}, "max_docs": 4}
    r = prepare_collection(tiny, tmp_path / "a", sample=spec, seed=3, progress=False)
    prepare_collection(tiny, tmp_path / "b", sample=spec, seed=3, progress=False)
    for name in ["corpus.jsonl.gz", "queries.train.tsv", "qrels.train.tsv", "sample.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    train = load_queries(tmp_path / "a" / "queries.train.tsv")
    assert len(train) == 1 and set(train) <= {"q1", "q2"}  # only queries with a positive
    assert set(load_queries(tmp_path / "a" / "queries.test.tsv")) == {"t1", "t2"}  # not sampled
    docs = set(load_corpus(tmp_path / "a" / "corpus.jsonl.gz"))
    judged = {d for qr in (load_qrels(tmp_path / "a" / f"qrels.{s}.tsv") for s in ("train", "test"))
              for v in qr.values() for d in v}
    assert len(docs) == 4 and judged <= docs
    audit = json.loads((tmp_path / "a" / "sample.json").read_text())
    assert audit["queries"]["train"] == list(train) and audit["seed"] == 3
    assert set(audit["docs"]["filled"]) == docs - judged
    assert r["sampling"] == {"queries": {"train": 1}, "judged_docs": 3, "filled_docs": 1,
                             "judged_exceed_max_docs": False}
    outcomes = {tuple(sample_queries({"a": "", "b": "", "c": ""}, {k: {"d": 1} for k in "abc"}, 1,
                                     __import__("random").Random(s))) for s in range(20)}
    assert len(outcomes) > 1  # the seed matters


def test_judged_docs_exceed_max_docs(tiny, tmp_path):
    r = prepare_collection(tiny, tmp_path / "o", sample={"max_docs": 2}, progress=False)
    # judged for any kept query: d1 d2 d3 d4 d5 (dX is not in the corpus): all kept, none filled
    assert sorted(load_corpus(tmp_path / "o" / "corpus.jsonl.gz")) == ["d1", "d2", "d3", "d4", "d5"]
    assert r["sampling"]["judged_exceed_max_docs"] is True


def test_sample_docs_by_hand():
    import random

    kept, fill, exceeded = sample_docs(["a", "b", "c", "d"], {"b"}, 3, random.Random(0))
    assert len(kept) == 3 and "b" in kept and fill == [d for d in "acd" if d in kept] and not exceeded
    assert sample_docs(["a"], {"a"}, None, random.Random(0)) == (None, [], False)


@pytest.mark.parametrize("spec, message", [
    ({"queries": {"dev": 3}}, "split 'dev' is not among"),
    ({"queries": {"train": 0}}, "must be a positive integer"),
    ({"max_doc": 3}, "only keys 'queries' and 'max_docs'"),
    ({"max_docs": True}, "max_docs must be a positive integer"),
])
def test_bad_sample_spec(tiny, tmp_path, spec, message):
    with pytest.raises(DataError, match=message):
        prepare_collection(tiny, tmp_path / "o", sample=spec, progress=False)


def test_nothing_to_sample(tiny, tmp_path):
    write_lines(tiny / "qrels.train.tsv", ["q1 0 d1 0"])
    with pytest.raises(DataError, match="no query of split 'train' has a positive judgment"):
        prepare_collection(tiny, tmp_path / "o", sample={"queries": {"train": 2}}, progress=False)


def test_killed_job_leaves_nothing(tiny, tmp_path, monkeypatch):
    real = prepare_mod.write_layout

    def dies(folder, *a, **k):
        real(folder, *a, **k)
        raise KeyboardInterrupt  # killed after writing most files

    monkeypatch.setattr(prepare_mod, "write_layout", dies)
    with pytest.raises(KeyboardInterrupt):
        prepare_collection(tiny, tmp_path / "out", progress=False)
    assert [p.name for p in tmp_path.iterdir() if p.name != "tiny"] == []


def test_input_errors(tiny, tmp_path):
    with pytest.raises(DataError, match="collection folder not found"):
        prepare_collection(tmp_path / "none", tmp_path / "o", progress=False)
    with pytest.raises(DataError, match="must differ"):
        prepare_collection(tiny, tiny, progress=False)


def test_shared_cranfield_is_copied_unchanged(shared_data, tmp_path):
    src = shared_data / "cranfield"
    prepare_collection(src, tmp_path / "o", qrels_name="qrels.gain.tsv", progress=False)
    assert (tmp_path / "o" / "corpus.jsonl.gz").read_bytes() == (src / "corpus.jsonl.gz").read_bytes()
    assert (tmp_path / "o" / "queries.test.tsv").read_bytes() == (src / "queries.tsv").read_bytes()
    assert (tmp_path / "o" / "qrels.test.tsv").read_bytes() == (src / "qrels.gain.tsv").read_bytes()
    assert len(list(iter_corpus(tmp_path / "o" / "corpus.jsonl.gz"))) == 1400
