"""Trainer: schedule, loss, determinism, and resume-after-crash equals an uninterrupted run."""

import math
import random

import pytest
import torch

from peftir.models import factory
from peftir.models.biencoder import contrastive_loss
from peftir.train import TrainConfig, Trainer, lr_lambda


def test_lr_schedule():
    assert [lr_lambda(s, 10, 2) for s in (0, 1, 2, 6, 10)] == [0.5, 1.0, 1.0, 0.5, 0.0]


def test_contrastive_loss_hand_value():
    # Q=2 queries, G=2 passages each; query i's positive is passage 2i.
    qe = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pe = torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    # scores row 0 = [2, 0, 0, 0] -> -log(e^2 / (e^2 + 3)); same for row 1
    expected = -math.log(math.e**2 / (math.e**2 + 3))
    assert contrastive_loss(qe, pe).item() == pytest.approx(expected, rel=1e-6)


class ToyTask:
    """Random token batches; crashes on demand to simulate a killed job."""

    def __init__(self, crash_at=None):
        self.crash_at, self.calls = crash_at, 0

    def batch(self, rng: random.Random):
        self.calls += 1
        if self.crash_at is not None and self.calls == self.crash_at:
            raise KeyboardInterrupt("simulated crash")
        g = torch.Generator().manual_seed(rng.randrange(2**31))
        ids = torch.randint(5, 90, (6, 8), generator=g)
        return {"q": {"input_ids": ids[:2], "attention_mask": torch.ones(2, 8, dtype=torch.long)},
                "p": {"input_ids": ids[2:], "attention_mask": torch.ones(4, 8, dtype=torch.long)}}

    def loss(self, model, batch):
        return model(batch["q"], batch["p"], 0.5)

    def tokens(self, batch):
        return 48


def _model(method="lora"):
    spec = {"method": method, "params": {"r": 2} if method == "lora" else {}, "budget_pct": None}
    return factory.build("retriever", "tiny:2x32", spec, "mean", False, seed=3)


def _train(tmp, crash_at=None, method="lora", seed=5):
    cfg = TrainConfig(steps=6, lr=1e-2, eval_every=0, ckpt_every=2)
    model = _model(method)
    t = Trainer(model, ToyTask(crash_at), cfg, seed=seed, ckpt_dir=tmp, key="toy")
    t.run()
    return t, model


def test_resume_after_crash_is_identical(tmp_path):
    ref, ref_model = _train(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", crash_at=5)  # dies during step 5, after the step-4 checkpoint
    assert (tmp_path / "b" / "checkpoint.pt").exists()
    resumed, model = _train(tmp_path / "b")
    assert [r["loss"] for r in resumed.curve] == [r["loss"] for r in ref.curve]
    for (n, a), (_, b) in zip(ref_model.named_parameters(), model.named_parameters()):
        assert torch.equal(a, b), n


def test_same_seed_same_result_other_seed_differs(tmp_path):
    a, _ = _train(None)
    b, _ = _train(None)
    c, _ = _train(None, seed=6)
    assert [r["loss"] for r in a.curve] == [r["loss"] for r in b.curve]
    assert [r["loss"] for r in a.curve] != [r["loss"] for r in c.curve]


def test_checkpoint_of_other_config_is_ignored(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, crash_at=5)
    cfg = TrainConfig(steps=6, lr=1e-2, eval_every=0, ckpt_every=2)
    t = Trainer(_model(), ToyTask(), cfg, seed=5, ckpt_dir=tmp_path, key="other")
    assert not t.maybe_resume()


def test_only_trainable_tensors_move(tmp_path):
    model = _model("lora")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    Trainer(model, ToyTask(), TrainConfig(steps=2, lr=1e-2, eval_every=0, ckpt_every=0), 1, None).run()
    for n, p in model.named_parameters():
        assert torch.equal(before[n], p) != p.requires_grad, n


def test_head_lr_gets_its_own_param_group():
    """reranker `head_lr`: the fresh cross-encoder head learns at its own rate, the body at `lr`; both
    follow the same warmup/decay schedule. Without a head, head_lr is an error, not silently ignored."""
    spec = {"method": "full", "params": {}, "budget_pct": None}
    ce = factory.build("reranker", "tiny:2x32", spec, "cls", seed=3)
    cfg = TrainConfig(steps=10, lr=1e-5, head_lr=1e-3, warmup=0.0, eval_every=0, ckpt_every=0)
    t = Trainer(ce, ToyTask(), cfg, seed=1, ckpt_dir=None)
    body, head = t.opt.param_groups
    assert {id(p) for p in head["params"]} == {id(p) for p in ce.head.parameters()}
    assert len(body["params"]) == len(t.params) - 2
    assert (body["lr"], head["lr"]) == pytest.approx((1e-5, 1e-3))
    t.sched.step()
    assert t.sched.get_last_lr() == pytest.approx([0.9e-5, 0.9e-3])  # linear decay, same factor
    assert len(Trainer(ce, ToyTask(), TrainConfig(steps=2), 1, None).opt.param_groups) == 1
    with pytest.raises(ValueError, match="no trainable head"):
        Trainer(_model(), ToyTask(), TrainConfig(steps=2, head_lr=1e-3), 1, None)
