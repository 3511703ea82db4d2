"""Fetch the classic collections from their public origins when a configured folder is absent.

The University of Glasgow IR group distributes Cranfield and CISI as tar archives of the raw SMART
files (see the shared data README). `ensure_collection` makes a folder in the shared layout:

1. the folder already holds `corpus.jsonl.gz`: nothing to do;
2. it holds the raw files: convert them in place (no network);
3. otherwise download the archive (short socket timeout, overall deadline), extract the raw files
   and convert them. Without network this stops at once with
   `cannot reach <url> (<reason>): put the collection under <root> or check network`.

The folder is written atomically (temporary sibling, then rename), raw files kept beside the
converted ones, plus `origin.json` (url and sha256 of the archive).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from peftir.data.collections import DataError
from peftir.data.smart import convert_cisi, convert_cranfield, write_flat
from peftir.io import atomic_path, check_output_path

log = logging.getLogger(__name__)

GLASGOW = "http://ir.dcs.gla.ac.uk/resources/test_collections"


@dataclass(frozen=True)
class Origin:
    url: str
    raw_files: tuple[str, ...]
    convert: object  # raw folder -> (docs, queries, {qrels file name: qrels})


ORIGINS = {
    "cranfield": Origin(f"{GLASGOW}/cran/cran.tar.gz", ("cran.all.1400", "cran.qry", "cranqrel"), convert_cranfield),
    "cisi": Origin(f"{GLASGOW}/cisi/cisi.tar.gz", ("CISI.ALL", "CISI.QRY", "CISI.REL"), convert_cisi),
}


def get_origin(name: str) -> Origin:
    if name not in ORIGINS:
        raise DataError(f"unknown origin {name!r}; known: {', '.join(sorted(ORIGINS))}")
    return ORIGINS[name]


def download(url: str, dest: Path, root: Path, timeout: float = 20.0, deadline: float = 600.0) -> str:
    """Stream `url` to `dest`; returns its sha256. Any network failure is one clear DataError."""
    def fail(reason) -> DataError:
        return DataError(f"cannot reach {url} ({reason}): put the collection under {root} or check network")

    h = hashlib.sha256()
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
            while block := r.read(1 << 16):
                if time.monotonic() - start > deadline:
                    raise fail(f"download took longer than {deadline:.0f} s")
                f.write(block)
                h.update(block)
    except urllib.error.HTTPError as e:
        raise fail(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise fail(e.reason) from None
    except TimeoutError:
        raise fail(f"no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as e:
        raise fail(f"{e.__class__.__name__}: {e}") from None
    return h.hexdigest()


def extract_raw(archive: Path, names: tuple[str, ...], into: Path) -> None:
    """Extract the members whose base names are `names` (case-insensitive) flat into `into`."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {Path(m.name).name.lower(): m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in names if n.lower() not in members]
            if missing:
                raise DataError(f"{archive}: archive lacks {', '.join(missing)}")
            for name in names:
                src = tar.extractfile(members[name.lower()])
                with src, open(into / name, "wb") as f:
                    shutil.copyfileobj(src, f)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{archive}: not a readable tar archive ({e})") from None


def _convert_into(folder: Path, raw_dir: Path, origin: Origin) -> None:
    docs, queries, qrels_files = origin.convert(raw_dir)
    write_flat(folder, docs, queries, qrels_files)


def fetch_origin(name: str, root: str | Path, url: str | None = None, timeout: float = 20.0) -> Path:
    """Download collection `name` (optionally from another `url`) and write it to `root`."""
    origin, root = get_origin(name), Path(root)
    url = url or origin.url
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DataError(f"{root}: exists but holds no collection; empty it or choose another folder")
    with tempfile.TemporaryDirectory(prefix="peftir-fetch-") as td:
        archive = Path(td) / "archive"
        log.info("downloading %s", url)
        sha = download(url, archive, root, timeout=timeout)
        with atomic_path(root) as tmp:
            tmp.mkdir()
            extract_raw(archive, origin.raw_files, tmp)
            _convert_into(tmp, tmp, origin)
            with open(tmp / "origin.json", "w", encoding="utf-8") as f:
                json.dump({"name": name, "url": url, "sha256": sha}, f, indent=2, sort_keys=True)
                f.write("\n")
    log.info("wrote %s from %s", root, url)
    return root


def ensure_collection(root: str | Path, origin: str | None = None, url: str | None = None,
                      timeout: float = 20.0) -> Path:
    """Make sure `root` holds a collection in the shared layout (see module doc)."""
    root = Path(root)
    if (root / "corpus.jsonl.gz").is_file():
        return root
    if origin is None:
        raise DataError(f"{root}: no collection here (corpus.jsonl.gz missing); put it there or pass an "
                        f"origin ({', '.join(sorted(ORIGINS))}) to fetch it")
    o = get_origin(origin)
    check_output_path(root)  # converting or fetching writes into the root
    if root.is_dir() and all((root / n).is_file() for n in o.raw_files):
        with tempfile.TemporaryDirectory(prefix=".convert-", dir=root) as td:
            _convert_into(Path(td), root, o)
            for p in sorted(Path(td).iterdir(), key=lambda p: p.name == "corpus.jsonl.gz"):
                os.replace(p, root / p.name)  # corpus last: its presence marks the folder complete
        return root
    return fetch_origin(origin, root, url=url, timeout=timeout)
