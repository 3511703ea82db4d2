"""Bad configs stop before any job starts, with a message naming the key (or path) that is wrong:
`python -m peftir check-config` exits 2, and `snakemake -n --configfile bad.yaml` fails while parsing the
workflow (the Snakefile runs peftir's checks first), before its DAG is built. Each case below mutates
config/smoke.yaml; the message it must give is the third field.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from peftir import config as pcfg
from peftir.cli import main
from workflow_testutil import (
    REPO,
    SHARED_DATA,
    config_yaml,
    env,
    load_config,
    make_workdir,
    output,
    snakemake_cmd,
)


def _set(path: str, value):
    def f(c):
        *keys, last = path.split(".")
        d = c
        for k in keys:
            d = d[int(k)] if isinstance(d, list) else d[k]
        d[last] = value

    return f


CASES = [  # (id, mutation, message)
    ("unknown top-level key", _set("lerning_rate", 1e-3), "lerning_rate: unknown key; allowed here: ["),
    ("unknown nested key", _set("retriever.stesp", 3), "retriever.stesp: unknown key; allowed here: ["),
    ("unknown deeply nested key", _set("datasets.debian.sample.max_doc", 5),
     "datasets.debian.sample.max_doc: unknown key; allowed here: ['max_docs', 'queries']"),
    ("unknown method", _set("methods.lora.method", "loraa"),
     "methods.lora.method: unknown method 'loraa'; registered: ['adapter', 'bitfit', 'full', 'iaa', 'lora',"),
    ("unknown method parameter", _set("methods.lora.params", {"rank": 4}),
     "methods.lora.params at budget 'small': method 'lora': unknown parameter(s) ['rank']"),
    ("unknown training dataset", _set("train.dataset", "msmarco"),
     "train.dataset: unknown dataset 'msmarco'; configured: ['cisi', 'cranfield', 'debian']"),
    ("unknown evaluation dataset", _set("evaluation.0.dataset", "trec-dl"),
     "evaluation.0.dataset: unknown dataset 'trec-dl'; configured: ['cisi', 'cranfield', 'debian']"),
    ("unknown split", _set("train.split", "validation"), "train.split: debian has no split 'validation'"),
    ("wrong type (string for integer)", _set("retriever.steps", "many"),
     "retriever.steps: 'many' is not of type 'integer'"),
    ("head_lr on the bi-encoder", _set("retriever.head_lr", 1e-3),
     "retriever.head_lr: the bi-encoder has no head (head_lr belongs to reranker)"),
    ("wrong type (scalar for list)", _set("seeds", 1), "seeds: 1 is not of type 'array'"),
    ("wrong type (negative)", _set("retriever.batch_size", -4),
     "retriever.batch_size: -4 is less than the minimum of 1"),
    ("required key removed", _set("train", None), "(top level): 'train' is a required property"),
    ("impossible budget: 200%", _set("budgets.small", 200),
     "budgets.small: 200 is greater than the maximum of 100"),
    ("impossible budget: below r=1", _set("budgets.small", 0.001),
     ("budgets.small: 0.001% is too small for methods.lora ('lora' on tiny:2x64): its smallest size r=1 "
      "already takes 0.02449% of the backbone's parameters")),
    ("impossible budget: below r=1 (per-method override)", _set("methods.lora.budget_pct", {"small": 0.001}),
     "methods.lora.budget_pct.small: 0.001% is too small for methods.lora"),
    ("unknown budget", _set("methods.lora.budgets", ["medium"]),
     "methods.lora.budgets: unknown budget 'medium'; configured: ['large', 'small', 'natural']"),
    ("missing data root without origin", _set("datasets.debian.root", "/nonexistent/debian"),
     "datasets.debian.root: /nonexistent/debian does not exist and no origin is configured"),
    ("missing split file", _set("datasets.debian.splits", ["train", "dev", "test", "val"]),
     (f"datasets.debian.splits: {SHARED_DATA}/debian: no queries file for split 'val' "
      "(have: dev, test, train)")),
    ("missing qrels file", _set("datasets.cisi.qrels", "qrels.graded.tsv"),
     f"datasets.cisi.qrels: {SHARED_DATA}/cisi/qrels.graded.tsv: qrels file not found"),
    ("unknown measure", _set("evaluation.0.measures", ["RR@10", "Foo@10"]),
     "evaluation.0.measures.1: 'Foo@10' is not an ir-measures measure (e.g. RR@10, R@1000, nDCG@10)"),
    ("malformed measure", _set("evaluation.0.measures", ["MRR10"]),
     "evaluation.0.measures.0: 'MRR10' is not an ir-measures measure (e.g. RR@10, R@1000, nDCG@10)"),
    ("unknown backbone", _set("backbone.name", "no-such-bert"),
     "backbone.name: backbone 'no-such-bert': not a local directory and not in the Hugging Face cache"),
]
IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def bad_configs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the repository")
    paths = {}
    for i, (name, mutate, _) in enumerate(CASES):
        c = load_config()
        mutate(c)
        paths[name] = d / f"bad{i:02d}.yaml"
        paths[name].write_text(config_yaml(c))
    return paths


def test_smoke_config_is_valid():
    pcfg.validate(load_config(), REPO)


@pytest.mark.parametrize("name, mutate, message", CASES, ids=IDS)
def test_check_config_names_the_key(bad_configs, capsys, name, mutate, message):
    assert main(["check-config", "--config", str(bad_configs[name])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("peftir check-config: error: invalid configuration:\n  "), err
    assert message in err, err


@pytest.mark.parametrize("text, message", [
    (None, "missing.yaml: config file not found"),
    ("datasets: [unclosed\n", "not valid YAML"),
])
def test_check_config_bad_file(tmp_path, capsys, text, message):
    path = tmp_path / "missing.yaml"
    if text is not None:
        path.write_text(text)
    assert main(["check-config", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_check_config_exit_status_in_a_real_process(bad_configs):
    cmd = [sys.executable, "-m", "peftir", "check-config", "--config", str(bad_configs["unknown method"])]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(), check=False)
    assert r.returncode == 2
    assert "methods.lora.method: unknown method 'loraa'" in r.stderr


# --- the same configs through Snakemake -------------------------------------------------------------------


@pytest.fixture(scope="module")
def snakemake_dry_runs(bad_configs, tmp_path_factory):
    """`snakemake -n --configfile bad.yaml` for every case, three at a time (each ~2 s of parsing)."""
    wd = make_workdir(tmp_path_factory.mktemp("wf"))

    def dry(name):
        return subprocess.run(snakemake_cmd("-n", "--configfile", str(bad_configs[name])), cwd=wd, env=env(),
                              capture_output=True, text=True, timeout=300, check=False)

    with ThreadPoolExecutor(3) as pool:
        runs = dict(zip(IDS, pool.map(dry, IDS)))
    return wd, runs


@pytest.mark.slow
@pytest.mark.parametrize("name, mutate, message", CASES, ids=IDS)
def test_snakemake_stops_before_any_job(snakemake_dry_runs, name, mutate, message):
    wd, runs = snakemake_dry_runs
    out = output(runs[name])
    assert runs[name].returncode != 0
    assert "invalid configuration:" in out and message in out, out[-3000:]
    assert "Building DAG of jobs" not in out  # it stopped while reading the workflow
    assert not (wd / "results").exists() and not (wd / "logs").exists()


@pytest.mark.slow
def test_snakemake_real_run_with_bad_config_starts_nothing(bad_configs, tmp_path):
    wd = make_workdir(tmp_path)
    cmd = snakemake_cmd("--cores", "1", "--configfile", str(bad_configs["impossible budget: 200%"]))
    r = subprocess.run(cmd, cwd=wd, env=env(), capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode != 0
    assert "budgets.small: 200 is greater than the maximum of 100" in output(r)
    assert not any((wd / d).exists() for d in ("results", "logs", "benchmarks", "checkpoints"))
