"""`peftir check-config`: validate a configuration (schema + semantic checks, peftir.config) before a run.

A command of its own so that peftir.config stays a library every command and the Snakefile may import.
"""

from __future__ import annotations

from peftir.config import load_yaml, validate


def cmd_check(a) -> None:
    validate(load_yaml(a.config), a.base)
    print(f"{a.config}: OK")


def register(sub) -> None:
    p = sub.add_parser("check-config", help="validate a config file (schema + semantic checks)")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--base", default=".", help="directory that relative roots are resolved from")
    p.set_defaults(func=cmd_check)
