"""A hostile or careless config (issue 13): no value reaches a shell unquoted, no user-named key makes a
path outside results/, nothing outside the output roots is written or removed, numbers are finite and
bounded, duplicate keys and YAML templating are refused. Each message names the key.

The two end-to-end cases (`test_injected_origin_runs_nothing`, `test_dataset_name_cannot_escape_results`)
reproduce the attacks reported in issue 13; on the commit before the fix both fail (the `touch` ran and
the victim's file was deleted)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from peftir import config as pcfg
from peftir import io as pio
from peftir.cli import main
from workflow_testutil import REPO, SHARED_DATA, env, load_config, make_workdir, output, snakemake_cmd

needs_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not beside the repository")


def _mutated(mutate) -> dict:
    c = load_config()
    mutate(c)
    return c


def _rename_dataset(c, old, new):
    c["datasets"][new] = c["datasets"].pop(old)
    for e in c["evaluation"]:
        if e["dataset"] == old:
            e["dataset"] = new


CASES = [  # (id, mutation, message in the error)
    ("shell in origin", lambda c: c["datasets"]["cisi"].update(origin="cisi$(touch pwned)"),
     "datasets.cisi.origin: 'cisi$(touch pwned)' is not valid under any of the given schemas"),
    ("shell in prebuilt index", lambda c: c["bm25"].update(prebuilt={"cisi": "x$(touch pwned)"}),
     "bm25.prebuilt.cisi: 'x$(touch pwned)' does not match"),
    ("shell in qrels name", lambda c: c["datasets"]["cranfield"].update(qrels="q;rm -rf x"),
     "datasets.cranfield.qrels: 'q;rm -rf x' does not match"),
    ("dataset name escapes", lambda c: _rename_dataset(c, "cisi", "../../../VICTIM"),
     "datasets: '../../../VICTIM' does not match"),
    ("budget name escapes", lambda c: c["budgets"].update({"../../../../ESCB": 0.5}),
     "budgets: '../../../../ESCB' does not match"),
    ("budget_seeds name escapes", lambda c: c.update(budget_seeds={"../x": [1]}), "budget_seeds: '../x' does not match"),
    ("split name escapes", lambda c: c["train"].update(split="../train"), "train.split: '../train' does not match"),
    ("unknown prebuilt index", lambda c: c["bm25"].update(prebuilt={"cisi": "msmarco-v1-pasage"}),
     "bm25.prebuilt.cisi: 'msmarco-v1-pasage' is not a pyserini prebuilt BM25 index"),
    ("lr inf", lambda c: c["methods"]["lora"].update(lr=float("inf")), "methods.lora.lr: inf is not a finite number"),
    ("lr nan", lambda c: c["methods"]["lora"].update(lr=float("nan")), "methods.lora.lr: nan is not a finite number"),
    ("nan deep in a list", lambda c: c["analysis"]["convergence"].update(fractions=[0.9, float("nan")]),
     "analysis.convergence.fractions.1: nan is not a finite number"),
    ("too many shards", lambda c: c["encode"].update(n_shards=1000000),
     "encode.n_shards: 1000000 is greater than the maximum of 4096"),
    ("huge batch", lambda c: c["retriever"].update(batch_size=1000000000),
     "retriever.batch_size: 1000000000 is greater than the maximum of 4096"),
    ("huge depth", lambda c: c["bm25"].update(depth=10**7), "bm25.depth: 10000000 is greater than the maximum of 10000"),
    ("huge steps", lambda c: c["reranker"].update(steps=10**9), "reranker.steps: 1000000000 is greater than the maximum"),
]


@needs_data
@pytest.mark.parametrize("name, mutate, message", CASES, ids=[c[0] for c in CASES])
def test_check_config_refuses(tmp_path, capsys, name, mutate, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_mutated(mutate), sort_keys=False))
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_duplicate_keys_are_an_error_naming_both_lines(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("threads: 2\nretriever:\n  steps: 3\n  lr: 1\n  steps: 4\n")
    with pytest.raises(pcfg.ConfigError, match=r"dup.yaml: not valid YAML: .*duplicate key 'steps' \(first on line 3\)"
                                               r"[\s\S]*line 5"):
        pcfg.load_yaml(p)


def test_yaml_templating_and_object_tags_are_refused(tmp_path):
    p = tmp_path / "yte.yaml"
    p.write_text("__use_yte__: true\nthreads: ?1+1\n")
    with pytest.raises(pcfg.ConfigError, match="templated configs run code"):
        pcfg.load_yaml(p)
    p.write_text("threads: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(pcfg.ConfigError, match="not valid YAML"):
        pcfg.load_yaml(p)
    assert not Path("pwned").exists()


# --- every value in a rule's shell command is quoted ------------------------------------------------------


def test_every_param_and_wildcard_in_a_shell_command_is_quoted():
    """`{params.x}` / `{wildcards.x}` in a `shell:` string must carry `:q` (Snakemake quotes each list
    element); the only exceptions are the launcher (a command built from an integer, never from a string of
    the config) and wildcards constrained to fixed words inside a longer path."""
    allowed = {"{params.launch}", "{wildcards.stage}"}
    bad = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for i, line in enumerate(smk.read_text().splitlines(), 1):
            for m in re.finditer(r"\{(?:params|wildcards)\.[A-Za-z_0-9]+(?::[a-z]+)?\}", line):
                if not m.group().endswith(":q}") and m.group() not in allowed:
                    bad.append(f"{smk.name}:{i}: {m.group()}")
    assert not bad, bad


@needs_data
def test_shell_commands_quote_hostile_values(tmp_path):
    """A data root whose name holds shell syntax (a path is free text) is passed as one quoted argument."""
    root = tmp_path / "d$(touch pwned) x"
    root.mkdir()
    for ds in ("debian", "cisi", "cranfield"):
        (root / ds).symlink_to(SHARED_DATA / ds)
    c = load_config(data_root=str(root))
    wd = make_workdir(tmp_path / "wd", c)
    r = subprocess.run(snakemake_cmd("-n", "-p", "--configfile", "test.yaml"), cwd=wd, env=env(),
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, output(r)[-2000:]
    prepare = [line for line in output(r).splitlines() if "peftir prepare --root" in line]
    assert prepare and all(f"--root '{root}/" in line for line in prepare), prepare


# --- end to end: the attacks of issue 13 run nothing and touch nothing -----------------------------------


def _run(wd: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd("--cores", "1", "--configfile", "test.yaml", *args), cwd=wd, env=env(),
                          capture_output=True, text=True, timeout=600, check=False)


@needs_data
@pytest.mark.slow
def test_injected_origin_runs_nothing(tmp_path):
    c = load_config()
    c["datasets"]["cranfield"]["origin"] = "cranfield$(touch pwned)"
    wd = make_workdir(tmp_path / "wd", c)
    r = _run(wd, "--until", "prepare_data_cranfield")
    assert r.returncode != 0
    assert "datasets.cranfield.origin" in output(r), output(r)[-2000:]
    assert not (wd / "pwned").exists() and not list(tmp_path.rglob("pwned"))
    assert not (wd / "results").exists()


@needs_data
@pytest.mark.slow
def test_dataset_name_cannot_escape_results(tmp_path):
    victim = tmp_path / "a" / "b" / "c" / "VICTIM"
    victim.mkdir(parents=True)
    (victim / "precious.txt").write_text("keep me")
    c = load_config()
    _rename_dataset(c, "cisi", "../../../VICTIM")
    wd = make_workdir(tmp_path / "a" / "b" / "c" / "wd", c)
    r = _run(wd, "--until", "prepare_data_../../../VICTIM")
    assert r.returncode != 0
    assert "datasets: '../../../VICTIM' does not match" in output(r), output(r)[-2000:]
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert (victim / "precious.txt").read_text() == "keep me"


# --- the output roots: nothing outside them is written or removed ----------------------------------------


def test_atomic_writes_outside_the_output_roots_are_refused(tmp_path, monkeypatch):
    results = tmp_path / "wd" / "results"
    results.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.txt").write_text("keep")
    monkeypatch.setenv(pio.OUTPUT_ROOTS_ENV, str(results))
    pio.write_json({"a": 1}, results / "x" / "ok.json")  # inside: fine
    for target in (outside, results / ".." / ".." / "outside", outside / "new.json"):
        with pytest.raises(pio.UnsafePath, match="outside the output directories"), pio.atomic_path(target) as tmp:
            tmp.mkdir()
    (results / "link").symlink_to(outside)  # a symlink inside results/ pointing out is followed
    with pytest.raises(pio.UnsafePath):
        pio.write_json({}, results / "link" / "x.json")
    assert sorted(p.name for p in outside.iterdir()) == ["file.txt"]


def test_a_converted_dataset_root_is_written_atomically_inside_the_roots(tmp_path, monkeypatch):
    """Regression (dress rehearsal, issue 15): a dataset root that is itself an output root (from-ir-datasets,
    convert-msmarco) is written through atomic_path's temporary sibling `.NAME.XXXX.tmp/NAME`; files written
    in there were refused as outside the roots, so every conversion failed."""
    root = tmp_path / "wd" / "data" / "msmarco-passage"
    monkeypatch.setenv(pio.OUTPUT_ROOTS_ENV, str(root))
    with pio.atomic_path(root) as tmp:
        pio.write_json({"docs": 1}, tmp / "report.json")
    assert pio.read_json(root / "report.json") == {"docs": 1}
    for sibling in (root.parent / ".other.x.tmp" / "msmarco-passage", root.parent / ".msmarco-passage.x.tmp" / "other",
                    root.parent / ".msmarco-passage.x.tmp"):
        with pytest.raises(pio.UnsafePath):
            pio.check_output_path(sibling / "f.json")


def test_output_roots_of_a_config():
    c = load_config()
    roots = pcfg.output_roots(c, "/w")
    assert roots[:2] == ["/w/results", "/w/checkpoints"]
    assert all(Path(r).is_absolute() for r in roots)


@needs_data
def test_planned_outputs_stay_inside_results(tmp_path):
    """Every output and log path the default DAG plans resolves inside results/ or logs/."""
    wd = make_workdir(tmp_path / "wd", load_config())
    r = subprocess.run(snakemake_cmd("-n", "--configfile", "test.yaml"), cwd=wd, env=env(), capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, output(r)[-2000:]
    paths = [p.strip() for line in output(r).splitlines() if line.strip().startswith(("output:", "log:"))
             for p in line.split(":", 1)[1].split(",")]
    assert paths
    for p in paths:
        real = (wd / p).resolve()
        assert real.is_relative_to(wd / "results") or real.is_relative_to(wd / "logs"), p


# --- recovery after Snakemake itself is killed (README, Recovery) ------------------------------------------


@needs_data
@pytest.mark.slow
def test_recovery_after_killed_snakemake_is_what_the_readme_says(tmp_path):
    """SIGKILL the Snakemake process while a job runs: the plain rerun fails (lock / incomplete files);
    the README's two commands (`--unlock`, then the run with `--rerun-incomplete`, as `make run` passes)
    finish the work. The Makefile's run targets carry --rerun-incomplete."""
    import os
    import signal
    import sys
    import time

    make = (REPO / "Makefile").read_text()
    assert "RERUN := --rerun-incomplete" in make and "$(RERUN) --configfile config.yaml" in make
    assert "snakemake --unlock" in make and "make unlock" in (REPO / "README.md").read_text()
    wd = make_workdir(tmp_path / "wd", load_config())
    smk = [str(Path(sys.executable).parent / "snakemake"), "--cores", "1", "--configfile", "test.yaml",
           "--until", "prepare_data_debian"]
    first = subprocess.Popen(smk, cwd=wd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    log = wd / "logs/data/debian/prepare.log"
    deadline = time.time() + 120
    while time.time() < deadline and not log.exists() and first.poll() is None:
        time.sleep(0.05)
    assert first.poll() is None, "the job ended before Snakemake could be killed"
    first.send_signal(signal.SIGKILL)  # Snakemake only; its job goes on as an orphan
    first.wait()
    time.sleep(0.5)
    plain = subprocess.run(smk, cwd=wd, env=env(), capture_output=True, text=True, timeout=300, check=False)
    assert plain.returncode != 0 and re.search(r"LockException|cannot be locked|IncompleteFiles|incomplete",
                                               output(plain)), output(plain)[-2000:]
    unlock = subprocess.run([*smk[:1], "--unlock", "--configfile", "test.yaml"], cwd=wd, env=env(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert unlock.returncode == 0, output(unlock)[-2000:]
    rerun = subprocess.run([*smk, "--rerun-incomplete"], cwd=wd, env=env(), capture_output=True, text=True,
                           timeout=600, check=False)
    assert rerun.returncode == 0, output(rerun)[-2000:]
    report = yaml.safe_load((wd / "results/data/debian/report.json").read_text())
    assert report["output"]["docs"] > 0
    assert os.path.getsize(wd / "results/data/debian/corpus.jsonl.gz") > 0
