"""run_info.json: every result explains itself (config, seed, code version, machine, cost)."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

PACKAGES = ["torch", "transformers", "pyserini", "faiss-cpu", "ir-measures", "snakemake", "numpy", "peftir"]


def git_info(cwd: str | Path | None = None) -> dict:
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], check=False, cwd=cwd, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], check=False, cwd=cwd,
                               capture_output=True, text=True, timeout=10)
        return {"sha": sha.stdout.strip() or None, "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def device_info(device: torch.device | str = "cpu") -> dict:
    d = {"device": str(device), "platform": platform.platform(), "cpu_count": os.cpu_count(),
         "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        d["gpu"] = torch.cuda.get_device_name(0)
        d["gpus"] = torch.cuda.device_count()
    from peftir.distributed import world_size

    d["world_size"] = world_size()  # processes training together (torchrun DDP), 1 when single
    return d


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


class RunInfo:
    """Collects provenance for one job; `finish()` returns the dict to write as run_info.json."""

    def __init__(self, command: str, config: dict, seed: int | None = None, device="cpu"):
        self.t0 = time.time()
        self.info = {"command": command, "config": config, "seed": seed, "git": git_info(),
                     "versions": versions(), "machine": device_info(device),
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def update(self, **kw) -> None:
        self.info.update(kw)

    def finish(self, **kw) -> dict:
        self.info.update(kw)
        self.info["wall_time_s"] = round(time.time() - self.t0, 3)
        self.info["peak_rss_mb"] = round(peak_rss_mb(), 1)
        if torch.cuda.is_available():
            self.info["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return self.info
