"""Per-job CPU accounting that does not miss the end of a job.

Snakemake's `benchmark:` samples a job's process tree every 0.5 s for its first 30 s and every 30 s after
that; CPU time spent after the last sample never reaches the benchmark file, so a 90 s job can lose a third
of its CPU time (the default grid's benchmark files summed to 65% of the job wall time; issue 17). When the
environment names a log (`PEFTIR_JOBLOG`, set by the Snakefile to benchmarks/jobs.jsonl), every
`python -m peftir` process appends one JSON line as it exits:

    {"command": "train-retriever", "argv": [...], "start": <epoch s>, "end": <epoch s>, "wall_s": ...,
     "cpu_s": user + system of the process and of its waited-for children (getrusage), "max_rss_mb": ...,
     "ready_s": seconds from the process's start to the start of the command (interpreter, imports)}

One `os.write` of one short line to a file opened with O_APPEND: concurrent jobs on one machine never
interleave their lines. bench/grid_cost.py reads the log (utilisation = summed CPU / (cores × wall)).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

ENV = "PEFTIR_JOBLOG"


def process_start() -> float:
    """Epoch seconds at which this process started (from /proc; the import time where there is no /proc)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime, clock ticks since boot
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


_IMPORTED = time.time()


def cpu_seconds() -> tuple[float, float]:
    """(user + system CPU seconds of this process and its waited-for children, max RSS in MB)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            max(me.ru_maxrss, kids.ru_maxrss) / 1024.0)


def record(command: str, ready: float, argv: list[str] | None = None, path: str | None = None,
           rc: int = 0) -> dict | None:
    """Append this process's line to the job log named by `path` or $PEFTIR_JOBLOG (nothing when unset)."""
    path = path or os.environ.get(ENV)
    if not path:
        return None
    start, end = process_start(), time.time()
    cpu, rss = cpu_seconds()
    row = {"command": command, "argv": list(sys.argv[1:] if argv is None else argv), "pid": os.getpid(),
           "start": round(start, 3), "end": round(end, 3), "wall_s": round(end - start, 3),
           "cpu_s": round(cpu, 3), "max_rss_mb": round(rss, 1), "ready_s": round(ready - start, 3), "rc": rc}
    line = (json.dumps(row) + "\n").encode()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as e:  # accounting must never fail a job
        print(f"peftir: job log {path}: {e}", file=sys.stderr)
    return row


def read(path: str) -> list[dict]:
    """The log's rows (a torn last line, from a job killed mid-write, is skipped)."""
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows
