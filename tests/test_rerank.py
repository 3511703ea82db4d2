"""Cross-encoder re-ranking: pair batches, train-reranker and rerank CLIs on tiny data, head round trip."""

import gzip
import json
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from peftir.cli import main
from peftir.data.trec import read_run, write_run
from peftir.inference import load_model, max_len_of, score_pairs
from peftir.io import read_json, read_jsonl
from peftir.models import factory
from peftir.models.backbone import load_tokenizer
from peftir.rerank import top_candidates
from peftir.tasks import RerankTask, TripleSampler, clip_queries

BB = {"name": "tiny:2x32", "pooling": "mean", "normalize": True}
WORDS = ["apt", "dpkg", "kernel", "package", "install", "remove", "config", "network", "grub", "boot",
         "systemd", "mirror"]


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("tiny:2x32")


def make_tiny(path):
    """30 docs, 8 train + 4 dev queries (positive d{i}), triples, a first-stage run of 12 docs/query."""
    rng = random.Random(0)
    docs = {f"d{i}": " ".join(rng.choices(WORDS, k=rng.randint(3, 25))) for i in range(30)}
    with gzip.open(path / "corpus.jsonl.gz", "wt") as f:
        for d, t in docs.items():
            f.write(json.dumps({"_id": d, "title": "", "text": t}) + "\n")
    qs = {f"q{i}": " ".join(rng.choices(WORDS, k=4)) for i in range(12)}
    for split, ids in (("train", range(8)), ("dev", range(8, 12)), ("all", range(12))):
        (path / f"queries.{split}.tsv").write_text("".join(f"q{i}\t{qs[f'q{i}']}\n" for i in ids))
        (path / f"qrels.{split}.tsv").write_text("".join(f"q{i} 0 d{i} 1\n" for i in ids))
    with gzip.open(path / "triples.jsonl.gz", "wt") as f:
        for i in range(8):
            negs = [f"d{j}" for j in range(8, 20) if j != i]
            f.write(json.dumps({"qid": f"q{i}", "query": qs[f"q{i}"], "pos": [f"d{i}"], "negs": negs}) + "\n")
    run = {f"q{i}": {f"d{(i + j) % 30}": 1.0 - j / 20 for j in range(12)} for i in range(12)}
    write_run(run, path / "first.run")
    return path


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path)


def _sampler(tiny, n_neg=3):
    from peftir.data.collections import load_corpus

    return TripleSampler(tiny / "triples.jsonl.gz", load_corpus(tiny / "corpus.jsonl.gz"), n_neg)


def test_clip_queries(tok):
    assert clip_queries(tok, ["what is apt", ""], 2) == ["what is", ""]


def test_batch_pairs_segments_and_group_layout(tiny, tok):
    task = RerankTask(tok, _sampler(tiny), batch_size=2, q_len=8, max_len=24)
    b = task.batch(random.Random(1))["pairs"]
    assert b["input_ids"].shape[0] == 2 * 4 and b["input_ids"].shape[1] <= 24
    for row in range(8):
        ids, tt, m = b["input_ids"][row], b["token_type_ids"][row], b["attention_mask"][row]
        n = int(m.sum())
        assert ids[0] == tok.cls_token_id and ids[n - 1] == tok.sep_token_id
        assert (tt[:n] == 0).any() and (tt[:n] == 1).any()  # both segments present
        sep = int((ids == tok.sep_token_id).nonzero()[0])
        assert (tt[: sep + 1] == 0).all() and (tt[sep + 1 : n] == 1).all()
    # positive first: with the sampler's draw replayed, row g*4 is the group's positive passage
    sampler = _sampler(tiny)
    groups = sampler.draw(random.Random(1), 2)
    pos_texts = {sampler.corpus[f"d{i}"] for i in range(8)}  # d0..d7 are positives, d8..d19 negatives
    for g, (q, texts) in enumerate(groups):
        assert texts[0] in pos_texts and not any(t in pos_texts for t in texts[1:])
        pos_ids = tok(q, texts[0], max_length=24, truncation="only_second")["input_ids"]
        assert b["input_ids"][g * 4, : len(pos_ids)].tolist() == pos_ids
    assert task.tokens({"pairs": b}) == int(b["attention_mask"].sum())
    assert task.loss(factory.build("reranker", "tiny:2x32", {"method": "full", "params": {}}, "cls"),
                     {"pairs": b}).ndim == 0


def _train(tiny, out, method='{"name": "lora", "method": "lora", "params": {"r": 2}, "budget": "small", '
           '"budget_pct": null}'):
    hp = {"steps": 3, "batch_size": 2, "n_neg": 3, "q_len": 8, "p_len": 16, "max_len": 28, "lr": 1e-3,
          "warmup": 0.1, "eval_every": 2, "dev_queries": 4, "dev_candidates": 6, "ckpt_every": 2}
    rc = main(["train-reranker", "--method-json", method, "--train-json", json.dumps(hp),
               "--backbone-json", json.dumps(BB), "--triples", str(tiny / "triples.jsonl.gz"),
               "--corpus", str(tiny / "corpus.jsonl.gz"), "--dev-queries", str(tiny / "queries.dev.tsv"),
               "--dev-qrels", str(tiny / "qrels.dev.tsv"), "--dev-run", str(tiny / "first.run"),
               "--seed", "1",
               "--out", str(out / "model"), "--curve", str(out / "curve.jsonl"),
               "--run-info", str(out / "run_info.json"), "--ckpt-dir", str(out / "ckpt"), "--threads", "1",
               "--device", "cpu"])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("rr")
    (base / "data").mkdir()
    data = make_tiny(base / "data")
    return data, _train(data, base / "out")


def test_train_reranker_cli_outputs(trained):
    _, out = trained
    curve = read_jsonl(out / "curve.jsonl")
    assert [r["step"] for r in curve if "loss" in r] == [1, 2, 3]
    assert [r["step"] for r in curve if "dev_RR@10" in r] == [0, 2, 3]
    assert all(0.0 <= r["dev_RR@10"] <= 1.0 for r in curve if "dev_RR@10" in r)
    info = read_json(out / "run_info.json")
    assert info["command"] == "train-reranker" and info["head_params"] == 32 + 1
    assert info["trainable_params"] > 0 and info["stats"]["steps"] == 3
    meta = read_json(out / "model" / "model.json")
    assert meta["stage"] == "reranker" and meta["max_len"] == 28 and meta["head_params"] == 33
    sd = load_file(out / "model" / "trainable.safetensors")
    assert {"head.weight", "head.bias"} <= set(sd)
    assert not (out / "ckpt" / "checkpoint.pt").exists()


@pytest.mark.parametrize("method,seed", [("lora", 0), ("bitfit", 0), ("full", 0), ("lora", 4)])
def test_head_round_trip(tmp_path, tok, method, seed):
    """The head is trained, saved and restored for every method: load gives identical scores."""
    params = {"r": 2} if method == "lora" else {}
    spec = {"name": method, "method": method, "params": params, "budget_pct": None}
    model = factory.build("reranker", "tiny:2x32", spec, "cls", seed=seed)
    assert model.head.weight.requires_grad and model.meta["head_params"] == 33
    with torch.no_grad():  # a trained head (and method tensors) differ from a fresh build's
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    model.eval()
    qs, ps = ["apt install", "grub boot"] * 2, ["apt dpkg package", "kernel", "grub boot mirror", "x"]
    before = score_pairs(model, tok, qs, ps, 8, 24)
    factory.save(model, tmp_path / "m")  # the build seed is in model.meta
    assert {"head.weight", "head.bias"} <= set(load_file(tmp_path / "m" / "trainable.safetensors"))
    loaded = factory.load(tmp_path / "m")
    assert torch.equal(loaded.head.weight, model.head.weight)
    np.testing.assert_array_equal(score_pairs(loaded, tok, qs, ps, 8, 24), before)
    fresh = factory.build("reranker", "tiny:2x32", spec, "cls", seed=seed).eval()
    assert not np.allclose(score_pairs(fresh, tok, qs, ps, 8, 24), before)


def _rerank(data, out, model, depth, *extra):
    rc = main(["rerank", "--run", str(data / "first.run"), "--model", model, "--queries",
               str(data / "queries.all.tsv"), "--corpus", str(data / "corpus.jsonl.gz"),
               "--depth", str(depth),
               "--out", str(out), "--threads", "1", "--device", "cpu", "--batch-size", "5", *extra])
    assert rc == 0
    return read_run(out)


def _check_run(run, first, depth):
    top = top_candidates(first, depth)
    assert set(run) == set(first)
    for q, docs in run.items():
        assert set(docs) == {d for d, _ in top[q]} and len(docs) == min(depth, len(first[q]))


def test_rerank_cli_cross_encoder(trained, tmp_path):
    data, out = trained
    first = read_run(data / "first.run")
    run = _rerank(data, tmp_path / "ce.run", str(out / "model"), 5, "--run-info", str(tmp_path / "ce.json"),
                  "--candidates", "bm25")
    _check_run(run, first, 5)
    info = read_json(tmp_path / "ce.json")
    assert info["n_pairs"] == 12 * 5 and info["pairs_per_s"] > 0 and info["config"]["candidates"] == "bm25"
    lines = [x.split() for x in (tmp_path / "ce.run").read_text().splitlines()]
    for q in run:
        rows = [r for r in lines if r[0] == q]
        scores = [float(r[4]) for r in rows]
        assert len(rows) == 5 and scores == sorted(scores, reverse=True)
        assert [int(r[3]) for r in rows] == [1, 2, 3, 4, 5]


def test_load_model_checks_the_stage(trained, tmp_path, capsys):
    """A trained model directory must be of the stage the command scores with (rerank: a cross-encoder;
    encode, search: a bi-encoder); zero-shot needs the backbone."""
    data, out = trained
    model, _ = load_model(str(out / "model"), None, "cpu", stage="reranker")
    assert model.meta["stage"] == "reranker" and not model.training
    with pytest.raises(ValueError, match="a reranker model, not a bi-encoder"):
        load_model(str(out / "model"), None, "cpu", stage="retriever")
    with pytest.raises(ValueError, match="needs --backbone-json"):
        load_model("zero-shot", None, "cpu")
    assert main(["encode", "--model", str(out / "model"), "--corpus", str(data / "corpus.jsonl.gz"),
                 "--out", str(tmp_path / "x.npz"), "--device", "cpu"]) == 2
    assert "not a bi-encoder (train-retriever)" in capsys.readouterr().err


def test_pair_length():
    """max_len when given, else q_len + p_len + 3 ([CLS] q [SEP] p [SEP]): 8 + 16 + 3 = 27."""
    assert max_len_of({"q_len": 8, "p_len": 16}) == 27
    assert max_len_of({"q_len": 8, "p_len": 16, "max_len": 28}) == 28


def test_rerank_zero_shot_and_none(tiny, tmp_path):
    first = read_run(tiny / "first.run")
    zs = _rerank(tiny, tmp_path / "zs.run", "zero-shot", 7, "--backbone-json", json.dumps(BB),
                 "--p-len", "32")
    _check_run(zs, first, 7)
    assert all(-1.0001 <= s <= 1.0001 for docs in zs.values() for s in docs.values())  # cosine
    assert zs != {q: dict(top) for q, top in top_candidates(first, 7).items()}  # re-scored
    none = _rerank(tiny, tmp_path / "none.run", "none", 3)
    _check_run(none, first, 3)
    assert none == {q: dict(top) for q, top in top_candidates(first, 3).items()}


def test_rerank_ties_keep_the_first_stage_order(tiny, tmp_path):
    """Two passages with the same text score alike under any re-ranker; the first stage (which may have
    seen more of them, e.g. BM25 on a tail the cross-encoder truncates) orders them, not their docids,
    and the written scores leave no tie for trec_eval to break its own way."""
    with gzip.open(tiny / "corpus.jsonl.gz", "at") as f:
        for d in ("dup-a", "dup-z"):
            f.write(json.dumps({"_id": d, "title": "", "text": "kernel grub boot"}) + "\n")
    write_run({"q0": {"dup-z": 3.0, "dup-a": 2.0, "d1": 1.0}, "q1": {"dup-a": 3.0, "dup-z": 2.0}},
              tiny / "first.run")
    _rerank(tiny, tmp_path / "zs.run", "zero-shot", 3, "--backbone-json", json.dumps(BB))
    lines = [r.split() for r in (tmp_path / "zs.run").read_text().splitlines()]
    for q, first in (("q0", "dup-z"), ("q1", "dup-a")):
        rows = [r for r in lines if r[0] == q and r[2].startswith("dup-")]
        assert rows[0][2] == first  # the first stage's order
        assert float(rows[0][4]) - float(rows[1][4]) == pytest.approx(1e-6, abs=1e-9)  # tie, written apart


def test_rerank_unknown_query_is_an_error(tiny, tmp_path):
    rc = main(["rerank", "--run", str(tiny / "first.run"), "--model", "zero-shot", "--backbone-json",
               json.dumps(BB), "--queries", str(tiny / "queries.dev.tsv"), "--corpus",
               str(tiny / "corpus.jsonl.gz"), "--out", str(tmp_path / "x.run"), "--device", "cpu"])
    assert rc == 2 and not (tmp_path / "x.run").exists()


def test_scores_stay_float32_under_bf16_autocast(tok):
    """Under bf16 autocast the encoders run in bf16, but pooled embeddings, the cosine scores of the
    contrastive loss and the cross-encoder head are float32: bf16 logits (8-bit mantissa) would tie
    nearby candidates of a ranking, and bf16 cosines x 1/temperature add ~0.08 of logit noise."""
    torch.manual_seed(0)
    ce = factory.build("reranker", "tiny:2x32", {"name": "full", "method": "full", "params": {}}, "cls").eval()
    with torch.no_grad():
        ce.head.weight.mul_(1000.0)  # logits of magnitude ~100: bf16 would round them to steps of 0.5
        enc = tok(["apt install"] * 8, [f"package {w}" for w in WORDS[:8]], padding=True, return_tensors="pt")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            s = ce.score(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
        ref = ce.score(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    assert s.dtype == torch.float32
    assert len(set(s.tolist())) == 8  # no ties
    assert (s - ref).abs().max() < 0.05 * ref.abs().max()  # same scores up to the bf16 encoder
    bi = factory.build("retriever", "tiny:2x32", {"name": "full", "method": "full", "params": {}}, "mean",
                       normalize=True).eval()
    p = tok([f"package {w}" for w in WORDS[:8]], padding=True, return_tensors="pt")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        e = bi.encode(p["input_ids"], p["attention_mask"])
    assert e.dtype == torch.float32
    assert torch.allclose(e.norm(dim=-1), torch.ones(8), atol=1e-6)  # normalised in fp32
