"""Corpus encoding: passages/s of our encoder (`peftir.inference.embed` on the zero-shot bi-encoder
`factory.zero_shot("retriever", "all-MiniLM-L6-v2", "mean", True)`) against sentence-transformers'
`SentenceTransformer.encode` on the same checkpoint, the same passages, the same batch size and
maximum length, in fp32 and under bf16 autocast (as `peftir encode --bf16` runs it).

Both sort by length before batching and pad per batch; both return L2-normalised float32 vectors.
Tokenisation is inside the timed call for both. The embeddings are checked to agree (minimum row
cosine over all passages, fp32: must be > 0.999) so that the two compute the same thing.

Passages: a seeded random sample of the Debian corpus (`doc_text`: title + text). sentence-transformers
is a benchmark-only dependency (`.venv/bin/pip install sentence-transformers`; it adds no torch).

    .venv/bin/python bench/encode.py                         # 500 passages, 96 tokens, fp32 + bf16
    .venv/bin/python bench/encode.py --n 2000 --reps 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from _common import interleave, machine, med, minilm_path, quiet, summary, write_result

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "debian" / "corpus.jsonl.gz"


def sample_passages(path: Path, n: int, seed: int = 0) -> list[str]:
    from peftir.data.collections import doc_text

    with gzip.open(path, "rt", encoding="utf-8") as f:
        docs = [doc_text(json.loads(line)) for line in f if line.strip()]
    return random.Random(seed).sample(docs, min(n, len(docs)))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--n", type=int, default=500, help="passages")
    ap.add_argument("--max-len", type=int, default=96, help="tokens (the config's retriever p_len)")
    ap.add_argument("--batch-size", type=int, default=128, help="the config's encode.batch_size")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds (on the first 64 passages)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="result JSON (default bench/results/encode.json)")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    quiet()
    from sentence_transformers import SentenceTransformer

    from peftir.inference import embed
    from peftir.models import factory
    from peftir.models.backbone import load_tokenizer

    info = machine()
    texts = sample_passages(Path(a.corpus), a.n)
    ours = factory.zero_shot("retriever", "all-MiniLM-L6-v2", "mean", True)
    tok = load_tokenizer("all-MiniLM-L6-v2")
    st = SentenceTransformer(minilm_path(), device="cpu")
    st.max_seq_length = a.max_len
    dtypes = a.dtypes.split(",")
    out_emb = {}

    def ac(dt):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=dt == "bf16")

    def run_ours(dt, xs):
        with ac(dt):
            out_emb[f"ours:{dt}"] = embed(ours, tok, xs, a.max_len, a.batch_size)

    def run_st(dt, xs):
        with ac(dt), torch.no_grad():
            out_emb[f"st:{dt}"] = st.encode(xs, batch_size=a.batch_size, normalize_embeddings=True,
                                            convert_to_numpy=True, show_progress_bar=False).astype(np.float32)

    for _ in range(a.warmup):
        for dt in dtypes:
            run_ours(dt, texts[:64])
            run_st(dt, texts[:64])
    fns = {}
    for dt in dtypes:
        fns[f"ours:{dt}"] = lambda dt=dt: run_ours(dt, texts)
        fns[f"st:{dt}"] = lambda dt=dt: run_st(dt, texts)
    print(f"encode: {len(texts)} passages, max_len {a.max_len}, batch {a.batch_size}, load {info['loadavg_start']}")
    times = interleave(fns, a.reps, warmup=0)

    rows = {}
    for dt in dtypes:
        o, s = times[f"ours:{dt}"], times[f"st:{dt}"]
        e_o, e_s = out_emb[f"ours:{dt}"], out_emb[f"st:{dt}"]
        cos = (e_o * e_s).sum(1) / (np.linalg.norm(e_o, axis=1) * np.linalg.norm(e_s, axis=1))
        rows[dt] = {"ours": summary(o, interleave.cpu[f"ours:{dt}"]), "sentence_transformers": summary(s, interleave.cpu[f"st:{dt}"]),
                    "passages_per_s_ours": round(len(texts) / med(o), 1),
                    "passages_per_s_st": round(len(texts) / med(s), 1),
                    "ratio_ours_over_st_passages_per_s": round(med(s) / med(o), 3),
                    "paired_ratio_median": round(float(np.median(np.array(s) / np.array(o))), 3),
                    "min_cosine": round(float(cos.min()), 6), "mean_cosine": round(float(cos.mean()), 6)}
        r = rows[dt]
        print(f"{dt}: ours {r['passages_per_s_ours']} p/s, sentence-transformers {r['passages_per_s_st']} p/s, "
              f"ratio {r['ratio_ours_over_st_passages_per_s']} (goal ≥ 1), min cosine {r['min_cosine']}")
    if "fp32" in dtypes and "bf16" in dtypes:
        e32, e16 = out_emb["ours:fp32"], out_emb["ours:bf16"]
        rows["bf16_vs_fp32_ours"] = {"min_cosine": round(float((e32 * e16).sum(1).min()), 6),
                                     "speedup": round(med(times["ours:fp32"]) / med(times["ours:bf16"]), 3)}
        print(f"ours bf16 vs fp32: speed-up {rows['bf16_vs_fp32_ours']['speedup']}, "
              f"min cosine {rows['bf16_vs_fp32_ours']['min_cosine']}")
    write_result("encode", {"benchmark": "encode", "machine": info, "args": vars(a), "n_passages": len(texts),
                            "rows": rows}, a.out)


if __name__ == "__main__":
    main()
