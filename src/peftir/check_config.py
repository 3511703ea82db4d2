"""`peftir check-config`: resolve config.yaml + overlays into one configuration (peftir.config.resolve) and
validate it (schema + semantic checks) before a run; or print it, or one value of it.

A command of its own so that peftir.config stays a library every command and the Snakefile may import.
"""

from __future__ import annotations

import json

import yaml

from peftir.config import BASE, lookup, resolve, validate


def cmd_check(a) -> None:
    overlays = a.config or []
    if a.get:  # a lookup, not a check (the Makefile reads data_root so)
        value = lookup(resolve(overlays, base=a.default), a.get)
        print(value if isinstance(value, str | int | float | bool) else json.dumps(value))
        return
    config = validate(resolve(overlays, base=a.default), a.base)
    if a.print:
        print(yaml.safe_dump(config, sort_keys=False), end="")
    else:
        print(f"{' + '.join(map(str, [a.default, *overlays]))}: OK")


def register(sub) -> None:
    p = sub.add_parser("check-config", help="resolve config.yaml + overlays into one configuration and validate it "
                       "(schema + semantic checks)")
    p.add_argument("--config", action="append", metavar="YAML",
                   help="an overlay on the default, as `snakemake --configfile` (repeatable, applied in order)")
    p.add_argument("--default", default=str(BASE), help="the base configuration (default: the repository's config.yaml)")
    p.add_argument("--base", default=".", help="directory that relative roots are resolved from")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--get", metavar="KEY", help="print one resolved value (dotted path, e.g. data_root; not validated)")
    out.add_argument("--print", action="store_true", help="print the whole resolved configuration (YAML)")
    p.set_defaults(func=cmd_check)
