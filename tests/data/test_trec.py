"""TREC run files: round trip (property-based) and bad lines."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peftir.data.collections import DataError
from peftir.data.trec import ranked, read_run, write_run

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
        assert all(math.isclose(got[q][d], run[q][d], abs_tol=5.1e-7) for d in run[q])


def test_ranked_ties_and_depth(tmp_path):
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0}) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0}, depth=1) == [("c", 2.0)]
    write_run({"q": {"b": 1.0, "a": 1.0}}, tmp_path / "r.trec", tag="t")
    assert (tmp_path / "r.trec").read_text() == "q Q0 a 1 1.000000 t\nq Q0 b 2 1.000000 t\n"


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
