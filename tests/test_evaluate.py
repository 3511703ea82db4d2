"""Metrics: hand-worked values, and parity with trec_eval (pytrec_eval) on a real BM25-like run."""

import math
import random

import pytest

from peftir.evaluate import evaluate
from peftir.tasks import rr_at_k

RUN = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"x": 1.0}}
QRELS = {"q1": {"b": 1, "c": 2}, "q2": {"y": 1}, "q3": {"z": 1}}


def test_hand_worked_values():
    r = evaluate(RUN, QRELS, ["RR@10", "R@100", "nDCG@10"])
    # q1: first relevant at rank 2 -> RR 1/2; q2 and q3 (missing from run) -> 0
    assert r["per_query"]["RR@10"] == {"q1": 0.5, "q2": 0.0, "q3": 0.0}
    assert r["aggregate"]["RR@10"] == pytest.approx(0.5 / 3)
    # q1 nDCG@10, linear gains: DCG = 1/log2(3) + 2/log2(4); IDCG = 2 + 1/log2(3)
    dcg, idcg = 1 / math.log2(3) + 2 / 2, 2 + 1 / math.log2(3)
    assert r["per_query"]["nDCG@10"]["q1"] == pytest.approx(dcg / idcg)
    assert r["per_query"]["R@100"]["q1"] == 1.0


def test_relevance_threshold_is_explicit():
    r = evaluate(RUN, QRELS, ["RR@10"], rel=2)
    assert r["n_queries"] == 1  # only q1 has a grade >= 2 (doc c at rank 3)
    assert r["per_query"]["RR@10"]["q1"] == pytest.approx(1 / 3)


def test_rr_at_k_helper():
    assert rr_at_k({"q": {"a": 0.9, "b": 0.8}}, {"q": {"b": 1}}, 10) == 0.5
    assert rr_at_k({"q": {"a": 0.9, "b": 0.8}}, {"q": {"b": 1}}, 1) == 0.0
    tie = {"q": {"a": 0.5, "b": 0.5}}
    assert rr_at_k(tie, {"q": {"b": 1}}, 10) == 0.5  # a tie goes to the docid...
    assert rr_at_k(tie, {"q": {"b": 1}}, 10, prior={"q": {"b": 0, "a": 1}}) == 1.0  # ...or the first stage


def test_parity_with_trec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(0)
    docs = [f"d{i}" for i in range(300)]
    qrels = {f"q{i}": {d: rng.choice([1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 6))} for i in range(40)}
    run = {q: {d: rng.random() for d in rng.sample(docs, 150)} for q in qrels}
    ours = evaluate(run, qrels, ["RR@10", "R@100", "nDCG@10", "nDCG@100"])["per_query"]
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank", "recall.100", "ndcg_cut.10", "ndcg_cut.100"})
    ref = ev.evaluate(run)
    for q, rel in qrels.items():
        assert ours["R@100"][q] == pytest.approx(ref[q]["recall_100"], abs=1e-6)
        assert ours["nDCG@10"][q] == pytest.approx(ref[q]["ndcg_cut_10"], abs=1e-6)
        assert ours["nDCG@100"][q] == pytest.approx(ref[q]["ndcg_cut_100"], abs=1e-6)
        # trec_eval's recip_rank has no cut-off: compare on queries whose first hit is in the top 10
        top10 = sorted(run[q].items(), key=lambda kv: -kv[1])[:10]
        if any(rel.get(d, 0) > 0 for d, _ in top10):
            assert ours["RR@10"][q] == pytest.approx(ref[q]["recip_rank"], abs=1e-6)
        else:
            assert ours["RR@10"][q] == 0.0
