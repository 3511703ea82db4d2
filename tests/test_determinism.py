"""Determinism and the training-data rules, at the CLI level (`peftir train-retriever` in-process on tiny
files): the same config and seed give identical curves and weights; another seed gives other ones. A
training query without a positive (or without a negative) is skipped and counted, from mining
(triples.stats.json) to the sampler (run_info.json "triples")."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from peftir.cli import main
from peftir.io import read_json, read_jsonl, write_jsonl
from peftir.negatives import mine_triples
from peftir.tasks import TripleSampler

WORDS = ["apt", "dpkg", "kernel", "shell", "editor", "mail", "font", "audio", "video", "python", "perl",
         "network", "printer", "backup", "disk"]


def _corpus(tmp_path):
    docs = [{"_id": f"d{i}", "title": "", "text": " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 7))}
            for i in range(24)]
    write_jsonl(docs, tmp_path / "corpus.jsonl.gz")
    return {d["_id"]: d["text"] for d in docs}


def _triples(tmp_path, rows):
    write_jsonl(rows, tmp_path / "triples.jsonl.gz")
    return tmp_path / "triples.jsonl.gz"


ROWS = [{"qid": f"q{i}", "query": f"{WORDS[i]} {WORDS[i + 1]}", "pos": [f"d{i}"],
         "negs": [f"d{(i + j) % 24}" for j in (3, 5, 7, 9)]} for i in range(10)]


def _train(tmp_path, seed, tag):
    out = tmp_path / tag
    spec = {"name": "lora", "method": "lora", "params": {"r": 2, "alpha": 4}, "budget": "small",
            "budget_pct": None}
    hp = {"steps": 4, "batch_size": 3, "n_neg": 2, "q_len": 8, "p_len": 16, "temperature": 0.05, "lr": 1e-2,
          "warmup": 0.25, "eval_every": 0, "ckpt_every": 2}
    bb = {"name": "tiny:1x32", "pooling": "mean", "normalize": True}
    rc = main(["train-retriever", "--method-json", json.dumps(spec), "--train-json", json.dumps(hp),
               "--backbone-json", json.dumps(bb), "--corpus", str(tmp_path / "corpus.jsonl.gz"),
               "--triples", str(tmp_path / "triples.jsonl.gz"), "--seed", str(seed),
               "--out", str(out / "model"),
               "--curve", str(out / "curve.jsonl"), "--run-info", str(out / "run_info.json"),
               "--ckpt-dir", str(out / "ckpt"), "--threads", "1", "--device", "cpu"])
    assert rc in (0, None)
    weights = load_file(out / "model" / "trainable.safetensors")
    return read_jsonl(out / "curve.jsonl"), weights, read_json(out / "run_info.json")


@pytest.fixture
def data(tmp_path):
    _corpus(tmp_path)
    bad = [{"qid": "nopos", "query": "mail", "pos": [], "negs": ["d1"]},
           {"qid": "noneg", "query": "font", "pos": ["d2"], "negs": []}]
    _triples(tmp_path, ROWS + bad)
    return tmp_path


def test_same_seed_identical_other_seed_differs(data):
    a_curve, a_w, a_info = _train(data, 1, "a")
    b_curve, b_w, _ = _train(data, 1, "b")
    c_curve, c_w, _ = _train(data, 2, "c")
    assert a_curve == b_curve  # every loss, lr and grad norm
    assert a_w.keys() == b_w.keys() and all(torch.equal(a_w[k], b_w[k]) for k in a_w)
    assert [r["loss"] for r in a_curve] != [r["loss"] for r in c_curve]
    assert any(not torch.equal(a_w[k], c_w[k]) for k in a_w)
    # the two unusable training queries are skipped and counted in the provenance
    counts = {"queries": 12, "used": 10, "skipped_no_positive": 1, "skipped_no_negative": 1}
    assert a_info["triples"] == counts
    assert a_info["stats"]["bf16"] is False  # the precision the trainer resolved (peftir.precision), recorded
    # a finished run leaves no checkpoint behind
    assert not (data / "a" / "ckpt" / "checkpoint.pt").exists()


def test_sampler_skips_and_counts_queries_without_positive_or_negative(data):
    corpus = {f"d{i}": "x" for i in range(24)}
    s = TripleSampler(data / "triples.jsonl.gz", corpus, n_neg=2)
    assert s.stats == {"queries": 12, "used": 10, "skipped_no_positive": 1, "skipped_no_negative": 1}
    import random

    drawn = {q for q, _ in s.draw(random.Random(0), 40)}
    assert drawn <= {r["query"] for r in ROWS}


def test_sampler_neg_depth_draws_negatives_from_the_top_of_the_pool_only(tmp_path):
    import random

    negs = [f"n{i}" for i in range(10)]  # the pool in first-stage rank order
    path = _triples(tmp_path, [{"qid": "q", "query": "x", "pos": ["p"], "negs": negs}])
    corpus = {d: d for d in ["p", *negs]}
    top = TripleSampler(path, corpus, n_neg=2, neg_depth=3)
    drawn = {t for _ in range(50) for _, texts in top.draw(random.Random(_), 1) for t in texts[1:]}
    assert drawn == {"n0", "n1", "n2"}
    whole = TripleSampler(path, corpus, n_neg=2)
    assert {t for _ in range(50) for _, texts in whole.draw(random.Random(_), 1) for t in texts[1:]} - drawn
    with pytest.raises(ValueError, match="neg_depth must be positive"):
        TripleSampler(path, corpus, 2, neg_depth=0)


def test_sampler_with_no_usable_query_is_an_error(tmp_path):
    path = _triples(tmp_path, [{"qid": "q", "query": "x", "pos": [], "negs": ["d1"]}])
    with pytest.raises(ValueError, match="no training query has both a positive and a negative"):
        TripleSampler(path, {"d1": "x"}, 1)


def test_mining_skips_and_counts_queries_without_positive(tmp_path):
    run = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d1": 1.0}}
    qrels = {"q1": {"d2": 1}, "q2": {"d1": 0}}  # q2: judged, but nothing relevant; q3: not judged at all
    examples, stats = mine_triples(run, qrels, {"q1": "a", "q2": "b", "q3": "c"}, depth=3)
    assert [e["qid"] for e in examples] == ["q1"]
    assert stats["skipped_no_positive"] == 2 and stats["queries"] == 3 and stats["examples"] == 1
