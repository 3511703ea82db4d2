"""Render bench/results/*.json as the Markdown tables of bench/README.md.

    .venv/bin/python bench/report.py [results_dir]      # prints Markdown to stdout
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(d: Path, name: str):
    p = d / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def machine_line(r: dict) -> str:
    m = r["machine"]
    return (
        f"{m['date']}; {m['nproc']} × {m['cpu']} ({', '.join(m['cpu_flags'])}), {m['mem_gb']} GB; "
        f"torch {m['torch']}, {m['torch_threads']} threads, OMP_WAIT_POLICY {m.get('omp_wait_policy', '?')}; "
        f"load average {m['loadavg_start'][0]} → {m['loadavg_end'][0]}"
    )


def summary(d: Path) -> list[str]:
    """One line per goal: the headline ratio of each benchmark."""
    out = ["| goal | measured | ratio | goal met |", "|---|---|---|---|"]
    for name in ("train_step_config", "train_step_config_bf16", "train_step", "train_step_bf16"):
        r = load(d, name)
        if r is None:
            continue
        a = r["args"]
        shape = f"{a['queries']}q×{a['group']}p, {a['q_len']}/{a['p_len']} tok, {a['dtype']}"
        for m, x in r["methods"].items():
            q = x["ratios"]["ratio_of_medians"]
            out.append(f"| train step ≤ baseline | {m}, {shape}: ours / {r['baseline_for'][m]} | {q:.2f} "
                       f"(paired {x['ratios']['paired_median']:.2f}) | {'yes' if q <= 1.02 else 'no'} |")
        if "full" in r["methods"] and a["dtype"] == "fp32":
            f = r["methods"]["full"]
            out.append(f"| fraction of fp32 matmul | full fine-tuning, {shape} | "
                       f"{f['fraction_of_matmul_ours']:.0%} of {r['matmul_gflops']} GFLOP/s | (report) |")
    r = load(d, "methods")
    if r is not None:
        for dt in ("fp32", "bf16"):
            rows = [x for k, x in r["rows"].items() if x["dtype"] == dt and not k.startswith("full/")]
            if rows:
                t = sorted(x["step_ratio_vs_full"] for x in rows)
                mem = sorted(x["maxrss_ratio_vs_full"] for x in rows)
                out.append(f"| PET cheaper than full | {len(rows)} run×budget, {dt}: step time / full | "
                           f"{t[0]:.2f}–{t[-1]:.2f} | {sum(x < 1 for x in t)}/{len(t)} |")
                out.append(f"| PET cheaper than full | {len(rows)} run×budget, {dt}: peak RSS / full | "
                           f"{mem[0]:.2f}–{mem[-1]:.2f} | {sum(x < 1 for x in mem)}/{len(mem)} |")
    for name in ("encode_2000", "encode"):
        r = load(d, name)
        if r is None:
            continue
        for dt, x in r["rows"].items():
            if not dt.startswith("bf16_vs"):
                q = x["ratio_ours_over_st_passages_per_s"]
                out.append(f"| encode ≥ sentence-transformers | {r['n_passages']} passages, {dt}: passages/s ratio | "
                           f"{q:.2f} (cos ≥ {x['min_cosine']}) | {'yes' if q >= 0.98 else 'no'} |")
        break  # the biggest encode run only
    r = load(d, "search")
    if r is not None:
        for n, x in r["rows"].items():
            out.append(f"| FAISS search vs matmul + top-k | N = {int(n):,}: FAISS / best of numpy, torch (q/s) | "
                       f"{min(x['ratio_faiss_over_numpy_qps'], x['ratio_faiss_over_torch_qps']):.2f} | (report) |")
            out.append(f"| (pipeline) | N = {int(n):,}: `search_shards` / torch (q/s) | "
                       f"{x['ratio_pipeline_over_torch_qps']:.2f} | slow: see notes |")
    return out


def train_step(r: dict) -> list[str]:
    a = r["args"]
    out = [
        (f"**Training step** ({a['queries']} queries × {a['group']} passages, q_len {a['q_len']}, "
         f"p_len {a['p_len']}, {a['dtype']}, {r['tokens_per_step']} tokens/step, {a['reps']} interleaved rounds). "
         f"{machine_line(r)}"),
        "",
        ("| method | ours s/step | baseline s/step | ours / baseline (medians) | paired median | ratio of minima "
         "| ours tokens/s | baseline tokens/s | baseline |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m, x in r["methods"].items():
        q = x["ratios"]
        out.append(f"| {m} | {x['ours']['median_s']:.2f} | {x['baseline']['median_s']:.2f} | "
                   f"**{q['ratio_of_medians']:.2f}** | {q['paired_median']:.2f} | {q['ratio_of_mins']:.2f} | "
                   f"{x['tokens_per_s_ours']:.0f} | {x['tokens_per_s_baseline']:.0f} | {r['baseline_for'][m]} |")
    if "full" in r["methods"]:
        f = r["methods"]["full"]
        out += ["", (f"fp32 matmul ({a['matmul_n']}² @ {a['matmul_n']}²): {r['matmul_gflops']} GFLOP/s (median). "
                     f"Full fine-tuning ≈ {r['flop_per_step_full'] / 1e9:.0f} GFLOP/step → "
                     f"**{f.get('fraction_of_matmul_ours', 0):.0%}** of that throughput (ours), "
                     f"{f.get('fraction_of_matmul_baseline', 0):.0%} (baseline).")]
    return out


def methods(r: dict) -> list[str]:
    a = r["args"]
    rows = r["rows"]
    out = [
        (f"**PET cost vs full fine-tuning** ({a['queries']}q × {a['group']}p, q_len {a['q_len']}, "
         f"p_len {a['p_len']}, {a['reps']} interleaved rounds per group). {machine_line(r)}"),
        "",
        ("| run / budget | dtype | trainable | s/step | × full (medians) | × full (paired) | bf16 / fp32 "
         "| peak RSS MB | × full | training adds MB | × full |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(rows, key=lambda k: (rows[k]["dtype"] != "fp32", k != f"full/natural/{rows[k]['dtype']}", k)):
        x = rows[key]
        paired = x.get("step_ratios_vs_full", {}).get("paired_median", 1.0)
        b = x.get("bf16_over_fp32")
        out.append(f"| {key.rsplit('/', 1)[0]} | {x['dtype']} | {x['trainable']:,} | {x['time']['median_s']:.2f} | "
                   f"**{x['step_ratio_vs_full']:.2f}** | {paired:.2f} | {'' if b is None else f'{b:.2f}'} | "
                   f"{x['maxrss_mb']:.0f} | {x['maxrss_ratio_vs_full']:.2f} | {x['train_mb']:.0f} | "
                   f"{x['train_mb_ratio_vs_full'] or 0:.2f} |")
    return out


def encode(r: dict) -> list[str]:
    a = r["args"]
    out = [
        (f"**Corpus encoding** ({r['n_passages']} Debian passages, max_len {a['max_len']}, "
         f"batch {a['batch_size']}, {a['reps']} interleaved rounds). {machine_line(r)}"),
        "",
        "| dtype | ours passages/s | sentence-transformers passages/s | ours / ST (throughput) | paired | min cosine |",
        "|---|---|---|---|---|---|",
    ]
    for dt, x in r["rows"].items():
        if dt.startswith("bf16_vs"):
            continue
        out.append(f"| {dt} | {x['passages_per_s_ours']} | {x['passages_per_s_st']} | "
                   f"**{x['ratio_ours_over_st_passages_per_s']:.2f}** | {x['paired_ratio_median']:.2f} | "
                   f"{x['min_cosine']} |")
    if "bf16_vs_fp32_ours" in r["rows"]:
        b = r["rows"]["bf16_vs_fp32_ours"]
        out += ["", f"Ours, bf16 autocast vs fp32: {b['speedup']:.2f}× the throughput, min cosine {b['min_cosine']}."]
    return out


def search(r: dict) -> list[str]:
    a = r["args"]
    out = [
        (f"**Search** ({a['queries']} queries, d={a['dim']}, k={a['k']}, {a['reps']} interleaved rounds). "
         f"{machine_line(r)}"),
        "",
        (f"| corpus | FAISS flat q/s | pipeline (search_shards, {a['shards']} shards) q/s | numpy q/s | torch q/s "
         "| FAISS / numpy | FAISS / torch | pipeline / torch | same top-k |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, x in r["rows"].items():
        q = x["queries_per_s"]
        same = min(v["same_topk_sets"] for v in x["agreement_vs_numpy"].values())
        out.append(f"| {int(n):,} | {q['faiss']:.0f} | {q['pipeline']:.0f} | {q['numpy']:.0f} | {q['torch']:.0f} | "
                   f"**{x['ratio_faiss_over_numpy_qps']:.2f}** | {x['ratio_faiss_over_torch_qps']:.2f} | "
                   f"{x['ratio_pipeline_over_torch_qps']:.2f} | {same:.0%} |")
    return out


def omp_policy(r: dict) -> list[str]:
    a = r["args"]
    if a["what"] == "train":
        what = f"training step (full fine-tuning, {a['queries']}q × {a['group']}p, {a['q_len']}/{a['p_len']} tokens)"
    else:
        what = f"encoding one batch of {a['queries'] * a['group']} passages × {a['p_len']} tokens"
    out = [
        (f"**OpenMP wait policy**, {what}, {a['reps']} interleaved rounds, one worker process per setting "
         f"(each sets its own policy). {machine_line(r)}"),
        "",
        "| setting | s | CPU s | × default 2 threads (medians) | paired | ratio of minima |",
        "|---|---|---|---|---|---|",
    ]
    for n, x in r["rows"].items():
        q = x["vs_default_2t"]
        out.append(f"| {n} | {x['time']['median_s']:.2f} | {x['time']['median_cpu_s']:.2f} | "
                   f"**{q['ratio_of_medians']:.2f}** | {q['paired_median']:.2f} | {q['ratio_of_mins']:.2f} |")
    return out


SECTIONS = (
    ("train_step_config", train_step), ("train_step_config_bf16", train_step),
    ("train_step", train_step), ("train_step_bf16", train_step), ("methods", methods),
    ("encode_2000", encode), ("encode", encode), ("search", search),
    ("omp_policy", omp_policy), ("omp_policy_encode", omp_policy), ("omp_policy_loaded", omp_policy),
)


def main() -> None:
    d = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    parts = ["\n".join(summary(d))]
    for name, fn in SECTIONS:
        r = load(d, name)
        if r is not None:
            parts.append("\n".join(fn(r)))
    print("\n\n".join(parts))


if __name__ == "__main__":
    main()
