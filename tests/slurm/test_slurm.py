"""The SLURM test (issue 15): tests/slurm/run_slurm_test.sh starts a single-node SLURM cluster from Debian's
packages, runs the smoke DAG through profiles/slurm and compares it with a local run. It needs root and
apt and takes ~45 min on 2 shared cores, so it runs only with PEFTIR_SLURM_TEST=1:

    PEFTIR_SLURM_TEST=1 .venv/bin/pytest -m slurm tests/slurm -s

The other tests here check the overlay profile and the comparison without a cluster."""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"slurm_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slurm
@pytest.mark.skipif(os.environ.get("PEFTIR_SLURM_TEST") != "1", reason="set PEFTIR_SLURM_TEST=1 (root, apt, ~45 min)")
def test_smoke_dag_through_slurm_equals_local_run(tmp_path):
    summary = tmp_path / "summary.json"
    r = subprocess.run([str(HERE / "run_slurm_test.sh")], env={**os.environ, "SUMMARY": str(summary)},
                       capture_output=True, text=True, timeout=3 * 3600, check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    s = json.loads(summary.read_text())
    print(json.dumps(s, indent=1))
    assert s["ok"] and s["sent_to_slurm"] > 50 and s["slurm_jobs_completed"] == s["sent_to_slurm"]
    assert s["comparison"]["files"] > 30 and s["comparison"]["n_diffs"] == 0 and not s["comparison"]["missing"]


def test_overlay_changes_only_cluster_specific_values(tmp_path):
    overlay = load("overlay")
    shipped = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    p = overlay.overlay(shipped, 2, tmp_path)
    assert p["executor"] == shipped["executor"] == "slurm"
    assert set(p["set-resources"]) == set(shipped["set-resources"])
    for res in [p["default-resources"], *p["set-resources"].values()]:
        assert res["slurm_partition"] == "peftir" and "slurm_account" not in res
        assert res.get("gpu", 0) == 0 and res.get("cpus_per_task", 1) <= 2 and res.get("mem_mb", 0) <= 4000
    assert all(n <= 2 for n in p["set-threads"].values())
    assert p["slurm-no-account"] is True and p["retries"] == 0


def test_compare_finds_a_changed_number(tmp_path):
    compare = load("compare")
    for side, value in (("local", 0.8123456), ("slurm", 0.8123457)):
        d = tmp_path / side / "results" / "retriever" / "full" / "natural" / "s1" / "metrics"
        d.mkdir(parents=True)
        (d / "debian.dev.json").write_text(json.dumps({"aggregate": {"RR@10": value}, "per_query": {"q1": 1.0}}))
        t = tmp_path / side / "results" / "tables"
        t.mkdir(parents=True)
        (t / "retrieval.csv").write_text("system,RR@10\nfull,0.81\n")
    c = compare.compare(tmp_path / "local", tmp_path / "slurm")
    assert c["files"] == 2 and c["values"] == 2 + 4 and c["n_diffs"] == 0  # 1e-7 apart: within 1e-6
    (tmp_path / "slurm" / "results" / "tables" / "retrieval.csv").write_text("system,RR@10\nfull,0.82\n")
    c = compare.compare(tmp_path / "local", tmp_path / "slurm")
    assert c["n_diffs"] == 1 and "retrieval.csv" in c["diffs"][0]
    for side, t in (("local", "12.5"), ("slurm", "30.1")):  # wall clock differs: not compared
        (tmp_path / side / "results" / "tables" / "retrieval.csv").write_text(f"system,RR@10,train time s\nfull,0.81,{t}\n")
    c = compare.compare(tmp_path / "local", tmp_path / "slurm")
    assert c["n_diffs"] == 0 and c["timing_columns_skipped"] == 1
    log = "Job stats:\njob  count\n---  -----\nencode 3\nevaluate 2\ntotal 5\n\nlocalrule evaluate:\nlocalrule evaluate:\n"
    assert compare.job_stats(log)["total"] == 5 and compare.local_jobs(log) == 2
