"""No half-written results: every writer goes through peftir.io's temporary-sibling-then-rename, so an
exception (or a SIGKILL) in the middle of a write leaves neither the target nor, for exceptions, debris."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from peftir.io import atomic_open, atomic_path, read_json, read_jsonl, write_json, write_jsonl


class Boom(RuntimeError):
    pass


def _rows_then_boom():
    yield {"a": 1}
    yield {"a": 2}
    raise Boom("interrupted mid-write")


def _json_dump_boom(path):
    with atomic_open(path) as f:
        f.write('{"partial": ')
        raise Boom("interrupted mid-write")


def _gzip_boom(path):
    with atomic_open(path) as f:  # .gz: gzip text stream
        f.write("line 1\n")
        raise Boom("interrupted mid-write")


def _binary_boom(path):
    with atomic_open(path, "wb") as f:
        f.write(b"\x00" * 1000)
        raise Boom("interrupted mid-write")


def _dir_boom(path):
    with atomic_path(path) as tmp:
        tmp.mkdir()
        (tmp / "trainable.pt").write_bytes(b"half")
        raise Boom("interrupted mid-write")


def _npz_boom(path):
    from peftir.encode import save_npz

    class Unconvertible:
        def __array__(self, *a, **k):
            raise Boom("interrupted mid-write")

    save_npz(path, ids=np.array(["a"]), emb=np.zeros((1, 2), np.float32), z=Unconvertible())


def _run_boom(path):
    from peftir.data.trec import write_run

    write_run({"q1": {"d1": 1.0}, "q2": {"d2": float("inf")}}, path)


def _verify_boom(path):
    from peftir.verify import write_expected

    # the header is written, then yaml.safe_dump cannot represent a numpy scalar
    write_expected({"retriever/x/none/s0": {"ds.test": {"RR@10": np.float64(0.5)}}}, path)


WRITERS = {
    "jsonl": ("out.jsonl", lambda p: write_jsonl(_rows_then_boom(), p)),
    "jsonl.gz": ("out.jsonl.gz", lambda p: write_jsonl(_rows_then_boom(), p)),
    "json text": ("out.json", _json_dump_boom),
    "gzip text": ("out.tsv.gz", _gzip_boom),
    "binary": ("ckpt.pt", _binary_boom),
    "directory": ("model", _dir_boom),
    "npz (encode shard)": ("shard0.npz", _npz_boom),
    "trec run (bad score on 2nd query)": ("x.run", _run_boom),
    "expected scores": ("expected.yaml", _verify_boom),
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_interrupted_writer_leaves_no_target_and_no_debris(tmp_path, name):
    target, write = WRITERS[name]
    with pytest.raises((Boom, ValueError, yaml.YAMLError)):
        write(tmp_path / target)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["jsonl", "json text", "directory"])
def test_interrupted_rewrite_keeps_the_previous_complete_file(tmp_path, name):
    target, write = WRITERS[name]
    path = tmp_path / target
    if name == "directory":
        path.mkdir()
        (path / "model.json").write_text("{}")
    else:
        write_jsonl([{"old": True}], path) if name == "jsonl" else write_json({"old": True}, path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(Boom):
        write(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if name == "jsonl":
        assert read_jsonl(path) == [{"old": True}]
    elif name == "json text":
        assert read_json(path) == {"old": True}
    else:
        assert (path / "model.json").read_text() == "{}"


def test_successful_writes_round_trip(tmp_path):
    write_json({"b": 1, "a": [1, 2]}, tmp_path / "x.json")
    write_jsonl([{"a": 1}, {"b": 2}], tmp_path / "x.jsonl.gz")
    assert read_json(tmp_path / "x.json") == {"a": [1, 2], "b": 1}
    assert read_jsonl(tmp_path / "x.jsonl.gz") == [{"a": 1}, {"b": 2}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.jsonl.gz"]


def test_sigkill_mid_write_leaves_no_target(tmp_path):
    """A process killed inside a write (no `finally` runs) leaves only a hidden temporary sibling,
    never the target: a rerun cannot take a half-written file as complete."""
    target = tmp_path / "metrics.json"
    code = textwrap.dedent(f"""
        import sys, time
        from peftir.io import atomic_open
        with atomic_open({str(target)!r}) as f:
            f.write('{{"partial": ')
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    debris = [p.name for p in tmp_path.iterdir()]
    assert all(n.startswith(".metrics.json.") and n.endswith(".tmp") for n in debris), debris
    # the next (complete) write is unaffected by the debris
    write_json({"ok": 1}, target)
    assert json.loads(target.read_text()) == {"ok": 1}


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """Trainer.save_checkpoint: a failure inside torch.save leaves the previous checkpoint intact."""
    import torch

    from peftir.models import factory
    from peftir.train import TrainConfig, Trainer

    spec = {"method": "bitfit", "params": {}, "budget_pct": None}
    model = factory.build("retriever", "tiny:1x32", spec, "mean")
    t = Trainer(model, None, TrainConfig(steps=2), seed=1, ckpt_dir=tmp_path, key="k")
    torch.save({"step": 2}, t.ckpt)

    def bad_save(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise Boom("disk full")

    monkeypatch.setattr(torch, "save", bad_save)
    with pytest.raises(Boom):
        t.save_checkpoint()
    monkeypatch.undo()
    assert torch.load(t.ckpt, weights_only=False) == {"step": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
