#!/usr/bin/env bash
# The one-off training-quality checks behind config.yaml's bf16 and re-ranker learning-rate defaults
# (bench/README.md, "Quality checks behind the defaults"). Not a speed benchmark: each run trains a
# real model for 60-100 steps and records its dev-subset RR@10 curve.
#
#   bench/quality_checks.sh WORKDIR [OUT]
#
# WORKDIR: a directory where the pipeline has produced results/train/debian/triples.jsonl.gz,
# results/data/debian/* and results/retriever/bm25/none/s0/runs/debian.dev.run (any config: the
# numbers in the README came from the embedded default's data for the bf16 A/B and from
# config/quick.yaml's for the re-ranker sweep). OUT (default bench/results/quality) gets one
# directory per run with curve.jsonl and run_info.json.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WD=$(cd "$1" && pwd); OUT=$(mkdir -p "${2:-$REPO/bench/results/quality}" && cd "${2:-$REPO/bench/results/quality}" && pwd)
PY="$REPO/.venv/bin/python -m peftir"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=PASSIVE
BB='{"name": "all-MiniLM-L6-v2", "normalize": true, "pooling": "mean"}'
FULL='{"budget": "natural", "budget_pct": null, "method": "full", "name": "full", "params": {}}'
LORA='{"budget": "small", "budget_pct": 0.5, "method": "lora", "name": "lora", "params": {"r": 16, "alpha": 32}}'
PFX='{"budget": "small", "budget_pct": 0.5, "method": "prefix", "name": "prefix", "params": {"l": 32}}'
cd "$WD"
DATA=(--triples results/train/debian/triples.jsonl.gz --corpus results/data/debian/corpus.jsonl.gz
      --dev-queries results/data/debian/queries.dev.tsv --dev-qrels results/data/debian/qrels.dev.tsv
      --dev-run results/retriever/bm25/none/s0/runs/debian.dev.run --seed 1)

retriever() {  # name bf16: full fine-tuning, 100 steps, 8 queries x (1 + 3) passages
  $PY train-retriever --method-json "$FULL" --backbone-json "$BB" "${DATA[@]}" --threads 2 \
    --train-json '{"batch_size": 8, "bf16": '"$2"', "ckpt_every": 0, "dev_candidates": 16, "dev_queries": 64, "eval_every": 20, "grad_clip": 1.0, "lr": 2e-05, "n_neg": 3, "p_len": 96, "q_len": 32, "steps": 100, "temperature": 0.05, "warmup": 0.1, "weight_decay": 0.01}' \
    --out "$OUT/$1/model" --curve "$OUT/$1/curve.jsonl" --run-info "$OUT/$1/run_info.json"
}
reranker() {  # name method-json pooling lr head_lr: 60 steps, 4 queries x (1 + 7) pairs
  $PY train-reranker --method-json "$2" --backbone-json "$BB" "${DATA[@]}" --threads 2 \
    --train-json '{"steps": 60, "batch_size": 4, "n_neg": 7, "max_len": 128, "q_len": 32, "p_len": 96, "pooling": "'"$3"'", "warmup": 0.1, "weight_decay": 0.01, "grad_clip": 1.0, "bf16": true, "eval_every": 20, "dev_queries": 32, "dev_candidates": 12, "ckpt_every": 0, "head_lr": '"$5"', "lr": '"$4"'}' \
    --out "$OUT/$1/model" --curve "$OUT/$1/curve.jsonl" --run-info "$OUT/$1/run_info.json"
}
retriever full-fp32 false
retriever full-bf16 true
reranker A "$FULL" cls 2e-5 1e-3
reranker B "$FULL" mean 2e-5 1e-3
reranker C "$FULL" mean 1e-4 1e-3
reranker D "$FULL" mean 3e-4 3e-3
reranker E "$LORA" mean 1e-3 1e-3
reranker F "$LORA" mean 3e-3 3e-3
reranker G "$LORA" mean 3e-3 1e-3
reranker H "$PFX" mean 3e-3 1e-3
reranker H2 "$PFX" mean 1e-3 1e-3
reranker H3 "$PFX" mean 1e-2 1e-3
for d in "$OUT"/*/; do rm -rf "$d/model"; done   # keep the curves and provenance, not the weights
