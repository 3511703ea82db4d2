"""Build, save and load task models: backbone → PET method (registry) → bi-/cross-encoder.

A *method spec* is what config and rules pass around (JSON):
    {"name": "iaa-l", "method": "iaa", "params": {"span": "layer", "r": 12, "ar": 12},
     "budget": "small", "budget_pct": 0.5}
With `budget_pct` set, the budget solver picks the size fields for this backbone (keeping the ratios
of `params`); with null the params are used as given. The resolved params and the achieved % are
recorded in the saved model and in run_info.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from peftir.io import atomic_path
from peftir.methods.registry import apply_method, get_method, trainable_state_dict
from peftir.models.backbone import backbone_config, load_backbone
from peftir.models.bert import BertConfig, n_params
from peftir.models.biencoder import BiEncoder, CrossEncoder

STAGES = ("retriever", "reranker")
WEIGHTS = "trainable.safetensors"  # the trained tensors of a model directory; metadata in model.json


def resolve_method(spec: dict, bert_cfg: BertConfig) -> tuple[dict, float]:
    """-> (resolved params, achieved % of backbone parameters by the method's formula)."""
    from peftir.methods import budget

    method = get_method(spec["method"])
    params = dict(spec.get("params") or {})
    if spec.get("budget_pct") is not None and method.size_fields:
        return budget.solve(spec["method"], bert_cfg, float(spec["budget_pct"]), params)
    return params, 100.0 * method.count(bert_cfg, method.config(params)) / budget.backbone_params(bert_cfg)


def build(stage: str, backbone: str, spec: dict, pooling: str, normalize: bool = False, seed: int = 0):
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r}: expected one of {STAGES}")
    torch.manual_seed(seed)  # method modules (LoRA A, aside W_down, prefixes, head) draw from this seed
    bert = load_backbone(backbone, seed=seed)
    backbone_total = n_params(bert)
    params, pct = resolve_method(spec, bert.config)
    bert = apply_method(bert, spec["method"], params)
    model = BiEncoder(bert, pooling, normalize) if stage == "retriever" else CrossEncoder(bert, pooling)
    head = [] if stage == "retriever" else list(model.head.parameters())
    model.meta = {
        "stage": stage, "backbone": backbone, "pooling": pooling, "normalize": normalize, "spec": spec,
        "seed": seed,
        "params": params, "achieved_pct": pct,
        "backbone_params": backbone_total, "trainable_params": n_params(bert, trainable_only=True),
        "head_params": sum(p.numel() for p in head),
    }
    return model


def save(model, out_dir: str | Path, extra: dict | None = None) -> None:
    """Write only the trainable tensors (plus the head) as safetensors and the metadata to rebuild."""
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        save_weights(trainable_state_dict(model), tmp / WEIGHTS)
        meta = {**model.meta, **(extra or {})}
        meta["trainable_file_bytes"] = (tmp / WEIGHTS).stat().st_size
        (tmp / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")


def save_weights(sd: dict, path: str | Path) -> None:
    """Tensors -> a safetensors file (data, not code: loading it runs nothing)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in sd.items()}, str(path), metadata={"format": "pt"})


def load_weights(model_dir: str | Path) -> dict | None:
    """The trained tensors of a model directory, or None when it has none (a zero-shot model).

    Only `trainable.safetensors` is read. A pickle (`trainable.pt`, peftir before safetensors, or a file
    someone handed over) is never opened: unpickling runs code."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    if (model_dir / WEIGHTS).exists():
        return load_file(str(model_dir / WEIGHTS), device="cpu")
    legacy = sorted(p.name for p in model_dir.glob("*.pt")) + sorted(p.name for p in model_dir.glob("*.bin"))
    if legacy:
        raise ValueError(f"{model_dir}: holds {legacy} but no {WEIGHTS}; pickled weights are not loaded "
                         "(they can run code). Retrain, or convert a file you trust with "
                         "peftir.models.factory.save_weights(torch.load(f, weights_only=True), ...)")
    return None


def load_trained(model, model_dir: str | Path) -> None:
    """Load a model directory's trained tensors into `model` (built from its model.json); refuses a
    file whose tensor names are not exactly the model's trainable parameters."""
    sd = load_weights(model_dir)
    if sd is None:
        return
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    if set(sd) != expected:
        raise ValueError(f"{Path(model_dir) / WEIGHTS}: tensors {sorted(set(sd) ^ expected)[:5]} do not match "
                         f"method {model.meta['spec']['method']!r}")
    model.load_state_dict(sd, strict=False)


def load(model_dir: str | Path, device: str = "cpu"):
    """Rebuild from `model.json` and load the trained tensors; refuses a checkpoint that does not fit."""
    model_dir = Path(model_dir)
    if not (model_dir / "model.json").exists():
        raise FileNotFoundError(f"{model_dir}: no model.json (not a trained peftir model)")
    meta = json.loads((model_dir / "model.json").read_text())
    spec = {**meta["spec"], "params": meta["params"], "budget_pct": None}
    model = build(meta["stage"], meta["backbone"], spec, meta["pooling"], meta.get("normalize", False),
                  seed=meta.get("seed", 0))  # the seed rebuilds a random (tiny) backbone's frozen weights
    load_trained(model, model_dir)
    model.meta = meta
    return model.to(device).eval()


def zero_shot(stage: str, backbone: str, pooling: str, normalize: bool):
    """The untouched backbone (no training), for reference rows."""
    spec = {"name": "zero-shot", "method": "full", "params": {}, "budget": "none", "budget_pct": None}
    m = build(stage, backbone, spec, pooling, normalize)
    m.meta["trainable_params"] = 0
    m.meta["achieved_pct"] = 0.0
    return m.eval()


def bert_config_for(backbone: str) -> BertConfig:
    return backbone_config(backbone)
