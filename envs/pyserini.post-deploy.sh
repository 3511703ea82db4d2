#!/usr/bin/env bash
# Snakemake runs this once in the new environment, from the working directory (the repository root).
# 1. The lock: every distribution at the tested venv's version (scripts/lock_envs.py writes it, and the
#    sha256 line below, so that a new lock changes this file and Snakemake rebuilds the environment).
# 2. The peftir package itself, editable and without dependencies (the lock pins those).
# lock sha256: 0c4f28b85e5fc2b8e129b9973dabcb1ec449ebd180967ebd3a3a49595391e3f2
set -euo pipefail
python -m pip install --no-deps -r envs/pyserini.lock.txt
python -m pip install --no-deps -e .
