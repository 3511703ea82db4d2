"""Search: exact inner-product top-k, queries/s, at the embedded corpus sizes.

Ours:
  faiss        `peftir.search.search_shard` (FAISS IndexFlatIP: add + search), the kernel
  pipeline     `peftir.search.search_shards` over the corpus split into `--shards` .npz files, as
               `peftir search` runs it (load each shard, FAISS search, merge per query by score with
               docid tie-break into (score, docid) lists)
Baselines, same queries and corpus:
  numpy        scores = Q @ Eᵀ; np.argpartition for the top k, then sort those k by score
  torch        torch.topk(Q @ Eᵀ, k) (sorted)

Corpus: random unit vectors, float32 (N × 384), N = 10,000 (the embedded corpus sample) and 56,264 (the
whole Debian corpus); queries: random unit vectors (`--queries`, the size of a dev/test split). All
four must return the same top-k (checked: identical id sets per query, scores within 1e-4).

    .venv/bin/python bench/search.py                          # 500 queries, k=1000, N=10,000 and 56,264
    .venv/bin/python bench/search.py --sizes 10000 --k 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from _common import interleave, machine, med, summary, write_result


def unit(rng, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def numpy_topk(q: np.ndarray, emb: np.ndarray, k: int):
    s = q @ emb.T  # (Q, N)
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]  # (Q, k) unordered
    ps = np.take_along_axis(s, part, 1)
    order = np.argsort(-ps, axis=1, kind="stable")
    return np.take_along_axis(ps, order, 1), np.take_along_axis(part, order, 1)


def torch_topk(q: np.ndarray, emb: np.ndarray, k: int):
    with torch.no_grad():
        s, i = torch.topk(torch.from_numpy(q) @ torch.from_numpy(emb).T, k, dim=1)
    return s.numpy(), i.numpy()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,56264")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--k", type=int, default=1000, help="the config's search.depth")
    ap.add_argument("--shards", type=int, default=2, help="the config's encode.n_shards (pipeline variant)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="result JSON (default bench/results/search.json)")
    a = ap.parse_args(argv)

    import faiss

    from peftir.encode import save_npz
    from peftir.search import search_shard, search_shards

    torch.set_num_threads(a.threads)
    faiss.omp_set_num_threads(a.threads)
    info = machine()
    info["faiss"] = faiss.__version__
    rng = np.random.default_rng(0)
    q = unit(rng, a.queries, a.dim)
    rows = {}
    tmp = tempfile.TemporaryDirectory()
    for n in (int(x) for x in a.sizes.split(",")):
        emb = unit(rng, n, a.dim)
        ids = np.array([f"d{i:06d}" for i in range(n)])
        paths = []
        for s in range(a.shards):
            lo, hi = s * n // a.shards, (s + 1) * n // a.shards
            paths.append(f"{tmp.name}/n{n}_s{s}.npz")
            save_npz(paths[-1], ids=ids[lo:hi], emb=emb[lo:hi])
        res = {}
        fns = {
            "faiss": lambda res=res, emb=emb: res.__setitem__("faiss", search_shard(q, emb, a.k)),
            "pipeline": lambda res=res, paths=paths: res.__setitem__("pipeline", search_shards(q, paths, a.k)),
            "numpy": lambda res=res, emb=emb: res.__setitem__("numpy", numpy_topk(q, emb, a.k)),
            "torch": lambda res=res, emb=emb: res.__setitem__("torch", torch_topk(q, emb, a.k)),
        }
        print(f"search: N={n}, {a.queries} queries, k={a.k}, load {info['loadavg_start']}")
        times = interleave(fns, a.reps, a.warmup)
        # agreement: same id sets per query, same scores
        ref_s, ref_i = res["numpy"]
        agree = {}
        for name in ("faiss", "torch"):
            s, i = res[name]
            same = np.mean([set(i[j]) == set(ref_i[j]) for j in range(len(q))])
            agree[name] = {"same_topk_sets": float(same), "max_score_diff": float(np.abs(s - ref_s).max())}
        pipe_ids = [[int(d[1:]) for _, d in hits] for hits in res["pipeline"]]
        pipe_s = np.array([[sc for sc, _ in hits] for hits in res["pipeline"]])
        agree["pipeline"] = {"same_topk_sets": float(np.mean([set(pipe_ids[j]) == set(ref_i[j]) for j in range(len(q))])),
                             "max_score_diff": float(np.abs(pipe_s - ref_s).max())}
        qps = {k: round(a.queries / med(v), 1) for k, v in times.items()}
        rows[str(n)] = {"times": {k: summary(v, interleave.cpu[k]) for k, v in times.items()}, "queries_per_s": qps,
                        "ratio_faiss_over_numpy_qps": round(qps["faiss"] / qps["numpy"], 3),
                        "ratio_faiss_over_torch_qps": round(qps["faiss"] / qps["torch"], 3),
                        "ratio_pipeline_over_torch_qps": round(qps["pipeline"] / qps["torch"], 3),
                        "agreement_vs_numpy": agree}
        print(f"  queries/s: {qps}; agreement vs numpy: {agree}")
        for name, ag in agree.items():
            if ag["same_topk_sets"] < 0.99 or ag["max_score_diff"] > 1e-4:
                print(f"  WARNING: {name} disagrees with numpy: {ag}")
    tmp.cleanup()
    write_result("search", {"benchmark": "search", "machine": info, "args": vars(a), "rows": rows}, a.out)


if __name__ == "__main__":
    main()
