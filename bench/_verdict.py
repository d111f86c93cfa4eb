"""Three-outcome verdicts for the overhead benches (EVIDENCE.md section 2): a timing goal
``ratio <= goal`` is judged on the per-repeat ratios (rounds of fresh processes, processes of
the in-process comparison, lockstep pairs) with the boundaries of the lab framework's
:class:`AtMost` rule, applied to their logarithms: the geometric mean and its t-interval over
repeats (at a chosen level, which ``AtMost`` does not take, hence its two comparisons here).

- ``MET``: the whole interval lies at or below the goal;
- ``NOT MET``: the whole interval lies above it;
- ``INCONCLUSIVE``: the interval straddles the goal (or starts at it); the note says about
  how many repeats in all would decide it at the observed spread (the count at which the
  interval's half-width equals the distance to the goal: about even odds, not a power
  calculation).

Several rows (every case and batch) meet a goal together when each row's 95% interval is at
or below it (an intersection-union test: no correction needed). The reverse, "some row does
not meet it", is judged on Bonferroni intervals (level ``1 - 0.05 / rows``): with 8 rows
whose true ratio sits at the goal, one row's 95% interval alone would lie above it by chance
in about 18% of runs.

The bench's median lines stay as they were (the protocol issue 13 names); these lines add
what the median alone cannot say: whether the repeats' spread lets the run decide at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MET, NOT_MET, INCONCLUSIVE = "MET", "NOT MET", "INCONCLUSIVE"
LEVEL = 0.95


@dataclass(frozen=True)
class RatioVerdict:
    """The geometric mean of per-repeat ratios, its interval, the verdict and a note."""

    mean: float
    lo: float
    hi: float
    verdict: str
    note: str = ""


def gmean_interval(ratios: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """``(geometric mean, lo, hi)``: the t-interval of ``log(ratios)``, exponentiated."""
    from deepdojo.labs.framework.rules import t_interval

    logs = [math.log(r) for r in ratios]
    lo, hi = t_interval(logs, level)
    return math.exp(sum(logs) / len(logs)), math.exp(lo), math.exp(hi)


def judge_ratio(ratios: Sequence[float], goal: float, unit: str = "rounds",
                level: float = LEVEL) -> RatioVerdict:  # fmt: skip
    """``ratio <= goal`` on the ``level`` interval of the ratios (``AtMost``'s sides: met when
    ``hi <= goal``, not met when ``lo > goal``); ``unit`` names a repeat in the note."""
    from deepdojo.labs.framework.rules import seeds_needed

    if len(ratios) < 2:
        raise ValueError(f"a verdict needs at least 2 {unit}, got {len(ratios)}")
    mean, lo, hi = gmean_interval(ratios, level)
    if hi <= goal:
        return RatioVerdict(mean, lo, hi, MET)
    if lo > goal:
        return RatioVerdict(mean, lo, hi, NOT_MET)
    logs = [math.log(r) for r in ratios]
    centre = sum(logs) / len(logs)
    spread = math.sqrt(sum((x - centre) ** 2 for x in logs) / (len(logs) - 1))
    n = max(seeds_needed(spread, abs(centre - math.log(goal)), level), len(ratios) + 1)
    decide = (f"about {n} {unit} in all would decide it" if n < 10_000
              else f"no practical number of {unit} would decide it")  # fmt: skip
    return RatioVerdict(mean, lo, hi, INCONCLUSIVE, f"straddles {goal}: {decide}")


def judge_rows(rows: Sequence[Sequence[float]], goal: float) -> tuple[str, str]:
    """``(verdict, counts)`` of "every row meets ``goal``": MET when every row's 95% interval
    is at or below it, NOT MET when some row's Bonferroni interval (level ``1 - 0.05/k`` for
    ``k`` rows) lies above it, else INCONCLUSIVE. Rows of fewer than two repeats are left
    out (none left: INCONCLUSIVE)."""
    rows = [r for r in rows if len(r) >= 2]
    if not rows:
        return INCONCLUSIVE, "no row with 2 or more repeats"
    each = [judge_ratio(r, goal).verdict for r in rows]
    strict = 1 - (1 - LEVEL) / len(rows)
    above = sum(judge_ratio(r, goal, level=strict).verdict == NOT_MET for r in rows)
    counts = (f"{each.count(MET)} met, {each.count(NOT_MET)} not met, "
              f"{each.count(INCONCLUSIVE)} inconclusive at 95%; {above} above the goal at "
              f"{strict:.1%}")  # fmt: skip
    if all(v == MET for v in each):
        return MET, counts
    return (NOT_MET if above else INCONCLUSIVE), counts


def contains_one(ratios: Sequence[float], goal: float | None = None) -> RatioVerdict:
    """The A/A check: the 95% interval of a hand loop against its twin should hold 1 (``MET``
    when it does; else the protocol is biased here). With ``goal``, the note also says
    whether the interval is narrower than the goal's margin: when it is not, this protocol
    cannot tell a ratio at the goal from no overhead in this run."""
    mean, lo, hi = gmean_interval(ratios)
    ok = lo <= 1.0 <= hi
    note = "holds 1" if ok else "excludes 1: the protocol is biased here"
    if goal is not None and ok:
        wide = hi > goal or lo < 1 / goal
        note += (f", wider than the goal's margin (noise floor above {goal - 1:.0%})" if wide
                 else f", within the goal's margin ({goal - 1:.0%})")  # fmt: skip
    return RatioVerdict(mean, lo, hi, MET if ok else NOT_MET, note)
