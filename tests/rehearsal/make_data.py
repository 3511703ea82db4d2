"""Tiny MS MARCO passage / document and TREC DL 2019 files for the dress rehearsal (config/rehearsal.yaml).

Writes, under OUT, the official files in ir_datasets' cache layout, so that `IR_DATASETS_HOME=OUT` makes
`ir_datasets.load("msmarco-passage/train/judged")` & co. read them offline (nothing is downloaded: each
file sits where ir_datasets caches the download or its extraction):

  msmarco-passage/collection.tsv            pid \\t passage                      (collection.tsv)
  msmarco-passage/irds_version.txt          "v2" (else ir_datasets deletes collection.tsv to re-fetch it)
  msmarco-passage/train/queries.tsv         qid \\t query                        (queries.train.tsv)
  msmarco-passage/train/qrels               qid 0 pid 1                         (qrels.train.tsv)
  msmarco-passage/dev/small/queries.tsv     (queries.dev.small.tsv)
  msmarco-passage/dev/small/qrels           (qrels.dev.small.tsv)
  msmarco-passage/trec-dl-2019/queries.tsv  (msmarco-test2019-queries.tsv: all topics, some judged)
  msmarco-passage/trec-dl-2019/qrels        qid Q0 pid grade, grades 0-3         (2019qrels-pass.txt)
  msmarco-document/collection.tsv.gz        <DOC><DOCNO>D..</DOCNO><TEXT>url, title, body (msmarco-docs.trec.gz)
  msmarco-document/dev/queries.tsv.gz       (msmarco-docdev-queries.tsv.gz)
  msmarco-document/dev/qrels.gz             qid 0 docid 1                        (msmarco-docdev-qrels.tsv.gz)
  msmarco-document/trec-dl-2019/queries.tsv.gz   (msmarco-test2019-queries.tsv.gz)
  msmarco-document/trec-dl-2019/qrels       qid Q0 docid grade, grades 0-3       (2019qrels-docs.txt)

The text is synthetic but learnable: each topic has its own words; a query draws a few of its topic's
words, its relevant passages many more. Deterministic for a seed.

    python tests/rehearsal/make_data.py OUT [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import random
from pathlib import Path

WORDS = ["river", "mountain", "forest", "ocean", "desert", "island", "valley", "canyon", "glacier", "volcano", "harbor", "bridge", "tower", "castle", "garden", "market", "village", "city", "school", "library", "museum", "hospital", "station", "airport", "factory", "farm", "church", "engine", "motor", "battery", "circuit", "signal", "network", "server", "kernel", "memory", "processor", "printer", "screen", "camera", "guitar", "piano", "violin", "drum", "trumpet", "song", "dance", "theater", "movie", "novel", "poem", "painting", "statue", "opera", "apple", "banana", "cherry", "grape", "lemon", "mango", "orange", "peach", "pear", "plum", "tomato", "potato", "carrot", "onion", "garlic", "lion", "tiger", "bear", "wolf", "eagle", "shark", "whale", "dolphin", "horse", "rabbit", "snake", "turtle", "spider", "insect", "bird", "doctor", "lawyer", "teacher", "farmer", "pilot", "sailor", "soldier", "artist", "writer", "singer", "judge", "nurse", "chef", "baker", "winter", "summer", "spring", "autumn", "storm", "rain", "snow", "wind", "cloud", "thunder", "lightning", "sunshine", "frost", "fog", "copper", "iron", "gold", "silver", "steel", "glass", "stone", "wood", "paper", "cotton", "wool", "leather", "plastic", "rubber", "clay", "football", "tennis", "soccer", "hockey", "baseball", "golf", "swimming", "cycling", "running", "skiing", "boxing", "chess", "rugby", "history", "science", "physics", "chemistry", "biology", "geology", "algebra", "geometry", "economics", "politics", "law", "music"]
FILLER = ["the", "a", "of", "and", "in", "to", "is", "for", "on", "with", "as", "by", "at", "from", "that", "this", "which", "are", "was"]


def topics(rng: random.Random, n: int, size: int = 8) -> list[list[str]]:
    return [rng.sample(WORDS, size) for _ in range(n)]


def text(rng: random.Random, topic: list[str], n_topic: int, n_other: int) -> str:
    words = rng.choices(topic, k=n_topic) + rng.choices(WORDS, k=n_other) + rng.choices(FILLER, k=n_other)
    rng.shuffle(words)
    return " ".join(words)


def write(path: Path, lines, gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(f"{line}\n" for line in lines)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(data)
    else:
        path.write_text(data, encoding="utf-8")


def make(out: Path, seed: int = 0, n_topics: int = 40, per_topic: int = 6) -> dict[str, int]:
    """Write every file; returns counts (for the test and the log)."""
    rng = random.Random(seed)
    out = Path(out)
    tps = topics(rng, n_topics)
    # --- passages: per_topic passages per topic; pids are integers as in collection.tsv
    pids = {t: [t * per_topic + j for j in range(per_topic)] for t in range(n_topics)}
    p = out / "msmarco-passage"
    (p / "irds_version.txt").parent.mkdir(parents=True, exist_ok=True)
    (p / "irds_version.txt").write_text("v2")  # exactly, no newline
    write(p / "collection.tsv", (f"{pid}\t{text(rng, tps[t], 12, 10)}" for t in pids for pid in pids[t]))
    qid = iter(range(1000, 10**6))

    def queries(ts, n_per):
        return [(next(qid), t, text(rng, tps[t], 3, 1)) for t in ts for _ in range(n_per)]

    train = queries(range(24), 3)          # 72 training queries
    dev = queries(range(24, 32), 2)           # 16 dev queries
    dl = queries(range(32, 40), 2)            # 16 TREC DL topics, 10 judged
    dl_judged = dl[:10]
    write(p / "train/queries.tsv", (f"{q}\t{s}" for q, _, s in train))
    write(p / "train/qrels", (f"{q}\t0\t{pids[t][0]}\t1" for q, t, _ in train))
    write(p / "dev/small/queries.tsv", (f"{q}\t{s}" for q, _, s in dev))
    write(p / "dev/small/qrels", (f"{q}\t0\t{pids[t][0]}\t1" for q, t, _ in dev))
    write(p / "trec-dl-2019/queries.tsv", (f"{q}\t{s}" for q, _, s in dl))
    # graded 0-3: every passage of the topic judged, grade by position (3, 2, 1, 0, ...), plus a judged
    # non-relevant one from another topic; only grades >= 2 count for the binary measures (rel: 2)
    write(p / "trec-dl-2019/qrels", (f"{q} Q0 {pid} {max(0, 3 - j)}" for q, t, _ in dl_judged
                                     for j, pid in enumerate(pids[t][:4] + [pids[(t + 1) % n_topics][0]])))
    # --- documents: url, title, body; FirstP keeps the first 512 tokens
    d = out / "msmarco-document"
    dids = {t: [f"D{t * per_topic + j}" for j in range(per_topic)] for t in range(n_topics)}
    docs = []
    for t, ids in dids.items():
        for did in ids:
            title = " ".join(rng.sample(tps[t], 3))
            docs += ["<DOC>", f"<DOCNO>{did}</DOCNO>", "<TEXT>", f"http://example.org/{did}", title,
                     text(rng, tps[t], 40, 40), "</TEXT>", "</DOC>"]
    write(d / "collection.tsv.gz", docs, gz=True)
    ddev = queries(range(16), 1)           # 16 document dev queries
    ddl = queries(range(16, 32), 1)           # 16 TREC DL document topics, 10 judged
    write(d / "dev/queries.tsv.gz", (f"{q}\t{s}" for q, _, s in ddev), gz=True)
    write(d / "dev/qrels.gz", (f"{q} 0 {dids[t][0]} 1" for q, t, _ in ddev), gz=True)
    write(d / "trec-dl-2019/queries.tsv.gz", (f"{q}\t{s}" for q, _, s in ddl), gz=True)
    write(d / "trec-dl-2019/qrels", (f"{q} Q0 {did} {max(0, 3 - j)}" for q, t, _ in ddl[:10]
                                     for j, did in enumerate(dids[t][:4])))
    return {"passages": n_topics * per_topic, "docs": n_topics * per_topic, "train": len(train), "dev": len(dev),
            "dl19_topics": len(dl), "dl19_judged": len(dl_judged), "doc_dev": len(ddev), "doc_dl19_judged": 10}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="becomes IR_DATASETS_HOME")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(make(a.out, a.seed))


if __name__ == "__main__":
    main()
