"""profiles/slurm (issue 15): it plans with the SLURM executor plugin on the default and smoke configs, with
conda (`--sdm conda` on the command line) and without it, and its resources match where each rule runs:
a job is sent to the GPU partition exactly when it asks for a GPU."""

import json
import subprocess
import sys

import pytest
import yaml

from workflow_testutil import REPO, SHARED_DATA, env, make_workdir, output, snakemake_cmd

PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
# subcommands that put their work on CUDA when there is a GPU (`--device` defaults to cuda if available)
GPU_RULES = {"train_retriever", "train_reranker", "encode_shard", "rerank", "rerank_zero_shot", "landscape"}

# A stand-in for conda, which cannot be installed here (no conda channel is reachable): it answers the three
# queries Snakemake's conda check makes, which is all a dry run needs (it creates no environment).
CONDA_STUB = """#!/bin/sh
case "$*" in
  "--version") echo "conda 24.11.3" ;;
  "info --json") printf '{"conda_prefix": "/opt/conda", "platform": "linux-64", "envs_dirs": []}\\n' ;;
  "config --get channel_priority --json") printf '{"get": {"channel_priority": "strict"}}\\n' ;;
  *) echo "conda stand-in: $*: not supported" >&2; exit 1 ;;
esac
"""


def profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


@pytest.fixture(scope="module")
def rules():
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "env_imports.py"), "--json"], cwd=REPO, env=env(),
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode in (0, 1), r.stderr[-3000:]
    return json.loads(r.stdout)["all_rules"]


def test_profile_leaves_conda_to_the_command_line():
    p = profile()
    assert p["executor"] == "slurm"
    assert not {"use-conda", "software-deployment-method", "sdm"} & set(p)
    assert "--sdm conda" in PROFILE.read_text()  # documented in the header


def test_resources_match_where_each_rule_runs(rules):
    p = profile()
    default, per_rule = p["default-resources"], p["set-resources"]
    assert set(per_rule) <= set(rules), set(per_rule) - set(rules)  # no typo in a rule name
    assert {n for n, r in rules.items() if r["gpu"]} == GPU_RULES
    for name, r in rules.items():
        if r["local"]:
            assert name not in per_rule, f"{name} runs in the Snakemake process, not as a SLURM job"
            continue
        res = {**default, **per_rule.get(name, {})}
        gpus = res.get("gpu", r["gpu"])
        on_gpu_partition = res["slurm_partition"] == "<gpu-partition>"
        assert (gpus >= 1) == on_gpu_partition, f"{name}: gpu={gpus} on {res['slurm_partition']}"
        threads = p.get("set-threads", {}).get(name)
        assert threads is None or threads == res["cpus_per_task"], f"{name}: threads {threads} != cpus"
    # the trainers' GPU count is the config's (retriever.gpus > 1 runs torchrun): the profile must not pin it
    assert not {"gpu", "gpus"} & (set(per_rule["train_retriever"]) | set(per_rule["train_reranker"]))


def dry(tmp_path, *args, path_prefix: str | None = None) -> str:
    pytest.importorskip("snakemake_executor_plugin_slurm")
    wd = make_workdir(tmp_path)
    e = env()
    if path_prefix:
        e["PATH"] = f"{path_prefix}:{e['PATH']}"
    args = (*args, "--config", f"data_root={SHARED_DATA}")  # relative in the configs: absolute from wd
    r = subprocess.run(snakemake_cmd("-n", "--profile", "profiles/slurm", *args), cwd=wd, env=e, capture_output=True,
                       text=True, timeout=600, check=False)
    out = output(r)
    assert r.returncode == 0, out[-3000:]
    return out


@pytest.mark.parametrize("config", ["config.yaml", "config/smoke.yaml"])
def test_profile_plans_without_conda(tmp_path, config):
    out = dry(tmp_path, "--configfile", config)
    assert "train_retriever" in out and "Conda environment" not in out


def test_profile_plans_with_conda(tmp_path):
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "conda").write_text(CONDA_STUB)
    (stub / "conda").chmod(0o755)
    out = dry(tmp_path / "wd", "--sdm", "conda", "--configfile", "config/smoke.yaml", path_prefix=str(stub))
    for name in ("torch", "pyserini", "analysis"):
        assert f"Conda environment envs/{name}.yaml will be created" in out, out[-3000:]
