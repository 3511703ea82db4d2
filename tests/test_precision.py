"""bf16 autocast settings (peftir.precision): true / false / auto, resolved by the job on its own device."""

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from peftir import config as pcfg
from peftir import precision


@pytest.fixture
def native(monkeypatch):
    """Pretend the CPU has (True) or lacks (False) native bf16 kernels."""

    def set_(value: bool):
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: value)

    return set_


@pytest.mark.parametrize("has_native", [True, False])
def test_auto_follows_the_hardware_explicit_settings_do_not(native, has_native):
    native(has_native)
    assert precision.native_bf16("cpu") is has_native
    assert precision.resolve_bf16("auto", "cpu") is has_native
    assert precision.resolve_bf16("AUTO") is has_native
    assert precision.resolve_bf16(True) is True and precision.resolve_bf16("true") is True
    assert precision.resolve_bf16(False) is False and precision.resolve_bf16("false") is False


def test_forced_bf16_without_native_kernels_warns(native, caplog):
    native(False)
    with caplog.at_level(logging.WARNING, logger="peftir.precision"):
        assert precision.resolve_bf16(True, "cpu") is True
    assert "no native bf16 kernels" in caplog.text
    native(True)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="peftir.precision"):
        precision.resolve_bf16(True, "cpu")
    assert not caplog.text


def test_no_cuda_means_no_native_bf16_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert precision.native_bf16("cuda") is False


@pytest.mark.parametrize("bad", ["yes", 1.5, None, "on"])
def test_other_values_are_refused(bad):
    with pytest.raises(ValueError, match="expected true, false or auto"):
        precision.resolve_bf16(bad)
    with pytest.raises(ValueError, match="expected true, false or auto"):
        precision.bf16_flag(bad)


@pytest.mark.parametrize(("argv", "value"), [([], "false"), (["--bf16"], "true"), (["--bf16=auto"], "auto"),
                                              (["--bf16", "FALSE"], "false"), (["--bf16=true"], "true")])
def test_command_line_forms(argv, value):
    p = argparse.ArgumentParser()
    precision.add_bf16_arg(p)
    assert p.parse_args(argv).bf16 == value


def test_the_flag_a_rule_passes_round_trips():
    p = argparse.ArgumentParser()
    precision.add_bf16_arg(p)
    for setting in (True, False, "auto"):
        flag = precision.bf16_flag(setting)
        assert " " not in flag  # one shell word: the rules quote it
        assert p.parse_args([flag]).bf16 == str(setting).lower()


def test_the_schema_takes_auto_and_refuses_other_words():
    c = pcfg.load()
    assert {c[k]["bf16"] for k in ("retriever", "reranker", "rerank", "encode")} == {"auto"}
    assert not pcfg.schema_errors(c)
    bad = {**c, "encode": {**c["encode"], "bf16": "yes"}}
    assert any("bf16" in e or "yes" in e for e in pcfg.schema_errors(bad))


def test_importing_precision_does_not_load_torch():
    """The Snakefile imports bf16_flag while it plans: that must not cost a torch import."""
    code = "import sys, peftir.precision; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("has_native", [True, False])
def test_the_notice_before_a_run_says_what_auto_will_do_here(native, has_native, capsys):
    native(has_native)
    from peftir import cli, precision_notice

    assert cli.main(["precision"]) == 0
    out = capsys.readouterr().out
    assert ("computes bf16 natively" in out) is has_native
    assert ("every job computes in float32" in out) is not has_native
    if not has_native:  # the float32 cost is a number, and the README section it comes from exists
        assert f"~{precision_notice.FLOAT32_DEFAULT_HOURS} h" in out
        assert "Without native bf16" in (Path(__file__).resolve().parents[1] / "bench" / "README.md").read_text()
