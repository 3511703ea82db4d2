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

SUBCOMMAND_MODULES = [
    "peftir.data.cli",
    "peftir.bm25",
    "peftir.chunks",
    "peftir.negatives",
    "peftir.retriever",
    "peftir.reranker",
    "peftir.encode",
    "peftir.search",
    "peftir.rerank",
    "peftir.evaluate",
    "peftir.analysis.cli",
    "peftir.check_config",
    "peftir.table",
    "peftir.verify",
    "peftir.export",
    "peftir.conditions",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="peftir", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
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
    args = build_parser().parse_args(argv)
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
