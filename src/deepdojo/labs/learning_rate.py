"""Lab: what the learning rate does -- step size, stability, finders, optimizers, schedules (Q10).

Setup. A digits MLP (64-128-128-10) is trained with SGD + momentum 0.9 over a half-decade grid
of learning rates. From that grid we read three regimes: a too-small lr (slow), the grid's best
lr on validation loss (good) and a too-large lr that diverges -- detected from the Trainer's
non-finite guard (skipped steps, rollbacks, or its final :class:`NonFiniteError`) or a training
loss that ends no lower than it started, never by crashing. The LR range test
(:func:`deepdojo.train.lr_find`, rule "lr at the smoothed-loss minimum / 10") is compared with
the grid's best lr. Then SGD, momentum, Adam, RMSprop and Adagrad are compared on two 2-D
surfaces (an axis-aligned ill-conditioned quadratic and a tilted double well with a poor local
minimum, trajectories drawn over contours) and on digits across their own lr grids. Finally a
linear-warmup + cosine schedule is compared with a constant lr at the grid's best lr.
Every claim is judged on each seed (``ctx.seeds``), its rule fixed below.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from torch import nn

from deepdojo.data import load_digits
from deepdojo.labs import LabContext, register_lab
from deepdojo.labs import _lr_plots as plots
from deepdojo.labs import _optim_surfaces as surf
from deepdojo.models import create
from deepdojo.train import (
    Callback,
    NonFiniteError,
    Trainer,
    lr_find,
    make_optimizer,
    warmup_cosine,
)
from deepdojo.utils import seed_everything


@dataclass
class LearningRateLabConfig:
    width: int = 128  # hidden units of the digits MLP
    depth: int = 3  # weight layers of the digits MLP
    batch_size: int = 64  # minibatch size on digits
    epochs: int = 4  # training epochs per digits run (quick; smoke 1, full 2x)
    grid_exponents: tuple[float, ...] = (-3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1)  # log10 lrs
    small_lr: float = 1e-3  # the "too small" lr (SGD + momentum)
    large_lr: float = 10.0  # the "too large" lr (SGD + momentum)
    slow_factor: float = 3.0  # claim: too-small lr ends with train loss >= this x the best's
    finder_start_lr: float = 1e-5  # LR range test sweep start
    finder_end_lr: float = 10.0  # LR range test sweep end
    finder_steps: int = 100  # LR range test batches
    finder_tolerance: float = 1.0  # claim: |log10(suggestion / grid best)| <= this (decades)
    opt_lr_factors: tuple[float, ...] = (0.1, 1.0, 10.0)  # digits lr grid per optimizer: x default
    surface_steps: int = 100  # optimizer steps on the quadratic
    kappa: float = 50.0  # condition number of the quadratic
    quad_ratio: float = 0.1  # claim: others' final quadratic loss < this x plain SGD's
    well_steps: int = 300  # optimizer steps on the double well
    well_lr: float = 0.02  # lr of every optimizer on the double well
    well_starts: int = 16  # random starts per seed in the poor basin
    warmup_fraction: float = 0.1  # share of steps spent in linear warmup


# Conventional default lr of each optimizer: the centre of its digits lr grid.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "adam": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}


class _StepLosses(Callback):
    """Records every batch loss (NaN/Inf included: the guard reports, never hides them) and
    the learning rate that batch's step used."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.lrs: list[float] = []

    def on_before_optimizer_step(self, trainer: Trainer, optimizer: Any) -> None:
        self.lrs.append(float(optimizer.param_groups[0]["lr"]))

    def on_batch_end(self, trainer: Trainer, batch_idx: int, logs: dict[str, Any]) -> None:
        self.losses.append(float(logs["loss"]))


def _fit(cfg: LearningRateLabConfig, ctx: LabContext, data: Any, optimizer: str, lr: float,
         seed: int, epochs: int, schedule: Any = None) -> dict[str, Any]:
    """Train the digits MLP once; never raises on divergence, reports it instead."""
    seed_everything(seed)
    model = create("plain_mlp", in_features=64, num_classes=10, depth=cfg.depth, width=cfg.width)
    name, kw = surf.OPTIMIZERS[optimizer]
    steps = _StepLosses()
    trainer = Trainer(model, nn.CrossEntropyLoss(), make_optimizer(name, model, lr, **kw),
                      scheduler=schedule, callbacks=[steps], device=ctx.device, seed=seed,
                      progress="off")  # fmt: skip
    error = None
    try:
        trainer.fit(data.train, epochs=epochs, batch_size=cfg.batch_size)
    except NonFiniteError as exc:  # the guard gave up: that is the divergence verdict
        error = str(exc)
    events = [e["kind"] for e in trainer.history.events]
    nonfinite, rollbacks = events.count("nonfinite"), events.count("rollback")
    train, val = trainer.evaluate(data.train), trainer.evaluate(data.val)
    test = trainer.evaluate(data.test)
    final = train["loss"] if math.isfinite(train["loss"]) else math.inf
    # divergence rule: the guard saw NaN/Inf, or training ended no lower than it started
    diverged = error is not None or nonfinite > 0 or final >= steps.losses[0]
    return {
        "optimizer": optimizer, "lr": lr, "seed": seed, "diverged": diverged,
        "nonfinite_steps": nonfinite, "rollbacks": rollbacks, "guard_error": error is not None,
        "train_loss": final,
        "val_loss": val["loss"] if math.isfinite(val["loss"]) and not diverged else math.inf,
        "val_acc": val["acc"], "test_acc": test["acc"], "_steps": steps.losses,
        "_step_lrs": steps.lrs,
    }  # fmt: skip


@functools.lru_cache(maxsize=8)
def _load(seed: int) -> Any:
    return load_digits(flat=True, seed=seed)


def _digits(ctx: LabContext, seed: int) -> Any:
    """Digits splits for ``seed``; smoke scale keeps only 256 training images (size, not logic)."""
    return _load(seed).head(ctx.pick(smoke=256, quick=None, full=None))


def _public(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


@register_lab("learning-rate", questions=("Q10",), config=LearningRateLabConfig)
def run(cfg: LearningRateLabConfig, ctx: LabContext) -> None:
    """The learning rate: too small / good / divergent, LR finder, optimizers and schedules."""
    epochs = ctx.pick(smoke=1, quick=cfg.epochs, full=2 * cfg.epochs)
    grid = [10.0**e for e in cfg.grid_exponents]
    runs: dict[int, list[dict[str, Any]]] = {}
    finder: dict[int, Any] = {}
    for seed in ctx.progress(ctx.seeds, "digits lr grid"):
        data = _digits(ctx, seed)
        runs[seed] = [_fit(cfg, ctx, data, "momentum", lr, seed, epochs) for lr in grid]
        finder[seed] = _lr_finder(cfg, ctx, data, seed)
    best = {s: min(rs, key=lambda r: r["val_loss"]) for s, rs in runs.items()}
    ctx.table("momentum_lr_grid", _public([r for rs in runs.values() for r in rs]))
    _regime_claims(cfg, ctx, runs, best)
    _finder_claim(cfg, ctx, runs, best, finder)
    _surface_claims(cfg, ctx)
    _optimizer_claim(cfg, ctx, runs, epochs)
    _schedule_claim(cfg, ctx, runs, best, epochs)


def _lr_finder(cfg: LearningRateLabConfig, ctx: LabContext, data: Any, seed: int) -> Any:
    seed_everything(seed)
    model = create("plain_mlp", in_features=64, num_classes=10, depth=cfg.depth, width=cfg.width)
    opt = make_optimizer("sgd", model, cfg.finder_start_lr, momentum=0.9)
    return lr_find(model, nn.CrossEntropyLoss(), data.train, optimizer=opt,
                   start_lr=cfg.finder_start_lr, end_lr=cfg.finder_end_lr,
                   num_steps=ctx.pick(smoke=20, quick=cfg.finder_steps, full=cfg.finder_steps),
                   batch_size=cfg.batch_size, seed=seed, device=ctx.device)  # fmt: skip


def _at(rows: list[dict[str, Any]], lr: float) -> dict[str, Any]:
    return min(rows, key=lambda r: abs(math.log10(r["lr"] / lr)))


def _regime_claims(cfg: LearningRateLabConfig, ctx: LabContext,
                   runs: dict[int, list[dict[str, Any]]], best: dict[int, dict[str, Any]]) -> None:
    ratios = [_at(rs, cfg.small_lr)["train_loss"] / best[s]["train_loss"] for s, rs in runs.items()]
    ctx.claim(
        "too-small-lr-is-slow",
        f"With a too-small learning rate ({cfg.small_lr:g}) training is slow: after the same "
        "epochs its training loss is several times that of the grid's best learning rate",
        rule=f"train loss(lr={cfg.small_lr:g}) >= {cfg.slow_factor:g} x train loss(best grid lr "
        "by val loss) on every seed",
        values=ratios, holds=all(r >= cfg.slow_factor for r in ratios),
        seed_rule=lambda r: r >= cfg.slow_factor,
    )  # fmt: skip
    large = [_at(rs, cfg.large_lr) for rs in runs.values()]
    ctx.claim(
        "too-large-lr-diverges",
        f"A too-large learning rate ({cfg.large_lr:g}) diverges, and the run reports it "
        "(non-finite guard / loss blow-up) instead of crashing",
        rule="diverged on every seed: the guard saw NaN/Inf loss or gradients (or raised "
        "NonFiniteError, caught) or the final train loss >= the first batch loss",
        values=[float(r["diverged"]) for r in large], holds=all(r["diverged"] for r in large),
        seed_rule=lambda v: v == 1.0,
    )  # fmt: skip
    ctx.metric("best_grid_lr", [best[s]["lr"] for s in runs])
    ctx.figure("loss_curves_small_good_large",
               plots.regime_curves(runs[ctx.seeds[0]], cfg.small_lr, best[ctx.seeds[0]]["lr"],
                                   cfg.large_lr),
               caption="Training loss per batch (seed 0) for a too-small, the best and a "
               "too-large learning rate; x marks where divergence was detected.")  # fmt: skip


def _finder_claim(cfg: LearningRateLabConfig, ctx: LabContext,
                  runs: dict[int, list[dict[str, Any]]], best: dict[int, dict[str, Any]],
                  finder: dict[int, Any]) -> None:
    gaps = []
    for s in runs:
        sug = finder[s].suggestion
        gaps.append(abs(math.log10(sug / best[s]["lr"])) if sug else math.inf)
    ctx.metric("finder_suggestion", [finder[s].suggestion for s in runs])
    ctx.claim(
        "lr-finder-near-grid-best",
        "The LR range test's suggestion (lr at the smoothed-loss minimum / 10) lands near the "
        "best learning rate of a full grid search, at the cost of one short sweep",
        rule=f"|log10(suggestion / best grid lr by val loss)| <= {cfg.finder_tolerance:g} "
        "decade on every seed",
        values=gaps, holds=all(g <= cfg.finder_tolerance for g in gaps),
        seed_rule=lambda g: g <= cfg.finder_tolerance,
    )  # fmt: skip
    ctx.figure("lr_finder_vs_grid", plots.finder_vs_grid(runs, best, finder),
               caption="Left: validation loss after training at each grid lr (mean over seeds, "
               "diverged runs omitted). Right: the LR range test of seed 0 with its suggestion."
               )  # fmt: skip


def _surface_claims(cfg: LearningRateLabConfig, ctx: LabContext) -> None:
    quad = lambda p: surf.ill_conditioned_quadratic(p, cfg.kappa)  # noqa: E731
    lrs = [10.0 ** (k / 2) for k in range(-6, 3)]
    steps = ctx.pick(smoke=20, quick=cfg.surface_steps, full=cfg.surface_steps)
    per_seed = {s: surf.quadratic_race(quad, s, lrs, steps) for s in ctx.seeds}
    ratios = [max(v for k, v in res["final"].items() if k != "sgd") / res["final"]["sgd"]
              for res in per_seed.values()]  # fmt: skip
    ctx.table("quadratic", [{"seed": s, "optimizer": o, "best_lr": res["lr"][o],
                             "final_loss": res["final"][o]}
                            for s, res in per_seed.items() for o in res["final"]])  # fmt: skip
    ctx.claim(
        "ill-conditioned-quadratic",
        f"On an axis-aligned quadratic with condition number {cfg.kappa:g}, momentum and the "
        "adaptive methods (Adam, RMSprop, Adagrad) all end far below plain gradient descent, "
        "each at its own best lr",
        rule=f"max over the four of final loss < {cfg.quad_ratio:g} x SGD's after {steps} steps, "
        "best lr of each from a 1e-3..10 grid, on every seed",
        values=ratios, holds=all(r < cfg.quad_ratio for r in ratios),
        seed_rule=lambda r: r < cfg.quad_ratio,
    )  # fmt: skip
    ctx.figure("quadratic_trajectories", plots.quadratic_figure(quad, per_seed[ctx.seeds[0]]),
               caption="Paths from the same start over the quadratic's contours, each optimizer "
               "at its best lr (left), and loss per step (right), seed 0.")  # fmt: skip
    _double_well_claim(cfg, ctx)


def _double_well_claim(cfg: LearningRateLabConfig, ctx: LabContext) -> None:
    steps = ctx.pick(smoke=30, quick=cfg.well_steps, full=cfg.well_steps)
    ridge = surf.double_well_minima()[1]
    results = {s: surf.double_well_race(s, cfg.well_starts, cfg.well_lr, steps, ridge)
               for s in ctx.seeds}  # fmt: skip
    ctx.table("double_well_escape", [{"seed": s, "optimizer": o, "escaped_fraction": f}
                                     for s, r in results.items() for o, f in r["escaped"].items()])
    diffs = [r["escaped"]["momentum"] - r["escaped"]["sgd"] for r in results.values()]
    ctx.claim(
        "momentum-escapes-poor-minimum",
        "Heavy-ball momentum carries gradient descent over the ridge out of a poor local "
        "minimum more often than plain gradient descent at the same learning rate",
        rule=f"escaped fraction (momentum) - escaped fraction (SGD) > 0 on every seed "
        f"({cfg.well_starts} random starts in the poor basin, lr {cfg.well_lr:g}, {steps} steps)",
        values=diffs, holds=all(d > 0 for d in diffs), seed_rule=lambda d: d > 0,
    )  # fmt: skip
    ctx.figure("double_well_trajectories", plots.double_well_figure(results[ctx.seeds[0]]),
               caption="Tilted double well: paths of every optimizer from the same random starts "
               "in the poor (right) basin; the global minimum is on the left.")  # fmt: skip


def _optimizer_claim(cfg: LearningRateLabConfig, ctx: LabContext,
                     runs: dict[int, list[dict[str, Any]]], epochs: int) -> None:
    rows: dict[int, list[dict[str, Any]]] = {}
    for seed in ctx.progress(ctx.seeds, "optimizers on digits"):
        data = _digits(ctx, seed)
        rows[seed] = [_at(runs[seed], DEFAULT_LR["momentum"] * f) for f in cfg.opt_lr_factors]
        rows[seed] += [_fit(cfg, ctx, data, o, DEFAULT_LR[o] * f, seed, epochs)
                       for o in ("sgd", "adam", "rmsprop", "adagrad") for f in cfg.opt_lr_factors]
    values = []
    for rs in rows.values():
        by_opt = {o: [r for r in rs if r["optimizer"] == o] for o in DEFAULT_LR}
        tuned = [max(g, key=lambda r: r["val_acc"])["test_acc"] for g in by_opt.values()]
        lr_cost = [max(r["test_acc"] for r in g) - min(r["test_acc"] for r in g)
                   for g in by_opt.values()]  # fmt: skip
        values.append(sum(lr_cost) / len(lr_cost) - (max(tuned) - min(tuned)))
    ctx.table("optimizers_digits", _public([r for rs in rows.values() for r in rs]))
    ctx.claim(
        "lr-matters-more-than-optimizer",
        "On digits the learning rate matters more than the optimizer: with each optimizer's lr "
        "picked on validation, SGD, momentum, Adam, RMSprop and Adagrad end closer together "
        "than one optimizer does across a 10x-wrong lr",
        rule="mean over optimizers of (best - worst test acc over its lr grid default x "
        f"{list(cfg.opt_lr_factors)}) - (max - min test acc of the val-picked lrs) > 0 on every "
        "seed",
        values=values, holds=all(v > 0 for v in values), seed_rule=lambda v: v > 0,
    )  # fmt: skip
    ctx.figure("optimizers_on_digits", plots.optimizer_sensitivity(rows),
               caption="Test accuracy against learning rate for each optimizer on digits "
               "(mean over seeds); stars: the lr picked on validation.")  # fmt: skip


def _schedule_claim(cfg: LearningRateLabConfig, ctx: LabContext,
                    runs: dict[int, list[dict[str, Any]]], best: dict[int, dict[str, Any]],
                    epochs: int) -> None:
    """Warmup + cosine vs constant at the grid's best lr and at the next grid lr above it."""
    pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {"best": [], "above": []}
    for seed, const in best.items():
        data = _digits(ctx, seed)
        total = epochs * math.ceil(len(data.train.y) / cfg.batch_size)
        sched = warmup_cosine(max(1, round(cfg.warmup_fraction * total)))
        above = min((r for r in runs[seed] if r["lr"] > const["lr"]), default=const,
                    key=lambda r: r["lr"])  # fmt: skip
        for key, row in (("best", const), ("above", above)):
            pairs[key].append((row, _fit(cfg, ctx, data, "momentum", row["lr"], seed, epochs,
                                         sched)))  # fmt: skip
    ctx.table("schedule", [{"peak": key, "seed": c["seed"], "lr": c["lr"],
                            "constant_train_loss": c["train_loss"],
                            "warmup_cosine_train_loss": w["train_loss"],
                            "constant_test_acc": c["test_acc"], "warmup_cosine_test_acc":
                            w["test_acc"]} for key, ps in pairs.items() for c, w in ps])
    texts = {
        "best": ("warmup-cosine-lowers-final-loss", "At the same peak learning rate (the grid's "
                 "best constant lr), linear warmup + cosine decay ends with a lower training loss "
                 "than a constant learning rate (the decay removes the last steps' noise)"),
        "above": ("warmup-cosine-tames-larger-lr", "At the next grid learning rate above the "
                  "best one (about 3x larger), linear warmup + cosine decay ends with a lower "
                  "training loss than the same lr held constant"),
    }  # fmt: skip
    peaks = {"best": "the grid best", "above": "the next grid lr above the best"}
    for key, (cid, statement) in texts.items():
        ratios = [w["train_loss"] / c["train_loss"] for c, w in pairs[key]]
        ctx.claim(cid, statement,
                  rule=f"train loss(warmup {cfg.warmup_fraction:.0%} + cosine) / train loss("
                  "constant) < 1 on every seed, same peak lr, same epochs",
                  values=ratios, holds=all(r < 1 for r in ratios),
                  seed_rule=lambda r: r < 1)  # fmt: skip
        ctx.figure(f"schedule_effect_{key}_lr", plots.schedule_figure(pairs[key][0]),
                   caption="Training loss per batch and learning rate per batch, constant vs "
                   f"linear warmup + cosine, peak lr = {peaks[key]}, seed 0.")  # fmt: skip
