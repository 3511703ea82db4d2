"""The routine both training commands share (peftir.train_job): the same arguments, and dev curves that
run where the model is. (Outputs of the commands: tests/test_rerank.py, tests/test_determinism.py.)"""

import argparse

import pytest
import torch

from peftir import reranker, retriever
from peftir.models.backbone import load_tokenizer
from peftir.tasks import DevSet

CORPUS = {"d1": "apt install kernel", "d2": "dpkg remove package", "d3": "grub boot config"}


class Recorder(torch.nn.Module):
    """Stands in for a bi-/cross-encoder: records the device of every input, returns constant scores."""

    def __init__(self):
        super().__init__()
        self.bert = type("B", (), {"config": type("C", (), {"hidden_size": 2})()})()
        self.devices = set()

    def encode(self, ids, mask):
        self.devices |= {ids.device.type, mask.device.type}
        return torch.ones(len(ids), 2)

    def score(self, input_ids, attention_mask, token_type_ids):
        self.devices |= {input_ids.device.type, attention_mask.device.type, token_type_ids.device.type}
        return torch.zeros(len(input_ids))


@pytest.fixture(scope="module")
def dev():
    queries = {"q1": "install kernel", "q2": "remove package"}
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    run = {"q1": {"d1": 2.0, "d2": 1.0, "d3": 0.5}, "q2": {"d2": 2.0, "d1": 1.0}}
    return DevSet(queries, qrels, run, CORPUS, n_queries=2, candidates=3)


@pytest.mark.parametrize("stage", ["retriever", "reranker"])
def test_dev_curve_runs_on_the_training_device(dev, stage):
    """Inputs go to the device the job trains on (here `meta`, which any tensor can move to on a CPU
    machine); before the shared routine, the retriever's dev curve always sent them to the CPU."""
    tok, model = load_tokenizer("tiny:2x32"), Recorder()
    if stage == "retriever":
        fn = retriever.dev_fn_for(dev, tok, 8, 16, device="meta")
    else:
        fn = reranker.dev_fn_for(dev, CORPUS, tok, 8, 28, device="meta")
    out = fn(model)
    assert model.devices == {"meta"}
    assert set(out) == {"RR@10"} and 0 <= out["RR@10"] <= 1


def _options(register):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    register(sub)
    (parser,) = sub.choices.values()
    return {a.dest: (a.required, a.default) for a in parser._actions if a.dest != "help"}


def test_both_training_commands_take_the_same_arguments():
    r, c = _options(retriever.register), _options(reranker.register)
    assert set(r) - set(c) == {"probe_json", "probe_out"} and set(c) <= set(r)
    assert {k: r[k] for k in c} == c
    assert c["triples"] == (True, None) and c["seed"] == (False, 1)
