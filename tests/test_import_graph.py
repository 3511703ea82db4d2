"""The import graph of src/peftir: no cycle, and no command module imports another command module.

Every module is parsed (nothing imported), and every `peftir` import is an edge: absolute or relative,
at module level or inside a function. `from peftir.x import y` points at the module peftir.x.y when
there is one, else at peftir.x. The implicit import of a parent package's __init__ is not an edge (it
would make every package that imports its submodules cyclic). A command module defines `register(sub)`
that adds a subparser (peftir.cli loads them); commands share library modules, never each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def modules(src: Path, top: str) -> dict[str, Path]:
    """Dotted name -> file, for every .py of package `top` under `src`."""
    out = {}
    for f in sorted((src / top).rglob("*.py")):
        parts = list(f.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def _owner(name: str, mods) -> str | None:
    """The longest known module that `name` lies in (peftir.x.f -> peftir.x)."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, mods, top: str) -> set[str]:
    """The modules of package `top` that module `name` imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {_owner(a.name, mods) for a in node.names if a.name.split(".")[0] == top}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: level 1 is this package, 2 its parent, ...
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] != top:
                continue
            for a in node.names:
                full = f"{base}.{a.name}"
                out.add(full if full in mods else _owner(base, mods))
    out.discard(None)
    out.discard(name)
    return out


def is_command(path: Path) -> bool:
    """Defines a module-level `register(...)` whose body adds a subparser (`.add_parser(`)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == "register":
            calls = [n for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
            if any(c.func.attr == "add_parser" for c in calls):
                return True
    return False


def graph(src: Path, top: str) -> tuple[dict[str, set[str]], set[str]]:
    mods = modules(src, top)
    return {m: imports_of(m, p, mods, top) for m, p in mods.items()}, {m for m, p in mods.items() if is_command(p)}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in g.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def command_imports(g, commands) -> dict[str, list[str]]:
    return {c: sorted(g[c] & commands) for c in sorted(commands) if g[c] & commands}


# --- the checker, on a made-up package with known answers --------------------------------------------


@pytest.fixture
def toy(tmp_path):
    """pkg.a (command) -local-> pkg.sub.b -relative-> pkg.sub.c -relative, in a function-> pkg.a: a cycle;
    pkg.d (command) imports pkg.a (command): a command-to-command import; pkg.e defines register without
    add_parser (not a command) and imports pkg.d."""
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "def register(sub):\n    sub.add_parser('a')\n\ndef f():\n    from pkg.sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "from . import c\n",
        "pkg/sub/c.py": "def g():\n    from ..a import register\n",
        "pkg/d.py": "import pkg.a\n\ndef register(sub):\n    p = sub.add_parser('d')\n",
        "pkg/e.py": "from pkg.d import register as r\nfrom os import path\n\ndef register(key):\n    return key\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_checker_finds_local_relative_cycles_and_command_imports(toy):
    g, commands = graph(toy, "pkg")
    assert g["pkg.a"] == {"pkg.sub.b"} and g["pkg.sub.b"] == {"pkg.sub.c"} and g["pkg.sub.c"] == {"pkg.a"}
    assert g["pkg.e"] == {"pkg.d"}  # the function import resolves to its module; os is not ours
    assert commands == {"pkg.a", "pkg.d"}
    assert cycles(g) == [["pkg.a", "pkg.sub.b", "pkg.sub.c"]]
    assert command_imports(g, commands) == {"pkg.d": ["pkg.a"]}
    (toy / "pkg/sub/c.py").write_text("X = 1\n")  # break the cycle
    assert cycles(graph(toy, "pkg")[0]) == []


# --- the real package ---------------------------------------------------------------------------------


def test_commands_are_what_the_cli_loads():
    from peftir.cli import SUBCOMMAND_MODULES

    _, commands = graph(SRC, "peftir")
    assert commands == set(SUBCOMMAND_MODULES)


def test_no_import_cycle():
    g, _ = graph(SRC, "peftir")
    assert len(g) > 50  # every module was read
    assert cycles(g) == []


def test_no_command_imports_another_command():
    g, commands = graph(SRC, "peftir")
    assert command_imports(g, commands) == {}, {c: sorted(g[c]) for c in sorted(commands)}
