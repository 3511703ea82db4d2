"""OpenMP wait policy: our training step (and corpus encoding) under libgomp's default (threads spin at
every barrier) against OMP_WAIT_POLICY=PASSIVE (threads sleep), and against 1 thread.

torch's CPU wheel uses GNU libgomp, which reads OMP_WAIT_POLICY once when it loads, so each setting
runs in its own worker process (started with that environment, driven one step at a time over a
pipe); rounds are interleaved and the order rotates, as in every benchmark here. On a machine whose
cores are shared with other jobs, spinning threads burn the time slices the thread they wait for
needs; on an idle machine, sleeping costs a futex wake-up per parallel region.

    .venv/bin/python bench/omp_policy.py                  # full fine-tuning step, 4q×4p, 32/64 tokens
    .venv/bin/python bench/omp_policy.py --what encode    # one batch of 128 passages, 96 tokens, no grad
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine, ratios, summary, write_result

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # name -> (OMP_WAIT_POLICY or None for libgomp's default, torch threads)
    "default-2t": (None, 2),
    "passive-2t": ("PASSIVE", 2),
    "default-1t": (None, 1),
}


def worker(a) -> None:
    import torch

    torch.set_num_threads(a.threads)
    from _common import quiet

    quiet()
    from train_step import fixed_batch, ours, spec_for

    from peftir import config as pcfg
    from peftir.models.backbone import backbone_config

    config = pcfg.load()
    batch = fixed_batch(a.queries, a.group, a.q_len, a.p_len, backbone_config("all-MiniLM-L6-v2").vocab_size)
    step, model = ours(spec_for(config, "full", "natural"), batch, config["retriever"], False)
    if a.what == "encode":
        model.eval()
        ids = batch["p"]["input_ids"]
        mask = batch["p"]["attention_mask"]

        def step():
            with torch.no_grad():
                model.encode(ids, mask)

    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        print(f"{time.perf_counter() - t0} {time.process_time() - c0}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", choices=["train", "encode"], default="train")
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--q-len", type=int, default=32)
    ap.add_argument("--p-len", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--out", help="result JSON (default bench/results/omp_policy[_encode].json)")
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a)
    if a.what == "encode":  # one encode batch: 128 passages of p_len 96, as `peftir encode`
        a.queries, a.group, a.p_len = 32, 4, 96 if a.p_len == 64 else a.p_len

    info = machine()
    procs = {}
    for name, (policy, threads) in SETTINGS.items():
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        cmd = [sys.executable, __file__, "--worker", "--what", a.what, "--threads", str(threads),
               "--queries", str(a.queries), "--group", str(a.group), "--q-len", str(a.q_len), "--p-len", str(a.p_len)]
        procs[name] = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for p in procs.values():
        assert p.stdout.readline().strip() == "ready"

    def step(name):
        p = procs[name]
        p.stdin.write("step\n")
        p.stdin.flush()
        w, c = p.stdout.readline().split()
        return float(w), float(c)

    names = list(SETTINGS)
    for _ in range(a.warmup):
        for n in names:
            step(n)
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    print(f"omp_policy ({a.what}): {a.queries}q×{a.group}p, q_len {a.q_len}, p_len {a.p_len}, load {info['loadavg_start']}")
    for r in range(a.reps):
        for n in names[r % len(names):] + names[: r % len(names)]:
            w, c = step(n)
            wall[n].append(w)
            cpu[n].append(c)
        print(f"  round {r + 1}/{a.reps} (load {loadavg()[0]}): "
              + ", ".join(f"{n}={wall[n][-1]:.2f}s/{cpu[n][-1]:.2f}cpu" for n in names))
    for p in procs.values():
        p.stdin.close()
        p.wait()
    rows = {n: {"time": summary(wall[n], cpu[n]), "vs_default_2t": ratios(wall[n], wall["default-2t"])} for n in names}
    for n, r in rows.items():
        print(f"{n:11s} {r['time']['median_s']:.3f} s (cpu {r['time']['median_cpu_s']:.2f} s)  × default-2t: "
              f"{r['vs_default_2t']}")
    write_result("omp_policy" + ("" if a.what == "train" else "_encode"),
                 {"benchmark": "omp_policy", "machine": info, "args": vars(a), "rows": rows}, a.out)


if __name__ == "__main__":
    main()
