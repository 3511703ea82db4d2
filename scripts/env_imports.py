"""For each Snakemake rule that runs project code: its conda environment, and the third-party distributions
its command imports; an environment must install every one of them, pinned at the tested venv's version.

    .venv/bin/python scripts/env_imports.py [--configfile config.yaml config/msmarco.yaml] [--json]

prints one line per rule and exits 1 on any problem (tests/test_envs.py runs it). How it works:
- the rules come from Snakemake's own parse of the workflow, once per config (rules defined per dataset or
  only under some settings, e.g. the chunked BM25 search, appear under config/msmarco.yaml); a rule runs
  project code when its shell command calls `{PY} <subcommand>` or `{params.launch} <subcommand>` (PY is
  `python -m peftir`; the launcher is it or torchrun -m peftir), or `{PY} {params.x}` with x a string
  param that starts with the subcommand (the data conversions);
- the subcommand maps to the module that defines its function, through the CLI's own parser
  (`peftir.cli.build_parser()`, its `func`);
- imports are read statically from src/peftir (ast), including imports inside functions, which are
  common here, and `importlib.import_module("literal")`. `python -m peftir` builds its parser by
  importing every module of `peftir.cli.SUBCOMMAND_MODULES`, so their module-level imports (followed
  through peftir) are loaded by every command. In the command's own module: its module-level imports, the
  imports inside the command's function and inside every function or class of that module the function
  names (transitively); every other peftir module these import counts with all its imports, in any
  function, unless its importer uses only some of its functions (`from peftir.x import f`, or only
  attributes `x.f` of the module bound to a name): then its module-level imports and those functions'
  imports count. And so on for every peftir module reached (an over-approximation: it may ask an
  environment for a package a command never imports on its path, not the other way round, short of
  imports by computed names or calls through objects passed around);
- top-level module names map to distributions with importlib.metadata.packages_distributions();
  the standard library and peftir itself are left out.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lock_envs

REPO = lock_envs.REPO
SRC = REPO / "src"
DEFAULT_CONFIGS = ("config.yaml", "config/msmarco.yaml")
CMD = re.compile(r"(?:\{PY\}|\{params\.launch\}|python -m peftir)\s+(\{params\.(\w+)(?::q)?\}|[a-z][\w-]*)")


# --- rules ---------------------------------------------------------------------------------------------


def load_rules(configs) -> dict[str, dict]:
    """{rule: {"env": envs/<x>.yaml relative to the repository or None, "subcommand": str or None,
    "gpu": the rule's own `resources: gpu` (0 if none), "local": whether it is a localrule}}."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    rules: dict[str, dict] = {}
    for cfg in configs:
        with SnakemakeApi(OutputSettings()) as api:
            wf = api.workflow(resource_settings=ResourceSettings(), storage_settings=StorageSettings(),
                              config_settings=ConfigSettings(configfiles=[REPO / cfg]),
                              snakefile=REPO / "Snakefile", workdir=REPO)
            for r in wf._workflow.rules:
                env = None
                if r.conda_env:
                    env = (Path(r.snakefile).parent / str(r.conda_env)).resolve().relative_to(REPO).as_posix()
                gpu = dict(r.resources.items()).get("gpu", 0)
                gpu = getattr(gpu, "value", gpu)
                rules[r.name] = {"env": env, "subcommand": subcommand(r), "shell": bool(r.shellcmd),
                                 "gpu": gpu if isinstance(gpu, int) else None,
                                 "local": r.name in wf._workflow._localrules,
                                 "configs": rules.get(r.name, {}).get("configs", []) + [cfg]}
    return rules


def subcommand(rule) -> str | None:
    m = CMD.search(rule.shellcmd or "")
    if not m:
        return None
    if m[2]:  # `{PY} {params.x}`: the subcommand is the first word of a param (a string or a list)
        value = getattr(rule.params, m[2], None)
        if isinstance(value, (list, tuple)) and value:
            value = value[0]
        if not isinstance(value, str):
            raise ValueError(f"rule {rule.name}: {{params.{m[2]}}} is not a string, cannot read its subcommand")
        return value.split()[0]
    return m[1]


# --- imports -------------------------------------------------------------------------------------------


def subcommand_modules() -> dict[str, tuple[str, str]]:
    """{subcommand: (module, function)} of the function each subcommand runs, from the CLI's parser."""
    from peftir import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: (p.get_default("func").__module__, p.get_default("func").__name__) for name, p in sub.choices.items()}


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.exists():
            return p
    return None


@cache
def imports_of(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(module-level imports, every import) of one peftir module, as absolute dotted names."""
    path = module_file(module)
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top: set[str] = set()
    every: set[str] = set()

    def absolute(node: ast.ImportFrom) -> list[str]:
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(parts + ([node.module] if node.module else []))
        # `from a import b` may import the submodule a.b: count it when it is a peftir module
        return [base] + [f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}")]

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                names = absolute(child)
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                  and child.func.attr == "import_module" and child.args
                  and isinstance(child.args[0], ast.Constant) and isinstance(child.args[0].value, str)):
                names = [child.args[0].value]
            every.update(names)
            if not nested:
                top.update(names)
            visit(child, nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return frozenset(top), frozenset(every)


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@cache
def uses_of(module: str) -> dict[str, frozenset[str] | None]:
    """{peftir module: the names `module` uses from it (None: the whole module)}. `from peftir.x import f`
    uses f; a module bound to a name (`from peftir import x as a`) uses the attributes read from it
    (`a.f`), or the whole module if the name is used any other way."""
    path = module_file(module)
    tree = ast.parse(path.read_text())
    uses: dict[str, set[str] | None] = {}
    alias: dict[str, str] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and not n.level and (n.module or "").split(".")[0] == "peftir":
            for a in n.names:
                sub = f"{n.module}.{a.name}"
                if module_file(sub):
                    alias[a.asname or a.name] = sub
                elif uses.get(n.module, set()) is not None:
                    uses.setdefault(n.module, set()).add(a.name)
        elif isinstance(n, ast.Import):
            for a in n.names:
                if a.name.split(".")[0] == "peftir":
                    if a.asname:
                        alias[a.asname] = a.name
                    else:
                        uses[a.name] = None
    attrs: dict[str, set[str] | None] = {k: set() for k in alias}
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id in alias and attrs[n.id] is not None:
            parent = parents.get(id(n))
            if isinstance(parent, ast.Attribute) and parent.value is n:
                attrs[n.id].add(parent.attr)
            else:
                attrs[n.id] = None
    for name, mod in alias.items():
        if attrs[name] is None or uses.get(mod, set()) is None:
            uses[mod] = None
        else:
            uses.setdefault(mod, set()).update(attrs[name])
    return {k: (None if v is None else frozenset(v)) for k, v in uses.items()}


def reach(roots, every: bool) -> tuple[set[str], set[str]]:
    """(peftir modules reached, third-party dotted names imported) from `roots`, following module-level
    imports only (every=False) or every import (every=True). With every=True, a module another one uses
    only some functions of (uses_of) counts its module-level imports and those functions' imports."""
    seen: dict[str, set[str] | None] = {}
    third: set[str] = set()
    stack: list[tuple[str, frozenset[str] | None]] = [(p, None) for r in roots for p in _with_parents(r)]
    while stack:
        mod, names = stack.pop()
        done = seen.get(mod, set())
        if done is None or (names is not None and names <= done):
            continue
        seen[mod] = None if names is None else done | names
        top, all_ = imports_of(mod)
        if not every:
            found = set(top)
        elif names is None:
            found = set(all_)
        else:
            defs = {d.name for d in ast.parse(module_file(mod).read_text()).body
                    if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            found = set(top).union(*[function_imports(mod, n) for n in names if n in defs])
        uses = uses_of(mod) if every else {}
        for name in found:
            if name.split(".")[0] == "peftir":
                stack += [(p, uses.get(p) if p == name else None) for p in _with_parents(name) if module_file(p)]
            elif name.split(".")[0] not in sys.stdlib_module_names and name != "__future__":
                third.add(name)
    return set(seen), third


def startup() -> tuple[set[str], set[str]]:
    """What `python -m peftir <anything>` loads: peftir.__main__, peftir.cli and every subcommand module."""
    from peftir import cli

    mods = ["peftir.__main__", "peftir.cli"] + [m for m in cli.SUBCOMMAND_MODULES if module_file(m)]
    return reach(mods, every=False)


def _import_names(node: ast.AST, module: str) -> set[str]:
    """Absolute names imported anywhere inside `node` (a function or class of peftir module `module`)."""
    path = module_file(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            out.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                parts = package.split(".")[: len(package.split(".")) - n.level + 1]
                base = ".".join(parts + ([n.module] if n.module else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in n.names if module_file(f"{base}.{a.name}"))
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "import_module"
              and n.args and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)):
            out.add(n.args[0].value)
    return out


def function_imports(module: str, func: str) -> set[str]:
    """Names imported by function `func` of `module` and by the module's functions/classes it names."""
    tree = ast.parse(module_file(module).read_text())
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    if func not in defs:
        raise LookupError(f"{module}.{func}: not a module-level function")
    todo, done, names = [func], set(), set()
    while todo:
        f = todo.pop()
        if f in done:
            continue
        done.add(f)
        names |= _import_names(defs[f], module)
        todo += [n.id for n in ast.walk(defs[f]) if isinstance(n, ast.Name) and n.id in defs]
    return names


def command_imports(module: str, func: str) -> tuple[set[str], set[str]]:
    """(peftir modules, third-party dotted names) one subcommand, function `func` of `module`, may import."""
    m0, t0 = startup()
    own = set(imports_of(module)[0]) | function_imports(module, func)  # module-level + the function's own
    peftir_mods = [p for n in own if n.split(".")[0] == "peftir" for p in _with_parents(n) if module_file(p)]
    m1, t1 = reach([p for p in peftir_mods if p != module], every=True)
    t2 = {n for n in own if n.split(".")[0] not in sys.stdlib_module_names | {"peftir", "__future__"}}
    return m0 | m1 | {module}, t0 | t1 | t2


@cache
def _dists() -> dict[str, list[str]]:
    return md.packages_distributions()


def distributions(names) -> dict[str, str]:
    """{canonical distribution: one module name that needs it}; raises on a name no distribution provides."""
    out: dict[str, str] = {}
    unknown = []
    for name in sorted(names):
        top = name.split(".")[0]
        dists = _dists().get(top)
        if not dists:
            unknown.append(name)
            continue
        for d in dists:
            out.setdefault(canonicalize_name(d), name)
    if unknown:
        raise LookupError(f"no installed distribution provides {unknown}")
    return out


# --- the check -----------------------------------------------------------------------------------------


def check(configs=DEFAULT_CONFIGS, envs: Path = lock_envs.ENVS) -> dict:
    rules = load_rules(configs)
    subs = subcommand_modules()
    report = {"rules": {}, "problems": [], "all_rules": rules}
    for name, r in sorted(rules.items()):
        if r["subcommand"] is None:
            if r["shell"]:  # every shell command here runs project code: one not understood is a failure
                report["problems"].append(f"rule {name}: cannot read the peftir subcommand of its shell command")
            continue
        sub = r["subcommand"]
        if sub not in subs:
            report["problems"].append(f"rule {name}: unknown subcommand {sub!r}")
            continue
        mods, third = command_imports(*subs[sub])
        needs = distributions(third)
        entry = {"subcommand": sub, "function": ".".join(subs[sub]), "env": r["env"], "needs": sorted(needs),
                 "peftir_modules": sorted(mods), "third_party": sorted(third)}
        report["rules"][name] = entry
        if r["env"] is None:
            report["problems"].append(f"rule {name}: no conda: directive")
            continue
        env = Path(r["env"]).stem
        pins = lock_envs.env_pins(env, envs)
        for dist, via in sorted(needs.items()):
            if dist not in pins:
                report["problems"].append(f"rule {name} ({sub}): imports {via} but {r['env']} does not install {dist}")
            elif pins[dist]["version"] != lock_envs.venv_version(dist):
                report["problems"].append(
                    f"rule {name}: {r['env']} pins {dist}=={pins[dist]['version']}, the tested venv has "
                    f"{lock_envs.venv_version(dist)}")
    return report


def lock_view(env: str, dest: Path, envs: Path = lock_envs.ENVS) -> list[str]:
    """A site-packages holding only what envs/<env>.lock.txt lists: links into the tested venv, one per
    top-level file or directory of each locked distribution (its .dist-info too, for importlib.metadata)."""
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for dist in lock_envs.read_lock(env, envs):
        d = md.distribution(dist)
        base = Path(d.locate_file(""))
        for top in sorted({f.parts[0] for f in d.files or [] if f.parts[0] not in ("..", "__pycache__")}):
            if (base / top).exists() and not (dest / top).exists():
                (dest / top).symlink_to(base / top)
        names.append(dist)
    return names


IMPORT_ALL = """
import importlib, json, sys
mods, third = json.loads(sys.argv[1]), json.loads(sys.argv[2])
from peftir import cli
cli.build_parser()
for m in mods:
    importlib.import_module(m)
if any(n.split(".")[0] in ("jnius", "jnius_config", "pyserini") for n in third):
    importlib.import_module("peftir.bm25").start_jvm()  # they may only be imported once the JVM is configured
for n in third:
    importlib.import_module(n)
tops = {m.split(".")[0] for m in sys.modules}
print("loaded:", *sorted(t for t in tops if t not in sys.stdlib_module_names and not t.startswith("_")))
"""


def import_in_lock_view(env: str, rules: dict, envs: Path = lock_envs.ENVS) -> subprocess.CompletedProcess:
    """Import what the rules of `env` import (peftir modules, then third-party names, as found statically)
    in a Python that sees only the standard library, src/ and the env's lock (`python -S`, PYTHONPATH =
    a lock_view): a package the lock misses, and that something imports unconditionally, fails here,
    including imports made by third-party packages themselves, which the static check does not see."""
    import tempfile

    mods = sorted({m for r in rules.values() for m in r["peftir_modules"]} - {"peftir.__main__"})  # runs main()
    third = sorted({n for r in rules.values() for n in r["third_party"]})
    with tempfile.TemporaryDirectory(prefix=f"lock-{env}-") as tmp:
        lock_view(env, Path(tmp), envs)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        environ["PYTHONPATH"] = os.pathsep.join([str(SRC), tmp])
        environ["PYTHONNOUSERSITE"] = "1"
        return subprocess.run([sys.executable, "-S", "-c", IMPORT_ALL, json.dumps(mods), json.dumps(third)],
                              check=False, env=environ, capture_output=True, text=True, cwd=tmp)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", nargs="+", default=list(DEFAULT_CONFIGS))
    ap.add_argument("--json", action="store_true", help="print the whole report as JSON")
    ap.add_argument("--envs", type=Path, default=lock_envs.ENVS, help="the environments' directory (default: envs/)")
    ap.add_argument("--loaded", metavar="ENV", help="import what the rules of ENV import in a Python that "
                    "sees only ENV's lock (lock_view); exit 1 if an import fails")
    ap.add_argument("--report", type=Path, help="with --loaded: the rules from this --json output (else it is "
                    "computed in a child process, so that Snakemake is not loaded here)")
    args = ap.parse_args(argv)
    if args.loaded:
        if args.report:
            report = json.loads(args.report.read_text())
        else:
            cmd = [sys.executable, __file__, "--json", "--envs", str(args.envs), "--configfile", *args.configfile]
            report = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        rules = {n: r for n, r in report["rules"].items() if r["env"] and Path(r["env"]).stem == args.loaded}
        if not rules:
            print(f"no rule uses envs/{args.loaded}.yaml", file=sys.stderr)
            return 1
        r = import_in_lock_view(args.loaded, rules, args.envs)
        print(r.stdout[-2000:], r.stderr[-4000:], sep="\n")
        print(f"envs/{args.loaded}: {len(rules)} rules' imports with only its lock: "
              f"{'OK' if r.returncode == 0 else 'FAILED'}")
        return r.returncode
    report = check(args.configfile, args.envs)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for name, e in report["rules"].items():
            print(f"{name:28} {e['subcommand']:18} {e['env']!s:22} {' '.join(e['needs'])}")
        with_env = sum(e["env"] is not None for e in report["rules"].values())
        print(f"{with_env}/{len(report['rules'])} rules that run project code have a conda: environment")
        for p in report["problems"]:
            print("PROBLEM:", p)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
