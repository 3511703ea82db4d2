"""TREC run files: round trip (property-based) and bad lines."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peftir.data.collections import DataError
from peftir.data.trec import ranked, read_run, strictly_decreasing, write_run

ids = st.text("abcXYZ019-_.:", min_size=1, max_size=6)
scores = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=st.dictionaries(ids, st.dictionaries(ids, scores, min_size=1, max_size=5), max_size=5))
def test_run_round_trip(tmp_path_factory, run):
    p = tmp_path_factory.mktemp("run") / "run.trec"
    write_run(run, p)
    got = read_run(p)
    assert got.keys() == run.keys()
    for q in run:
        assert got[q].keys() == run[q].keys()
        # within rounding, less one 1e-6 step per tie above it (at most 4 in 5 documents)
        assert all(math.isclose(got[q][d], run[q][d], abs_tol=4e-6 + 5.1e-7) for d in run[q])
        assert [d for d, _ in ranked(got[q])] == [d for d, _ in ranked(run[q])]  # the same ranking
        assert len(set(got[q].values())) == len(got[q])  # and no tie left for a reader to break


def test_ranked_ties_and_depth(tmp_path):
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0}) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0}, depth=1) == [("c", 2.0)]
    write_run({"q": {"b": 1.0, "a": 1.0}}, tmp_path / "r.trec", tag="t")
    assert (tmp_path / "r.trec").read_text() == "q Q0 a 1 1.000000 t\nq Q0 b 2 0.999999 t\n"


def test_ties_follow_the_prior_ranking(tmp_path):
    """A re-ranker's tie keeps the first stage's order (prior), not the docids' order."""
    docs = {"a": 1.0, "b": 1.0, "c": 2.0, "d": 1.0}
    assert ranked(docs, prior={"d": 0, "b": 1, "a": 2}) == [("c", 2.0), ("d", 1.0), ("b", 1.0), ("a", 1.0)]
    assert ranked(docs, prior={"b": 0}) == [("c", 2.0), ("b", 1.0), ("a", 1.0), ("d", 1.0)]  # unlisted: last
    write_run({"q": docs, "r": {"x": 1.0, "y": 1.0}}, tmp_path / "r.trec", tag="t",
              prior={"q": {"d": 0, "b": 1, "a": 2}})
    assert (tmp_path / "r.trec").read_text().splitlines() == [
        "q Q0 c 1 2.000000 t", "q Q0 d 2 1.000000 t", "q Q0 b 3 0.999999 t", "q Q0 a 4 0.999998 t",
        "r Q0 x 1 1.000000 t", "r Q0 y 2 0.999999 t"]  # r has no prior: docid


def test_strictly_decreasing():
    assert strictly_decreasing([2, 1, 1, 1.0000001]) == [2.0, 1.0, 0.999999, 0.999998]
    assert strictly_decreasing([3.25, 1.5, -0.5]) == [3.25, 1.5, -0.5]  # no tie: unchanged
    assert strictly_decreasing([1.0000004, 1.0000001, 0.9999999]) == [1.0, 0.999999, 0.999998]  # round alike
    assert strictly_decreasing([]) == []
    with pytest.raises(DataError, match="too large"):
        strictly_decreasing([1e17, 1e17])


@pytest.mark.parametrize(
    "line, message",
    [
        ("q Q0 d 1 0.5", "expected 'qid Q0 docid rank score tag', got 5"),
        ("q Q0 d 1 high t", "score 'high' is not a number"),
        ("q Q0 d 1 nan t", "score 'nan' is not finite"),
        ("q Q0 d 1 1 t\nq Q0 d 2 0.5 t", "r.trec:2: document 'd' listed twice for query 'q'"),
    ],
)
def test_read_run_errors(tmp_path, line, message):
    (tmp_path / "r.trec").write_text(line + "\n")
    with pytest.raises(DataError, match=message):
        read_run(tmp_path / "r.trec")


def test_write_run_rejects_nan_and_leaves_nothing(tmp_path):
    with pytest.raises(DataError, match="not finite"):
        write_run({"q": {"d": float("nan")}}, tmp_path / "r.trec")
    assert list(tmp_path.iterdir()) == []
