"""Intervals of a mean over seeds: the t-interval, the two-level bootstrap, seeds needed.

The t-interval of the mean of ``n`` per-seed values is

    mean ± t_{0.975, n-1} · s / sqrt(n),    s = sample standard deviation (ddof=1),

identical to ``scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=s / sqrt(n))``. The
bootstrap resamples seeds, then items within each drawn seed (never items alone, which would
ignore seed noise), with a fixed generator seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LEVEL = 0.95  # the confidence level of every interval
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def as_values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-seed values as a finite 1-D float64 array (ValueError otherwise)."""
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("values must be a non-empty sequence of numbers, one per seed")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"values must be finite, got {arr.tolist()}")
    return arr


def t_interval(values: Sequence[float] | np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The t-interval of the mean: ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``.

    Equal to ``scipy.stats.t.interval(level, n - 1, loc=mean, scale=s / sqrt(n))``; needs
    ``n >= 2`` values. Identical values give the zero-width interval ``(mean, mean)``.
    """
    from scipy import stats

    arr = as_values(values)
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
