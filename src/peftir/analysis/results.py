"""Results tables of one stage, read from the pipeline's files (paper.md §5 Tables 2-4, §4 significance).

A *system* is a directory results/{stage}/{run}/{budget}/s{seed} holding metrics/{ds}.{split}.json
(`peftir evaluate`: aggregate and per-query values) and, when trained, run_info.json (method spec,
resolved params, achieved trainable %). Seeds of one (run, budget) form one row: mean ± std over
seeds; significance pools the seeds per query (significance.py).

Rows (`kind`):
  all              reference rows (BM25, zero-shot backbone), full fine-tuning, every method × budget
  table2, table3   the same without IAA (the paper's existing-PET tables: retrieval, re-ranking)
  table4           full fine-tuning, then per budget "Best PET <budget>" and the IAA runs
Markers, the paper's convention (two-tailed paired t-test on per-query values, p ≤ alpha):
  `*`  significantly better than full fine-tuning (the run whose method is `full`);
  `†`  significantly better than the best *other* PET method of the same budget, chosen per
       dataset by that dataset's primary (first) measure — among every other PET row of the
       table, and in table4 among the existing (non-IAA) PET methods, as the paper's "Best PET".
  [D] `natural`-size methods (BitFit) form their own budget group; reference rows get no markers.
With `paper_datasets` (our dataset, or "dataset.split" → the paper's dataset name, default: our
names that are the paper's) the paper's number and the difference (ours − paper) sit beside ours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from peftir.analysis import significance as sig
from peftir.analysis.tables import _DATASETS, PAPER_ROWS, PAPER_TABLES, build_table
from peftir.io import read_json

REFERENCE = {"bm25": "BM25", "zero-shot": "Zero-shot backbone"}
PAPER_NAMES = {"full": "Full fine-tuning", "bitfit": "BitFit", "prefix": "Prefix", "adapter": "Adapter",
               "mam": "MAM", "lora": "LoRA"}  # fmt: skip
IAA_NAMES = {"sublayer": "IAA-S", "layer": "IAA-L", "model": "IAA-M"}
KINDS = ("all", "table2", "table3", "table4")
PAPER_SOURCES = {
    "all": ("table2", "table4"),
    "table2": ("table2",),
    "table3": ("table3",),
    "table4": ("table4",),
}


@dataclass
class System:
    """One (run, budget): its seeds' values per column ("ds.split/measure"). `best_of` marks the
    composite "Best PET" row of Table 4 (the runs it took its values from)."""

    run: str
    budget: str
    info: dict | None = None
    values: dict[str, list[float]] = field(default_factory=dict)
    per_query: dict[str, list[dict]] = field(default_factory=dict)
    best_of: list[System] | None = None

    @property
    def reference(self) -> bool:
        return self.info is None and self.best_of is None

    @property
    def method(self) -> str | None:
        return None if self.info is None else self.info["config"]["method"]["method"]

    @property
    def pet(self) -> bool:
        return self.info is not None and self.method != "full"

    @property
    def iaa(self) -> bool:
        return self.method == "iaa"

    @property
    def pct(self) -> float | None:
        if self.best_of:
            return float(np.mean([r.pct or 0.0 for r in self.best_of]))
        if self.info is None:
            return 0.0 if self.run == "zero-shot" else None
        return float(self.info["achieved_pct"])

    def mean(self, col: str) -> float:
        v = self.values.get(col, [])
        return float(np.mean(v)) if v else math.nan


def columns(evals: Sequence[Mapping]) -> list[str]:
    return [f"{e['dataset']}.{e['split']}/{m}" for e in evals for m in e["measures"]]


def parse_system(d: str | Path) -> tuple[str, str, int]:
    parts = Path(d).parts
    return parts[-3], parts[-2], int(parts[-1].removeprefix("s"))


def load_systems(dirs: Sequence[str | Path], evals: Sequence[Mapping]) -> list[System]:
    """One System per (run, budget), in the order first seen; seeds in the order given."""
    out: dict[tuple[str, str], System] = {}
    for d in map(Path, dirs):
        run, budget, _ = parse_system(d)
        s = out.setdefault((run, budget), System(run, budget))
        if s.info is None and (d / "run_info.json").exists():
            s.info = read_json(d / "run_info.json")
        for e in evals:
            m = read_json(d / "metrics" / f"{e['dataset']}.{e['split']}.json")
            for measure in e["measures"]:
                col = f"{e['dataset']}.{e['split']}/{measure}"
                s.values.setdefault(col, []).append(float(m["aggregate"][measure]))
                if "per_query" in m and measure in m["per_query"]:
                    s.per_query.setdefault(col, []).append(m["per_query"][measure])
    return list(out.values())


def label(s: System) -> str:
    return REFERENCE.get(s.run, s.run)


def paper_label(s: System, tables: Sequence[str]) -> str | None:
    """The paper's row for this system: its method's name at the paper budget closest to ours."""
    if s.reference:
        return None
    if s.best_of:
        name = "Best PET"
    elif s.iaa:
        name = IAA_NAMES.get(s.info.get("resolved_params", {}).get("span", ""))
    else:
        name = PAPER_NAMES.get(s.method)
    rows = {k: v for t in tables for k, v in PAPER_ROWS[t].items()}
    cands = [k for k in rows if k == name or k.startswith(f"{name} ")]
    return min(cands, key=lambda k: abs(float(rows[k]["budget"].rstrip("%")) - (s.pct or 0)), default=None)


def _budget_order(systems: Sequence[System]) -> dict[str, float]:
    pcts: dict[str, list[float]] = {}
    for s in systems:
        if not s.reference:
            pcts.setdefault(s.budget, []).append(s.pct or 0.0)
    return {b: (-1.0 if b == "natural" else float(np.mean(v))) for b, v in pcts.items()}


def _best(rivals: Sequence[System], primary: str) -> System | None:
    scored = [r for r in rivals if not math.isnan(r.mean(primary))]
    return max(scored, key=lambda r: (r.mean(primary), r.run)) if scored else None


def _marker(s: System, col: str, full: System | None, best: System | None, alpha: float,
            pvalues: dict | None = None) -> str:
    """The paper's markers of one cell; with `pvalues`, each test's two-tailed p, the mean paired
    difference and the half-width of its 95% CI go into it as {"p vs full": p, "Δ vs full": d,
    "Δ vs full ±95%": h, ... "vs best PET" likewise} (absent where the comparison does not apply)."""
    out = ""
    for other, mark, key in ((best, sig.BETTER_THAN_BEST_PET, "vs best PET"), (full, sig.BETTER_THAN_FULL, "vs full")):
        if other is None or col not in s.per_query or col not in other.per_query:
            continue
        test = sig.paired_ttest(s.per_query[col], other.per_query[col])
        if pvalues is not None:
            pvalues.update({f"p {key}": test.p, f"Δ {key}": test.mean_diff, f"Δ {key} ±95%": test.ci95})
        if test.a_better(alpha):
            out += mark
    return out


def stage_table(
    systems: Sequence[System],
    evals: Sequence[Mapping],
    kind: str = "all",
    alpha: float = 0.05,
    paper_datasets: Mapping[str, str] | None = None,
    stage: str = "retriever",
) -> tuple[pd.DataFrame, str]:
    """The table's DataFrame (tables.build_table's columns) and a note naming each "best PET".
    `stage` picks the paper's numbers for kind "all" (re-ranking: Table 3)."""
    if kind not in KINDS:
        raise ValueError(f"table kind {kind!r}: expected one of {KINDS}")
    cols = columns(evals)
    primary = {c: f"{e['dataset']}.{e['split']}/{e['measures'][0]}" for e in evals for c in columns([e])}
    order = _budget_order(systems)
    trained = sorted((s for s in systems if not s.reference), key=lambda s: order[s.budget])
    full = next((s for s in trained if s.method == "full"), None)
    if kind == "table4":
        head = [full] if full else []
        pool = [s for s in trained if s.pet and not s.iaa]
        rows, notes = list(head), []
        for b in sorted({s.budget for s in trained if s.iaa}, key=order.get):
            best_pet = _best_row([s for s in pool if s.budget == b], b, cols, primary, notes)
            rows += ([best_pet] if best_pet else []) + [s for s in trained if s.iaa and s.budget == b]
    else:
        keep = [s for s in trained if not (kind in ("table2", "table3") and s.iaa)]
        rows, notes, pool = [s for s in systems if s.reference] + keep, [], keep
    tables = ("table3",) if stage == "reranker" and kind == "all" else PAPER_SOURCES[kind]
    out, pvals = [], []
    for s in rows:
        marks, ps = {}, {}
        if s.pet:
            for c in cols:
                best = _best([r for r in pool if r.budget == s.budget and r is not s and r.pet], primary[c])
                ps[c] = {}
                marks[c] = _marker(s, c, full, best, alpha, ps[c])
        pvals.append(ps)
        out.append(
            {
                "label": label(s),
                "budget": None if s.reference else s.budget,
                "trainable_pct": s.pct,
                "values": s.values,
                "markers": marks,
                "paper_label": paper_label(s, tables),
            }
        )
    df = build_table(out, cols, _paper(tables, cols, paper_datasets))
    info = [s.info or {} for s in rows]  # cost of each trained system (CSV columns only)
    df["trainable params"] = [i.get("trainable_params") for i in info]
    if any(i.get("head_params") is not None for i in info):  # cross-encoders: the head, counted apart
        df["head params"] = [i.get("head_params") for i in info]
    df["train time s"] = [(i.get("stats") or {}).get("train_time_s") for i in info]
    for c in cols:  # the tests behind the markers (CSV only): two-tailed paired t-test on per-query values
        for key in ("p vs full", "p vs best PET", "Δ vs full", "Δ vs full ±95%", "Δ vs best PET", "Δ vs best PET ±95%"):
            df[f"{c} {key}"] = [ps.get(c, {}).get(key) for ps in pvals]
    return df, "; ".join(notes)


def _best_row(rivals: Sequence[System], budget: str, cols, primary, notes: list[str]) -> System | None:
    """The paper's "Best PET <budget>" row: per dataset, the values of the rival best by its primary."""
    if not rivals:
        return None
    row = System("Best PET", budget, best_of=list(rivals))
    chosen = {}
    for c in cols:
        best = _best(rivals, primary[c])
        if best is not None:
            row.values[c] = best.values[c]
            chosen[c.split("/")[0]] = best.run
    notes.append(f"Best PET {budget}: " + ", ".join(f"{d} {r}" for d, r in chosen.items()))
    return row


def _paper(tables: Sequence[str], cols: Sequence[str], paper_datasets: Mapping[str, str] | None):
    """The paper's numbers keyed by our columns, or None when no column maps onto the paper's."""
    mapping = dict(paper_datasets or {})
    ref: dict[str, dict[str, float]] = {}
    for c in cols:
        ds_split, measure = c.split("/", 1)
        ds = ds_split.rsplit(".", 1)[0]
        pds = mapping.get(ds_split, mapping.get(ds, ds if ds in _DATASETS else None))
        for row, vals in ((r, v) for t in tables for r, v in PAPER_TABLES[t].items()):
            if pds and f"{pds}/{measure}" in vals:
                ref.setdefault(row, {})[c] = vals[f"{pds}/{measure}"]
    return ref or None
