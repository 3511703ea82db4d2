"""PET should cost less: time per step and peak memory of every configured method × budget, relative
to full fine-tuning, in fp32 and under bf16 autocast.

Each (method, budget, dtype) trains in its own worker process, forked from this one after the imports
(no torch op has run in the parent, so no thread pool is inherited) and driven one step at a time
over a pipe: only one worker computes at any moment, rounds are interleaved with the full-fine-tuning
workers (one per dtype, alive for the whole run), and the order rotates every round. The step is
`peftir.train.Trainer`'s on a fixed `RetrievalTask` batch (bench/train_step.py, `ours`).

Memory, per worker: `ru_maxrss` (peak resident set of the process, which starts as a fork of a
parent that has imported torch, transformers and peftir, like any job of the pipeline), RSS after the
model is built, and their difference = what training adds (gradients, AdamW state, activations).
Frozen weights need neither weight gradients nor optimizer state, so PET should add less.

Workers are started `--group-size` at a time to bound memory (each holds a model and its optimizer).

    .venv/bin/python bench/methods.py                              # all runs, both budgets, fp32+bf16
    .venv/bin/python bench/methods.py --runs lora,adapter --dtypes fp32 --queries 8 --p-len 96
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, machine, med, quiet, ratios, summary, write_result

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker(conn, spec, hp, shape, bf16, threads):
    import torch
    from train_step import fixed_batch, ours

    torch.set_num_threads(threads)
    from peftir.models.backbone import backbone_config

    q, g, q_len, p_len = shape
    batch = fixed_batch(q, g, q_len, p_len, backbone_config("all-MiniLM-L6-v2").vocab_size)
    step, model = ours(spec, batch, hp, bf16)
    built = rss_mb()
    conn.send({"trainable": model.meta["trainable_params"], "params": model.meta["params"],
               "achieved_pct": model.meta["achieved_pct"]})
    while True:
        cmd = conn.recv()
        if cmd == "step":
            c0, t0 = time.process_time(), time.perf_counter()
            step()
            conn.send((time.perf_counter() - t0, time.process_time() - c0))
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
            conn.send({"maxrss_mb": round(peak, 1), "rss_built_mb": round(built, 1),
                       "train_mb": round(peak - built, 1)})
            conn.close()
            return


class Worker:
    def __init__(self, spec, hp, shape, bf16, threads):
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, spec, hp, shape, bf16, threads), daemon=True)
        self.proc.start()
        self.meta = self.conn.recv()
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def step(self, record: bool = True) -> float:
        self.conn.send("step")
        w, c = self.conn.recv()
        if record:
            self.wall.append(w)
            self.cpu.append(c)
        return w

    def stop(self) -> dict:
        self.conn.send("stop")
        mem = self.conn.recv()
        self.proc.join()
        return mem


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--runs", help="comma list of config run names (default: every run in the config)")
    ap.add_argument("--budgets", help="comma list of budgets (default: each run's configured budgets)")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--group", type=int, default=4, help="passages per query (1 positive + negatives)")
    ap.add_argument("--q-len", type=int, default=32)
    ap.add_argument("--p-len", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--group-size", type=int, default=6, help="method workers alive at once (memory bound)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="result JSON (default bench/results/methods.json)")
    a = ap.parse_args(argv)

    quiet()
    import transformers  # noqa: F401
    from train_step import spec_for  # noqa: F401  (imports torch, peftir, transformers before forking)

    from peftir import config as pcfg
    from peftir.models import factory  # noqa: F401

    info = machine()
    config = pcfg.load(a.config)
    hp = config["retriever"]
    shape = (a.queries, a.group, a.q_len, a.p_len)
    dtypes = a.dtypes.split(",")
    runs = a.runs.split(",") if a.runs else [r for r in config["methods"] if r != "full"]
    jobs = []
    for run in runs:
        m = config["methods"][run]
        for b in m["budgets"]:
            if a.budgets and b not in a.budgets.split(","):
                continue
            spec = {**pcfg.method_spec(config, run, b), "lr": m.get("lr", 1e-3)}
            jobs += [(f"{run}/{b}/{dt}", spec, dt) for dt in dtypes]
    full_run = next(r for r, m in config["methods"].items() if m["method"] == "full")
    full_spec = {**pcfg.method_spec(config, full_run, pcfg.NATURAL), "lr": config["methods"][full_run]["lr"]}
    print(f"methods: {len(jobs)} workers + full per dtype, {shape[0]}q×{shape[1]}p, q_len {a.q_len}, "
          f"p_len {a.p_len}, load {info['loadavg_start']}")

    refs = {dt: Worker(full_spec, hp, shape, dt == "bf16", a.threads) for dt in dtypes}
    for _ in range(a.warmup):
        for w in refs.values():
            w.step(record=False)
    rows = {}
    for i in range(0, len(jobs), a.group_size):
        group = {key: (Worker(spec, hp, shape, dt == "bf16", a.threads), dt) for key, spec, dt in jobs[i:i + a.group_size]}
        for _ in range(a.warmup):
            for w, _dt in group.values():
                w.step(record=False)
        ref_times = {dt: [] for dt in dtypes}  # full's times in these rounds: each method's reference
        names = [f"full/{dt}" for dt in dtypes] + list(group)
        for r in range(a.reps):
            order = names[r % len(names):] + names[: r % len(names)]
            for n in order:
                if n.startswith("full/"):
                    dt = n.split("/")[1]
                    ref_times[dt].append(refs[dt].step())
                else:
                    group[n][0].step()
            print(f"  group {i // a.group_size + 1} round {r + 1}/{a.reps} (load {loadavg()[0]}): "
                  + ", ".join(f"{n}={(refs[n[5:]].wall if n.startswith('full/') else group[n][0].wall)[-1]:.2f}s"
                              for n in names))
        for key, (w, dt) in group.items():
            mem = w.stop()
            rows[key] = {"dtype": dt, **w.meta, "time": summary(w.wall, w.cpu), **mem,
                         "step_ratio_vs_full": round(med(w.wall) / med(ref_times[dt]), 3),
                         "step_ratios_vs_full": ratios(w.wall, ref_times[dt]),
                         "cpu_ratio_vs_full": round(med(w.cpu) / med(refs[dt].cpu[-a.reps:]), 3)}
    for dt, w in refs.items():
        mem = w.stop()
        rows[f"full/natural/{dt}"] = {"dtype": dt, **w.meta, "time": summary(w.wall, w.cpu), **mem,
                                      "step_ratio_vs_full": 1.0, "cpu_ratio_vs_full": 1.0}
    full_mem = {dt: rows[f"full/natural/{dt}"] for dt in dtypes}
    for key, row in rows.items():
        f = full_mem[row["dtype"]]
        row["maxrss_ratio_vs_full"] = round(row["maxrss_mb"] / f["maxrss_mb"], 3)
        row["train_mb_ratio_vs_full"] = round(row["train_mb"] / f["train_mb"], 3) if f["train_mb"] > 0 else None
    if "fp32" in dtypes and "bf16" in dtypes:  # bf16 / fp32 step time, each method's own workers
        for key, row in rows.items():
            if row["dtype"] == "bf16":
                row["bf16_over_fp32"] = round(row["time"]["median_s"] / rows[key[:-4] + "fp32"]["time"]["median_s"], 3)

    print(f"{'run/budget/dtype':28s} {'trainable':>10s} {'s/step':>7s} {'×full':>6s} {'paired':>6s} {'maxrss MB':>9s} "
          f"{'×full':>6s} {'train MB':>8s} {'×full':>6s}")
    for key in sorted(rows, key=lambda k: (rows[k]["dtype"], k)):
        r = rows[key]
        paired = r.get("step_ratios_vs_full", {}).get("paired_median", 1.0)
        print(f"{key:28s} {r['trainable']:>10,d} {r['time']['median_s']:7.3f} {r['step_ratio_vs_full']:6.2f} {paired:6.2f} "
              f"{r['maxrss_mb']:9.0f} {r['maxrss_ratio_vs_full']:6.2f} {r['train_mb']:8.0f} "
              f"{r['train_mb_ratio_vs_full'] or 0:6.2f}")
    write_result("methods", {"benchmark": "methods", "machine": info, "args": vars(a), "rows": rows}, a.out)


if __name__ == "__main__":
    main()
