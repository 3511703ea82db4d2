"""Stage tables from system directories: rows per kind, markers, Best PET rows, the paper's columns."""

import json
import math

import pandas as pd
import pytest

from peftir.analysis.results import load_systems, paper_label, stage_table
from peftir.cli import main

EVALS = [{"dataset": "msmarco-passage", "split": "dev", "measures": ["RR@10"]}]
FULL = [0.2, 0.3, 0.1, 0.4, 0.2, 0.3]
UP = [0.1, 0.2, 0.1, 0.15, 0.1, 0.2]  # a clear, consistent gain: p < 0.01 for a paired t-test


def _system(root, run, budget, seed, per_query, method=None, pct=None, params=None):
    d = root / "results" / "retriever" / run / budget / f"s{seed}"
    (d / "metrics").mkdir(parents=True)
    pq = {f"q{i}": v for i, v in enumerate(per_query)}
    (d / "metrics" / "msmarco-passage.dev.json").write_text(
        json.dumps({"aggregate": {"RR@10": sum(per_query) / len(per_query)}, "per_query": {"RR@10": pq}})
    )
    if method:
        info = {
            "config": {"method": {"method": method}},
            "achieved_pct": pct,
            "resolved_params": params or {},
            "trainable_params": 1000,
            "stats": {"train_time_s": 1.5},
        }
        (d / "run_info.json").write_text(json.dumps(info))
    return str(d)


@pytest.fixture
def systems(tmp_path):
    def plus(a, b):
        return [x + y for x, y in zip(a, b)]

    dirs = [
        _system(tmp_path, "bm25", "none", 0, [0.1] * 6),
        _system(tmp_path, "full", "natural", 1, FULL, "full", 100.0),
        _system(tmp_path, "lora", "small", 1, plus(FULL, UP), "lora", 0.52, {"r": 16}),
        _system(tmp_path, "lora", "small", 2, plus(FULL, UP), "lora", 0.52, {"r": 16}),
        _system(tmp_path, "adapter", "small", 1, FULL, "adapter", 0.55, {"r": 16}),
        _system(tmp_path, "iaa-l", "small", 1, plus(plus(FULL, UP), UP), "iaa", 0.5, {"span": "layer"}),
    ]
    return dirs


def test_rows_markers_and_paper_columns(systems):
    df, notes = stage_table(load_systems(systems, EVALS), EVALS, "table2")
    assert df["method"].tolist() == ["BM25", "full", "lora", "adapter"]  # no IAA in Table 2
    col = "msmarco-passage.dev/RR@10"
    marks = dict(zip(df["method"], df[f"{col} marker"]))
    # lora: better than full (*) and than the best other PET of its budget, adapter (†)
    assert marks == {"BM25": "", "full": "", "lora": "†*", "adapter": ""}
    lora = df[df["method"] == "lora"].iloc[0]
    assert lora[f"{col} n"] == 2 and lora[f"{col} std"] == 0.0
    assert lora[f"{col} mean"] == pytest.approx(sum(FULL) / 6 + sum(UP) / 6)
    # the paper's Table 2 numbers beside ours: LoRA 0.5% .302, full .316, none for BM25
    assert lora[f"{col} paper"] == 0.302 and df.iloc[1][f"{col} paper"] == 0.316
    assert math.isnan(df.iloc[0][f"{col} paper"]) and not notes
    assert lora["trainable params"] == 1000 and lora["train time s"] == 1.5
    assert "head params" not in df.columns  # bi-encoders have no head
    # the p-values behind the markers (CSV columns): scipy's paired t-test on the per-query values
    from scipy import stats

    up = [a + b for a, b in zip(FULL, UP)]
    assert lora[f"{col} p vs full"] == pytest.approx(stats.ttest_rel(up, FULL).pvalue)
    assert lora[f"{col} p vs best PET"] == pytest.approx(stats.ttest_rel(up, FULL).pvalue)  # adapter = FULL
    assert lora[f"{col} p vs full"] < 0.05
    assert pd.isna(df.iloc[0][f"{col} p vs full"])  # BM25: no test
    # the mean paired difference and its 95% CI (CSV columns), as scipy computes them
    ci = stats.ttest_rel(up, FULL).confidence_interval(0.95)
    assert lora[f"{col} Δ vs full"] == pytest.approx((ci.low + ci.high) / 2)
    assert lora[f"{col} Δ vs full ±95%"] == pytest.approx((ci.high - ci.low) / 2)
    assert pd.isna(df.iloc[0][f"{col} Δ vs full ±95%"])


def p_df3(t):
    """Two-tailed p of Student's t with df = 3, closed form: F(t) = 1/2 + (u / (1 + u²) + arctan u) / π,
    u = t / √3."""
    u = t / math.sqrt(3)
    return 2 * (1 - (0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi))


def test_markers_per_budget_group_hand_worked(tmp_path):
    """4 queries, full = .5 each. Budget "small": lora = full + [.01,.02,.03,.04], adapter = full.
    lora − full = lora − adapter = [.01,.02,.03,.04]: mean .025, sd = sqrt(5/3)·.01, t = √15,
    p = p_df3(√15) = .0305 → lora "†*"; adapter − full = 0 (p = 1), adapter − lora < 0 → "".
    Budget "large": lora = full + [.02,.01,−.01,.02] (vs full: t = √2, p = .252, no "*"),
    adapter = full − [.01,.02,.03,.04]. lora's best rival in its group is adapter: lora − adapter =
    [.03,.03,.02,.06], mean .035, squared deviations sum .0009, sd = sqrt(.0003), t = 7/√3 = 4.0415,
    p = .0273 → "†". The large adapter is below both → "". Groups do not mix: the small lora is not the
    large lora's rival."""
    full = [0.5] * 4
    dirs = [
        _system(tmp_path, "full", "natural", 1, full, "full", 100.0),
        _system(tmp_path, "lora", "small", 1, [0.51, 0.52, 0.53, 0.54], "lora", 0.5),
        _system(tmp_path, "adapter", "small", 1, full, "adapter", 0.5),
        _system(tmp_path, "lora", "large", 1, [0.52, 0.51, 0.49, 0.52], "lora", 6.7),
        _system(tmp_path, "adapter", "large", 1, [0.49, 0.48, 0.47, 0.46], "adapter", 6.7),
    ]
    col = "msmarco-passage.dev/RR@10"
    assert p_df3(math.sqrt(15)) == pytest.approx(0.030466, abs=1e-6)
    assert p_df3(7 / math.sqrt(3)) == pytest.approx(0.02726, abs=1e-5)
    df, _ = stage_table(load_systems(dirs, EVALS), EVALS, "all")
    rows = {(r["method"], r["budget"]): r for _, r in df.iterrows()}
    marks = {k: r[f"{col} marker"] for k, r in rows.items()}
    assert marks == {("full", "natural"): "", ("lora", "small"): "†*", ("adapter", "small"): "",
                     ("lora", "large"): "†", ("adapter", "large"): ""}
    small, large = rows[("lora", "small")], rows[("lora", "large")]
    assert small[f"{col} p vs full"] == pytest.approx(p_df3(math.sqrt(15)))
    assert small[f"{col} p vs best PET"] == pytest.approx(p_df3(math.sqrt(15)))
    assert large[f"{col} p vs full"] == pytest.approx(p_df3(math.sqrt(2)))
    assert large[f"{col} p vs best PET"] == pytest.approx(p_df3(7 / math.sqrt(3)))
    # a stricter level removes every marker (p = .0305 and .0273)
    df, _ = stage_table(load_systems(dirs, EVALS), EVALS, "all", alpha=0.01)
    assert set(df[f"{col} marker"]) == {""}


def test_cross_encoder_head_counted_apart(systems):
    from pathlib import Path

    info = json.loads((Path(systems[2]) / "run_info.json").read_text())
    for d in systems[1:]:  # as train-reranker writes it: the method's count without the head, the head apart
        (Path(d) / "run_info.json").write_text(json.dumps({**info, "head_params": 385}))
    df, _ = stage_table(load_systems(systems, EVALS), EVALS, "table2")
    heads = dict(zip(df["method"], df["head params"]))
    assert pd.isna(heads.pop("BM25")) and set(heads.values()) == {385}, heads
    assert set(df["trainable params"].dropna()) == {1000}


def test_table4_best_pet_and_iaa(systems):
    df, notes = stage_table(load_systems(systems, EVALS), EVALS, "table4")
    assert df["method"].tolist() == ["full", "Best PET", "iaa-l"]
    col = "msmarco-passage.dev/RR@10"
    best = df.iloc[1]
    assert best[f"{col} mean"] == pytest.approx(sum(FULL) / 6 + sum(UP) / 6)  # lora's values
    assert notes == "Best PET small: msmarco-passage.dev lora"
    assert df.iloc[2][f"{col} marker"] == "†*"  # better than lora (the best PET) and than full
    assert best[f"{col} paper"] == 0.304 and df.iloc[2][f"{col} paper"] == 0.314  # IAA-L 0.5%


def test_all_kind_compares_iaa_with_every_pet(systems):
    df, _ = stage_table(load_systems(systems, EVALS), EVALS, "all")
    marks = dict(zip(df["method"], df["msmarco-passage.dev/RR@10 marker"]))
    assert marks["lora"] == "*" and marks["iaa-l"] == "†*"  # lora's best rival is now iaa-l
    with pytest.raises(ValueError, match="table kind"):
        stage_table([], EVALS, "table9")


def test_paper_label_picks_the_closest_budget(systems):
    by = {s.run: s for s in load_systems(systems, EVALS)}
    assert paper_label(by["full"], ["table2"]) == "Full fine-tuning"
    assert paper_label(by["adapter"], ["table2"]) == "Adapter 0.5%"
    by["adapter"].info["achieved_pct"] = 5.9
    assert paper_label(by["adapter"], ["table2"]) == "Adapter 6.7%"
    assert paper_label(by["iaa-l"], ["table2", "table4"]) == "IAA-L 0.5%"
    assert paper_label(by["bm25"], ["table2"]) is None


def test_cli_paper_table_and_table(systems, tmp_path):
    evals = json.dumps(EVALS)
    assert (
        main(
            [
                "paper-table",
                "--kind",
                "table4",
                "--systems",
                *systems,
                "--evals",
                evals,
                "--backbone",
                "all-MiniLM-L6-v2",
                "--stem",
                str(tmp_path / "t" / "table4"),
            ]
        )
        == 0
    )
    for ext in ("csv", "md", "tex", "html"):
        assert (tmp_path / "t" / f"table4.{ext}").stat().st_size > 100
    assert "sentence-embedding" in (tmp_path / "t" / "table4.tex").read_text()
    out = {ext: str(tmp_path / f"r.{ext}") for ext in ("csv", "md", "tex")}
    assert (
        main(
            [
                "table",
                "--stage",
                "retriever",
                "--systems",
                *systems,
                "--evals",
                evals,
                "--csv",
                out["csv"],
                "--md",
                out["md"],
                "--tex",
                out["tex"],
            ]
        )
        == 0
    )
    df = pd.read_csv(out["csv"])
    assert df["method"].tolist() == ["BM25", "full", "lora", "adapter", "iaa-l"]
    # one seed: no ±; mean .25 + 2 × .1417; the paper's IAA-L 0.5% (.314) beside it
    assert "| iaa-l | small | 0.500 | 0.533†* | 0.314 | +0.219 |" in (tmp_path / "r.md").read_text()
