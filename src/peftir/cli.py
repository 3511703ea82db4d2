"""Command line: `python -m peftir <subcommand> ...`. One subcommand per pipeline step.

Each module listed in SUBCOMMAND_MODULES exposes `register(subparsers)`, which adds its parser(s)
and sets `func` (called with the parsed args). Errors in user input surface as one clear line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from peftir import joblog

# Which module registers each subcommand (tests/test_cli_commands.py checks it against the modules). A job names one
# subcommand, so `main` imports only that module: registering all of them imports torch, transformers and
# pyserini, ~2.7 s of CPU that every light job (evaluate, table, check-config, ...) paid before its work
# (bench/job_overhead.py; issue 17).
COMMANDS = {
    **dict.fromkeys(["prepare", "validate", "build-debian", "convert-msmarco", "from-ir-datasets"], "peftir.data.cli"),
    **dict.fromkeys(["bm25-index", "bm25-search"], "peftir.bm25"),
    **dict.fromkeys(["split-queries", "concat-runs"], "peftir.chunks"),
    "mine-negatives": "peftir.negatives",
    "train-retriever": "peftir.retriever",
    "train-reranker": "peftir.reranker",
    "encode": "peftir.encode",
    "search": "peftir.search",
    "rerank": "peftir.rerank",
    "evaluate": "peftir.evaluate",
    **dict.fromkeys(["paper-table", "convergence", "landscape", "plot-landscape", "discrepancy-report", "figure3",
                     "answers"], "peftir.analysis.cli"),
    "check-config": "peftir.check_config",
    "table": "peftir.table",
    "verify": "peftir.verify",
    "export": "peftir.export",
    "conditions": "peftir.conditions",
    "precision": "peftir.precision_notice",
}
SUBCOMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))  # each once, in the order above


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or, given a known `command`, of that one only (its module alone is
    imported). `--help`, a typo or no command get the whole parser, so their messages list every command."""
    p = argparse.ArgumentParser(prog="peftir", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in [COMMANDS[command]] if command in COMMANDS else SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # not written yet
                continue
            raise
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    given = sys.argv[1:] if argv is None else argv
    args = build_parser(given[0] if given else None).parse_args(argv)
    ready, rc = time.time(), 1
    try:
        args.func(args)
        rc = 0
    except (ValueError, KeyError, FileNotFoundError) as e:  # user-facing input errors: one line, exit 2
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"peftir {args.command}: error: {msg}", file=sys.stderr)
        rc = 2
    finally:
        joblog.record(args.command, ready, argv, rc=rc)  # CPU accounting, when $PEFTIR_JOBLOG is set
    return rc
