"""Export a trained system for use outside peftir (issue 16): sentence-transformers and HF peft.

    python -m peftir export --model results/retriever/lora/small/s1/model --out results/export/...

writes under --out:
    sentence-transformers/   every method: a `SentenceTransformer` (retriever) or `CrossEncoder`
                             (re-ranker) directory with a model card (README.md):
                             - full, BitFit, LoRA: merged into plain BERT weights (LoRA: W + (alpha/r) B A),
                               standard modules only: loads with sentence-transformers alone;
                             - adapter, IAA, prefix, MAM: add modules BERT cannot hold, so the first module is
                               `peftir.st_module.PeftirTransformer` (needs `peftir` installed and
                               `trust_remote_code=True`, see st_module.py).
                             Retriever: Transformer → Pooling (peftir's pooling) → Normalize (when peftir
                             normalises). Re-ranker: Transformer → Pooling → Dense(d, 1) = peftir's head,
                             activation Identity (raw scores, as peftir ranks).
    peft/                    LoRA retrievers: adapter_config.json + adapter_model.safetensors for
                             `peft.PeftModel.from_pretrained(BertModel, dir)` (same equations: targets
                             query/value, scaling alpha/r, dropout on the input of A, bias none).

Token limits as peftir: a retriever's `encode_query` truncates at q_len and `encode_document` (and
plain `encode`) at p_len; a re-ranker's pairs are cut to max_len from the passage only. peftir also clips
a re-ranker's query to q_len first, which sentence-transformers cannot (the card says so).
Houlsby adapters / prefix / MAM in AdapterHub's `adapters`: not exported (adapters 1.3.0, the newest,
pins transformers~=4.57 and cannot install next to this stack's transformers 5).
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
from pathlib import Path

import torch

from peftir.io import atomic_path
from peftir.methods.registry import Method, get_method, trainable_state_dict
from peftir.models import backbone as bb
from peftir.models import factory
from peftir.models.bert import Bert, convert_hf_state_dict

HUB_IDS = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
PEFT_TARGETS = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
                "out": "attention.output.dense"}


def hf_bert(bert: Bert, backbone: str):
    """A `transformers.BertModel` carrying the weights of a plain (un-wrapped) peftir `Bert`."""
    from transformers import BertConfig as HFBertConfig
    from transformers import BertModel

    if backbone.startswith("tiny:"):
        torch.manual_seed(0)  # the pooler (unused by peftir) of a random backbone
        hf = BertModel(HFBertConfig(**bert.config.to_dict()))
    else:
        hf = BertModel.from_pretrained(str(bb.resolve(backbone)))
    names = {next(iter(convert_hf_state_dict({k: 0}))): k for k in hf.state_dict()
             if convert_hf_state_dict({k: 0})}  # peftir name -> HF name
    sd = bert.state_dict()
    if set(sd) != set(names):
        raise ValueError(f"not a plain BERT: {sorted(set(sd) ^ set(names))[:5]}")
    hf.load_state_dict({names[k]: v for k, v in sd.items()}, strict=False)
    return hf.eval()


def mergeable(key: str) -> bool:
    """True when method `key` folds into plain BERT weights (it overrides `Method.merge`)."""
    return type(get_method(key)).merge is not Method.merge


def frozen_backbone(meta: dict) -> Bert:
    return bb.load_backbone(meta["backbone"], seed=meta["seed"])


def _token_limit(meta: dict) -> int:
    """Passages' limit (retriever: p_len) or pairs' (re-ranker: max_len), as peftir trained and ranked."""
    return int(meta["train"]["p_len"] if meta["stage"] == "retriever" else meta["max_len"])


def limits(meta: dict) -> str:
    hp = meta["train"]
    if meta["stage"] == "retriever":
        return (f"queries {hp['q_len']} tokens (`encode_query`), passages {hp['p_len']} "
                "(`encode_document`, `encode`)")
    return (f"pairs {_token_limit(meta)} tokens, the passage truncated; peftir clipped queries to "
            f"{hp['q_len']} tokens first (longer queries score differently here)")


def st_modules(model, hf_dir: Path):
    """The sentence-transformers modules equal to `model` (peftir BiEncoder or CrossEncoder)."""
    from sentence_transformers.base.modules import Dense, Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    meta, d = model.meta, model.bert.config.hidden_size
    bb.load_tokenizer(meta["backbone"]).save_pretrained(hf_dir)
    hp = meta["train"]
    if meta["stage"] == "retriever":  # peftir's two limits: encode_query / encode_document apply them
        kw = {"max_seq_length": _token_limit(meta), "query_length": hp["q_len"], "document_length": hp["p_len"]}
    else:  # pairs as peftir's encode_pairs: only the passage is truncated to max_len
        kw = {"max_seq_length": _token_limit(meta), "processing_kwargs": {"text": {"truncation": "only_second"}}}
    if mergeable(meta["spec"]["method"]):
        merged = get_method(meta["spec"]["method"]).merge(copy.deepcopy(model.bert))
        hf_bert(merged, meta["backbone"]).save_pretrained(hf_dir)
        first = Transformer(str(hf_dir), **kw)
    else:
        from peftir.st_module import PeftirTransformer

        hf_bert(frozen_backbone(meta), meta["backbone"]).save_pretrained(hf_dir)
        first = PeftirTransformer(str(hf_dir), **kw)
        first.attach({"key": meta["spec"]["method"], "params": meta["params"]},
                     {k.removeprefix("bert."): v for k, v in trainable_state_dict(model.bert).items()})
    mods = [first, Pooling(d, meta["pooling"])]
    if meta["stage"] == "retriever":
        return mods + ([Normalize()] if meta["normalize"] else [])
    head = Dense(d, 1, activation_function=None, module_output_name="scores",
                 init_weight=model.head.weight.detach().clone(), init_bias=model.head.bias.detach().clone())
    return mods + [head]


def export_st(model, out: Path, card: str) -> None:
    from sentence_transformers import CrossEncoder, SentenceTransformer

    with tempfile.TemporaryDirectory() as tmp:
        mods = st_modules(model, Path(tmp))
        if model.meta["stage"] == "retriever":
            st = SentenceTransformer(modules=mods, device="cpu")
        else:
            st = CrossEncoder(modules=mods, device="cpu", activation_fn=torch.nn.Identity())
        st.save(str(out))
    (out / "README.md").write_text(card)


def export_peft(model, out: Path, card: str) -> None:
    """LoRA → HF peft adapter: the same A (r, in) and B (out, r) under peft's names."""
    from peft import LoraConfig, get_peft_model

    meta = model.meta
    cfg = get_method("lora").config(meta["params"])
    base = hf_bert(frozen_backbone(meta), meta["backbone"])
    lcfg = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, bias="none",
                      target_modules=[PEFT_TARGETS[t] for t in cfg.targets])
    pm = get_peft_model(base, lcfg)
    hf_layers = pm.base_model.model.encoder.layer
    with torch.no_grad():
        for layer, ours in zip(hf_layers, model.bert.encoder.layers):
            for t in cfg.targets:
                theirs = layer.get_submodule(PEFT_TARGETS[t])
                mine = getattr(ours.attn_block.attention, t)
                theirs.lora_A["default"].weight.copy_(mine.lora_A)
                theirs.lora_B["default"].weight.copy_(mine.lora_B)
    pm.peft_config["default"].base_model_name_or_path = HUB_IDS.get(meta["backbone"], meta["backbone"])
    pm.save_pretrained(str(out), save_embedding_layers=False)  # LoRA leaves the embeddings alone
    (out / "README.md").write_text(card)


def config_hash(run_info: dict) -> str:
    """sha256 (first 12 hex digits) of the job's resolved config as canonical JSON."""
    blob = json.dumps(run_info["config"], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def loading(meta: dict) -> str:
    cls = "SentenceTransformer" if meta["stage"] == "retriever" else "CrossEncoder"
    raw = " Scores are raw logits (activation Identity), as peftir ranks." if cls == "CrossEncoder" else ""
    if mergeable(meta["spec"]["method"]):
        peft = (" A LoRA retriever's `peft/` directory loads with "
                "`peft.PeftModel.from_pretrained(transformers.BertModel.from_pretrained(backbone), path)`."
                if meta["spec"]["method"] == "lora" and cls == "SentenceTransformer" else "")
        return (f"`sentence_transformers.{cls}(path)` (standard modules; the method is merged into the BERT "
                f"weights).{peft}{raw}")
    return (f"`sentence_transformers.{cls}(path, trust_remote_code=True)` with the `peftir` package installed: "
            f"{meta['spec']['method']} adds modules plain BERT cannot hold, so the first module is "
            "`peftir.st_module.PeftirTransformer` (imported from the installed package; sentence-transformers "
            f"needs trust_remote_code=True for any module class outside its own namespace).{raw}")


def model_card(meta: dict, run_info: dict, metrics: dict[str, dict], data: str, kind: str) -> str:
    """README.md: method, budget, trainable %, data, the metrics reached and the config hash."""
    spec = meta["spec"]
    total, trained = meta["backbone_params"], meta["trainable_params"]
    lines = [
        f"# peftir {meta['stage']}: {spec['name']} ({spec['budget']} budget)", "",
        f"Exported by `python -m peftir export` as {kind}.", "",
        "| | |", "|---|---|",
        f"| stage | {meta['stage']} |",
        f"| method | {spec['method']} `{json.dumps(meta['params'], sort_keys=True)}` |",
        f"| budget | {spec['budget']}"
        + (f" (target {spec['budget_pct']}% of the backbone) |" if spec["budget_pct"] is not None else " |"),
        f"| trainable % (method, paper's count) | {meta['achieved_pct']:.3f}% |",
        (f"| trainable parameters | {trained:,} of {total:,} backbone parameters "
         f"({100 * trained / total:.3f}%); head {meta['head_params']} |"),
        f"| backbone | {meta['backbone']}, pooling {meta['pooling']}, normalise {meta['normalize']} |",
        f"| training data | {data} |",
        f"| seed | {meta['seed']} |",
        f"| token limits | {limits(meta)} |",
        (f"| config hash | `{config_hash(run_info) if 'config' in run_info else '-'}` (sha256 of run_info.json's "
         "resolved config) |"),
        f"| git | {run_info['git']['sha'] if 'git' in run_info else '-'} |", "",
        "## Loading", "", loading(meta), "",
        "## Metrics reached", "",
    ]
    if metrics:
        names = sorted({m for r in metrics.values() for m in r})
        lines += ["| evaluation | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += [f"| {k} | " + " | ".join(f"{v[m]:.4f}" if m in v else "-" for m in names) + " |"
                  for k, v in sorted(metrics.items())]
    else:
        lines.append("(no metrics files were given)")
    return "\n".join(lines) + "\n"


def read_metrics(paths: list[str]) -> dict[str, dict]:
    """{"debian.dev": {"RR@10": ...}} from evaluate's JSON files (named {ds}.{split}.json)."""
    return {Path(p).name.removesuffix(".json"): json.loads(Path(p).read_text())["aggregate"] for p in paths}


def export(model_dir: str | Path, out: str | Path, run_info: dict | None = None, metrics: dict | None = None,
           data: str = "-") -> list[str]:
    """Write every export that fits the model; -> the sub-directories written."""
    model = factory.load(model_dir)
    meta, run_info, metrics = model.meta, run_info or {}, metrics or {}
    written = []
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        kind = "a sentence-transformers " + ("SentenceTransformer" if meta["stage"] == "retriever" else "CrossEncoder")
        export_st(model, tmp / "sentence-transformers", model_card(meta, run_info, metrics, data, kind))
        written.append("sentence-transformers")
        if meta["spec"]["method"] == "lora" and meta["stage"] == "retriever":
            export_peft(model, tmp / "peft", model_card(meta, run_info, metrics, data, "an HF peft LoRA adapter"))
            written.append("peft")
    return written


def cmd_export(a) -> None:
    torch.set_num_threads(a.threads)
    info = json.loads(Path(a.run_info).read_text()) if a.run_info else {}
    written = export(a.model, a.out, info, read_metrics(a.metrics or []), a.data)
    print(f"exported {a.model} -> {a.out}: {', '.join(written)}")


def register(sub) -> None:
    p = sub.add_parser("export", help="export a trained system to sentence-transformers (+ HF peft for LoRA)")
    p.add_argument("--model", required=True, help="a trained model directory (model.json + trainable.safetensors)")
    p.add_argument("--out", required=True)
    p.add_argument("--run-info", help="the system's run_info.json (config hash, git sha for the card)")
    p.add_argument("--metrics", nargs="*", help="evaluate's JSON files ({ds}.{split}.json) for the card")
    p.add_argument("--data", default="-", help="training data, for the card (e.g. debian/train)")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_export)
