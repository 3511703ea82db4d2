"""Results tables: the paper's numbers as data, seed statistics and the three renderings."""

import math

import pandas as pd
import pytest

from peftir.analysis.tables import (
    COLUMNS,
    PAPER_MARKERS,
    PAPER_ROWS,
    PAPER_TABLES,
    build_table,
    seed_stats,
    table_latex,
    table_markdown,
    write_table,
)


def test_paper_tables_entries():
    """Spot checks read off paper.md §5 by eye."""
    assert set(PAPER_TABLES) == {"table2", "table3", "table4"}
    assert len(PAPER_TABLES["table2"]) == 10 and len(PAPER_TABLES["table3"]) == 10
    assert len(PAPER_TABLES["table4"]) == 9
    t2 = PAPER_TABLES["table2"]
    assert t2["Full fine-tuning"]["msmarco-passage/RR@10"] == 0.316
    assert t2["Full fine-tuning"]["trec-dl-2019-document/R@100"] == 0.409
    assert t2["BitFit 0.09%"]["msmarco-passage/R@1000"] == 0.921
    assert t2["Prefix 3.6%"]["trec-dl-2019-passage/nDCG@10"] == 0.580
    assert t2["MAM 6.7%"]["msmarco-document/RR@100"] == 0.283
    assert t2["Adapter 0.5%"]["msmarco-document/R@100"] == 0.770
    t3 = PAPER_TABLES["table3"]
    assert t3["Full fine-tuning"]["msmarco-passage/RR@10"] == 0.376
    assert t3["BitFit 0.09%"]["trec-dl-2019-passage/nDCG@100"] == 0.483
    assert t3["LoRA 6.7%"]["trec-dl-2019-document/nDCG@10"] == 0.647
    assert t3["Adapter 6.7%"]["msmarco-document/RR@10"] == 0.402
    t4 = PAPER_TABLES["table4"]
    assert t4["IAA-L 6.7%"]["msmarco-passage/RR@10"] == 0.327
    assert t4["IAA-L 0.5%"]["trec-dl-2019-passage/R@100"] == 0.735
    assert t4["Best PET 6.7%"]["trec-dl-2019-passage/nDCG@10"] == 0.616
    assert t4["IAA-M 6.7%"]["trec-dl-2019-document/R@100"] == 0.402
    # Table 4's full fine-tuning row repeats Table 2's
    assert t4["Full fine-tuning"] == t2["Full fine-tuning"]


def test_paper_markers_and_rows():
    m = PAPER_MARKERS["table4"]
    assert m["IAA-L 6.7%"] == {
        "msmarco-passage/RR@10": "†*",
        "trec-dl-2019-passage/nDCG@10": "*",
        "trec-dl-2019-passage/R@100": "†",
        "msmarco-document/RR@100": "†",
    }
    assert m["IAA-S 0.5%"] == {"msmarco-passage/RR@10": "†"}
    assert m["IAA-M 0.5%"] == {} and PAPER_MARKERS["table2"]["LoRA 0.5%"] == {}
    assert PAPER_ROWS["table4"]["IAA-M 6.7%"] == {"budget": "6.7%", "sizes": {"r": 185, "ar": 960}}
    assert PAPER_ROWS["table2"]["MAM 0.5%"]["sizes"] == {"r": 16, "l": 16}
    assert PAPER_ROWS["table2"]["Full fine-tuning"]["budget"] == "100%"
    assert COLUMNS["table3"][1] == "msmarco-passage/RR@100"
    assert COLUMNS["table2"][4] == "msmarco-document/RR@100"


def test_seed_stats():
    """[.30, .31, .32]: mean .31, sample std sqrt((.0001 + 0 + .0001) / 2) = .01."""
    mean, std, n = seed_stats([0.30, 0.31, 0.32])
    assert mean == pytest.approx(0.31) and std == pytest.approx(0.01) and n == 3
    mean, std, n = seed_stats(0.5)
    assert mean == 0.5 and math.isnan(std) and n == 1


def _rows():
    return [
        {"label": "Full fine-tuning", "trainable_pct": 100.0, "values": {"a/RR@10": [0.31, 0.32]}},
        {
            "label": "LoRA",
            "budget": "0.5%",
            "trainable_pct": 0.52,
            "values": {"a/RR@10": [0.30, 0.31, 0.32], "a/R@1000": 0.9},
            "markers": {"a/RR@10": "†*"},
            "paper_label": "LoRA 0.5%",
        },
    ]


def test_build_table_with_paper_columns():
    paper = {"Full fine-tuning": {"a/RR@10": 0.316}, "LoRA 0.5%": {"a/RR@10": 0.302, "a/R@1000": 0.943}}
    df = build_table(_rows(), ["a/RR@10", "a/R@1000"], paper)
    lora = df.set_index("method").loc["LoRA"]
    assert lora["a/RR@10 mean"] == pytest.approx(0.31)
    assert lora["a/RR@10 diff"] == pytest.approx(0.31 - 0.302)
    assert lora["a/R@1000 paper"] == 0.943 and lora["a/RR@10 marker"] == "†*"
    full = df.set_index("method").loc["Full fine-tuning"]
    assert math.isnan(full["a/R@1000 mean"]) and full["a/R@1000 n"] == 0
    assert full["a/RR@10 diff"] == pytest.approx(0.315 - 0.316)
    assert "a/RR@10 paper" not in build_table(_rows(), ["a/RR@10"]).columns


def test_renderings(tmp_path):
    df = build_table(_rows(), ["a/RR@10"], {"LoRA 0.5%": {"a/RR@10": 0.302}})
    md = table_markdown(df)
    assert "| LoRA | 0.5% | 0.520 | 0.310 ± 0.010†* | 0.302 | +0.008 |" in md
    assert "| Full fine-tuning | – | 100.00 | 0.315 ± 0.007 | – | – |" in md
    tex = table_latex(df, caption="Retrieval & re-ranking")
    assert r"LoRA & 0.5\% & 0.520 & 0.310 $\pm$ 0.010$^{\dagger *}$ & 0.302 & +0.008 \\" in tex
    assert r"\caption{Retrieval \& re-ranking}" in tex and r"a/RR@10 $\Delta$" in tex
    paths = write_table(df, tmp_path / "sub" / "table2")
    assert sorted(p.name for p in paths.values()) == ["table2.csv", "table2.html", "table2.md", "table2.tex"]
    page = paths["html"].read_text()
    assert '<td class="num">0.310 ± 0.010†*</td>' in page and page.startswith("<!DOCTYPE html>")
    assert '<table class="sortable">' in page and "<td>LoRA</td>" in page and "addEventListener" in page
    back = pd.read_csv(paths["csv"])
    assert back["a/RR@10 mean"].tolist() == pytest.approx([0.315, 0.31])
    assert paths["md"].read_text() == md
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.startswith(".")]  # no temp files left


def test_digits_per_metric():
    """A format spec per metric: tiny variances in scientific notation, steps as integers."""
    rows = [{"label": "LoRA", "values": {"var": [0.00012, 0.00014], "steps": [40.0, 60.0]}}]
    md = table_markdown(build_table(rows, ["var", "steps"]), digits={"var": ".2e", "steps": 0})
    assert "| LoRA | – | – | 1.30e-04 ± 1.41e-05 | 50 ± 14 |" in md
