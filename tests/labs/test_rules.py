"""Claim rules: verdicts against hand computations, intervals against scipy, the bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from deepdojo.labs.framework import rules as R


def _t(values):
    m = np.mean(values)
    return stats.t.interval(0.95, len(values) - 1, loc=m, scale=stats.sem(values))


@pytest.mark.parametrize("values", [[0.1, 0.3, 0.25, 0.2, 0.15], [1.0, 2.0], [5.0, 5.5, 4.0] * 3])
def test_t_interval_equals_scipy(values):
    lo, hi = R.t_interval(values)
    want = _t(values)
    assert lo == pytest.approx(want[0], rel=1e-12)
    assert hi == pytest.approx(want[1], rel=1e-12)


def test_t_interval_by_hand():
    # n=4, mean 2.5, s = sqrt(5/3), t_{0.975,3} = 3.182446305284263
    lo, hi = R.t_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2
    assert (lo, hi) == pytest.approx((2.5 - half, 2.5 + half), rel=1e-12)
    assert R.t_interval([3.0, 3.0, 3.0]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="at least 2"):
        R.t_interval([1.0])


def test_at_least_three_outcomes():
    # mean 0.95, s = 0.01, n = 3: half-width 2.4843 * 0.01 / sqrt(3)... computed by scipy
    high = R.AtLeast(0.9).judge([0.94, 0.95, 0.96])
    assert high.verdict == "holds" and high.ci == pytest.approx(_t([0.94, 0.95, 0.96]))
    assert high.value == pytest.approx(0.95) and high.margin == 0.9
    assert high.seed_holds == [True, True, True]
    low = R.AtLeast(0.9).judge([0.80, 0.82, 0.81])
    assert low.verdict == "does not hold"
    assert "lies below 0.9" in low.why
    mid = R.AtLeast(0.9).judge([0.85, 0.95, 0.92])
    assert mid.verdict == "inconclusive"
    assert mid.seed_holds == [False, True, True]
    assert "straddles the threshold 0.9; at the observed spread about" in mid.why
    # the CI low bound exactly on the threshold holds (>=)
    assert R.AtLeast(2.0).judge([2.0, 2.0]).verdict == "holds"


def test_at_most_mirror():
    assert R.AtMost(1.0).judge([0.5, 0.6, 0.55]).verdict == "holds"
    assert R.AtMost(1.0).judge([1.5, 1.6, 1.55]).verdict == "does not hold"
    assert R.AtMost(1.0).judge([0.5, 1.5, 1.0]).verdict == "inconclusive"
    assert R.AtMost(1.0).judge([0.5, 1.5]).seed_holds == [True, False]


def test_greater_and_less_on_paired_differences():
    d = [0.12, 0.2, 0.18, 0.15, 0.17]  # lo = 0.1235 > 0.1
    lo, _ = _t(d)
    assert lo > 0.1
    assert R.Greater(margin=0.1).judge(d).verdict == "holds"
    assert R.Greater(margin=0.3).judge(d).verdict == "does not hold"
    assert R.Greater(margin=0.15).judge(d).verdict == "inconclusive"
    neg = [-x for x in d]
    assert R.Less(margin=0.1).judge(neg).verdict == "holds"
    assert R.Less(margin=0.3).judge(neg).verdict == "does not hold"
    assert R.Less().judge(neg).seed_holds == [True] * 5
    assert "straddles the margin 0;" in R.Less().judge([-0.1, 0.1, 0.05]).why  # never "-0"
    # CI high exactly on the margin: Greater does not hold (<=)
    assert R.Greater(margin=0.5).judge([0.5, 0.5]).verdict == "does not hold"


def test_within_equivalence():
    assert R.Within(0.1).judge([0.01, -0.02, 0.0, 0.015]).verdict == "holds"
    assert R.Within(0.1).judge([0.5, 0.52, 0.49]).verdict == "does not hold"
    assert R.Within(0.1).judge([-0.5, -0.52, -0.49]).verdict == "does not hold"
    assert R.Within(0.1).judge([0.0, 0.2, 0.1]).verdict == "inconclusive"
    with pytest.raises(ValueError, match="margin must be > 0"):
        R.Within(0.0)


def test_within_factor_is_within_log_factor():
    ratios = [1.1, 0.95, 1.2, 1.05]
    j = R.WithinFactor(2.0).judge(ratios)
    logs = np.log(ratios)
    lo, hi = _t(logs)
    assert j.verdict == "holds"
    assert j.ci == pytest.approx((math.exp(lo), math.exp(hi)))
    assert j.value == pytest.approx(math.exp(np.mean(logs)))  # geometric mean
    assert j.margin == 2.0
    assert R.WithinFactor(2.0).judge([5.0, 6.0, 5.5]).verdict == "does not hold"
    assert R.WithinFactor(2.0).judge([0.3, 0.35, 0.32]).verdict == "does not hold"
    assert R.WithinFactor(2.0).judge([1.0, 1.0]).seed_holds == [True, True]
    with pytest.raises(ValueError, match="values > 0"):
        R.WithinFactor(2.0).judge([1.0, -1.0])
    with pytest.raises(ValueError, match="factor must be > 1"):
        R.WithinFactor(0.5)


def test_every_seed_and_fraction_of_seeds():
    every = R.EverySeed(R.AtMost(1e-6))
    ok = every.judge([0.0, 1e-7])
    assert ok.verdict == "holds" and ok.ci is None and ok.seed_holds == [True, True]
    bad = every.judge([0.0, 1e-7, 1e-3])
    assert bad.verdict == "does not hold" and bad.seed_holds == [True, True, False]
    assert bad.why == "1 of 3 seeds miss <= 1e-06 (values 0.001)"
    assert ok.why == "all 2 seeds meet <= 1e-06"
    assert every.judge([0.0]).verdict == "holds"  # no interval needed: works at smoke
    assert every.sentence("max spread") == "max spread <= 1e-06 on every seed"
    frac = R.FractionOfSeeds(R.AtLeast(0.5), at_least=0.6)
    j = frac.judge([0.6, 0.4, 0.7, 0.8, 0.1])  # 3 of 5 pass
    assert j.verdict == "holds" and j.value == pytest.approx(0.6)
    assert frac.judge([0.6, 0.4, 0.7, 0.1, 0.1]).verdict == "does not hold"
    with pytest.raises(ValueError, match="at_least"):
        R.FractionOfSeeds(R.AtLeast(0.5), at_least=1.5)
    with pytest.raises(TypeError, match="interval rule"):
        R.EverySeed(R.EverySeed(R.AtLeast(0.0)))


def test_inconclusive_why_gives_interval_margin_and_seeds_needed():
    d = [0.05, 0.25, 0.12]  # mean 0.14, straddles 0.1
    j = R.Greater(margin=0.1).judge(d)
    lo, hi = _t(d)
    assert j.verdict == "inconclusive"
    assert f"[{lo:.4g}, {hi:.4g}]" in j.why and "the margin 0.1" in j.why
    # seeds needed: smallest n with t_{n-1} * s / sqrt(n) < |mean - margin|
    s, dist = float(np.std(d, ddof=1)), abs(np.mean(d) - 0.1)
    n = next(n for n in range(2, 1000) if stats.t.ppf(0.975, n - 1) * s / math.sqrt(n) < dist)
    assert R.seeds_needed(s, dist) == n
    assert f"about {n} seeds would decide it" in j.why
    one = R.Greater().judge([0.3])
    assert one.verdict == "inconclusive" and one.why == "one seed: no interval"
    assert one.ci is None and one.seed_holds == [True]


def test_seeded_bootstrap_by_hand():
    items = [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0]]
    lo, hi = R.bootstrap_interval(items, resamples=500, seed=3)
    rng = np.random.default_rng(3)
    stats_ = []
    for _ in range(500):
        drawn = rng.integers(0, 3, size=3)
        means = []
        for j in drawn:
            arr = np.asarray(items[j])
            means.append(arr[rng.integers(0, arr.size, size=arr.size)].mean())
        stats_.append(np.mean(means))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(stats_, [0.025, 0.975])))
    assert R.bootstrap_interval(items, seed=3) == R.bootstrap_interval(items, seed=3)
    j = R.AtLeast(0.2, interval="bootstrap").judge([2 / 3, 0.5, 1.0], items=items)
    boot, t = R.bootstrap_interval(items), R.t_interval([2 / 3, 0.5, 1.0])
    # the rule reports the hull of the bootstrap and the seed-level t-interval: never narrower
    assert j.ci == pytest.approx((min(boot[0], t[0]), max(boot[1], t[1])))
    assert j.ci[1] - j.ci[0] >= t[1] - t[0] > boot[1] - boot[0]  # at 3 seeds the t is wider
    with pytest.raises(ValueError, match="needs items"):
        R.AtLeast(0.2, interval="bootstrap").judge([0.5, 0.6])
    with pytest.raises(ValueError, match="interval must be"):
        R.AtLeast(0.2, interval="z")


def test_sentences_and_bad_input():
    assert R.AtLeast(0.9).sentence("test accuracy") == (
        "mean test accuracy over seeds >= 0.9 (95% interval)")
    assert "A - B > 0.1" in R.Greater(margin=0.1).sentence("acc")
    assert "A - B < -0.1" in R.Less(margin=0.1).sentence("acc")
    with pytest.raises(TypeError, match="threshold must be a number"):
        R.AtLeast("0.9")
    with pytest.raises(ValueError, match="finite"):
        R.AtLeast(0.9).judge([0.5, float("nan")])
    with pytest.raises(ValueError, match="non-empty"):
        R.AtLeast(0.9).judge([])
