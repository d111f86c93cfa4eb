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
resampled means (2000 resamples).

Vocabulary: :class:`AtLeast`, :class:`AtMost`, :class:`Greater`, :class:`Less`, :class:`Within`,
:class:`WithinFactor` (interval rules); :class:`EverySeed`, :class:`FractionOfSeeds` (per-seed
rules, no interval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from deepdojo.labs.framework.intervals import (
    LEVEL,
    as_values,
    bootstrap_interval,
    seeds_needed,
    t_interval,
)

HOLDS = "holds"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
INTERVALS = ("t", "bootstrap")


@dataclass(frozen=True)
class Judgement:
    """What a rule concluded from the per-seed values.

    Attributes
    ----------
    verdict : {"holds", "does not hold", "inconclusive"}
    value : float or None
        The number judged: the mean of the values (the share of passing seeds for
        :class:`FractionOfSeeds`).
    ci : (float, float) or None
        The 95% interval of the mean, where the rule has one.
    margin : float or None
        The rule's threshold or margin, in the values' units.
    seed_holds : list of bool
        Each seed's value against the rule's point condition.
    why : str
        The rule's own one-sentence reason (always set for "inconclusive").
    """

    verdict: str
    value: float | None
    ci: tuple[float, float] | None
    margin: float | None
    seed_holds: list[bool] = field(default_factory=list)
    why: str = ""


def _g(x: float) -> str:
    """Numbers in sentences: 4 significant digits."""
    return f"{x:.4g}"


def _check_number(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


class Rule:
    """Base of every rule: ``sentence(metric)``, ``judge(values)``, ``point(value)`` and
    ``condition()`` (the point condition as text, e.g. ``">= 0.9"``)."""

    paired_op = "difference"  # how a=/b= become values: "difference" a - b, "ratio" a / b

    def sentence(self, metric: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def point(self, value: float) -> bool:  # pragma: no cover - abstract
        """The rule's condition on one number (one seed's value)."""
        raise NotImplementedError

    def condition(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def judge(
        self, values: Sequence[float], items: Sequence[Sequence[float]] | None = None
    ) -> Judgement:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class _IntervalRule(Rule):
    """A rule on the mean, judged by its 95% interval against the rule's boundary.

    Subclasses give ``_margin`` (recorded), ``_transform`` (log for ratios), ``_side(lo, hi)``
    (the verdict), ``_distance(mean)`` (to the deciding boundary), ``_boundary_text`` and
    ``_placement(verdict)`` (sentence pieces).
    """

    interval: str = field(default="t", kw_only=True)  # "t" or "bootstrap"
    _log: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ValueError(f"interval must be 't' or 'bootstrap', got {self.interval!r}")

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return x

    def _interval(
        self, values: np.ndarray, items: Sequence[Sequence[float]] | None
    ) -> tuple[float, float]:
        if self.interval == "bootstrap":
            if items is None:
                raise ValueError("interval='bootstrap' needs items= (one item array per seed)")
            if len(items) != values.size:
                raise ValueError(f"items has {len(items)} seeds but values has {values.size}")
            return bootstrap_interval(items, transform="log" if self._log else None)
        return t_interval(values)

    def judge(
        self, values: Sequence[float], items: Sequence[Sequence[float]] | None = None
    ) -> Judgement:
        raw = as_values(values)
        seed_holds = [bool(self.point(float(v))) for v in raw]
        x = self._transform(raw)
        mean = float(x.mean())
        value = math.exp(mean) if self._log else mean  # ratios: the geometric mean
        if x.size < 2:
            return Judgement(INCONCLUSIVE, value, None, self._margin, seed_holds,
                             "one seed: no interval")
        lo, hi = self._interval(x, items)
        verdict = self._side(lo, hi)
        ci = (math.exp(lo), math.exp(hi)) if self._log else (lo, hi)
        where = f"the {LEVEL:.0%} interval [{_g(ci[0])}, {_g(ci[1])}]"
        if verdict == INCONCLUSIVE:
            n = seeds_needed(float(x.std(ddof=1)), self._distance(mean))
            decide = (f"about {n} seeds would decide it" if n < 10_000
                      else "no practical number of seeds would decide it")
            why = f"{where} straddles {self._boundary_text}; at the observed spread {decide}"
        else:
            why = f"{where} {self._placement(verdict)}"
        return Judgement(verdict, value, (float(ci[0]), float(ci[1])), self._margin,
                         seed_holds, why)


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
        return float(self.margin) if self._up else -float(self.margin)

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


__all__ = [
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "VERDICTS",
    "AtLeast",
    "AtMost",
    "EverySeed",
    "FractionOfSeeds",
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
