"""bf16 autocast against float32 on this machine: is `bf16: auto`'s choice (peftir.precision) the fast one?

Times, interleaved in the same run, on one thread (the pipeline's jobs run with `threads: 1`):
  - a 1024 x 1024 matmul, float32 against bfloat16 tensors;
  - the zero-shot bi-encoder (all-MiniLM-L6-v2) embedding a batch of passages (`peftir.inference.embed`),
    float32 against bf16 autocast, as `peftir encode` runs it.
Reports the bf16 / fp32 time ratio of each, the CPU's flags, and what `auto` resolves to here. The
choice is right when auto picks bf16 exactly where bf16 is faster (ratio < 1).

    .venv/bin/python bench/precision.py                     # -> bench/results/precision.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from _common import interleave, machine, med, quiet, summary, write_result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, default=1024, help="matmul size")
    ap.add_argument("--passages", type=int, default=32, help="passages in the encoder batch")
    ap.add_argument("--p-len", type=int, default=96)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    quiet()
    torch.set_num_threads(1)
    from peftir.inference import embed
    from peftir.models import factory
    from peftir.models.backbone import load_tokenizer
    from peftir.precision import native_bf16, resolve_bf16

    x = torch.randn(a.n, a.n)
    xb = x.bfloat16()
    model = factory.zero_shot("retriever", "all-MiniLM-L6-v2", "mean", True)
    tok = load_tokenizer("all-MiniLM-L6-v2")
    words = "package library tool data file system network python module server client".split()
    texts = [" ".join(words[(i + j) % len(words)] for j in range(a.p_len)) for i in range(a.passages)]

    def enc(bf16: bool):
        def f():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                embed(model, tok, texts, a.p_len, a.passages, "cpu")
        return f

    fns = {"matmul_fp32": lambda: x @ x, "matmul_bf16": lambda: xb @ xb,
           "encode_fp32": enc(False), "encode_bf16": enc(True)}
    times = interleave(fns, a.reps)
    res = {k: summary(v) for k, v in times.items()}
    ratio = {k: round(med(times[f"{k}_bf16"]) / med(times[f"{k}_fp32"]), 3) for k in ("matmul", "encode")}
    auto = resolve_bf16("auto", "cpu")
    result = {"benchmark": "precision", "machine": machine(), "args": vars(a), "times": res,
              "bf16_over_fp32": ratio, "native_bf16": native_bf16("cpu"), "auto_uses_bf16": auto,
              # auto is right when it uses bf16 exactly where bf16 is the faster of the two
              "auto_is_faster_choice": auto == (ratio["encode"] < 1.0)}
    print(f"bf16 / fp32 time: matmul {ratio['matmul']}, encode {ratio['encode']}; auto uses bf16: {auto}; "
          f"the faster choice: {result['auto_is_faster_choice']}")
    write_result("precision", result, a.out)


if __name__ == "__main__":
    main()
