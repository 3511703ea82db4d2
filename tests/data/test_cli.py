"""Data subcommands on tiny data in tmp_path (parser built from peftir.data.cli alone)."""

from __future__ import annotations

import argparse
import json

import pytest
from test_debian import DUMPAVAIL, TRANSLATION

from peftir.data.cli import register
from peftir.data.collections import DataError, load_queries


def run(*argv: str) -> None:
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args([str(a) for a in argv])
    args.func(args)


def test_prepare(tiny, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"queries": {"train": 2}}))
    run("prepare", "--root", tiny, "--out", tmp_path / "o", "--splits", "train", "--sample-json", spec, "--seed", "5")
    assert sorted(load_queries(tmp_path / "o" / "queries.train.tsv")) == ["q1", "q2"]
    assert not (tmp_path / "o" / "queries.test.tsv").exists()
    run("prepare", "--root", tiny, "--out", tmp_path / "o2", "--splits", "train,test",
        "--sample-json", '{"max_docs": 6}')
    assert json.loads((tmp_path / "o2" / "report.json").read_text())["output"]["docs"] == 6


def test_prepare_errors(tiny, tmp_path):
    with pytest.raises(DataError, match="neither JSON nor an existing file"):
        run("prepare", "--root", tiny, "--out", tmp_path / "o", "--sample-json", "nope.json")
    with pytest.raises(DataError, match="pass an origin"):
        run("prepare", "--root", tmp_path / "absent", "--out", tmp_path / "o")
    with pytest.raises(DataError, match="cannot reach http://127.0.0.1:9/"):
        run("prepare", "--root", tmp_path / "absent", "--out", tmp_path / "o", "--origin", "cranfield",
            "--origin-url", "http://127.0.0.1:9/", "--timeout", "2")


def test_validate(tiny, tmp_path, capsys):
    run("validate", "--root", tiny)
    assert json.loads(capsys.readouterr().out)["docs"] == 8
    run("validate", "--root", tiny, "--splits", "train", "--out", tmp_path / "r.json")
    assert list(json.loads((tmp_path / "r.json").read_text())["splits"]) == ["train"]


def test_build_debian(tmp_path):
    (tmp_path / "t").write_text(TRANSLATION)
    (tmp_path / "d").write_text(DUMPAVAIL)
    run("build-debian", "--translation", tmp_path / "t", "--dumpavail", tmp_path / "d", "--out", tmp_path / "deb")
    assert len(load_queries(tmp_path / "deb" / "queries.train.tsv")) == 6


def test_convert_msmarco(tmp_path):
    (tmp_path / "c.tsv").write_text("1\tpassage one\n2\tpassage two\n")
    (tmp_path / "q.tsv").write_text("7\tquery\n")
    (tmp_path / "r.tsv").write_text("7\t0\t2\t1\n")
    run("convert-msmarco", "--collection", tmp_path / "c.tsv", "--queries", f"dev={tmp_path / 'q.tsv'}",
        "--qrels", f"dev={tmp_path / 'r.tsv'}", "--out", tmp_path / "m")
    assert (tmp_path / "m" / "qrels.dev.tsv").read_text() == "7\t0\t2\t1\n"
    with pytest.raises(DataError, match="expected SPLIT=VALUE"):
        run("convert-msmarco", "--collection", tmp_path / "c.tsv", "--queries", "q.tsv", "--out", tmp_path / "x")


def test_from_ir_datasets_without_the_package(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "ir_datasets", None)
    with pytest.raises(DataError, match="pip install ir-datasets"):
        run("from-ir-datasets", "--dataset", "cranfield", "--out", tmp_path / "o")
