"""`peftir precision`: before a local run, what `bf16: auto` will do on this machine and what that costs.

A command module of its own: peftir.precision is imported by encode, rerank and train, and a command module
must not import another (tests/test_import_graph.py).
"""

from __future__ import annotations

from peftir.precision import native_bf16


def notice(device="cpu") -> str:
    """What `bf16: auto` will do on this machine, and what that costs: printed before a local run starts, so
    that a user without native bf16 learns before, not after, that the default's 90 minutes are not theirs."""
    what = "this CPU" if str(device) == "cpu" else str(device)
    if native_bf16(device):
        return (f"peftir: {what} computes bf16 natively: training, encoding and re-ranking autocast to bf16 "
                "(bf16: auto), the setting the default's ~90 min on 2 cores were measured with.")
    return (f"peftir: {what} has no native bf16 kernels (no AVX-512 BF16 or AMX): with bf16: auto every job "
            "computes in float32. The default's ~90 min on 2 cores were measured with native bf16; in float32 "
            f"it is estimated at ~{FLOAT32_DEFAULT_HOURS} h on 2 cores (bench/README.md, 'Without native bf16'). "
            "`make quick` is the short run.")


# The current default in float32: its jobs' CPU seconds measured on an AVX2-only 2-core EPYC, summed over the
# default's job counts, over 2 cores at the last whole run's 88% utilisation (2026-12-03; bench/README.md,
# 'Without native bf16'). Not a timing of a whole run.
FLOAT32_DEFAULT_HOURS = 3.7


def cmd_notice(a) -> None:
    print(notice(a.device))


def register(sub) -> None:
    p = sub.add_parser("precision", help="say whether this machine computes bf16 natively (what bf16: auto does)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_notice)
