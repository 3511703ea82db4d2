"""The update-direction probe as a Trainer hook: when it measures, what it records, and that a
probed run trains exactly like an unprobed one."""

import gzip
import json
import random

import pytest
import torch

from peftir.analysis.probe import TrainingProbe, retrieval_probe
from peftir.models import factory
from peftir.train import TrainConfig, Trainer


class ToyTask:
    def batch(self, rng: random.Random):
        g = torch.Generator().manual_seed(rng.randrange(2**31))
        ids = torch.randint(5, 90, (6, 8), generator=g)
        mask = torch.ones(6, 8, dtype=torch.long)
        mask[3, 5:] = 0  # some padding
        return {
            "q": {"input_ids": ids[:2], "attention_mask": mask[:2]},
            "p": {"input_ids": ids[2:], "attention_mask": mask[2:]},
        }

    def loss(self, model, batch):
        return model(batch["q"], batch["p"], 0.5)

    def tokens(self, batch):
        return 48


def _run(method, probe_every=None, steps=6):
    spec = {"method": method, "params": {"r": 2} if method in ("lora", "adapter") else {}, "budget_pct": None}
    model = factory.build("retriever", "tiny:2x32", spec, "mean", False, seed=3)
    task = ToyTask()
    probe = None
    if probe_every:
        probe = TrainingProbe([task.batch(random.Random(99))], task.loss, every=probe_every)
    t = Trainer(
        model,
        task,
        TrainConfig(steps=steps, lr=1e-2, eval_every=0, ckpt_every=0),
        seed=5,
        ckpt_dir=None,
        probe=probe,
    )
    t.run()
    return t.curve, probe, model


@pytest.mark.parametrize("method", ["full", "lora"])
def test_probe_does_not_change_training(method):
    plain, _, m1 = _run(method)
    probed, probe, m2 = _run(method, probe_every=2)
    assert [r["loss"] for r in plain] == [r["loss"] for r in probed]
    for (n, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), n
    # the first step, then every 2nd: recorded steps (after the update) 1, 2, 4, 6; two layers each
    assert sorted({r["step"] for r in probe.records}) == [1, 2, 4, 6]
    assert {(r["layer"], r["batch"]) for r in probe.records} == {(0, 0), (1, 0)}
    assert len(probe.records) == 8


def test_full_fine_tuning_gives_a_cosine_at_every_layer():
    """Full fine-tuning trains the embeddings, so every layer's output moves: no NaN, |cos| ≤ 1."""
    _, probe, _ = _run("full", probe_every=1, steps=3)
    cos = [r["cosine"] for r in probe.records]
    assert len(cos) == 6 and all(-1 <= c <= 1 for c in cos)  # NaN fails too
    assert all(r["delta_norm"] > 0 and r["grad_norm"] > 0 for r in probe.records)


def test_records_round_trip(tmp_path):
    """The records written as JSON Lines read back unchanged."""
    _, probe, _ = _run("lora", probe_every=3, steps=3)
    probe.write(tmp_path / "d.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert rows == json.loads(json.dumps(probe.records))  # NaN survives as NaN
    assert {"step", "batch", "layer", "cosine", "delta_norm", "grad_norm"} <= set(rows[0])


def test_retrieval_probe_draws_its_own_batches(tmp_path):
    from peftir.models.backbone import load_tokenizer
    from peftir.tasks import RetrievalTask, TripleSampler

    corpus = {f"d{i}": f"passage number {i} about debian packages" for i in range(12)}
    rows = [
        {
            "qid": f"q{i}",
            "query": f"query {i}",
            "pos": [f"d{i}"],
            "negs": [f"d{(i + 1) % 12}", f"d{(i + 2) % 12}"],
        }
        for i in range(6)
    ]
    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    task = RetrievalTask(load_tokenizer("tiny:2x32"), TripleSampler(path, corpus, 1), 3, 8, 16, 0.5)
    task.sampler.order = [4, 2]
    probe = retrieval_probe(task, {"every": 5, "batches": 2, "batch_size": 2, "seed": 1})
    assert task.sampler.order == [4, 2] and task.batch_size == 3  # the training task is untouched
    assert len(probe.batches) == 2 and probe.every == 5
    assert (
        probe.batches[0]["q"]["input_ids"].shape[0] == 2 and probe.batches[0]["p"]["input_ids"].shape[0] == 4
    )
    again = retrieval_probe(task, {"every": 5, "batches": 2, "batch_size": 2, "seed": 1})
    assert torch.equal(again.batches[1]["p"]["input_ids"], probe.batches[1]["p"]["input_ids"])
    with pytest.raises(ValueError, match="unknown keys"):
        retrieval_probe(task, {"evry": 5})
