#!/usr/bin/env bash
# Issue 4's bar outside the CPU grid: does a fully fine-tuned MiniLM cross-encoder, trained longer than
# the grid's 64 steps, beat BM25 on Debian dev when it re-ranks BM25's top 100 (the paper's depth)?
#
#   bench/reranker_bar.sh [STEPS] [OUT]       (run in a directory where `make run` has finished)
#
# Same data, triples, hyper-parameters and seed as config.yaml's `full` cross-encoder except the number
# of steps (default 400; warmup stays 10%). Re-ranks results/retriever/bm25/none/s0/runs/debian.dev.run
# at depth 20 and 100 and evaluates both with the table's measures; prints them beside BM25's.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${1:-400}; OUT=${2:-results/bench/reranker_bar}
PY="$REPO/.venv/bin/python -m peftir"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=PASSIVE
mkdir -p "$OUT"
HP=$(.venv/bin/python - "$STEPS" <<'PY'
import json, sys, yaml
c = yaml.safe_load(open("config.yaml"))
hp = {**c["reranker"], "lr": c["methods"]["full"].get("reranker_lr", c["methods"]["full"]["lr"]),
      "steps": int(sys.argv[1]), "eval_every": max(1, int(sys.argv[1]) // 8), "ckpt_every": 0}
print(json.dumps(hp))
PY
)
D=results/data/debian
$PY train-reranker --method-json '{"budget": "natural", "budget_pct": null, "method": "full", "name": "full", "params": {}}' \
  --train-json "$HP" --backbone-json '{"name": "all-MiniLM-L6-v2", "normalize": true, "pooling": "mean"}' \
  --triples results/train/debian/triples.jsonl.gz --corpus $D/corpus.jsonl.gz --dev-queries $D/queries.dev.tsv \
  --dev-qrels $D/qrels.dev.tsv --dev-run results/retriever/bm25/none/s0/runs/debian.dev.run --seed 1 \
  --out "$OUT/model" --curve "$OUT/curve.jsonl" --run-info "$OUT/run_info.json" --threads 2
for depth in 20 100; do
  $PY rerank --run results/retriever/bm25/none/s0/runs/debian.dev.run --model "$OUT/model" --queries $D/queries.dev.tsv \
    --corpus $D/corpus.jsonl.gz --depth $depth --bf16 --out "$OUT/dev.top$depth.run" --run-info "$OUT/rerank.top$depth.json" \
    --candidates bm25 --threads 2
  $PY evaluate --run "$OUT/dev.top$depth.run" --qrels $D/qrels.dev.tsv --measures RR@10 RR@100 nDCG@10 nDCG@100 \
    --out "$OUT/dev.top$depth.metrics.json"
done
$PY evaluate --run results/retriever/bm25/none/s0/runs/debian.dev.run --qrels $D/qrels.dev.tsv \
  --measures RR@10 RR@100 nDCG@10 nDCG@100 --out "$OUT/bm25.metrics.json"
.venv/bin/python - "$OUT" <<'PY'
import json, sys
from peftir.analysis.significance import paired_ttest
out = sys.argv[1]
m = {k: json.load(open(f"{out}/{f}")) for k, f in
     [("BM25", "bm25.metrics.json"), ("CE top 20", "dev.top20.metrics.json"), ("CE top 100", "dev.top100.metrics.json")]}
for k, v in m.items():
    print(f"{k:12s}", {x: round(y, 4) for x, y in v["aggregate"].items()})
for k in ("CE top 20", "CE top 100"):
    t = paired_ttest(m[k]["per_query"]["RR@10"], m["BM25"]["per_query"]["RR@10"])
    print(f"{k} vs BM25, RR@10: diff {t.mean_diff:+.4f}, t {t.t:.2f}, p {t.p:.3g}, n {t.n}")
PY
