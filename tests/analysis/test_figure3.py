"""Figure 3 from the module graph: each method's insertions where the paper (paper.md §2-3) puts them."""

import json

import pytest
from matplotlib.image import imread

from peftir.analysis.figure3 import canonical, describe, locate
from peftir.cli import main


def _kinds(method, params=None):
    return sorted((i.box, i.kind, i.target) for i in describe(method, params))


def test_paths():
    assert (
        canonical("encoder.base.layers.0.attn_block.base.attention")
        == "encoder.layers.0.attn_block.attention"
    )
    assert locate("encoder.layers.0.attn_block.attention.query") == ("attention", "query")
    assert locate("encoder.layers.0.ffn_block.norm") == ("ffn_norm", "")
    assert locate("encoder.layers.1.ffn_block") is None
    assert locate("encoder") == ("encoder", "") and locate("prefix_encoder") == ("model", "prefix_encoder")


@pytest.mark.parametrize(
    "method, params, expected",
    [
        ("adapter", {"r": 2}, [("attention", "series", ""), ("ffn", "series", "")]),
        ("lora", {"r": 2}, [("attention", "low-rank", "query"), ("attention", "low-rank", "value")]),
        (
            "prefix",
            {"l": 2},
            [
                ("attention", "prefix", "key"),
                ("attention", "prefix", "value"),
                ("model", "source", "prefix_encoder"),
            ],
        ),
        (
            "mam",
            {"r": 2, "l": 2},
            [
                ("attention", "prefix", "key"),
                ("attention", "prefix", "value"),
                ("ffn", "parallel", ""),
                ("model", "source", "prefix_encoder"),
            ],
        ),
        (
            "iaa",
            {"span": "sublayer", "r": 2, "ar": 2},
            [
                ("attention", "series", ""),
                ("attn_block", "parallel", ""),
                ("ffn", "series", ""),
                ("ffn_block", "parallel", ""),
            ],
        ),
        (
            "iaa",
            {"span": "layer", "r": 2, "ar": 2},
            [("attention", "series", ""), ("ffn", "series", ""), ("layer", "parallel", "")],
        ),
        (
            "iaa",
            {"span": "model", "r": 2, "ar": 2},
            [("attention", "series", ""), ("encoder", "parallel", ""), ("ffn", "series", "")],
        ),
    ],
)
def test_insertions(method, params, expected):
    assert _kinds(method, params) == expected


def test_in_place_and_counts():
    bitfit = {i.box: i for i in describe("bitfit")}
    assert set(bitfit) == {"embeddings", "attention", "attn_norm", "ffn", "ffn_norm"}
    assert all(i.kind == "in-place" and i.target == "bias" for i in bitfit.values())
    assert bitfit["attention"].params == 4 * 32  # q, k, v, out biases of d = 32
    full = {i.box: i for i in describe("full")}
    assert full["ffn"].target == "bias,weight" and full["ffn"].params == 2 * 32 * 64 + 64 + 32
    mam = {i.kind: i for i in describe("mam", {"r": 2, "l": 2})}
    assert mam["parallel"].detail == "scale=4" and mam["parallel"].params == 2 * 32 * 2 + 2 + 32
    iaa = {i.box: i for i in describe("iaa", {"span": "layer", "r": 2, "ar": 3})}
    assert iaa["layer"].params == 2 * 32 * 3 + 3 + 32 and iaa["attention"].params == 2 * 32 * 2 + 2 + 32


def test_cli_figure3(tmp_path):
    methods = {
        "adapter": {"method": "adapter", "params": {"r": 16}},
        "iaa-m": {"method": "iaa", "params": {"span": "model", "r": 15, "ar": 24}},
        "bitfit": {"method": "bitfit"},
    }
    ordered = json.dumps(list(methods.items()))  # [[run, spec], ...]: the panels keep the config's order
    assert (
        main(
            [
                "figure3",
                "--methods-json",
                ordered,
                "--backbone",
                "all-MiniLM-L6-v2",
                "--stem",
                str(tmp_path / "f3"),
                "--json",
                str(tmp_path / "f3.json"),
            ]
        )
        == 0
    )
    img = imread(tmp_path / "f3.png")
    assert img[..., :3].std() > 0.05 and (tmp_path / "f3.pdf").stat().st_size > 1000
    found = json.loads((tmp_path / "f3.json").read_text())
    assert sorted(found) == sorted(methods)
    assert {"box": "encoder", "kind": "parallel"}.items() <= found["iaa-m"][0].items()
