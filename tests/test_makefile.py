"""`make profile P=<name>`: runs a config/ profile in its own directory runs/<name>/, with the profile's
data_root made absolute (relative, it would resolve inside runs/<name>/); an unknown profile is refused
with its file name before anything runs."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from workflow_testutil import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess:
    # -o .venv/.installed: never (re)build the environment from a test
    return subprocess.run(["make", "-s", "-o", ".venv/.installed", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize("profile,root", [("seeds", "../shared/data"), ("msmarco", "data")])
def test_profile_runs_in_its_own_directory_with_absolute_data_root(profile, root):
    r = make("-n", "profile", f"P={profile}")
    assert r.returncode == 0, r.stderr
    runs = [line for line in r.stdout.splitlines() if "snakemake" in line]
    assert len(runs) == 2, r.stdout  # the DAG, then its report
    data_root = os.path.normpath(REPO / root)  # as make's $(abspath): lexical, links kept
    for line in runs:
        assert f"--configfile config/{profile}.yaml" in line
        assert f"--directory runs/{profile}" in line
        assert f"data_root={data_root}" in line
    assert "--report results/report.html" in runs[1]


def test_unknown_profile_is_refused_naming_the_file():
    r = make("profile", "P=no-such-profile")
    assert r.returncode != 0
    assert "config/no-such-profile.yaml: no such profile" in r.stderr
    assert not (REPO / "runs" / "no-such-profile").exists()


@pytest.mark.parametrize("target", [["run"], ["quick"], ["profile", "P=seeds"]])
def test_a_local_run_first_says_what_bf16_auto_does_here(target):
    r = make("-n", *target)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if "peftir precision" in line or "snakemake" in line]
    assert "-m peftir precision" in lines[0], r.stdout  # before the DAG runs
