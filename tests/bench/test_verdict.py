"""The overhead benches' three-outcome verdicts (bench/_verdict.py): the interval is the
t-interval of the log ratios, and each outcome comes from where it lies against the goal."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
from scipy import stats

_PATH = Path(__file__).resolve().parents[2] / "bench" / "_verdict.py"
_spec = importlib.util.spec_from_file_location("bench_verdict", _PATH)
assert _spec is not None and _spec.loader is not None
_verdict = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _verdict  # its dataclass looks itself up there
_spec.loader.exec_module(_verdict)  # loaded by path: bench/ is not put on sys.path
INCONCLUSIVE, MET, NOT_MET = _verdict.INCONCLUSIVE, _verdict.MET, _verdict.NOT_MET
judge_rows, contains_one = _verdict.judge_rows, _verdict.contains_one
gmean_interval, judge_ratio = _verdict.gmean_interval, _verdict.judge_ratio


def test_the_interval_is_the_t_interval_of_the_log_ratios() -> None:
    ratios = [1.031, 1.046, 1.040, 1.035, 1.045]
    logs = [math.log(r) for r in ratios]
    n = len(logs)
    mean = sum(logs) / n
    lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=stats.sem(logs))
    got = gmean_interval(ratios)
    assert got == pytest.approx((math.exp(mean), math.exp(lo), math.exp(hi)), rel=1e-12)
    v = judge_ratio(ratios, 1.05)
    assert (v.mean, v.lo, v.hi) == pytest.approx(got, rel=1e-12)


def test_met_when_the_whole_interval_is_at_or_below_the_goal() -> None:
    v = judge_ratio([1.031, 1.046, 1.040, 1.035, 1.045], 1.05)
    assert v.hi <= 1.05
    assert (v.verdict, v.note) == (MET, "")


def test_not_met_when_the_whole_interval_is_above_the_goal() -> None:
    v = judge_ratio([1.10, 1.12, 1.09, 1.11, 1.13], 1.05)
    assert v.lo > 1.05
    assert v.verdict == NOT_MET


def test_inconclusive_when_the_interval_straddles_the_goal_and_says_how_many_would_decide() -> None:
    ratios = [1.016, 1.221, 1.05, 1.09, 1.03]
    v = judge_ratio(ratios, 1.05, "processes")
    assert v.lo < 1.05 < v.hi
    assert v.verdict == INCONCLUSIVE
    n = int(v.note.split("about ")[1].split(" processes")[0])
    logs = [math.log(r) for r in ratios]
    spread = stats.tstd(logs)
    distance = abs(sum(logs) / len(logs) - math.log(1.05))
    # n is the smallest count whose interval half-width at this spread clears the distance
    assert stats.t.ppf(0.975, n - 1) * spread / math.sqrt(n) < distance
    assert stats.t.ppf(0.975, n - 2) * spread / math.sqrt(n - 1) >= distance


def test_a_median_below_the_goal_is_not_enough_when_the_spread_is_wide() -> None:
    ratios = [0.98, 1.04, 1.30, 0.95, 1.03]  # median 1.03, but one slow round
    assert sorted(ratios)[2] <= 1.05
    assert judge_ratio(ratios, 1.05).verdict == INCONCLUSIVE


def test_one_ratio_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 rounds"):
        judge_ratio([1.0], 1.05)


def _ratios_with(end: str, at: float) -> list[float]:
    """Two ratios (+-2% around their centre) whose 95% interval has its ``end`` at ``at``."""
    half = math.log(1.02) * stats.t.ppf(0.975, 1)  # two values c +- d: half-width t * d
    centre = math.log(at) + (half if end == "lo" else -half)
    return [math.exp(centre - math.log(1.02)), math.exp(centre + math.log(1.02))]


def test_the_boundaries_are_atmosts() -> None:
    eps = 1e-9
    assert judge_ratio(_ratios_with("hi", 1.05), 1.05).hi == pytest.approx(1.05, rel=1e-12)
    assert judge_ratio(_ratios_with("hi", 1.05 - eps), 1.05).verdict == MET
    assert judge_ratio(_ratios_with("hi", 1.05 + eps), 1.05).verdict == INCONCLUSIVE
    assert judge_ratio(_ratios_with("lo", 1.05 + eps), 1.05).verdict == NOT_MET
    assert judge_ratio(_ratios_with("lo", 1.05 - eps), 1.05).verdict == INCONCLUSIVE
    assert judge_ratio([1.0, 1.0, 1.0], 1.05).verdict == MET  # zero spread below the goal


def test_zero_spread_at_the_goal_never_asks_for_fewer_rounds_than_it_had() -> None:
    v = judge_ratio([1.05] * 10, 1.05)
    if v.verdict == INCONCLUSIVE:  # rounding can put the goal a hair inside the interval
        n = int(v.note.split("about ")[1].split(" rounds")[0])
        assert n > 10


def test_every_row_meets_the_goal_only_when_every_interval_does() -> None:
    good = [1.031, 1.046, 1.040, 1.035, 1.045]
    wide = [1.016, 1.221, 1.05, 1.09, 1.03]
    assert judge_rows([good, good], 1.05)[0] == MET
    assert judge_rows([good, wide], 1.05)[0] == INCONCLUSIVE
    assert judge_rows([good, [1.10, 1.12, 1.09, 1.11, 1.13]], 1.05)[0] == NOT_MET
    assert judge_rows([[1.0]], 1.05)[0] == INCONCLUSIVE  # no row with two repeats


def test_one_row_above_at_95_but_not_at_bonferroni_is_not_a_failure() -> None:
    # a row whose 95% interval just clears the goal but whose 99.375% one (8 rows) does not
    row = [1.055, 1.075, 1.065, 1.06, 1.07]
    assert judge_ratio(row, 1.05).verdict == NOT_MET
    assert judge_ratio(row, 1.05, level=1 - 0.05 / 8).verdict == INCONCLUSIVE
    good = [1.031, 1.046, 1.040, 1.035, 1.045]
    verdict, counts = judge_rows([row] + [good] * 7, 1.05)
    assert verdict == INCONCLUSIVE
    assert counts.startswith("7 met, 1 not met, 0 inconclusive at 95%; 0 above")


def test_the_aa_check_holds_one_or_says_the_protocol_is_biased() -> None:
    assert contains_one([0.97, 1.02, 1.01, 0.99]).verdict == MET
    biased = contains_one([1.10, 1.11, 1.12, 1.10])
    assert biased.verdict == NOT_MET
    assert "biased" in biased.note


def test_the_aa_check_says_when_its_noise_is_wider_than_the_goal() -> None:
    assert "within the goal's margin" in contains_one([0.995, 1.002, 1.001, 0.999], 1.05).note
    assert "wider than the goal's margin" in contains_one([0.90, 1.12, 1.0, 0.97], 1.05).note
