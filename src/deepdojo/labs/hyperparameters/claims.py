"""Claims of the hyperparameters lab: rules fixed here, judged on the per-seed measurements.

Every comparison of two arms is paired (same seed, same data split): ``a`` and ``b`` below.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

import torch

from deepdojo.labs.framework import AtLeast, AtMost, EverySeed, Greater, LabContext

from .measure import FitConfig, FitRow, SeedMeasurements, line_fit

if TYPE_CHECKING:
    from . import HyperparametersLabConfig

CHANCE = 0.1  # accuracy of a 10-class guess: where every run starts
LOSS_CAP = 1e3  # a diverged (infinite) final loss enters a rule as this; `requires` flags it


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs)


def _convergence(ctx: LabContext, cfg: HyperparametersLabConfig,
                 per_seed: list[SeedMeasurements]) -> None:
    interior, best_lrs, first, second = [], [], [], []
    for s in per_seed:
        lrs = list(s.convergence)
        best = min(lrs, key=lambda lr: s.convergence[lr].train_loss[-1])
        best_lrs.append(best)
        interior.append(float(lrs.index(best) not in (0, len(lrs) - 1)))
        acc = s.convergence[max(lrs, key=lambda lr: s.convergence[lr].val_acc[-1])].val_acc
        h = math.ceil(len(acc) / 2)
        first.append(acc[h - 1] - CHANCE)  # gain of the first half, from chance
        second.append(acc[-1] - acc[h - 1])  # gain of the second half
    ctx.claim("lr-sweet-spot",
              "Too small a learning rate converges slowly and too large a one fails to train "
              "(diverges or stalls): the lowest final train loss is reached at an intermediate "
              "rate",
              EverySeed(AtLeast(1.0)), values=interior,
              metric="lowest-final-train-loss rate strictly inside the grid (1 = yes, 0 = "
                     "at an end)",
              why={"does not hold": "on {n_edge} of {n} seeds the lowest final train loss is "
                                    "at an end of the grid {grid} (best rate per seed: "
                                    "{best_lrs})"},
              facts={"n_edge": interior.count(0.0), "grid": list(cfg.lrs),
                     "best_lrs": best_lrs})
    ctx.claim("diminishing-returns",
              "More epochs buy less and less: at the best rate, the first half of training "
              "gains more validation accuracy than the second half",
              Greater(), a=first, b=second,
              metric="validation accuracy gained at the best rate, first half (from chance "
                     "0.1) - second half",
              why={"does not hold": "over {epochs} epochs the first half gains {a_mean:.3f} "
                                    "of validation accuracy and the second half {b_mean:.3f}"},
              facts={"epochs": cfg.conv_epochs})


def _fitting(ctx: LabContext, cfg: HyperparametersLabConfig, per_seed: list[SeedMeasurements],
             base: FitConfig) -> None:
    def gap(rows: list[FitRow], key: str, value: float) -> float:
        want = base.vary(key, value)
        return next(r.gap for r in rows if r.config == want)

    tests = (
        ("dropout-narrows-gap", "dropout", max(cfg.dropouts), 0.0,
         f"Dropout narrows the train/validation gap (dropout {max(cfg.dropouts)} vs none)"),
        ("weight-decay-narrows-gap", "weight_decay", max(cfg.weight_decays), 0.0,
         f"Weight decay narrows the train/validation gap ({max(cfg.weight_decays)} vs none)"),
        ("small-batch-narrows-gap", "batch_size", min(cfg.batch_sizes), max(cfg.batch_sizes),
         f"Smaller batches overfit less (batch {min(cfg.batch_sizes)} vs "
         f"{max(cfg.batch_sizes)}, same number of epochs)"),
    )
    for cid, key, treated, control, statement in tests:
        ctx.claim(cid, statement, Greater(),
                  a=[gap(s.fitting, key, control) for s in per_seed],
                  b=[gap(s.fitting, key, treated) for s in per_seed],
                  metric=f"train - validation accuracy gap, {key}={control} - {key}={treated}",
                  why={"does not hold": "with " + key + "={treated} the gap averages "
                                        "{b_mean:.3f}, against {a_mean:.3f} with " + key
                                        + "={control}, after {epochs} epochs on {n_train} "
                                        "examples"},
                  facts={"treated": treated, "control": control, "epochs": cfg.fit_epochs,
                         "n_train": cfg.n_train})


def _selection(ctx: LabContext, per_seed: list[SeedMeasurements], chosen: list[FitRow]) -> None:
    n_configs = len(per_seed[0].fitting)
    ctx.claim("validation-is-optimistic",
              "After choosing the config with the best validation accuracy, its validation "
              "accuracy overstates its test accuracy",
              Greater(), a=[c.val_acc for c in chosen], b=[c.test_acc for c in chosen],
              metric="accuracy of the config selected on validation, validation - test",
              why={"does not hold": "the selected configs' validation accuracy ({a_mean:.3f}) "
                                    "does not exceed their test accuracy ({b_mean:.3f}); "
                                    "{n_configs} configs were compared"},
              facts={"n_configs": n_configs})
    ctx.claim("selection-transfers",
              "Selecting on validation still picks an above-average config on the test set",
              Greater(), a=[c.test_acc for c in chosen],
              b=[_mean([r.test_acc for r in s.fitting]) for s in per_seed],
              metric="test accuracy, selected config - mean of all configs",
              why={"does not hold": "the selected config's test accuracy ({a_mean:.3f}) is no "
                                    "better than the mean over all {n_configs} configs "
                                    "({b_mean:.3f})"},
              facts={"n_configs": n_configs})


def _efficiency(ctx: LabContext, per_seed: list[SeedMeasurements]) -> None:
    small, large = min(per_seed[0].efficiency), max(per_seed[0].efficiency)
    ratios = [s.efficiency[small].epoch_s / s.efficiency[large].epoch_s for s in per_seed]
    ctx.claim("bigger-batches-faster-epochs",
              "Larger batches make an epoch faster (fewer, better-vectorized steps)",
              AtLeast(2.0), values=ratios,
              metric=f"ratio of seconds per epoch, batch {small} / batch {large}",
              environment_dependent=True,
              why={"does not hold": "on this machine ({threads} torch thread(s)) an epoch at "
                                    "batch {small} takes only {mean:.2f}x as long as at batch "
                                    "{large}"},
              facts={"threads": torch.get_num_threads(), "small": small, "large": large})
    fits = [line_fit([float(b) for b in s.efficiency],
                     [float(v.saved_bytes) for v in s.efficiency.values()]) for s in per_seed]
    ctx.metric("activation_bytes_per_example", fits[0][0])
    slopes = [slope for slope, _ in fits]
    ctx.claim("memory-linear-in-batch",
              "The memory of a training step grows linearly with the batch size",
              EverySeed(AtLeast(0.99)), values=[r2 for _, r2 in fits],
              metric="R^2 of the least-squares line of bytes saved for backward vs batch size",
              kind="check",  # every saved activation is (batch, features): linear by design
              environment_dependent=True,
              requires={"slope > 0 on every seed": all(m > 0 for m in slopes)},
              why={"does not hold": "the line through bytes saved vs batch size has R^2 "
                                    "{min:.4f} at worst (slope {slope:.0f} bytes/example)"},
              facts={"slope": slopes[0]})


def _capacity(ctx: LabContext, cfg: HyperparametersLabConfig,
              per_seed: list[SeedMeasurements]) -> None:
    smallest = (min(cfg.depths), min(cfg.widths))
    largest = (max(cfg.depths), max(cfg.widths))
    names = {"smallest": "{}x{}".format(*smallest), "largest": "{}x{}".format(*largest)}
    ctx.claim("small-models-underfit",
              f"The smallest model ({names['smallest']}) underfits: it cannot fit even the "
              "training set",
              Greater(margin=0.1), a=[s.capacity[largest].train_acc for s in per_seed],
              b=[s.capacity[smallest].train_acc for s in per_seed],
              metric=f"train accuracy, {names['largest']} - {names['smallest']}",
              why={"does not hold": "the {smallest} model reaches train accuracy "
                                    "{b_mean:.3f}, within 0.1 of the {largest} model's "
                                    "{a_mean:.3f}"},
              facts=names)
    ctx.claim("large-models-overfit",
              f"The largest model ({names['largest']}) overfits: its validation loss exceeds "
              "its train loss by more than the smallest model's",
              Greater(), a=[s.capacity[largest].loss_gap for s in per_seed],
              b=[s.capacity[smallest].loss_gap for s in per_seed],
              metric=f"validation loss - train loss, {names['largest']} - {names['smallest']}",
              why={"does not hold": "the {largest} model's validation loss exceeds its train "
                                    "loss by {a_mean:.3f}, the {smallest} model's by "
                                    "{b_mean:.3f}"},
              facts=names)


def _optimizers(ctx: LabContext, cfg: HyperparametersLabConfig,
                per_seed: list[SeedMeasurements]) -> None:
    others = ("sgd_momentum", "adam", "rmsprop")
    sgd = [s.optimizers["sgd"].train_loss[-1] for s in per_seed]
    worst = [max(others, key=lambda k, s=s: s.optimizers[k].train_loss[-1]) for s in per_seed]
    worst_loss = [s.optimizers[w].train_loss[-1] for s, w in zip(per_seed, worst, strict=True)]
    ctx.claim("momentum-and-adaptive-beat-sgd",
              "Each at its own tuned rate, SGD with momentum, Adam and RMSprop all reach a lower "
              "train loss than plain SGD in the same epochs",
              Greater(), a=[min(x, LOSS_CAP) for x in sgd],
              b=[min(x, LOSS_CAP) for x in worst_loss],
              metric="final train loss, plain SGD - the worst of momentum, Adam and RMSprop",
              requires={"no tuned run diverged": all(map(math.isfinite, sgd + worst_loss))},
              why={"does not hold": "plain SGD ends at train loss {a_mean:.3f} and the worst "
                                    "of the others at {b_mean:.3f} (worst per seed: {worst})"},
              facts={"worst": worst})
    names = list(per_seed[0].optimizers)
    spreads = [max(s.optimizers[n].val_acc for n in names)
               - min(s.optimizers[n].val_acc for n in names) for s in per_seed]
    means = {n: round(_mean([s.optimizers[n].val_acc for s in per_seed]), 3) for n in names}
    ctx.claim("tuned-optimizers-close",
              "Once each optimizer's learning rate is tuned, their validation accuracies end "
              "close together",
              AtMost(cfg.opt_spread_max), values=spreads,
              metric="spread (max - min) of the tuned validation accuracies of a seed",
              why={"does not hold": "the tuned validation accuracies span {mean:.3f} per seed "
                                    "on average (means over seeds: {means})"},
              facts={"means": means})


def _transfer(ctx: LabContext, per_seed: list[SeedMeasurements]) -> None:
    tr = [s.transfer for s in per_seed]
    best_ft = [max(t.same_lr, t.small_backbone_lr) for t in tr]
    ctx.claim("pretraining-helps-few-labels",
              "With few labels, starting from a backbone pretrained on other digits beats "
              "training from scratch",
              Greater(), a=[max(t.frozen, t.same_lr, t.small_backbone_lr) for t in tr],
              b=[t.scratch for t in tr],
              metric="target test accuracy, best pretrained arm - from scratch",
              why={"does not hold": "the best pretrained arm reaches {a_mean:.3f} on the "
                                    "shifted target digits, from scratch {b_mean:.3f}"})
    ctx.claim("small-backbone-lr-helps",
              "Fine-tuning the pretrained backbone at a 10x smaller rate than the new head "
              "beats one rate everywhere",
              Greater(), a=[t.small_backbone_lr for t in tr], b=[t.same_lr for t in tr],
              metric="target test accuracy, backbone rate / 10 - one rate everywhere",
              why={"does not hold": "the backbone at a 10x smaller rate reaches {a_mean:.3f}, "
                                    "one rate everywhere {b_mean:.3f}"})
    ctx.claim("fine-tuning-beats-frozen",
              "Fine-tuning the backbone beats freezing it and training only the new head",
              Greater(), a=best_ft, b=[t.frozen for t in tr],
              metric="target test accuracy, best fine-tuned arm - frozen backbone",
              why={"does not hold": "the best fine-tuned arm reaches {a_mean:.3f}, the frozen "
                                    "backbone {b_mean:.3f} (a converged logistic regression "
                                    "on the frozen features: {logreg:.3f})"},
              facts={"logreg": _mean([t.frozen_logreg for t in tr])})


def state_claims(ctx: LabContext, cfg: HyperparametersLabConfig,
                 per_seed: list[SeedMeasurements], chosen: list[FitRow],
                 base: FitConfig) -> None:
    """State the lab's claims (two or three per effect) from the per-seed measurements."""
    _convergence(ctx, cfg, per_seed)
    _fitting(ctx, cfg, per_seed, base)
    _selection(ctx, per_seed, chosen)
    _efficiency(ctx, per_seed)
    _capacity(ctx, cfg, per_seed)
    _optimizers(ctx, cfg, per_seed)
    _transfer(ctx, per_seed)
