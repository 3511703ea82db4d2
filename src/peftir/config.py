"""Configuration: JSON-schema validation (workflow/schemas/config.schema.yaml) plus the semantic
checks a schema cannot express (registered methods, known datasets and splits, solvable budgets,
parseable measures, existing roots). Everything fails before any job starts, naming the key.

Also the derived facts the Snakefile needs (method specs, the grid of systems), so that no logic
lives in .smk files.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
NATURAL = "natural"


class ConfigError(ValueError):
    pass


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None


def schema_errors(config: dict, schema_path: str | Path = SCHEMA) -> list[str]:
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    v = jsonschema.Draft202012Validator(schema)
    out = []
    for e in sorted(v.iter_errors(config), key=lambda e: list(e.absolute_path)):
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        out.append(f"{key}: {e.message}")
    return out


def dataset_root(config: dict, ds: str) -> str:
    return config["datasets"][ds]["root"].format(data_root=config["data_root"])


def method_spec(config: dict, run: str, budget: str) -> dict:
    m = config["methods"][run]
    pct = None if budget == NATURAL else m.get("budget_pct", {}).get(budget, config["budgets"][budget])
    params = {**m.get("params", {}), **m.get("budget_params", {}).get(budget, {})}
    return {"name": run, "method": m["method"], "params": params, "budget": budget, "budget_pct": pct}


def method_json(config: dict, run: str, budget: str) -> str:
    return json.dumps(method_spec(config, run, budget), sort_keys=True)


def grid(config: dict, stage: str = "retriever") -> list[tuple[str, str, int]]:
    """(run, budget, seed) for every trained system of a stage."""
    return [(run, b, s) for run, m in config["methods"].items() if stage in m.get("stages", [stage])
            for b in m["budgets"] for s in config["seeds"]]


def semantic_errors(config: dict, base: Path = Path(".")) -> list[str]:
    import ir_measures

    from peftir.methods import get_method, method_names
    from peftir.models.factory import bert_config_for, resolve_method

    errs = []
    ds = config["datasets"]
    for name, d in ds.items():
        root = base / dataset_root(config, name)
        if not root.exists() and not d.get("origin") and d.get("format", "layout") == "layout":
            errs.append(f"datasets.{name}.root: {root} does not exist and no origin is configured")
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
        for m in e["measures"]:
            try:
                ir_measures.parse_measure(m)
            except Exception:
                errs.append(f"evaluation.{i}.measures: {m!r} is not an ir-measures measure")
    try:
        bert_cfg = bert_config_for(config["backbone"]["name"])
    except (FileNotFoundError, ValueError) as e:
        return errs + [f"backbone.name: {e}"]
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
            try:
                resolve_method(method_spec(config, run, b), bert_cfg)
            except (ValueError, TypeError) as e:
                errs.append(f"methods.{run} at budget {b!r}: {e}")
    return errs


def validate(config: dict, base: str | Path = ".") -> dict:
    errs = schema_errors(config)
    if not errs:
        errs = semantic_errors(config, Path(base))
    if errs:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errs))
    return config


def cmd_check(a) -> None:
    validate(load_yaml(a.config), a.base)
    print(f"{a.config}: OK")


def register(sub) -> None:
    p = sub.add_parser("check-config", help="validate a config file (schema + semantic checks)")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--base", default=".", help="directory that relative roots are resolved from")
    p.set_defaults(func=cmd_check)
