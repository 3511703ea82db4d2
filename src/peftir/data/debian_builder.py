"""Rebuild the Debian known-item collection (query = package synopsis, passage = long description).

Implements derivation rules 1-7 of the shared data README (debian/ section), from an apt
`Translation-en` file and `apt-cache dumpavail` output:

1. one record per package name, the first stanza in file order kept;
2. synopsis = first line of `Description-en`; passage = the other lines, each stripped, Debian's
   paragraph-separator lines (` .`) removed, joined with single spaces;
3. source = the package's `Source` from dumpavail (a version in parentheses ignored; no `Source`
   field: the package name); packages absent from dumpavail: source = package name;
4. the package name and its source name (longest first) are removed from synopsis and passage,
   case-insensitively, as whole words: not preceded or followed by a letter, digit, `_` or `+`.
   Each match becomes a space, then whitespace is collapsed;
5. filters in order, keeping the first record in file order: synopsis without a letter or digit;
   passage under 15 words; passage equal to an already kept one; synopsis equal to an already kept
   one (equality after casefold; "kept" = kept in the output, see `apply_filters`);
6. what is left are the (query, passage) pairs;
7. split by source: the sorted source names are shuffled with `random.Random(42).shuffle`, then taken
   in that order into test until it holds >= round(5% of all pairs) queries, then into dev until it
   holds as many (>= the same target), the rest into train.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from peftir.data.collections import DataError, iter_lines
from peftir.data.layout import collapse_ws, write_layout
from peftir.io import atomic_path

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
MIN_PASSAGE_WORDS = 15
TEST_FRACTION = 0.05
SPLIT_SEED = 42


@dataclass
class Pair:
    package: str
    source: str
    query: str
    passage: str
    split: str = ""


def iter_stanzas(path: str | Path) -> Iterator[tuple[int, dict[str, list[str]]]]:
    """deb822 stanzas -> (first line number, {field: [value of first line, continuation lines...]})."""
    fields: dict[str, list[str]] = {}
    start, last = 0, None
    for n, line in iter_lines(path):
        if not line.strip():
            if fields:
                yield start, fields
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is None:
                raise DataError(f"{path}:{n}: continuation line outside a field")
            fields[last].append(line)
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or " " in name:
            raise DataError(f"{path}:{n}: expected 'Field: value', got {line[:60]!r}")
        if not fields:
            start = n
        last = name
        fields[name] = [value.strip()]
    if fields:
        yield start, fields


def read_source_map(dumpavail: str | Path) -> dict[str, str]:
    """package -> source package (rule 3); the first stanza of a package wins."""
    out: dict[str, str] = {}
    for n, st in iter_stanzas(dumpavail):
        if "Package" not in st:
            raise DataError(f"{dumpavail}:{n}: stanza without a Package field")
        pkg = st["Package"][0]
        src = st.get("Source", [pkg])[0].split("(")[0].strip() or pkg
        out.setdefault(pkg, src)
    return out


def split_description(lines: list[str]) -> tuple[str, str]:
    """(synopsis, passage) of a Description-en field (rule 2), whitespace collapsed."""
    rest = [ln.strip() for ln in lines[1:] if ln.strip() != "."]
    return collapse_ws(lines[0]), collapse_ws(" ".join(rest))


def strip_names(text: str, names: Iterable[str]) -> str:
    """Remove each name as a whole word, case-insensitively, longest first (rule 4).

    >>> strip_names("NumPy-based tools for numpy+ and numpy", ["numpy"])
    '-based tools for numpy+ and'
    """
    for name in sorted(set(names), key=lambda s: (-len(s), s)):
        pattern = re.compile(rf"(?<![\w+]){re.escape(name)}(?![\w+])", re.IGNORECASE)
        text = pattern.sub(" ", text)
    return collapse_ws(text)


def read_translation(path: str | Path, sources: dict[str, str], progress: bool = False) -> tuple[list[Pair], dict]:
    """Rules 1-4: one stripped Pair per package in file order, and counts."""
    from tqdm import tqdm

    pairs, seen, stanzas, no_source = [], set(), 0, 0
    for n, st in tqdm(iter_stanzas(path), desc="Translation-en", unit=" stanzas", disable=not progress):
        stanzas += 1
        if "Package" not in st or "Description-en" not in st:
            raise DataError(f"{path}:{n}: stanza needs Package and Description-en")
        pkg = st["Package"][0]
        if pkg in seen:
            continue
        seen.add(pkg)
        if pkg not in sources:
            no_source += 1
        src = sources.get(pkg, pkg)
        synopsis, passage = split_description(st["Description-en"])
        names = {pkg, src}
        pairs.append(Pair(pkg, src, strip_names(synopsis, names), strip_names(passage, names)))
    counts = {"stanzas": stanzas, "duplicate_stanzas": stanzas - len(pairs), "packages": len(pairs),
              "packages_without_index_entry": no_source}
    return pairs, counts


def apply_filters(pairs: list[Pair]) -> tuple[list[Pair], dict]:
    """Rule 5: each record, in file order, meets the four tests in order; the first it fails is
    counted as its reason. "Already kept" means kept in the output: the passage and synopsis of a
    dropped record do not block later records (this reproduces the README's counts exactly)."""
    reasons = ("synopsis_without_letter_or_digit", "short_passage", "duplicate_passage", "duplicate_synopsis")
    counts = dict.fromkeys(reasons, 0)
    passages, synopses, kept = set(), set(), []
    for p in pairs:
        pk, sk = p.passage.casefold(), p.query.casefold()
        failed = (
            not any(c.isalnum() for c in p.query),
            len(p.passage.split()) < MIN_PASSAGE_WORDS,
            pk in passages,
            sk in synopses,
        )
        if any(failed):
            counts[reasons[failed.index(True)]] += 1
            continue
        passages.add(pk)
        synopses.add(sk)
        kept.append(p)
    return kept, counts


def assign_splits(pairs: list[Pair], seed: int = SPLIT_SEED, fraction: float = TEST_FRACTION) -> dict:
    """Rule 7: set `pair.split` by source package; returns {split: {"queries", "sources"}}."""
    by_source: dict[str, list[Pair]] = {}
    for p in pairs:
        by_source.setdefault(p.source, []).append(p)
    order = sorted(by_source)
    random.Random(seed).shuffle(order)
    target = round(fraction * len(pairs))
    sizes = {s: {"queries": 0, "sources": 0} for s in SPLITS}
    for src in order:
        split = next((s for s in ("test", "dev") if sizes[s]["queries"] < target), "train")
        sizes[split]["queries"] += len(by_source[src])
        sizes[split]["sources"] += 1
        for p in by_source[src]:
            p.split = split
    return sizes


def build_pairs(translation: str | Path, dumpavail: str | Path, progress: bool = False) -> tuple[list[Pair], dict]:
    """Rules 1-7 in memory: the kept pairs (file order, split set) and the counts of every step."""
    sources = read_source_map(dumpavail)
    pairs, counts = read_translation(translation, sources, progress)
    pairs, dropped = apply_filters(pairs)
    sizes = assign_splits(pairs)
    report = {**counts, "index_packages": len(sources), "dropped": dropped, "pairs": len(pairs),
              "sources": len({p.source for p in pairs}), "splits": sizes}
    return pairs, report


def build_debian(translation: str | Path, dumpavail: str | Path, out_dir: str | Path, progress: bool = True) -> dict:
    """Build the collection into `out_dir` (atomically): corpus.jsonl.gz, queries.{split}.tsv,
    qrels.{split}.tsv, package_source.tsv and report.json. Returns the report."""
    pairs, report = build_pairs(translation, dumpavail, progress)
    report.update(translation=str(translation), dumpavail=str(dumpavail))
    queries = {s: {f"q-{p.package}": p.query for p in pairs if p.split == s} for s in SPLITS}
    qrels = {s: {f"q-{p.package}": {p.package: 1} for p in pairs if p.split == s} for s in SPLITS}
    with atomic_path(out_dir) as tmp:
        docs = ((p.package, {"title": "", "text": p.passage}) for p in pairs)
        write_layout(tmp, docs, queries, qrels, extra={"report.json": report})
        with open(tmp / "package_source.tsv", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(f"{p.package}\t{p.source}\t{p.split}\n" for p in pairs)
    log.info("debian: %d pairs from %d source packages -> %s", report["pairs"], report["sources"], out_dir)
    return report
