"""What every claim rule shares: the verdicts, :class:`Judgement`, the :class:`Rule` protocol and
the interval machinery of the rules judged on the mean (:mod:`.rules` holds the vocabulary).
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

    @property
    def _margin(self) -> float | None:
        """The threshold or margin recorded with the claim (None: the rule has none)."""
        return None

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

    interval: str = field(default="t", kw_only=True)  # "t" or "bootstrap" (hull with t)
    _log: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ValueError(f"interval must be 't' or 'bootstrap', got {self.interval!r}")

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return x

    # the pieces each interval rule gives (see the class docstring)
    @property
    def _boundary_text(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def _straddle_text(self) -> str:
        """The boundary as named in an "inconclusive" reason."""
        return self._boundary_text

    def _side(self, lo: float, hi: float) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _distance(self, mean: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _placement(self, verdict: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _interval(
        self, values: np.ndarray, items: Sequence[Sequence[float]] | None
    ) -> tuple[float, float]:
        if self.interval == "bootstrap":
            if items is None:
                raise ValueError("interval='bootstrap' needs items= (one item array per seed)")
            if len(items) != values.size:
                raise ValueError(f"items has {len(items)} seeds but values has {values.size}")
            # The percentile bootstrap over a handful of seeds is too narrow (at 5 seeds it came
            # out 20-35% narrower than the seed-level t-interval): report the hull of the two,
            # so that resampling items never claims more certainty than the seeds give.
            blo, bhi = bootstrap_interval(items, transform="log" if self._log else None)
            tlo, thi = t_interval(values)
            return min(blo, tlo), max(bhi, thi)
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
            why = f"{where} straddles {self._straddle_text}; at the observed spread {decide}"
        else:
            why = f"{where} {self._placement(verdict)}"
        return Judgement(verdict, value, (float(ci[0]), float(ci[1])), self._margin,
                         seed_holds, why)
