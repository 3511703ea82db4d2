"""The dress rehearsal of paper scale (issue 15): config/msmarco.yaml + config/rehearsal.yaml (sizes only)
run end to end on CPU over tiny official-format MS MARCO / TREC DL 2019 files read through ir_datasets
(tests/rehearsal/make_data.py, IR_DATASETS_HOME), with the chunked BM25 training search, two encode
shards per corpus and model, and every retriever trained under torchrun with 2 CPU processes (gloo).
All nine methods of msmarco.yaml run, with its sizes, one seed each, but each at ONE of its budgets (the
whole one-seed grid is 16 systems, 418 jobs; this is 9, 261 jobs): full and BitFit (natural); adapter,
LoRA, IAA-S, IAA-L at 0.5%; prefix, MAM, IAA-M at 6.7% - every method's code once, every budget kind once.
Asserts the paper's Tables 2-4 exist with the paper's numbers beside ours."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd
import pytest

from peftir import config as pcfg
from peftir.analysis.tables import PAPER_TABLES
from workflow_testutil import REPO, env, make_workdir, output, snakemake_cmd, tail

sys.path.insert(0, str(REPO / "tests" / "rehearsal"))
import make_data

pytestmark = pytest.mark.slow
CONFIGS = ("config/msmarco.yaml", "config/rehearsal.yaml")


def rehearsal() -> dict:
    return pcfg.load(*(REPO / c for c in CONFIGS))


def test_overlay_changes_only_sizes_and_data_locations():
    """Every key the overlay sets beyond msmarco.yaml is a size, a data location, or (backbone) the scaled-down
    bert-base; the code paths' switches are msmarco.yaml's."""
    base, reh = pcfg.load(REPO / CONFIGS[0]), rehearsal()
    for key in ("datasets", "evaluation", "train", "relevance_threshold", "solve_budgets"):
        assert reh[key] == base[key], key
    assert reh["analysis"]["paper_datasets"] == base["analysis"]["paper_datasets"] != {}
    assert {k: v for k, v in reh["backbone"].items() if k not in ("name", "config")} == \
        {k: v for k, v in base["backbone"].items() if k not in ("name", "config")}
    assert reh["bm25"]["query_chunks"] > 1 and reh["encode"]["n_shards"] > 1 and reh["retriever"]["gpus"] == 2
    # every method of msmarco.yaml, with its rates and sizes; each at one of its budgets, every budget kind run
    assert set(reh["methods"]) == set(base["methods"]) and len(reh["methods"]) == 9
    for name, m in reh["methods"].items():
        assert {k: v for k, v in m.items() if k != "budgets"} == \
            {k: v for k, v in base["methods"][name].items() if k != "budgets"}, name
        assert len(m["budgets"]) == 1 and set(m["budgets"]) <= set(base["methods"][name]["budgets"]), name
    assert {b for m in reh["methods"].values() for b in m["budgets"]} == {"natural", "small", "large"}
    pcfg.validate(reh, REPO)


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory):
    wd = make_workdir(tmp_path_factory.mktemp("rehearsal"))
    counts = make_data.make(wd / "irds")
    e = env()
    e["IR_DATASETS_HOME"] = str(wd / "irds")  # ir_datasets reads the tiny files; nothing is downloaded
    t0 = time.monotonic()
    r = subprocess.run(snakemake_cmd("--cores", "2", "--configfile", *CONFIGS), cwd=wd, env=e, capture_output=True,
                       text=True, timeout=3600, check=False)
    wall = time.monotonic() - t0
    assert r.returncode == 0, tail(r, 120)
    jobs = output(r).count("Finished jobid")
    print(f"rehearsal: {jobs} jobs in {wall:.0f} s; data {counts}")
    return wd, output(r), counts


def test_every_code_path_ran(rehearsed):
    wd, log, counts = rehearsed
    cfg = rehearsal()
    # the ir_datasets route: both collections converted from the tiny official files
    for ds, ids in (("msmarco-passage", cfg["datasets"]["msmarco-passage"]["ir_datasets"]),
                    ("msmarco-doc", cfg["datasets"]["msmarco-doc"]["ir_datasets"])):
        rep = json.loads((wd / "data" / ds / "report.json").read_text())
        assert rep["ir_datasets"] == ids
    # TREC DL 2019: the judged topics only (trec-dl-2019/judged), their graded qrels 0-3 kept as grades
    dl = wd / "data" / "msmarco-passage"
    assert len((dl / "queries.dl19.tsv").read_text().splitlines()) == counts["dl19_judged"]
    assert {line.split("\t")[-1] for line in (dl / "qrels.dl19.tsv").read_text().splitlines()} == {"0", "1", "2", "3"}
    # the chunked BM25 search of the training queries, several encode shards per corpus and model
    assert log.count("rule bm25_search_chunk:") == cfg["bm25"]["query_chunks"] == 2
    # every retriever trained under torchrun: 2 CPU processes
    infos = sorted((wd / "results" / "retriever").glob("*/*/s*/run_info.json"))
    assert len(infos) == 9   # the nine methods, one budget and one seed each
    assert {i.parent.parent.parent.name for i in infos} == set(cfg["methods"])
    # two shards x two corpora x (zero-shot + each trained retriever)
    assert log.count("rule encode_shard:") == cfg["encode"]["n_shards"] * 2 * (1 + len(infos)) == 40
    for info in infos:
        d = json.loads(info.read_text())
        assert d["stats"]["world_size"] == 2 and d["machine"]["device"] == "cpu", info


@pytest.mark.parametrize("table", ["table2", "table3", "table4"])
def test_paper_tables_have_the_papers_numbers_beside_ours(rehearsed, table):
    """Each paper table in every format; in the CSV, full fine-tuning's row holds the paper's Full fine-tuning
    number (PAPER_TABLES, parsed from the paper's text) beside ours for every column the paper reports, and
    the difference ours - paper."""
    wd = rehearsed[0]
    for ext in ("html", "csv", "md", "tex"):
        assert (wd / "results" / "tables" / f"{table}.{ext}").stat().st_size > 0
    df = pd.read_csv(wd / "results" / "tables" / f"{table}.csv")
    full = df[df["method"] == "full"].iloc[0]
    paper = PAPER_TABLES[table]["Full fine-tuning"]
    to_paper = rehearsal()["analysis"]["paper_datasets"]
    checked = 0
    for col in (c.removesuffix(" mean") for c in df.columns if c.endswith(" mean")):
        ds_split, measure = col.split("/")
        ref = paper.get(f"{to_paper[ds_split]}/{measure}")
        if ref is None:
            assert pd.isna(full.get(f"{col} paper")), col
            continue
        assert 0 <= full[f"{col} mean"] <= 1
        assert full[f"{col} paper"] == pytest.approx(ref), col
        assert full[f"{col} diff"] == pytest.approx(full[f"{col} mean"] - ref), col
        checked += 1
    assert checked == 8   # the paper's eight columns (Table 3: two of them per dataset are ours too)
    if table == "table4":
        assert {"Best PET", "iaa-l"} <= set(df["method"])
