"""Paired t-tests against hand-computed values (the markers they decide: tests/analysis/test_results.py).

For df = 3 the t distribution's CDF has a closed form,
    F(t) = 1/2 + (1/π) · [ (t/√3) / (1 + t²/3) + arctan(t/√3) ],
which the expected p-values below use.
"""

import math

import pytest

from peftir.analysis.significance import paired_ttest, pool_seeds

Q = ["q1", "q2", "q3", "q4"]


def qv(values):
    return dict(zip(Q, values))


def p_df3(t):
    u = t / math.sqrt(3)
    return 2 * (1 - (0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi))


def test_ttest_differences_1_2_3_4():
    """d = [1, 2, 3, 4]: mean 2.5, sd = sqrt((2.25 + .25 + .25 + 2.25) / 3) = sqrt(5/3),
    se = sd / 2, t = 2.5 / (sqrt(5/3) / 2) = sqrt(15) = 3.8730.
    p: t/√3 = √5, 1 + t²/3 = 6, F = 1/2 + (√5/6 + arctan √5)/π = 1/2 + (0.372678 + 1.150262)/π
    = 0.984767, p = 2 (1 − F) = 0.030466 → significant at 0.05."""
    r = paired_ttest(qv([1, 2, 3, 4]), qv([0, 0, 0, 0]))
    assert r.t == pytest.approx(math.sqrt(15))
    assert r.p == pytest.approx(0.030466, abs=1e-6)
    assert r.p == pytest.approx(p_df3(math.sqrt(15)))
    assert r.n == 4 and r.mean_a == 2.5 and r.mean_b == 0
    assert r.a_better(0.05) and not r.a_better(0.01)
    back = paired_ttest(qv([0, 0, 0, 0]), qv([1, 2, 3, 4]))  # two-tailed: symmetric
    assert back.t == pytest.approx(-math.sqrt(15)) and back.p == pytest.approx(r.p)
    assert not back.a_better(0.05)


def test_ttest_not_significant():
    """d = [.2, .1, −.1, .2]: mean .1, sd = sqrt((.01 + 0 + .04 + .01) / 3) = sqrt(.02),
    t = .1 / (sqrt(.02) / 2) = √2; t/√3 = 0.816497, 1 + t²/3 = 5/3,
    F = 1/2 + (0.489898 + 0.684719)/π = 0.873893, p = 0.252215."""
    r = paired_ttest(qv([1.2, 1.1, 0.9, 1.2]), qv([1, 1, 1, 1]))
    assert r.t == pytest.approx(math.sqrt(2))
    assert r.p == pytest.approx(0.252215, abs=1e-6)
    assert not r.a_better()


def test_alignment_on_shared_queries_and_errors():
    a = {**qv([1, 2, 3, 4]), "only_a": 100.0}
    b = {**qv([0, 0, 0, 0]), "only_b": -100.0}
    assert paired_ttest(a, b).t == pytest.approx(math.sqrt(15))
    with pytest.raises(ValueError, match="share no query"):
        paired_ttest({"x": 1.0}, {"y": 1.0})


def test_degenerate_differences():
    assert (paired_ttest(qv([1, 1, 1, 1]), qv([1, 1, 1, 1])).p) == 1.0
    r = paired_ttest(qv([2, 2, 2, 2]), qv([1, 1, 1, 1]))
    assert r.t == math.inf and r.p == 0.0


def test_pool_seeds_mean_per_query_on_shared_queries():
    s1 = {"q1": 1.0, "q2": 0.0, "q3": 5.0}
    s2 = {"q1": 0.0, "q2": 1.0}
    assert pool_seeds([s1, s2]) == {"q1": 0.5, "q2": 0.5}
    # pooled seeds are what gets tested: seeds [1,2,3,4]±1 average to [1,2,3,4]
    a = [qv([0, 3, 2, 5]), qv([2, 1, 4, 3])]
    assert paired_ttest(a, qv([0, 0, 0, 0])).t == pytest.approx(math.sqrt(15))


def test_ci95_of_the_mean_difference_by_hand_and_by_scipy():
    """d = [1, 2, 3]: mean 2, sd 1, n 3, t_{0.975, 2} = 4.302653 -> half-width 4.302653 / sqrt(3) = 2.484138."""
    from scipy import stats

    from peftir.analysis.significance import paired_ttest

    a, b = {"q1": 1.0, "q2": 2.0, "q3": 3.0}, {"q1": 0.0, "q2": 0.0, "q3": 0.0}
    t = paired_ttest(a, b)
    assert t.mean_diff == 2.0
    assert t.ci95 == pytest.approx(2.484138, abs=1e-6)
    ci = stats.ttest_rel([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]).confidence_interval(0.95)  # scipy's own
    assert (t.ci_low, t.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    same = paired_ttest({"q1": 1.0, "q2": 1.0}, {"q1": 0.5, "q2": 0.5})
    assert (same.mean_diff, same.ci95) == (0.5, 0.0)
