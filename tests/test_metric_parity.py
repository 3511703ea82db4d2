"""Metric parity: peftir.evaluate equals trec_eval (through pytrec_eval) per query, to 1e-6, on real BM25
runs of the embedded Cranfield (graded gains 1-4) and CISI (binary) collections, for every measure any
shipped config reports, at relevance threshold 1 and (graded Cranfield) 2.

trec_eval's names: RR@k is `recip_rank` on the run truncated to its top k (trec_eval's recip_rank has no
cut-off; ir-measures' RR@k is the reciprocal rank of the first relevant document within the top k);
R@k is `recall_k`, nDCG@k `ndcg_cut_k`, P@k `P_k`, AP `map`. The relevance threshold is trec_eval's
`-l` (pytrec_eval's relevance_level) and applies to the binary measures only; nDCG uses the grades.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from peftir.data.collections import load_qrels, load_queries
from peftir.data.trec import ranked
from peftir.evaluate import BINARY, evaluate

pytestmark = pytest.mark.java

REPO = Path(__file__).resolve().parents[1]
CONFIGS = [REPO / "config.yaml", *sorted((REPO / "config").glob("*.yaml"))]


def reported_measures() -> set[str]:
    out = {"RR@10", "R@100", "R@1000", "nDCG@10", "nDCG@100"}
    for path in CONFIGS:
        c = yaml.safe_load(path.read_text())
        out |= {m for e in c.get("evaluation", []) for m in e["measures"]}
        out |= set((c.get("rerank") or {}).get("measures", []))
    return out


def trec_eval_name(measure: str) -> tuple[str, str, int | None]:
    """ir-measures string -> (pytrec_eval measure request, its result key, cut-off applied to the run).
    E.g. "R@100" -> ("recall.100", "recall_100", None); "RR@10" -> ("recip_rank", "recip_rank", 10)."""
    m = re.fullmatch(r"(RR|R|nDCG|P|AP)(?:@(\d+))?", measure)
    if not m or (m[1] in ("R", "nDCG", "P") and not m[2]) or (m[1] == "AP" and m[2]):
        raise AssertionError(f"{measure}: no trec_eval counterpart mapped in this test; add one")
    name, k = m[1], m[2]
    if name == "RR":
        return "recip_rank", "recip_rank", int(k) if k else None
    if name == "AP":
        return "map", "map", None
    te = {"R": "recall", "nDCG": "ndcg_cut", "P": "P"}[name]
    return f"{te}.{k}", f"{te}_{k}", None


@pytest.fixture(scope="module", params=[("cranfield", "qrels.gain.tsv"), ("cisi", "qrels.tsv")],
                ids=["cranfield", "cisi"])
def bm25_run(request, tmp_path_factory):
    from peftir.bm25 import index_corpus, search

    name, qrels_file = request.param
    root = REPO.parent / "shared" / "data" / name
    if not (root / "corpus.jsonl.gz").exists():
        pytest.skip(f"{root} is not beside the repository")
    index = tmp_path_factory.mktemp(name) / "index"
    index_corpus(root / "corpus.jsonl.gz", index, threads=1)
    run = search(index, load_queries(root / "queries.tsv"), k=1000, k1=0.9, b=0.4)
    return name, run, load_qrels(root / qrels_file)


@pytest.mark.parametrize("rel", [1, 2])
def test_parity_with_trec_eval(bm25_run, rel):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    name, run, qrels = bm25_run
    if rel == 2 and name == "cisi":
        pytest.skip("CISI's qrels are binary")
    measures = sorted(reported_measures())
    mine = evaluate(run, qrels, measures, rel=rel)
    judged = set(mine["per_query"][measures[0]])
    assert len(judged) > 20
    compared = 0
    for measure in measures:
        request, key, cut = trec_eval_name(measure)
        level = rel if measure.split("@")[0] in BINARY else 1  # the threshold applies to binary measures
        truncated = {q: dict(ranked(run.get(q, {}), cut)) for q in judged}
        ref = pytrec_eval.RelevanceEvaluator({q: qrels[q] for q in judged}, {request},
                                             relevance_level=level).evaluate(truncated)
        expected = {q: ref.get(q, {}).get(key, 0.0) for q in judged}  # a query the run misses scores 0
        for q in judged:
            assert mine["per_query"][measure][q] == pytest.approx(expected[q], abs=1e-6), (measure, q)
            compared += 1
        assert mine["aggregate"][measure] == pytest.approx(sum(expected.values()) / len(judged), abs=1e-6)
    assert compared == len(measures) * len(judged)


def test_every_reported_measure_is_mapped():
    for m in reported_measures():
        trec_eval_name(m)
