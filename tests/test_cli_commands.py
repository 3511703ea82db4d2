"""The command line: each subcommand is parsed after importing only its own module (peftir.cli.COMMANDS)."""

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from peftir import cli

REPO = Path(__file__).resolve().parents[1]


def test_commands_table_is_what_the_modules_register():
    seen = {}
    for name in cli.SUBCOMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers(dest="command")
        importlib.import_module(name).register(sub)
        for command in sub.choices:
            seen[command] = name
    assert seen == cli.COMMANDS


@pytest.mark.parametrize("command", ["evaluate", "table", "check-config", "verify", "conditions", "paper-table"])
def test_a_light_command_does_not_import_torch(command):
    code = (f"import sys, json; from peftir import cli; p = cli.build_parser({command!r}); "
            "print(json.dumps([sorted(p._subparsers._group_actions[0].choices), "
            "sorted(m for m in ('torch', 'transformers', 'pyserini', 'faiss') if m in sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}).stdout
    choices, heavy = json.loads(out.strip().splitlines()[-1])
    assert command in choices
    assert heavy == []


def test_help_and_unknown_commands_list_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in cli.COMMANDS)
    with pytest.raises(SystemExit) as e:
        cli.main(["evaluat"])
    assert e.value.code == 2
    assert "train-retriever" in capsys.readouterr().err   # argparse names the valid choices
