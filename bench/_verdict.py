"""Three-outcome verdicts for the overhead benches (EVIDENCE.md section 2): a timing goal
``ratio <= goal`` is judged on the per-repeat ratios (rounds of fresh processes, processes of
the in-process comparison, lockstep pairs) by the lab framework's own :class:`AtMost` rule,
applied to their logarithms: the geometric mean and its 95% t-interval over repeats.

- ``MET``: the whole interval lies at or below the goal;
- ``NOT MET``: the whole interval lies above it;
- ``INCONCLUSIVE``: the interval straddles the goal; the note says about how many repeats
  would decide it at the observed spread.

The bench's median lines stay as they were (the protocol issue 13 names); these lines add
what the median alone cannot say: whether the repeats' spread lets the run decide at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MET, NOT_MET, INCONCLUSIVE = "MET", "NOT MET", "INCONCLUSIVE"


@dataclass(frozen=True)
class RatioVerdict:
    """The geometric mean of per-repeat ratios, its 95% interval, the verdict and a note."""

    mean: float
    lo: float
    hi: float
    verdict: str
    note: str = ""


def judge_ratio(ratios: Sequence[float], goal: float, unit: str = "rounds") -> RatioVerdict:
    """``AtMost(log goal)`` on ``log(ratios)``; ``unit`` names a repeat in the note."""
    from deepdojo.labs.framework.rules import FAILS, HOLDS, AtMost, seeds_needed

    if len(ratios) < 2:
        raise ValueError(f"a verdict needs at least 2 {unit}, got {len(ratios)}")
    logs = [math.log(r) for r in ratios]
    j = AtMost(math.log(goal)).judge(logs)
    assert j.ci is not None  # two or more values
    lo, hi = math.exp(j.ci[0]), math.exp(j.ci[1])
    mean = math.exp(sum(logs) / len(logs))
    if j.verdict == HOLDS:
        return RatioVerdict(mean, lo, hi, MET)
    if j.verdict == FAILS:
        return RatioVerdict(mean, lo, hi, NOT_MET)
    spread = math.sqrt(sum((x - math.log(mean)) ** 2 for x in logs) / (len(logs) - 1))
    n = seeds_needed(spread, abs(math.log(mean) - math.log(goal)))
    decide = f"about {n} {unit} would decide it" if n < 10_000 else "no practical number would"
    return RatioVerdict(mean, lo, hi, INCONCLUSIVE, f"straddles {goal}: {decide}")


def combine(verdicts: Iterable[str]) -> str:
    """The verdict of "every row meets the goal": NOT MET if one row does not, MET if all
    do, else INCONCLUSIVE."""
    vs = list(verdicts)
    if NOT_MET in vs:
        return NOT_MET
    return MET if vs and all(v == MET for v in vs) else INCONCLUSIVE


def gmean_interval(ratios: Sequence[float]) -> tuple[float, float, float]:
    """``(geometric mean, lo, hi)``: the 95% t-interval of ``log(ratios)``, exponentiated."""
    from deepdojo.labs.framework.rules import t_interval

    logs = [math.log(r) for r in ratios]
    lo, hi = t_interval(logs)
    return math.exp(sum(logs) / len(logs)), math.exp(lo), math.exp(hi)


def contains_one(ratios: Sequence[float]) -> RatioVerdict:
    """The A/A check: the 95% interval of a hand loop against its twin, which should hold 1
    (``MET`` when it does)."""
    mean, lo, hi = gmean_interval(ratios)
    ok = lo <= 1.0 <= hi
    return RatioVerdict(mean, lo, hi, MET if ok else NOT_MET,
                        "holds 1" if ok else "excludes 1: the protocol is biased here")
