"""`peftir encode`: embed one shard of a corpus with a trained (or zero-shot) bi-encoder.

Shard i of n holds the documents at positions [i*N//n, (i+1)*N//n) of the corpus file, so shards are
independent jobs; each writes `{ids, emb}` to an .npz atomically.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from peftir.data.collections import doc_text, iter_lines, parse_corpus_line
from peftir.io import atomic_open
from peftir.models import factory
from peftir.models.backbone import load_tokenizer


def load_encoder(model: str, backbone_json: str | None, device: str):
    """`model` is a trained model directory or the literal `zero-shot` (then backbone_json is needed)."""
    if model == "zero-shot":
        if not backbone_json:
            raise ValueError("--model zero-shot needs --backbone-json")
        bb = json.loads(backbone_json)
        m = factory.zero_shot("retriever", bb["name"], bb["pooling"], bb["normalize"])
        return m.to(device).eval(), load_tokenizer(bb["name"])
    m = factory.load(model, device)
    return m, load_tokenizer(m.meta["backbone"])


def shard_bounds(n_docs: int, shard: int, n_shards: int) -> tuple[int, int]:
    """E.g. 10 docs, 3 shards -> (0,3), (3,6), (6,10)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is not in [0, {n_shards})")
    return shard * n_docs // n_shards, (shard + 1) * n_docs // n_shards


def read_shard(corpus, shard: int, n_shards: int) -> list[tuple[str, dict]]:
    """The (docid, doc) records of one shard, streaming: a first pass counts the records, a second parses
    and keeps only the shard's (a shard job never holds the whole corpus, e.g. 22 GB of MS MARCO documents).
    Equals list(iter_corpus(corpus))[lo:hi]."""
    n = sum(1 for _, line in iter_lines(corpus) if line.strip())
    lo, hi = shard_bounds(n, shard, n_shards)
    out, i = [], 0
    for k, line in iter_lines(corpus):
        if not line.strip():
            continue
        if i >= hi:
            break
        if i >= lo:
            out.append(parse_corpus_line(line, f"{corpus}:{k}"))
        i += 1
    return out


def save_npz(path, **arrays) -> None:
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def cmd_encode(a) -> None:
    from peftir.retriever import embed

    torch.set_num_threads(a.threads)
    docs = read_shard(a.corpus, a.shard, a.n_shards)
    model, tok = load_encoder(a.model, a.backbone_json, a.device)
    ids = [d for d, _ in docs]
    with torch.autocast(device_type=torch.device(a.device).type, dtype=torch.bfloat16, enabled=a.bf16):
        emb = embed(model, tok, [doc_text(x) for _, x in docs], a.p_len, a.batch_size, a.device,
                    desc=f"encode shard {a.shard}/{a.n_shards}")
    save_npz(a.out, ids=np.array(ids, dtype=object).astype(str), emb=emb)


def register(sub) -> None:
    p = sub.add_parser("encode", help="embed one corpus shard with a bi-encoder")
    p.add_argument("--model", required=True, help="trained model directory, or 'zero-shot'")
    p.add_argument("--backbone-json")
    p.add_argument("--corpus", required=True)
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--n-shards", type=int, default=1)
    p.add_argument("--p-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.set_defaults(func=cmd_encode)
