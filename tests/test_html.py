"""peftir.html: sortable tables for the report (escaping, number cells, raw columns)."""

from peftir import html


def test_table_escapes_and_marks_numbers():
    t = html.table(["method", "RR@10", "note"], [["<b>lora</b>", 0.81234, "0.80 ± 0.01*"], ["bm25", None, "–"]],
                   caption="<i>caption</i>")
    assert "&lt;b&gt;lora&lt;/b&gt;" in t and "<b>lora</b>" not in t  # cells are text, not markup
    assert '<td class="num">0.8123</td>' in t  # floats: 4 decimals, right-aligned
    assert '<td class="num">0.80 ± 0.01*</td>' in t  # a leading number sorts as a number
    assert "<td></td>" in t and "<td>–</td>" in t  # None is empty; a dash is text
    assert "<caption><i>caption</i></caption>" in t  # the caption is trusted HTML (callers escape it)


def test_raw_columns_and_page():
    t = html.table(["cmd"], [["<code>snakemake x</code>"]], raw_columns=("cmd",))
    assert "<td><code>snakemake x</code></td>" in t
    p = html.page("T & co", t)
    assert p.startswith("<!DOCTYPE html>") and "<title>T &amp; co</title>" in p and "<h2>T &amp; co</h2>" in p
    assert "addEventListener" in p and "<h2>" not in html.page("T", t, heading=False)
