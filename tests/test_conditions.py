"""`python -m peftir conditions`: every system of a run, its headline number and the command that rebuilds it."""

from __future__ import annotations

import json
import shlex

import pytest
import yaml

from peftir import conditions as pc
from peftir.cli import main
from workflow_testutil import REPO, SHARED_DATA, load_config, make_workdir, snakemake, tail


def _config(**top):
    c = yaml.safe_load((REPO / "config.yaml").read_text())
    c.update(top)
    return c


def test_every_system_once_with_reference_rows_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no results here
    c = _config()
    rows = pc.conditions(c, "config.yaml", ".")
    trained = {st: [(r, b, s) for r, m in c["methods"].items() if st in m.get("stages", [st]) for b in m["budgets"]
                    for s in (m.get("reranker_seeds") if st == "reranker" else None) or m.get("seeds", c["seeds"])]
               for st in ("retriever", "reranker")}
    assert len(trained["retriever"]) > len(trained["reranker"]) > 0  # the default's design: 4 cross-encoders
    assert len(rows) == 4 + len(trained["retriever"]) + len(trained["reranker"])
    keys = [(r["stage"], r["system"], r["budget"], r["seed"]) for r in rows]
    assert len(set(keys)) == len(keys)
    assert keys[:2] == [("retriever", "bm25", "none", 0), ("retriever", "zero-shot", "none", 0)]
    lora = next(r for r in rows if r["stage"] == "retriever" and r["system"] == "lora" and r["budget"] == "small")
    assert lora["method"] == "lora" and lora["headline"] == "debian dev RR@10" and lora["value"] == "not run"
    assert lora["command"] == ("snakemake results/retriever/lora/small/s1/metrics/debian.dev.json "
                               "--cores all --configfile config.yaml")
    rer = next(r for r in rows if r["stage"] == "reranker" and r["system"] == "iaa-l")
    assert rer["method"] == "iaa" and rer["headline"].endswith(c["rerank"]["measures"][0])


def test_values_are_read_from_results_and_cli_writes_html(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"  # an overlay on config.yaml
    cfg.write_text(yaml.safe_dump({"data_root": str(SHARED_DATA)}))
    m = tmp_path / "results/retriever/lora/small/s1/metrics/debian.dev.json"
    m.parent.mkdir(parents=True)
    m.write_text(json.dumps({"aggregate": {"RR@10": 0.81234, "nDCG@10": 0.5}}))
    rc = main(["conditions", "--config", str(cfg), "--workdir", str(tmp_path), "--html", str(tmp_path / "c.html")])
    out = capsys.readouterr().out
    assert rc == 0
    line = next(x for x in out.splitlines() if "retriever/lora/small/s1" in x)
    assert "| 0.8123 |" in line and f"--directory {tmp_path}" in line
    assert sum("not run" in x for x in out.splitlines()) == len(out.splitlines()) - 3  # header, rule, lora
    page = (tmp_path / "c.html").read_text()
    assert "0.8123" in page and "results/retriever/lora/small/s1/metrics/debian.dev.json" in page
    assert 'class="sortable"' in page and "addEventListener" in page


def test_commands_name_targets_the_workflow_can_build(tmp_path):
    """The path logic agrees with the rules: snakemake plans every listed target (dry run)."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the repository")
    c = load_config("config/smoke.yaml")  # resolved on config.yaml, as snakemake --configfile resolves it
    wd = make_workdir(tmp_path, c)
    rows = pc.conditions(c, "test.yaml", ".")
    commands = [shlex.split(r["command"]) for r in rows]
    assert all(c[0] == "snakemake" and c[-2:] == ["--configfile", "test.yaml"] for c in commands)
    r = snakemake(wd, *[c[1] for c in commands], "-n", "--configfile", "test.yaml", timeout=600)
    assert r.returncode == 0, tail(r)
    assert "evaluate" in r.stdout + r.stderr
