"""Task models on a (PET-modified) BERT: bi-encoder for retrieval, cross-encoder for re-ranking.

Bi-encoder (paper.md §4): one shared encoder for queries and passages, pooled (CLS or mean), dot
product; loss = softmax cross-entropy of each query over its own positive and hard negatives plus
every other passage in the batch (in-batch negatives).
Cross-encoder: `[CLS] q [SEP] p [SEP]` → pooled → Linear(d, 1); localized contrastive loss =
softmax CE over each query's group (1 positive + n negatives).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from peftir.models.bert import Bert


def pool(h, mask, how: str):  # h (B, T, d), mask (B, T) -> (B, d)
    if how == "cls":
        return h[:, 0]
    if how == "mean":
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    raise ValueError(f"pooling {how!r}: expected 'cls' or 'mean'")


def _fp32(t):
    """A context with autocast off on t's device: what runs in it stays float32 under bf16 autocast."""
    return torch.autocast(device_type=t.device.type, enabled=False)


class BiEncoder(nn.Module):
    def __init__(self, bert: Bert, pooling: str = "mean", normalize: bool = False):
        super().__init__()
        self.bert, self.pooling, self.normalize = bert, pooling, normalize
        self.gather = None  # set by multi-GPU training: cross-device in-batch negatives (peftir.distributed)

    def encode(self, input_ids, attention_mask):  # (B, T) -> (B, d), float32 even under bf16 autocast
        h = self.bert(input_ids, attention_mask)
        with _fp32(h):  # pooling and the norm in fp32: cheap, and bf16 cosines would tie
            e = pool(h.float(), attention_mask, self.pooling)
            return F.normalize(e, dim=-1) if self.normalize else e

    def forward(self, q, p, temperature: float = 1.0):
        """q: tokenised queries (Q); p: tokenised passages (Q*G, group = [pos, neg...]) -> scalar loss."""
        qe = self.encode(q["input_ids"], q["attention_mask"])  # (Q, d)
        pe = self.encode(p["input_ids"], p["attention_mask"])  # (Q*G, d)
        return contrastive_loss(qe, pe, temperature, gather=self.gather)


def contrastive_loss(qe, pe, temperature: float = 1.0, gather=None):
    """CE over all passages in the batch; query i's positive sits at index i*G (G = passages per query).

    Example: Q=2, G=2, identity-like embeddings with scores [[2,0,0,0],[0,0,2,0]] →
    loss = -log(e^2/(e^2+3)) ≈ 0.3408 for each query.
    `gather` (multi-GPU, e.g. peftir.distributed.gather_with_grad): pe -> (every device's pe
    concatenated, this device's index r); the local queries are then scored against all of them,
    their positives at (r*Q + i)*G. Without it, nothing changes."""
    group = pe.shape[0] // qe.shape[0]
    offset = 0
    if gather is not None:
        pe, r = gather(pe)  # (W*Q*G, d)
        offset = r * qe.shape[0]
    with _fp32(qe):  # bf16 cosines carry ~3 digits: x 1/temperature (20) that is logit noise of ~0.08
        scores = qe.float() @ pe.float().T / temperature  # (Q, Q*G) or (Q, W*Q*G)
    target = (offset + torch.arange(qe.shape[0], device=qe.device)) * group
    return F.cross_entropy(scores.float(), target)


class CrossEncoder(nn.Module):
    def __init__(self, bert: Bert, pooling: str = "cls"):
        super().__init__()
        self.bert, self.pooling = bert, pooling
        self.head = nn.Linear(bert.config.hidden_size, 1)  # always trained; counted separately

    def score(self, input_ids, attention_mask, token_type_ids):  # (B, T) -> (B,)
        h = self.bert(input_ids, attention_mask, token_type_ids)
        with _fp32(h):  # the head in fp32: bf16 logits (8-bit mantissa) would tie candidates in a ranking
            return self.head(pool(h.float(), attention_mask, self.pooling)).squeeze(-1)

    def forward(self, pairs, group: int):
        """pairs: tokenised (q, p) pairs, Q*group rows, positive first in each group -> scalar loss."""
        s = self.score(pairs["input_ids"], pairs["attention_mask"], pairs["token_type_ids"]).view(-1, group)
        return F.cross_entropy(s.float(), torch.zeros(s.shape[0], dtype=torch.long, device=s.device))
