"""Curves: parsing, seed bands, EMA and the convergence summary on synthetic curves with known answers."""

import json
import math

import numpy as np
import pytest

from peftir.analysis.curves import (
    align_seeds,
    band,
    convergence_summary,
    ema,
    last_half_variance,
    method_bands,
    parse_curve,
    read_curve,
    spike_mask,
    steps_to_fraction,
    steps_to_gain_fraction,
)


def test_read_curve_tolerates_missing_keys(tmp_path):
    rows = [
        {"step": 1, "loss": 2.0, "lr": 1e-4, "grad_norm": 3.0},
        {"step": 2, "loss": 1.5},  # no lr / grad_norm
        {"loss": 9.0},  # no step: skipped
        {"step": 2, "dev_RR@10": 0.2},
        {"step": 3, "loss": 1.0, "lr": 1e-4, "dev_RR@10": 0.3, "dev_nDCG@10": 0.4},
        {"step": 1, "loss": 1.9, "lr": 1e-4, "grad_norm": 3.0},  # step 1 re-logged: the last one wins
    ]
    path = tmp_path / "curve.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    c = read_curve(path)
    assert c.train["step"].tolist() == [1, 2, 3]
    assert c.train["loss"].tolist() == [1.9, 1.5, 1.0]
    assert math.isnan(c.train["grad_norm"][1]) and math.isnan(c.train["lr"][1])
    assert c.eval["step"].tolist() == [2, 3]
    assert c.eval["dev_RR@10"].tolist() == [0.2, 0.3] and math.isnan(c.eval["dev_nDCG@10"][0])
    empty = parse_curve([{"step": 1, "lr": 0.1}])
    assert len(empty.train) == 0 and len(empty.eval) == 0
    assert math.isnan(convergence_summary(empty)["final dev_RR@10"])


def test_ema():
    """β = .5: s = 4, .5·4 + .5·2 = 3, (NaN: carried) 3, .5·3 + .5·1 = 2."""
    assert ema([4, 2, np.nan, 1], beta=0.5).tolist() == [4, 3, 3, 2]
    assert np.isnan(ema([np.nan, 1.0])[0])


def test_align_and_band():
    """Seeds at steps {1,2,3} and {2,3,4}: inner → steps 2, 3; mean of (2, 4) = 3, std = √2."""
    a = parse_curve([{"step": s, "loss": float(s)} for s in (1, 2, 3)]).train
    b = parse_curve([{"step": s, "loss": float(s + 2)} for s in (2, 3, 4)]).train
    inner = band(align_seeds([a, b], "loss"))
    assert inner["step"].tolist() == [2, 3]
    assert inner["mean"].tolist() == [3.0, 4.0]
    assert inner["std"].tolist() == pytest.approx([math.sqrt(2)] * 2)
    outer = band(align_seeds([a, b], "loss", how="outer"))
    assert outer["step"].tolist() == [1, 2, 3, 4] and outer["n"].tolist() == [1, 2, 2, 1]
    assert outer["std"][0] == 0.0 and outer["mean"][3] == 6.0


def test_method_bands():
    curves = [
        parse_curve(
            [{"step": s, "loss": 1.0 + i} for s in range(4)] + [{"step": 3, "dev_RR@10": 0.1 * (i + 1)}]
        )
        for i in range(2)
    ]
    b = method_bands(curves)
    assert b["loss"]["mean"].tolist() == [1.5] * 4
    assert b["loss_ema"]["mean"].tolist() == pytest.approx([1.5] * 4)
    assert b["dev"]["mean"].tolist() == pytest.approx([0.15])


def test_steps_to_fraction():
    """Final .8: 90% = .72 first reached at step 300 (.75), 95% = .76 at 400 (.79)."""
    steps, dev = [100, 200, 300, 400, 500], [0.1, 0.5, 0.75, 0.79, 0.8]
    assert steps_to_fraction(steps, dev, 0.9) == 300
    assert steps_to_fraction(steps, dev, 0.95) == 400
    assert math.isnan(steps_to_fraction([1, 2], [0.0, 0.0], 0.9))


def test_steps_to_gain_fraction():
    """From 0.5 at step 0 to 1.0: 90% of the gain = 0.95 -> step 30 (1.0), 80% = 0.9 -> step 20 (0.9)."""
    steps, dev = [0, 10, 20, 30], [0.5, 0.6, 0.9, 1.0]
    assert steps_to_gain_fraction(steps, dev, 0.9) == 30
    assert steps_to_gain_fraction(steps, dev, 0.8) == 20
    assert steps_to_fraction(steps, dev, 0.5) == 0  # the literal definition is reached at step 0 here
    assert math.isnan(steps_to_gain_fraction(steps, [0.8, 0.9, 0.7, 0.8], 0.9))  # no gain
    assert math.isnan(steps_to_gain_fraction([0], [0.5], 0.9))


def test_last_half_variance():
    """Steps 0..7, midpoint 3.5: the tail is steps 4..7 = [0, 2, 0, 2], mean 1, var = 4/3 (ddof 1)."""
    assert last_half_variance(range(8), [5, 5, 5, 5, 0, 2, 0, 2]) == pytest.approx(4 / 3)


def _spiky_loss(n=200, spikes=(50, 120, 170)):
    """Smooth decay 2·exp(−s/50) + 0.5, ±0.01 alternating noise, +1.0 at the spike steps."""
    s = np.arange(n)
    loss = 2 * np.exp(-s / 50) + 0.5 + 0.01 * (-1) ** s
    loss[list(spikes)] += 1.0
    return s, loss


def test_spike_mask_finds_planted_spikes():
    _, loss = _spiky_loss()
    assert np.flatnonzero(spike_mask(loss, k=5)).tolist() == [50, 120, 170]
    assert spike_mask(loss, k=1e6).sum() == 0
    assert spike_mask(2 * np.exp(-np.arange(100) / 20)).sum() == 0  # monotone decay: never above EMA
    flat = np.ones(20)
    flat[10] = 2.0  # MAD = 0: any rise above the EMA counts, the drop after it does not
    assert np.flatnonzero(spike_mask(flat)).tolist() == [10]


def test_convergence_summary():
    s, loss = _spiky_loss()
    rows = [{"step": int(i), "loss": float(v)} for i, v in zip(s, loss)]
    rows += [{"step": st, "dev_RR@10": d} for st, d in [(50, 0.1), (100, 0.29), (150, 0.3), (199, 0.3)]]
    c = parse_curve(rows)
    summ = convergence_summary(c, k=5)
    assert summ["final dev_RR@10"] == 0.3
    assert summ["steps to 90%"] == 100 and summ["steps to 95%"] == 100  # .29 ≥ .285
    assert summ["gain dev_RR@10"] == pytest.approx(0.2)  # 0.1 -> 0.3
    assert summ["steps to 90% of gain"] == 100 and summ["steps to 95% of gain"] == 100  # .29 ≥ .28, .29
    assert summ["loss spikes"] == 3 and summ["last step"] == 199
    tail = loss[s >= 99.5]
    assert summ["loss var (last half)"] == pytest.approx(np.var(tail, ddof=1))
