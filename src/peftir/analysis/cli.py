"""Subcommands of the evidence (issue 5): `paper-table`, `convergence`, `landscape` (compute, .npz),
`plot-landscape` (figures + sharpness table), `discrepancy-report`, `figure3` and `answers` (the paper's
three questions answered with effect, 95% CI and p per stage).

Systems are read from their directories results/{stage}/{run}/{budget}/s{seed} (see results.py);
a figure is written as <stem>.png + <stem>.pdf, a table as <stem>.csv/.md/.tex/.html.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from peftir.io import read_jsonl, write_json

MINILM_NOTE = "backbone: all-MiniLM-L6-v2 (a sentence-embedding model, not a plain pre-trained LM)"
RECONSTRUCTION = "this project's reconstruction of the paper's claim 3, not a measurement from the paper"


def backbone_note(name: str) -> str:
    return MINILM_NOTE if "minilm" in name.lower() else f"backbone: {name}"


def run_label(run: str, budget: str) -> str:
    return run if budget in ("natural", "none") else f"{run} ({budget})"


def _by_system(paths) -> dict[tuple[str, str], list[Path]]:
    """Files inside system directories, grouped by (run, budget) in the order given."""
    from peftir.analysis.results import parse_system

    out: dict[tuple[str, str], list[Path]] = {}
    for p in map(Path, paths):
        run, budget, _ = parse_system(p.parent)
        out.setdefault((run, budget), []).append(p)
    return out


def achieved_pct(system_dir: Path) -> float | None:
    """The achieved trainable % from the system's run_info.json (None where there is none)."""
    info = Path(system_dir) / "run_info.json"
    return json.loads(info.read_text()).get("achieved_pct") if info.exists() else None


def _budget_rows(groups, budgets: dict[str, float]) -> dict[str, list[tuple[str, str]]]:
    """Rows of a per-budget figure: natural-size methods first, then each budget with full fine-tuning
    (run "full") repeated as the reference."""
    order = sorted({b for _, b in groups}, key=lambda b: (b != "natural", budgets.get(b, 0.0)))
    rows = {b: [k for k in groups if k[1] == b] for b in order}
    full = [k for k in groups if k[0] == "full"]
    return {b: (full + ks if b != "natural" else ks) for b, ks in rows.items()}


def cmd_paper_table(a) -> None:
    from peftir.analysis.results import load_systems, stage_table
    from peftir.analysis.tables import write_table

    evals = json.loads(a.evals)
    df, notes = stage_table(
        load_systems(a.systems, evals),
        evals,
        a.kind,
        a.alpha,
        json.loads(a.paper_datasets or "{}"),
        stage=a.stage,
    )
    title = {"table2": "Table 2 (retrieval, existing PET)", "table3": "Table 3 (re-ranking)",
             "table4": "Table 4 (IAA, retrieval)", "all": f"All systems ({a.stage})"}[a.kind]  # fmt: skip
    caption = (
        f"{title}. Mean ± std over seeds; * better than full fine-tuning, † better than the best other "
        f"PET of the same budget (two-tailed paired t-test on per-query values, p ≤ {a.alpha:g}). "
        + (f"{notes}. " if notes else "")
        + backbone_note(a.backbone)
        + "."
    )
    write_table(df, a.stem, caption=caption)


def cmd_convergence(a) -> None:
    from peftir.analysis import curves as cv
    from peftir.analysis.tables import build_table, write_table
    from peftir.plots import plot_convergence_rows, save

    groups = _by_system(a.curves)
    loaded = {k: [cv.read_curve(p) for p in ps] for k, ps in groups.items()}
    metric = f"dev_{a.metric}"
    kw = {"metric": metric, "fractions": tuple(a.fractions), "k": a.spike_k, "beta": a.beta}
    rows = []
    for (run, budget), cs in loaded.items():
        per_seed = [cv.convergence_summary(c, **kw) for c in cs]
        rows.append({"label": run, "budget": budget, "trainable_pct": achieved_pct(groups[(run, budget)][0].parent),
                     "values": {k: [s[k] for s in per_seed] for k in per_seed[0]}})  # fmt: skip
    metrics = list(rows[0]["values"]) if rows else []
    digits = {m: (".2e" if "var" in m else 0 if "step" in m else 1 if "spikes" in m else 3) for m in metrics}
    caption = (
        f"Convergence ({a.stage}): mean ± std over seeds of per-seed summaries; steps to a fraction of "
        f"the final dev {a.metric}, and to a fraction of the gain over step 0 (final − initial; '–' when "
        f"nothing was gained); sample variance of the raw loss over the last half of training; "
        f"loss spikes: steps whose loss exceeds the EMA (β={a.beta:g}) of the earlier losses by more than "
        f"{a.spike_k:g} robust standard deviations (1.4826·MAD). {backbone_note(a.backbone)}."
    )
    write_table(build_table(rows, metrics), a.table_stem, digits=digits, caption=caption)
    bands = {k: cv.method_bands(cs, metric, a.beta) for k, cs in loaded.items()}
    layout = _budget_rows(loaded, json.loads(a.budgets or "{}"))
    fig_rows = {b: {run_label(*k): bands[k] for k in ks} for b, ks in layout.items()}
    save(
        plot_convergence_rows(
            fig_rows,
            metric=f"dev {a.metric}",
            note=backbone_note(a.backbone),
            title=f"Convergence ({a.stage}): training loss and dev {a.metric} vs step",
        ),
        a.fig_stem,
    )


def cmd_landscape(a) -> None:
    import torch

    from peftir.analysis import landscape_job as job
    from peftir.analysis.landscape import save_landscape

    torch.set_num_threads(a.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    hp, settings = json.loads(a.train_json), json.loads(a.settings_json)
    data, meta = job.run(a.model, a.triples, a.corpus, hp, settings, device)
    run, budget, seed = Path(a.model).parts[-4:-1]  # results/retriever/{run}/{budget}/s{seed}/model
    save_landscape(a.out, {"run": run, "budget": budget, "seed": int(seed.removeprefix("s")), **meta}, **data)


def cmd_plot_landscape(a) -> None:
    from peftir.analysis import landscape_job as job
    from peftir.analysis.landscape import load_landscape
    from peftir.analysis.tables import build_table, write_table
    from peftir.plots import plot_landscape_1d, plot_landscape_2d, plot_linear_path, save

    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for p in a.inputs:
        d = load_landscape(p)
        groups[(d["meta"]["run"], d["meta"]["budget"])].append(d)
    one, two, path, rows = {}, {}, {}, []
    for (run, budget), ds in groups.items():
        lab = run_label(run, budget)
        s1 = [job.slices(d) for d in ds]
        one[lab] = {"alphas": s1[0][0]["alphas"], "losses": [r for s in s1 for r in s[0]["losses"]]}
        two[lab], path[lab] = s1[0][1], {"ts": s1[0][2]["ts"], "losses": [s[2]["losses"] for s in s1]}
        summ = [job.summary(d, a.radius) for d in ds]
        rows.append(
            {
                "label": run,
                "budget": budget,
                "trainable_pct": ds[0]["meta"].get("achieved_pct"),
                "values": {k: [v for s in summ for v in s[k]] for k in summ[0]},
            }
        )
    note = (
        f"{backbone_note(a.backbone)}; this project's evidence (Li et al. 2018 filter-normalised directions)"
    )
    save(plot_landscape_1d(one, note=note), a.fig_1d)
    save(plot_landscape_2d(two, note=note), a.fig_2d)
    save(plot_linear_path(path, note=note), a.fig_path)
    metrics = list(rows[0]["values"]) if rows else []
    caption = (
        f"Loss-landscape sharpness at radius {a.radius:g} (mean ± std over seeds and random directions). "
        f"{note}."
    )
    write_table(
        build_table(rows, metrics), a.table_stem, digits=dict.fromkeys(metrics, ".3g"), caption=caption
    )


def cmd_discrepancy(a) -> None:
    import pandas as pd

    from peftir.analysis import discrepancy as dc
    from peftir.analysis.tables import build_table, write_table
    from peftir.plots import plot_discrepancy, save

    by_layer, by_step, rows = {}, {}, []
    for (run, budget), ps in _by_system(a.inputs).items():
        df = pd.concat([dc.records_frame(read_jsonl(p)).assign(seed=i) for i, p in enumerate(ps)])
        df = df.dropna(subset=["cosine"]) if len(df) else df
        if not len(df):
            continue
        by_layer[run_label(run, budget)], by_step[run_label(run, budget)] = dc.by_layer(df), dc.by_step(df)
        values = {f"layer {int(layer)}": g["cosine"].tolist() for layer, g in df.groupby("layer")}
        rows.append(
            {
                "label": run,
                "budget": budget,
                "trainable_pct": achieved_pct(ps[0].parent),
                "values": {**values, "all layers": df["cosine"].tolist()},
            }
        )
    note = f"{backbone_note(a.backbone)}; {RECONSTRUCTION}"
    save(plot_discrepancy(by_layer, by_step, note=note), a.fig_stem)
    metrics = sorted(
        {m for r in rows for m in r["values"]},
        key=lambda m: (m == "all layers", int(m.split()[-1]) if m != "all layers" else 0),
    )
    caption = (
        "Cosine between the change one optimizer step makes in each layer's output and the negative "
        "gradient of the loss with respect to that output, on fixed probe batches (mean ± std over "
        f"probed steps, probe batches and seeds); {note}."
    )
    write_table(build_table(rows, metrics), a.table_stem, caption=caption)


def cmd_figure3(a) -> None:
    from peftir.analysis.figure3 import as_json, describe_methods
    from peftir.plots import plot_figure3, save

    methods = json.loads(a.methods_json)  # {run: spec} or [[run, spec], ...] (keeps the config's order)
    structure = describe_methods(dict(methods) if isinstance(methods, list) else methods)
    save(
        plot_figure3(
            structure,
            note=f"{backbone_note(a.backbone)}; drawn from the module graph the method "
            "registry builds on a tiny BERT (layer 0; every layer is the same)",
        ),
        a.stem,
    )
    write_json(as_json(structure), a.json)


def _stage_of(system_dir: Path) -> str:
    """results/{stage}/{run}/{budget}/s{seed} -> stage."""
    return Path(system_dir).parts[-4]


def cmd_answers(a) -> None:
    from peftir.analysis import answers as an
    from peftir.analysis import curves as cv
    from peftir.analysis.results import load_systems, parse_system
    from peftir.io import atomic_open

    evals = json.loads(a.evals)  # {stage: evaluation list}; the primary is the first entry's first measure
    cols, primary = {}, {}
    for stage, ev in sorted(evals.items(), key=lambda kv: (an.STAGES + (kv[0],)).index(kv[0])):
        if not ev or not ev[0].get("measures"):
            raise ValueError(f"--evals: stage {stage!r} has no evaluation with a measure")
        e = ev[0]
        primary[stage] = [{**e, "measures": [e["measures"][0]]}]
        cols[stage] = f"{e['dataset']}.{e['split']}/{e['measures'][0]}"
    dirs: dict[str, list[str]] = defaultdict(list)
    for d in a.systems or []:
        dirs[_stage_of(d)].append(d)
    curves: dict[str, dict] = defaultdict(dict)
    for p in map(Path, a.curves or []):
        run, budget, seed = parse_system(p.parent)
        curves[_stage_of(p.parent)].setdefault((run, budget), {})[seed] = cv.read_curve(p)
    unknown = (set(dirs) | set(curves)) - set(cols)
    if unknown:
        raise ValueError(f"systems or curves of stage(s) {sorted(unknown)} but no --evals entry for them")
    stages = {s: (load_systems(dirs[s], primary[s]) if dirs[s] else [], curves[s]) for s in cols}
    methods = {r: m["method"] for r, m in json.loads(a.methods).items()}
    kw = {"budget": a.budget, "alpha": a.alpha, "iaa_run": a.iaa_run, "adapter_method": a.adapter_method,
          "margin": a.margin, "beta": a.beta, "k": a.spike_k, "metric": f"dev_{a.metric}",
          "fraction": a.fraction}  # fmt: skip
    ans = an.answers(stages, methods, cols, backbone=a.backbone, budget_pct=a.budget_pct, **kw)
    write_json(ans, a.json)
    with atomic_open(a.md) as f:
        f.write(an.markdown(ans))


def register(sub) -> None:
    p = sub.add_parser("paper-table", help="Tables 2/3/4 of the paper (or all systems), significance-marked")
    p.add_argument("--kind", required=True, choices=["table2", "table3", "table4", "all"])
    p.add_argument("--stage", default="retriever", choices=["retriever", "reranker"])
    p.add_argument("--systems", nargs="+", required=True, help="system directories (every seed)")
    p.add_argument("--evals", required=True, help="the evaluation list as JSON")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--paper-datasets", default="", help="JSON {our dataset[.split]: paper dataset}")
    p.add_argument("--backbone", default="")
    p.add_argument("--stem", required=True, help="writes <stem>.csv/.md/.tex/.html")
    p.set_defaults(func=cmd_paper_table)

    p = sub.add_parser("convergence", help="convergence figure and summary table of one stage")
    p.add_argument("--stage", default="retriever")
    p.add_argument("--curves", nargs="+", required=True, help="curve.jsonl of every system and seed")
    p.add_argument("--metric", default="RR@10", help="dev metric in the curves (without dev_)")
    p.add_argument("--fractions", nargs="+", type=float, default=[0.9, 0.95])
    p.add_argument("--beta", type=float, default=0.9, help="EMA smoothing")
    p.add_argument("--spike-k", type=float, default=3.0, help="spike threshold in robust std")
    p.add_argument("--budgets", default="", help="the config's budgets as JSON (row order)")
    p.add_argument("--backbone", default="")
    p.add_argument("--fig-stem", required=True)
    p.add_argument("--table-stem", required=True)
    p.set_defaults(func=cmd_convergence)

    p = sub.add_parser("landscape", help="loss landscape of one trained bi-encoder (.npz)")
    p.add_argument("--model", required=True, help="results/retriever/{run}/{budget}/s{seed}/model")
    p.add_argument("--triples", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--train-json", required=True, help="the retriever section (batch, lengths, n_neg)")
    p.add_argument("--settings-json", default="{}", help="grid and sample (gaps: config.yaml's analysis.landscape.compute)")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (auto: cuda where available)")
    p.set_defaults(func=cmd_landscape)

    p = sub.add_parser("plot-landscape", help="landscape figures and the sharpness table")
    p.add_argument("--inputs", nargs="+", required=True, help="landscape .npz files")
    p.add_argument("--radius", type=float, default=0.5)
    p.add_argument("--backbone", default="")
    for f in ("fig-1d", "fig-2d", "fig-path", "table-stem"):
        p.add_argument(f"--{f}", required=True)
    p.set_defaults(func=cmd_plot_landscape)

    p = sub.add_parser("discrepancy-report", help="update-direction discrepancy figure and table")
    p.add_argument("--inputs", nargs="+", required=True, help="discrepancy.jsonl of every system and seed")
    p.add_argument("--backbone", default="")
    p.add_argument("--fig-stem", required=True)
    p.add_argument("--table-stem", required=True)
    p.set_defaults(func=cmd_discrepancy)

    p = sub.add_parser("figure3", help="schematic of where each method's modules sit (from the code)")
    p.add_argument(
        "--methods-json",
        required=True,
        help="the config's methods as JSON: {run: {method, params}} or [[run, {...}], ...]",
    )
    p.add_argument("--backbone", default="")
    p.add_argument("--stem", required=True)
    p.add_argument("--json", required=True, help="the structure found, as JSON")
    p.set_defaults(func=cmd_figure3)

    p = sub.add_parser("answers", help="the paper's three questions: effect, 95%% CI, p per stage")
    p.add_argument("--systems", nargs="*", default=[], help="trained system dirs, both stages")
    p.add_argument("--curves", nargs="*", default=[], help="their curve.jsonl files")
    p.add_argument("--evals", required=True, help="JSON {stage: evaluation list}")
    p.add_argument("--methods", required=True, help="the config's methods as JSON {run: {method, ...}}")
    p.add_argument("--budget", default="small", help="the paper's small budget (Q1-Q3 compare at it)")
    p.add_argument("--budget-pct", type=lambda v: float(v) if v else None, default=None, help="its size in %% (for the wording)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--margin", type=float, default=0.005, help="Q2 non-inferiority margin")
    p.add_argument("--iaa-run", default="iaa-l")
    p.add_argument("--adapter-method", default="adapter", help="registry key of the adapter run (Q3)")
    p.add_argument("--metric", default="RR@10", help="dev metric in the curves (without dev_)")
    p.add_argument("--fraction", type=float, default=0.9, help="Q3: steps to this fraction")
    p.add_argument("--beta", type=float, default=0.9, help="EMA of the roughness")
    p.add_argument("--spike-k", type=float, default=3.0)
    p.add_argument("--backbone", default="")
    p.add_argument("--json", required=True)
    p.add_argument("--md", required=True)
    p.set_defaults(func=cmd_answers)
