"""Method registry: a method is a registry entry, not a branch (HF peft's `register_peft_method` pattern).

A method module defines a frozen config dataclass and registers a `Method`:

    @register("lora")
    class LoRA(Method):
        Config = LoRAConfig
        def apply(self, model, cfg): ...            # freeze backbone, insert modules, return model
        def count(self, bert_cfg, cfg) -> int: ...   # trainable parameters by formula
        size_fields = ("r",)                        # what the budget solver may change
        def count_train(self, bert_cfg, cfg): ...    # optional: parameters that get gradients, when they
                                                    # differ from the budget count (prefix's MLP)

Dispatch is `get_method(key)`; an unknown key names every registered key.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from peftir.models.bert import Bert, BertConfig

REGISTRY: dict[str, Method] = {}


class Method:
    """Base class. Subclasses set `key`, `Config`, `size_fields` and implement `apply` and `count`."""

    key: str = ""
    Config: type = type(None)
    # integer size parameters the budget solver may set; it varies the first and keeps the others in
    # the ratio the given params have (IAA's ar/r, MAM's l/r)
    size_fields: tuple[str, ...] = ()
    zero_init_identity: bool = False  # True when the model equals the frozen backbone at init

    def config(self, params: dict[str, Any] | None = None):
        params = dict(params or {})
        names = {f.name for f in dataclasses.fields(self.Config)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise ValueError(f"method {self.key!r}: unknown parameter(s) {unknown}; valid: {sorted(names)}")
        cfg = self.Config(**params)
        self.validate(cfg)
        return cfg

    def validate(self, cfg) -> None:
        for f in self.size_fields:
            v = getattr(cfg, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                fields = sorted(x.name for x in dataclasses.fields(self.Config))
                raise ValueError(f"method {self.key!r}: {f}={v!r} must be a positive integer "
                                 f"(size fields: {list(self.size_fields)}; valid parameters: {fields})")

    def apply(self, model: Bert, cfg) -> Bert:  # pragma: no cover - abstract
        raise NotImplementedError

    def count(self, bert_cfg: BertConfig, cfg) -> int:  # pragma: no cover - abstract
        """Trainable parameters by the paper's convention: what budgets (%) are computed from."""
        raise NotImplementedError

    def merge(self, model: Bert) -> Bert | None:
        """The applied method folded into plain BERT weights, in place (module names then equal an untouched
        `Bert`'s), or None where it adds modules plain BERT cannot express (export then wraps the model)."""
        return None

    def count_train(self, bert_cfg: BertConfig, cfg) -> int:
        """Parameters that receive gradients during training (= `count` unless a method says otherwise)."""
        return self.count(bert_cfg, cfg)


def register(key: str):
    def deco(cls):
        if key in REGISTRY:
            raise ValueError(f"method {key!r} registered twice")
        cls.key = key
        REGISTRY[key] = cls()
        return cls

    return deco


def method_names() -> list[str]:
    return sorted(REGISTRY)


def get_method(key: str) -> Method:
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown PET method {key!r}; registered methods: {', '.join(method_names())}") from None


def freeze(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def apply_method(model: Bert, key: str, params: dict[str, Any] | None = None) -> Bert:
    """Freeze `model`, then let method `key` insert/unfreeze its trainable parameters."""
    method = get_method(key)
    cfg = method.config(params)
    freeze(model)
    model = method.apply(model, cfg)
    model.pet_method = {"key": key, **dataclasses.asdict(cfg)}
    return model


def trainable_state_dict(model: nn.Module) -> dict:
    """Only the tensors that train: what a PET checkpoint needs."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
