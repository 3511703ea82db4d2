"""BM25 through pyserini on a tiny corpus: indexing, ranking, a hand-computed Lucene score, the CLI."""

from __future__ import annotations

import gzip
import json
import math

import pytest

pytestmark = pytest.mark.java

# Words untouched by Anserini's analyzer (no stopwords, Porter stems them to themselves).
# Documents have fewer than 24 tokens, so Lucene stores their lengths exactly.
DOCS = {
    "d01": ("Alpha", "beta gamma"),
    "d02": ("", "alpha alpha delta"),
    "d03": ("", "beta delta epsilon zeta"),
    "d04": ("", "gamma"),
    "d05": ("", "zeta zeta zeta kappa"),
    "d06": ("Kappa", "lambda"),
    "d07": ("", "lambda sigma sigma omega"),
    "d08": ("", "omega"),
    "d09": ("", "sigma kappa beta"),
    "d10": ("", "delta delta delta delta zeta"),
    "d11": ("", "epsilon"),
    "d12": ("", "gamma omega kappa lambda sigma"),
}
K1, B = 0.9, 0.4


def tokens(did):
    return " ".join(DOCS[did]).lower().split()


def lucene_bm25(query, did, k1=K1, b=B):
    """Lucene's BM25Similarity: sum over query terms of idf * tf / (tf + k1 (1 - b + b dl/avgdl))."""
    n_docs = len(DOCS)
    avgdl = sum(len(tokens(d)) for d in DOCS) / n_docs
    dl = len(tokens(did))
    score = 0.0
    for term in query.lower().split():
        n = sum(term in tokens(d) for d in DOCS)
        tf = tokens(did).count(term)
        if tf:
            idf = math.log(1 + (n_docs - n + 0.5) / (n + 0.5))
            score += idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
    return score


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from peftir.bm25 import index_corpus

    root = tmp_path_factory.mktemp("bm25")
    corpus = root / "corpus.jsonl.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as f:
        for did, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": did, "title": title, "text": text}) + "\n")
    stats = index_corpus(corpus, root / "index", threads=2)
    assert stats["documents"] == stats["indexed"] == len(DOCS)
    assert sorted(p.name for p in root.iterdir()) == ["corpus.jsonl.gz", "index"]  # no temp leftovers
    return root / "index"


def test_top_hit_and_order(index):
    from peftir.bm25 import search

    run = search(index, {"q1": "epsilon zeta", "q2": "kappa lambda", "q3": "omega"}, k=5)
    assert next(iter(run["q1"])) == "d03"  # the only document with both words
    for docs in run.values():
        scores = list(docs.values())
        assert scores == sorted(scores, reverse=True)
        assert 0 < len(docs) <= 5
    assert set(run["q3"]) == {"d07", "d08", "d12"}


@pytest.mark.parametrize("query,did", [("delta", "d10"), ("zeta sigma", "d03"), ("alpha beta", "d01")])
def test_score_matches_lucene_formula(index, query, did):
    from peftir.bm25 import search

    run = search(index, {"q": query}, k=len(DOCS))
    expected = {d: lucene_bm25(query, d) for d in DOCS if lucene_bm25(query, d) > 0}
    assert set(run["q"]) == set(expected)
    # Anserini rounds scores to 4 decimals (to break ties by docid)
    assert run["q"][did] == pytest.approx(expected[did], abs=2e-4)
    for d, score in expected.items():
        assert run["q"][d] == pytest.approx(score, abs=2e-4)


def test_k1_b_are_used(index):
    from peftir.bm25 import search

    run = search(index, {"q": "zeta"}, k=3, k1=1.2, b=0.75)
    assert run["q"]["d05"] == pytest.approx(lucene_bm25("zeta", "d05", 1.2, 0.75), abs=2e-4)


def test_special_characters_and_empty_queries(index):
    from peftir.bm25 import search

    queries = {"q1": 'c++ AND "alpha (beta: [x]~^2 \\ / -gamma* ?', "q2": "the of and", "q3": ""}
    run = search(index, queries, k=10)
    assert "d01" in run["q1"]
    assert run["q2"] == {} and run["q3"] == {}


def test_cli(index, tmp_path):
    from peftir.cli import main
    from peftir.data.trec import read_run

    (tmp_path / "queries.tsv").write_text("a\tepsilon zeta\nb\tomega\n")
    out = tmp_path / "run.txt"
    assert (
        main(
            [
                "bm25-search",
                "--index",
                str(index),
                "--queries",
                str(tmp_path / "queries.tsv"),
                "--out",
                str(out),
                "--k",
                "2",
                "--tag",
                "t",
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0].split()[:4] == ["a", "Q0", "d03", "1"] and lines[0].endswith(" t")
    run = read_run(out)
    assert sorted(run) == ["a", "b"] and all(len(v) == 2 for v in run.values())
