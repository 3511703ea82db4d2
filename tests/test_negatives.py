"""Negative mining: hand-worked pools, seeded sampling, counts, and the CLI."""

from __future__ import annotations

import pytest

from peftir.cli import main
from peftir.io import read_json, read_jsonl
from peftir.negatives import mine_triples

# q1: d1 > d2 > d3 > d4 > d5; relevant d2 (1) and d9 (2, not retrieved); d3 judged non-relevant (0)
# q2: no positive -> skipped.  q3: relevant d1, absent from the run -> kept with no negatives.
RUN = {
    "q1": {"d1": 5.0, "d2": 4.0, "d3": 3.0, "d4": 2.0, "d5": 1.0},
    "q2": {"d1": 1.0},
    "q4": {"d7": 3.0, "d8": 3.0, "d6": 1.0},  # tie d7/d8: broken by docid
}
QRELS = {"q1": {"d2": 1, "d9": 2, "d3": 0}, "q2": {"d1": 0}, "q3": {"d1": 1}, "q4": {"d6": 1}}
QUERIES = {"q1": "one", "q2": "two", "q3": "three", "q4": "four"}


def by_qid(examples):
    return {e["qid"]: e for e in examples}


def test_pool_is_top_depth_minus_positives():
    ex, stats = mine_triples(RUN, QRELS, QUERIES, depth=3)
    ex = by_qid(ex)
    assert set(ex) == {"q1", "q3", "q4"}
    assert ex["q1"] == {"qid": "q1", "query": "one", "pos": ["d9", "d2"], "negs": ["d1", "d3"]}
    assert ex["q3"]["negs"] == []
    assert ex["q4"]["negs"] == ["d7", "d8"]
    assert stats["skipped_no_positive"] == 1
    assert stats["examples"] == 3
    assert stats["no_negatives"] == 1 and stats["not_in_run"] == 1
    # q1: 3 ranks - 1 positive = 2 wanted, 2 found; q4 likewise; q3: run too short
    assert stats["few_negatives"] == 1
    assert stats["positive_in_top_depth"] == 2  # q1 (d2), q4 (d6)


def test_skip_top_and_deep_pool():
    ex = by_qid(mine_triples(RUN, QRELS, QUERIES, depth=10, skip_top=1)[0])
    assert ex["q1"]["negs"] == ["d3", "d4", "d5"]  # d1 skipped, d2 relevant
    assert ex["q4"]["negs"] == ["d8"]  # d7 skipped, d6 relevant


def test_positives_never_negatives():
    ex, _ = mine_triples(RUN, QRELS, QUERIES, depth=100)
    for e in ex:
        rel = {d for d, g in QRELS[e["qid"]].items() if g > 0}
        assert set(e["pos"]) == rel
        assert not rel & set(e["negs"])
        assert len(set(e["negs"])) == len(e["negs"])


def test_sampling_is_seeded_and_bounded():
    run = {"q": {f"d{i:02d}": float(100 - i) for i in range(50)}}
    qrels, queries = {"q": {"d00": 1}}, {"q": "x"}
    a, stats = mine_triples(run, qrels, queries, n_neg=5, depth=50, seed=1)
    b, _ = mine_triples(run, qrels, queries, n_neg=5, depth=50, seed=1)
    c, _ = mine_triples(run, qrels, queries, n_neg=5, depth=50, seed=2)
    assert a == b
    assert a[0]["negs"] != c[0]["negs"]
    assert len(a[0]["negs"]) == 5 and "d00" not in a[0]["negs"]
    assert stats["few_negatives"] == 0
    # fewer candidates than n_neg: keep them all, count the query
    d, stats = mine_triples(run, qrels, queries, n_neg=5, depth=4, seed=1)
    assert d[0]["negs"] == ["d01", "d02", "d03"] and stats["few_negatives"] == 1


def test_bad_parameters():
    with pytest.raises(ValueError):
        mine_triples(RUN, QRELS, QUERIES, depth=3, skip_top=3)
    with pytest.raises(ValueError):
        mine_triples(RUN, QRELS, QUERIES, n_neg=0)


def test_cli(tmp_path):
    (tmp_path / "run.txt").write_text(
        "".join(
            f"{q} Q0 {d} {r} {s} bm25\n"
            for q, docs in RUN.items()
            for r, (d, s) in enumerate(docs.items(), 1)
        )
    )
    (tmp_path / "qrels.tsv").write_text(
        "".join(f"{q}\t0\t{d}\t{g}\n" for q, docs in QRELS.items() for d, g in docs.items())
    )
    (tmp_path / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in QUERIES.items()))
    out, stats = tmp_path / "out" / "triples.jsonl.gz", tmp_path / "out" / "stats.json"
    rc = main(
        [
            "mine-negatives",
            "--run",
            str(tmp_path / "run.txt"),
            "--qrels",
            str(tmp_path / "qrels.tsv"),
            "--queries",
            str(tmp_path / "queries.tsv"),
            "--out",
            str(out),
            "--stats",
            str(stats),
            "--depth",
            "3",
            "--seed",
            "0",
        ]
    )
    assert rc == 0
    rows = read_jsonl(out)
    assert rows == mine_triples(RUN, QRELS, QUERIES, depth=3)[0]
    assert read_json(stats)["skipped_no_positive"] == 1
    assert sorted(p.name for p in out.parent.iterdir()) == ["stats.json", "triples.jsonl.gz"]
