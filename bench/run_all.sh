#!/usr/bin/env bash
# Run every benchmark with its small defaults; results land in bench/results/*.json.
# Each benchmark measures ours and its baseline in the same run (interleaved rounds, medians).
# Usage: bench/run_all.sh            (from the repository root; needs .venv and, for encode.py,
#                                     .venv/bin/pip install sentence-transformers)
#        PY=python3 bench/run_all.sh  (another interpreter)
# Bigger runs: pass sizes to the scripts themselves (see each --help and bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p bench/results
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
$PY bench/train_step.py
$PY bench/train_step.py --dtype bf16
$PY bench/methods.py
$PY bench/encode.py
$PY bench/search.py
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
