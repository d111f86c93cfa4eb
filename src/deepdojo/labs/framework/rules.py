"""Claim rules: each rule is declared once and writes its sentence, judges, and gives its interval.

A rule judges the per-seed values of a claim (one number per seed, or the paired differences
``d_i = a_i - b_i`` of two arms run on the same seeds) and returns a :class:`Judgement` with one
of three verdicts (EVIDENCE.md §2):

- ``"holds"``: the 95% interval of the mean lies beyond the margin on the claimed side;
- ``"does not hold"``: it lies on the other side;
- ``"inconclusive"``: it straddles the margin (or there is one seed, so no interval).

The default interval is the t-interval of the mean over the ``n`` seeds,

    mean ± t_{0.975, n-1} · s / sqrt(n),    s = sample standard deviation (ddof=1),

identical to ``scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=s / sqrt(n))``. With
``interval="bootstrap"`` and per-seed item arrays, a seeded two-level bootstrap resamples the
seeds, then the items within each drawn seed, and takes the 2.5 and 97.5 percentiles of the
resampled means (2000 resamples); the rule reports the hull of that interval and the seed-level
t-interval, because a percentile bootstrap over a handful of seeds is too narrow (20-35%
narrower than the t-interval at 5 seeds in the one-shot lab; changed 2026-12-04).

Vocabulary: :class:`AtLeast`, :class:`AtMost`, :class:`Greater`, :class:`Less`, :class:`Within`,
:class:`WithinFactor` (interval rules); :class:`EverySeed`, :class:`FractionOfSeeds` (per-seed
rules, no interval); :class:`Given` (another rule, judged only when a precondition is met).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from deepdojo.labs.framework.intervals import (
    as_values,
    bootstrap_interval,
    seeds_needed,
    t_interval,
)
from deepdojo.labs.framework.judging import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    VERDICTS,
    Judgement,
    Rule,
    _check_number,
    _g,
    _IntervalRule,
)


@dataclass(frozen=True)
class _OneSided(_IntervalRule):
    """Mean above (``_up``) or below a boundary ``b``, strictly or not.

    Up, not strict (AtLeast): holds when CI low >= b, fails when CI high < b. Up, strict
    (Greater): holds when CI low > b, fails when CI high <= b. Down mirrors both.
    """

    _up: ClassVar[bool] = True
    _strict: ClassVar[bool] = False

    @property
    def _bound(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def point(self, value: float) -> bool:
        b = self._bound
        if self._up:
            return value > b if self._strict else value >= b
        return value < b if self._strict else value <= b

    def _side(self, lo: float, hi: float) -> str:
        b = self._bound
        if self._up:
            holds = lo > b if self._strict else lo >= b
            fails = hi <= b if self._strict else hi < b
        else:
            holds = hi < b if self._strict else hi <= b
            fails = lo >= b if self._strict else lo > b
        return HOLDS if holds else FAILS if fails else INCONCLUSIVE

    def _distance(self, mean: float) -> float:
        return abs(mean - self._bound)

    def _op(self) -> str:
        return (">" if self._up else "<") + ("" if self._strict else "=")

    def _placement(self, verdict: str) -> str:
        above = self._up == (verdict == HOLDS)
        inclusive = (verdict == HOLDS) != self._strict
        side = ("at or " if inclusive else "") + ("above" if above else "below")
        return f"lies {side} {self._boundary_text}"


@dataclass(frozen=True)
class _Threshold(_OneSided):
    threshold: float

    def __post_init__(self) -> None:
        _check_number("threshold", self.threshold)
        super().__post_init__()

    @property
    def _bound(self) -> float:
        return float(self.threshold)

    @property
    def _margin(self) -> float:
        return float(self.threshold)

    @property
    def _boundary_text(self) -> str:
        return _g(self.threshold)

    @property
    def _straddle_text(self) -> str:
        return f"the threshold {_g(self.threshold)}"

    def condition(self) -> str:
        return f"{self._op()} {_g(self.threshold)}"

    def sentence(self, metric: str) -> str:
        return f"mean {metric or 'value'} over seeds {self.condition()} (95% interval)"


@dataclass(frozen=True)
class AtLeast(_Threshold):
    """The mean is at least ``threshold``: holds when CI low >= threshold, fails when CI high
    < threshold, else inconclusive."""


@dataclass(frozen=True)
class AtMost(_Threshold):
    """The mean is at most ``threshold``: holds when CI high <= threshold, fails when CI low
    > threshold, else inconclusive."""

    _up: ClassVar[bool] = False


@dataclass(frozen=True)
class _Paired(_OneSided):
    margin: float = 0.0
    _strict: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_number("margin", self.margin)
        super().__post_init__()

    @property
    def _bound(self) -> float:
        return float(self.margin) if self._up else 0.0 - float(self.margin)  # never -0

    @property
    def _margin(self) -> float:
        return float(self.margin)

    @property
    def _boundary_text(self) -> str:
        return f"the margin {_g(self._bound)}"

    def condition(self) -> str:
        return f"A - B {self._op()} {_g(self._bound)}"

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'value'}: {self.condition()} on paired seeds "
                "(95% interval of the difference)")


@dataclass(frozen=True)
class Greater(_Paired):
    """The paired difference ``a - b`` exceeds ``margin``: holds when CI low > margin, fails
    when CI high <= margin, else inconclusive."""


@dataclass(frozen=True)
class Less(_Paired):
    """The paired difference ``a - b`` is below ``-margin``: holds when CI high < -margin,
    fails when CI low >= -margin, else inconclusive."""

    _up: ClassVar[bool] = False


@dataclass(frozen=True)
class _Band(_IntervalRule):
    """Equivalence on (transformed) values: holds when the CI lies inside ``[-w, w]``, fails
    when it lies entirely outside, else inconclusive."""

    @property
    def _width(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _side(self, lo: float, hi: float) -> str:
        w = self._width
        if -w <= lo and hi <= w:
            return HOLDS
        return FAILS if hi < -w or lo > w else INCONCLUSIVE

    def _distance(self, mean: float) -> float:
        return abs(self._width - abs(mean))

    def _placement(self, verdict: str) -> str:
        return f"lies {'inside' if verdict == HOLDS else 'outside'} {self._boundary_text}"


@dataclass(frozen=True)
class Within(_Band):
    """Equivalence ``|a - b| <= margin``: holds when the CI lies inside ``[-margin, margin]``,
    fails when it lies entirely outside, else inconclusive."""

    margin: float

    def __post_init__(self) -> None:
        _check_number("margin", self.margin, positive=True)
        super().__post_init__()

    @property
    def _width(self) -> float:
        return float(self.margin)

    @property
    def _margin(self) -> float:
        return float(self.margin)

    @property
    def _boundary_text(self) -> str:
        return f"the band ±{_g(self.margin)}"

    def point(self, value: float) -> bool:
        return abs(value) <= self.margin

    def condition(self) -> str:
        return f"|A - B| <= {_g(self.margin)}"

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'value'}: {self.condition()} on paired seeds "
                "(95% interval inside the band)")


@dataclass(frozen=True)
class WithinFactor(_Band):
    """Ratios within a factor: values ``r > 0`` (paired: ``a / b``) with
    ``1/factor <= r <= factor``, judged as :class:`Within` ``(log(factor))`` on ``log r``.
    The recorded interval and value (geometric mean) are ratios; ``margin`` is the factor."""

    factor: float
    paired_op = "ratio"
    _log: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_number("factor", self.factor, positive=True)
        if self.factor <= 1:
            raise ValueError(f"factor must be > 1, got {self.factor!r}")
        super().__post_init__()


    @property
    def _width(self) -> float:
        return math.log(self.factor)

    @property
    def _margin(self) -> float:
        return float(self.factor)

    @property
    def _boundary_text(self) -> str:
        return f"[1/{_g(self.factor)}, {_g(self.factor)}]"

    def _transform(self, x: np.ndarray) -> np.ndarray:
        if np.any(x <= 0):
            raise ValueError(f"WithinFactor needs values > 0, got {x.tolist()}")
        return np.log(x)

    def point(self, value: float) -> bool:
        return value > 0 and 1 / self.factor <= value <= self.factor

    def condition(self) -> str:
        return f"within a factor {_g(self.factor)}"

    def sentence(self, metric: str) -> str:
        return f"{metric or 'ratio'} {self.condition()} (95% interval of the geometric mean)"


def _inner_rule(owner: str, inner: Rule) -> None:
    if not isinstance(inner, _IntervalRule):
        raise TypeError(f"{owner} needs an interval rule inside, got {inner!r}")


@dataclass(frozen=True)
class EverySeed(Rule):
    """Every seed's value meets ``inner``'s point condition (no interval): for checks and
    deterministic facts. Holds iff all seeds pass, else does not hold."""

    inner: Rule

    def __post_init__(self) -> None:
        _inner_rule("EverySeed", self.inner)

    @property
    def paired_op(self) -> str:  # type: ignore[override]
        return self.inner.paired_op

    def point(self, value: float) -> bool:
        return self.inner.point(value)

    def condition(self) -> str:
        return self.inner.condition()

    def judge(
        self, values: Sequence[float], items: Sequence[Sequence[float]] | None = None
    ) -> Judgement:
        raw = as_values(values)
        flags = [bool(self.point(float(v))) for v in raw]
        cond, n = self.condition(), raw.size
        if all(flags):
            why = f"the one seed meets {cond}" if n == 1 else f"all {n} seeds meet {cond}"
        else:
            bad = [_g(float(v)) for v, ok in zip(raw, flags, strict=True) if not ok]
            why = f"{len(bad)} of {n} seeds miss {cond} (values {', '.join(bad)})"
        return Judgement(HOLDS if all(flags) else FAILS, float(raw.mean()), None,
                         self.inner._margin, flags, why)

    def sentence(self, metric: str) -> str:
        return f"{metric or 'value'} {self.condition()} on every seed"


@dataclass(frozen=True)
class FractionOfSeeds(Rule):
    """At least ``at_least`` of the seeds meet ``inner``'s point condition (no interval).
    The judged value is the passing share."""

    inner: Rule
    at_least: float = 0.8

    def __post_init__(self) -> None:
        _inner_rule("FractionOfSeeds", self.inner)
        share = _check_number("at_least", self.at_least)
        if not 0 < share <= 1:
            raise ValueError(f"at_least must be in (0, 1], got {self.at_least!r}")

    @property
    def paired_op(self) -> str:  # type: ignore[override]
        return self.inner.paired_op

    def point(self, value: float) -> bool:
        return self.inner.point(value)

    def condition(self) -> str:
        return self.inner.condition()

    def judge(
        self, values: Sequence[float], items: Sequence[Sequence[float]] | None = None
    ) -> Judgement:
        raw = as_values(values)
        flags = [bool(self.point(float(v))) for v in raw]
        share = sum(flags) / len(flags)
        why = (f"{sum(flags)} of {len(flags)} seeds ({share:.0%}) have {self.condition()}; "
               f"the rule needs {self.at_least:.0%}")
        verdict = HOLDS if share >= self.at_least - 1e-12 else FAILS
        return Judgement(verdict, share, None, float(self.at_least), flags, why)

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'value'} {self.condition()} on at least "
                f"{self.at_least:.0%} of seeds")


@dataclass(frozen=True)
class Given(Rule):
    """``inner``, judged only when a precondition ``met``; otherwise "inconclusive" (withheld)
    with the precondition named, whatever the values say. The interval and per-seed values
    are still computed and shown."""

    inner: Rule
    condition_text: str  # the precondition, e.g. "the autoencoder's exactness >= 0.5"
    met: bool
    observed: str = ""  # what was measured, for the reason (e.g. "exactness 0.02")

    @property
    def paired_op(self) -> str:  # type: ignore[override]
        return self.inner.paired_op

    @property
    def _margin(self) -> float | None:
        return self.inner._margin

    def point(self, value: float) -> bool:
        return self.inner.point(value)

    def condition(self) -> str:
        return self.inner.condition()

    def judge(self, values: Sequence[float],
              items: Sequence[Sequence[float]] | None = None) -> Judgement:
        j = self.inner.judge(values, items=items)
        if self.met:
            return j
        seen = f" ({self.observed})" if self.observed else ""
        return Judgement(INCONCLUSIVE, j.value, j.ci, j.margin, j.seed_holds,
                         f"withheld: the precondition {self.condition_text} is not met{seen}, "
                         "so the values cannot decide this claim")

    def sentence(self, metric: str) -> str:
        return f"{self.inner.sentence(metric)}; judged only if {self.condition_text}"


__all__ = [
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "VERDICTS",
    "AtLeast",
    "AtMost",
    "EverySeed",
    "FractionOfSeeds",
    "Given",
    "Greater",
    "Judgement",
    "Less",
    "Rule",
    "Within",
    "WithinFactor",
    "bootstrap_interval",
    "seeds_needed",
    "t_interval",
]
