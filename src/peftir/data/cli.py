"""Data subcommands of `python -m peftir`: prepare, validate, build-debian, convert-msmarco,
from-ir-datasets. Each prints its report (JSON) summary to the log and writes it beside its output."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from peftir.data.collections import DataError

log = logging.getLogger(__name__)


def _splits(values: list[str] | None) -> list[str] | None:
    """`--splits train dev` or `--splits train,dev`."""
    if not values:
        return None
    return [s for v in values for s in v.split(",") if s]


def _json_arg(value: str | None):
    """Inline JSON, or the path of a JSON file."""
    if value is None:
        return None
    text = value if value.lstrip().startswith(("{", "[")) else None
    if text is None:
        if not Path(value).is_file():
            raise DataError(f"--sample-json: {value!r} is neither JSON nor an existing file")
        text = Path(value).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"--sample-json: not valid JSON ({e})") from None


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """`split=path` arguments -> {split: path}."""
    out = {}
    for v in values or []:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise DataError(f"{flag}: expected SPLIT=VALUE, got {v!r}")
        out[key] = val
    return out


def cmd_prepare(a: argparse.Namespace) -> None:
    from peftir.data.origins import ensure_collection
    from peftir.data.prepare import prepare_collection

    ensure_collection(a.root, origin=a.origin, url=a.origin_url, timeout=a.timeout)
    prepare_collection(a.root, a.out, splits=_splits(a.splits), sample=_json_arg(a.sample_json),
                       seed=a.seed, qrels_name=a.qrels_name, strict=a.strict, judged_only=a.judged_only)


def cmd_validate(a: argparse.Namespace) -> None:
    from peftir.data.validate import validate_collection
    from peftir.io import write_json

    report = validate_collection(a.root, splits=_splits(a.splits), qrels_name=a.qrels_name, strict=a.strict)
    if a.out:
        write_json(report, a.out)
    else:
        print(json.dumps(report, indent=2, sort_keys=True))


def cmd_build_debian(a: argparse.Namespace) -> None:
    from peftir.data.debian_builder import build_debian

    build_debian(a.translation, a.dumpavail, a.out)


def cmd_convert_msmarco(a: argparse.Namespace) -> None:
    from peftir.data.msmarco import msmarco_to_layout

    msmarco_to_layout(a.out, a.collection, _pairs(a.queries, "--queries"), _pairs(a.qrels, "--qrels"),
                      kind=a.kind, judged_only=a.judged_only)


def cmd_from_ir_datasets(a: argparse.Namespace) -> None:
    from peftir.data.irdatasets import from_ir_datasets

    ids = _pairs(a.dataset, "--dataset") if all("=" in d for d in a.dataset) else None
    if ids is None and len(a.dataset) != 1:
        raise DataError("--dataset: give one ID, or SPLIT=ID for each split")
    from_ir_datasets(ids or a.dataset[0], a.out, split=a.split, judged_only=a.judged_only)


def register(subparsers) -> None:
    p = subparsers.add_parser("prepare", help="validate a collection and write it (or a sample) for the pipeline")
    p.add_argument("--root", required=True, help="collection folder in the shared layout")
    p.add_argument("--out", required=True, help="output folder (written atomically)")
    p.add_argument("--splits", nargs="+", help="splits to keep (default: all found; 'test' without splits)")
    p.add_argument("--qrels-name", help="qrels file to use instead of qrels[.split].tsv, e.g. qrels.gain.tsv "
                                        "or qrels.gain.{split}.tsv")
    p.add_argument("--sample-json", help='sampling spec, JSON or a JSON file: {"queries": {"train": 4000}, '
                                         '"max_docs": 10000}')
    p.add_argument("--seed", type=int, default=0, help="seed for sampling (default 0)")
    p.add_argument("--origin", help="fetch this collection (cranfield, cisi) into --root when it is absent")
    p.add_argument("--origin-url", help="download from this URL instead of the public origin")
    p.add_argument("--timeout", type=float, default=20.0, help="network timeout in seconds (default 20)")
    p.add_argument("--strict", action="store_true", help="qrels naming unknown documents/queries are errors")
    p.add_argument("--judged-only", action="store_true",
                   help="keep only queries with a positive judgment (in splits that are not sampled)")
    p.set_defaults(func=cmd_prepare)

    p = subparsers.add_parser("validate", help="check a collection folder and print its counts")
    p.add_argument("--root", required=True)
    p.add_argument("--splits", nargs="+")
    p.add_argument("--qrels-name")
    p.add_argument("--strict", action="store_true")
    p.add_argument("--out", help="write the report here (JSON) instead of printing it")
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("build-debian", help="rebuild the Debian known-item collection")
    p.add_argument("--translation", required=True, help="apt Translation-en file (main/i18n)")
    p.add_argument("--dumpavail", required=True, help="output of `apt-cache dumpavail`")
    p.add_argument("--out", required=True, help="output folder (written atomically)")
    p.set_defaults(func=cmd_build_debian)

    p = subparsers.add_parser("convert-msmarco", help="MS MARCO official files -> shared layout")
    p.add_argument("--collection", required=True, help="collection.tsv or msmarco-docs.tsv")
    p.add_argument("--queries", nargs="+", required=True, metavar="SPLIT=PATH")
    p.add_argument("--qrels", nargs="*", metavar="SPLIT=PATH")
    p.add_argument("--kind", choices=["auto", "passage", "document"], default="auto")
    p.add_argument("--judged-only", action="store_true", help="keep only queries that have qrels")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_convert_msmarco)

    p = subparsers.add_parser("from-ir-datasets", help="an ir_datasets dataset -> shared layout")
    p.add_argument("--dataset", nargs="+", required=True, metavar="ID|SPLIT=ID")
    p.add_argument("--split", default="test", help="split name for a single ID (default test)")
    p.add_argument("--judged-only", action="store_true")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_from_ir_datasets)
