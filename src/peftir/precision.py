"""bf16 autocast: on, off, or `auto` — on where the device computes bf16 natively, off elsewhere.

Every `bf16` setting of the configuration (`retriever`, `reranker`, `rerank`, `encode`) takes `true`,
`false` or `auto`. The choice is made by the job, on the machine that runs it (a cluster's compute node,
not the node that plans the DAG); training, re-ranking and landscape jobs record it in their provenance.

Why `auto` is the default: bf16 autocast only pays where the hardware multiplies bf16. Measured on a
2-core AMD EPYC with AVX-512 BF16 (bench/README.md): a training step 0.55x of its fp32 time, encoding 2.8x
faster. Measured on a 2-core AMD EPYC with AVX2 only (2026-12-02): a 1024x1024 bf16 matmul on one thread
ran at 0.56 GFLOP/s against 33 GFLOP/s in fp32, and a cross-encoder step took 70 s instead of ~2 s:
oneDNN has no bf16 kernels there and PyTorch falls back to a reference loop.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)

CHOICES = ("auto", "true", "false")


def native_bf16(device="cpu") -> bool:
    """Whether `device` multiplies bf16 natively: a CUDA device that supports bf16, or a CPU on which
    oneDNN has bf16 kernels (AVX-512 BW/VL/DQ, AMX, or Arm's bf16 extension)."""
    import torch  # here, not at the top: the Snakefile imports bf16_flag, and must not load torch

    kind = torch.device(device).type
    if kind == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if kind == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without oneDNN: no fast bf16 path
            return False
    return False


def _word(setting: bool | str) -> str:
    """True / False / "auto" (any case) -> "true" / "false" / "auto"; anything else is refused."""
    s = str(setting).lower()
    if s not in CHOICES:
        raise ValueError(f"bf16: expected true, false or auto, got {setting!r}")
    return s


def resolve_bf16(setting: bool | str, device="cpu") -> bool:
    """A `bf16` setting (True, False, "auto", or the strings "true" / "false") -> use bf16 autocast?
    An explicit True on a device without native bf16 is honoured, with a warning (it can be ~60x slower)."""
    s = _word(setting)
    if s == "auto":
        return native_bf16(device)
    if s == "true" and not native_bf16(device):
        log.warning("bf16 autocast requested on %s, which has no native bf16 kernels: expect it to be far slower "
                    "than float32 (set bf16: auto)", device)
    return s == "true"


def add_bf16_arg(p: argparse.ArgumentParser) -> None:
    """`--bf16 [auto|true|false]` (bare `--bf16` = true; absent = false)."""
    p.add_argument("--bf16", nargs="?", const="true", default="false", type=str.lower, choices=CHOICES,
                   help="bf16 autocast: true, false, or auto (where the device computes bf16 natively)")


def bf16_flag(setting: bool | str) -> str:
    """The command-line form of a `bf16` setting, one shell word: `--bf16=auto`, `--bf16=true`, ..."""
    return f"--bf16={_word(setting)}"
