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


# --- hardening (issue 13): safe loading, input-keyed resume, probe records, non-finite loss ----------


class Payload:
    """Pickled into a planted checkpoint: unpickling it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_planted_pickle_checkpoint_is_never_executed(tmp_path, caplog):
    marker = tmp_path / "pwned"
    (tmp_path / "ck").mkdir()
    torch.save({"key": "x", "step": 3, "trainable": {}, "opt": Payload(marker)}, tmp_path / "ck" / "checkpoint.pt")
    cfg = TrainConfig(steps=2, lr=1e-2, eval_every=0, ckpt_every=1)
    t = Trainer(_model(), ToyTask(), cfg, seed=5, ckpt_dir=tmp_path / "ck", key="toy")
    assert not t.maybe_resume()
    assert not marker.exists()
    assert "unreadable" in caplog.text and "checkpoint.pt" in caplog.text


def test_truncated_checkpoint_is_named_moved_aside_and_training_restarts(tmp_path, caplog):
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, crash_at=5)
    ck = tmp_path / "checkpoint.pt"
    ck.write_bytes(ck.read_bytes()[:100])  # truncated
    t, _ = _train(tmp_path)
    assert t.step == 6 and t.curve[0]["step"] == 1  # from scratch
    assert str(ck) in caplog.text and "moved aside" in caplog.text
    assert len(list(tmp_path.glob("checkpoint.pt.unreadable-*"))) == 1


def test_checkpoint_of_other_inputs_is_ignored_naming_them(tmp_path, caplog):
    data = tmp_path / "triples.jsonl"
    data.write_text("a\n")
    cfg = TrainConfig(steps=6, lr=1e-2, eval_every=0, ckpt_every=2)
    with pytest.raises(KeyboardInterrupt):
        Trainer(_model(), ToyTask(5), cfg, seed=5, ckpt_dir=tmp_path, key="toy", inputs={"triples": data}).run()
    same = Trainer(_model(), ToyTask(), cfg, seed=5, ckpt_dir=tmp_path, key="toy", inputs={"triples": data})
    assert same.maybe_resume() and same.step == 4
    data.write_text("b\n")  # the data changed (e.g. another negatives.depth): the checkpoint is stale
    other = Trainer(_model(), ToyTask(), cfg, seed=5, ckpt_dir=tmp_path, key="toy", inputs={"triples": data})
    assert not other.maybe_resume() and other.step == 0
    assert "inputs ['triples']" in caplog.text


class ToyProbe:
    """Records (step, a parameter's sum) before every second step: what a resumed run must keep."""

    def __init__(self):
        self.records = []

    def before_step(self, model, step):
        if step % 2 == 0:
            p = next(p for p in model.parameters() if p.requires_grad)
            self.records.append({"step": step, "sum": round(float(p.detach().sum()), 6)})

    def after_step(self, model, step):
        pass


def test_probe_records_survive_kill_and_resume(tmp_path):
    cfg = TrainConfig(steps=6, lr=1e-2, eval_every=0, ckpt_every=2)
    ref = ToyProbe()
    Trainer(_model(), ToyTask(), cfg, seed=5, ckpt_dir=tmp_path / "a", key="toy", probe=ref).run()
    with pytest.raises(KeyboardInterrupt):
        Trainer(_model(), ToyTask(5), cfg, seed=5, ckpt_dir=tmp_path / "b", key="toy", probe=ToyProbe()).run()
    resumed = ToyProbe()
    Trainer(_model(), ToyTask(), cfg, seed=5, ckpt_dir=tmp_path / "b", key="toy", probe=resumed).run()
    assert len(ref.records) == 3
    assert resumed.records == ref.records


def test_non_finite_loss_stops_naming_the_step(tmp_path):
    """lr = inf: step 1 is finite, its update makes the weights inf, step 2's loss is NaN -> stop."""
    from peftir.train import NonFiniteLoss

    cfg = TrainConfig(steps=4, lr=float("inf"), warmup=0.0, eval_every=0, ckpt_every=1)
    with pytest.raises(NonFiniteLoss, match=r"at step 2"):
        Trainer(_model("full"), ToyTask(), cfg, seed=5, ckpt_dir=tmp_path).run()


class NanTask(ToyTask):
    def loss(self, model, batch):
        out = super().loss(model, batch)
        return out * float("nan") if self.calls == 3 else out


def test_nan_loss_mid_run_stops_naming_the_step():
    from peftir.train import NonFiniteLoss

    cfg = TrainConfig(steps=5, lr=1e-2, eval_every=0, ckpt_every=0)
    with pytest.raises(NonFiniteLoss, match=r"nan at step 3"):
        Trainer(_model(), NanTask(), cfg, seed=5, ckpt_dir=None).run()
