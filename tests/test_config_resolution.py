"""One resolved configuration (issue 14): config.yaml is always the base, `--configfile` profiles and
`--config key=value` are overlays on it (maps merge, lists replace, null removes, `_replace` replaces a
map); unknown keys are refused at every level; every default exists once (no `.get(key, <literal>)` on
configuration in rules, captions or command modules)."""

from __future__ import annotations

import ast
import json
import re
import shlex

import pytest
import yaml

from peftir import config as pcfg
from peftir.cli import SUBCOMMAND_MODULES, main
from peftir.train import TrainConfig
from workflow_testutil import REPO, SHARED_DATA, make_workdir, output, snakemake, tail

BASE = yaml.safe_load((REPO / "config.yaml").read_text())
needs_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not beside the repository")


# --- overlay semantics (hand-worked) ----------------------------------------------------------------------


def test_maps_merge_recursively_lists_and_scalars_replace():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2, 3], "s": "keep"}
    over = {"a": {"y": {"q": 9}, "z": 0}, "l": [7]}
    assert pcfg.overlay(base, over) == {"a": {"x": 1, "y": {"p": 1, "q": 9}, "z": 0}, "l": [7], "s": "keep"}
    assert base == {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2, 3], "s": "keep"}  # not modified


def test_a_list_of_maps_is_replaced_not_merged_by_position():
    base = {"evaluation": [{"dataset": "d", "split": "dev", "measures": ["RR@10"]}, {"dataset": "d", "split": "test"}]}
    over = {"evaluation": [{"dataset": "e", "split": "dev"}]}
    assert pcfg.overlay(base, over) == {"evaluation": [{"dataset": "e", "split": "dev"}]}


def test_null_removes_a_key_and_replace_swaps_a_whole_map():
    base = {"methods": {"full": {"lr": 1}, "lora": {"lr": 2, "params": {"r": 16}}}, "expected": "e.yaml"}
    assert pcfg.overlay(base, {"expected": None, "methods": {"full": None}}) == {"methods": {"lora": base["methods"]["lora"]}}
    replaced = pcfg.overlay(base, {"methods": {"_replace": True, "lora": {"lr": 5}}})
    assert replaced == {"methods": {"lora": {"lr": 5}}, "expected": "e.yaml"}  # no params: not merged
    assert pcfg.overlay(base, {"_replace": True, "x": 1}) == {"x": 1}  # a complete file of its own
    with pytest.raises(pcfg.ConfigError, match=r"methods\._replace: must be true or false"):
        pcfg.overlay(base, {"methods": {"_replace": "yes"}})


def test_overlays_apply_in_order_then_overrides(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("retriever: {steps: 5, batch_size: 2}\nseeds: [1, 2]\n")
    b.write_text("retriever: {steps: 6}\n")
    c = pcfg.resolve([a, b], {"threads": 3})
    assert c["retriever"]["steps"] == 6 and c["retriever"]["batch_size"] == 2 and c["seeds"] == [1, 2]
    assert c["threads"] == 3
    assert c["retriever"]["q_len"] == BASE["retriever"]["q_len"]  # the rest is the default's
    assert pcfg.resolve() == BASE


# --- the shipped profiles -------------------------------------------------------------------------------


def test_profiles_resolve_to_what_they_state():
    """Values written by hand from each profile's intent (not from the resolver)."""
    quick = pcfg.load(REPO / "config" / "quick.yaml")
    assert sorted(quick["methods"]) == ["full", "iaa-l", "lora"]
    assert quick["methods"]["lora"] == {"method": "lora", "params": {"r": 16, "alpha": 32}, "budgets": ["small"],
                                        "lr": 1.0e-3, "reranker_lr": 3.0e-3, "stages": ["retriever"], "seeds": [1],
                                        "reranker_seeds": [1]}
    assert quick["retriever"] == {**BASE["retriever"], "steps": 48, "ckpt_every": 40}
    assert quick["datasets"]["debian"]["sample"] == {"queries": {"train": 1500, "dev": 200, "test": 200}, "max_docs": 4000}
    assert "expected" not in quick and quick["analysis"]["landscape"]["enabled"] is False
    smoke = pcfg.load(REPO / "config" / "smoke.yaml")
    assert smoke["methods"] == {"full": {"method": "full", "budgets": ["natural"], "lr": 1.0e-4},
                                "lora": {"method": "lora", "params": {"r": 16, "alpha": 32}, "budgets": ["small"],
                                         "lr": 1.0e-3}}
    assert "head_lr" not in smoke["reranker"] and smoke["datasets"]["cisi"]["judged_only"] is False
    assert smoke["expected"] == "expected/smoke.yaml"
    msmarco = pcfg.load(REPO / "config" / "msmarco.yaml")
    assert sorted(msmarco["datasets"]) == ["msmarco-doc", "msmarco-passage"]
    assert "reranker_lr" not in msmarco["methods"]["lora"] and "head_lr" not in msmarco["reranker"]
    assert msmarco["bm25"] == {**BASE["bm25"], "threads": 8, "query_chunks": 16}
    r100 = pcfg.load(REPO / "config" / "rerank100.yaml")
    assert r100["methods"]["iaa-l"] == {**BASE["methods"]["iaa-l"], "budgets": ["small"], "stages": ["reranker"]}
    assert r100["rerank"]["depth"] == 100 and r100["reranker"]["steps"] == 384


OVERLAY_ON = {"rehearsal.yaml": ["msmarco.yaml"]}   # run as `--configfile config/msmarco.yaml config/rehearsal.yaml`


@pytest.mark.parametrize("path", sorted((REPO / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_every_profile_is_an_overlay_and_valid(path):
    """A profile states only what it changes: no top-level `_replace`, and no key repeated at the default's value
    outside lists and replaced maps (which must be stated whole)."""
    over = yaml.safe_load(path.read_text())
    assert pcfg.REPLACE not in over
    on = [REPO / "config" / b for b in OVERLAY_ON.get(path.name, [])]   # a profile laid over another one
    base = pcfg.load(*on) if on else BASE

    def repeats(o, b, where=""):
        if not isinstance(o, dict) or not isinstance(b, dict) or o.get(pcfg.REPLACE):
            return []
        return [f"{where}{k}" for k, v in o.items() if k in b and v == b[k] and not isinstance(v, list)] + [
            r for k, v in o.items() if k in b for r in repeats(v, b[k], f"{where}{k}.")]

    assert repeats(over, base) == []
    assert pcfg.schema_errors(pcfg.load(*on, path)) == []


# --- unknown keys at every level ---------------------------------------------------------------------------


def test_schema_refuses_unknown_keys_in_every_fixed_map():
    """Every object of the schema that names its properties refuses others (`additionalProperties: false`)."""
    schema = yaml.safe_load(pcfg.SCHEMA.read_text())
    open_maps = []

    def walk(node, where):
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is not False:
                open_maps.append(where)
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}.{i}")

    walk(schema, "schema")
    assert open_maps == []


@pytest.mark.parametrize("overlay, key", [
    ({"retriever": {"stesp": 3}}, "retriever.stesp"),
    ({"analysis": {"landscape": {"compute": {"grid2d": 3}}}}, "analysis.landscape.compute.grid2d"),
    ({"datasets": {"debian": {"sample": {"max_doc": 5}}}}, "datasets.debian.sample.max_doc"),
    ({"methods": {"lora": {"lrr": 1e-3}}}, "methods.lora.lrr"),
    ({"evaluation": [{"dataset": "debian", "split": "dev", "measures": ["RR@10"], "rell": 2}]}, "evaluation.0.rell"),
])
def test_unknown_nested_key_in_an_overlay_is_refused_naming_it(tmp_path, capsys, overlay, key):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(overlay))
    assert main(["check-config", "--config", str(path)]) == 2
    assert f"{key}: unknown key; allowed here: [" in capsys.readouterr().err


@pytest.mark.parametrize("overlay, message", [
    ({"bm25": {"threads": None}}, "bm25: 'threads' is a required property"),
    ({"analysis": {"landscape": {"compute": {"grid_2d": None}}}},
     "analysis.landscape.compute: 'grid_2d' is a required property"),
    ({"sample_seed": None}, "(top level): 'sample_seed' is a required property"),
])
def test_removing_a_default_is_refused_naming_it(tmp_path, capsys, overlay, message):
    """Rules and commands read every default without a fallback: an overlay may not remove one."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(overlay))
    assert main(["check-config", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_train_config_refuses_unknown_keys():
    assert TrainConfig.from_dict({"steps": 3, "q_len": 8, "n_neg": 2}).steps == 3  # section keys pass
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['stesp'\]"):
        TrainConfig.from_dict({"stesp": 3})


def test_check_config_get_and_print(capsys):
    assert main(["check-config", "--config", str(REPO / "config" / "seeds.yaml"), "--get", "seeds"]) == 0
    assert capsys.readouterr().out.strip() == "[1, 2, 3]"
    assert main(["check-config", "--config", str(REPO / "config" / "seeds.yaml"), "--get", "data_root"]) == 0
    assert capsys.readouterr().out.strip() == BASE["data_root"]


# --- through Snakemake: --configfile and --config on top of the default -------------------------------------


def _shell_commands(out: str) -> list[str]:
    return [ln.strip() for ln in out.splitlines() if "python -m peftir" in ln or "-m peftir " in ln]


def _train_json(cmds: list[str], stage: str, run: str) -> dict:
    for c in cmds:
        if f" train-{stage} " in c and f"/{stage}/{run}/" in c:
            args = shlex.split(c.split(">")[0])
            return json.loads(args[args.index("--train-json") + 1])
    raise AssertionError(f"no train-{stage} job for {run}")


@needs_data
@pytest.mark.slow
def test_configfile_profile_is_laid_over_the_default(tmp_path):
    wd = make_workdir(tmp_path)
    r = snakemake(wd, "-n", "-p", "--configfile", str(REPO / "config" / "quick.yaml"), "--config",
                  f"data_root={SHARED_DATA}", timeout=600)
    assert r.returncode == 0, tail(r)
    cmds = _shell_commands(output(r))
    hp = _train_json(cmds, "retriever", "lora")
    assert hp == {**{k: v for k, v in BASE["retriever"].items() if k != "gpus"}, "steps": 48, "ckpt_every": 40,
                  "lr": 1.0e-3}
    assert not [c for c in cmds if "/bitfit/" in c or "/prefix/" in c]  # removed by the overlay (null)
    assert not [c for c in cmds if " train-reranker " in c and "/lora/" in c]  # stages: [retriever]


@needs_data
@pytest.mark.slow
def test_config_override_alone_works(tmp_path):
    """`snakemake -n --config threads=2`: an override alone is laid over config.yaml (it used to replace it and
    fail with "'data_root' is a required property")."""
    wd = make_workdir(tmp_path)
    (wd / "config.yaml").unlink()
    (wd / "config.yaml").write_text(yaml.safe_dump({**BASE, "data_root": str(SHARED_DATA)}, sort_keys=False))
    r = snakemake(wd, "-n", "-p", "--cores", "4", "--config", "threads=2", timeout=600)  # --cores: else 1 thread
    assert r.returncode == 0, tail(r)
    cmds = _shell_commands(output(r))
    assert [c for c in cmds if " train-retriever " in c and "--threads 2" in c]
    assert not [c for c in cmds if "--threads 1 " in c]


@needs_data
@pytest.mark.slow
def test_unknown_nested_key_stops_snakemake(tmp_path):
    wd = make_workdir(tmp_path)
    (wd / "bad.yaml").write_text("analysis: {landscape: {compute: {grid2d: 3}}}\n")
    r = snakemake(wd, "-n", "--configfile", "bad.yaml", "--config", f"data_root={SHARED_DATA}", timeout=600)
    assert r.returncode != 0
    assert "analysis.landscape.compute.grid2d: unknown key" in output(r)


# --- every default once ---------------------------------------------------------------------------------------


def _schema_keys() -> set[str]:
    keys: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load(pcfg.SCHEMA.read_text()))
    return keys


LITERAL = r"""(?:[-+]?\.?\d|["'\[{(]|True\b|False\b|None\b|true\b|false\b|none\b)"""
GET_LITERAL = re.compile(r"""\.\s*get\s*\(\s*(["'])(?P<key>[\w-]+)\1\s*,\s*""" + LITERAL)
GET_OR_LITERAL = re.compile(r"""\.\s*get\s*\(\s*(["'])(?P<key>[\w-]+)\1\s*\)\s*or\s+""" + LITERAL)
DEFAULT_FILTER = re.compile(r"""\[\s*(["'])(?P<key>[\w-]+)\1\s*\]\s*\|\s*default\s*\(""")  # Jinja


def text_violations(text: str, keys: set[str]) -> list[str]:
    """`.get("key", <literal>)`, `.get("key") or <literal>`, Jinja `["key"] | default(...)` for config keys."""
    return [m.group(0) for rx in (GET_LITERAL, GET_OR_LITERAL, DEFAULT_FILTER) for m in rx.finditer(text)
            if m.group("key") in keys]


def python_violations(source: str, keys: set[str]) -> list[str]:
    """The same in Python, by its syntax tree (spacing, quotes and line breaks cannot hide one)."""
    def is_literal(node):
        try:
            ast.literal_eval(node)
            return True
        except ValueError:
            return False

    def get_key(node):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in keys):
            return node
        return None

    out = []
    for node in ast.walk(ast.parse(source)):
        call = get_key(node)
        if call is not None and len(call.args) == 2 and is_literal(call.args[1]):
            out.append(ast.unparse(call))
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and get_key(node.values[0]) is not None \
                and any(is_literal(v) for v in node.values[1:]):
            out.append(ast.unparse(node))
    return out


# The command modules (the CLI's subcommands) and the modules that run their jobs. peftir.config is not one:
# it is where the per-entry fallbacks live, once (a method's params, a dataset's format, ...).
COMMANDS = sorted({REPO / "src" / (m.replace(".", "/") + ".py") for m in SUBCOMMAND_MODULES}
                  | {REPO / "src" / "peftir" / p for p in ("train_job.py", "inference.py", "analysis/landscape_job.py")})


# Reads of a saved model's model.json (written by the pipeline, older models may lack a field), not of the
# configuration: listed one by one, so that a new `.get(key, literal)` still fails.
MODEL_METADATA = {
    "src/peftir/analysis/landscape_job.py": ("meta.get('normalize', False)", "meta.get('seed', 0)"),
    "src/peftir/rerank.py": ("model.meta.get('train', {})",),
}


def test_no_config_default_in_rules_captions_or_commands():
    keys = _schema_keys()
    found = {}
    for path in [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk"),
                 *(REPO / "workflow" / "report").glob("*.rst")]:
        if v := text_violations(path.read_text(), keys):
            found[path.relative_to(REPO).as_posix()] = v
    for path in COMMANDS:
        if v := python_violations(path.read_text(), keys):
            found[path.relative_to(REPO).as_posix()] = v
    found = {f: [x for x in v if x not in MODEL_METADATA.get(f, ())] for f, v in found.items()}
    found = {f: v for f, v in found.items() if v}
    assert found == {}, "defaults belong in config.yaml (or peftir.config): " + json.dumps(found, indent=1)
    assert len(COMMANDS) > 10 and all(p.is_file() for p in COMMANDS)


@pytest.mark.parametrize("text", [
    'config["bm25"].get("threads", 1)',
    "RERANK.get( 'batch_size' ,64)",
    'x.get("sample_seed",\n    13)',
    'c.get("pooling", "cls")',
    'cfg.get("query_chunks") or 1',
    'g.get("points_1d", -21)',
    '{{ l["radius"] | default(0.5) }}',
])
def test_the_default_check_catches_variations(text):
    assert text_violations(text, _schema_keys()), text


@pytest.mark.parametrize("source", [
    'hp.get("dev_queries", 64)',
    "hp.get(\n    'temperature',\n    1.0)",
    'bb.get("normalize") or False',
    'x.get("fractions", [0.9, 0.95])',
])
def test_the_python_default_check_catches_variations(source):
    assert python_violations(source, _schema_keys()), source


def test_the_default_check_leaves_presence_tests_and_other_keys_alone():
    keys = _schema_keys()
    assert not text_violations('_d.get("qrels")', keys)
    assert not python_violations('d.get("title", "")\nhp.get("pooling") or bb["pooling"]', keys)


def test_documented_overlay_command_lines_keep_every_configfile():
    """Regression (dress rehearsal, issue 15): Snakemake's `--configfile` takes several files after ONE flag; a
    repeated flag replaces the earlier list, so the documented `--configfile A.yaml --configfile B.yaml` ran B on
    config.yaml without A (msmarco.yaml + rehearsal.yaml silently lost msmarco.yaml). Every `snakemake` line in
    config.yaml's header and the shipped profiles must reach Snakemake with all of its files."""
    from snakemake.cli import get_argument_parser

    parser = get_argument_parser()
    checked = 0
    for path in [pcfg.BASE, *sorted((pcfg.BASE.parent / "config").glob("*.yaml"))]:
        for line in path.read_text().splitlines():
            m = re.match(r"#\s+(?:\S+=\S+\s+)*snakemake (.*?--configfile .*?)(?:\s{2,}.*)?$", line.rstrip(" \\"))
            if not m:
                continue
            args = [a for a in shlex.split(m[1]) if a != "\\"]
            named = [args[i + 1 + j] for i, a in enumerate(args) if a == "--configfile"
                     for j in range(len(args) - i - 1) if not args[i + 1 + j].startswith("-")
                     and all(not x.startswith("-") for x in args[i + 1: i + 2 + j])]
            parsed = [str(p) for p in parser.parse_args(args).configfile]
            assert parsed == named, f"{path.name}: `{line.strip()}` reaches Snakemake as --configfile {parsed}"
            checked += 1
    assert checked >= 2
