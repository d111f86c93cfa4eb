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
from .measure import Fit, GridSeed, OptimizerSweep, SchedulePair, closest

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


def _bracketed(fits: Sequence[Fit], lr: float) -> Fit | None:
    """The grid fit at ``lr`` (within 1% on a log scale), or None when ``lr`` is off the grid."""
    near = closest(fits, lr)
    return near if abs(math.log10(near.lr / lr)) < 0.005 else None


def _too_small(cfg: LearningRateLabConfig, ctx: LabContext, logs: list[float],
               small: Sequence[Fit | None], best_losses: list[float], ok: bool,
               bracket: str) -> None:
    """too-small-lr-is-slow on the per-seed log10 loss ratios (see :func:`regimes`)."""
    f = cfg.regime_factor
    ctx.claim(
        "too-small-lr-is-slow",
        f"With a learning rate {f:g}x below the best one training is slow: after the same epochs "
        f"its training loss is at least {cfg.slow_factor:g}x that of the grid's best lr",
        rules.AtLeast(math.log10(cfg.slow_factor)),
        values=logs,
        metric=f"log10(train loss at best lr / {f:g} over train loss at the best grid lr by "
        "val loss)",
        kind="finding",
        why={"does not hold": (
            "after {epochs} epoch(s) the lr best/{factor:g} runs end at training loss "
            "{small_loss:.3g} against {best_loss:.3g} at the best grid lr (means over seeds): "
            "a geometric-mean ratio of {ratio:.3g}, below {slow_factor:g}")},
        facts={"epochs": cfg.epochs, "factor": f, "slow_factor": cfg.slow_factor,
               "ratio": 10 ** statistics.fmean(logs),
               "small_loss": _mean([s.train_loss for s in small if s]),
               "best_loss": _mean(best_losses)},
        requires={f"{bracket} and both training losses are finite": ok},
    )  # fmt: skip


def regimes(cfg: LearningRateLabConfig, ctx: LabContext, grids: Sequence[GridSeed]) -> None:
    """too-small-lr-is-slow and too-large-lr-diverges, one ``regime_factor`` either side of
    each seed's best grid lr (never the grid's own endpoints, which would make them vacuous)."""
    f = cfg.regime_factor
    small = [_bracketed(g.fits, g.best.lr / f) for g in grids]
    large = [_bracketed(g.fits, g.best.lr * f) for g in grids]
    inside = all(r is not None for r in small + large)
    best_losses = [g.best.train_loss for g in grids]
    ratios = [(s.train_loss if s else math.inf) / b
              for s, b in zip(small, best_losses, strict=True)]  # fmt: skip
    finite = _finite(ratios)
    logs = [math.log10(r) if math.isfinite(r) and r > 0 else 0.0 for r in ratios]
    bracket = f"the grid reaches {f:g}x either side of the best lr on every seed"
    ctx.metric("too_small_log10_loss_ratio", logs)
    if not cfg.judge_slow:
        ctx.log("too-small-lr-is-slow is judged at full scale (judge_slow): at 5 seeds its "
                "verdict depends on how many seeds' best lr is 0.1 rather than 0.32")
    else:
        _too_small(cfg, ctx, logs, small, best_losses, inside and finite, bracket)
    stable = [r for r in large if r is not None and not r.diverged]
    progress = [_progress(r, b) for r, b in zip(large, best_losses, strict=True)]
    ctx.metric("too_large_diverged", [float(r.diverged) if r else 0.0 for r in large])
    ctx.metric("too_large_progress", progress)
    n_div = sum(bool(r and r.diverged) for r in large)
    ctx.claim(
        "too-large-lr-diverges",
        f"The edge of stability is close above the best learning rate: at {f:g}x the best grid "
        "lr training fails (SGD + momentum 0.9): the run diverges or keeps less than "
        f"{cfg.fail_progress:.0%} of the best lr's loss reduction, and a divergence is reported "
        "(non-finite guard / loss blow-up) instead of crashing",
        rules.AtMost(cfg.fail_progress),
        values=progress,
        metric=f"share of the best lr's loss reduction kept at best grid lr x {f:g}: "
        "(first batch loss - final train loss) / (first batch loss - best lr's final train "
        "loss), 0 for a run the guard saw go non-finite",
        kind="finding",
        why={"does not hold": (
            "at {factor:g}x the best lr {n_div} of {n} seeds diverged; the {n_stable} others "
            "ended at training loss {stable_loss:.3g} (first batch {first_loss:.3g}) and kept "
            "{mean:.0%} of the best lr's loss reduction on average (95% interval [{lo:.2f}, "
            "{hi:.2f}]): the edge of stability lies further above the best lr"),
             "holds": (
            "at {factor:g}x the best lr {n_div} of {n} seeds diverged (guard or no progress); "
            "the runs kept {mean:.0%} of the best lr's loss reduction on average")},
        facts={"factor": f, "n_stable": len(stable), "n_div": n_div,
               "stable_loss": _mean([r.train_loss for r in stable]),
               "first_loss": _mean([r.step_losses[0] for r in stable])},
        requires={bracket: inside},
    )  # fmt: skip


def _progress(run: Fit | None, best_loss: float) -> float:
    """Share of the best lr's loss reduction a run keeps: (first - final) / (first - best),
    clipped below at 0; 0 when the guard saw the run go non-finite (or its loss is not
    finite), 1 when the lr is off the grid (the claim's ``requires`` fails it then)."""
    if run is None:
        return 1.0
    first = run.step_losses[0] if run.step_losses else math.nan
    if (run.nonfinite_steps or run.guard_error or not math.isfinite(run.train_loss)
            or not math.isfinite(first)):
        return 0.0
    gain = first - best_loss
    return max(0.0, first - run.train_loss) / gain if gain > 0 else 1.0


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
    """momentum-escapes-poor-minimum: momentum at lr vs plain GD at momentum's effective step
    lr / (1 - beta), paired over seeds (same starts for every arm)."""
    eff = surf.EFFECTIVE
    same = [r.escaped["sgd"] for r in races.values()]
    ctx.claim(
        "momentum-escapes-poor-minimum",
        "Heavy-ball momentum (beta 0.9) carries gradient descent over the ridge out of a poor "
        "local minimum more often than plain gradient descent with the same effective step "
        "lr / (1 - beta), i.e. 10x momentum's lr",
        rules.Greater(margin=0.0),
        a=[r.escaped["momentum"] for r in races.values()],
        b=[r.escaped[eff] for r in races.values()],
        metric=f"share of {cfg.well_starts} random starts in the poor basin that end finite in "
        f"the global basin (A = momentum at lr {cfg.well_lr:g}, B = plain GD at lr "
        f"{cfg.well_lr / 0.1:g}; {cfg.well_steps} steps)",
        kind="finding",
        why={"does not hold": (
            "momentum escapes from {a_mean:.0%} of the starts and plain GD at the same "
            "effective step from {b_mean:.0%} ({eff_diverged:.0%} of its starts blow up); "
            "at momentum's own lr plain GD escapes from {same:.0%}, so the old same-lr win was "
            "the 10x larger step; the 95% interval of the difference [{lo:+.2f}, {hi:+.2f}] is "
            "not above 0"),
             "holds": (
            "momentum escapes from {a_mean:.0%} of the starts against {b_mean:.0%} for plain "
            "GD at the same effective step ({eff_diverged:.0%} of its starts blow up) and "
            "{same:.0%} for plain GD at momentum's own lr")},
        facts={"same": _mean(same),
               "eff_diverged": _mean([r.diverged[eff] for r in races.values()])},
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


def effective_log_loss(r: Fit) -> float:
    """log10 of a run's final training loss; a diverged run made no progress, so it counts
    at its first batch loss."""
    return math.log10(r.step_losses[0] if r.diverged else r.train_loss)


def schedule_tuned(cfg: LearningRateLabConfig, ctx: LabContext,
                   pairs: Sequence[SchedulePair]) -> None:
    """warmup-cosine-lowers-final-loss: each arm at the peak lr of its own lowest final
    training loss (the optimization target; no test data), paired over seeds."""
    warm = [math.log10(p.warmup.train_loss) for p in pairs]
    const = [math.log10(p.constant.train_loss) for p in pairs]
    ctx.claim(
        "warmup-cosine-lowers-final-loss",
        "With each schedule at its own best peak learning rate, linear warmup + cosine decay "
        "ends with a lower training loss than a constant learning rate, once training is long "
        "enough that the constant lr's loss has flattened",
        rules.Less(margin=0.0),
        a=warm, b=const,
        metric=f"log10 final training loss (A = warmup {cfg.warmup_fraction:.0%} + cosine, "
        f"B = constant; {cfg.schedule_epochs} epochs, peak lr of each the one of "
        f"{[round(10.0**e, 4) for e in cfg.schedule_lr_exponents]} with its lowest final "
        "training loss)",
        kind="finding",
        why={"does not hold": (
            "warmup + cosine ends at training loss {warm_loss:.3g} (peak lr median "
            "{warm_lr:.3g}) against {const_loss:.3g} for the constant lr (median {const_lr:.3g}); "
            "the 95% interval of the log10 difference [{lo:+.2f}, {hi:+.2f}] is not below 0"),
             "holds": (
            "warmup + cosine ends at training loss {warm_loss:.3g} (peak lr median "
            "{warm_lr:.3g}) against {const_loss:.3g} for the constant lr (median "
            "{const_lr:.3g}), {ratio:.2g}x lower"),
             "inconclusive": (
            "(geometric means: warmup + cosine {warm_loss:.3g} at peak lr {warm_lr:.3g}, "
            "constant {const_loss:.3g} at {const_lr:.3g}: at each one's own best peak lr the "
            "decay's gain is within seed noise; at one equal larger lr it is clear, see "
            "warmup-cosine-tames-larger-lr)")},
        facts={"warm_loss": 10 ** _mean(warm), "const_loss": 10 ** _mean(const),
               "ratio": 10 ** (_mean(const) - _mean(warm)),
               "warm_lr": statistics.median([p.warmup.lr for p in pairs]),
               "const_lr": statistics.median([p.constant.lr for p in pairs])},
        requires={"neither picked run diverged": not any(p.warmup.diverged or p.constant.diverged
                                                         for p in pairs)},
    )  # fmt: skip


def schedule_above(cfg: LearningRateLabConfig, ctx: LabContext,
                   pairs: Sequence[SchedulePair | None]) -> None:
    """warmup-cosine-tames-larger-lr: both arms at the next grid lr above the constant's best;
    a seed where both runs diverged is left out (no win between two diverged runs)."""
    kept = [p for p in pairs if p is not None and not (p.warmup.diverged and p.constant.diverged)]
    both = sum(p is not None and p.warmup.diverged and p.constant.diverged for p in pairs)
    top = sum(p is None for p in pairs)
    usable = len(kept) >= 2
    kept = kept if usable else [p for p in pairs if p is not None][:2] or []
    warm = [effective_log_loss(p.warmup) for p in kept] or [0.0]
    const = [effective_log_loss(p.constant) for p in kept] or [0.0]
    ctx.claim(
        "warmup-cosine-tames-larger-lr",
        "At the next grid learning rate above the constant schedule's best one (about 3x "
        "larger), linear warmup + cosine decay ends with a lower training loss than the same "
        "lr held constant",
        rules.Less(margin=0.0),
        a=warm, b=const,
        metric="log10 final training loss, a diverged run counted at its first batch loss "
        f"(A = warmup + cosine, B = constant; same peak lr, {cfg.schedule_epochs} epochs; "
        "seeds where both diverged left out)",
        kind="finding",
        why={"does not hold": (
            "at the larger lr warmup + cosine ends at {warm_loss:.3g} against {const_loss:.3g} "
            "for the constant lr over {n} seeds ({both} left out: both diverged; {top}: no "
            "grid lr above the best); the interval [{lo:+.2f}, {hi:+.2f}] is not below 0"),
             "holds": (
            "at the larger lr warmup + cosine ends at {warm_loss:.3g} against {const_loss:.3g} "
            "for the constant lr ({const_div} of {n} constant runs diverged; {both} seeds left "
            "out because both diverged)")},
        facts={"warm_loss": 10 ** _mean(warm), "const_loss": 10 ** _mean(const),
               "both": both, "top": top,
               "const_div": sum(p.constant.diverged for p in kept)},
        requires={"at least 2 seeds where not both runs diverged": usable},
    )  # fmt: skip
