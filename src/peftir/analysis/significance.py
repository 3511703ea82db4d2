"""The paired t-test behind the results tables' significance markers (paper.md §4, "Significance").

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

The 95% confidence interval of the mean paired difference is mean(d) ± t_{0.975, n−1} · sd(d)/sqrt(n)
(zero width when every difference is equal).

Per-query values are `{qid: value}` dicts (one measure), or a list of such dicts, one per seed.
Which systems are compared, and where the markers go, is peftir.analysis.results (`stage_table`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    ci95: float = math.nan  # half-width of the 95% CI of mean_a − mean_b

    @property
    def ci_low(self) -> float:
        return self.mean_diff - self.ci95

    @property
    def ci_high(self) -> float:
        return self.mean_diff + self.ci95

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
        half = 0.0
    else:
        res = stats.ttest_rel(xa, xb)
        t, p = float(res.statistic), float(res.pvalue)
        half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return PairedTest(t=t, p=p, n=n, mean_a=float(xa.mean()), mean_b=float(xb.mean()), ci95=half)
