"""Figure 3 of the paper (where each method's modules sit in a layer) read off the code itself.

Each method is applied by the registry to a tiny random BERT (2 layers, d=32; the structure does not
depend on the size) and the resulting module graph is walked: every *wrapper* (a module holding the
frozen module it wraps under the child name `base`: AdapterAfter, Aside, LoRALinear, PrefixLinear)
becomes an insertion at the frozen module it wraps, and every trainable parameter no wrapper owns
becomes an in-place insertion (BitFit's biases, full fine-tuning's weights, the prefix MLP). Only
layer 0 and what sits outside the layers (embeddings, encoder-level asides, shared sources) are
kept: the other layers repeat layer 0.

Boxes (where an insertion attaches; paths after removing the wrappers' `.base`):
  embeddings | attention (attn_block.attention[.query|.key|.value|.out]) | attn_norm | attn_block
  | ffn (ffn_block.ffn[.up|.down]) | ffn_norm | ffn_block | layer (encoder.layers.0) | encoder | model
Kinds: series (y + BN(y) on the box's output), parallel (box(x) + s·BN(x), ⊕ at the box's output),
low-rank (W + BA on a projection), prefix (slots prepended to K/V), in-place, source (shared module).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from peftir.methods.registry import apply_method
from peftir.models.bert import Bert, BertConfig

TINY = BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=32)  # fmt: skip
KINDS = {"AdapterAfter": "series", "Aside": "parallel", "LoRALinear": "low-rank", "PrefixLinear": "prefix"}


@dataclasses.dataclass(frozen=True)
class Insertion:
    box: str  # where it attaches (module docstring)
    kind: str  # series | parallel | low-rank | prefix | in-place | source
    module: str  # class of the wrapper / owner of the parameters
    target: str = ""  # finer position: "query", "value", ... or the parameter names in place
    params: int = 0  # trainable parameters in the tiny build
    detail: str = ""  # e.g. "scale=4.0"


def canonical(name: str) -> str:
    """Module path with wrapper hops removed: 'encoder.base.layers.0.attn_block.base' -> 'encoder.layers.0.attn_block'."""
    return ".".join(p for p in name.split(".") if p != "base")


def locate(path: str) -> tuple[str, str] | None:
    """(box, target) of a canonical path, or None for layers other than 0."""
    if path.startswith("embeddings"):
        return "embeddings", path.removeprefix("embeddings").strip(".")
    if path == "encoder":
        return "encoder", ""
    if path.startswith("encoder.layers."):
        rest = path.removeprefix("encoder.layers.")
        idx, _, rel = rest.partition(".")
        if idx != "0":
            return None
        for prefix, box in (("attn_block.attention", "attention"), ("attn_block.norm", "attn_norm"),
                            ("attn_block", "attn_block"), ("ffn_block.ffn", "ffn"),
                            ("ffn_block.norm", "ffn_norm"), ("ffn_block", "ffn_block")):  # fmt: skip
            if rel == prefix or rel.startswith(prefix + "."):
                return box, rel.removeprefix(prefix).strip(".")
        return "layer", rel
    return "model", path


def describe(method: str, params: Mapping | None = None, cfg: BertConfig = TINY) -> list[Insertion]:
    """The insertions method `method` (registry key) with `params` makes in layer 0 and around it."""
    torch.manual_seed(0)
    model = apply_method(Bert(cfg), method, dict(params or {}))
    out, owned = [], set()
    for name, mod in model.named_modules():
        if "base" not in mod._modules:
            continue
        own = [p for n, p in mod.named_parameters() if not n.startswith("base.") and p.requires_grad]
        owned.update(id(p) for p in own)
        where = locate(canonical(name))
        if where is None:
            continue
        cls = type(mod).__name__
        scale = getattr(mod, "scale", 1.0) if cls == "Aside" else 1.0
        out.append(
            Insertion(
                where[0],
                KINDS.get(cls, "wrapper"),
                cls,
                where[1],
                sum(p.numel() for p in own),
                f"scale={scale:g}" if scale != 1.0 else "",
            )
        )
    groups: dict[tuple[str, str], list[tuple[str, str, int]]] = {}  # (box, source) -> (class, name, size)
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in owned:
            continue
        owner, _, pname = canonical(name).rpartition(".")
        where = locate(owner)
        if where is None:
            continue
        source = name.split(".")[0] if where[0] == "model" else ""  # a shared source: its top module
        cls = type(model.get_submodule(source or name.rpartition(".")[0])).__name__
        groups.setdefault((where[0], source), []).append((cls, pname, p.numel()))
    for (box, source), ps in groups.items():
        target = source or ",".join(sorted({n for _, n, _ in ps}))
        out.append(
            Insertion(
                box,
                "source" if source else "in-place",
                "+".join(sorted({c for c, _, _ in ps})),
                target,
                sum(n for *_, n in ps),
            )
        )
    return out


def describe_methods(methods: Mapping[str, Mapping]) -> dict[str, list[Insertion]]:
    """`methods`: the config's methods section (run -> {"method", "params"}); IAA's per-budget sizes
    do not change the structure, so the base params are used."""
    return {run: describe(m["method"], m.get("params")) for run, m in methods.items()}


def as_json(structure: Mapping[str, list[Insertion]]) -> dict:
    return {run: [dataclasses.asdict(i) for i in ins] for run, ins in structure.items()}
