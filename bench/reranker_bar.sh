#!/usr/bin/env bash
# Issue 4's bar outside the CPU grid: does a cross-encoder trained longer than the grid's 64 steps beat
# BM25 on Debian dev when it re-ranks BM25's candidates? Also the schedule sweep of bench/README.md.
#
#   bench/reranker_bar.sh [STEPS] [OUT]       (run in a directory where `make run` has finished)
#
# Same data, triples, hyper-parameters and seed as config.yaml's cross-encoder of METHOD at BUDGET
# except the number of steps (default 400; warmup stays 10%). Re-ranks
# results/retriever/bm25/none/s0/runs/debian.dev.run at each of DEPTHS and evaluates with the table's
# measures; prints them beside BM25's with a paired t-test. Environment overrides (all optional):
#   METHOD=full BUDGET=natural   a run name of config.yaml's `methods` and one of its budgets
#   LR=1e-4                      the body's learning rate (default: the method's reranker_lr)
#   HP='{"batch_size": 8, "n_neg": 3}'   any other reranker.* key
#   DEPTHS="20 100"  THREADS=2
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${1:-400}; OUT=${2:-results/bench/reranker_bar}
METHOD=${METHOD:-full}; BUDGET=${BUDGET:-natural}; DEPTHS=${DEPTHS:-20 100}; THREADS=${THREADS:-2}; HP=${HP:-"{}"}
PY="$REPO/.venv/bin/python -m peftir"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=PASSIVE
mkdir -p "$OUT"
mapfile -t SPEC < <("$REPO/.venv/bin/python" - "$STEPS" "$METHOD" "$BUDGET" "${LR:-}" "$HP" <<'PY'
import json, sys, yaml
from peftir.config import method_json
steps, run, budget, lr, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
c = yaml.safe_load(open("config.yaml"))
m = c["methods"][run]
hp = {**c["reranker"], "lr": float(lr) if lr else m.get("reranker_lr", m["lr"]),
      "steps": steps, "eval_every": max(1, steps // 8), "ckpt_every": 0, **extra}
print(method_json(c, run, budget), json.dumps(hp), sep="\n")
PY
)
MJ=${SPEC[0]}; HPJ=${SPEC[1]}
D=results/data/debian
start=$(date +%s)
$PY train-reranker --method-json "$MJ" --train-json "$HPJ" \
  --backbone-json '{"name": "all-MiniLM-L6-v2", "normalize": true, "pooling": "mean"}' \
  --triples results/train/debian/triples.jsonl.gz --corpus $D/corpus.jsonl.gz --dev-queries $D/queries.dev.tsv \
  --dev-qrels $D/qrels.dev.tsv --dev-run results/retriever/bm25/none/s0/runs/debian.dev.run --seed 1 \
  --out "$OUT/model" --curve "$OUT/curve.jsonl" --run-info "$OUT/run_info.json" --threads "$THREADS"
echo "training: $(( $(date +%s) - start )) s ($METHOD/$BUDGET, $STEPS steps, $THREADS threads)" | tee "$OUT/train_time.txt"
for depth in $DEPTHS; do
  $PY rerank --run results/retriever/bm25/none/s0/runs/debian.dev.run --model "$OUT/model" --queries $D/queries.dev.tsv \
    --corpus $D/corpus.jsonl.gz --depth "$depth" --bf16 --out "$OUT/dev.top$depth.run" \
    --run-info "$OUT/rerank.top$depth.json" --candidates bm25 --threads "$THREADS"
  $PY evaluate --run "$OUT/dev.top$depth.run" --qrels $D/qrels.dev.tsv --measures RR@10 RR@100 nDCG@10 nDCG@100 \
    --out "$OUT/dev.top$depth.metrics.json"
done
$PY evaluate --run results/retriever/bm25/none/s0/runs/debian.dev.run --qrels $D/qrels.dev.tsv \
  --measures RR@10 RR@100 nDCG@10 nDCG@100 --out "$OUT/bm25.metrics.json"
"$REPO/.venv/bin/python" - "$OUT" $DEPTHS <<'PY' | tee "$OUT/summary.txt"
import json, sys
from peftir.analysis.significance import paired_ttest
out, depths = sys.argv[1], sys.argv[2:]
m = {"BM25": json.load(open(f"{out}/bm25.metrics.json"))}
m.update({f"CE top {d}": json.load(open(f"{out}/dev.top{d}.metrics.json")) for d in depths})
for k, v in m.items():
    print(f"{k:12s}", {x: round(y, 4) for x, y in v["aggregate"].items()})
for k in list(m)[1:]:
    t = paired_ttest(m[k]["per_query"]["RR@10"], m["BM25"]["per_query"]["RR@10"])
    print(f"{k} vs BM25, RR@10: diff {t.mean_diff:+.4f}, t {t.t:.2f}, p {t.p:.3g}, n {t.n}")
PY
