"""The task-agnostic trainer: AdamW, linear warmup + decay, gradient clipping, optional bf16 autocast,
optional gradient checkpointing, atomic resumable checkpoints, `curve.jsonl` (step, loss, lr,
grad_norm; dev metric every N steps) and `run_info.json`. Used by both stages (bi-encoder retrieval,
cross-encoder re-ranking). Under torchrun it trains data-parallel (DDP, see peftir.distributed):
every rank takes its slice of the same global batch; rank 0 alone evaluates, logs and checkpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from tqdm import tqdm

from peftir import distributed
from peftir.io import atomic_open, check_output_path, sha256_file, write_json, write_jsonl
from peftir.precision import resolve_bf16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200
    batch_size: int = 8
    lr: float = 1e-4
    head_lr: float | None = None  # the task head's own learning rate (a fresh head next to a tuned body)
    warmup: float = 0.1  # fraction of steps
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    bf16: bool | str = False  # True, False or "auto" (peftir.precision): resolved on the training device
    gradient_checkpointing: bool = False  # recompute each layer's activations in backward (less memory)
    eval_every: int = 50
    ckpt_every: int = 50
    log_every: int = 1

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """From a config section (`retriever` / `reranker`): its training fields; the keys the commands read
        themselves (n_neg, q_len, ..., the config schema's train_section) are passed over; any other key
        is refused, naming it (it would otherwise be silently ignored)."""
        from peftir.config import train_section_keys

        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names - train_section_keys())
        if unknown:
            raise ValueError(f"training settings: unknown key(s) {unknown}; known: {sorted(names | train_section_keys())}")
        return cls(**{k: v for k, v in d.items() if k in names})


def lr_lambda(step: int, total: int, warmup: int) -> float:
    """Linear warmup to 1 over `warmup` steps, then linear decay to 0 at `total`.
    E.g. total=10, warmup=2: steps 0,1,2,6 -> 0.5, 1.0, 1.0, 0.5."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def fingerprint(*objs) -> str:
    return hashlib.sha256(json.dumps(objs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def input_digests(paths: dict[str, str | Path | None]) -> dict[str, str]:
    """{name: sha256 prefix} of a job's input files (names whose path is None/empty are left out)."""
    return {k: sha256_file(p)[:16] for k, p in sorted(paths.items()) if p}


class NonFiniteLoss(ValueError):  # the CLI reports it as one line, exit 2
    pass


class Trainer:
    def __init__(self, model, task, cfg: TrainConfig, seed: int, ckpt_dir: str | Path | None,
                 dev_fn=None, probe=None, device: str = "cpu", key: str = "", dist=None,
                 inputs: dict[str, str | Path | None] | None = None):
        """`key`: the code-relevant configuration (method, hyper-parameters, backbone); `inputs`: the
        job's input files by name. A checkpoint resumes only when both (and the seed) are the same."""
        self.model, self.task, self.cfg, self.seed = model.to(device), task, cfg, seed
        self.dev_fn, self.probe, self.device = dev_fn, probe, device
        self.bf16 = resolve_bf16(cfg.bf16, device)  # "auto": only where the device computes bf16 natively
        self.dist = dist or distributed.context()
        if cfg.gradient_checkpointing:  # IAA-M's wrapped encoder forwards the flag to the real one
            model.bert.encoder.gradient_checkpointing = True
        self.ckpt = check_output_path(Path(ckpt_dir) / "checkpoint.pt") if ckpt_dir else None
        self.key_parts = {"config": fingerprint(key, seed), "inputs": input_digests(inputs or {})}
        self.key = fingerprint(self.key_parts)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in named]
        if not self.params:
            raise ValueError("nothing to train: the method left no parameter trainable")
        groups = [{"params": self.params}]
        if cfg.head_lr is not None:  # the randomly initialised head (CrossEncoder.head) learns at head_lr
            head = [p for n, p in named if n.startswith("head.")]
            if not head:
                raise ValueError("head_lr is set but the model has no trainable head.* parameters")
            body = [p for n, p in named if not n.startswith("head.")]
            groups = [g for g in ({"params": body}, {"params": head, "lr": cfg.head_lr}) if g["params"]]
        self.net = model  # what the loss runs through: the model, or its DDP wrapper
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            if getattr(task, "sampler", None) is not None:
                task.sampler = distributed.RankSlicedSampler(task.sampler, self.dist.rank, self.dist.world_size)
            cuda = torch.device(device).type == "cuda"
            self.net = DistributedDataParallel(model, device_ids=[torch.device(device).index] if cuda else None)
        self.opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        warm = round(cfg.warmup * cfg.steps)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_lambda(s, cfg.steps, warm))
        self.rng = random.Random(seed)
        torch.manual_seed(seed)
        self.step, self.curve, self.tokens, self.train_time = 0, [], 0, 0.0

    # --- checkpoints -------------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        if not self.dist.is_main:
            return
        state = {"key": self.key, "key_parts": self.key_parts, "step": self.step, "curve": self.curve,
                 "tokens": self.tokens, "train_time": self.train_time,
                 "probe_records": self.probe.records if self.probe is not None else None,
                 "trainable": {n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad},
                 "opt": self.opt.state_dict(), "sched": self.sched.state_dict(),
                 "rng": self.rng.getstate(), "torch_rng": torch.get_rng_state(),
                 "sampler": getattr(self.task, "sampler", None) and self.task.sampler.state()}
        with atomic_open(self.ckpt, "wb") as f:
            torch.save(state, f)

    def load_checkpoint(self) -> dict | None:
        """The checkpoint's state, loaded without unpickling code (`weights_only=True`: tensors and plain
        containers only); an unreadable file is named, moved aside and None returned (start over)."""
        try:
            s = torch.load(self.ckpt, map_location="cpu", weights_only=True)
            if not isinstance(s, dict) or not {"key", "step", "trainable", "opt"} <= set(s):
                raise ValueError("not a peftir training checkpoint")
            return s
        except Exception as e:  # noqa: BLE001 (truncated, corrupt or foreign: all mean "start over")
            aside = self.ckpt.with_name(f"{self.ckpt.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}")
            self.ckpt.replace(aside)
            log.warning("checkpoint %s is unreadable (%s: %s); moved aside to %s, training starts over",
                        self.ckpt, type(e).__name__, str(e)[:200], aside.name)
            return None

    def maybe_resume(self) -> bool:
        if not self.ckpt or not self.ckpt.exists():
            return False
        s = self.load_checkpoint()
        if s is None:
            return False
        if s["key"] != self.key:
            old = s.get("key_parts") or {}
            why = []
            if old.get("config") != self.key_parts["config"]:
                why.append("configuration (method, hyper-parameters, backbone or seed)")
            changed = sorted(k for k in set(old.get("inputs", {})) | set(self.key_parts["inputs"])
                             if old.get("inputs", {}).get(k) != self.key_parts["inputs"].get(k))
            if changed:
                why.append(f"inputs {changed}")
            log.warning("ignoring checkpoint %s at step %s: it was written by another computation (changed: %s); "
                        "training starts over", self.ckpt, s.get("step"), "; ".join(why) or "unknown")
            return False
        self.model.load_state_dict(s["trainable"], strict=False)
        self.opt.load_state_dict(s["opt"])
        self.sched.load_state_dict(s["sched"])
        self.rng.setstate(s["rng"])
        torch.set_rng_state(s["torch_rng"])
        if s["sampler"] is not None:
            self.task.sampler.load_state(s["sampler"])
        self.step, self.curve, self.tokens, self.train_time = s["step"], s["curve"], s["tokens"], s["train_time"]
        if self.probe is not None and s.get("probe_records") is not None:
            self.probe.records = list(s["probe_records"])
        log.info("resumed from %s at step %d", self.ckpt, self.step)
        return True

    # --- the loop ----------------------------------------------------------------------------------
    def autocast(self):
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16)

    def evaluate(self) -> None:
        if self.dev_fn is None or not self.dist.is_main:
            return
        self.model.eval()
        with torch.no_grad(), self.autocast():
            metrics = self.dev_fn(self.model)
        self.curve.append({"step": self.step, **{f"dev_{k}": v for k, v in metrics.items()}})

    def run(self):
        from peftir.tasks import to_device

        resumed = self.maybe_resume()
        if self.step == 0 and not resumed:
            self.evaluate()
        bar = tqdm(total=self.cfg.steps, initial=self.step, desc="train", mininterval=5, dynamic_ncols=True,
                   disable=not self.dist.is_main)
        while self.step < self.cfg.steps:
            t0 = time.perf_counter()
            self.model.train()
            batch = to_device(self.task.batch(self.rng), self.device)
            if self.probe is not None:
                self.probe.before_step(self.model, self.step)
            with self.autocast():
                loss = self.task.loss(self.net, batch)
            if not torch.isfinite(loss.detach()).all():
                raise NonFiniteLoss(f"training loss is {loss.item()} at step {self.step + 1} (lr "
                                    f"{self.sched.get_last_lr()[0]:.3g}): stopped, no model or metrics written")
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
            lr = self.sched.get_last_lr()[0]
            self.opt.step()
            self.sched.step()
            self.opt.zero_grad(set_to_none=True)
            self.step += 1
            if self.probe is not None:
                self.probe.after_step(self.model, self.step)
            self.train_time += time.perf_counter() - t0
            self.tokens += self.task.tokens(batch)
            value = loss.item() if not self.dist.enabled else distributed.mean_over_ranks(loss.item())  # global batch
            self.curve.append({"step": self.step, "loss": round(value, 6), "lr": lr,
                               "grad_norm": round(float(gn), 6)})
            bar.update(1)
            bar.set_postfix(loss=f"{value:.3f}")
            if self.cfg.eval_every and (self.step % self.cfg.eval_every == 0 or self.step == self.cfg.steps):
                self.evaluate()
            if self.ckpt and self.cfg.ckpt_every and self.step % self.cfg.ckpt_every == 0 and self.step < self.cfg.steps:
                self.save_checkpoint()
        bar.close()
        return self.curve

    def write_curve(self, path) -> None:
        write_jsonl(self.curve, path)

    def stats(self) -> dict:
        tokens = distributed.sum_over_ranks(self.tokens) if self.dist.enabled else self.tokens  # all devices
        return {"steps": self.step, "train_time_s": round(self.train_time, 2), "tokens": tokens,
                "tokens_per_s": round(tokens / max(self.train_time, 1e-9), 1),
                "s_per_step": round(self.train_time / max(self.step, 1), 4), "world_size": self.dist.world_size,
                "gradient_checkpointing": self.cfg.gradient_checkpointing, "bf16": self.bf16}

    def cleanup(self) -> None:
        if self.ckpt and self.ckpt.exists() and self.dist.is_main:
            self.ckpt.unlink()


__all__ = ["NonFiniteLoss", "TrainConfig", "Trainer", "input_digests", "lr_lambda", "write_json"]
