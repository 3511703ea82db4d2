"""A trained model's landscape: θ_0 rebuilt from the seed, the slices' shapes and consistency, and the
sharpness summary on hand-made arrays."""

import numpy as np
import pytest
import torch

from peftir.analysis import landscape_job as job
from peftir.models import factory

SMALL = {"points_1d": 5, "directions_1d": 2, "grid_2d": 3, "span": 0.5, "path_points": 3, "sample_queries": 2}


def _trained(tmp_path, method="lora"):
    spec = {
        "name": method,
        "method": method,
        "params": {"r": 2} if method == "lora" else {},
        "budget_pct": None,
    }
    model = factory.build("retriever", "tiny:2x32", spec, "mean", False, seed=4)
    init = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))  # "training"
    factory.save(model, tmp_path / "model", {"seed": 4})
    return model, init


class Task:
    batch_size = 2

    def batch(self, rng):
        g = torch.Generator().manual_seed(rng.randrange(2**31))
        ids = torch.randint(5, 90, (6, 8), generator=g)
        ones = torch.ones(6, 8, dtype=torch.long)
        return {
            "q": {"input_ids": ids[:2], "attention_mask": ones[:2]},
            "p": {"input_ids": ids[2:], "attention_mask": ones[2:]},
        }

    def loss(self, model, batch):
        return model(batch["q"], batch["p"], 0.5)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_initial_and_trained(tmp_path, method):
    trained, init = _trained(tmp_path, method)
    model, theta0 = job.load_initial_and_trained(tmp_path / "model")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names == list(init)
    for n, t0 in zip(names, theta0):
        assert torch.equal(t0, init[n]), n  # θ_0: the factory's initial parameters for seed 4
    # θ_1 = the trained model, frozen parameters included (the tiny backbone is rebuilt from the seed)
    for (n, a), b in zip(model.state_dict().items(), trained.state_dict().values()):
        assert torch.equal(a, b), n


def test_compute_slices_are_consistent(tmp_path):
    _trained(tmp_path)
    model, theta0 = job.load_initial_and_trained(tmp_path / "model")
    batches = job.training_sample(Task(), 3, seed=0)  # 3 queries -> 2 batches of 2
    assert len(batches) == 2
    loss_fn = job.loss_function(model, Task(), batches)
    before = [p.detach().clone() for p in model.parameters()]
    data = job.compute(model, theta0, loss_fn, SMALL)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # restored
    f0 = loss_fn()
    assert data["losses_1d"].shape == (2, 5) and data["losses_2d"].shape == (3, 3)
    assert data["losses_1d"][:, 2] == pytest.approx([f0, f0])  # α = 0 is θ_1
    assert data["losses_2d"][1, 1] == pytest.approx(f0)
    assert data["losses_path"][-1] == pytest.approx(f0)  # t = 1 is θ_1
    assert not np.allclose(data["losses_1d"][0], f0)  # the directions move the loss
    with pytest.raises(ValueError, match="unknown keys"):
        job.settings_of({"grid": 3})


def test_bf16_loss_is_close_to_fp32(tmp_path):
    """retriever.bf16 -> the landscape's loss is computed as in training (bf16 autocast encoder, fp32
    scores): close to the fp32 loss, and deterministic (the same parameters give the same value)."""
    _trained(tmp_path)
    model, _ = job.load_initial_and_trained(tmp_path / "model")
    batches = job.training_sample(Task(), 4, seed=0)
    f32, b16 = job.loss_function(model, Task(), batches), job.loss_function(model, Task(), batches, bf16=True)
    assert b16() == b16()
    assert b16() == pytest.approx(f32(), rel=0.05)
    assert b16() != f32()  # autocast really was on


def test_summary_by_hand():
    """f(α) = α² + 1 on α ∈ {−1, −.5, 0, .5, 1}: rise at r = .5 is .25, relative .25; 2-D f = α² + β² + 1
    on {−.5, 0, .5}²: max rise within .5 is .5; path g = [3, 1.5, 2, 1] on t = 0, 1/3, 2/3, 1:
    barrier max(g) − max(g(0), g(1)) = 0, drop 2; a bump [1, 4, 1] has barrier 3."""
    a = np.array([-1, -0.5, 0, 0.5, 1.0])
    b = np.array([-0.5, 0, 0.5])
    data = {
        "alphas_1d": a,
        "losses_1d": np.stack([a**2 + 1, 2 * a**2 + 1]),
        "alphas_2d": b,
        "betas_2d": b,
        "losses_2d": b[:, None] ** 2 + b[None, :] ** 2 + 1,
        "ts": np.linspace(0, 1, 4),
        "losses_path": np.array([3.0, 1.5, 2.0, 1.0]),
    }
    s = job.summary(data, 0.5)
    assert s["loss at θ1"] == [1.0, 1.0]
    assert s["sharpness r=0.5"] == pytest.approx([0.25, 0.5])
    assert s["sharpness rel r=0.5"] == pytest.approx([0.25, 0.5])
    assert s["2-D max rise r=0.5"] == pytest.approx([0.5])
    assert s["path barrier"] == [0.0] and s["path drop"] == [2.0]
    data.update(ts=np.array([0, 0.5, 1.0]), losses_path=np.array([1.0, 4.0, 1.0]))
    assert job.summary(data, 0.5)["path barrier"] == [3.0]


def test_cli_landscape_on_files(tmp_path):
    """`peftir landscape` on a saved tiny model, a BEIR corpus and triples: the .npz has every slice."""
    import gzip
    import json

    from peftir.analysis.landscape import load_landscape
    from peftir.cli import main

    model_dir = tmp_path / "results" / "retriever" / "lora" / "small" / "s4"
    _trained(model_dir)
    corpus, triples = tmp_path / "corpus.jsonl.gz", tmp_path / "triples.jsonl.gz"
    with gzip.open(corpus, "wt") as f:
        f.writelines(
            json.dumps({"_id": f"d{i}", "title": "", "text": f"passage {i} on apt"}) + "\n" for i in range(8)
        )
    with gzip.open(triples, "wt") as f:
        f.writelines(json.dumps({"qid": f"q{i}", "query": f"query {i}", "pos": [f"d{i}"], "negs": [f"d{i + 1}"]}) + "\n"
                     for i in range(4))  # fmt: skip
    hp = {"batch_size": 2, "n_neg": 1, "q_len": 8, "p_len": 16, "temperature": 0.5}
    out = tmp_path / "ls.npz"
    assert main(["landscape", "--model", str(model_dir / "model"), "--triples", str(triples), "--corpus", str(corpus),
                 "--train-json", json.dumps(hp), "--settings-json", json.dumps(SMALL), "--out", str(out),
                 "--threads", "1"]) == 0  # fmt: skip
    d = load_landscape(out)
    assert d["losses_2d"].shape == (3, 3) and d["losses_path"].shape == (3,)
    assert d["meta"]["run"] == "lora" and d["meta"]["seed"] == 4 and d["meta"]["sample_queries"] == 2
    assert d["meta"]["settings"]["points_1d"] == 5 and d["meta"]["trainable_params"] > 0
