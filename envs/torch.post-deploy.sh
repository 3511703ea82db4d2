#!/usr/bin/env bash
# Snakemake runs this once in the new environment, from the working directory (the repository root):
# the peftir package itself, editable and without dependencies (the environment file pins those).
set -euo pipefail
python -m pip install --no-deps -e .
