#!/usr/bin/env bash
# The `answers` rule's command (workflow/rules/analysis.smk) on the default's Debian dev systems of both stages.
set -euo pipefail
# Usage, in the run's directory with peftir importable: bash answers_both.sh OUTDIR
R="results/retriever/full/natural/s1 results/retriever/full/natural/s2 results/retriever/full/natural/s3"
for m in adapter lora iaa-l; do for s in 1 2 3; do R="$R results/retriever/$m/small/s$s"; done; done
R="$R results/retriever/bitfit/natural/s1 results/retriever/iaa-m/small/s1"
C="results/reranker/full/natural/s1 results/reranker/adapter/small/s1 results/reranker/lora/small/s1 results/reranker/iaa-l/small/s1"
SYS="$R $C"
CUR=""; for d in $SYS; do CUR="$CUR $d/curve.jsonl"; done
python -m peftir answers --systems $SYS --curves $CUR \
  --evals '{"retriever": [{"dataset": "debian", "split": "dev", "measures": ["RR@10", "R@20", "R@100", "R@1000", "nDCG@10"]}], "reranker": [{"dataset": "debian", "split": "dev", "measures": ["RR@10", "RR@100", "nDCG@10", "nDCG@100"]}]}' \
  --methods '{"full": {"method": "full"}, "bitfit": {"method": "bitfit"}, "adapter": {"method": "adapter"}, "lora": {"method": "lora"}, "iaa-l": {"method": "iaa"}, "iaa-m": {"method": "iaa"}}' \
  --budget small --budget-pct 0.5 --iaa-run iaa-l --adapter-method adapter --margin 0.005 --alpha 0.05 \
  --metric RR@10 --fraction 0.9 --beta 0.9 --spike-k 3.0 --backbone all-MiniLM-L6-v2 \
  --json "$1/answers.json" --md "$1/answers.md"
