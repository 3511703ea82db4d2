"""SMART converters (Cranfield, CISI) and fetching from origins, without any real network."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
import time

import pytest

from peftir.data.collections import DataError, iter_corpus, load_qrels, load_queries
from peftir.data.origins import ORIGINS, ensure_collection, fetch_origin
from peftir.data.smart import convert_cisi, convert_cranfield, parse_smart, write_flat

# A tiny Cranfield in the raw format: record 2 has a stray `.B` tag line inside its abstract,
# record 3 is empty; query ids in cran.qry (005, 009) are not what cranqrel uses (1, 2).
CRAN_ALL = """.I 1
.T
a wing
in a slipstream .
.A
someone
.B
j. ae. 25
.W
a wing in a slipstream .
  lift   increase .
.I 2
.T
shear flow .
.W
shear flow text
.B
continues here .
.I 3
.T
.A
.B
.W
"""
CRAN_QRY = ".I 005\r\n.W\r\nwhat is\r\nlift .\r\n.I 009\r\n.W\r\nshear ?\r\n"
CRANQREL = "1 1 2\n1 2 -1\n2 2 1 \n"
CISI_ALL = """.I 1
.T
Dewey
.A
Comaromi, J.P.
.A
Other, A.
.W
   The DDC
history.
.X
1\t5\t1
.I 2
.T
Use of Libraries
.B
Ref 1970
.W
Library use.
.X
2\t1\t1
"""
CISI_QRY = ".I 1\n.W\nWhat is DDC?\n.I 2\n.T\nA title\n.A\nX, Y.\n.W\nLibraries\nin use.\n.B\nRef\n"
CISI_REL = "     1     1\t0\t0.000000\n     2     2\t0\t0.000000\n     2     1\t0\t0.000000\n"


def _raw(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode())
    return folder


CRAN = {"cran.all.1400": CRAN_ALL, "cran.qry": CRAN_QRY, "cranqrel": CRANQREL}
CISI = {"CISI.ALL": CISI_ALL, "CISI.QRY": CISI_QRY, "CISI.REL": CISI_REL}


def test_cranfield_rules(tmp_path):
    docs, queries, qrels = convert_cranfield(_raw(tmp_path, CRAN))
    assert docs == [
        ("1", {"title": "a wing in a slipstream .", "text": "a wing in a slipstream . lift increase ."}),
        ("2", {"title": "shear flow .", "text": "shear flow text continues here ."}),
        ("3", {"title": "", "text": ""}),
    ]
    assert queries == {"1": "what is lift .", "2": "shear ?"}
    assert qrels == {"qrels.tsv": {"1": {"1": 2, "2": -1}, "2": {"2": 1}},
                     "qrels.gain.tsv": {"1": {"1": 3, "2": 0}, "2": {"2": 4}}}


def test_cisi_rules(tmp_path):
    docs, queries, qrels = convert_cisi(_raw(tmp_path, CISI))
    assert docs == [("1", {"title": "Dewey", "text": "The DDC history."}),
                    ("2", {"title": "Use of Libraries", "text": "Library use."})]
    assert queries == {"1": "What is DDC?", "2": "Libraries in use."}
    assert qrels == {"qrels.tsv": {"1": {"1": 1}, "2": {"2": 1, "1": 1}}}


@pytest.mark.parametrize("text, message", [
    ("junk\n.I 1\n", "f:1: text before the first '.I'"),
    (".I\n", "f:1: '.I' needs one id"),
    (".I 1\nloose text\n", "f:2: text outside a field"),
])
def test_smart_errors(tmp_path, text, message):
    (tmp_path / "f").write_text(text)
    with pytest.raises(DataError, match=message):
        parse_smart(tmp_path / "f")


def test_bad_cranqrel_grade(tmp_path):
    _raw(tmp_path, {**CRAN, "cranqrel": "1 1 7\n"})
    with pytest.raises(DataError, match="cranqrel:1: grade 7"):
        convert_cranfield(tmp_path)


@pytest.mark.parametrize("name, convert, qrels_files", [
    ("cranfield", convert_cranfield, ["qrels.tsv", "qrels.gain.tsv"]),
    ("cisi", convert_cisi, ["qrels.tsv"]),
])
def test_converters_reproduce_shared_files(shared_data, tmp_path, name, convert, qrels_files):
    src = shared_data / name
    docs, queries, qrels = convert(src)
    assert docs == list(iter_corpus(src / "corpus.jsonl.gz"))
    assert queries == load_queries(src / "queries.tsv")
    assert list(queries) == list(load_queries(src / "queries.tsv"))
    assert sorted(qrels) == sorted(qrels_files)
    for f in qrels_files:
        assert qrels[f] == load_qrels(src / f)
    write_flat(tmp_path, docs, queries, qrels)  # and the written files parse back the same
    assert list(iter_corpus(tmp_path / "corpus.jsonl.gz")) == docs


def test_no_network_is_a_clear_error(tmp_path):
    root = tmp_path / "cran"
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"cannot reach http://127\.0\.0\.1:9/cran\.tar\.gz \(.*\): put the "
                                        rf"collection under {root} or check network"):
        ensure_collection(root, origin="cranfield", url="http://127.0.0.1:9/cran.tar.gz", timeout=2)
    assert time.monotonic() - t0 < 10 and not root.exists()


def test_missing_collection_without_origin(tmp_path):
    with pytest.raises(DataError, match="no collection here"):
        ensure_collection(tmp_path / "x")
    with pytest.raises(DataError, match="unknown origin 'trec'"):
        ensure_collection(tmp_path / "x", origin="trec")


@pytest.fixture
def served(tmp_path):
    """A local HTTP server (127.0.0.1, free port) serving a tar.gz of the tiny CISI raw files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in CISI.items():
            info = tarfile.TarInfo(f"cisi/{name}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    site = tmp_path / "site"
    site.mkdir()
    (site / "cisi.tar.gz").write_bytes(buf.getvalue())
    (site / "broken.tar.gz").write_bytes(b"not a tar")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(site), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_from_a_local_server(served, tmp_path):
    root = ensure_collection(tmp_path / "cisi", origin="cisi", url=f"{served}/cisi.tar.gz")
    assert {p.name for p in root.iterdir()} == {"CISI.ALL", "CISI.QRY", "CISI.REL", "corpus.jsonl.gz",
                                                 "queries.tsv", "qrels.tsv", "origin.json"}
    assert load_qrels(root / "qrels.tsv") == {"1": {"1": 1}, "2": {"2": 1, "1": 1}}
    assert ensure_collection(root, origin="cisi", url="http://127.0.0.1:9/") == root  # present: no fetch
    with pytest.raises(DataError, match="HTTP 404"):
        fetch_origin("cisi", tmp_path / "other", url=f"{served}/missing.tar.gz")
    with pytest.raises(DataError, match="not a readable tar archive"):
        fetch_origin("cisi", tmp_path / "other", url=f"{served}/broken.tar.gz")
    assert not (tmp_path / "other").exists()


def test_raw_files_in_root_are_converted_in_place(tmp_path):
    root = _raw(tmp_path / "cran", CRAN)
    ensure_collection(root, origin="cranfield", url="http://127.0.0.1:9/")
    assert load_queries(root / "queries.tsv") == {"1": "what is lift .", "2": "shear ?"}
    assert (root / "qrels.gain.tsv").is_file() and not list(root.glob(".convert-*"))


def test_origins_point_at_glasgow():
    assert ORIGINS["cranfield"].url == "http://ir.dcs.gla.ac.uk/resources/test_collections/cran/cran.tar.gz"
    assert ORIGINS["cisi"].url == "http://ir.dcs.gla.ac.uk/resources/test_collections/cisi/cisi.tar.gz"
