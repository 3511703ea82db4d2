#!/usr/bin/env bash
# Run every benchmark with its small defaults; results land in bench/results/*.json, and
# bench/report.py renders them as the tables of bench/README.md.
# Each benchmark measures ours and its baseline in the same run (interleaved rounds, medians).
#
# OMP_WAIT_POLICY=PASSIVE by default: on a 2-core machine shared with other jobs, libgomp's default
# spin-waiting makes 2-thread torch 5-10x slower and its timings mostly noise (bench/omp_policy.py
# measures exactly that; it sets the policy per worker itself). Ours and the baselines always run
# under the same policy. Override: OMP_WAIT_POLICY=ACTIVE bench/run_all.sh
#
# Usage: bench/run_all.sh             (from anywhere; needs .venv and, for encode.py,
#                                      .venv/bin/pip install sentence-transformers)
#        PY=python3 bench/run_all.sh  (another interpreter)
# Bigger runs: pass sizes to the scripts themselves (see each --help and bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p bench/results
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
$PY bench/train_step.py
$PY bench/train_step.py --dtype bf16
$PY bench/methods.py
$PY bench/encode.py
$PY bench/search.py
$PY bench/omp_policy.py
$PY bench/omp_policy.py --what encode
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
$PY bench/report.py
