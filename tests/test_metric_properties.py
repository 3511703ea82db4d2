"""Property-based tests (hypothesis) of the run-file IO and the metric code.

Run files: what is written is read back with the same ranking, the rank column counts 1..n per query in
score order (ties by docid), a second round trip changes nothing, and `depth` keeps the top of the
ranking. Metrics (peftir.evaluate.evaluate): every value lies in [0, 1]; RR@k and R@k never decrease as
k grows; nDCG@k of the ideal ranking is 1; a perfect run scores 1 on RR, R and nDCG; a run that retrieves
no relevant document scores 0; queries missing from the run score 0.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peftir.data.trec import ranked, read_run, write_run
from peftir.evaluate import evaluate

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

ids = st.text("abcdefXYZ0123456789-_.:", min_size=1, max_size=5)
# scores already on the 6-decimal grid the writer uses, so the ranking survives the round trip exactly
scores = st.integers(-10**9, 10**9).map(lambda i: i / 1e6)
runs = st.dictionaries(ids, st.dictionaries(ids, scores, min_size=1, max_size=8), min_size=1, max_size=6)


@SETTINGS
@given(run=runs, depth=st.one_of(st.none(), st.integers(1, 10)))
def test_run_round_trip_keeps_the_ranking(tmp_path_factory, run, depth):
    d = tmp_path_factory.mktemp("run")
    write_run(run, d / "a.run", tag="t", depth=depth)
    lines = [line.split() for line in (d / "a.run").read_text().splitlines()]
    got = read_run(d / "a.run")
    assert set(got) == set(run)
    for q in run:
        mine = [(x[2], int(x[3]), float(x[4])) for x in lines if x[0] == q]
        assert [r for _, r, _ in mine] == list(range(1, len(mine) + 1))  # ranks 1..n in file order
        want = ranked(run[q], depth)  # the top-depth, score order; ties written 1e-6 apart, strictly
        assert [doc for doc, _, _ in mine] == [doc for doc, _ in want]
        assert all(w <= s and s - w < 1e-5 for (_, _, w), (_, s) in zip(mine, want))
        assert all(a > b for (_, _, a), (_, _, b) in itertools.pairwise(mine))
        assert ranked(got[q]) == [(doc, w) for doc, _, w in mine]
    write_run(got, d / "b.run", tag="t")
    assert (d / "b.run").read_text() == (d / "a.run").read_text()  # idempotent


@SETTINGS
@given(run=st.dictionaries(ids, st.dictionaries(ids, st.floats(-1e9, 1e9, allow_nan=False), min_size=1,
                                                 max_size=8), min_size=1, max_size=6))
def test_any_finite_scores_round_trip_within_rounding(tmp_path_factory, run):
    p = tmp_path_factory.mktemp("run") / "r.run"
    write_run(run, p)
    got = read_run(p)
    for q in run:
        assert got[q].keys() == run[q].keys()
        # rounding, less at most one 1e-6 step per document above it (8 documents); the ranking is kept
        assert all(math.isclose(got[q][x], run[q][x], rel_tol=1e-12, abs_tol=7e-6 + 5.1e-7) for x in run[q])
        assert [x for x, _ in ranked(got[q])] == [x for x, _ in ranked(run[q])]


docs = [f"d{i}" for i in range(25)]


@st.composite
def qrels_and_run(draw):
    """2-6 queries; each judges 1-8 documents with grades 0-3 (at least one >= 1); a run of 0-25 hits per
    query (some queries may be missing) with scores drawn from a small set so that ties occur."""
    n_q = draw(st.integers(2, 6))
    qrels, run = {}, {}
    for i in range(n_q):
        q = f"q{i}"
        judged = draw(st.lists(st.sampled_from(docs), min_size=1, max_size=8, unique=True))
        grades = draw(st.lists(st.integers(0, 3), min_size=len(judged), max_size=len(judged)))
        if max(grades) == 0:
            grades[0] = draw(st.integers(1, 3))
        qrels[q] = dict(zip(judged, grades))
        if draw(st.booleans()) or i == 0:
            hits = draw(st.lists(st.sampled_from(docs), max_size=25, unique=True))
            base = st.sampled_from([0.1, 0.5, 1.0, 2.0, 3.5, 7.0])
            run[q] = {d: draw(base) + j * 1e-3 * draw(st.booleans()) for j, d in enumerate(hits)}
    return qrels, run


KS = [1, 3, 5, 10, 20]
MEASURES = [f"{m}@{k}" for m in ("RR", "R", "nDCG") for k in KS]


@SETTINGS
@given(data=qrels_and_run(), rel=st.sampled_from([1, 2]))
def test_metric_ranges_and_monotonicity(data, rel):
    qrels, run = data
    if not any(g >= rel for d in qrels.values() for g in d.values()):
        with pytest.raises(ValueError, match="no judged query"):
            evaluate(run, qrels, MEASURES, rel)
        return
    res = evaluate(run, qrels, MEASURES, rel)
    pq = res["per_query"]
    judged = {q for q, d in qrels.items() if any(g >= rel for g in d.values())}
    assert res["n_queries"] == len(judged)
    for m in MEASURES:
        assert set(pq[m]) == judged
        assert all(0.0 <= v <= 1.0 for v in pq[m].values()), m
        assert 0.0 <= res["aggregate"][m] <= 1.0
        assert res["aggregate"][m] == pytest.approx(sum(pq[m].values()) / len(judged))
    for q in judged:
        for name in ("RR", "R"):
            vals = [pq[f"{name}@{k}"][q] for k in KS]
            assert vals == sorted(vals), (name, q, vals)  # never decreases with k
        if q not in run:
            assert all(pq[m][q] == 0.0 for m in MEASURES)


@SETTINGS
@given(data=qrels_and_run(), rel=st.sampled_from([1, 2]))
def test_perfect_run_scores_one_and_no_relevant_scores_zero(data, rel):
    qrels, _ = data
    judged = {q: d for q, d in qrels.items() if any(g >= rel for g in d.values())}
    if not judged:
        return
    # perfect: every judged document by descending grade (distinct scores), then a few non-relevant ones
    perfect = {q: {d: 100.0 - i for i, (d, _) in enumerate(sorted(j.items(), key=lambda kv: (-kv[1], kv[0])))}
               for q, j in judged.items()}
    for q, ranking in perfect.items():
        ranking.update({d: -1.0 - i for i, d in enumerate(x for x in docs if x not in judged[q])})
    res = evaluate(perfect, qrels, ["RR@1", "R@25", "nDCG@10", "nDCG@25"], rel)["per_query"]
    for q in judged:
        assert res["RR@1"][q] == 1.0
        assert res["R@25"][q] == pytest.approx(1.0)
        assert res["nDCG@25"][q] == pytest.approx(1.0)
        assert res["nDCG@10"][q] == pytest.approx(1.0)
    # nothing relevant retrieved: 0 everywhere
    useless = {q: {d: 1.0 for d in docs if qrels[q].get(d, 0) < 1} for q in judged}
    res = evaluate(useless, qrels, ["RR@10", "R@25", "nDCG@10"], rel)["per_query"]
    assert all(v == 0.0 for m in res.values() for v in m.values())
