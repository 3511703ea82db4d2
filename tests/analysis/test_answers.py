"""Answers with intervals (peftir.analysis.answers) on synthetic per-query values and curves whose answer
is known, and the `answers` subcommand on files laid out as the pipeline writes them."""

import json
import math

import numpy as np
import pytest

from peftir.analysis import answers as an
from peftir.analysis.curves import parse_curve
from peftir.analysis.results import System
from peftir.cli import main
from peftir.io import write_json, write_jsonl

COL = "debian.dev/RR@10"
METHODS = {
    "full": "full",
    "bitfit": "bitfit",
    "adapter": "adapter",
    "lora": "lora",
    "iaa-l": "iaa",
    "iaa-s": "iaa",
}
RNG = np.random.default_rng(0)
BASE = {f"q{i}": float(v) for i, v in enumerate(RNG.uniform(0.2, 0.8, 40))}


def shifted(delta, noise=0.0, seed=1):
    rng = np.random.default_rng(seed)
    return {q: v + delta + noise * rng.standard_normal() for q, v in BASE.items()}


def system(run, budget, *seeds):
    """A System with one per-query dict per seed (and the aggregate its mean)."""
    return System(run, budget, values={COL: [float(np.mean(list(s.values()))) for s in seeds]},
                  per_query={COL: list(seeds)})  # fmt: skip


def test_trailing_method_is_significant_and_identical_one_is_not():
    """lora is built 0.05 below full on every query (plus noise): trails, CI below 0; adapter equals full:
    Δ = 0, p = 1. Large-budget systems are ignored at the small budget."""
    systems = [
        system("full", "natural", BASE),
        system("lora", "small", shifted(-0.05, 0.01, 1), shifted(-0.05, 0.01, 2)),
        system("adapter", "small", dict(BASE)),
        system("lora", "large", shifted(+0.5)),
    ]
    q1 = an.q1_pet_vs_full(systems, METHODS, COL, "small")
    per = {m["run"]: m for m in q1["per_method"]}
    assert set(per) == {"lora", "adapter"} and q1["m"] == 2 and q1["n_trailing"] == 1
    lora = per["lora"]
    assert (
        lora["trails"]
        and lora["p"] < 0.05
        and lora["ci_high"] < 0
        and lora["effect"] == pytest.approx(-0.05, abs=0.01)
    )
    assert per["adapter"]["p"] == 1.0 and per["adapter"]["effect"] == 0.0 and not per["adapter"]["trails"]
    assert q1["closest"] == "adapter" and q1["farthest"] == "lora" and q1["n"] == 40
    assert (
        q1["sentence"].startswith("1 of 2 PET methods at small trail") and "farthest: lora" in q1["sentence"]
    )


def test_seeds_are_pooled_per_query():
    """Two seeds at −0.1 and +0.1 around full pool to full exactly: Δ = 0, p = 1."""
    systems = [system("full", "natural", BASE), system("lora", "small", shifted(-0.1), shifted(+0.1))]
    q1 = an.q1_pet_vs_full(systems, METHODS, COL)
    assert q1["effect"] == pytest.approx(0.0, abs=1e-12) and q1["n_trailing"] == 0


def test_q2_verdicts():
    """Best other = the highest mean (adapter over lora); IAA-L equal to it: at least as good; 0.05 below:
    worse; a large-noise difference on 5 queries: inconclusive."""
    rivals = [system("adapter", "small", shifted(0.0)), system("lora", "small", shifted(-0.02))]
    same = an.q2_iaa_vs_best([*rivals, system("iaa-l", "small", shifted(0.0))], METHODS, COL)
    assert same["best_other"] == "adapter" and same["verdict"] == "at least as good" and same["p"] == 1.0
    assert "[D]" in same["sentence"] and "−0.005" in same["rule"]
    worse = an.q2_iaa_vs_best([*rivals, system("iaa-l", "small", shifted(-0.05, 0.01))], METHODS, COL)
    assert worse["verdict"] == "worse" and worse["ci_high"] < 0
    few = {q: BASE[q] for q in list(BASE)[:5]}
    noisy = {q: v + d for (q, v), d in zip(few.items(), [0.2, -0.2, 0.15, -0.1, -0.05])}
    inc = an.q2_iaa_vs_best([system("adapter", "small", few), system("iaa-l", "small", noisy)], METHODS, COL)
    assert inc["verdict"] == "inconclusive" and inc["ci_low"] < -0.005 and inc["p"] > 0.05


def curve(decay, noise, seed, steps=60, evals=(0, 20, 40, 60)):
    rng = np.random.default_rng(seed)
    rows = [{"step": s, "loss": float(2 * np.exp(-s / decay) + noise * rng.standard_normal()), "lr": 1e-3,
             "grad_norm": 1.0} for s in range(1, steps + 1)]  # fmt: skip
    rows += [{"step": s, "dev_RR@10": 0.3 + 0.4 * (1 - np.exp(-(s + 1) / decay))} for s in evals]
    return parse_curve(rows)


def test_q3_faster():
    """IAA-L's loss decays faster (time constant 5 vs 20), same noise: the first-half loss difference is
    negative and significant; it reaches 90% of its dev gain earlier."""
    curves = {
        ("iaa-l", "small"): {s: curve(5, 0.05, 10 + s) for s in (1, 2)},
        ("adapter", "small"): {s: curve(20, 0.05, 20 + s) for s in (1, 2)},
    }
    q3 = an.q3_convergence(curves, METHODS)
    assert q3["adapter_run"] == "adapter" and q3["seeds"] == [1, 2]
    assert q3["effect"] < 0 and q3["ci_high"] < 0 and q3["p"] < 0.05 and q3["n"] == 30
    assert q3["steps_to_gain"]["iaa-l"] < q3["steps_to_gain"]["adapter"]
    assert "autocorrelated" in q3["sentence"]
    slower = an.q3_convergence({("iaa-l", "small"): curves[("adapter", "small")],
                                ("adapter", "small"): curves[("iaa-l", "small")]}, METHODS)  # fmt: skip
    assert slower["effect"] > 0 and slower["ci_low"] > 0


def test_q3_smoother():
    """Same decay, IAA-L noise 0.01 vs the adapter's 0.2: roughness difference negative and significant
    (200 steps: over a short curve the EMA's lag behind the descent, equal for both, dominates)."""
    curves = {
        ("iaa-l", "small"): {s: curve(10, 0.01, 10 + s, steps=200) for s in (1, 2)},
        ("adapter", "small"): {s: curve(10, 0.2, 20 + s, steps=200) for s in (1, 2)},
    }
    sm = an.q3_convergence(curves, METHODS)["smooth"]
    assert sm["effect"] < 0 and sm["ci_high"] < 0 and sm["p"] < 0.05
    assert sm["n"] == 199  # t >= 1: nothing before the first step


def test_q3_identical_curves_give_zero():
    c = {s: curve(10, 0.1, s) for s in (1, 2, 3)}
    q3 = an.q3_convergence({("iaa-l", "small"): c, ("adapter", "small"): dict(c)}, METHODS)
    assert q3["effect"] == 0.0 and q3["p"] == 1.0 and q3["smooth"]["p"] == 1.0


def test_step_roughness():
    """x = 1, 3 with β = 0.5: EMA before step 1 is 1, so roughness |3 − 1| = 2; step 0 has none."""
    r = an.step_roughness([1.0, 3.0, 3.0], beta=0.5)
    assert math.isnan(r[0]) and r[1] == 2.0 and r[2] == pytest.approx(1.0)  # EMA(1, 3) = 2


def test_missing_systems_give_sentences():
    only_full = [system("full", "natural", BASE)]
    ans = an.answer_stage(only_full, {}, METHODS, COL)
    for q in ("q1", "q2", "q3"):
        assert ans[q]["sentence"].startswith("Cannot answer") and ans[q]["effect"] is None
    assert "no PET system at budget 'small'" in ans["q1"]["sentence"]
    assert "iaa-l" in ans["q2"]["sentence"] and "iaa-l or adapter" in ans["q3"]["sentence"]
    no_adapter = an.answer_stage(only_full, {}, {"full": "full"}, COL)
    assert "no configured run of method 'adapter'" in no_adapter["q3"]["sentence"]
    empty = an.answer_stage([], {}, METHODS, COL)
    assert all("no trained systems" in empty[q]["sentence"] for q in ("q1", "q2", "q3"))
    # a PET system sharing one query with full: the test is impossible, said, not raised
    one = an.answer_stage([*only_full, system("lora", "small", {"q0": 0.1})], {}, METHODS, COL)
    assert "at least 2 shared queries" in one["q1"]["sentence"]


def _metrics(d, value_of):
    write_json({"aggregate": {"RR@10": float(np.mean(list(value_of.values())))}, "per_query": {"RR@10": value_of}},
               d / "metrics" / "debian.dev.json")  # fmt: skip


def test_cli_writes_json_and_markdown(tmp_path):
    res, systems, curves = tmp_path / "results", [], []
    layout = {"retriever": {("full", "natural"): 0.0, ("adapter", "small"): -0.03, ("iaa-l", "small"): -0.03,
                            ("lora", "small"): -0.06},
              "reranker": {("full", "natural"): 0.0}}  # fmt: skip
    for stage, syss in layout.items():
        for (run, budget), delta in syss.items():
            for seed in (1, 2):
                d = res / stage / run / budget / f"s{seed}"
                _metrics(d, shifted(delta, 0.005, seed))
                write_jsonl([{"step": s, "loss": 1.0 / s} for s in range(1, 9)], d / "curve.jsonl")
                systems.append(str(d))
                curves.append(str(d / "curve.jsonl"))
    ev = [{"dataset": "debian", "split": "dev", "measures": ["RR@10", "R@100"]}]
    out = tmp_path / "results" / "answers"
    argv = ["answers", "--systems", *systems, "--curves", *curves,
            "--evals", json.dumps({"retriever": ev, "reranker": ev}),
            "--methods", json.dumps({r: {"method": m} for r, m in METHODS.items()}),
            "--backbone", "all-MiniLM-L6-v2", "--budget-pct", "0.5", "--json", f"{out}.json", "--md", f"{out}.md"]  # fmt: skip
    assert main(argv) == 0
    ans = json.loads(out.with_suffix(".json").read_text())
    ret, rer = ans["stages"]["retriever"], ans["stages"]["reranker"]
    assert ret["primary"] == COL and ret["q1"]["n_trailing"] == 3 and ret["q1"]["farthest"] == "lora"
    assert ret["q2"]["best_other"] == "adapter"
    assert ret["q3"]["effect"] == 0.0 and ret["q3"]["p"] == 1.0  # identical curves
    assert rer["q1"]["sentence"].startswith("Cannot answer")
    md = out.with_suffix(".md").read_text()
    assert "## dense retrieval" in md and "## re-ranking" in md and md.count("- **") == 6
    assert "sentence-embedding model" in md and "bert-base" in md
    assert "Does PET trail full fine-tuning at small (0.5%)?" in md
    bad = [
        *argv[: argv.index("--evals") + 1],
        json.dumps({"retriever": ev}),
        *argv[argv.index("--evals") + 2 :],
    ]
    assert main(bad) == 2  # reranker systems without an evaluation: a clear error
