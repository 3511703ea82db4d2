"""Fixtures for the data tests: a tiny collection written into tmp_path, and the shared data folder
(tests that need it skip when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from data_testutil import write_corpus, write_lines

SHARED = Path(os.environ.get("PEFTIR_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"shared data folder {SHARED} is absent")
    return SHARED


@pytest.fixture
def tiny(tmp_path) -> Path:
    """Collection with splits train/test: 8 documents (d0 empty), judged docs d1..d5.

    train: q1 -> d1 (1), d2 (0); q2 -> d3 (2); q3 -> nothing; q4 -> d4 (0) only
    test:  t1 -> d5 (1); t2 -> d1 (1), dX (1, not in the corpus)
    """
    root = tmp_path / "tiny"
    root.mkdir()
    write_corpus(root / "corpus.jsonl.gz", [("d0", "", "")] + [(f"d{i}", f"title {i}", f"text {i}") for i in range(1, 8)])
    write_lines(root / "queries.train.tsv", ["q1\tfirst query", "q2\tsecond", "q3\tthird", "q4\tfourth"])
    write_lines(root / "qrels.train.tsv", ["q1 0 d1 1", "q1 0 d2 0", "q2 0 d3 2", "q4 0 d4 0"])
    write_lines(root / "queries.test.tsv", ["t1\ttest one", "t2\ttest two"])
    write_lines(root / "qrels.test.tsv", ["t1\t0\td5\t1", "t2\t0\td1\t1", "t2\t0\tdX\t1"])
    return root
