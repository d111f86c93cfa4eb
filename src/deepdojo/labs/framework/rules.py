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

import numpy as np

HOLDS = "holds"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
LEVEL = 0.95  # the confidence level of every interval
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
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


def _as_values(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("values must be a non-empty sequence of numbers, one per seed")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"values must be finite, got {arr.tolist()}")
    return arr


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The t-interval of the mean: ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``.

    Equal to ``scipy.stats.t.interval(level, n - 1, loc=mean, scale=s / sqrt(n))``; needs
    ``n >= 2`` values. Identical values give the zero-width interval ``(mean, mean)``.
    """
    from scipy import stats

    arr = _as_values(values)
    n = arr.size
    if n < 2:
        raise ValueError(f"a t-interval needs at least 2 values, got {n}")
    mean = float(arr.mean())
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * float(arr.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def bootstrap_interval(
    items: Sequence[Sequence[float]],
    *,
    level: float = LEVEL,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    transform: str | None = None,
) -> tuple[float, float]:
    """Two-level percentile bootstrap of the mean: seeds first, then items within each seed.

    Each resample draws ``n`` seeds with replacement, then, for each drawn seed ``j``, its
    ``m_j`` items with replacement; the statistic is the mean over drawn seeds of their item
    means. The interval is the ``(1 - level)/2`` and ``(1 + level)/2`` percentiles of
    ``resamples`` statistics, drawn from ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    items : sequence of 1-D arrays
        ``items[j]`` holds the per-item values of seed ``j`` (lengths may differ).
    transform : {None, "log"}
        Apply ``log`` to every item first (used by :class:`WithinFactor`).
    """
    per_seed = [np.asarray(x, dtype=np.float64).ravel() for x in items]
    if len(per_seed) < 2:
        raise ValueError(f"a bootstrap over seeds needs at least 2 seeds, got {len(per_seed)}")
    if any(x.size == 0 for x in per_seed):
        raise ValueError("items: every seed needs at least one item")
    if transform == "log":
        if any(np.any(x <= 0) for x in per_seed):
            raise ValueError("items must be > 0 for a ratio rule")
        per_seed = [np.log(x) for x in per_seed]
    if any(not np.all(np.isfinite(x)) for x in per_seed):
        raise ValueError("items must be finite")
    rng = np.random.default_rng(seed)
    n = len(per_seed)
    stats = np.empty(resamples)
    for r in range(resamples):
        drawn = rng.integers(0, n, size=n)
        means = [per_seed[j][rng.integers(0, per_seed[j].size, size=per_seed[j].size)].mean()
                 for j in drawn]
        stats[r] = np.mean(means)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def seeds_needed(spread: float, distance: float, level: float = LEVEL, cap: int = 10_000) -> int:
    """Smallest ``n >= 2`` with ``t_{(1+level)/2, n-1} · spread / sqrt(n) < distance``.

    ``spread`` is the per-seed standard deviation, ``distance`` how far the mean lies from the
    boundary that would decide the rule. Returns ``cap`` when no ``n <= cap`` is enough.
    """
    from scipy import stats

    if spread <= 0:
        return 2
    if distance <= 0:
        return cap
    n = 2
    while n < cap:
        if float(stats.t.ppf((1 + level) / 2, n - 1)) * spread / math.sqrt(n) < distance:
            return n
        n += 1
    return cap


class Rule:
    """Base of every rule: ``sentence(metric)``, ``judge(values)`` and ``point(value)``."""

    paired_op = "difference"  # how a=/b= become values: "difference" a - b, "ratio" a / b

    def sentence(self, metric: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def point(self, value: float) -> bool:  # pragma: no cover - abstract
        """The rule's condition on one number (one seed's value)."""
        raise NotImplementedError

    def judge(
        self, values: Sequence[float], items: Sequence[Sequence[float]] | None = None
    ) -> Judgement:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class _IntervalRule(Rule):
    """A rule on the mean judged by its 95% interval against one or two boundaries."""

    def __post_init__(self) -> None:
        if getattr(self, "interval", "t") not in INTERVALS:
            raise ValueError(f"interval must be 't' or 'bootstrap', got {self.interval!r}")

    # subclasses define: _margin, _transform(values), _side(lo, hi) -> verdict, _distance(mean)
    _log = False

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
        raw = _as_values(values)
        seed_holds = [bool(self.point(float(v))) for v in raw]
        x = self._transform(raw)
        mean = float(x.mean())
        value = math.exp(mean) if self._log else float(raw.mean())  # geometric mean of ratios
        margin = self._margin
        if x.size < 2:
            return Judgement(INCONCLUSIVE, value, None, margin, seed_holds,
                             "one seed: no interval")
        lo, hi = self._interval(x, items)
        verdict = self._side(lo, hi)
        shown = (math.exp(lo), math.exp(hi)) if self._log else (lo, hi)
        ci = (float(shown[0]), float(shown[1]))
        where = f"the {LEVEL:.0%} interval [{_g(ci[0])}, {_g(ci[1])}]"
        if verdict == INCONCLUSIVE:
            sd = float(x.std(ddof=1))
            n = seeds_needed(sd, self._distance(mean))
            decide = (f"about {n} seeds would decide it" if n < 10_000
                      else "no practical number of seeds would decide it")
            why = (f"{where} straddles {self._boundary_text()}; at the observed spread "
                   f"{decide}")
        else:
            why = f"{where} {self._placement(verdict)}"
        return Judgement(verdict, value, ci, margin, seed_holds, why)


@dataclass(frozen=True)
class AtLeast(_IntervalRule):
    """The mean is at least ``threshold``: holds when CI low >= threshold, fails when CI high
    < threshold."""

    threshold: float
    interval: str = "t"

    def __post_init__(self) -> None:
        _check_number("threshold", self.threshold)
        super().__post_init__()

    @property
    def _margin(self) -> float:
        return float(self.threshold)

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return x

    def point(self, value: float) -> bool:
        return value >= self.threshold

    def _side(self, lo: float, hi: float) -> str:
        return HOLDS if lo >= self.threshold else FAILS if hi < self.threshold else INCONCLUSIVE

    def _distance(self, mean: float) -> float:
        return abs(mean - self.threshold)

    def _boundary_text(self) -> str:
        return f"the threshold {_g(self.threshold)}"

    def _placement(self, verdict: str) -> str:
        side = "at or above" if verdict == HOLDS else "below"
        return f"lies {side} {_g(self.threshold)}"

    def sentence(self, metric: str) -> str:
        return f"mean {metric or 'value'} over seeds >= {_g(self.threshold)} (95% interval)"


@dataclass(frozen=True)
class AtMost(_IntervalRule):
    """The mean is at most ``threshold``: holds when CI high <= threshold, fails when CI low
    > threshold."""

    threshold: float
    interval: str = "t"

    def __post_init__(self) -> None:
        _check_number("threshold", self.threshold)
        super().__post_init__()

    @property
    def _margin(self) -> float:
        return float(self.threshold)

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return x

    def point(self, value: float) -> bool:
        return value <= self.threshold

    def _side(self, lo: float, hi: float) -> str:
        return HOLDS if hi <= self.threshold else FAILS if lo > self.threshold else INCONCLUSIVE

    def _distance(self, mean: float) -> float:
        return abs(mean - self.threshold)

    def _boundary_text(self) -> str:
        return f"the threshold {_g(self.threshold)}"

    def _placement(self, verdict: str) -> str:
        side = "at or below" if verdict == HOLDS else "above"
        return f"lies {side} {_g(self.threshold)}"

    def sentence(self, metric: str) -> str:
        return f"mean {metric or 'value'} over seeds <= {_g(self.threshold)} (95% interval)"


@dataclass(frozen=True)
class Greater(_IntervalRule):
    """The paired difference ``a - b`` exceeds ``margin``: holds when CI low > margin, fails
    when CI high <= margin."""

    margin: float = 0.0
    interval: str = "t"

    def __post_init__(self) -> None:
        _check_number("margin", self.margin)
        super().__post_init__()

    @property
    def _margin(self) -> float:
        return float(self.margin)

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return x

    def point(self, value: float) -> bool:
        return value > self.margin

    def _side(self, lo: float, hi: float) -> str:
        return HOLDS if lo > self.margin else FAILS if hi <= self.margin else INCONCLUSIVE

    def _distance(self, mean: float) -> float:
        return abs(mean - self.margin)

    def _boundary_text(self) -> str:
        return f"the margin {_g(self.margin)}"

    def _placement(self, verdict: str) -> str:
        side = "above" if verdict == HOLDS else "at or below"
        return f"lies {side} the margin {_g(self.margin)}"

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'value'}: A - B > {_g(self.margin)} on paired seeds "
                "(95% interval of the difference)")


@dataclass(frozen=True)
class Less(_IntervalRule):
    """The paired difference ``a - b`` is below ``-margin``: holds when CI high < -margin,
    fails when CI low >= -margin."""

    margin: float = 0.0
    interval: str = "t"

    def __post_init__(self) -> None:
        _check_number("margin", self.margin)
        super().__post_init__()

    @property
    def _margin(self) -> float:
        return float(self.margin)

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return x

    def point(self, value: float) -> bool:
        return value < -self.margin

    def _side(self, lo: float, hi: float) -> str:
        return HOLDS if hi < -self.margin else FAILS if lo >= -self.margin else INCONCLUSIVE

    def _distance(self, mean: float) -> float:
        return abs(mean + self.margin)

    def _boundary_text(self) -> str:
        return f"the margin {_g(-self.margin)}"

    def _placement(self, verdict: str) -> str:
        side = "below" if verdict == HOLDS else "at or above"
        return f"lies {side} {_g(-self.margin)}"

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'value'}: A - B < {_g(-self.margin)} on paired seeds "
                "(95% interval of the difference)")


@dataclass(frozen=True)
class Within(_IntervalRule):
    """Equivalence: ``|mean| <= margin``. Holds when the CI lies inside ``[-margin, margin]``,
    fails when it lies entirely outside, else inconclusive."""

    margin: float
    interval: str = "t"

    def __post_init__(self) -> None:
        _check_number("margin", self.margin, positive=True)
        super().__post_init__()

    @property
    def _margin(self) -> float:
        return float(self.margin)

    @property
    def _bound(self) -> float:
        return float(self.margin)

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return x

    def point(self, value: float) -> bool:
        return abs(value) <= self.margin

    def _side(self, lo: float, hi: float) -> str:
        m = self._bound
        if -m <= lo and hi <= m:
            return HOLDS
        return FAILS if hi < -m or lo > m else INCONCLUSIVE

    def _distance(self, mean: float) -> float:
        return abs(self._bound - abs(mean))

    def _boundary_text(self) -> str:
        return f"the band ±{_g(self.margin)}"

    def _placement(self, verdict: str) -> str:
        side = "inside" if verdict == HOLDS else "outside"
        return f"lies {side} the band ±{_g(self.margin)}"

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'value'}: |A - B| <= {_g(self.margin)} on paired seeds "
                "(95% interval inside the band)")


@dataclass(frozen=True)
class WithinFactor(_IntervalRule):
    """Ratios within a factor: values ``r > 0`` (paired: ``a / b``) with
    ``1/factor <= r <= factor``, judged as :class:`Within` ``(log(factor))`` on ``log r``.
    The recorded interval is mapped back to ratios; ``margin`` records the factor."""

    factor: float
    interval: str = "t"
    paired_op = "ratio"
    _log = True

    def __post_init__(self) -> None:
        _check_number("factor", self.factor, positive=True)
        if self.factor <= 1:
            raise ValueError(f"factor must be > 1, got {self.factor!r}")
        super().__post_init__()

    @property
    def _margin(self) -> float:
        return float(self.factor)

    @property
    def _bound(self) -> float:
        return math.log(self.factor)

    def _transform(self, x: np.ndarray) -> np.ndarray:
        if np.any(x <= 0):
            raise ValueError(f"WithinFactor needs values > 0, got {x.tolist()}")
        return np.log(x)

    def point(self, value: float) -> bool:
        return value > 0 and 1 / self.factor <= value <= self.factor

    _side = Within._side
    _distance = Within._distance

    def _boundary_text(self) -> str:
        return f"the band [1/{_g(self.factor)}, {_g(self.factor)}]"

    def _placement(self, verdict: str) -> str:
        side = "inside" if verdict == HOLDS else "outside"
        return f"lies {side} [1/{_g(self.factor)}, {_g(self.factor)}]"

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'ratio'} within a factor {_g(self.factor)} "
                "(95% interval of the geometric mean)")


def _seed_list(flags: list[bool]) -> str:
    return ", ".join(str(i) for i, ok in enumerate(flags) if not ok)


@dataclass(frozen=True)
class EverySeed(Rule):
    """Every seed's value passes ``inner``'s point condition (no interval): for checks and
    deterministic facts. Holds iff all seeds pass, else does not hold."""

    inner: Rule

    def __post_init__(self) -> None:
        if not isinstance(self.inner, _IntervalRule):
            raise TypeError(f"EverySeed needs an interval rule inside, got {self.inner!r}")

    @property
    def paired_op(self) -> str:  # type: ignore[override]
        return self.inner.paired_op

    def point(self, value: float) -> bool:
        return self.inner.point(value)

    def judge(
        self, values: Sequence[float], items: Sequence[Sequence[float]] | None = None
    ) -> Judgement:
        raw = _as_values(values)
        flags = [bool(self.inner.point(float(v))) for v in raw]
        ok = all(flags)
        cond = _point_text(self.inner)
        if ok:
            why = f"'{cond}' on all {raw.size} seed(s)"
        else:
            bad = [_g(float(v)) for v, f in zip(raw, flags, strict=True) if not f]
            why = (f"'{cond}' fails on seed(s) {_seed_list(flags)} of {raw.size} "
                   f"(values {', '.join(bad)})")
        return Judgement(HOLDS if ok else FAILS, float(raw.mean()), None,
                         self.inner._margin, flags, why)

    def sentence(self, metric: str) -> str:
        return f"{metric or 'value'} {_point_text(self.inner)} on every seed"


@dataclass(frozen=True)
class FractionOfSeeds(Rule):
    """At least ``at_least`` of the seeds pass ``inner``'s point condition (no interval).
    The judged value is the passing share."""

    inner: Rule
    at_least: float = 0.8

    def __post_init__(self) -> None:
        if not isinstance(self.inner, _IntervalRule):
            raise TypeError(f"FractionOfSeeds needs an interval rule inside, got {self.inner!r}")
        share = _check_number("at_least", self.at_least)
        if not 0 < share <= 1:
            raise ValueError(f"at_least must be in (0, 1], got {self.at_least!r}")

    @property
    def paired_op(self) -> str:  # type: ignore[override]
        return self.inner.paired_op

    def point(self, value: float) -> bool:
        return self.inner.point(value)

    def judge(
        self, values: Sequence[float], items: Sequence[Sequence[float]] | None = None
    ) -> Judgement:
        raw = _as_values(values)
        flags = [bool(self.inner.point(float(v))) for v in raw]
        share = sum(flags) / len(flags)
        ok = share >= self.at_least - 1e-12
        why = (f"{sum(flags)} of {len(flags)} seeds ({share:.0%}) have "
               f"{_point_text(self.inner)}; the rule needs {self.at_least:.0%}")
        return Judgement(HOLDS if ok else FAILS, share, None, float(self.at_least), flags, why)

    def sentence(self, metric: str) -> str:
        return (f"{metric or 'value'} {_point_text(self.inner)} on at least "
                f"{self.at_least:.0%} of seeds")


def _point_text(rule: Rule) -> str:
    """The point condition of an interval rule, as text (``>= 0.9``, ``|A - B| <= 0.1``)."""
    if isinstance(rule, WithinFactor):
        return f"within a factor {_g(rule.factor)}"
    if isinstance(rule, Within):
        return f"|A - B| <= {_g(rule.margin)}"
    if isinstance(rule, AtLeast):
        return f">= {_g(rule.threshold)}"
    if isinstance(rule, AtMost):
        return f"<= {_g(rule.threshold)}"
    if isinstance(rule, Greater):
        return f"A - B > {_g(rule.margin)}"
    if isinstance(rule, Less):
        return f"A - B < {_g(-rule.margin)}"
    raise TypeError(f"no point condition for {rule!r}")  # pragma: no cover


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
