"""`peftir encode`: embed one shard of a corpus with a trained (or zero-shot) bi-encoder.

Shard i of n holds the documents at positions [i*N//n, (i+1)*N//n) of the corpus file
(peftir.inference.read_shard), so shards are independent jobs; each writes `{ids, emb}` to an .npz
atomically.
"""

from __future__ import annotations

import numpy as np
import torch

from peftir.data.collections import doc_text
from peftir.inference import embed, load_model, read_shard
from peftir.io import atomic_open
from peftir.precision import add_bf16_arg, resolve_bf16


def save_npz(path, **arrays) -> None:
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def cmd_encode(a) -> None:
    torch.set_num_threads(a.threads)
    docs = read_shard(a.corpus, a.shard, a.n_shards)
    model, tok = load_model(a.model, a.backbone_json, a.device, stage="retriever")
    ids = [d for d, _ in docs]
    with torch.autocast(device_type=torch.device(a.device).type, dtype=torch.bfloat16,
                        enabled=resolve_bf16(a.bf16, a.device)):
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
    add_bf16_arg(p)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.set_defaults(func=cmd_encode)
