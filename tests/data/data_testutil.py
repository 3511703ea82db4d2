"""Helpers for the data tests (importable: pytest puts tests/data on sys.path)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def write_corpus(path: Path, docs: list[tuple[str, str, str]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for did, title, text in docs:
            f.write(json.dumps({"_id": did, "title": title, "text": text}) + "\n")


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
