"""Full fine-tuning: every backbone parameter trains (the reference of every table).

`count_train` is the size of our `Bert` (no pooler): 108,891,648 for BERT-base. `count` is the budget
denominator, 100% by definition: HF `BertModel` *with* its pooler (d·d + d more), 109,482,240 for
BERT-base as the paper counts (see `budget.backbone_params`); the task models do not use the pooler.
"""

from __future__ import annotations

from dataclasses import dataclass

from peftir.methods.budget import backbone_params, bert_params
from peftir.methods.registry import Method, register
from peftir.models.bert import Bert, BertConfig


@dataclass(frozen=True)
class FullConfig:
    pass


@register("full")
class Full(Method):
    Config = FullConfig
    zero_init_identity = True  # nothing is inserted: the model is the backbone

    def apply(self, model: Bert, cfg: FullConfig) -> Bert:
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def merge(self, model: Bert) -> Bert:  # trains BERT's own tensors: already plain BERT
        return model

    def count(self, c: BertConfig, cfg: FullConfig | None = None) -> int:
        return backbone_params(c)

    def count_train(self, c: BertConfig, cfg: FullConfig | None = None) -> int:
        return bert_params(c)
