"""Method contract, parametrised over every registered method (architecture.md, "method contract"):
only its parameters train; zero-init methods leave the output unchanged at init; one step changes only
trainable tensors; the trainable count equals the formula; save → load gives identical outputs; bad
keys and sizes fail with the valid choices in the message."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from peftir.methods import REGISTRY, apply_method, get_method, method_names
from peftir.methods.registry import trainable_state_dict
from peftir.models.bert import n_params
from peftir.models.factory import save_weights

from .conftest import TINY, applied, backbone, cases, perturb_trainable, trainable_names

# Backbone tensors a method may unfreeze (by name, before surgery); every other method trains none.
BACKBONE_TRAINS = {"full": lambda name: True, "bitfit": lambda name: name.endswith(".bias")}


@pytest.mark.parametrize("key", method_names())
def test_registry_entry_is_complete(key):
    m = get_method(key)
    assert m.key == key and REGISTRY[key] is m
    assert dataclasses.is_dataclass(m.Config) and m.Config.__dataclass_params__.frozen
    names = {f.name for f in dataclasses.fields(m.Config)}
    assert set(m.size_fields) <= names
    cfg = m.config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.r = 1
    assert isinstance(m.count(TINY, cfg), int) and isinstance(m.count_train(TINY, cfg), int)


@pytest.mark.parametrize("key, params", cases())
def test_only_method_params_train_and_count_matches(key, params):
    model = backbone()
    original = {id(p): n for n, p in model.named_parameters()}
    model = apply_method(model, key, params)
    method, cfg = get_method(key), get_method(key).config(params)
    may_train = BACKBONE_TRAINS.get(key, lambda name: False)
    for name, p in model.named_parameters():
        if id(p) in original:  # a backbone tensor (possibly renamed by wrapping)
            assert p.requires_grad == may_train(original[id(p)]), name
        else:  # inserted by the method
            assert p.requires_grad, name
    assert n_params(model, trainable_only=True) == method.count_train(TINY, cfg)
    if key != "full":  # full's count() is the budget denominator (includes the pooler the tasks don't use)
        assert method.count(TINY, cfg) <= method.count_train(TINY, cfg)
    assert model.pet_method["key"] == key


@pytest.mark.parametrize("key, params", cases())
def test_zero_init_identity(key, params, batch):
    ids, mask = batch
    with torch.no_grad():
        ref = backbone()(ids, mask)
        out = applied(key, params)(ids, mask)
    assert out.shape == ref.shape
    if get_method(key).zero_init_identity:
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    else:  # the flag must not under-promise either: such methods do change the output at init
        assert (out - ref).abs().max() > 1e-4


@pytest.mark.parametrize("key, params", cases())
def test_one_adamw_step_changes_only_trainable_tensors(key, params, batch):
    ids, mask = batch
    model = applied(key, params)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)  # all of them: frozen ones must get no grad
    target = torch.randn(3, 7, TINY.hidden_size, generator=torch.Generator().manual_seed(5))
    (model(ids, mask) * target).sum().backward()
    opt.step()
    train = trainable_names(model)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= train
    for n, p in model.named_parameters():
        assert (p.grad is None) == (n not in train), n
        if p.grad is not None and p.grad.abs().max() > 0:
            assert n in changed, n


@pytest.mark.parametrize("key, params", cases())
def test_save_load_round_trip(key, params, batch, tmp_path):
    ids, mask = batch
    a = applied(key, params, method_seed=1)
    perturb_trainable(a)  # "trained": the zero-initialised parts carry values too
    save_weights(trainable_state_dict(a), tmp_path / "trainable.safetensors")
    sd = load_file(tmp_path / "trainable.safetensors")
    assert set(sd) == trainable_names(a)  # only trainable tensors are written
    assert sum(t.numel() for t in sd.values()) == n_params(a, trainable_only=True)

    b = applied(key, params, method_seed=2)  # same backbone, different method init
    with torch.no_grad():
        out_a, out_b = a(ids, mask), b(ids, mask)
    assert not torch.equal(out_a, out_b)
    missing, unexpected = b.load_state_dict(sd, strict=False)
    assert not unexpected and set(missing) == {n for n, _ in b.named_parameters()} - set(sd)
    with torch.no_grad():
        torch.testing.assert_close(b(ids, mask), out_a, rtol=0, atol=0)


@pytest.mark.parametrize("key, params", cases())
def test_new_modules_follow_backbone_dtype(key, params, batch):
    model = applied(key, params, dtype=torch.float64)
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert model(*batch).dtype == torch.float64


def test_unknown_key_lists_registered_keys():
    with pytest.raises(KeyError) as e:
        get_method("nope")
    for k in method_names():
        assert k in str(e.value)
    with pytest.raises(KeyError, match="registered methods"):
        apply_method(backbone(), "nope")


@pytest.mark.parametrize("key", method_names())
def test_unknown_parameter_lists_fields(key):
    fields = [f.name for f in dataclasses.fields(get_method(key).Config)]
    with pytest.raises(ValueError, match="unknown parameter") as e:
        get_method(key).config({"bogus": 1})
    for f in fields:
        assert f in str(e.value)


@pytest.mark.parametrize("key", [k for k in method_names() if get_method(k).size_fields])
@pytest.mark.parametrize("bad", [0, -3, "x", 1.5, True, None])
def test_bad_size_fails_listing_fields(key, bad):
    m = get_method(key)
    for f in m.size_fields:
        with pytest.raises(ValueError, match=f"{f}=") as e:
            m.config({f: bad})
        for name in m.size_fields:
            assert name in str(e.value)


@pytest.mark.parametrize(
    "key, params, match",
    [
        ("iaa", {"span": "block"}, "sublayer"),
        ("iaa", {"aside_act": "tanh"}, "relu"),
        ("adapter", {"act": "swish"}, "gelu"),
        ("prefix", {"mlp_hidden": 0}, "mlp_hidden"),
        ("prefix", {"reparam": "yes"}, "reparam"),
        ("mam", {"prefix_dropout": 1.0}, "dropout"),
        ("lora", {"targets": ["query", "ffn"]}, "valid"),
    ],
)
def test_bad_option_fails_listing_choices(key, params, match):
    with pytest.raises(ValueError, match=match):
        get_method(key).config(params)


def test_lora_targets_from_yaml_list_become_a_tuple():
    cfg = get_method("lora").config({"targets": ["query", "value"]})
    assert cfg.targets == ("query", "value") and hash(cfg)


def test_wrapped_encoder_stays_transparent(batch):
    """IAA-M wraps `model.encoder`; reads and plain writes still reach the Encoder inside."""
    model = applied("iaa", {"span": "model"})
    assert len(model.encoder.layers) == TINY.num_hidden_layers
    model.encoder.gradient_checkpointing = True
    assert model.encoder.base.gradient_checkpointing is True
    model.train()
    model(*batch).sum().backward()
    assert model.encoder.aside.up.weight.grad is not None
