"""Lab: seven measured effects of hyperparameters on small MLPs on the digits data (Q15).

Setup. Every experiment trains plain MLPs (``deepdojo.models``, ReLU) on the scikit-learn
digits (8x8 images flattened to 64 features, 10 classes; seeded stratified train/validation/
test splits that change with the seed) with the :class:`~deepdojo.train.Trainer`, once per
seed, and records every per-seed number.

1. **Convergence vs learning rate**: SGD with momentum 0.9 at rates over four decades.
2. **Over- and underfitting**: on a small training subset, the train/test accuracy gap at
   convergence (rate annealed to 0, each config at its own rate from ``fit_lrs`` picked on
   validation) as dropout and weight decay vary one at a time around the base config.
   Batch size: the smallest and largest of ``batch_sizes`` each train ``batch_steps``
   optimizer steps (equal steps, so the large batch is not left underfit) at every rate of
   ``batch_lrs``; the rate is picked on validation per batch size (Shallue et al. 2019) and
   the test accuracy is that of the best-validation epoch. Control: the large batch at
   the base rate for the small batch's number of epochs (the setting of the folk result).
3. **Generalization**: pick the run of (2) with the best validation accuracy, then look at
   its test accuracy: selecting on validation makes validation optimistic, beyond the
   validation - test offset that every config shares (subtracted).
4. **Computational efficiency**: seconds per epoch and the memory of one training step
   (tensors autograd saves for backward; CUDA peak when on a GPU) vs batch size; validation
   accuracy vs wall-clock time (the runs of 1).
5. **Capacity**: a depth x width grid on a small training subset: under- and overfit regions.
6. **Optimizer choice**: SGD, SGD + momentum, Adam and RMSprop, each at its own learning rate
   tuned on validation from a small grid, trained to convergence; judged on test accuracy.
7. **Transfer learning**: pretrain on digits 0-4 (every one-pixel shift of each image), then
   fine-tune on a hard few-label target: 5 labels per class of digits 5-9, each at a random
   one-pixel shift, tested on shifted 5-9 images (from-scratch models cannot learn translation
   robustness from 25 examples; pretrained features can bring it). Arms, each with a new head
   and ~600 Adam steps: from scratch, frozen backbone, one rate everywhere, a 10x smaller
   backbone rate; a converged logistic regression on the frozen features checks that the
   frozen arm's head is trained long enough. Arms are chosen on the target validation set
   (validation split, digits 5-9 at all shifts) and judged on the target test set.

Noise floors (A/A: the same run from another initialization on the same data) are recorded
as metrics ``noise_floor.*`` next to the margins they bound.

Version 2 (issue 16): gap claims at convergence (cosine to 0, rate picked per config, gap
measured on test since validation picks the rate) with margins; the batch-size effect at
equal steps with a rate per batch size, plus the Q15 claims; ``tuned-optimizers-close`` an
equivalence rule on converged runs' test accuracy (was: a max - min spread of four
validation accuracies against 0.03, inside their noise); ``validation-is-optimistic`` minus
the all-config offset; transfer arms chosen on validation (was: on test). Rules and margins
were fixed before the first run of this version. After the quick runs with seed bases 0 and 7,
five findings whose effect lies within one interval width of their margin and whose verdict
differed between the two (dropout-narrows-gap, small-batch-narrows-gap,
validation-is-optimistic, fine-tuning-beats-frozen) or stayed inconclusive
(momentum-and-adaptive-beat-sgd) are stated at full scale only (``full_only_claims``):
decided at full scale. The quick run with seed base 12345 added two more for the same reason
(tuned-optimizers-close: the Adam - SGD + momentum test-accuracy difference has a seed spread
of about 0.03 against the band 0.04; small-backbone-lr-helps: an effect of 0.01-0.03 against
a spread of about 0.03); the results of seed base 31 were not looked at before these changes.
Seed base 31 then moved two more (weight-decay-narrows-gap: does not hold on 0, 7, 12345,
inconclusive on 31, an absent effect whose interval reaches the margin 0.02;
pretraining-helps-few-labels: holds on 0, 7, 12345, inconclusive on 31, interval
[-0.005, 0.077]). Seed base 99 was run after this last change and never before.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from deepdojo.labs.framework import LabContext, ranged, register_lab, scaled

from . import figures
from . import measure as fx
from .claims import state_claims
from .measure import FitConfig, FitRow, SeedMeasurements

_RATE = {"low": 0.0, "low_open": True}  # learning rates and rate grids: > 0
T = TypeVar("T")


@dataclass
class HyperparametersLabConfig:
    """Sizes and grids of the seven effects; (n) names the effect that uses a field."""

    # (1) SGD+momentum rates
    lrs: tuple[float, ...] = ranged((1e-3, 1e-2, 1e-1, 1.0), **_RATE)
    # (1, 4b) epochs per rate
    conv_epochs: int = scaled(smoke=1, quick=8, full=8, low=1)
    # (1, 4) training examples (more than the split holds = all of them)
    conv_train: int = scaled(smoke=128, quick=10_000, full=10_000, low=1)
    # (2, 5) examples of the small subset
    n_train: int = scaled(smoke=64, quick=300, full=300, low=1)
    # (2, 5) epochs on the small subset
    fit_epochs: int = scaled(smoke=1, quick=20, full=30, low=1)
    # (2) SGD + momentum peak rates (cosine to 0) tried for every config; picked on validation
    fit_lrs: tuple[float, ...] = ranged((0.05, 0.1, 0.2), **_RATE)
    # (2) batch sizes: the smallest and the largest are compared (batch study)
    batch_sizes: tuple[int, ...] = ranged((8, 32, 128), low=1)
    # (2) optimizer steps of each batch-study run (whole epochs, about this many)
    batch_steps: int = scaled(smoke=20, quick=500, full=1000, low=1)
    # (2) SGD + momentum peak rates of the batch study; picked per batch size on validation
    batch_lrs: tuple[float, ...] = ranged((0.0125, 0.05, 0.2), **_RATE)
    # (2) the one rate of the folk comparison (both batch sizes, equal epochs)
    base_lr: float = ranged(0.05, **_RATE)
    # (2) dropout rates compared
    dropouts: tuple[float, ...] = ranged((0.0, 0.3, 0.6), low=0.0, high=1.0, high_open=True)
    # (2) L2 weight decays compared
    weight_decays: tuple[float, ...] = ranged((0.0, 1e-3, 1e-2), low=0.0)
    # claims (2): a gap must narrow by more than this (accuracy)
    gap_margin: float = ranged(0.02, low=0.0)
    # state the claims of claims.FULL_ONLY (too close to their margin for 5 seeds)
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)
    # claim (6): a run has converged when its final train loss is <= this (2.3 at the start)
    converged_loss: float = ranged(0.2, low=0.0, low_open=True)
    # claims (2, 6): test accuracies within this count as equal (equivalence band)
    equiv_margin: float = ranged(0.04, low=0.0, low_open=True)
    # (4) batch sizes timed
    eff_batch_sizes: tuple[int, ...] = ranged((8, 32, 128, 512), low=1)
    # (4) epochs timed per batch size (median taken)
    eff_epochs: int = scaled(smoke=1, quick=3, full=3, low=1)
    # (5) weight layers
    depths: tuple[int, ...] = ranged((2, 4), low=2)
    # (5) hidden units per layer
    widths: tuple[int, ...] = ranged((4, 16, 64, 256), low=1)
    # (6) training examples for the optimizer comparison
    opt_train: int = scaled(smoke=64, quick=600, full=600, low=1)
    # (6) epochs per optimizer run (momentum, Adam and RMSprop converge in them)
    opt_epochs: int = scaled(smoke=1, quick=10, full=15, low=1)
    # (6) plain SGD rate grid
    sgd_lrs: tuple[float, ...] = ranged((0.1, 0.3, 1.0), **_RATE)
    # (6) SGD+momentum 0.9 rate grid
    momentum_lrs: tuple[float, ...] = ranged((0.03, 0.1, 0.3), **_RATE)
    # (6) Adam rate grid
    adam_lrs: tuple[float, ...] = ranged((3e-3, 1e-2, 3e-2), **_RATE)
    # (6) RMSprop rate grid
    rmsprop_lrs: tuple[float, ...] = ranged((1e-3, 3e-3, 1e-2), **_RATE)
    # (7) labelled examples per target class (digits 5-9, shifted)
    per_class: int = scaled(smoke=3, quick=5, full=5, low=1)
    # (7) pretraining epochs on shifted digits 0-4
    pre_epochs: int = scaled(smoke=1, quick=10, full=10, low=1)
    # (7) fine-tuning epochs; 4 steps each at 25 labels
    ft_epochs: int = scaled(smoke=2, quick=150, full=150, low=1)
    # (7) fine-tuning batch size
    ft_batch: int = ranged(8, low=1)
    # (7) Adam fine-tuning rate of the head (and of the backbone at 1x)
    ft_lr: float = ranged(3e-3, **_RATE)


BASE = FitConfig(batch_size=32, dropout=0.0, weight_decay=0.0)  # (2) the config varied around


def _fit_configs(cfg: HyperparametersLabConfig) -> list[FitConfig]:
    """One-at-a-time variations around :data:`BASE` (batch 32, no dropout, no decay); batch
    sizes have their own study (equal steps)."""
    configs = [BASE]
    for key, values in (("dropout", cfg.dropouts), ("weight_decay", cfg.weight_decays)):
        configs += [c for c in (BASE.vary(key, v) for v in values) if c not in configs]
    return configs


def _measure(cfg: HyperparametersLabConfig, ctx: LabContext, seed: int) -> SeedMeasurements:
    """All seven effects for one seed; records the seconds each took."""
    grids = {"sgd": cfg.sgd_lrs, "sgd_momentum": cfg.momentum_lrs, "adam": cfg.adam_lrs,
             "rmsprop": cfg.rmsprop_lrs}
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., T], *args: Any) -> T:
        out, secs = fx.timed(fn, *args)
        seconds[name] = round(secs, 2)
        return out

    dev = ctx.device
    fitting, fit_aa = timed("fitting", fx.fitting, seed, _fit_configs(cfg), cfg.fit_lrs,
                            cfg.n_train, cfg.fit_epochs, dev)
    optimizers, opt_aa = timed("optimizers", fx.optimizers, seed, grids, cfg.opt_train,
                               cfg.opt_epochs, dev)
    return SeedMeasurements(
        seed=seed,
        convergence=timed("convergence", fx.convergence, seed, cfg.lrs, cfg.conv_epochs,
                          cfg.conv_train, dev),
        fitting=fitting,
        fit_aa_gap=fit_aa,
        batches=timed("batches", fx.batch_study, seed,
                      (min(cfg.batch_sizes), max(cfg.batch_sizes)), cfg.batch_lrs,
                      cfg.batch_steps, cfg.base_lr, cfg.n_train, dev),
        efficiency=timed("efficiency", fx.efficiency, seed, cfg.eff_batch_sizes,
                         cfg.eff_epochs, cfg.conv_train, dev),
        capacity=timed("capacity", fx.capacity, seed, cfg.depths, cfg.widths, cfg.n_train,
                       cfg.fit_epochs, dev),
        optimizers=optimizers,
        opt_aa_test=opt_aa,
        transfer=timed("transfer", fx.transfer, seed, cfg.per_class, cfg.pre_epochs,
                       cfg.ft_epochs, cfg.ft_lr, dev, cfg.ft_batch),
        seconds=seconds,
    )


def _tables(ctx: LabContext, per_seed: list[SeedMeasurements]) -> None:
    ctx.table("fitting", [asdict(r) for s in per_seed for r in s.fitting])
    ctx.table("batch_study", [{"seed": s.seed, **asdict(r)} for s in per_seed
                              for r in s.batches])
    ctx.table("chosen_rates", [
        {"seed": s.seed, "study": "fitting", "config": f"batch={c.batch_size} dropout="
         f"{c.dropout} weight_decay={c.weight_decay}", "lr": fx.pick_lr(s.fitting, c).lr}
        for s in per_seed for c in dict.fromkeys(r.config for r in s.fitting)]
        + [{"seed": s.seed, "study": "batch", "config": f"batch={b}",
            "lr": fx.pick_batch(s.batches, b).lr}
           for s in per_seed for b in dict.fromkeys(r.batch_size for r in s.batches)]
        + [{"seed": s.seed, "study": "optimizers", "config": k, "lr": v.lr}
           for s in per_seed for k, v in s.optimizers.items()])
    ctx.table("capacity", [{"seed": s.seed, "model": f"{d}x{w}", **asdict(c)}
                           for s in per_seed for (d, w), c in s.capacity.items()])
    ctx.table("optimizers", [{"seed": s.seed, "optimizer": k, "tuned_lr": v.lr,
                              "val_acc": v.val_acc, "test_acc": v.test_acc,
                              "final_train_loss": v.train_loss[-1],
                              "grid": str(v.grid)}
                             for s in per_seed for k, v in s.optimizers.items()])
    ctx.table("efficiency", [{"seed": s.seed, "batch_size": b, **asdict(v)}
                             for s in per_seed for b, v in s.efficiency.items()])
    ctx.table("transfer", [{"seed": s.seed, **{k: v for k, v in asdict(s.transfer).items()
                                               if k != "val"},
                            **{f"val_{k}": v for k, v in s.transfer.val.items()}}
                           for s in per_seed])
    ctx.table("seconds", [{"seed": s.seed, **s.seconds} for s in per_seed])


def _figures(ctx: LabContext, cfg: HyperparametersLabConfig, per_seed: list[SeedMeasurements],
             chosen: list[FitRow]) -> None:
    fit_rows = [r for s in per_seed for r in s.fitting]
    picked = [fx.pick_lr(s.fitting, c) for s in per_seed for c in _fit_configs(cfg)]
    ctx.figure("convergence_vs_lr", figures.convergence([s.convergence for s in per_seed]),
               caption="(1) Train loss per epoch per learning rate; (4b) validation accuracy "
                       "vs wall-clock seconds of the same runs. Mean over seeds.")
    spec = {"dropout": cfg.dropouts, "weight_decay": cfg.weight_decays}
    ctx.figure("fit_vs_regularization", figures.fitting(picked, spec, BASE),
               caption=f"(2) Train vs test accuracy on {cfg.n_train} training examples at "
                       "convergence, each config at its rate picked on validation; one "
                       "hyperparameter varies, the others stay at the base config.")
    ctx.figure("batch_size_vs_lr", figures.batches([s.batches for s in per_seed]),
               caption="(2, Q15) Test accuracy of the best-validation epoch against the peak "
                       f"rate, each batch size for about {cfg.batch_steps} steps; crosses: the "
                       "large batch at the small batch's number of epochs. Mean over seeds.")
    ctx.figure("validation_vs_test", figures.selection(fit_rows, chosen),
               caption="(3) Every config and rate of (2); ringed: the one selected on "
                       "validation.")
    ctx.figure("efficiency_vs_batch", figures.efficiency([s.efficiency for s in per_seed]),
               caption="(4a) Seconds per epoch (thin: seeds) and memory of one training step.")
    ctx.figure("capacity_grid", figures.capacity([s.capacity for s in per_seed], cfg.depths,
                                                 cfg.widths),
               caption="(5) Depth x width: low train accuracy = underfit; large loss gap = "
                       "overfit. Mean over seeds.")
    ctx.figure("optimizers", figures.optimizers([s.optimizers for s in per_seed]),
               caption="(6) Each optimizer at the learning rate that maximized its "
                       "validation accuracy.")
    ctx.figure("transfer", figures.transfer([s.transfer for s in per_seed]),
               caption=f"(7) Fine-tuning on {cfg.per_class} labels per class of digits 5-9, "
                       "each at a random one-pixel shift, tested on shifted images; grey: "
                       "logistic regression on the frozen features (head reference).")


@register_lab("hyperparameters", questions=("Q15",), config=HyperparametersLabConfig)
def run(cfg: HyperparametersLabConfig, ctx: LabContext) -> None:
    """Seven effects of hyperparameters measured on digits MLPs, each with a figure and claims."""
    per_seed = [_measure(cfg, ctx, seed) for seed in ctx.progress(ctx.seeds, "seeds")]
    _tables(ctx, per_seed)
    chosen = [max(s.fitting, key=lambda r: r.val_acc) for s in per_seed]
    _figures(ctx, cfg, per_seed, chosen)
    state_claims(ctx, cfg, per_seed, chosen, BASE)
    ctx.metric("seconds_per_seed", statistics.fmean(sum(s.seconds.values()) for s in per_seed))
