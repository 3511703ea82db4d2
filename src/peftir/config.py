"""Configuration: one resolved configuration from the embedded default (config.yaml) and overlays
(`resolve`, semantics in `overlay`), then JSON-schema validation (workflow/schemas/config.schema.yaml)
plus the semantic checks a schema cannot express (registered methods, known datasets and splits, solvable budgets,
parseable measures, existing roots). Everything fails before any job starts, naming the key.

Also the derived facts the Snakefile needs (method specs, the grid of systems), so that no logic
lives in .smk files.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
BASE = REPO / "config.yaml"  # the embedded default: every configuration starts from it
NATURAL = "natural"
REPLACE = "_replace"  # in an overlay's map: the map replaces the base's instead of merging into it


class ConfigError(ValueError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader (no tags that build objects) that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> dict:
    """A config file: safe YAML only, duplicate keys refused (file:line), no templating."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}  # a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file is a mapping of keys, not {type(data).__name__}")
    if "__use_yte__" in data:  # Snakemake would evaluate the file as a YTE template: code from a config
        raise ConfigError(f"{path}: __use_yte__: templated configs run code and are refused")
    return data


def nonfinite_errors(obj, path: str = "") -> list[str]:
    """Every NaN or infinite number in a config (YAML's .nan / .inf), by key: no bound catches NaN."""
    import math

    if isinstance(obj, float) and not math.isfinite(obj):
        return [f"{path or '(top level)'}: {obj} is not a finite number"]
    if isinstance(obj, dict):
        return [e for k, v in obj.items() for e in nonfinite_errors(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, list):
        return [e for i, v in enumerate(obj) for e in nonfinite_errors(v, f"{path}.{i}" if path else str(i))]
    return []


def overlay(base, over, where: str = ""):
    """`base` with the overlay `over` laid on top (neither is modified):
    - maps merge key by key, recursively: the overlay states only what it changes;
    - any other value (a scalar, a list such as `evaluation`, `seeds` or a measure list) replaces the base's
      whole: lists are never merged element by element;
    - a key set to null (`expected: null`, or `--config expected=`) is removed: the base's value is dropped;
    - a map holding `_replace: true` replaces the base's map whole instead of merging into it (e.g. another
      method grid: `methods: {_replace: true, full: {...}}`); at the top level, the file is a complete
      configuration on its own.
    E.g. overlay({"a": {"x": 1, "y": 2}, "l": [1, 2]}, {"a": {"y": 3}, "l": [5]}) == {"a": {"x": 1, "y": 3}, "l": [5]};
    overlay({"a": {"x": 1}}, {"a": {"_replace": True, "z": 0}}) == {"a": {"z": 0}}."""
    if not isinstance(over, dict):
        return copy.deepcopy(over)
    replace = over.get(REPLACE, False)
    if not isinstance(replace, bool):
        raise ConfigError(f"{where}{REPLACE}: must be true or false, not {replace!r}")
    out = copy.deepcopy(base) if isinstance(base, dict) and not replace else {}
    for k, v in over.items():
        if k == REPLACE:
            continue
        if v is None:
            out.pop(k, None)
        else:
            out[k] = overlay(out.get(k), v, f"{where}{k}.")
    return out


def resolve(overlays=(), overrides: dict | None = None, base: str | Path = BASE) -> dict:
    """The one resolved configuration: `base` (config.yaml), then each overlay file (a path) or dict in order
    (`--configfile`, e.g. config/quick.yaml), then `overrides` (`--config key=value`), by `overlay`'s rules.
    Every key the default sets is present unless an overlay removed it; not validated (see `validate`)."""
    config = load_yaml(base)
    for o in [*overlays, overrides or {}]:
        data = o if isinstance(o, dict) else load_yaml(o)
        if not isinstance(data, dict):
            raise ConfigError(f"{o}: a configuration must be a map of keys, not {type(data).__name__}")
        config = overlay(config, data)
    return config


def load(*overlays, base: str | Path = BASE) -> dict:
    """A shipped profile as Snakemake resolves it: `load("config/quick.yaml")` = config.yaml + quick.yaml."""
    return resolve(overlays, base=base)


def resolve_workflow(config: dict, workflow) -> dict:
    """In the Snakefile: replace Snakemake's `config` (in place) by the resolved configuration of this
    invocation: config.yaml beside the Snakefile, every `--configfile` in order, then `--config` overrides.
    (Snakemake's own merge also starts from `configfile:` and merges maps, but knows no removal nor
    `_replace`; the result here is the same wherever an overlay uses neither.)"""
    settings = workflow.config_settings
    resolved = resolve(settings.configfiles, dict(settings.config or {}), Path(workflow.basedir) / "config.yaml")
    config.clear()
    config.update(resolved)
    return config


def lookup(config: dict, key: str):
    """The value at a dotted key path (`bm25.k1`, `evaluation.0.split`)."""
    d = config
    for k in key.split("."):
        try:
            d = d[int(k)] if isinstance(d, list) else d[k]
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"{key}: no such key in the resolved configuration") from None
    return d


def train_section_keys() -> set[str]:
    """The keys a `retriever` / `reranker` section may hold (the schema's train_section)."""
    schema = yaml.safe_load(SCHEMA.read_text())
    return set(schema["$defs"]["train_section"]["properties"])


def schema_errors(config: dict, schema_path: str | Path = SCHEMA) -> list[str]:
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    v = jsonschema.Draft202012Validator(schema)
    out = []
    for e in sorted(v.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        path = [str(p) for p in e.absolute_path]
        key = ".".join(path) or "(top level)"
        if e.validator == "additionalProperties" and e.validator_value is False and isinstance(e.instance, dict):
            allowed = sorted(e.schema.get("properties", {}))
            out += [f"{'.'.join(path + [str(k)])}: unknown key; allowed here: {allowed}"
                    for k in sorted(set(e.instance) - set(allowed), key=str)]
        elif e.validator == "pattern" and "measures" in path:
            out.append(f"{key}: {e.instance!r} is not an ir-measures measure (e.g. RR@10, R@1000, nDCG@10)")
        else:
            out.append(f"{key}: {e.message}")
    return out


def dataset_root(config: dict, ds: str) -> str:
    return config["datasets"][ds]["root"].format(data_root=config["data_root"])


def output_roots(config: dict, workdir: str | Path) -> list[str]:
    """Where jobs may write or remove anything (peftir.io.check_output_path): the run's results/ and
    checkpoints/, plus the roots that datasets of another format are converted into or fetched into."""
    workdir = Path(workdir).resolve()
    roots = [workdir / "results", workdir / "checkpoints"]
    for name, d in config["datasets"].items():
        if d.get("origin") or d.get("format", "layout") != "layout":
            roots.append(workdir / dataset_root(config, name))
    return [str(r) for r in roots]


def method_spec(config: dict, run: str, budget: str) -> dict:
    m = config["methods"][run]
    solve = budget != NATURAL and config["solve_budgets"]  # false: the configured sizes as given
    pct = m.get("budget_pct", {}).get(budget, config["budgets"][budget]) if solve else None
    params = {**base_params(config, run), **m.get("budget_params", {}).get(budget, {})}
    return {"name": run, "method": m["method"], "params": params, "budget": budget, "budget_pct": pct}


def base_params(config: dict, run: str) -> dict:
    """A method's base `params` (none given: the method's own defaults)."""
    return config["methods"][run].get("params", {})


def reranker_lr(config: dict, run: str) -> float:
    """A method's cross-encoder learning rate: `reranker_lr`, else its `lr`."""
    m = config["methods"][run]
    return m.get("reranker_lr", m["lr"])


def method_json(config: dict, run: str, budget: str) -> str:
    return json.dumps(method_spec(config, run, budget), sort_keys=True)


def seeds_for(config: dict, budget: str, run: str | None = None, stage: str = "retriever") -> list[int]:
    """Seeds of one system, the most specific setting first: the method's `reranker_seeds` (reranker stage
    only), `budget_seeds[budget]` (e.g. one seed for a whole profile's large budget), the method's `seeds`
    (e.g. 3 seeds where a question lives: full, adapter, LoRA, IAA-L), else the global `seeds`."""
    m = (config["methods"].get(run) or {}) if run is not None else {}
    if stage == "reranker" and "reranker_seeds" in m:
        return m["reranker_seeds"]
    if budget in config["budget_seeds"]:
        return config["budget_seeds"][budget]
    return m.get("seeds", config["seeds"])


def grid(config: dict, stage: str = "retriever") -> list[tuple[str, str, int]]:
    """(run, budget, seed) for every trained system of a stage."""
    return [(run, b, s) for run, m in config["methods"].items() if stage in m.get("stages", [stage])
            for b in m["budgets"] for s in seeds_for(config, b, run, stage)]


def encode_p_len(config: dict, ds: str) -> int:
    """Tokens per passage when encoding a corpus: the dataset's own `p_len` (e.g. 512 = FirstP for MS MARCO
    documents), else the retriever's `max_len` when set, else its `p_len` (what it was trained on)."""
    r = config["retriever"]
    return config["datasets"][ds].get("p_len") or r.get("max_len") or r["p_len"]


def format_errors(name: str, d: dict) -> list[str]:
    """A converted dataset names a source for every split: an ir_datasets id or an official queries file."""
    fmt, splits = d.get("format", "layout"), d["splits"]
    if fmt == "ir_datasets":
        missing = [s for s in splits if s not in (d.get("ir_datasets") or {})]
        return [f"datasets.{name}.ir_datasets: no id for split(s) {missing}"] if missing else []
    if fmt in ("msmarco-passage", "msmarco-doc"):
        if not d.get("files"):
            return [f"datasets.{name}.files: format {fmt} needs the official files (collection, queries)"]
        missing = [s for s in splits if s not in d["files"]["queries"]]
        return [f"datasets.{name}.files.queries: no file for split(s) {missing}"] if missing else []
    return []


def convert_command(config: dict, ds: str) -> tuple[list[str], list[str]] | None:
    """How a dataset of format `ir_datasets` / `msmarco-passage` / `msmarco-doc` is written into its
    root in the shared layout: (`python -m peftir` arguments, input files); None for
    format `layout`. Official file paths may use {data_root}. The arguments are a list, each quoted on
    its own by the rule (`{params.args:q}`): no value of the config reaches a shell unquoted."""
    d = config["datasets"][ds]
    fmt = d.get("format", "layout")
    judged = ["--judged-only"] if d.get("judged_only") else []
    if fmt == "ir_datasets":
        ids = [f"{s}={d['ir_datasets'][s]}" for s in d["splits"]]
        return ["from-ir-datasets", "--dataset", *ids, *judged], []
    if fmt not in ("msmarco-passage", "msmarco-doc"):
        return None
    f = d["files"]

    def path(p: str) -> str:
        return p.format(data_root=config["data_root"])

    queries = {s: path(f["queries"][s]) for s in d["splits"]}
    qrels = {s: path(q) for s, q in (f.get("qrels") or {}).items() if s in d["splits"]}
    args = ["convert-msmarco", "--collection", path(f["collection"]),
            "--queries", *(f"{s}={q}" for s, q in queries.items()),
            *(["--qrels", *(f"{s}={q}" for s, q in qrels.items())] if qrels else []),
            "--kind", "passage" if fmt == "msmarco-passage" else "document", *judged]
    return args, [path(f["collection"]), *queries.values(), *qrels.values()]


def backbone_cfg(config: dict):
    """The backbone's BertConfig: from its checkpoint, else from the declared `backbone.config`
    (offline dry runs: the budget solver needs only the architecture); both present must agree."""
    from peftir.models.backbone import check_declared_backbone
    from peftir.models.bert import BertConfig
    from peftir.models.factory import bert_config_for

    bb = config["backbone"]
    try:
        real = bert_config_for(bb["name"])
    except (FileNotFoundError, ValueError) as e:
        if not bb.get("config"):
            raise ValueError(f"backbone.name: {e}") from None
        return BertConfig.from_dict(bb["config"])
    check_declared_backbone(real, bb.get("config"))
    return real


def layout_errors(name: str, d: dict, root: Path) -> list[str]:
    """Files a dataset in the shared layout must hold: the corpus and each split's queries and qrels."""
    from peftir.data.collections import DataError
    from peftir.data.validate import split_files

    errs = []
    if not (root / "corpus.jsonl.gz").is_file() and not d.get("origin"):
        errs.append(f"datasets.{name}.root: {root / 'corpus.jsonl.gz'} not found")
    for split in d["splits"]:
        try:
            split_files(root, split, d.get("qrels"))
        except DataError as e:
            key = "qrels" if d.get("qrels") and "qrels" in str(e) else "splits"
            errs.append(f"datasets.{name}.{key}: {e}")
    return errs


def semantic_errors(config: dict, base: Path = Path(".")) -> list[str]:
    import ir_measures

    from peftir.methods import get_method, method_names
    from peftir.models.factory import resolve_method

    errs = []
    ds = config["datasets"]
    for name, d in ds.items():
        root = base / dataset_root(config, name)
        if not root.exists() and not d.get("origin") and d.get("format", "layout") == "layout":
            errs.append(f"datasets.{name}.root: {root} does not exist and no origin is configured")
        elif root.is_dir() and d.get("format", "layout") == "layout":
            errs += layout_errors(name, d, root)
        errs += format_errors(name, d)
    for name, index in (config["bm25"].get("prebuilt") or {}).items():
        if name not in ds:
            errs.append(f"bm25.prebuilt: unknown dataset {name!r}; configured: {sorted(ds)}")
        else:
            from peftir.bm25 import check_prebuilt

            try:
                check_prebuilt(index)
            except ValueError as e:
                errs.append(f"bm25.prebuilt.{name}: {e}")
    for stage in ("retriever", "reranker"):
        t = config.get(stage) or {}
        if t.get("batch_size", 1) % t.get("gpus", 1):
            errs.append(f"{stage}.batch_size: {t['batch_size']} queries cannot be split over gpus={t['gpus']}")
    if "head_lr" in (config.get("retriever") or {}):
        errs.append("retriever.head_lr: the bi-encoder has no head (head_lr belongs to reranker)")
    for b in config.get("budget_seeds") or {}:
        if b != NATURAL and b not in config["budgets"]:
            errs.append(f"budget_seeds: unknown budget {b!r}; configured: {sorted(config['budgets']) + [NATURAL]}")
    for key in ("train",):
        t = config[key]
        if t["dataset"] not in ds:
            errs.append(f"{key}.dataset: unknown dataset {t['dataset']!r}; configured: {sorted(ds)}")
        elif t["split"] not in ds[t["dataset"]]["splits"]:
            errs.append(f"{key}.split: {t['dataset']} has no split {t['split']!r}")
    for i, e in enumerate(config["evaluation"]):
        if e["dataset"] not in ds:
            errs.append(f"evaluation.{i}.dataset: unknown dataset {e['dataset']!r}; configured: {sorted(ds)}")
        elif e["split"] not in ds[e["dataset"]]["splits"]:
            errs.append(f"evaluation.{i}.split: {e['dataset']} has no split {e['split']!r}")
        for j, m in enumerate(e["measures"]):
            try:
                ir_measures.parse_measure(m)
            except (NameError, ValueError, SyntaxError, TypeError):  # unknown names: NameError
                errs.append(f"evaluation.{i}.measures.{j}: {m!r} is not an ir-measures measure "
                            "(e.g. RR@10, R@1000, nDCG@10)")
    try:
        bert_cfg = backbone_cfg(config)
    except ValueError as e:
        return errs + [str(e)]
    for run, m in config["methods"].items():
        try:
            get_method(m["method"])
        except KeyError:
            errs.append(f"methods.{run}.method: unknown method {m['method']!r}; registered: {method_names()}")
            continue
        for b in m["budgets"]:
            if b != NATURAL and b not in config["budgets"]:
                errs.append(f"methods.{run}.budgets: unknown budget {b!r}; configured: "
                            f"{sorted(config['budgets']) + [NATURAL]}")
                continue
            spec = method_spec(config, run, b)
            try:
                params, pct = resolve_method(spec, bert_cfg)
            except (ValueError, TypeError) as e:
                where = "budget_params" if b in m.get("budget_params", {}) else "params"
                key = f"methods.{run}.{where}" if "unknown parameter" in str(e) else f"methods.{run}"
                errs.append(f"{key} at budget {b!r}: {e}")
                continue
            errs += budget_errors(config, run, b, spec, params, pct)
    return errs


def budget_errors(config: dict, run: str, budget: str, spec: dict, params: dict, pct: float) -> list[str]:
    """A budget below half of what the method's smallest size (r=1, l=1, ...) costs cannot be met: the
    solver would round the size to 0, so it returns size 1 at more than twice the budget. An error naming
    the key that sets the budget. E.g. LoRA on tiny:2x64 costs 0.0247% per unit of r: 0.01% -> error."""
    from peftir.methods import get_method

    size = get_method(spec["method"]).size_fields
    target = spec["budget_pct"]
    if target is None or not size or params.get(size[0]) != 1 or pct <= 2 * target:
        return []
    key = (f"methods.{run}.budget_pct.{budget}" if budget in config["methods"][run].get("budget_pct", {})
           else f"budgets.{budget}")
    where = f"methods.{run} ({spec['method']!r} on {config['backbone']['name']})"
    msg = (f"{key}: {target}% is too small for {where}: its smallest size {size[0]}=1 already takes "
           f"{pct:.4g}% of the backbone's parameters")
    return [msg]


def validate(config: dict, base: str | Path = ".") -> dict:
    errs = nonfinite_errors(config) + schema_errors(config)
    if not errs:
        errs = semantic_errors(config, Path(base))
    if errs:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errs))
    return config
