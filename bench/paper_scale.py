"""GPU-hour estimate of config/msmarco.yaml (docs/paper-scale.md), from what can be measured without a GPU.

Measured here:
- FLOPs of one training step, one encoded passage/document and one re-ranked pair, for this project's
  own model code and every method at the paper's sizes (torch.utils.flop_counter on meta tensors:
  exact counts, no GPU and no weights needed);
- the CPU time of one bert-base training step (full and LoRA) at a reduced batch, as a check that time
  follows FLOPs (the PET/full time ratio should be close to the FLOP ratio);
- the time to tokenize one training batch and one encoding batch (the trainer and the encoder tokenize
  on the CPU in the same process, so this cost is not hidden behind the GPU).
Assumed, and printed with the result: the GPU's bf16 dense peak, the fraction of it reached (model FLOP
utilisation, MFU) in training and in inference, and MS MARCO's mean passage length.

    .venv/bin/python bench/paper_scale.py            # writes bench/results/paper_scale.json
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import machine, minilm_path, quiet, write_result

REPO = Path(__file__).resolve().parents[1]

# --- assumptions (printed with the result) -----------------------------------------------------------
PEAK_TFLOPS = 989.0  # H100 SXM, dense bf16 (NVIDIA data sheet; 1979 is with 2:4 sparsity)
MFU_TRAIN = 0.25  # eager PyTorch, SDPA attention, bf16 autocast, ~8k tokens per step
MFU_INFER = 0.40  # forward only, batches of 512 sequences
PASSAGE_TOKENS = 80  # MS MARCO passage: ~56 words on average -> ~80 word pieces incl. [CLS]/[SEP]
DOC_TOKENS_FULL = 1500  # MS MARCO document: ~1,100 words; the tokenizer reads all of it before truncating
TOKENIZER_SPEEDUP = 4.0  # encode_shard tokenizes with TOKENIZERS_PARALLELISM on its 8 cores (not measurable here)
N_PASSAGES, N_DOCS = 8_841_823, 3_213_835
RERANK_QUERIES = 6_980 + 43 + 5_193 + 43  # dev small, DL19 passage, doc dev, DL19 doc
DEV_EVAL_TEXTS = 500 * 101 + 500  # trainer's dev subset per evaluation: pool (~101 per query) + queries


def flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def build(method: str, params: dict, stage: str = "retriever", device: str = "meta"):
    import torch

    from peftir.methods.registry import apply_method
    from peftir.models.bert import Bert, BertConfig
    from peftir.models.biencoder import BiEncoder, CrossEncoder

    torch.manual_seed(0)
    with torch.device(device):
        bert = apply_method(Bert(BertConfig()), method, params)
        return BiEncoder(bert, "cls") if stage == "retriever" else CrossEncoder(bert, "cls")


def ids(n: int, t: int, device: str):
    import torch

    x = torch.randint(1000, 2000, (n, t)) if device == "cpu" else torch.zeros(n, t, dtype=torch.long, device=device)
    return {"input_ids": x, "attention_mask": torch.ones_like(x), "token_type_ids": torch.zeros_like(x)}


def retriever_step(model, nq: int, g: int, q_len: int, p_len: int, device: str):
    def run():
        model.train()
        model({k: v for k, v in ids(nq, q_len, device).items() if k != "token_type_ids"},
              {k: v for k, v in ids(nq * g, p_len, device).items() if k != "token_type_ids"}).backward()

    return run


def reranker_step(model, nq: int, g: int, max_len: int, device: str):
    def run():
        model.train()
        model(ids(nq * g, max_len, device), g).backward()

    return run


def encode_flops(t: int) -> int:
    import torch

    m = build("full", {})
    with torch.no_grad():
        return flops(lambda: m.encode(ids(1, t, "meta")["input_ids"], ids(1, t, "meta")["attention_mask"]))


def pair_flops(t: int) -> int:
    import torch

    m = build("full", {}, "reranker")
    b = ids(1, t, "meta")
    with torch.no_grad():
        return flops(lambda: m.score(b["input_ids"], b["attention_mask"], b["token_type_ids"]))


def tokenize_times(reps: int = 5) -> dict:
    """Seconds to tokenize one training batch (8 queries + 64 passages) and 512 passages (MiniLM's
    tokenizer is bert-base-uncased's WordPiece vocabulary), on Debian passages (shorter than MS MARCO's:
    scaled to PASSAGE_TOKENS by length)."""
    import gzip
    import json
    import random

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path())
    corpus = REPO.parent / "shared" / "data" / "debian" / "corpus.jsonl.gz"
    if corpus.exists():
        with gzip.open(corpus, "rt") as f:
            texts = [json.loads(line)["text"] for _, line in zip(range(4000), f)]
    else:
        rng = random.Random(0)
        texts = [" ".join(rng.choice(["data", "package", "library", "tool"]) for _ in range(50)) for _ in range(4000)]
    mean_tokens = sum(len(tok(t)["input_ids"]) for t in texts[:500]) / 500
    scale = PASSAGE_TOKENS / mean_tokens

    def best(fn):
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return min(out)

    train = best(lambda: (tok(texts[:8], max_length=32, truncation=True, padding=True, return_tensors="pt"),
                          tok(texts[8:72], max_length=128, truncation=True, padding=True, return_tensors="pt")))
    enc = best(lambda: tok(texts[:512], max_length=128, truncation=True, padding=True, return_tensors="pt"))
    return {"train_batch_s": round(train * scale, 5), "encode_512_s": round(enc * scale, 5),
            "debian_mean_tokens": round(mean_tokens, 1), "length_scale": round(scale, 3)}


def cpu_step_times(reps: int) -> dict:
    """bert-base training step on this CPU at a reduced batch (2 queries x 8 passages), full vs LoRA r=16."""
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = {}
    for name, method, params in [("full", "full", {}), ("lora", "lora", {"r": 16, "alpha": 32})]:
        model = build(method, params, device="cpu")
        step = retriever_step(model, 2, 8, 32, 128, "cpu")
        step()  # warm-up
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            model.zero_grad(set_to_none=True)
            ts.append(time.perf_counter() - t0)
        f = flops(retriever_step(build(method, params), 2, 8, 32, 128, "meta"))
        out[name] = {"s_per_step": round(min(ts), 3), "flops": f, "gflops_per_s": round(f / min(ts) / 1e9, 1)}
        print(f"  CPU {name}: {min(ts):.2f} s/step, {f / 1e12:.2f} TFLOP, {f / min(ts) / 1e9:.1f} GFLOP/s")
    return out


def measure(cfg: dict, pcfg) -> dict:
    """FLOP counts (exact, meta tensors) per system and per item, and the tokenizer's times."""
    hp, rr = cfg["retriever"], cfg["reranker"]
    tok = tokenize_times()
    print(f"tokenizer: {tok}")
    systems = {}
    for run, budget, _seed in pcfg.grid(cfg, "retriever"):
        if (run, budget) not in systems:
            spec = pcfg.method_spec(cfg, run, budget)
            systems[(run, budget)] = {
                "run": run, "budget": budget, "params": spec["params"],
                "train_flop": flops(retriever_step(build(spec["method"], spec["params"]), hp["batch_size"],
                                                   1 + hp["n_neg"], hp["q_len"], hp["p_len"], "meta")),
                "rerank_train_flop": flops(reranker_step(build(spec["method"], spec["params"], "reranker"),
                                                         rr["batch_size"], 1 + rr["n_neg"], rr["max_len"], "meta"))}
    return {"tokenizer": tok, "systems": systems, "passage_flop": encode_flops(PASSAGE_TOKENS),
            "doc_flop": encode_flops(cfg["datasets"]["msmarco-doc"].get("p_len", 512)),
            "dev_text_flop": encode_flops(hp["p_len"]), "pair_flop": pair_flops(rr["max_len"])}


def estimate(cfg: dict, pcfg, m: dict, mfu_train: float, mfu_infer: float) -> dict:
    """GPU hours: FLOPs / (peak x MFU) + the measured CPU tokenization (not overlapped in our code)."""
    hp, rr, tok = cfg["retriever"], cfg["reranker"], m["tokenizer"]
    rate_train, rate_infer = PEAK_TFLOPS * 1e12 * mfu_train, PEAK_TFLOPS * 1e12 * mfu_infer
    dev_eval_s = DEV_EVAL_TEXTS * m["dev_text_flop"] / rate_infer * (hp["steps"] // hp["eval_every"] + 1)
    per_system = {}
    for key, x in m["systems"].items():
        per_system[key] = {
            "train_retriever_h": (hp["steps"] * (x["train_flop"] / rate_train + tok["train_batch_s"]) + dev_eval_s) / 3600,
            "train_reranker_h": rr["steps"] * (x["rerank_train_flop"] / rate_train + tok["train_batch_s"]) / 3600}
    grid_r, grid_rr = pcfg.grid(cfg, "retriever"), pcfg.grid(cfg, "reranker")
    tokenize_s = (N_PASSAGES + N_DOCS * DOC_TOKENS_FULL / PASSAGE_TOKENS) / 512 * tok["encode_512_s"]
    encode_compute_s = (N_PASSAGES * m["passage_flop"] + N_DOCS * m["doc_flop"]) / rate_infer
    encode_h = (encode_compute_s + tokenize_s / TOKENIZER_SPEEDUP) / 3600
    pairs = RERANK_QUERIES * cfg["rerank"]["depth"]
    rerank_h = (pairs * m["pair_flop"] / rate_infer + pairs / 512 * tok["encode_512_s"] * 2) / 3600
    jobs = {"train_retriever": sum(per_system[(r, b)]["train_retriever_h"] for r, b, _ in grid_r),
            "train_reranker": sum(per_system[(r, b)]["train_reranker_h"] for r, b, _ in grid_rr),
            "encode_shard": encode_h * (len(grid_r) + 1),  # + the zero-shot backbone
            "rerank": rerank_h * len(grid_rr)}
    return {"per_job_kind_gpu_h": {k: round(v, 1) for k, v in jobs.items()},
            "total_gpu_h": round(sum(jobs.values()), 1),
            "per_system_h": {f"{r}/{b}": {k: round(v, 2) for k, v in x.items()} for (r, b), x in per_system.items()},
            "per_model_h": {"encode": round(encode_h, 2), "encode_compute_only": round(encode_compute_s / 3600, 2),
                            "encode_single_thread_tokenizer": round((encode_compute_s + tokenize_s) / 3600, 2),
                            "rerank": round(rerank_h, 2)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "config" / "msmarco.yaml"))
    ap.add_argument("--reps", type=int, default=2, help="timed CPU steps per model")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU step timing (FLOP counts only)")
    ap.add_argument("--out")
    a = ap.parse_args()
    quiet()
    from peftir import config as pcfg

    cfg = pcfg.load(a.config)
    m = measure(cfg, pcfg)
    main_est = estimate(cfg, pcfg, m, MFU_TRAIN, MFU_INFER)
    low, high = estimate(cfg, pcfg, m, 0.40, 0.60), estimate(cfg, pcfg, m, 0.15, 0.25)
    for key, x in m["systems"].items():
        h = main_est["per_system_h"]["/".join(key)]
        print(f"  {'/'.join(key)}: {x['train_flop'] / 1e12:.2f} TFLOP/step -> {h['train_retriever_h']} h retriever, "
              f"{h['train_reranker_h']} h reranker")
    result = {
        "assumptions": {"gpu": "H100 SXM", "peak_bf16_dense_tflops": PEAK_TFLOPS, "mfu_train": MFU_TRAIN,
                        "mfu_inference": MFU_INFER, "msmarco_passage_mean_tokens": PASSAGE_TOKENS,
                        "msmarco_doc_mean_tokens_untruncated": DOC_TOKENS_FULL,
                        "encode_tokenizer_speedup_8_cores": TOKENIZER_SPEEDUP,
                        "note": "no GPU was available: GPU time = measured FLOPs / (peak x assumed MFU) + measured "
                                "CPU tokenization time"},
        "measured": {"tokenizer": m["tokenizer"], "encode_tflop_per_passage": m["passage_flop"] / 1e12,
                     "encode_tflop_per_doc": m["doc_flop"] / 1e12, "rerank_tflop_per_pair": m["pair_flop"] / 1e12,
                     "tflop_per_step": {"/".join(k): {"retriever": round(x["train_flop"] / 1e12, 3),
                                                      "reranker": round(x["rerank_train_flop"] / 1e12, 3)}
                                        for k, x in m["systems"].items()},
                     "cpu_steps": None if a.no_cpu else cpu_step_times(a.reps)},
        **main_est,
        "range": {"mfu_train_40_infer_60": low["per_job_kind_gpu_h"] | {"total": low["total_gpu_h"]},
                  "mfu_train_15_infer_25": high["per_job_kind_gpu_h"] | {"total": high["total_gpu_h"]}},
        "counts": {"retrievers": len(pcfg.grid(cfg, "retriever")), "rerankers": len(pcfg.grid(cfg, "reranker"))},
        "machine": machine(),
    }
    print(f"GPU hours per job kind: {main_est['per_job_kind_gpu_h']}; total {main_est['total_gpu_h']} h "
          f"(range {low['total_gpu_h']}-{high['total_gpu_h']} h)")
    write_result("paper_scale", result, a.out)
    assert math.isfinite(main_est["total_gpu_h"])


if __name__ == "__main__":
    main()
