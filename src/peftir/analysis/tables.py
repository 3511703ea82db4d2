"""Results tables (paper.md §5): seed mean ± std per metric, significance markers, achieved budget,
and optional paper-reference columns; rendered to CSV, Markdown and LaTeX.

`PAPER_TABLES` holds the paper's Tables 2-4 as data, parsed from the verbatim text of paper.md §5
(`_RAW`, copied unchanged so it can be diffed against the paper): `PAPER_TABLES[table][row][column]`
with `table` in {"table2", "table3", "table4"}, `row` the paper's label without the size
parenthetical (e.g. "LoRA 0.5%", "IAA-L 6.7%", "Full fine-tuning"), and `column` a
"<dataset>/<ir-measures metric>" string from `COLUMNS[table]` (MRR@k is ir-measures' `RR@k`).
`PAPER_MARKERS` holds Table 4's `†`/`*` the same way, `PAPER_ROWS` each row's budget and sizes.
[D] The dataset names (`msmarco-passage`, `trec-dl-2019-passage`, `msmarco-document`,
`trec-dl-2019-document`) are this project's.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from peftir.io import atomic_open

_DATASETS = ("msmarco-passage", "trec-dl-2019-passage", "msmarco-document", "trec-dl-2019-document")
_RETRIEVAL = ("RR@10", "R@1000", "nDCG@10", "R@100", "RR@100", "R@100", "nDCG@10", "R@100")
_RERANK = ("RR@10", "RR@100", "nDCG@10", "nDCG@100", "RR@10", "RR@100", "nDCG@10", "nDCG@100")
COLUMNS: dict[str, tuple[str, ...]] = {
    t: tuple(f"{_DATASETS[i // 2]}/{m}" for i, m in enumerate(ms))
    for t, ms in (("table2", _RETRIEVAL), ("table3", _RERANK), ("table4", _RETRIEVAL))
}

_RAW = {
    "table2": """\
Full fine-tuning 100%        .316 .949 | .600 .715 | .312 .801 | .462 .409
BitFit 0.09%                 .262 .921 | .562 .677 | .264 .785 | .437 .345
Prefix 0.5% (l=32)           .294 .939 | .596 .692 | .266 .782 | .423 .326
Adapter 0.5% (r=16)          .304 .941 | .606 .696 | .255 .770 | .418 .370
MAM 0.5% (r=16,l=16)         .304 .944 | .609 .712 | .280 .799 | .458 .381
LoRA 0.5% (r=16)             .302 .943 | .608 .707 | .271 .794 | .417 .376
Prefix 3.6% (l=200)          .304 .943 | .580 .702 | .265 .775 | .395 .376
Adapter 6.7% (r=200)         .316 .946 | .587 .687 | .270 .785 | .433 .400
MAM 6.7% (r=200,l=200)       .314 .947 | .616 .720 | .283 .792 | .438 .402
LoRA 6.7% (r=200)            .316 .946 | .597 .715 | .279 .794 | .417 .379
""",
    "table3": """\
Full fine-tuning 100%        .376 .383 | .738 .637 | .404 .408 | .657 .536
BitFit 0.09%                 .325 .334 | .562 .483 | .364 .357 | .630 .531
Prefix 0.5% (l=32)           .355 .363 | .705 .626 | .387 .381 | .640 .530
Adapter 0.5% (r=16)          .366 .371 | .714 .626 | .397 .392 | .653 .534
MAM 0.5% (r=16,l=16)         .365 .373 | .717 .629 | .390 .395 | .632 .531
LoRA 0.5% (r=16)             .363 .372 | .720 .635 | .386 .392 | .637 .529
Prefix 3.6% (l=200)          .363 .371 | .722 .632 | .384 .389 | .640 .532
Adapter 6.7% (r=200)         .373 .381 | .735 .637 | .402 .407 | .631 .528
MAM 6.7% (r=200,l=200)       .369 .380 | .731 .633 | .397 .402 | .630 .528
LoRA 6.7% (r=200)            .370 .378 | .730 .631 | .401 .396 | .647 .530
""",
    "table4": """\
Full fine-tuning             .316 .949 | .600 .715 | .312 .801 | .462 .409
Best PET 0.5%                .304 .944 | .609 .712 | .280 .799 | .458 .381
IAA-S 0.5% (r=8,ar=8)        .312† .941 | .605 .719 | .285 .785 | .454 .384
IAA-L 0.5% (r=12,ar=12)      .314† .943 | .615† .735* | .292 .792 | .446 .391
IAA-M 0.5% (r=15,ar=24)      .309 .941 | .602 .721 | .287 .782 | .449 .385
Best PET 6.7%                .316 .946 | .616 .720 | .283 .792 | .438 .402
IAA-S 6.7% (r=100,ar=100)    .324 .947 | .581 .719 | .290 .798 | .441 .398
IAA-L 6.7% (r=50,ar=300)     .327†* .951 | .617* .735† | .295† .795 | .439 .395
IAA-M 6.7% (r=185,ar=960)    .321 .948 | .592 .710 | .285 .793 | .437 .402
""",
}

_ROW = re.compile(r"^(?P<name>.+?)(?: (?P<budget>[\d.]+%))?(?: \((?P<sizes>[^)]*)\))?$")
_CELL = re.compile(r"^(?P<v>\.\d+)(?P<mark>[†*]*)$")


def _parse(table: str, text: str) -> tuple[dict, dict, dict]:
    values, marks, rows = {}, {}, {}
    for line in text.strip().splitlines():
        cells = re.findall(r"(?<!\S)\.\d+[†*]*(?!\S)", line)  # ".312†" tokens, not "0.09%"
        head = line[: line.index(cells[0])].strip()
        m = _ROW.match(head)
        name, budget = m["name"], m["budget"]
        label = name if budget in (None, "100%") else f"{name} {budget}"
        sizes = dict(kv.split("=") for kv in m["sizes"].split(",")) if m["sizes"] else {}
        if len(cells) != len(COLUMNS[table]):
            raise ValueError(f"{table}: row {label!r} has {len(cells)} cells")
        parsed = [_CELL.match(c) for c in cells]
        values[label] = {col: float(p["v"]) for col, p in zip(COLUMNS[table], parsed)}
        marks[label] = {col: p["mark"] for col, p in zip(COLUMNS[table], parsed) if p["mark"]}
        rows[label] = {"budget": budget or "100%", "sizes": {k: int(v) for k, v in sizes.items()}}
    return values, marks, rows


PAPER_TABLES: dict[str, dict[str, dict[str, float]]] = {}
PAPER_MARKERS: dict[str, dict[str, dict[str, str]]] = {}
PAPER_ROWS: dict[str, dict[str, dict]] = {}
for _t, _text in _RAW.items():
    PAPER_TABLES[_t], PAPER_MARKERS[_t], PAPER_ROWS[_t] = _parse(_t, _text)


# --- building ------------------------------------------------------------------------------------


def seed_stats(values) -> tuple[float, float, int]:
    """(mean, sample std (ddof 1; NaN for one seed), number of seeds) of one metric's seed values."""
    x = np.atleast_1d(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return math.nan, math.nan, 0
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else math.nan, len(x)


def build_table(
    rows: Sequence[Mapping],
    metrics: Sequence[str],
    paper: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """One row per method, long-form numeric columns (what the CSV holds).

    Each row dict has `label` (str), optional `budget` (str, e.g. "0.5%"), `trainable_pct` (the
    achieved trainable share in percent), `values` ({metric: seed values or one float}), `markers`
    ({metric: "†*"...}) and `paper_label` (the row's key in `paper`; default: `label`).
    Columns: method, budget, trainable %, then per metric m: "m mean", "m std", "m n", "m marker",
    and with `paper` (e.g. `PAPER_TABLES["table2"]`) "m paper" and "m diff" (ours − paper).
    """
    out = []
    for r in rows:
        rec = {"method": r["label"], "budget": r.get("budget"), "trainable %": r.get("trainable_pct")}
        ref = (paper or {}).get(r.get("paper_label", r["label"]), {})
        for m in metrics:
            mean, std, n = seed_stats(r.get("values", {}).get(m, math.nan))
            rec.update({f"{m} mean": mean, f"{m} std": std, f"{m} n": n})
            rec[f"{m} marker"] = r.get("markers", {}).get(m, "")
            if paper is not None:
                p = ref.get(m, math.nan)
                rec.update({f"{m} paper": p, f"{m} diff": mean - p})
        out.append(rec)
    cols = ["method", "budget", "trainable %"]
    for m in metrics:
        cols += [f"{m} {s}" for s in ("mean", "std", "n", "marker")]
        cols += [f"{m} {s}" for s in ("paper", "diff")] if paper is not None else []
    return pd.DataFrame(out, columns=cols)


def metrics_of(df: pd.DataFrame) -> list[str]:
    return [c.removesuffix(" mean") for c in df.columns if c.endswith(" mean")]


# --- rendering -----------------------------------------------------------------------------------


Digits = int | Mapping[str, int | str]


def _num(x, digits: int | str, signed: bool = False) -> str:
    """`digits`: decimals (int) or a format spec (str, e.g. ".2e" for tiny variances)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    spec = digits if isinstance(digits, str) else f".{digits}f"
    return f"{x:+{spec}}" if signed else f"{x:{spec}}"


def _cells(df: pd.DataFrame, digits: Digits, cell, text=str) -> tuple[list[str], list[list[str]]]:
    """Header and body as display strings: `cell(mean, std | None, marker)` renders a metric cell,
    `text(s)` every other string (e.g. escapes it). `digits` per metric: a mapping metric -> digits
    (missing metrics get 3)."""
    per = digits if isinstance(digits, Mapping) else {}
    metrics = metrics_of(df)
    has_paper = any(f"{m} paper" in df.columns for m in metrics)
    header = ["method", "budget", "trainable %"]
    for m in metrics:
        header += [m] + ([f"{m} paper", f"{m} Δ"] if has_paper else [])
    header = [text(h) for h in header]
    body = []
    for _, r in df.iterrows():
        pct = r["trainable %"]
        pct = None if pct is None or pd.isna(pct) else float(pct)
        pct = _num(pct, 3 if pct is not None and pct < 1 else 2)
        line = [text(str(r["method"])), text("–" if pd.isna(r["budget"]) else str(r["budget"])), text(pct)]
        for m in metrics:
            dg = per.get(m, 3) if isinstance(digits, Mapping) else digits
            std = None if math.isnan(r[f"{m} std"]) else _num(r[f"{m} std"], dg)
            line.append(cell(_num(r[f"{m} mean"], dg), std, r[f"{m} marker"] or ""))
            if has_paper:
                line += [text(_num(r[f"{m} paper"], dg)), text(_num(r[f"{m} diff"], dg, signed=True))]
        body.append(line)
    return header, body


def table_csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False)


def table_markdown(df: pd.DataFrame, digits: Digits = 3) -> str:
    """A GitHub-flavoured Markdown table; cells read "0.312 ± 0.004†"."""
    header, body = _cells(df, digits, lambda m, s, k: m + (f" ± {s}" if s else "") + k)
    esc = [[c.replace("|", "\\|") for c in line] for line in [header, *body]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in esc[1:]]) + "\n"


_TEX = {"\\": r"\textbackslash{}", "%": r"\%", "&": r"\&", "_": r"\_", "#": r"\#", "$": r"\$",
        "{": r"\{", "}": r"\}", "Δ": r"$\Delta$", "–": "--", "†": r"$^\dagger$", "±": r"$\pm$",
        "≤": r"$\leq$", "−": "-", "×": r"$\times$", "β": r"$\beta$", "θ": r"$\theta$", "·": r"$\cdot$"}  # fmt: skip
_TEX_MARK = {"†": r"\dagger", "*": "*"}


def _tex(s: str) -> str:
    return "".join(_TEX.get(c, c) for c in s)


def _tex_cell(mean: str, std: str | None, marker: str) -> str:
    s = _tex(mean) + (rf" $\pm$ {_tex(std)}" if std else "")
    return s + ("$^{" + " ".join(_TEX_MARK[c] for c in marker) + "}$" if marker else "")


def table_latex(
    df: pd.DataFrame, digits: Digits = 3, caption: str | None = None, label: str | None = None
) -> str:
    """A booktabs `table` environment; markers become superscripts (`$^{\\dagger *}$`)."""
    header, body = _cells(df, digits, _tex_cell, _tex)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_tex(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [r"\begin{tabular}{ll" + "r" * (len(header) - 2) + "}", r"\toprule"]
    lines += [" & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(line) + r" \\" for line in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def table_html(df: pd.DataFrame, digits: Digits = 3, caption: str | None = None) -> str:
    """A standalone HTML page with the table as displayed ("0.312 ± 0.004†"), columns sortable on a click
    and wide tables scrolling inside their frame (peftir.html), for the HTML report."""
    from peftir import html as ph

    header, body = _cells(df, digits, lambda m, s, k: m + (f" ± {s}" if s else "") + k)
    title = (caption or "table").split(":")[0].split(".")[0]
    return ph.page(title, ph.table(header, body, html.escape(caption or "")), heading=False)


def render(df: pd.DataFrame, fmt: str, digits: Digits = 3, caption: str | None = None,
           label: str | None = None) -> str:
    """The table as text in one format: csv, md, tex or html."""
    if fmt == "csv":
        return table_csv(df)
    if fmt == "md":
        return table_markdown(df, digits)
    if fmt == "tex":
        return table_latex(df, digits, caption=caption, label=label)
    if fmt == "html":
        return table_html(df, digits, caption=caption)
    raise ValueError(f"table format {fmt!r}: expected csv, md, tex or html")


def write_formats(df: pd.DataFrame, paths: Mapping[str, str | Path], digits: Digits = 3,
                  caption: str | None = None, label: str | None = None) -> dict[str, Path]:
    """Write each `{format: path}` atomically (formats as `render`)."""
    out = {}
    for fmt, path in paths.items():
        with atomic_open(path) as f:
            f.write(render(df, fmt, digits, caption, label))
        out[fmt] = Path(path)
    return out


def write_table(
    df: pd.DataFrame, stem: str | Path, digits: Digits = 3, caption: str | None = None
) -> dict[str, Path]:
    """Write `<stem>.csv`, `.md`, `.tex` and `.html` atomically; returns {suffix: path}."""
    stem = Path(stem)
    paths = {ext: stem.with_name(f"{stem.name}.{ext}") for ext in ("csv", "md", "tex", "html")}
    return write_formats(df, paths, digits, caption, label=f"tab:{stem.name}")
