"""Multi-GPU data-parallel training (DDP) under `torchrun`, with cross-device in-batch negatives.

`torchrun --nproc_per_node N -m peftir train-retriever ...` starts N copies of the trainer; each
reads RANK / WORLD_SIZE / LOCAL_RANK from the environment (`init()`), takes GPU LOCAL_RANK (or the
CPU with the gloo backend, as the tests do) and joins the process group. Without those variables
everything is single-process and nothing here changes behaviour.

Batches: every rank draws the *same* global batch from the same seeded `random.Random` and keeps
its contiguous slice of `batch_size / world` queries (`RankSlicedSampler`), so a run on N devices
sees exactly the batches of a run on one device, and a checkpoint of rank 0 resumes all ranks.

Loss: each rank embeds its slice; `gather_with_grad` concatenates all ranks' passage embeddings
(rank order = slice order) and keeps the gradient path to every rank's own slice, so each query
is scored against every passage of the global batch:

    L_r = CE(q_r · [p_0; ...; p_{N-1}]ᵀ / τ, positive of query i of rank r at (r·Q + i)·G)

mean_r L_r equals the single-process loss on the concatenated batch, and the backward all-reduce
(sum) of the gathered tensor's gradient followed by DDP's gradient averaging gives exactly its
gradient (tests/test_distributed.py checks both on 2 CPU processes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) outside torchrun."""
    env = os.environ
    return int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0"))


def init(device: str = "cpu", backend: str | None = None) -> Context:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); pick this rank's device.

    `device` is the single-process choice ("cuda" or "cpu"); under torchrun a CUDA rank gets
    cuda:LOCAL_RANK and the nccl backend, a CPU rank gloo."""
    rank, world, local = env_world()
    if world <= 1:
        return Context(device=device)
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
    return Context(rank=rank, world_size=world, local_rank=local, device=device)


def context() -> Context:
    """The running process group as a Context (single-process when none is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Context()
    rank, world, local = dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    return Context(rank=rank, world_size=world, local_rank=local)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def finish() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _GatherWithGrad(torch.autograd.Function):
    """all_gather along dim 0 whose backward sums the incoming gradients over ranks and returns this
    rank's slice (all_reduce works on every backend, gloo included, unlike reduce_scatter)."""

    @staticmethod
    def forward(ctx, x):  # x (n, d) on every rank -> (world * n, d)
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.n, ctx.rank = x.shape[0], dist.get_rank()
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):  # (world * n, d) -> (n, d)
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """-> (all ranks' x concatenated in rank order, this rank's index). Every rank must pass a tensor
    of the same shape. Single-process: (x, 0)."""
    if world_size() == 1:
        return x, 0
    return _GatherWithGrad.apply(x), dist.get_rank()


def mean_over_ranks(value: float) -> float:
    """Average a Python number over ranks (the logged loss of the global batch)."""
    if world_size() == 1:
        return value
    t = torch.tensor([float(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / world_size()


def sum_over_ranks(value: int) -> int:
    if world_size() == 1:
        return value
    t = torch.tensor([int(value)], dtype=torch.int64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return int(t.item())


class RankSlicedSampler:
    """Wraps a sampler with `draw(rng, batch_size)`: every rank draws the same global batch and keeps
    its contiguous slice, e.g. batch 8 on 2 ranks: rank 0 keeps groups 0-3, rank 1 groups 4-7.
    Other attributes (n_neg, state, load_state) are the wrapped sampler's."""

    def __init__(self, sampler, rank: int, world: int):
        self.base, self.rank, self.world = sampler, rank, world

    def draw(self, rng, batch_size: int):
        if batch_size % self.world:
            raise ValueError(f"batch_size {batch_size} is not divisible by the world size {self.world}")
        n = batch_size // self.world
        return self.base.draw(rng, batch_size)[self.rank * n : (self.rank + 1) * n]

    def __getattr__(self, name):
        return getattr(self.__dict__["base"], name)
