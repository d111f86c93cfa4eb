"""Claims of the learning-rate lab: each rule is declared once, as a rule object.

Every function takes the lab's measurements (``measure``) and records its claim(s) on the
context. Thresholds come from the config; the ``why`` templates are filled with the run's own
numbers when a claim does not hold.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from deepdojo.labs.framework import LabContext, rules

from . import surfaces as surf
from .measure import GridSeed, OptimizerSweep, SchedulePair, closest

if TYPE_CHECKING:
    from . import LearningRateLabConfig


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def _judgeable(values: Sequence[float]) -> list[float]:
    """Rules judge finite numbers only: a non-finite value (a run whose final loss overflowed)
    is recorded as 0, and the claim's ``requires`` condition on finiteness then fails it."""
    return [v if math.isfinite(v) else 0.0 for v in values]


def regimes(cfg: LearningRateLabConfig, ctx: LabContext, grids: Sequence[GridSeed]) -> None:
    """too-small-lr-is-slow and too-large-lr-diverges, on the momentum lr grid."""
    small = [closest(g.fits, cfg.small_lr) for g in grids]
    best_losses = [g.best.train_loss for g in grids]
    ratios = [s.train_loss / b for s, b in zip(small, best_losses, strict=True)]
    finite = _finite(ratios)
    ctx.claim(
        "too-small-lr-is-slow",
        f"With a too-small learning rate ({cfg.small_lr:g}) training is slow: after the same "
        "epochs its training loss is several times that of the grid's best learning rate",
        rules.EverySeed(rules.AtLeast(cfg.slow_factor)),
        values=_judgeable(ratios),
        metric=f"train loss(lr {cfg.small_lr:g}) / train loss(best grid lr by val loss)",
        kind="finding",
        why={"does not hold": (
            "after {epochs} epoch(s) the lr {small_lr:g} run ends at training loss "
            "{small_loss:.3g} against {best_loss:.3g} at the best grid lr (mean over seeds), "
            "a ratio of only {min:.3g} on its worst seed (rule: >= {slow_factor:g})")},
        facts={"epochs": cfg.epochs, "small_lr": cfg.small_lr, "slow_factor": cfg.slow_factor,
               "small_loss": _mean([s.train_loss for s in small]),
               "best_loss": _mean(best_losses)},
        requires={"both training losses are finite on every seed": finite},
    )  # fmt: skip
    large = [closest(g.fits, cfg.large_lr) for g in grids]
    stable = [r for r in large if not r.diverged]
    ctx.claim(
        "too-large-lr-diverges",
        f"A too-large learning rate ({cfg.large_lr:g}) diverges, and the run reports it "
        "(non-finite guard / loss blow-up) instead of crashing",
        rules.EverySeed(rules.AtLeast(1.0)),
        values=[float(r.diverged) for r in large],
        metric=f"diverged at lr {cfg.large_lr:g} (1 = the guard saw NaN/Inf or raised "
        "NonFiniteError, or the final train loss >= the first batch loss)",
        kind="finding",
        why={"does not hold": (
            "at lr {large_lr:g} {n_stable} of {n} seeds trained without a non-finite step and "
            "ended at training loss {stable_loss:.3g}, below their first batch loss "
            "{first_loss:.3g}")},
        facts={"large_lr": cfg.large_lr, "n_stable": len(stable),
               "stable_loss": _mean([r.train_loss for r in stable]),
               "first_loss": _mean([r.step_losses[0] for r in stable])},
    )  # fmt: skip


def finder(cfg: LearningRateLabConfig, ctx: LabContext, grids: Sequence[GridSeed]) -> None:
    """lr-finder-near-grid-best: the LR range test's suggestion against the grid's best lr."""
    suggested = [g.finder.suggestion for g in grids]
    sweep = math.log10(cfg.finder_end_lr / cfg.finder_start_lr)  # stand-in for no suggestion
    gaps = [abs(math.log10(s / g.best.lr)) if s else sweep
            for s, g in zip(suggested, grids, strict=True)]
    ctx.claim(
        "lr-finder-near-grid-best",
        "The LR range test's suggestion (lr at the smoothed-loss minimum / 10) lands near the "
        "best learning rate of a full grid search, at the cost of one short sweep",
        rules.EverySeed(rules.AtMost(cfg.finder_tolerance)),
        values=gaps,
        metric="|log10(finder suggestion / best grid lr by val loss)| (decades)",
        kind="finding",
        why={"does not hold": (
            "the finder suggests {suggestion:.3g} while the grid's best lr by validation loss "
            "is {best_lr:.3g} (medians over seeds); the worst seed is {max:.2f} decades off, "
            "beyond the {tolerance:g}-decade tolerance")},
        facts={"suggestion": statistics.median([s for s in suggested if s] or [math.nan]),
               "best_lr": statistics.median([g.best.lr for g in grids]),
               "tolerance": cfg.finder_tolerance},
        requires={"the LR range test gave a suggestion on every seed": all(suggested)},
    )  # fmt: skip


def quadratic(cfg: LearningRateLabConfig, ctx: LabContext,
              races: dict[int, surf.QuadraticRace]) -> None:
    """ill-conditioned-quadratic: every other optimizer ends far below plain GD."""
    worst = [max((o for o in r.final if o != "sgd"), key=r.final.__getitem__)
             for r in races.values()]
    ratios = [r.final[w] / r.final["sgd"] for r, w in zip(races.values(), worst, strict=True)]
    finite = _finite(ratios)
    common = Counter(worst).most_common(1)[0][0]
    ctx.claim(
        "ill-conditioned-quadratic",
        f"On an axis-aligned quadratic with condition number {cfg.kappa:g}, momentum and the "
        "adaptive methods (Adam, RMSprop, Adagrad) all end far below plain gradient descent, "
        "each at its own best lr",
        rules.EverySeed(rules.AtMost(cfg.quad_ratio)),
        values=_judgeable(ratios),
        metric=f"max over the four of final loss / plain GD's after {cfg.surface_steps} steps "
        "(each optimizer at its best lr of the grid)",
        kind="finding",
        why={"does not hold": (
            "after {steps} steps the worst of the four (mostly {worst}) ends at {worst_loss:.3g} "
            "against plain GD's {sgd_loss:.3g} (means over seeds): a ratio up to {max:.3g}, "
            "above the {quad_ratio:g} bound")},
        facts={"steps": cfg.surface_steps, "worst": common, "quad_ratio": cfg.quad_ratio,
               "worst_loss": _mean([r.final[w] for r, w in zip(races.values(), worst,
                                                                strict=True)]),
               "sgd_loss": _mean([r.final["sgd"] for r in races.values()])},
        requires={"every optimizer's final loss is finite at its best lr": finite},
    )  # fmt: skip


def double_well(cfg: LearningRateLabConfig, ctx: LabContext,
                races: dict[int, surf.DoubleWellRace]) -> None:
    """momentum-escapes-poor-minimum: paired over seeds (same starts for both arms)."""
    ctx.claim(
        "momentum-escapes-poor-minimum",
        "Heavy-ball momentum carries gradient descent over the ridge out of a poor local "
        "minimum more often than plain gradient descent at the same learning rate",
        rules.Greater(margin=0.0),
        a=[r.escaped["momentum"] for r in races.values()],
        b=[r.escaped["sgd"] for r in races.values()],
        metric=f"share of {cfg.well_starts} random starts in the poor basin that escape "
        f"(A = momentum, B = SGD; lr {cfg.well_lr:g}, {cfg.well_steps} steps)",
        kind="finding",
        why={"does not hold": (
            "momentum escapes from {a_mean:.0%} of the starts and plain GD from {b_mean:.0%} "
            "at lr {lr:g} over {steps} steps; the 95% interval of the difference "
            "[{lo:+.2f}, {hi:+.2f}] is not above 0")},
        facts={"lr": cfg.well_lr, "steps": cfg.well_steps},
    )  # fmt: skip


def optimizers(cfg: LearningRateLabConfig, ctx: LabContext,
               sweeps: Sequence[OptimizerSweep]) -> None:
    """lr-matters-more-than-optimizer: lr cost vs spread of the tuned optimizers, per seed."""
    cost = [_mean(list(sw.lr_cost.values())) for sw in sweeps]
    spread = [max(f.test_acc for f in sw.tuned.values())
              - min(f.test_acc for f in sw.tuned.values()) for sw in sweeps]  # fmt: skip
    tuned_acc = {o: _mean([sw.tuned[o].test_acc for sw in sweeps]) for o in sweeps[0].tuned}
    worst = min(tuned_acc, key=tuned_acc.__getitem__)
    ctx.claim(
        "lr-matters-more-than-optimizer",
        "On digits the learning rate matters more than the optimizer: with each optimizer's lr "
        "picked on validation, SGD, momentum, Adam, RMSprop and Adagrad end closer together "
        "than one optimizer does across a 10x-wrong lr",
        rules.Greater(margin=0.0),
        a=cost, b=spread,
        metric="test accuracy: A = mean over optimizers of (best - worst over its lr grid "
        f"default x {list(cfg.opt_lr_factors)}), B = max - min over the val-picked lrs",
        kind="finding",
        why={"does not hold": (
            "a wrong lr costs an optimizer {a_mean:.3f} test accuracy on average while the "
            "val-picked optimizers differ by {b_mean:.3f} (the weakest tuned one, {worst}, "
            "reaches {worst_acc:.3f}); the 95% interval of the difference "
            "[{lo:+.3f}, {hi:+.3f}] is not above 0")},
        facts={"worst": worst, "worst_acc": tuned_acc[worst]},
    )  # fmt: skip


SCHEDULE_TEXTS = {
    "best": ("warmup-cosine-lowers-final-loss", "At the same peak learning rate (the grid's "
             "best constant lr), linear warmup + cosine decay ends with a lower training loss "
             "than a constant learning rate (the decay removes the last steps' noise)"),
    "above": ("warmup-cosine-tames-larger-lr", "At the next grid learning rate above the "
              "best one (about 3x larger), linear warmup + cosine decay ends with a lower "
              "training loss than the same lr held constant"),
}  # fmt: skip


def schedule(cfg: LearningRateLabConfig, ctx: LabContext, peak: str,
             pairs: Sequence[SchedulePair]) -> None:
    """warmup-cosine-*: paired final training losses, warmup + cosine (A) vs constant (B)."""
    cid, statement = SCHEDULE_TEXTS[peak]
    warm = [p.warmup.train_loss for p in pairs]
    const = [p.constant.train_loss for p in pairs]
    finite = _finite(warm + const)
    ctx.claim(
        cid, statement,
        rules.Less(margin=0.0),
        a=_judgeable(warm), b=_judgeable(const),
        metric=f"final training loss (A = warmup {cfg.warmup_fraction:.0%} + cosine, "
        f"B = constant; same peak lr, {cfg.epochs} epochs)",
        kind="finding",
        why={"does not hold": (
            "with warmup + cosine the final training loss averages {a_mean:.3g} against "
            "{b_mean:.3g} for the constant lr (peak lr {lr:.3g}, median over seeds); the 95% "
            "interval of the difference [{lo:.3g}, {hi:.3g}] is not below 0")},
        facts={"lr": statistics.median([p.constant.lr for p in pairs])},
        requires={"every run ended with a finite training loss": finite},
    )
