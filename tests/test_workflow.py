"""Workflow tests: the smoke DAG (config/smoke.yaml: a tiny random BERT, sampled embedded data) end to end,
once per module, shared by every test here; `snakemake verify` against expected/smoke.yaml; a no-op rerun;
`snakemake -n` for every shipped config; and resume after SIGKILL: a training job killed midway resumes
from its checkpoint when the same `snakemake` command is rerun and ends with the run file and metrics of an
uninterrupted run (CPU, bit for bit).
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from peftir.data.trec import read_run
from peftir.io import read_json, read_jsonl
from workflow_testutil import (
    REPO,
    SHARED_DATA,
    env,
    load_config,
    make_workdir,
    output,
    snakemake,
    snakemake_cmd,
    tail,
)

pytestmark = pytest.mark.slow

MEASURE = re.compile(r"\b(RR|R|nDCG|P|AP|MRR)@\d+")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the repository")
    wd = make_workdir(tmp_path_factory.mktemp("smoke"), load_config())
    t0 = time.time()
    r = snakemake(wd, "--cores", "2", "--configfile", "test.yaml", timeout=1500)
    assert r.returncode == 0, tail(r)
    print(f"smoke DAG: {time.time() - t0:.0f} s")
    return wd


def _metric_columns(df: pd.DataFrame) -> list[str]:
    """Columns holding a metric value (mean, std, paper value, difference), not its count or marker."""
    return [c for c in df.columns if MEASURE.search(str(c)) and str(c).split()[-1] not in ("n", "marker")]


def test_smoke_dag_every_table_exists_parses_and_is_in_range(smoke):
    tables = smoke / "results" / "tables"
    for name in ("retrieval", "reranking"):
        for ext in ("csv", "md", "tex"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
    csvs = sorted(tables.glob("*.csv"))
    checked = 0
    for path in csvs:
        df = pd.read_csv(path)
        assert len(df) > 0, path.name
        for col in _metric_columns(df):
            lo = -1.0 if re.search(r"(diff|Δ|delta)", col) else 0.0  # differences of two values in [0, 1]
            vals = [v for v in pd.to_numeric(df[col], errors="coerce") if not math.isnan(v)]
            assert all(lo <= v <= 1.0 for v in vals), (path.name, col, vals)
            checked += len(vals)
    assert checked > 0
    for name in ("retrieval", "reranking"):
        rows = set(pd.read_csv(tables / f"{name}.csv").iloc[:, 0])
        assert {"BM25", "Zero-shot backbone", "full", "lora"} <= rows, (name, rows)
    for md in tables.glob("*.md"):
        assert md.read_text().count("|") > 4, md.name
    for fig in (smoke / "results" / "figures").glob("*"):
        assert fig.stat().st_size > 0, fig.name
    # every metrics file of every system is in [0, 1]
    for f in (smoke / "results").glob("*/*/*/s*/metrics/*.json"):
        assert all(0.0 <= v <= 1.0 for v in read_json(f)["aggregate"].values()), f


def test_verify_against_expected_smoke_scores(smoke):
    r = snakemake(smoke, "verify", "--cores", "1", "--configfile", "test.yaml")  # targets before --configfile
    hint = ("\nA number moved. If the change is intended, regenerate the expected file deliberately: "
            "snakemake expected_scores --configfile config/smoke.yaml; cp results/verify/expected.yaml "
            "expected/smoke.yaml")
    assert r.returncode == 0, tail(r, 120) + hint
    report = read_json(smoke / "results" / "verify" / "verify.json")
    statuses = [row["status"] for row in report["rows"]]
    assert statuses and not [s for s in statuses if s.startswith("FAIL")]
    assert "NEW" not in statuses, "expected/smoke.yaml lacks numbers: regenerate it (see verify.smk)"
    log = (smoke / "logs/verify/verify.log").read_text()
    assert re.search(r"\d+ OK, \d+ within tolerance, 0 FAIL, 0 NEW", log), log[-2000:]


def test_report_has_every_category_and_renders(smoke, tmp_path):
    """The HTML report of the smoke run: every issue-5 category present, and it renders (not blank)."""
    from test_report import _dump_dom, _open_result, assert_not_blank, needs_chromium_reason, screenshot

    r = snakemake(smoke, "--cores", "1", "--configfile", "test.yaml", "--report", "results/report.html")
    assert r.returncode == 0, tail(r)
    report = smoke / "results" / "report.html"
    text = report.read_text(encoding="utf-8", errors="replace")
    categories = ("Tables", "Convergence", "Loss landscapes", "Update-direction discrepancy", "Figure 3", "Answers")
    for category in (*categories, "Index"):
        assert category in text, f"report has no {category!r} category"
    for name in ("retrieval.html", "reranking.html", "conditions.html"):  # rendered tables, not download links
        assert re.search(rf'"results/[^"]*/{name}": \{{', text), f"{name} is not in the report"
    assert "Where things are" in text  # the landing page (workflow/report/workflow.rst)
    backbone = load_config()["backbone"]["name"]
    assert backbone in text  # captions name the backbone that ran (the smoke run's tiny one)
    if needs_chromium_reason():
        pytest.skip(needs_chromium_reason())
    assert_not_blank(screenshot(report, tmp_path / "report.png"))
    assert "Where things are" in _dump_dom(report)  # the landing page is drawn
    for name, rows in (("retrieval.html", ("BM25", "Zero-shot backbone", "lora")), ("conditions.html", ("snakemake",))):
        (tmp_path / name).write_text(_open_result(report, name, tmp_path / f"open_{name}"))
        dom = _dump_dom(tmp_path / name)  # the table as the report's viewer shows it
        assert 'class="sortable"' in dom and all(r in dom for r in rows), dom[-3000:]


def test_export_all_systems_of_the_smoke_run(smoke):
    """`snakemake export_all`: every trained system gets a sentence-transformers directory with its card."""
    r = snakemake(smoke, "export_all", "--cores", "2", "--configfile", "test.yaml")
    assert r.returncode == 0, tail(r)
    exported = sorted(p.parent for p in (smoke / "results" / "export").glob("*/*/*/s*/sentence-transformers"))
    assert exported, tail(r)
    for d in exported:
        card = (d / "sentence-transformers" / "README.md").read_text()
        assert "config hash" in card and "Metrics reached" in card and "(no metrics" not in card
        assert (d / "sentence-transformers" / "modules.json").exists()
    r = snakemake(smoke, "export_all", "--cores", "1", "--configfile", "test.yaml")
    assert "Nothing to be done" in output(r), tail(r)


def test_noop_rerun_does_nothing(smoke):
    r = snakemake(smoke, "--cores", "1", "--configfile", "test.yaml")
    assert r.returncode == 0, tail(r)
    assert "Nothing to be done" in output(r), tail(r)


SHIPPED = [REPO / "config.yaml", *sorted((REPO / "config").glob("*.yaml"))]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.relative_to(REPO).as_posix() for p in SHIPPED])
def test_dry_run_every_shipped_config(tmp_path, path):
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the repository")
    wd = make_workdir(tmp_path)  # the profile as a user runs it: an overlay on config.yaml
    r = snakemake(wd, "-n", "--configfile", str(path), "--config", f"data_root={SHARED_DATA}", timeout=600)
    out = output(r)
    if r.returncode != 0 and "not in the Hugging Face cache" in out:
        pytest.skip(f"{path.name}: its backbone is not available offline")
    assert r.returncode == 0, tail(r)
    assert "This was a dry-run" in out or "Nothing to be done" in out, tail(r)


def test_single_stage_config_plans_no_analysis_of_the_other_stage(tmp_path):
    """Cross-encoders only (as config/rerank100.yaml): no retriever convergence job, whose input list would be
    empty (it failed at run time, `--curves` with no argument, before STAGES counted trained systems)."""
    c = load_config()
    for m in c["methods"].values():
        m["stages"] = ["reranker"]
    c["analysis"]["landscape"]["enabled"] = False
    c["analysis"]["discrepancy"]["enabled"] = False
    wd = make_workdir(tmp_path, c)
    r = snakemake(wd, "-n", "--configfile", "test.yaml", timeout=600)
    out = output(r)
    assert r.returncode == 0, tail(r)
    assert "convergence.reranker" in out and "train_reranker" in out, tail(r)
    assert "convergence.retriever" not in out and "train_retriever" not in out, tail(r)


def test_every_planned_command_parses_with_the_analyses_off(tmp_path):
    """Each `python -m peftir` command of the smoke DAG, with the optional analyses off, is accepted by the
    CLI's own parser. With the probe off its settings are empty, and `--probe-json ''` once reached the shell
    as `--probe-json --probe-out ...` (argparse: expected one argument): every retriever failed at run time."""
    from peftir.cli import build_parser

    c = load_config()
    for part in ("landscape", "discrepancy", "figure3"):
        c["analysis"][part]["enabled"] = False
    wd = make_workdir(tmp_path, c)
    r = snakemake(wd, "-n", "-p", "--configfile", "test.yaml", "--config", f"data_root={SHARED_DATA}",
                  timeout=600)
    assert r.returncode == 0, tail(r)
    cmds = [ln[ln.index("python -m peftir "):] for ln in output(r).splitlines() if "python -m peftir " in ln]
    assert any(" train-retriever " in c for c in cmds), tail(r)
    parser = build_parser()
    for cmd in cmds:
        argv = shlex.split(cmd.split(" > ")[0])[3:]
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"the CLI refuses a planned command: {cmd[:300]}")


# --- resume after SIGKILL ---------------------------------------------------------------------------------

SYSTEM = "results/retriever/lora/small/s1"
TARGETS = [f"{SYSTEM}/runs/debian.dev.run", f"{SYSTEM}/metrics/debian.dev.json", f"{SYSTEM}/curve.jsonl"]
STEPS, CKPT_EVERY, KILL_AT = 60, 10, 30  # kill at the first checkpoint at or past half way
UPSTREAM = ["results/data", "results/bm25", "results/retriever/bm25", "results/train", ".snakemake/metadata"]


def _resume_workdir(path: Path, smoke: Path) -> Path:
    """The smoke config with a longer training (so the job lives a few seconds), and the smoke run's data,
    BM25 and triples copied in (with their times and Snakemake metadata: only the lora chain runs)."""
    c = load_config()
    c["retriever"].update(steps=STEPS, ckpt_every=CKPT_EVERY, eval_every=20)
    wd = make_workdir(path, c)
    for item in UPSTREAM:
        shutil.copytree(smoke / item, wd / item, symlinks=True)
    return wd


def _train_process(wd: Path):
    import psutil

    for p in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if "train-retriever" in (p.info["cmdline"] or []) and Path(p.info["cwd"] or "/") == wd.resolve():
                return p
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def _checkpoint_step(path: Path) -> int:
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["step"])
    except (OSError, EOFError, RuntimeError, KeyError):  # replaced while being read: try again
        return -1


TIMING_KEYS = {"wall_time_s", "started", "peak_rss_mb", "train_time_s", "tokens_per_s", "s_per_step", "git",
               "elapsed_s", "time_s", "seconds"}


def _untimed(obj):
    """A JSON document less the fields that measure time, memory or the checkout (they differ between runs)."""
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def test_resume_after_sigkill_equals_uninterrupted_run(smoke, tmp_path):
    pytest.importorskip("psutil")
    killed_wd = _resume_workdir(tmp_path / "killed", smoke)
    ref_wd = _resume_workdir(tmp_path / "reference", smoke)
    args = (*TARGETS, "--cores", "1", "--configfile", "test.yaml")
    ref = subprocess.Popen(snakemake_cmd(*args), cwd=ref_wd, env=env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    first = subprocess.Popen(snakemake_cmd(*args), cwd=killed_wd, env=env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    ckpt = killed_wd / "checkpoints/retriever/lora/small/s1/checkpoint.pt"
    try:
        deadline, step, mtime = time.time() + 600, -1, None
        while time.time() < deadline and first.poll() is None:
            if ckpt.exists() and ckpt.stat().st_mtime_ns != mtime:
                mtime = ckpt.stat().st_mtime_ns
                step = _checkpoint_step(ckpt)
                if step >= KILL_AT:
                    break
            time.sleep(0.02)
        proc = _train_process(killed_wd)
        assert proc is not None, f"training ended before it could be killed (checkpoint step {step})"
        proc.send_signal(signal.SIGKILL)
        first_out = first.communicate(timeout=300)[0]
    finally:
        for p in (first,):
            if p.poll() is None:  # pragma: no cover
                p.kill()
    assert first.returncode != 0, first_out[-3000:]
    # nothing a rerun would take as complete; the checkpoint survives outside Snakemake's outputs
    assert not (killed_wd / SYSTEM / "model").exists() and not (killed_wd / SYSTEM / "curve.jsonl").exists()
    assert ckpt.exists()
    killed_at = _checkpoint_step(ckpt)
    assert KILL_AT <= killed_at < STEPS

    rerun = snakemake(killed_wd, *args)  # the same command
    assert rerun.returncode == 0, tail(rerun)
    log = (killed_wd / "logs/retriever/lora/small/s1/train.log").read_text()
    m = re.search(r"resumed from (\S+) at step (\d+)", log)
    assert m, log[-2000:]
    resumed_at = int(m[2])
    assert resumed_at == killed_at
    assert not ckpt.exists()  # removed once the model is written

    ref_out = ref.communicate(timeout=900)[0]
    assert ref.returncode == 0, ref_out[-3000:]
    assert "resumed from" not in (ref_wd / "logs/retriever/lora/small/s1/train.log").read_text()
    # identical results (CPU): curve (loss, lr, grad norm, dev metric at every step), run file, metrics
    assert read_jsonl(killed_wd / TARGETS[2]) == read_jsonl(ref_wd / TARGETS[2])
    assert len(read_jsonl(ref_wd / TARGETS[2])) >= STEPS
    assert read_run(killed_wd / TARGETS[0]) == read_run(ref_wd / TARGETS[0])
    a, b = read_json(killed_wd / TARGETS[1]), read_json(ref_wd / TARGETS[1])
    assert a["aggregate"] == b["aggregate"] and a["per_query"] == b["per_query"]
    # every file the job and its successors wrote: byte for byte, or field for field less timings
    files = sorted(p.relative_to(ref_wd / SYSTEM) for p in (ref_wd / SYSTEM).rglob("*") if p.is_file())
    assert sorted(p.relative_to(killed_wd / SYSTEM) for p in (killed_wd / SYSTEM).rglob("*") if p.is_file()) == files
    assert Path("discrepancy.jsonl") in files and len(read_jsonl(ref_wd / SYSTEM / "discrepancy.jsonl")) > 0
    for rel in files:
        x, y = killed_wd / SYSTEM / rel, ref_wd / SYSTEM / rel
        if rel.suffix == ".json":
            assert _untimed(read_json(x)) == _untimed(read_json(y)), rel
        else:
            assert x.read_bytes() == y.read_bytes(), rel
    print(f"{len(files)} files compared; killed at checkpoint step {killed_at} of {STEPS}; resumed at step {resumed_at}; "
          f"metrics {a['aggregate']} identical to the uninterrupted run")
