"""Answers with intervals: the paper's three questions, each answered per stage (dense retrieval =
`retriever`, cross-encoder re-ranking = `reranker`) by one measured effect, its 95% CI and p-value, and
one sentence (issue 17, item 6). Pure functions: the CLI (`peftir answers`) reads the files.

Inputs per stage: the loaded systems (peftir.analysis.results.System; per-query values of the *primary*
column = the first evaluation's first measure, e.g. debian.dev/RR@10) and the training curves
{(run, budget): {seed: Curve}}; `methods` maps each configured run to its registry key
(config `methods[run]["method"]`), which decides full fine-tuning (`full`), PET (anything else) and the
adapter run. Reference systems (BM25, zero-shot) are not in `methods` and are ignored.

Q1 "Does PET trail full fine-tuning at the small budget?" Every PET run at `budget` against the full
   fine-tuning run (method `full`, any budget: `natural`): paired t-test of (method − full) on per-query
   values, seeds pooled per query by averaging (significance.py). "Trails" = p < alpha and Δ < 0.
   [D] The headline effect/CI/p of Q1 is the *closest* PET method's (highest Δ): if even the best PET
   method trails significantly, PET trails; every method's test is under `per_method`.
Q2 "Is IAA-L at least as good as the best other PET method?" Best other PET = the highest mean primary
   value among the other PET runs at `budget` (every PET run but IAA-L, other IAA spans included).
   [D] Decision rule (non-inferiority): IAA-L is "at least as good" when the 95% CI of Δ = IAA-L − best
   has its lower end above −margin (margin 0.005 of the measure by default); "worse" when p < alpha and
   Δ < 0; otherwise "inconclusive" (not significantly worse, but the CI allows a loss beyond the margin).
   "Not significantly worse" alone is not enough: with few queries nearly everything passes it.
Q3 "Does IAA-L converge faster and more smoothly than adapters?" From the training curves at `budget`.
   The same seed gives the same batch order to every method, so steps pair up across methods: per step,
   each method's value is averaged over the seeds both methods share, then the two are paired over the
   steps both logged.
   - Faster: Δ = mean over the first half (the first ⌈n/2⌉ shared logged steps) of
     (loss_IAA-L − loss_adapter); negative = IAA-L's loss falls faster. Also steps to 90% of the final
     dev value and to 90% of the gain over step 0 (curves.py), mean over seeds.
   - Smoother: per seed and step t ≥ 1 the roughness |loss_t − EMA_{t−1}| (β = ema_beta, the EMA of the
     losses before t), averaged over shared seeds per step; Δ = mean (IAA-L − adapter) over all shared
     steps; negative = IAA-L smoother. Also loss-spike counts (curves.spike_mask), mean over seeds.
     Caveat: the EMA lags a falling loss, so a steep early descent also counts as roughness (a method
     that converges faster can look rougher early); the spike count (MAD-scaled residuals) is robust to it.
   The paired t-test over steps treats steps as independent; consecutive steps are autocorrelated, so
   the CI and p of Q3 are optimistic (too narrow / too small). The sentence says so.
Missing systems, per-query values or curves give a sentence saying what is missing (effect etc. None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from peftir.analysis import curves as cv
from peftir.analysis import significance as sig

STAGES = ("retriever", "reranker")
STAGE_NAMES = {"retriever": "dense retrieval (bi-encoder)", "reranker": "re-ranking (cross-encoder)"}
QUESTIONS = ("q1", "q2", "q3")
AUTOCORR_NOTE = "steps are autocorrelated, so this interval is optimistic"


# --- formatting ----------------------------------------------------------------------------------


def _num(x) -> float | None:
    """A JSON-able float: None for NaN/inf/None (JSON has no NaN)."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


def fmt_p(p: float) -> str:
    return "p < 1e-16" if p == 0 else f"p = {p:.3g}" if p >= 1e-3 else f"p = {p:.1e}"


def fmt_test(t: sig.PairedTest, unit: str = "queries") -> str:
    return (
        f"Δ = {t.mean_diff:+.4f}, 95% CI [{t.ci_low:+.4f}, {t.ci_high:+.4f}], {fmt_p(t.p)}, n = {t.n} {unit}"
    )


def _result(sentence: str, test: sig.PairedTest | None = None, **extra) -> dict:
    """One question's answer: effect (mean paired difference), ci_low, ci_high, p, n, sentence."""
    out = dict.fromkeys(("effect", "ci_low", "ci_high", "p", "n"))
    if test is not None:
        out = {k: v for k, v in _test_dict(test).items() if k in out}
    return {**out, "sentence": sentence, **extra}


def _missing(what: str) -> dict:
    return _result(f"Cannot answer: {what}.", missing=what)


def _test_dict(t: sig.PairedTest) -> dict:
    return {"effect": _num(t.mean_diff), "ci_low": _num(t.ci_low), "ci_high": _num(t.ci_high), "p": _num(t.p),
            "n": t.n, "mean_a": _num(t.mean_a), "mean_b": _num(t.mean_b)}  # fmt: skip


# --- system lookup -------------------------------------------------------------------------------


def _with_values(systems, col: str) -> list:
    return [s for s in systems if s.per_query.get(col)]


def full_system(systems, methods: Mapping[str, str]):
    return next((s for s in systems if methods.get(s.run) == "full"), None)


def pet_systems(systems, methods: Mapping[str, str], budget: str) -> list:
    return [s for s in systems if s.run in methods and methods[s.run] != "full" and s.budget == budget]


def adapter_run(methods: Mapping[str, str], adapter_method: str = "adapter") -> str | None:
    """The first configured run whose registry key is `adapter_method`."""
    return next((r for r, m in methods.items() if m == adapter_method), None)


# --- Q1, Q2 --------------------------------------------------------------------------------------


def q1_pet_vs_full(systems, methods, col: str, budget: str = "small", alpha: float = 0.05) -> dict:
    """Q1 (module docstring): every PET run at `budget` − full fine-tuning, paired over queries."""
    full = full_system(systems, methods)
    if full is None or not full.per_query.get(col):
        return _missing(f"no full fine-tuning system with per-query {col}")
    pets = pet_systems(systems, methods, budget)
    if not pets:
        return _missing(f"no PET system at budget {budget!r}")
    lacking = [s.run for s in pets if not s.per_query.get(col)]
    tests = {s.run: sig.paired_ttest(s.per_query[col], full.per_query[col]) for s in _with_values(pets, col)}
    if not tests:
        return _missing(f"no PET system at budget {budget!r} has per-query {col}")
    trails = {r: t.p < alpha and t.mean_diff < 0 for r, t in tests.items()}
    order = sorted(tests, key=lambda r: tests[r].mean_diff, reverse=True)
    close, far = order[0], order[-1]
    s = (
        f"{sum(trails.values())} of {len(tests)} PET methods at {budget} trail full fine-tuning "
        f"significantly (p < {alpha:g}) on {col}; closest: {close} ({fmt_test(tests[close])})"
    )
    s += f"; farthest: {far} ({fmt_test(tests[far])})." if far != close else "."
    if lacking:
        s += f" Without per-query values (left out): {', '.join(lacking)}."
    per = [{"run": r, **_test_dict(tests[r]), "trails": trails[r]} for r in order]
    return _result(s, tests[close], closest=close, farthest=far, n_trailing=sum(trails.values()),
                   m=len(tests), per_method=per, full_run=full.run)  # fmt: skip


def q2_iaa_vs_best(systems, methods, col: str, budget: str = "small", alpha: float = 0.05,
                   iaa_run: str = "iaa-l", margin: float = 0.005) -> dict:  # fmt: skip
    """Q2 (module docstring): IAA-L − the best other PET run at `budget`; non-inferiority verdict."""
    rule = (f"[D] at least as good = 95% CI of Δ above −{margin:g}; worse = p < {alpha:g} and Δ < 0; "
            "otherwise inconclusive")  # fmt: skip
    iaa = next((s for s in systems if s.run == iaa_run and s.budget == budget), None)
    if iaa is None or not iaa.per_query.get(col):
        return {**_missing(f"no {iaa_run} system at budget {budget!r} with per-query {col}"), "rule": rule}
    rivals = [s for s in _with_values(pet_systems(systems, methods, budget), col) if s.run != iaa_run]
    if not rivals:
        return {**_missing(f"no other PET system at budget {budget!r} with per-query {col}"), "rule": rule}
    best = max(rivals, key=lambda s: (s.mean(col), s.run))
    t = sig.paired_ttest(iaa.per_query[col], best.per_query[col])
    if t.ci_low > -margin:
        verdict = "at least as good"
    elif t.p < alpha and t.mean_diff < 0:
        verdict = "worse"
    else:
        verdict = "inconclusive"
    s = (f"{iaa_run} vs the best other PET method at {budget} ({best.run}, by mean {col}): {fmt_test(t)} — "
         f"{verdict} ({rule}).")  # fmt: skip
    return _result(s, t, verdict=verdict, best_other=best.run, rule=rule, margin=margin)


# --- Q3 ------------------------------------------------------------------------------------------


def step_roughness(losses, beta: float = 0.9) -> np.ndarray:
    """Per step t ≥ 1: |x_t − EMA_β(x_0..x_{t−1})|; NaN at t = 0 (nothing before it)."""
    x = np.asarray(losses, dtype=float)
    out = np.full_like(x, np.nan)
    if len(x) > 1:
        out[1:] = np.abs(x[1:] - cv.ema(x, beta)[:-1])
    return out


def _per_step(curves: Mapping[int, cv.Curve], seeds, series) -> dict[int, float]:
    """{step: mean over `seeds` of series(curve) at that step} over the steps every seed logged."""
    per_seed = []
    for s in seeds:
        tr = curves[s].train.dropna(subset=["loss"])
        per_seed.append(dict(zip(tr["step"].tolist(), series(tr["loss"].to_numpy(float)).tolist())))
    steps = set(per_seed[0]).intersection(*per_seed[1:])
    out = {st: float(np.mean([d[st] for d in per_seed])) for st in sorted(steps)}
    return {k: v for k, v in out.items() if not math.isnan(v)}


def _paired_steps(a: Mapping[int, float], b: Mapping[int, float], first_half: bool = False):
    """Paired t over the steps both have (optionally only the first ⌈n/2⌉); None when < 2 steps."""
    steps = sorted(set(a) & set(b))
    if first_half:
        steps = steps[: math.ceil(len(steps) / 2)]
    if len(steps) < 2:
        return None
    return sig.paired_ttest({str(s): a[s] for s in steps}, {str(s): b[s] for s in steps})


def _seed_mean(curves: Mapping[int, cv.Curve], fn) -> float:
    vals = [fn(c) for c in curves.values()]
    vals = [v for v in vals if not math.isnan(v)]
    return float(np.mean(vals)) if vals else math.nan


def _spikes(curve: cv.Curve, k: float, beta: float) -> float:
    return float(cv.spike_mask(curve.train["loss"].dropna().to_numpy(float), k, beta).sum())


def _nums(d: Mapping) -> dict:
    return {key: _num(v) for key, v in d.items()}


def _steps_to(curve: cv.Curve, metric: str, f: float, gain: bool) -> float:
    ev = curve.eval
    if metric not in ev.columns:
        return math.nan
    fn = cv.steps_to_gain_fraction if gain else cv.steps_to_fraction
    return fn(ev["step"], ev[metric], f)


def q3_convergence(curves: Mapping[tuple[str, str], Mapping[int, cv.Curve]], methods, budget: str = "small",
                   iaa_run: str = "iaa-l", adapter_method: str = "adapter", beta: float = 0.9, k: float = 3.0,
                   metric: str = "dev_RR@10", fraction: float = 0.9) -> dict:  # fmt: skip
    """Q3 (module docstring): loss over the first half and per-step roughness, IAA-L − adapter over steps.
    The headline effect is the first-half loss difference ("faster"); "smoother" sits under `smooth`."""
    ad = adapter_run(methods, adapter_method)
    if ad is None:
        return _missing(f"no configured run of method {adapter_method!r}")
    a_c, b_c = curves.get((iaa_run, budget)) or {}, curves.get((ad, budget)) or {}
    if not a_c or not b_c:
        lack = [r for r, c in ((iaa_run, a_c), (ad, b_c)) if not c]
        return _missing(f"no training curve of {' or '.join(lack)} at budget {budget!r}")
    shared = sorted(set(a_c) & set(b_c))
    seeds_a, seeds_b = (shared, shared) if shared else (sorted(a_c), sorted(b_c))
    seed_note = f"seeds {shared}" if shared else "no shared seed (batch orders differ; all seeds of each)"
    loss_a = _per_step(a_c, seeds_a, lambda x: x)
    loss_b = _per_step(b_c, seeds_b, lambda x: x)
    rough_a = _per_step(a_c, seeds_a, lambda x: step_roughness(x, beta))
    rough_b = _per_step(b_c, seeds_b, lambda x: step_roughness(x, beta))
    fast, smooth = _paired_steps(loss_a, loss_b, first_half=True), _paired_steps(rough_a, rough_b)
    if fast is None or smooth is None:
        return _missing(f"{iaa_run} and {ad} share fewer than 2 logged training steps at {budget!r}")
    pct = round(100 * fraction)
    pairs = ((iaa_run, a_c), (ad, b_c))
    to_f = {r: _seed_mean(c, lambda cu: _steps_to(cu, metric, fraction, False)) for r, c in pairs}
    to_g = {r: _seed_mean(c, lambda cu: _steps_to(cu, metric, fraction, True)) for r, c in pairs}
    spikes = {r: _seed_mean(c, lambda cu: _spikes(cu, k, beta)) for r, c in pairs}

    def steps(d):
        return "/".join("–" if math.isnan(d[r]) else f"{d[r]:.0f}" for r in (iaa_run, ad))

    s = (
        f"{iaa_run} − {ad} at {budget} ({seed_note}): faster — training loss over the first half "
        f"{fmt_test(fast, 'steps')} (negative: {iaa_run} lower); steps to {pct}% of final {metric} "
        f"{steps(to_f)}, to {pct}% of the gain {steps(to_g)} ({iaa_run}/{ad}). Smoother — per-step "
        f"roughness |loss − EMA(β={beta:g})| {fmt_test(smooth, 'steps')} (negative: {iaa_run} smoother); "
        f"spikes {spikes[iaa_run]:.1f} vs {spikes[ad]:.1f}. Paired over steps: {AUTOCORR_NOTE}."
    )
    return _result(
        s, fast, adapter_run=ad, seeds=shared, smooth=_test_dict(smooth), first_half_loss=_test_dict(fast),
        steps_to_fraction=_nums(to_f), steps_to_gain=_nums(to_g), spikes=_nums(spikes), note=AUTOCORR_NOTE,
    )  # fmt: skip


# --- all together --------------------------------------------------------------------------------


def _guard(fn, *args, **kw) -> dict:
    """A question whose inputs cannot be tested (e.g. one shared query) says why instead of crashing."""
    try:
        return fn(*args, **kw)
    except ValueError as e:
        return _missing(str(e))


def answer_stage(systems, curves, methods: Mapping[str, str], col: str, budget: str = "small",
                 alpha: float = 0.05, iaa_run: str = "iaa-l", adapter_method: str = "adapter",
                 margin: float = 0.005, beta: float = 0.9, k: float = 3.0, metric: str = "dev_RR@10",
                 fraction: float = 0.9) -> dict:  # fmt: skip
    """The three answers of one stage ({"q1": ..., "q2": ..., "q3": ...}, plus the primary column)."""
    if not systems and not curves:
        return {"primary": col, **{q: _missing("no trained systems in this stage") for q in QUESTIONS}}
    return {
        "primary": col,
        "q1": _guard(q1_pet_vs_full, systems, methods, col, budget, alpha),
        "q2": _guard(q2_iaa_vs_best, systems, methods, col, budget, alpha, iaa_run, margin),
        "q3": _guard(
            q3_convergence, curves, methods, budget, iaa_run, adapter_method, beta, k, metric, fraction
        ),
    }


def backbone_caveat(backbone: str) -> str:
    if "minilm" in backbone.lower():
        return (
            f"Backbone caveat: {backbone} is a sentence-embedding model (already trained for retrieval), "
            "not the paper's plain pre-trained bert-base; effects can differ from the paper's."
        )
    return f"Backbone: {backbone or 'unknown'} (the paper's is a plain pre-trained bert-base)."


def answers(stages: Mapping[str, tuple[Sequence, Mapping]], methods: Mapping[str, str], cols: Mapping[str, str],
            backbone: str = "", budget_pct: float | None = None, **kw) -> dict:  # fmt: skip
    """{"stages": {stage: answer_stage(...)}, "questions", "caveat", "settings"}; `stages` maps a stage
    to (systems, curves); a stage in `cols` but not in `stages` says it has no systems."""
    out = {s: answer_stage(*stages.get(s, ([], {})), methods, cols[s], **kw) for s in cols}
    qs = questions(kw.get("budget", "small"), budget_pct, kw.get("iaa_run", "iaa-l"))
    settings = {**kw, "budget_pct": budget_pct}
    return {"stages": out, "questions": qs, "caveat": backbone_caveat(backbone), "settings": settings}


def questions(budget: str = "small", pct: float | None = None, iaa_run: str = "iaa-l") -> dict[str, str]:
    """The paper's questions, worded for this run's budget and IAA run."""
    at = f"{budget} ({pct:g}%)" if pct is not None else budget
    return {
        "q1": f"Does PET trail full fine-tuning at {at}?",
        "q2": f"Is {iaa_run} at least as good as the best other PET method at {at}?",
        "q3": f"Does {iaa_run} converge faster and more smoothly than adapters at {at}?",
    }


def markdown(ans: Mapping) -> str:
    """A heading per stage, one sentence per question, the backbone caveat."""
    lines = ["# Answers with intervals", ""]
    for stage, qs in ans["stages"].items():
        lines += [f"## {STAGE_NAMES.get(stage, stage)} (`{stage}`, primary: {qs['primary']})", ""]
        lines += [f"- **{ans['questions'][q]}** {qs[q]['sentence']}" for q in QUESTIONS if q in qs]
        lines.append("")
    lines += [ans["caveat"], ""]
    return "\n".join(lines)
