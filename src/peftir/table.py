"""`peftir table`: every system of a stage in one table (CSV, Markdown, LaTeX): BM25, the zero-shot
backbone, full fine-tuning and every method x budget, mean ± std over seeds, with the paper's
significance markers (`*` better than full fine-tuning, `†` better than the best other PET method of
the same budget; see peftir.analysis.results) and the cost of each trained system in the CSV.
"""

from __future__ import annotations

import json


def cmd_table(a) -> None:
    from peftir.analysis.results import load_systems, stage_table
    from peftir.analysis.tables import write_formats

    evals = json.loads(a.evals)
    df, _ = stage_table(load_systems(a.systems, evals), evals, "all", a.alpha, stage=a.stage)
    note = "a sentence-embedding model, not a plain pre-trained LM" if "minilm" in a.backbone.lower() else ""
    caption = (f"{'Retrieval' if a.stage == 'retriever' else 'Re-ranking'}: mean ± std over seeds; * better than "
               f"full fine-tuning, † better than the best other PET of the same budget (paired t-test, "
               f"p ≤ {a.alpha:g}). Backbone: {a.backbone}" + (f" ({note})." if note else "."))
    paths = {"csv": a.csv, "md": a.md, "tex": a.tex} | ({"html": a.html} if a.html else {})
    write_formats(df, paths, caption=caption)


def register(sub) -> None:
    p = sub.add_parser("table", help="results table of one stage (CSV, Markdown, LaTeX)")
    p.add_argument("--stage", required=True, choices=["retriever", "reranker"])
    p.add_argument("--systems", nargs="+", required=True)
    p.add_argument("--evals", required=True, help="the config's evaluation list as JSON")
    p.add_argument("--backbone", default="")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the markers")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--tex", required=True)
    p.add_argument("--html", help="also the table as a sortable HTML page (the report shows it)")
    p.set_defaults(func=cmd_table)
