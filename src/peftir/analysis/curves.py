"""Training curves: reading, seed bands, smoothing and a convergence summary (paper.md §6, claim 2:
PET is "parameter-efficient but not learning-efficient" — unstable training, slow convergence).

A curve is the trainer's JSON Lines file: training rows `{"step", "loss", "lr", "grad_norm"}` and
evaluation rows `{"step", "dev_RR@10", ...}` (any key starting with `dev_`). Missing keys read as
NaN, rows without a step are skipped, and a step written twice (a resumed run) keeps its last row.

Definitions used by the convergence summary ([D], this project's; all parameters are arguments):
- EMA smoothing: s_0 = x_0, s_t = β·s_{t−1} + (1 − β)·x_t (NaNs are skipped, the mean carried).
- Steps to f of final: the first evaluation step whose dev metric is ≥ f × (the last evaluation's
  value), for f = 0.9 and 0.95; NaN when the final value is ≤ 0 or missing.
- Loss variance over the last half: sample variance (ddof 1) of the raw loss at the steps
  s ≥ s_min + (s_max − s_min)/2.
- Loss spikes: with r_t = x_t − m_{t−1}, where m_{t−1} is the EMA (β) of the losses *before* step t,
  and the robust scale σ = 1.4826 · MAD(r) (median absolute deviation about the median of all r_t,
  t ≥ 1; 1.4826 makes it the standard deviation for Gaussian noise), step t is a spike when
  r_t > k·σ. Each such step counts once (a spike lasting two logged steps counts twice).
Per method, the summary of each seed is computed and then averaged over seeds (mean and std).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from peftir.io import read_jsonl

TRAIN_KEYS = ("loss", "lr", "grad_norm")
MAD_TO_STD = 1.4826


@dataclass
class Curve:
    """One run's curve: `train` (step, loss, lr, grad_norm) and `eval` (step, dev_* ...), by step."""

    train: pd.DataFrame
    eval: pd.DataFrame


def parse_curve(rows: Iterable[Mapping]) -> Curve:
    train, evals = [], []
    for r in rows:
        if r.get("step") is None:
            continue
        if "loss" in r:
            train.append({"step": int(r["step"]), **{k: r.get(k, np.nan) for k in TRAIN_KEYS}})
        dev = {k: v for k, v in r.items() if k.startswith("dev_")}
        if dev:
            evals.append({"step": int(r["step"]), **dev})

    def frame(recs, cols):
        df = pd.DataFrame(recs, columns=cols if not recs else None)
        df = df.drop_duplicates("step", keep="last").sort_values("step", kind="stable")
        return df.reset_index(drop=True).astype({c: (int if c == "step" else float) for c in df.columns})

    return Curve(train=frame(train, ["step", *TRAIN_KEYS]), eval=frame(evals, ["step"]))


def read_curve(path: str | Path) -> Curve:
    return parse_curve(read_jsonl(path))


def ema(values, beta: float = 0.9) -> np.ndarray:
    """Exponential moving average (module docstring); positions before the first value stay NaN."""
    x = np.asarray(values, dtype=float)
    out = np.full_like(x, np.nan)
    s = np.nan
    for i, v in enumerate(x):
        if not np.isnan(v):
            s = v if np.isnan(s) else beta * s + (1 - beta) * v
        out[i] = s
    return out


def align_seeds(frames: Sequence[pd.DataFrame], column: str, how: str = "inner") -> pd.DataFrame:
    """Index: step; one column per seed (0, 1, ...) holding `column`. `how`: "inner" keeps the
    steps every seed logged, "outer" all steps (NaN where a seed lacks one)."""
    series = [f.set_index("step")[column].rename(i) for i, f in enumerate(frames) if column in f]
    if not series:
        return pd.DataFrame(index=pd.Index([], name="step"))
    out = pd.concat(series, axis=1, join=how).sort_index()
    out.index.name = "step"
    return out


def band(aligned: pd.DataFrame) -> pd.DataFrame:
    """Columns step, mean, std (ddof 1; 0 where only one seed has the step), n (seeds)."""
    n = aligned.notna().sum(axis=1)
    std = aligned.std(axis=1, ddof=1).where(n > 1, 0.0)
    out = pd.DataFrame({"mean": aligned.mean(axis=1), "std": std, "n": n})
    return out[n > 0].reset_index()


def method_bands(
    curves: Sequence[Curve], metric: str = "dev_RR@10", beta: float = 0.9, how: str = "inner"
) -> dict[str, pd.DataFrame]:
    """Seed bands for plotting: {"loss": raw loss, "loss_ema": per-seed EMA, "dev": the metric}."""
    smoothed = [c.train.assign(loss_ema=ema(c.train["loss"], beta)) for c in curves]
    return {
        "loss": band(align_seeds([c.train for c in curves], "loss", how)),
        "loss_ema": band(align_seeds(smoothed, "loss_ema", how)),
        "dev": band(align_seeds([c.eval for c in curves], metric, how)),
    }


# --- convergence ---------------------------------------------------------------------------------


def _observed(steps, values) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) as float arrays without the entries whose value is NaN (not evaluated)."""
    s, v = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = ~np.isnan(v)
    return s[keep], v[keep]


def steps_to_fraction(steps, values, fraction: float) -> float:
    """First step whose value is ≥ fraction × the last (final) value; NaN if final ≤ 0 or missing."""
    s, v = _observed(steps, values)
    if len(v) == 0 or v[-1] <= 0:
        return np.nan
    return float(s[np.argmax(v >= fraction * v[-1])])


def steps_to_gain_fraction(steps, values, fraction: float) -> float:
    """First step whose value is ≥ v_0 + fraction × (v_final − v_0): the fraction of the *gain* over the
    first evaluation (step 0 = the untrained model). With a strong starting model (a sentence-embedding
    backbone) "fraction of the final value" is reached at step 0 by everyone; this is not. NaN when the
    run gained nothing (v_final ≤ v_0) or has fewer than two evaluations.
    E.g. values 0.5, 0.6, 0.9, 1.0 at steps 0, 10, 20, 30: 90% of the gain (0.95) -> step 30; 80% -> 20."""
    s, v = _observed(steps, values)
    if len(v) < 2 or v[-1] <= v[0]:
        return np.nan
    return float(s[np.argmax(v >= v[0] + fraction * (v[-1] - v[0]) - 1e-12)])


def spike_mask(losses, k: float = 3.0, beta: float = 0.9) -> np.ndarray:
    """Boolean mask of loss spikes (module docstring): r_t = x_t − EMA(x_<t) > k · 1.4826 · MAD(r)."""
    x = np.asarray(losses, dtype=float)
    mask = np.zeros(len(x), dtype=bool)
    if len(x) < 2:
        return mask
    prev = ema(x, beta)[:-1]  # prev[t-1] = EMA of x_0..x_{t-1}
    r = x[1:] - prev
    ok = ~np.isnan(r)
    if not ok.any():
        return mask
    sigma = MAD_TO_STD * np.median(np.abs(r[ok] - np.median(r[ok])))
    mask[1:] = ok & (np.nan_to_num(r, nan=-np.inf) > k * sigma)
    return mask


def last_half_variance(steps, losses) -> float:
    s, x = _observed(steps, losses)
    if len(x) == 0:
        return np.nan
    tail = x[s >= s.min() + (s.max() - s.min()) / 2]
    return float(np.var(tail, ddof=1)) if len(tail) > 1 else np.nan


def convergence_summary(
    curve: Curve,
    metric: str = "dev_RR@10",
    fractions: Sequence[float] = (0.9, 0.95),
    k: float = 3.0,
    beta: float = 0.9,
) -> dict[str, float]:
    """One run: final metric, steps to each fraction of it and of the gain over step 0, the gain,
    last-half loss variance, spike count."""
    out: dict[str, float] = {}
    ev = curve.eval
    has = metric in ev.columns and ev[metric].notna().any()
    steps, vals = _observed(ev["step"], ev[metric]) if has else (np.array([]), np.array([]))
    out[f"final {metric}"] = float(vals[-1]) if has else np.nan
    for f in fractions:
        out[f"steps to {round(100 * f)}%"] = steps_to_fraction(steps, vals, f) if has else np.nan
    for f in fractions:
        out[f"steps to {round(100 * f)}% of gain"] = steps_to_gain_fraction(steps, vals, f) if has else np.nan
    out[f"gain {metric}"] = float(vals[-1] - vals[0]) if has else np.nan
    tr = curve.train
    loss = tr["loss"].to_numpy(float)
    out["loss var (last half)"] = last_half_variance(tr["step"], loss)
    out["loss spikes"] = float(spike_mask(loss[~np.isnan(loss)], k, beta).sum())
    out["last step"] = float(tr["step"].max()) if len(tr) else np.nan
    return out
