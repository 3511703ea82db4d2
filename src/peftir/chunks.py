"""Query chunks: split a big query set (MS MARCO's 503k training queries) into N files so that a search
runs as N independent jobs, then concatenate their runs.

Chunk i of n holds the queries at positions [i*Q//n, (i+1)*Q//n) of the *sorted* query ids. TREC
runs are written query by query in sorted-id order (peftir.data.trec.write_run), and a query's hits
do not depend on the other queries of its batch, so the concatenated chunk runs are the same file,
byte for byte, as one search over all queries.
"""

from __future__ import annotations

from pathlib import Path

from peftir.data.collections import DataError, load_queries
from peftir.inference import shard_bounds
from peftir.io import atomic_open


def split_queries(path: str | Path, outs: list[str | Path]) -> list[int]:
    """Write len(outs) chunk files (`qid<TAB>text`, sorted ids); returns the chunk sizes."""
    queries = load_queries(path)
    qids = sorted(queries)
    sizes = []
    for i, out in enumerate(outs):
        lo, hi = shard_bounds(len(qids), i, len(outs))
        with atomic_open(out) as f:
            for q in qids[lo:hi]:
                f.write(f"{q}\t{queries[q]}\n")
        sizes.append(hi - lo)
    return sizes


def concat_runs(paths: list[str | Path], out: str | Path) -> int:
    """Concatenate TREC runs of disjoint query chunks (streaming: a 50M-line run never sits in memory);
    a query id found in two chunks is an error. Returns the number of queries."""
    seen: set[str] = set()
    with atomic_open(out) as f:
        for path in paths:
            here: set[str] = set()
            with open(path, encoding="utf-8") as src:
                for n, line in enumerate(src, 1):
                    qid = line.split(maxsplit=1)[0] if line.strip() else None
                    if qid is None:
                        continue
                    if qid in seen:
                        raise DataError(f"{path}:{n}: query {qid!r} is also in an earlier chunk")
                    here.add(qid)
                    f.write(line if line.endswith("\n") else line + "\n")
            seen |= here
    return len(seen)


def cmd_split(a) -> None:
    sizes = split_queries(a.queries, a.out)
    print(f"split {sum(sizes)} queries into {len(sizes)} chunks: {sizes}")


def cmd_concat(a) -> None:
    print(f"{concat_runs(a.runs, a.out)} queries -> {a.out}")


def register(sub) -> None:
    p = sub.add_parser("split-queries", help="split a queries TSV into chunks (sorted ids) for parallel search")
    p.add_argument("--queries", required=True)
    p.add_argument("--out", nargs="+", required=True, help="one output file per chunk, in chunk order")
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("concat-runs", help="concatenate the TREC runs of disjoint query chunks")
    p.add_argument("--runs", nargs="+", required=True, help="chunk runs, in chunk order")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_concat)
