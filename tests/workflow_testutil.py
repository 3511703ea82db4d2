"""Helpers for tests that run Snakemake: a throwaway work directory that links the repository's workflow
(Snakefile, rules, package, configs, expected scores) and holds its own config, results and logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from peftir import config as pcfg

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
LINKED = ("Snakefile", "workflow", "src", "envs", "config", "config.yaml", "expected", "profiles")
BIN = Path(sys.executable).parent


def load_config(name: str = "config/smoke.yaml", **top) -> dict:
    """A shipped profile resolved on config.yaml, with an absolute data_root (so it resolves from any work
    directory)."""
    c = pcfg.load(REPO / name)
    c["data_root"] = str(SHARED_DATA)
    c.update(top)
    return c


def config_yaml(config: dict) -> str:
    """A resolved configuration as a file for `--configfile`: complete on its own (`_replace: true` at the top),
    so Snakemake does not lay it over config.yaml as an overlay."""
    return yaml.safe_dump({pcfg.REPLACE: True, **config}, sort_keys=False)


def make_workdir(path: Path, config: dict | None = None, name: str = "test.yaml") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for item in LINKED:
        if (REPO / item).exists() and not (path / item).exists():
            (path / item).symlink_to(REPO / item)
    if config is not None:
        (path / name).write_text(config_yaml(config))
    return path


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"  # rules call `python -m peftir`
    e.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return e


def snakemake_cmd(*args: str) -> list[str]:
    return [str(BIN / "snakemake"), "--nolock", *args]


def snakemake(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd(*args), cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def output(r: subprocess.CompletedProcess) -> str:
    return (r.stdout or "") + (r.stderr or "")


def tail(r: subprocess.CompletedProcess, n: int = 60) -> str:
    return "\n".join(output(r).splitlines()[-n:])
