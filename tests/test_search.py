"""Sharded FAISS search with merge equals one unsharded search."""

import itertools

import numpy as np

from peftir.encode import save_npz
from peftir.inference import shard_bounds
from peftir.search import search_shards


def test_shard_bounds_cover_corpus_without_overlap():
    assert [shard_bounds(10, i, 3) for i in range(3)] == [(0, 3), (3, 6), (6, 10)]
    spans = [shard_bounds(1001, i, 7) for i in range(7)]
    assert spans[0][0] == 0 and spans[-1][1] == 1001
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_sharded_search_equals_unsharded(tmp_path):
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((503, 16)).astype(np.float32)
    ids = np.array([f"d{i}" for i in range(503)])
    q = rng.standard_normal((9, 16)).astype(np.float32)
    save_npz(tmp_path / "all.npz", ids=ids, emb=emb)
    paths = []
    for i in range(4):
        lo, hi = shard_bounds(503, i, 4)
        save_npz(tmp_path / f"s{i}.npz", ids=ids[lo:hi], emb=emb[lo:hi])
        paths.append(str(tmp_path / f"s{i}.npz"))
    whole = search_shards(q, [str(tmp_path / "all.npz")], 50)
    sharded = search_shards(q, paths, 50)
    assert [[d for _, d in r] for r in whole] == [[d for _, d in r] for r in sharded]
    # and both equal brute force
    brute = np.argsort(-(q @ emb.T), axis=1)[:, :50]
    assert [[d for _, d in r] for r in whole] == [[f"d{j}" for j in row] for row in brute]


def test_read_shard_streams_exactly_the_shard(tmp_path):
    """encode's streaming shard reader equals slicing the whole corpus (blank lines skipped)."""
    import gzip
    import json

    from peftir.data.collections import iter_corpus
    from peftir.inference import read_shard

    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i in range(23):
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": f"text {i}"}) + "\n" + ("\n" if i % 7 == 0 else ""))
    whole = list(iter_corpus(path))
    for n in (1, 4, 30):
        parts = [read_shard(path, i, n) for i in range(n)]
        assert [p for part in parts for p in part] == whole
        assert parts == [whole[lo:hi] for lo, hi in (shard_bounds(23, i, n) for i in range(n))]


def test_sharded_search_breaks_exact_ties_by_docid(tmp_path):
    emb = np.ones((2, 4), dtype=np.float32)  # every document scores the same
    save_npz(tmp_path / "a.npz", ids=np.array(["d9", "d2"]), emb=emb)
    save_npz(tmp_path / "b.npz", ids=np.array(["d5", "d1"]), emb=emb)
    hits = search_shards(np.ones((1, 4), dtype=np.float32), [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")], 3)
    assert [d for _, d in hits[0]] == ["d1", "d2", "d5"]
