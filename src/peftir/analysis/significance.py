"""Significance markers for the results tables (paper.md §4, "Significance").

The paper marks a cell with `*` when a method is significantly better than full fine-tuning and with
`†` when it is significantly better than the best PET method at the same budget, using a two-tailed
paired t-test on per-query values at p ≤ 0.05. For paired values a_i, b_i over the n shared queries,
with differences d_i = a_i − b_i:

    t = mean(d) / (sd(d) / sqrt(n)),   sd with n − 1 in the denominator,   df = n − 1,
    p = 2 · (1 − F_t(|t|; df))

(`scipy.stats.ttest_rel`). [D] Several seeds are pooled by averaging each query's value over the
seeds first (the queries kept are those every seed scored), so n is the number of queries, not
queries × seeds. [D] Degenerate differences, which scipy reports as NaN: all zero → t = 0, p = 1;
all equal and non-zero → t = ±inf, p = 0.

Per-query values are `{qid: value}` dicts (one measure), or a list of such dicts, one per seed.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

PerQuery = Mapping[str, float] | Sequence[Mapping[str, float]]

BETTER_THAN_FULL = "*"
BETTER_THAN_BEST_PET = "†"


@dataclass(frozen=True)
class PairedTest:
    """Result of one paired test of `a` against `b` (positive t: `a` is higher)."""

    t: float
    p: float
    n: int
    mean_a: float
    mean_b: float

    @property
    def mean_diff(self) -> float:
        return self.mean_a - self.mean_b

    def a_better(self, alpha: float = 0.05) -> bool:
        """True when `a` is significantly better: p ≤ alpha and a higher mean."""
        return self.p <= alpha and self.mean_a > self.mean_b


def pool_seeds(values: PerQuery) -> dict[str, float]:
    """One value per query: the mean over seeds, over the queries that every seed has."""
    if isinstance(values, Mapping):
        return {str(q): float(v) for q, v in values.items()}
    runs = list(values)
    if not runs:
        raise ValueError("no per-query values given (empty list of seeds)")
    qids = set(runs[0]).intersection(*runs[1:])
    if not qids:
        raise ValueError("the seeds share no query ids")
    return {str(q): float(np.mean([r[q] for r in runs])) for q in sorted(qids)}


def align(a: PerQuery, b: PerQuery) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Pool seeds, then keep the queries both sides have (sorted qids, values of a, values of b)."""
    pa, pb = pool_seeds(a), pool_seeds(b)
    qids = sorted(set(pa) & set(pb))
    if not qids:
        raise ValueError("the two runs share no query ids")
    return qids, np.array([pa[q] for q in qids]), np.array([pb[q] for q in qids])


def paired_ttest(a: PerQuery, b: PerQuery) -> PairedTest:
    """Two-tailed paired t-test of `a` against `b` on the queries both have."""
    _, xa, xb = align(a, b)
    n = len(xa)
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 shared queries, got {n}")
    d = xa - xb
    if np.all(d == d[0]):  # zero variance: scipy gives NaN; decide explicitly (module docstring)
        t, p = (0.0, 1.0) if d[0] == 0 else (math.copysign(math.inf, d[0]), 0.0)
    else:
        res = stats.ttest_rel(xa, xb)
        t, p = float(res.statistic), float(res.pvalue)
    return PairedTest(t=t, p=p, n=n, mean_a=float(xa.mean()), mean_b=float(xb.mean()))


def mean_value(values: PerQuery) -> float:
    """The measure's value for a method: the mean over queries of the seed-pooled values."""
    return float(np.mean(list(pool_seeds(values).values())))


@dataclass(frozen=True)
class Comparison:
    """The tests behind one method's markers (None where a comparison does not apply)."""

    method: str
    vs_full: PairedTest | None
    best_pet: str | None
    vs_best_pet: PairedTest | None


def compare_methods(
    values: Mapping[str, PerQuery],
    full: str | None,
    budget_of: Mapping[str, str | None],
    reference_pets: Collection[str] | None = None,
) -> dict[str, Comparison]:
    """For every PET method (every key but `full`): test it against full fine-tuning and against the
    best *other* PET method of its budget group.

    `budget_of[m]` is m's budget group (e.g. "0.5%"); methods whose group is None (or missing) are
    compared with full fine-tuning only. The best other PET is the one with the highest
    `mean_value`, chosen among `reference_pets` when given (e.g. only the existing PET baselines,
    as in the paper's Table 4 "Best PET" rows), else among all PET methods of the group.
    """
    if full is not None and full not in values:
        raise KeyError(f"full fine-tuning key {full!r} is not among the methods {sorted(values)}")
    means = {m: mean_value(v) for m, v in values.items()}
    out: dict[str, Comparison] = {}
    for m in values:
        if m == full:
            continue
        vs_full = paired_ttest(values[m], values[full]) if full is not None else None
        group = budget_of.get(m)
        rivals = [
            r
            for r in values
            if r not in (m, full)
            and group is not None
            and budget_of.get(r) == group
            and (reference_pets is None or r in reference_pets)
        ]
        best = max(rivals, key=lambda r: (means[r], r)) if rivals else None
        vs_best = paired_ttest(values[m], values[best]) if best is not None else None
        out[m] = Comparison(method=m, vs_full=vs_full, best_pet=best, vs_best_pet=vs_best)
    return out


def markers_from(comparisons: Mapping[str, Comparison], alpha: float = 0.05) -> dict[str, str]:
    """Marker strings per method, in the paper's order ("†*" when both hold; "" when none)."""
    out = {}
    for m, c in comparisons.items():
        s = ""
        if c.vs_best_pet is not None and c.vs_best_pet.a_better(alpha):
            s += BETTER_THAN_BEST_PET
        if c.vs_full is not None and c.vs_full.a_better(alpha):
            s += BETTER_THAN_FULL
        out[m] = s
    return out


def mark_table(
    values: Mapping[str, PerQuery],
    full: str | None,
    budget_of: Mapping[str, str | None],
    alpha: float = 0.05,
    reference_pets: Collection[str] | None = None,
) -> dict[str, str]:
    """Markers for one measure of one table: `{method: "" | "*" | "†" | "†*"}`; `full` gets "".

    `values[m]` holds method m's per-query values of the measure (`{qid: value}` or one such dict
    per seed). See `compare_methods` for the meaning of `budget_of` and `reference_pets`.
    """
    marks = markers_from(compare_methods(values, full, budget_of, reference_pets), alpha)
    if full is not None:
        marks[full] = ""
    return marks
