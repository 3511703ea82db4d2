"""A sentence-transformers input module that runs a peftir PET model (methods that add modules).

Adapters, IAA's aside modules, prefixes and MAM add modules that plain BERT weights cannot hold, so
their export is a `sentence_transformers` Transformer module whose forward runs peftir's `Bert` with
the method applied:

    directory = the frozen backbone as a transformers BertModel + tokenizer (what `Transformer` saves)
              + peftir_method.json             {"key": "iaa", "params": {...}}
              + peftir_trainable.safetensors   the method's trained tensors (peftir `Bert` names)

`SentenceTransformer(dir, trust_remote_code=True)` / `CrossEncoder(dir, trust_remote_code=True)` load it
when `peftir` is installed: sentence-transformers >= 6 imports any module class outside its own
namespace only with `trust_remote_code=True`, even from an installed package; no code is read from
the directory itself (modules.json names `peftir.st_module.PeftirTransformer`).
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file
from sentence_transformers.base.modules import Transformer

from peftir.methods.registry import apply_method
from peftir.models.bert import Bert, BertConfig, convert_hf_state_dict

METHOD_FILE = "peftir_method.json"
WEIGHTS_FILE = "peftir_trainable.safetensors"


class PeftirTransformer(Transformer):
    """`Transformer` (tokenizer, preprocessing, config) whose token embeddings come from peftir's PET model."""

    def attach(self, method: dict, trainable: dict) -> PeftirTransformer:
        """Rebuild peftir's `Bert` from this module's frozen BertModel, apply `method`, load its tensors."""
        bert = Bert(BertConfig.from_dict(self.model.config.to_dict()))
        missing, unexpected = bert.load_state_dict(convert_hf_state_dict(self.model.state_dict()), strict=False)
        if missing or unexpected:
            raise ValueError(f"backbone does not match peftir's BERT: missing={missing} unexpected={unexpected}")
        bert = apply_method(bert, method["key"], method["params"])
        expected = {n for n, p in bert.named_parameters() if p.requires_grad}
        if set(trainable) != expected:
            raise ValueError(f"{WEIGHTS_FILE}: tensors {sorted(set(trainable) ^ expected)[:5]} do not match "
                             f"method {method['key']!r}")
        bert.load_state_dict(trainable, strict=False)
        self.peftir_method = dict(method)
        self.peftir_bert = bert.to(self.model.device).eval()
        return self

    def forward(self, features: dict, **kwargs) -> dict:  # ids (B, T) -> token_embeddings (B, T, d)
        features["token_embeddings"] = self.peftir_bert(
            features["input_ids"], features["attention_mask"], features.get("token_type_ids")
        )
        return features

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        super().save(output_path, *args, safe_serialization=safe_serialization, **kwargs)
        Path(output_path, METHOD_FILE).write_text(json.dumps(self.peftir_method, indent=2, sort_keys=True) + "\n")
        trained = {n: p.detach().contiguous().cpu() for n, p in self.peftir_bert.named_parameters() if p.requires_grad}
        save_file(trained, str(Path(output_path, WEIGHTS_FILE)), metadata={"format": "pt"})

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> PeftirTransformer:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        module = super().load(model_name_or_path, **hub, **kwargs)
        method = json.loads(Path(cls.load_file_path(model_name_or_path, METHOD_FILE, **hub)).read_text())
        trainable = load_file(cls.load_file_path(model_name_or_path, WEIGHTS_FILE, **hub), device="cpu")
        return module.attach(method, trainable)
