"""Training step: ours (peftir.train.Trainer) against a plain hand-written loop on transformers.BertModel.

Ours: `factory.build("retriever", backbone, spec)` + `Trainer` (AdamW over the trainable parameters,
warmup/decay schedule, grad clipping, optional bf16 autocast), one step = one `Trainer.run()` step on
a fixed `RetrievalTask` batch (the batch sampler is replaced by a fixed tensor batch, so tokenisation
is not timed; the loss is `RetrievalTask.loss`, i.e. `BiEncoder.forward`).

Baseline: `transformers.BertModel.from_pretrained(<same checkpoint>, add_pooling_layer=False)`,
  full    nothing frozen                           (plain PyTorch)
  bitfit  only parameters named *bias trainable    (plain PyTorch freezing)
  lora    HF peft `get_peft_model(LoraConfig(r, alpha, target_modules=[query, value]))`, with the r
          our budget solver picks for the config's LoRA budget
and the same loss written out by hand: mean pooling, L2 normalisation, CE over in-batch scores / T;
AdamW with the same lr / weight decay, LambdaLR, clip_grad_norm_, zero_grad(set_to_none=True).
The other methods (prefix, adapter, MAM, IAA) have no HF equivalent: bench/methods.py compares them
with full fine-tuning.

Batch: Q queries × G passages (1 positive + G-1 negatives), q_len / p_len tokens, random ids, no
padding. Also measured in the same run: fp32 matmul throughput (n×n @ n×n, 2n³ FLOP) and, from it,
the fraction of that throughput full fine-tuning reaches, with

    FLOP/step ≈ 6 · N · tokens  +  12 · L · d · Σ_seq T_seq²

N = non-embedding parameters (encoder layers: weights and biases; 6 = 2 forward + 4 backward per
parameter and token), tokens = Q·q_len + Q·G·p_len, and the attention term counts QKᵀ and AV
(2·T²·d FLOP each per layer forward, ×3 with the backward). Embedding lookups, softmax, layer norms,
GELU and the optimizer are not counted, so the fraction is a slight underestimate.

    .venv/bin/python bench/train_step.py                         # defaults: 4×4, 32/64 tokens, fp32
    .venv/bin/python bench/train_step.py --queries 8 --p-len 96   # the embedded config's batch
    .venv/bin/python bench/train_step.py --dtype bf16 --reps 5
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
import torch.nn.functional as F
from _common import (
    interleave,
    machine,
    matmul_gflops_fn,
    med,
    minilm_path,
    quiet,
    ratios,
    summary,
    write_result,
)

ROOT = Path(__file__).resolve().parents[1]


def fixed_batch(q: int, g: int, q_len: int, p_len: int, vocab: int, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)

    def toks(n, t):  # (n, t): [CLS] random word pieces [SEP], no padding
        ids = torch.randint(1000, vocab, (n, t), generator=gen)
        ids[:, 0], ids[:, -1] = 101, 102
        return {"input_ids": ids, "attention_mask": torch.ones(n, t, dtype=torch.long)}

    return {"q": toks(q, q_len), "p": toks(q * g, p_len)}


def spec_for(config: dict, method: str, budget: str) -> dict:
    """The config's spec for the first run of registry key `method` (its `budget`, else its first)."""
    from peftir import config as pcfg

    for run, m in config["methods"].items():
        if m["method"] == method:
            b = budget if budget in m["budgets"] else m["budgets"][0]
            return {**pcfg.method_spec(config, run, b), "lr": m.get("lr", 1e-3)}
    raise KeyError(f"no run of method {method!r} in the config")


# --- ours -------------------------------------------------------------------------------------------

def ours(spec: dict, batch: dict, hp: dict, bf16: bool):
    from peftir.models import factory
    from peftir.tasks import RetrievalTask
    from peftir.train import TrainConfig, Trainer

    class FixedTask(RetrievalTask):  # RetrievalTask's loss and token count, a fixed batch
        def __init__(self):
            self.temperature = hp["temperature"]

        def batch(self, rng):
            return batch

    model = factory.build("retriever", "all-MiniLM-L6-v2", spec, "mean", True, seed=1)
    cfg = TrainConfig(steps=1000, batch_size=batch["q"]["input_ids"].shape[0], lr=spec["lr"],
                      warmup=hp["warmup"], weight_decay=hp["weight_decay"], grad_clip=hp["grad_clip"],
                      bf16=bf16, eval_every=0, ckpt_every=0)
    trainer = Trainer(model, FixedTask(), cfg, seed=1, ckpt_dir=None)

    def step():  # exactly one iteration of Trainer.run()'s loop (its progress bar goes to a buffer)
        trainer.cfg = dataclasses.replace(cfg, steps=trainer.step + 1)
        with contextlib.redirect_stderr(io.StringIO()):
            trainer.run()

    return step, model


# --- baseline: a plain loop on transformers.BertModel -----------------------------------------------

def baseline(method: str, spec_params: dict, batch: dict, hp: dict, lr: float, bf16: bool):
    from transformers import BertModel

    model = BertModel.from_pretrained(minilm_path(), add_pooling_layer=False)
    if method == "full":
        model.requires_grad_(True)
    elif method == "bitfit":
        for n, p in model.named_parameters():
            p.requires_grad_(n.endswith("bias"))
    elif method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=spec_params["r"], lora_alpha=spec_params["alpha"],
                                                 lora_dropout=0.0, target_modules=["query", "value"]))
    else:
        raise ValueError(f"no baseline for method {method!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=hp["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100))
    g = batch["p"]["input_ids"].shape[0] // batch["q"]["input_ids"].shape[0]

    def enc(x):
        h = model(input_ids=x["input_ids"], attention_mask=x["attention_mask"]).last_hidden_state
        m = x["attention_mask"].unsqueeze(-1).to(h.dtype)
        return F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    def step():
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            qe, pe = enc(batch["q"]), enc(batch["p"])
            scores = qe @ pe.T / hp["temperature"]
            loss = F.cross_entropy(scores.float(), torch.arange(qe.shape[0]) * g)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, hp["grad_clip"])
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss.item()

    return step, model, sum(p.numel() for p in params)


def step_flops(c, q: int, g: int, q_len: int, p_len: int) -> float:
    """6·N·tokens + 12·L·d·Σ T² for our Bert config `c` (see the module docstring)."""
    d, i, L = c.hidden_size, c.intermediate_size, c.num_hidden_layers
    n_layer = L * (4 * (d * d + d) + (d * i + i) + (i * d + d) + 4 * d)  # linears + 2 LayerNorms per layer
    tokens = q * q_len + q * g * p_len
    attn = 12 * L * d * (q * q_len**2 + q * g * p_len**2)
    return 6.0 * n_layer * tokens + attn


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="full,bitfit,lora", help="comma list of: full, bitfit, lora")
    ap.add_argument("--budget", default="small", help="budget of the sized methods (LoRA): small | large")
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--group", type=int, default=4, help="passages per query (1 positive + negatives)")
    ap.add_argument("--q-len", type=int, default=32)
    ap.add_argument("--p-len", type=int, default=64)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--matmul-n", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="result JSON (default bench/results/train_step[_bf16].json)")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    quiet()
    from peftir import config as pcfg
    from peftir.models.backbone import backbone_config

    info = machine()
    config = pcfg.load(a.config)
    hp = config["retriever"]
    bf16 = a.dtype == "bf16"
    c = backbone_config("all-MiniLM-L6-v2")
    batch = fixed_batch(a.queries, a.group, a.q_len, a.p_len, c.vocab_size)
    tokens = a.queries * a.q_len + a.queries * a.group * a.p_len
    flops = step_flops(c, a.queries, a.group, a.q_len, a.p_len)

    fns, trainable = {}, {}
    methods = a.methods.split(",")
    for m in methods:
        spec = spec_for(config, m, a.budget)
        fns[f"ours:{m}"], model = ours(spec, batch, hp, bf16)
        trainable[f"ours:{m}"] = model.meta["trainable_params"]
        fns[f"hf:{m}"], _, trainable[f"hf:{m}"] = baseline(m, model.meta["params"], batch, hp, spec["lr"], bf16)
        if trainable[f"ours:{m}"] != trainable[f"hf:{m}"]:
            print(f"warning: {m}: trainable ours {trainable[f'ours:{m}']} != baseline {trainable[f'hf:{m}']}")
    mm = matmul_gflops_fn(a.matmul_n)
    fns["matmul"] = mm
    print(f"train_step: {a.queries}q×{a.group}p, q_len {a.q_len}, p_len {a.p_len}, {a.dtype}, "
          f"{tokens} tokens/step, ≈{flops / 1e9:.1f} GFLOP/step (full), load {info['loadavg_start']}")
    times = interleave(fns, a.reps, a.warmup)
    cpu = interleave.cpu

    gflops = mm.flops / med(times["matmul"]) / 1e9
    rows = {}
    for m in methods:
        t_o, t_b = med(times[f"ours:{m}"]), med(times[f"hf:{m}"])
        c_o, c_b = med(cpu[f"ours:{m}"]), med(cpu[f"hf:{m}"])
        rows[m] = {"ours": summary(times[f"ours:{m}"], cpu[f"ours:{m}"]),
                   "baseline": summary(times[f"hf:{m}"], cpu[f"hf:{m}"]),
                   "ratio_ours_over_baseline": round(t_o / t_b, 3),
                   "ratios": ratios(times[f"ours:{m}"], times[f"hf:{m}"]),
                   "cpu_time_ratio_ours_over_baseline": round(c_o / c_b, 3),
                   "tokens_per_s_ours": round(tokens / t_o, 1), "tokens_per_s_baseline": round(tokens / t_b, 1),
                   "trainable_ours": trainable[f"ours:{m}"], "trainable_baseline": trainable[f"hf:{m}"]}
        print(f"{m:7s} ours {t_o:.3f}s  baseline {t_b:.3f}s  ratio {t_o / t_b:.3f} {rows[m]['ratios']} "
              f"(CPU-time ratio {c_o / c_b:.3f})  {tokens / t_o:.0f} tok/s (baseline {tokens / t_b:.0f})")
    out = {"benchmark": "train_step", "machine": info, "args": vars(a), "tokens_per_step": tokens,
           "flop_per_step_full": flops, "matmul_gflops": round(gflops, 1), "matmul": summary(times["matmul"]),
           "methods": rows, "baseline_for": {"full": "transformers.BertModel, nothing frozen",
                                             "bitfit": "transformers.BertModel, biases only",
                                             "lora": "HF peft LoraConfig on transformers.BertModel"}}
    print(f"matmul fp32 {gflops:.1f} GFLOP/s")
    if "full" in rows:
        for side in ("ours", "baseline"):
            t = rows["full"][side]["median_s"]
            frac = flops / t / 1e9 / gflops
            rows["full"][f"fraction_of_matmul_{side}"] = round(frac, 3)
            print(f"full fine-tuning ({side}): {flops / t / 1e9:.1f} GFLOP/s = {frac:.1%} of fp32 matmul")
    write_result("train_step" + ("" if a.dtype == "fp32" else "_bf16"), out, a.out)


if __name__ == "__main__":
    main()
