"""`peftir verify`: regression check of the headline numbers against an expected-scores file kept in
the repository (as Pyserini's reproduction pages do), with a tolerance.

Headline numbers are the aggregate metrics the results tables are built from, one per system, evaluation
and measure: `results/{stage}/{run}/{budget}/s{seed}/metrics/{dataset}.{split}.json` gives the key
`{stage}/{run}/{budget}/s{seed}` / `{dataset}.{split}` / `{measure}`. Each expected number is reported

    OK                 |actual - expected| <= 5e-7 (equal at the 6 decimals the file stores)
    within tolerance   |actual - expected| <= tol (the number's own `tol`, else the file's `tolerance`)
    FAIL               further apart, or missing from the results

and the command exits 1 on any FAIL. Numbers the file does not list are reported as NEW (no failure).
E.g. expected 0.500000, tolerance 0.01: actual 0.5000004 -> OK, 0.507 -> within tolerance, 0.52 -> FAIL.

The expected file is produced by the pipeline itself and updated only deliberately: the rule
`expected_scores` (workflow/rules/verify.smk) runs `--write-expected` into results/verify/expected.yaml,
keeping the current file's tolerance and per-number `tol` overrides (`--like`), and a person copies it
over expected/NAME.yaml after reading the diff:

    snakemake expected_scores --configfile config/smoke.yaml
    cp results/verify/expected.yaml expected/smoke.yaml
"""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path

import yaml

from peftir.io import atomic_open, read_json, write_json

log = logging.getLogger(__name__)

EXACT = 5e-7  # half a unit in the 6th decimal: the precision of the stored numbers
DIGITS = 6
DEFAULT_TOL = 1e-3
_PATH = re.compile(r"(?:^|/)results/(?P<system>[^/]+/[^/]+/[^/]+/s\d+)/metrics/(?P<eval>[^/]+)\.json$")


def headline(metric_files: list[str | Path]) -> dict[str, dict[str, dict[str, float]]]:
    """{system: {dataset.split: {measure: value}}} from `evaluate`'s metric files."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for f in metric_files:
        m = _PATH.search(Path(f).as_posix())
        if not m:
            raise ValueError(f"{f}: not a metrics file "
                             "results/STAGE/RUN/BUDGET/sSEED/metrics/DATASET.SPLIT.json")
        agg = read_json(f)["aggregate"]
        out.setdefault(m["system"], {})[m["eval"]] = {k: float(v) for k, v in agg.items()}
    return out


def load_expected(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no expected-scores file; "
                                "write one deliberately with --write-expected")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc.get("scores"), dict):
        msg = f"{path}: no `scores:` mapping (system -> dataset.split -> measure -> value)"
        raise ValueError(msg)  # noqa: TRY004  (an input error: the CLI prints one line, exit 2)
    tol = doc.get("tolerance", DEFAULT_TOL)
    if not isinstance(tol, (int, float)) or tol < 0:
        raise ValueError(f"{path}: tolerance: {tol!r} is not a non-negative number")
    return doc


def _entry(v, default_tol: float, where: str) -> tuple[float, float]:
    """A stored number: `0.5`, or `{value: 0.5, tol: 0.02}` -> (value, tolerance)."""
    if isinstance(v, dict):
        if "value" not in v:
            raise ValueError(f"{where}: a mapping needs `value` (and optionally `tol`)")
        return float(v["value"]), float(v.get("tol", default_tol))
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{where}: {v!r} is not a number")  # noqa: TRY004  (an input error, as above)
    return float(v), default_tol


def compare(actual: dict, expected: dict) -> list[dict]:
    """One row per number: system, eval, measure, expected, actual, diff, tol, status."""
    tol = float(expected.get("tolerance", DEFAULT_TOL))
    rows, seen = [], set()
    for system, evals in expected["scores"].items():
        for ev, measures in (evals or {}).items():
            for measure, v in (measures or {}).items():
                exp, t = _entry(v, tol, f"scores.{system}.{ev}.{measure}")
                seen.add((system, ev, measure))
                act = actual.get(system, {}).get(ev, {}).get(measure)
                if act is None:
                    status, diff = "FAIL (missing)", None
                else:
                    diff = act - exp
                    status = "OK" if abs(diff) <= EXACT else "within tolerance" if abs(diff) <= t else "FAIL"
                rows.append({"system": system, "eval": ev, "measure": measure, "expected": exp, "actual": act,
                             "diff": diff, "tol": t, "status": status})
    for system, evals in sorted(actual.items()):
        for ev, measures in sorted(evals.items()):
            for measure, act in sorted(measures.items()):
                if (system, ev, measure) not in seen:
                    rows.append({"system": system, "eval": ev, "measure": measure, "expected": None,
                                 "actual": act, "diff": None, "tol": None, "status": "NEW"})
    return rows


def render(rows: list[dict]) -> str:
    def num(x, signed=False):
        x = None if x is None else round(x, DIGITS) + 0.0  # no "-0.000000"
        return "-" if x is None else (f"{x:+.6f}" if signed else f"{x:.6f}")

    head = ("system", "eval", "measure", "expected", "actual", "diff", "tol", "status")
    body = [(r["system"], r["eval"], r["measure"], num(r["expected"]), num(r["actual"]), num(r["diff"], True),
             "-" if r["tol"] is None else f"{r['tol']:g}", r["status"]) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head, *body]]
    kinds = ("OK", "within tolerance", "FAIL", "NEW")
    counts = {s: sum(r["status"].startswith(s) for r in rows) for s in kinds}
    return "\n".join(lines) + "\n" + ", ".join(f"{n} {s}" for s, n in counts.items()) + "\n"


def write_expected(actual: dict, path: str | Path, source: str = "", tolerance: float | None = None,
                   like: str | Path | None = None) -> None:
    """(Re)write the expected file from `actual`, keeping the tolerance and per-number tols of `like`
    (default: the file being replaced), when it exists."""
    path = Path(path)
    like = Path(like) if like else path
    old = load_expected(like) if like.exists() else {"scores": {}}
    tol = tolerance if tolerance is not None else old.get("tolerance", DEFAULT_TOL)
    scores: dict = {}
    for system, evals in sorted(actual.items()):
        for ev, measures in sorted(evals.items()):
            for measure, v in sorted(measures.items()):
                prev = ((old["scores"].get(system) or {}).get(ev) or {}).get(measure)
                value = round(v, DIGITS)
                if isinstance(prev, dict) and "tol" in prev:
                    value = {"value": value, "tol": prev["tol"]}
                scores.setdefault(system, {}).setdefault(ev, {})[measure] = value
    header = (f"# Expected headline scores{f' of {source}' if source else ''}, written by the pipeline\n"
              "# (python -m peftir verify --write-expected) from an actual run; never edit numbers by hand.\n"
              "# Checked by `snakemake verify` / `python -m peftir verify`: |actual - expected| <= tol is\n"
              "# 'within tolerance', more is FAIL. A number may carry its own tol: {value: x, tol: y}.\n"
              f"# Update deliberately: snakemake expected_scores --configfile {source or 'CONFIG'}, read the\n"
              "# diff against results/verify/expected.yaml, then copy that file over this one.\n")
    doc = {"source": source or None, "written": time.strftime("%Y-%m-%d"), "tolerance": tol, "scores": scores}
    with atomic_open(path) as f:
        f.write(header)
        yaml.safe_dump(doc, f, sort_keys=False, default_flow_style=False, width=120)


def expected_path(config: dict) -> str:
    """The config's `expected:` file (the verify rule's input); an error naming the key when unset."""
    if not config.get("expected"):
        raise ValueError("expected: this config names no expected-scores file; set "
                         "`expected: expected/NAME.yaml` and write it once (see workflow/rules/verify.smk)")
    return config["expected"]


def cmd_verify(a) -> int | None:
    actual = headline(a.metrics)
    if a.write_expected:
        write_expected(actual, a.expected, a.source, a.tolerance, a.like)
        n = sum(len(m) for e in actual.values() for m in e.values())
        print(f"wrote {n} expected numbers of {len(actual)} systems to {a.expected}")
        return None
    expected = load_expected(a.expected)
    if a.tolerance is not None:
        expected["tolerance"] = a.tolerance
    rows = compare(actual, expected)
    if not any(r["expected"] is not None for r in rows):  # `scores: {}` or only empty systems: no check at all
        print(f"peftir verify: {a.expected} holds no expected number: nothing was compared (write one "
              "deliberately with `snakemake expected_scores`)", file=sys.stderr)
        raise SystemExit(1)
    print(render(rows), end="")
    if a.out:
        write_json({"expected": str(a.expected), "rows": rows}, a.out)
    failed = [r for r in rows if r["status"].startswith("FAIL")]
    if failed:
        print(f"peftir verify: {len(failed)} number(s) FAIL against {a.expected}", file=sys.stderr)
        raise SystemExit(1)
    return None


def register(sub) -> None:
    p = sub.add_parser("verify", help="compare headline numbers with expected scores (regression check)")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics JSON files written by `evaluate`")
    p.add_argument("--expected", required=True, help="expected-scores YAML kept in the repository")
    p.add_argument("--tolerance", type=float, help="absolute tolerance (default: the expected file's)")
    p.add_argument("--out", help="JSON report of every number")
    p.add_argument("--write-expected", action="store_true",
                   help="deliberately (re)write --expected from the current results instead of checking")
    p.add_argument("--source", default="", help="with --write-expected: the config the numbers come from")
    p.add_argument("--like", help="with --write-expected: keep the tolerances of this expected file")
    p.set_defaults(func=cmd_verify)
