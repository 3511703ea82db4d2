"""Atomic file output: every result is written to a temporary sibling and renamed into place,
so a job killed at any moment never leaves a file that a rerun would take as complete.

Confinement: when PEFTIR_OUTPUT_ROOTS is set (the Snakefile sets it to the run's results/ and
checkpoints/ directories), every path written or removed here must resolve inside one of those roots;
anything else is refused before a byte is written or a file removed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

OUTPUT_ROOTS_ENV = "PEFTIR_OUTPUT_ROOTS"


class UnsafePath(ValueError):
    pass


def output_roots() -> list[Path] | None:
    """The directories outputs must stay in (PEFTIR_OUTPUT_ROOTS, os.pathsep-separated), or None."""
    value = os.environ.get(OUTPUT_ROOTS_ENV)
    return [Path(p).resolve() for p in value.split(os.pathsep) if p] if value else None


def check_output_path(path: str | Path) -> Path:
    """`path`, after checking that it resolves (symlinks and '..' followed) inside the output roots."""
    roots = output_roots()
    if roots is None:
        return Path(path)
    real = Path(path).resolve()
    if not any(real == r or r in real.parents or _in_atomic_sibling(real, r) for r in roots):
        raise UnsafePath(f"{path}: resolves to {real}, outside the output directories "
                         f"{[str(r) for r in roots]}; nothing was written or removed")
    return Path(path)


def _in_atomic_sibling(real: Path, root: Path) -> bool:
    """`real` lies in `atomic_path(root)`'s temporary copy of the root itself (`.NAME.XXXX.tmp/NAME/...`
    beside it), which is renamed onto the root on success: a converted dataset root is written so."""
    for p in real.parents:
        if p.parent == root.parent and p.name.startswith(f".{root.name}.") and p.name.endswith(".tmp"):
            rest = real.relative_to(p).parts
            return bool(rest) and rest[0] == root.name
    return False


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success rename it onto `path` (file or directory)."""
    path = check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)) / path.name
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file for writing (gzip when the name ends in .gz) and rename it on success."""
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            f = gzip.open(tmp, mode if "b" in mode else mode + "t", encoding=None if "b" in mode else encoding)  # noqa: SIM115 (closed below)
        else:
            f = open(tmp, mode, encoding=None if "b" in mode else encoding)  # noqa: SIM115 (closed below)
        with f:
            yield f


def sha256_file(path: str | Path) -> str:
    """sha256 of a file's bytes, streamed (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(obj, path: str | Path) -> None:
    with atomic_open(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")


def read_json(path: str | Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_jsonl(rows, path: str | Path) -> None:
    with atomic_open(path) as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def read_jsonl(path: str | Path) -> list:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
