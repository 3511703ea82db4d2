"""Paper scale (config/msmarco.yaml, profiles/, envs/): the full DAG dry-runs offline, the SLURM profile
parses and names real rules, the environments are pinned, converted datasets run the right subcommand,
and the chunked BM25 search of the training queries equals one search."""

import copy
import re
import subprocess

import pytest
import yaml

from peftir import config as pcfg
from peftir.chunks import concat_runs, split_queries
from peftir.data.trec import write_run
from workflow_testutil import REPO, config_yaml, env, make_workdir, output, snakemake_cmd

MSMARCO = REPO / "config" / "msmarco.yaml"
GPU_RULES = ("train_retriever", "train_reranker", "encode_shard", "rerank")


def msmarco() -> dict:
    return pcfg.load(MSMARCO)


def job_stats(text: str) -> dict[str, int]:
    """The `Job stats` table of a dry run -> {rule: count} (plus 'total')."""
    block = text.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.MULTILINE)}


def dry(wd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd("-n", *args), cwd=wd, env=env(), check=False, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """`snakemake -n -p --configfile config/msmarco.yaml` in a scratch work directory (offline)."""
    wd = make_workdir(tmp_path_factory.mktemp("msmarco"))
    r = dry(wd, "-p", "--configfile", "config/msmarco.yaml")
    assert r.returncode == 0, output(r)[-3000:]
    return output(r)


# --- the config ---------------------------------------------------------------------------------------


def test_msmarco_config_is_valid_offline():
    """bert-base-uncased is not downloaded here: the declared architecture sizes the methods."""
    cfg = pcfg.validate(msmarco(), REPO)
    with pytest.raises(ValueError, match="backbone.name"):  # without it the check needs the checkpoint
        c = copy.deepcopy(cfg)
        del c["backbone"]["config"]
        pcfg.backbone_cfg(c)


@pytest.mark.parametrize("run,budget,sizes,pct", [
    ("adapter", "small", {"r": 16}, 0.556), ("adapter", "large", {"r": 200}, 6.755),
    ("prefix", "small", {"l": 32}, 0.539), ("prefix", "large", {"l": 200}, 3.367),
    ("mam", "large", {"r": 200, "l": 200}, 6.745), ("lora", "small", {"r": 16}, 0.539),
    ("iaa-s", "small", {"r": 8, "ar": 8}, 0.573), ("iaa-l", "large", {"r": 50, "ar": 300}, 6.764),
    ("iaa-m", "small", {"r": 15, "ar": 24}, 0.557), ("iaa-m", "large", {"r": 185, "ar": 960}, 7.598),
    ("bitfit", "natural", {}, 0.093)])
def test_paper_sizes_are_used_as_given(run, budget, sizes, pct):
    """solve_budgets: false keeps Tables 2/4's sizes on bert-base (the solver would pick r=14 for 0.5%)."""
    from peftir.models.factory import resolve_method

    cfg = msmarco()
    params, achieved = resolve_method(pcfg.method_spec(cfg, run, budget), pcfg.backbone_cfg(cfg))
    assert {k: params[k] for k in sizes} == sizes
    assert achieved == pytest.approx(pct, abs=5e-4)


def test_paper_hyper_parameters_and_seeds():
    cfg = msmarco()
    hp = cfg["retriever"]
    assert (hp["batch_size"], 1 + hp["n_neg"], hp["q_len"], hp["p_len"]) == (8, 8, 32, 128)
    assert hp["steps"] == -(-3 * 502_939 // 8)  # 3 epochs
    assert cfg["methods"]["full"]["lr"] == 5e-6
    assert cfg["backbone"]["pooling"] == "cls" and cfg["backbone"]["normalize"] is False
    grid = pcfg.grid(cfg)
    seeds = {(r, b): sorted(s for r2, b2, s in grid if (r2, b2) == (r, b)) for r, b, _ in grid}
    assert seeds[("iaa-l", "small")] == seeds[("full", "natural")] == [1, 2, 3]
    assert seeds[("iaa-l", "large")] == [1]
    assert len(grid) == 2 * 3 + 7 * 3 + 7  # natural and small x 3 seeds, large x 1


def test_config_errors_name_the_key():
    cfg = msmarco()
    cfg["datasets"]["msmarco-doc"]["ir_datasets"].pop("dl19")
    cfg["bm25"]["prebuilt"] = {"msmarco": "msmarco-v1-passage"}
    cfg["budget_seeds"]["tiny"] = [1]
    cfg["retriever"]["gpus"] = 3
    errs = "\n".join(pcfg.semantic_errors(cfg, REPO))
    assert "retriever.batch_size: 8 queries cannot be split over gpus=3" in errs
    assert "datasets.msmarco-doc.ir_datasets: no id for split(s) ['dl19']" in errs
    assert "bm25.prebuilt: unknown dataset 'msmarco'" in errs
    assert "budget_seeds: unknown budget 'tiny'" in errs


def test_declared_backbone_must_match_the_checkpoint():
    from peftir.models.backbone import check_declared_backbone, tiny_config

    check_declared_backbone(tiny_config("tiny:2x32"), {"hidden_size": 32, "num_hidden_layers": 2})
    with pytest.raises(ValueError, match="hidden_size"):
        check_declared_backbone(tiny_config("tiny:2x32"), {"hidden_size": 768})


# --- converted datasets -------------------------------------------------------------------------------


def _parse(cmd: str):
    from peftir.cli import build_parser

    return build_parser().parse_args([*cmd, "--out", "x"])


def test_convert_command_ir_datasets():
    cmd, inputs = pcfg.convert_command(msmarco(), "msmarco-passage")
    a = _parse(cmd)
    assert a.command == "from-ir-datasets" and inputs == []
    assert a.dataset == ["train=msmarco-passage/train/judged", "dev=msmarco-passage/dev/small",
                         "dl19=msmarco-passage/trec-dl-2019/judged"]


def test_convert_command_official_files():
    cfg = msmarco()
    cfg["data_root"] = "/data"
    cfg["datasets"]["msmarco-passage"] = {
        "root": "{data_root}/pas", "format": "msmarco-passage", "splits": ["train", "dev"], "judged_only": True,
        "files": {"collection": "{data_root}/collection.tsv",
                  "queries": {"train": "{data_root}/queries.train.tsv", "dev": "{data_root}/q dev.tsv"},
                  "qrels": {"train": "{data_root}/qrels.train.tsv"}}}
    cmd, inputs = pcfg.convert_command(cfg, "msmarco-passage")
    a = _parse(cmd)
    assert (a.command, a.kind, a.judged_only, a.collection) == ("convert-msmarco", "passage", True,
                                                                "/data/collection.tsv")
    assert a.queries == ["train=/data/queries.train.tsv", "dev=/data/q dev.tsv"]
    assert a.qrels == ["train=/data/qrels.train.tsv"]
    assert inputs == ["/data/collection.tsv", "/data/queries.train.tsv", "/data/q dev.tsv", "/data/qrels.train.tsv"]
    assert pcfg.convert_command(pcfg.load_yaml(REPO / "config.yaml"), "debian") is None


# --- the DAG ------------------------------------------------------------------------------------------


def test_msmarco_dry_run_lists_the_whole_grid(dry_run):
    stats = job_stats(dry_run)
    cfg = msmarco()
    systems = len(pcfg.grid(cfg))  # 34 trained bi-encoders
    n_shards, corpora = cfg["encode"]["n_shards"], len(cfg["datasets"])
    assert stats["train_retriever"] == systems == 34
    assert stats["encode_shard"] == (systems + 1) * corpora * n_shards  # + the zero-shot backbone
    assert stats["dense_search"] == (systems + 1) * len(cfg["evaluation"])
    assert stats["bm25_search_chunk"] == cfg["bm25"]["query_chunks"] and stats["bm25_concat_chunks"] == 1
    assert stats["bm25_index"] == corpora and stats["bm25_search"] == len(cfg["evaluation"])
    assert stats["convert_data_msmarco_passage"] == stats["convert_data_msmarco_doc"] == 1
    assert stats["total"] >= 1500
    print(f"msmarco dry run: {stats['total']} jobs")


def test_msmarco_dry_run_commands(dry_run):
    """Per-evaluation relevance threshold, FirstP length, query chunks and the ir_datasets conversion."""
    cmds = [ln.strip() for ln in dry_run.splitlines() if "python -m peftir" in ln]
    ev = {m[1]: m[2] for c in cmds for m in [re.search(r"evaluate --run \S*/retriever/full/natural/s1/runs/"
                                                       r"(\S+)\.run.* --rel (\d+)", c)] if m}
    assert ev == {"msmarco-passage.dev": "1", "msmarco-passage.dl19": "2", "msmarco-doc.dev": "1",
                  "msmarco-doc.dl19": "1"}
    enc = [c for c in cmds if " encode " in c and "shard0.npz" in c and "/full/natural/s1/" in c]
    assert {re.search(r"--p-len (\d+)", c)[1] for c in enc} == {"128", "512"}
    assert any("from-ir-datasets --dataset train=msmarco-passage/train/judged" in c for c in cmds)
    assert any("split-queries" in c and "queries.train.15.tsv" in c for c in cmds)


def test_prebuilt_bm25_index_replaces_indexing(tmp_path):
    cfg = msmarco()
    cfg["bm25"]["prebuilt"] = {"msmarco-passage": "msmarco-v1-passage", "msmarco-doc": "msmarco-v1-doc"}
    cfg["budget_seeds"] = {}
    wd = make_workdir(tmp_path)
    (wd / "pre.yaml").write_text(config_yaml(cfg))
    r = dry(wd, "-p", "--configfile", "pre.yaml", "--until", "bm25_search", "bm25_search_chunk")
    out = output(r)
    assert r.returncode == 0, out[-3000:]
    assert "bm25_index" not in job_stats(out)
    assert "bm25-search --prebuilt msmarco-v1-passage" in out and "--prebuilt msmarco-v1-doc" in out


# --- profiles and environments ------------------------------------------------------------------------


def test_slurm_profile_keys(dry_run):
    p = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert p["executor"] == "slurm" and p["jobs"] == 100 and "use-conda" not in p  # --sdm conda: command line
    assert {"slurm_partition", "slurm_account", "mem_mb", "runtime", "cpus_per_task"} <= set(p["default-resources"])
    for rule in GPU_RULES:
        assert p["set-resources"][rule]["slurm_partition"] == "<gpu-partition>", rule
    rules = set(job_stats(dry_run))
    assert set(p["set-resources"]) <= rules, set(p["set-resources"]) - rules  # no typo in a rule name
    local = yaml.safe_load((REPO / "profiles" / "local" / "config.yaml").read_text())
    assert local["use-conda"] is False and local["cores"] == "all"


def test_slurm_profile_dry_run(tmp_path):
    """`snakemake -n --profile profiles/slurm` with the executor plugin (conda or not: tests/test_slurm_profile.py)."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    wd = make_workdir(tmp_path)
    r = dry(wd, "--profile", "profiles/slurm", "--configfile", "config/msmarco.yaml")
    out = output(r)
    assert r.returncode == 0, out[-3000:]
    assert job_stats(out)["train_retriever"] == 34


def test_cheap_steps_are_local_rules(dry_run):
    block = re.search(r"^localrules:\n((?:    \w+,\n)+)", (REPO / "Snakefile").read_text(), re.MULTILINE)
    local = set(re.findall(r"(\w+),", block[1]))
    assert {"all", "evaluate", "tables", "tables_reranking"} <= local
    assert not local & set(GPU_RULES)
    assert local - {"bm25_split_queries", "export_all"} <= set(job_stats(dry_run))  # export_all: not in `all`


def test_environments_are_pinned():
    for path in sorted((REPO / "envs").glob("*.yaml")):
        env_ = yaml.safe_load(path.read_text())
        assert env_["name"].startswith("peftir-") and "conda-forge" in env_["channels"], path
        deps = env_["dependencies"]
        assert "python=3.11" in deps, path
        pip = next(d["pip"] for d in deps if isinstance(d, dict))
        unpinned = [d for d in pip if "==" not in d]
        assert not unpinned, f"{path.name}: unpinned {unpinned}"
        assert (path.with_suffix("").with_suffix(".post-deploy.sh")).exists(), path  # installs peftir itself
        assert not any(d.startswith("-e") for d in pip), path  # relative to Snakemake's copy: broken
    assert "openjdk=21" in yaml.safe_load((REPO / "envs" / "pyserini.yaml").read_text())["dependencies"]


# --- chunked BM25 search ------------------------------------------------------------------------------


def _queries(path, qids):
    path.write_text("".join(f"{q}\tquery {q}\n" for q in qids))


def test_split_and_concat_equal_one_run(tmp_path):
    """Chunks of sorted ids, each run written alone, concatenated: the bytes of the one-run file."""
    import random

    qids = [str(random.Random(1).randrange(10**6)) for _ in range(103)]
    qids = list(dict.fromkeys(qids))
    _queries(tmp_path / "q.tsv", qids)
    rng = random.Random(2)
    run = {q: {f"d{rng.randrange(500)}": rng.random() for _ in range(7)} for q in qids}
    write_run(run, tmp_path / "whole.run", tag="bm25")
    outs = [tmp_path / f"q.{i}.tsv" for i in range(4)]
    assert sum(split_queries(tmp_path / "q.tsv", outs)) == len(qids)
    parts = []
    for i, o in enumerate(outs):
        chunk = [line.split("\t")[0] for line in o.read_text().splitlines()]
        write_run({q: run[q] for q in chunk}, tmp_path / f"{i}.run", tag="bm25")
        parts.append(tmp_path / f"{i}.run")
    assert concat_runs(parts, tmp_path / "merged.run") == len(qids)
    assert (tmp_path / "merged.run").read_bytes() == (tmp_path / "whole.run").read_bytes()


def test_concat_rejects_a_query_in_two_chunks(tmp_path):
    from peftir.data.collections import DataError

    for name in ("a.run", "b.run"):
        (tmp_path / name).write_text("q1 Q0 d1 1 1.000000 bm25\n")
    with pytest.raises(DataError, match="also in an earlier chunk"):
        concat_runs([tmp_path / "a.run", tmp_path / "b.run"], tmp_path / "out.run")


@pytest.mark.java
def test_chunked_bm25_search_equals_one_search(tmp_path):
    """Real pyserini: the training split searched in 3 query chunks == searched at once, byte for byte."""
    import gzip
    import json

    from peftir.bm25 import index_corpus, search

    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "omega"]
    with gzip.open(tmp_path / "corpus.jsonl.gz", "wt") as f:
        for i in range(40):
            f.write(json.dumps({"_id": f"d{i:02d}", "title": "", "text": " ".join(words[j % 12] for j in
                                                                                   range(i, i + 2 + i % 5))}) + "\n")
    index_corpus(tmp_path / "corpus.jsonl.gz", tmp_path / "index")
    queries = {f"q{i}": f"{words[i % 12]} {words[(3 * i) % 12]}" for i in range(11)}
    (tmp_path / "q.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in queries.items()))
    write_run(search(tmp_path / "index", queries, k=10), tmp_path / "whole.run", tag="bm25")
    outs = [tmp_path / f"c{i}.tsv" for i in range(3)]
    split_queries(tmp_path / "q.tsv", outs)
    parts = []
    for i, o in enumerate(outs):
        chunk = dict(line.split("\t") for line in o.read_text().splitlines())
        write_run(search(tmp_path / "index", chunk, k=10), tmp_path / f"c{i}.run", tag="bm25")
        parts.append(tmp_path / f"c{i}.run")
    concat_runs(parts, tmp_path / "merged.run")
    assert (tmp_path / "merged.run").read_bytes() == (tmp_path / "whole.run").read_bytes()


def test_msmarco_tables_set_the_papers_numbers_beside_every_column():
    """Regression (dress rehearsal, issue 15): msmarco.yaml mapped no dataset onto the paper's, so only the
    MS MARCO passage dev columns (whose name happens to be the paper's) had the paper's numbers beside
    ours; TREC DL 2019 passage and both document columns had none. Each column now has its paper value."""
    from peftir.analysis.results import _paper, columns
    from peftir.analysis.tables import PAPER_TABLES

    cfg = msmarco()
    cols = columns(cfg["evaluation"])
    ref = _paper(["table2"], cols, cfg["analysis"]["paper_datasets"])
    full = ref["Full fine-tuning"]
    assert set(full) == set(cols)
    assert full["msmarco-passage.dl19/nDCG@10"] == PAPER_TABLES["table2"]["Full fine-tuning"][
        "trec-dl-2019-passage/nDCG@10"] == 0.600
    assert full["msmarco-doc.dev/RR@100"] == 0.312 and full["msmarco-doc.dl19/R@100"] == 0.409
