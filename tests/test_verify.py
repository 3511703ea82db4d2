"""`peftir verify`: OK / within tolerance / FAIL per headline number against an expected-scores file, and
the deliberate `--write-expected` mode that produces that file from the pipeline's own metrics."""

from __future__ import annotations

import pytest
import yaml

from peftir.cli import main
from peftir.io import write_json
from peftir.verify import compare, expected_path, headline, load_expected, render, write_expected


def _metrics(root, system, ev, agg):
    path = root / "results" / system / "metrics" / f"{ev}.json"
    write_json({"aggregate": agg, "per_query": {}}, path)
    return str(path)


@pytest.fixture
def files(tmp_path):
    return [
        _metrics(tmp_path, "retriever/bm25/none/s0", "debian.dev", {"RR@10": 0.5, "nDCG@10": 0.25}),
        _metrics(tmp_path, "retriever/lora/small/s1", "debian.dev", {"RR@10": 0.4, "nDCG@10": 0.2}),
        _metrics(tmp_path, "reranker/lora/small/s1", "cisi.test", {"nDCG@10": 0.3}),
    ]


def test_headline_keys_come_from_the_paths(files):
    h = headline(files)
    assert h == {"retriever/bm25/none/s0": {"debian.dev": {"RR@10": 0.5, "nDCG@10": 0.25}},
                 "retriever/lora/small/s1": {"debian.dev": {"RR@10": 0.4, "nDCG@10": 0.2}},
                 "reranker/lora/small/s1": {"cisi.test": {"nDCG@10": 0.3}}}


def test_headline_rejects_other_paths(tmp_path):
    write_json({"aggregate": {}}, tmp_path / "m.json")
    with pytest.raises(ValueError, match="not a metrics file"):
        headline([tmp_path / "m.json"])


def test_compare_statuses():
    actual = {"s": {"e": {"a": 0.5000004, "b": 0.507, "c": 0.52, "new": 0.1}}}
    expected = {"tolerance": 0.01, "scores": {"s": {"e": {"a": 0.5, "b": 0.5, "c": 0.5, "gone": 0.3,
                                                           "own": {"value": 0.1, "tol": 0.5}}}}}
    actual["s"]["e"]["own"] = 0.4
    rows = {r["measure"]: r["status"] for r in compare(actual, expected)}
    assert rows == {"a": "OK", "b": "within tolerance", "c": "FAIL", "gone": "FAIL (missing)",
                    "own": "within tolerance", "new": "NEW"}
    text = render(compare(actual, expected))
    assert text.splitlines()[-1] == "1 OK, 2 within tolerance, 2 FAIL, 1 NEW"


def test_write_then_verify_round_trip_keeps_tolerances(tmp_path, files, capsys):
    exp = tmp_path / "expected" / "x.yaml"
    assert main(["verify", "--metrics", *files, "--expected", str(exp), "--write-expected",
                 "--source", "config/x.yaml", "--tolerance", "0.02"]) == 0
    doc = load_expected(exp)
    assert doc["tolerance"] == 0.02 and doc["source"] == "config/x.yaml"
    assert doc["scores"]["retriever/lora/small/s1"]["debian.dev"]["RR@10"] == 0.4
    assert exp.read_text().startswith("# Expected headline scores of config/x.yaml, written by the pipeline")
    # a person may give one number its own tolerance; rewriting keeps it (and the file's tolerance)
    doc["scores"]["retriever/lora/small/s1"]["debian.dev"]["RR@10"] = {"value": 0.4, "tol": 0.05}
    exp.write_text(yaml.safe_dump(doc))
    write_expected(headline(files), tmp_path / "candidate.yaml", like=exp)
    again = load_expected(tmp_path / "candidate.yaml")
    assert again["tolerance"] == 0.02
    assert again["scores"]["retriever/lora/small/s1"]["debian.dev"]["RR@10"] == {"value": 0.4, "tol": 0.05}
    capsys.readouterr()
    out = tmp_path / "report.json"
    assert main(["verify", "--metrics", *files, "--expected", str(exp), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "5 OK, 0 within tolerance, 0 FAIL, 0 NEW" in text
    assert out.exists()


def test_verify_fails_with_exit_1(tmp_path, files, capsys):
    exp = tmp_path / "x.yaml"
    write_expected(headline(files), exp, tolerance=0.001)
    _metrics(tmp_path, "retriever/lora/small/s1", "debian.dev", {"RR@10": 0.45, "nDCG@10": 0.2})
    with pytest.raises(SystemExit) as e:
        main(["verify", "--metrics", *files, "--expected", str(exp)])
    assert e.value.code == 1
    captured = capsys.readouterr()
    line = "retriever/lora/small/s1  debian.dev  RR@10    0.400000  0.450000  +0.050000  0.001  FAIL"
    assert line in captured.out
    assert "1 number(s) FAIL" in captured.err


def test_missing_or_malformed_expected_file(tmp_path, files, capsys):
    assert main(["verify", "--metrics", *files, "--expected", str(tmp_path / "none.yaml")]) == 2
    assert "no expected-scores file; write one deliberately with --write-expected" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("tolerance: 0.1\n")
    assert main(["verify", "--metrics", *files, "--expected", str(tmp_path / "bad.yaml")]) == 2
    assert "no `scores:` mapping" in capsys.readouterr().err


def test_expected_path_names_the_key():
    assert expected_path({"expected": "expected/smoke.yaml"}) == "expected/smoke.yaml"
    with pytest.raises(ValueError, match="^expected: this config names no expected-scores file"):
        expected_path({})


@pytest.mark.parametrize("scores", [{}, {"retriever/bm25/none/s0": None}, {"retriever/bm25/none/s0": {"debian.dev": {}}}])
def test_verify_that_compares_nothing_fails(tmp_path, files, capsys, scores):
    """`scores: {}` used to compare nothing and pass (issue 13)."""
    exp = tmp_path / "expected.yaml"
    exp.write_text(yaml.safe_dump({"tolerance": 0.01, "scores": scores}))
    with pytest.raises(SystemExit) as e:
        main(["verify", "--metrics", *files, "--expected", str(exp)])
    assert e.value.code == 1
    assert "holds no expected number: nothing was compared" in capsys.readouterr().err
