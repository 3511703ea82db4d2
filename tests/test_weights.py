"""Model directories hold safetensors (data), and loading never unpickles a file (issue 16, item 2)."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from peftir.models import factory

SPEC = {"name": "lora", "method": "lora", "params": {"r": 2, "alpha": 4}, "budget_pct": None}


class _Trap:
    """Unpickling this runs code: it writes `marker` (a stand-in for whatever a handed-over pickle does)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _trained(tmp_path):
    model = factory.build("retriever", "tiny:1x32", SPEC, "mean", normalize=True, seed=3)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p))
    factory.save(model, tmp_path / "m")
    return model.eval(), tmp_path / "m"


def _embed(model):
    ids = torch.tensor([[101, 2000, 2001, 102], [101, 3000, 102, 0]])
    mask = (ids > 0).long()
    with torch.no_grad():
        return model.encode(ids, mask)


def test_round_trip_is_safetensors(tmp_path):
    model, d = _trained(tmp_path)
    assert sorted(p.name for p in d.iterdir()) == ["model.json", "trainable.safetensors"]
    with open(d / "trainable.safetensors", "rb") as f:  # safetensors: 8-byte header length, then JSON
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(header) - {"__metadata__"} == expected
    meta = json.loads((d / "model.json").read_text())
    assert meta["trainable_file_bytes"] == (d / "trainable.safetensors").stat().st_size
    loaded = factory.load(d)
    assert torch.equal(_embed(loaded), _embed(model))
    fresh = factory.build("retriever", "tiny:1x32", SPEC, "mean", normalize=True, seed=3).eval()
    assert not torch.allclose(_embed(fresh), _embed(model))  # the weights really came from the file


def test_planted_pickle_is_never_loaded(tmp_path):
    _, d = _trained(tmp_path)
    marker = tmp_path / "pwned"
    pickle.dumps(_Trap(marker))  # the trap is a valid pickle payload
    (d / "trainable.pt").write_bytes(pickle.dumps({"x": _Trap(marker)}))
    factory.load(d)  # a pickle beside the safetensors: ignored
    assert not marker.exists()
    (d / "trainable.safetensors").unlink()  # only the pickle left: refused, not opened
    with pytest.raises(ValueError, match="pickled weights are not loaded"):
        factory.load(d)
    assert not marker.exists()
    from peftir.analysis import landscape_job

    with pytest.raises(ValueError, match="pickled weights are not loaded"):
        landscape_job.load_initial_and_trained(d)
    assert not marker.exists()


def test_tensor_names_must_match(tmp_path):
    _, d = _trained(tmp_path)
    factory.save_weights({"bert.nope": torch.zeros(2)}, d / "trainable.safetensors")
    with pytest.raises(ValueError, match="do not match"):
        factory.load(d)
