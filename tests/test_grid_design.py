"""The default grid's design (issue 17) and the accounting that measures it (peftir.joblog, bench/grid_cost.py)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from peftir import config as pcfg
from peftir import joblog

REPO = Path(__file__).resolve().parents[1]


def _cfg(methods, **top):
    return {"methods": methods, "seeds": [1], "budget_seeds": {}, **top}


def test_seeds_precedence():
    c = _cfg({"a": {"budgets": ["small", "large"], "seeds": [1, 2, 3], "reranker_seeds": [7]},
              "b": {"budgets": ["small"]}}, budget_seeds={"large": [5]})
    assert pcfg.seeds_for(c, "small", "a") == [1, 2, 3]            # the method's own seeds
    assert pcfg.seeds_for(c, "large", "a") == [5]                  # budget_seeds names the budget
    assert pcfg.seeds_for(c, "small", "a", "reranker") == [7]      # the cross-encoder's own
    assert pcfg.seeds_for(c, "small", "b") == [1]                  # the global seeds
    assert pcfg.seeds_for(c, "small") == [1]
    assert pcfg.grid(c, "reranker") == [("a", "small", 7), ("a", "large", 7), ("b", "small", 1)]
    assert pcfg.grid(c) == [("a", "small", 1), ("a", "small", 2), ("a", "small", 3), ("a", "large", 5),
                            ("b", "small", 1)]


def test_method_seeds_are_validated():
    c = pcfg.load()
    c["methods"]["lora"]["seeds"] = [1, 1]
    c["methods"]["iaa-l"]["reranker_seeds"] = []
    errs = "\n".join(pcfg.schema_errors(c))
    assert "methods.lora.seeds" in errs and "methods.iaa-l.reranker_seeds" in errs


def test_default_grid_decides():
    """What issue 17 asks of the default: every Debian dev query for the paired CIs, 3 seeds for the four
    systems of the questions, cross-encoders long enough to learn, the small budget; the methods whose
    one seed is too noisy for +-0.005 run over 3 seeds in the seeds profile."""
    c = pcfg.load()
    assert c["datasets"]["debian"]["sample"]["queries"]["dev"] >= 2813  # all of the split
    e0 = c["evaluation"][0]
    assert (e0["dataset"], e0["split"], e0["measures"][0]) == ("debian", "dev", "RR@10")
    seeds: dict[str, list[int]] = {}
    for run, _, s in pcfg.grid(c, "retriever"):
        seeds.setdefault(run, []).append(s)
    for run in ("full", "adapter", "lora", "iaa-l"):
        assert len(seeds[run]) >= 3, run
    # every method retrieves in the default or, three seeds each, in the seeds profile (the power bar)
    left_out = set(c["methods"]) - set(seeds)
    assert left_out == {"prefix", "mam", "iaa-s"}
    sp: dict[str, list[int]] = {}
    for run, _, s in pcfg.grid(pcfg.load(REPO / "config" / "seeds.yaml"), "retriever"):
        sp.setdefault(run, []).append(s)
    assert all(len(sp[m]) >= 3 for m in left_out | {"full", "iaa-l"}), sp
    rerankers = {r for r, _, _ in pcfg.grid(c, "reranker")}
    assert {"full", "adapter", "lora", "iaa-l"} <= rerankers
    assert c["reranker"]["steps"] >= 5 * c["retriever"]["steps"]  # 64 steps left them below BM25
    js = c["datasets"]["debian"]["sample"]
    assert sum(js["queries"].values()) <= js["max_docs"]  # every judged passage fits the common corpus


def test_profiles_of_the_issue():
    x4 = pcfg.load(REPO / "config" / "steps4x.yaml")
    d = pcfg.load()
    assert x4["retriever"]["steps"] == 4 * d["retriever"]["steps"]
    assert {r for r, _, _ in pcfg.grid(x4)} == {"full", "adapter", "lora", "iaa-l"}
    assert x4["evaluation"] == d["evaluation"] and x4["datasets"] == d["datasets"]  # the same evaluation
    large = pcfg.load(REPO / "config" / "large.yaml")
    assert {b for _, b, _ in pcfg.grid(large)} == {"natural", "small", "large"}
    allr = pcfg.load(REPO / "config" / "rerank_all.yaml")
    assert {r for r, _, _ in pcfg.grid(allr, "reranker")} == set(d["methods"])


def test_joblog_records_cpu_of_a_real_process(tmp_path):
    log = tmp_path / "sub" / "jobs.jsonl"
    env = {**os.environ, joblog.ENV: str(log), "PYTHONPATH": str(REPO / "src")}
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "peftir", "check-config", "--config", str(REPO / "config.yaml")],
                       env=env, capture_output=True, text=True, cwd=REPO, check=False)
    assert r.returncode == 0, r.stderr
    rows = joblog.read(str(log))
    assert len(rows) == 1 and rows[0]["command"] == "check-config" and rows[0]["rc"] == 0
    row = rows[0]
    assert t0 - 5 < row["start"] <= row["end"] <= time.time() + 1
    assert 0 < row["cpu_s"] and 0 <= row["ready_s"] <= row["wall_s"]
    # a failing command is logged too, with its exit status
    r = subprocess.run([sys.executable, "-m", "peftir", "check-config", "--config", str(tmp_path / "none.yaml")],
                       env=env, capture_output=True, text=True, cwd=REPO, check=False)
    assert r.returncode == 2
    assert [x["rc"] for x in joblog.read(str(log))] == [0, 2]


def test_joblog_off_without_env(tmp_path, monkeypatch):
    monkeypatch.delenv(joblog.ENV, raising=False)
    assert joblog.record("x", time.time()) is None


def test_joblog_skips_torn_lines(tmp_path):
    p = tmp_path / "j.jsonl"
    joblog.record("a", time.time(), [], path=str(p))
    with p.open("a") as f:
        f.write('{"command": "b", "sta')
    assert [r["command"] for r in joblog.read(str(p))] == ["a"]


def test_grid_cost_utilisation():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import grid_cost
    finally:
        sys.path.pop(0)
    rows = [{"command": "train", "start": 0.0, "end": 100.0, "wall_s": 100.0, "cpu_s": 95.0, "ready_s": 3.0},
            {"command": "train", "start": 0.0, "end": 80.0, "wall_s": 80.0, "cpu_s": 80.0, "ready_s": 5.0},
            {"command": "evaluate", "start": 80.0, "end": 100.0, "wall_s": 20.0, "cpu_s": 10.0, "ready_s": 1.0}]
    s = grid_cost.joblog_summary(rows, cores=2)
    assert s["span_s"] == 100.0 and s["cpu_s"] == 185.0 and s["utilisation"] == 0.925
    assert s["commands"]["train"] == {"jobs": 2, "wall_s": 180.0, "cpu_s": 175.0, "cpu_per_wall": 0.972,
                                      "mean_ready_s": 4.0, "window_min": [0.0, 1.7]}
    assert s["commands"]["evaluate"]["window_min"] == [1.3, 1.7] and s["held"] == 1.0
    assert grid_cost.joblog_summary(rows, cores=2, wall_s=200.0)["utilisation"] == 0.463
    assert "92.5% of 2 x wall" in grid_cost.joblog_markdown(s)
    json.dumps(s)


def test_power_half_widths_pool_seeds():
    """bench/power.py: half-width of (method - full) with seeds pooled per query, and the queries a target
    half-width needs (n scaled by the squared ratio)."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import power
    finally:
        sys.path.pop(0)
    qs = [f"q{i}" for i in range(400)]
    full = {1: {q: 1.0 for q in qs}}
    noisy = {s: {q: 1.0 - (0.5 if (i + s) % 4 == 0 else 0.0) for i, q in enumerate(qs)} for s in (1, 2, 3)}
    one = {1: noisy[1]}
    rows = {r["method"]: r for r in power.power({("full", "natural"): full, ("a", "small"): noisy,
                                                 ("b", "small"): one, ("bm25", "none"): full}, target=0.005)}
    assert set(rows) == {"a", "b"}  # reference rows (budget none) are not methods
    assert rows["a"]["seeds"] == 3 and rows["a"]["n"] == 400 and rows["b"]["seeds"] == 1
    assert rows["a"]["half_width"] < rows["b"]["half_width"]  # pooling seeds averages the seed noise out
    b = rows["b"]
    assert b["diff"] == -0.125 and not b["meets"]
    assert b["queries_needed"] >= 400 * (b["half_width"] / 0.005) ** 2 - 1
