"""Claims of the hyperparameters lab: rules fixed here, judged on the per-seed measurements.

Every comparison of two arms is paired (same seed, same data split): ``a`` and ``b`` below.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

import torch

from deepdojo.labs.framework import AtLeast, EverySeed, Greater, LabContext, Within

from .measure import FitConfig, FitRow, SeedMeasurements, line_fit, pick_batch, pick_lr

if TYPE_CHECKING:
    from . import HyperparametersLabConfig

CHANCE = 0.1  # accuracy of a 10-class guess: where every run starts
# Effects that sit within one interval width of their margin at 5 seeds: their verdict
# differed between the quick runs with seed bases 0, 7, 12345 and 31 (or stayed inconclusive), so
# they are judged at full scale only.
FULL_ONLY = ("dropout-narrows-gap", "small-batch-narrows-gap", "validation-is-optimistic",
             "momentum-and-adaptive-beat-sgd", "fine-tuning-beats-frozen",
             "tuned-optimizers-close", "small-backbone-lr-helps", "weight-decay-narrows-gap",
             "pretraining-helps-few-labels")
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


def _stdev(xs: list[float]) -> float:
    """Sample standard deviation (NaN with one value)."""
    return statistics.stdev(xs) if len(xs) > 1 else math.nan


def _fitting(ctx: LabContext, cfg: HyperparametersLabConfig, per_seed: list[SeedMeasurements],
             base: FitConfig) -> None:
    floor = _stdev([s.fit_aa_gap for s in per_seed])
    ctx.metric("noise_floor.gap", floor)

    def run(s: SeedMeasurements, key: str, value: float) -> FitRow:
        return pick_lr(s.fitting, base.vary(key, value))

    tests = (
        ("dropout-narrows-gap", "dropout", max(cfg.dropouts), 0.0,
         f"Dropout narrows the train/test gap at convergence (dropout {max(cfg.dropouts)} vs "
         "none, each at its own rate)"),
        ("weight-decay-narrows-gap", "weight_decay", max(cfg.weight_decays), 0.0,
         f"Weight decay narrows the train/test gap at convergence ({max(cfg.weight_decays)} "
         "vs none, each at its own rate)"),
    )
    for cid, key, treated, control, statement in tests:
        ctl = [run(s, key, control) for s in per_seed]
        trt = [run(s, key, treated) for s in per_seed]
        ctx.claim(cid, statement, Greater(margin=cfg.gap_margin),
                  a=[r.gap for r in ctl], b=[r.gap for r in trt],
                  metric=f"train - test accuracy gap at convergence, {key}={control} - "
                         f"{key}={treated}",
                  why={"does not hold": "with " + key + "={treated} the gap averages "
                                        "{b_mean:.3f}, against {a_mean:.3f} with " + key
                                        + "={control}: it narrows by {mean:.3f}, not more "
                                        "than the margin {margin:g} (train accuracy {tr_t:.3f} vs "
                                        "{tr_c:.3f}, {epochs} epochs on {n_train} examples, "
                                        "rate annealed to 0)",
                       "holds": "the gap narrows from {a_mean:.3f} to {b_mean:.3f} (train "
                                "accuracy {tr_c:.3f} -> {tr_t:.3f})",
                       "inconclusive": "(A/A noise floor of the gap: {floor:.3f}; decided "
                                       "at full scale)"},
                  facts={"treated": treated, "control": control, "epochs": cfg.fit_epochs,
                         "n_train": cfg.n_train, "floor": floor,
                         "tr_t": _mean([r.train_acc for r in trt]),
                         "tr_c": _mean([r.train_acc for r in ctl])})


def _batches(ctx: LabContext, cfg: HyperparametersLabConfig,
             per_seed: list[SeedMeasurements]) -> None:
    small, large = min(cfg.batch_sizes), max(cfg.batch_sizes)
    ps = [pick_batch(s.batches, small) for s in per_seed]
    pl = [pick_batch(s.batches, large) for s in per_seed]
    facts = {"small": small, "large": large, "steps": cfg.batch_steps,
             "lr_s": sorted({r.lr for r in ps}), "lr_l": sorted({r.lr for r in pl}),
             "tr_s": _mean([r.train_acc for r in ps]), "tr_l": _mean([r.train_acc for r in pl])}
    ctx.claim("small-batch-narrows-gap",
              f"Smaller batches overfit less (batch {small} vs {large}, at convergence: equal "
              "optimizer steps, each at its own rate)",
              Greater(margin=cfg.gap_margin), a=[r.gap for r in pl], b=[r.gap for r in ps],
              metric=f"train - test accuracy gap at convergence, batch {large} - batch {small}",
              why={"does not hold": "batch {small} ends with a gap of {b_mean:.3f} and batch "
                                    "{large} {a_mean:.3f}, a difference of {mean:.3f}, not more "
                                    "than the margin {margin:g} (train accuracy {tr_s:.3f} vs "
                                    "{tr_l:.3f} after about {steps} steps; rates {lr_s} and "
                                    "{lr_l})",
                   "holds": "the gap is {b_mean:.3f} at batch {small} against {a_mean:.3f} at "
                            "batch {large} (train accuracy {tr_s:.3f} vs {tr_l:.3f})",
                   "inconclusive": "(decided at full scale)"},
              facts=facts)
    ctrl = [next(r for r in s.batches if r.equal_epochs) for s in per_seed]
    same = [next(r for r in s.batches if r.batch_size == small and not r.equal_epochs
                 and math.isclose(r.lr, cfg.base_lr)) for s in per_seed]
    ctx.claim("small-batch-generalizes-better-at-fixed-lr",
              f"The folk result: at one learning rate ({cfg.base_lr:g}) and the same number of "
              f"epochs, batch {small} reaches a higher test accuracy than batch {large}",
              Greater(margin=cfg.gap_margin), a=[r.test_acc for r in same],
              b=[r.test_acc for r in ctrl],
              metric=f"test accuracy (best-validation epoch), batch {small} - batch {large}, "
                     f"lr {cfg.base_lr:g}, equal epochs",
              why={"does not hold": "at one rate and equal epochs batch {small} reaches "
                                    "{a_mean:.3f} and batch {large} {b_mean:.3f}",
                   "holds": "batch {small} {a_mean:.3f} vs batch {large} {b_mean:.3f}: the "
                            "large batch took {ratio}x fewer steps and ends at train accuracy "
                            "{tr_ctrl:.3f}"},
              facts={**facts, "ratio": round(same[0].steps / max(ctrl[0].steps, 1)),
                     "tr_ctrl": _mean([r.train_acc for r in ctrl])})
    ctx.claim("small-batch-gain-vanishes-with-tuned-lr",
              "The small-batch generalization gain vanishes once the learning rate is retuned "
              "for each batch size and both train to convergence (Shallue et al. 2019)",
              Within(cfg.equiv_margin), a=[r.test_acc for r in ps], b=[r.test_acc for r in pl],
              metric=f"test accuracy (best-validation epoch), batch {small} - batch {large}, "
                     "each at its rate picked on validation, equal steps",
              why={"does not hold": "batch {small} reaches {a_mean:.3f} and batch {large} "
                                    "{b_mean:.3f} even with the rate retuned (rates {lr_s} "
                                    "and {lr_l}, about {steps} steps)",
                   "holds": "batch {small} {a_mean:.3f} and batch {large} {b_mean:.3f} at "
                            "their own rates ({lr_s} and {lr_l}), about {steps} steps each"},
              facts=facts)


def _selection(ctx: LabContext, per_seed: list[SeedMeasurements], chosen: list[FitRow]) -> None:
    n_configs = len(per_seed[0].fitting)
    offset = [_mean([r.val_acc - r.test_acc for r in s.fitting]) for s in per_seed]
    ctx.metric("val_minus_test_offset", _mean(offset))
    ctx.claim("validation-is-optimistic",
              "After choosing the config with the best validation accuracy, its validation "
              "accuracy overstates its test accuracy by more than the validation - test offset "
              "all configs share",
              Greater(), a=[c.val_acc - c.test_acc for c in chosen], b=offset,
              metric="validation - test accuracy, config selected on validation - mean over "
                     "all configs",
              why={"does not hold": "the selected config's validation - test difference "
                                    "({a_mean:.3f}) does not exceed the mean over all "
                                    "{n_configs} runs ({b_mean:.3f})",
                   "holds": "the selected run's validation exceeds its test accuracy by "
                            "{a_mean:.3f}, against {b_mean:.3f} on average over all "
                            "{n_configs} runs",
                   "inconclusive": "(selection among {n_configs} runs; decided at full "
                                   "scale)"},
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
    floor = _stdev([s.opt_aa_test for s in per_seed])
    ctx.metric("noise_floor.opt_test_acc", floor)
    adam = [s.optimizers["adam"] for s in per_seed]
    mom = [s.optimizers["sgd_momentum"] for s in per_seed]
    ctx.claim("tuned-optimizers-close",
              "Once each optimizer's learning rate is tuned and both converge, Adam and SGD "
              "with momentum reach the same test accuracy",
              Within(cfg.equiv_margin), a=[r.test_acc for r in adam], b=[r.test_acc for r in mom],
              metric="test accuracy, Adam - SGD + momentum, each at its rate picked on "
                     "validation",
              requires={f"both converged (final train loss <= {cfg.converged_loss:g} on every "
                        "seed)": all(r.train_loss[-1] <= cfg.converged_loss for r in adam + mom)},
              why={"does not hold": "Adam reaches {a_mean:.3f} and SGD + momentum {b_mean:.3f} "
                                    "(A/A noise floor {floor:.3f})",
                   "holds": "Adam {a_mean:.3f}, SGD + momentum {b_mean:.3f}; two Adam runs "
                            "from different initializations differ by {floor:.3f} (sd)"},
              facts={"floor": floor})


def _transfer(ctx: LabContext, per_seed: list[SeedMeasurements]) -> None:
    tr = [s.transfer for s in per_seed]
    pre = ("frozen", "same_lr", "small_backbone_lr")
    best_pre = [getattr(t, t.best_on_val(pre)) for t in tr]
    best_ft = [getattr(t, t.best_on_val(pre[1:])) for t in tr]
    ctx.table("transfer_chosen_on_validation", [
        {"seed": s.seed, "best_pretrained": s.transfer.best_on_val(pre),
         "best_fine_tuned": s.transfer.best_on_val(pre[1:])} for s in per_seed])
    ctx.claim("pretraining-helps-few-labels",
              "With few labels, starting from a backbone pretrained on other digits beats "
              "training from scratch",
              Greater(), a=best_pre,
              b=[t.scratch for t in tr],
              metric="target test accuracy, pretrained arm chosen on validation - from scratch",
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
              metric="target test accuracy, fine-tuned arm chosen on validation - frozen "
                     "backbone",
              why={"does not hold": "the best fine-tuned arm reaches {a_mean:.3f}, the frozen "
                                    "backbone {b_mean:.3f} (a converged logistic regression "
                                    "on the frozen features: {logreg:.3f})"},
              facts={"logreg": _mean([t.frozen_logreg for t in tr])})


def state_claims(ctx: LabContext, cfg: HyperparametersLabConfig,
                 per_seed: list[SeedMeasurements], chosen: list[FitRow],
                 base: FitConfig) -> None:
    """State the lab's claims (two or three per effect) from the per-seed measurements; the
    :data:`FULL_ONLY` ones only when ``cfg.full_only_claims`` (full scale)."""
    _convergence(ctx, cfg, per_seed)
    _fitting(ctx, cfg, per_seed, base)
    _batches(ctx, cfg, per_seed)
    _selection(ctx, per_seed, chosen)
    _efficiency(ctx, per_seed)
    _capacity(ctx, cfg, per_seed)
    _optimizers(ctx, cfg, per_seed)
    _transfer(ctx, per_seed)
    if not cfg.full_only_claims:
        ctx.hold_for_full_scale(FULL_ONLY)
