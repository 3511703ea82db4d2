"""The update-direction probe as a Trainer hook (claim 3 measured; this project's reconstruction,
see discrepancy.py for the definition of the per-layer cosine).

`TrainingProbe` holds a few fixed probe batches drawn once, with their own seeded sampler (never
the trainer's RNG or sampler state, so a probed run trains exactly like an unprobed one). The
Trainer calls `before_step(model, step)` before each optimizer step and `after_step(model, step)`
after it; the probe measures at the first step and then every `every`-th (recorded steps 1, every,
2·every, ...; the step is the trainer's count after the update, as in curve.jsonl). Each record is
{"step", "batch", "layer", "cosine", "delta_norm", "grad_norm"}. [D] Padding positions are excluded
(the attention masks); probes run in eval mode (no dropout). The records travel in the trainer's
checkpoint, so a run resumed after a kill writes the same records as an uninterrupted one.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence

from torch import nn

from peftir.analysis import settings as aset
from peftir.analysis.discrepancy import UpdateDirectionProbe
from peftir.io import write_jsonl


def bert_layers(model: nn.Module) -> list[nn.Module]:
    """The modules at the positions of the backbone's layer list (through IAA-M's encoder wrapper)."""
    return list(model.bert.encoder.layers)


class TrainingProbe:
    def __init__(
        self,
        batches: Sequence[dict],
        loss: Callable,
        every: int = 10,
        layers: Callable[[nn.Module], Sequence[nn.Module]] = bert_layers,
    ):
        """`batches`: task batches ({"q": ..., "p": ...} for retrieval); `loss(model, batch)` the
        task's loss; `every` ≥ 1."""
        if every < 1:
            raise ValueError(f"probe every={every}: must be ≥ 1")
        self.batches, self.loss, self.every = list(batches), loss, every
        self.probes = [UpdateDirectionProbe(layers) for _ in self.batches]
        self.records: list[dict] = []
        self._active = False

    def due(self, step: int) -> bool:
        """`step`: steps completed before this one (the trainer's count)."""
        return step == 0 or (step + 1) % self.every == 0

    def before_step(self, model: nn.Module, step: int) -> None:
        self._active = self.due(step)
        if not self._active:
            return
        device = next(model.parameters()).device
        for probe, batch in zip(self.probes, self.batches):
            b = _to(batch, device)
            masks = [b[k]["attention_mask"] for k in ("q", "p") if k in b]
            probe.before_step(model, lambda b=b: self.loss(model, b), mask=masks or None)

    def after_step(self, model: nn.Module, step: int) -> None:
        if not self._active:
            return
        for i, probe in enumerate(self.probes):
            n = len(probe.records)
            probe.after_step(model, step=step)
            self.records += [{**r, "batch": i} for r in probe.records[n:]]
        self._active = False

    def write(self, path) -> None:
        write_jsonl(self.records, path)


def _to(batch, device):
    from peftir.tasks import to_device

    return to_device(batch, device)


def retrieval_probe(task, settings: dict) -> TrainingProbe:
    """A probe for a `RetrievalTask`: `settings` {"every", "batches", "batch_size", "seed"} (config.yaml's
    analysis.discrepancy fills the gaps); the batches come from a copy of the task's sampler with its own
    seeded RNG."""
    unknown = sorted(set(settings) - set(aset.PROBE_KEYS))
    if unknown:
        raise ValueError(f"probe settings: unknown keys {unknown}; valid: {sorted(aset.PROBE_KEYS)}")
    s = {**{k: aset.defaults()["discrepancy"][k] for k in aset.PROBE_KEYS}, **settings}
    sampler = copy.copy(task.sampler)  # shares the read-only rows; its own shuffle order
    sampler.order = []
    probe_task = copy.copy(task)
    probe_task.sampler, probe_task.batch_size = sampler, s["batch_size"]
    rng = random.Random(s["seed"])
    batches = [probe_task.batch(rng) for _ in range(s["batches"])]
    return TrainingProbe(batches, lambda model, b: task.loss(model, b), every=s["every"])
