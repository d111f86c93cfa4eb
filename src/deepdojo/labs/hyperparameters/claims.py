"""Claims of the hyperparameters lab: rules fixed here, judged on the per-seed numbers."""

from __future__ import annotations

import math
import statistics
from typing import Any

from deepdojo.labs import LabContext

CHANCE = 0.1  # accuracy of a 10-class guess: where every run starts


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs)


def _convergence(ctx: LabContext, per_seed: list[dict[str, Any]]) -> None:
    interior, halves = [], []
    for s in per_seed:
        conv = s["convergence"]
        lrs = list(conv)
        final = [conv[lr]["train_loss"][-1] for lr in lrs]
        best = min(range(len(lrs)), key=lambda i: final[i])
        interior.append(float(0 < best < len(lrs) - 1))
        acc = conv[max(lrs, key=lambda lr: conv[lr]["val_acc"][-1])]["val_acc"]
        h = math.ceil(len(acc) / 2)
        halves.append((acc[h - 1] - CHANCE) - (acc[-1] - acc[h - 1]))
    ctx.claim("lr-sweet-spot",
              "Too small a learning rate converges slowly and too large a one fails to train "
              "(diverges or stalls): the lowest final train loss is reached at an intermediate "
              "rate",
              rule="on every seed, the rate with the lowest final train loss is neither the "
                   "smallest nor the largest of the grid", values=interior,
              holds=all(v == 1.0 for v in interior), seed_rule=lambda v: v == 1.0)
    ctx.claim("diminishing-returns",
              "More epochs buy less and less: at the best rate, the first half of training "
              "gains more validation accuracy than the second half",
              rule="mean over seeds of gain(first half, from chance 0.1) - gain(second half) > 0",
              values=halves, holds=_mean(halves) > 0, seed_rule=lambda v: v > 0)


def _fitting(ctx: LabContext, per_seed: list[dict[str, Any]], base: dict[str, Any],
             cfg: Any) -> None:
    def gap(rows: list[dict[str, Any]], key: str, value: Any) -> float:
        want = {**base, key: value}
        return next(r["gap"] for r in rows if all(r[k] == want[k] for k in base))

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
        diffs = [gap(s["fitting"], key, control) - gap(s["fitting"], key, treated)
                 for s in per_seed]
        ctx.claim(cid, statement, values=diffs, holds=_mean(diffs) > 0, seed_rule=lambda v: v > 0,
                  rule=f"mean over seeds of gap({key}={control}) - gap({key}={treated}) > 0, "
                       "gap = train acc - validation acc")


def _selection(ctx: LabContext, per_seed: list[dict[str, Any]],
               chosen: list[dict[str, Any]]) -> None:
    optimism = [c["val_acc"] - c["test_acc"] for c in chosen]
    ctx.claim("validation-is-optimistic",
              "After choosing the config with the best validation accuracy, its validation "
              "accuracy overstates its test accuracy",
              rule="mean over seeds of val_acc - test_acc of the selected config > 0",
              values=optimism, holds=_mean(optimism) > 0, seed_rule=lambda v: v > 0)
    above = [c["test_acc"] - _mean([r["test_acc"] for r in s["fitting"]])
             for c, s in zip(chosen, per_seed, strict=True)]
    ctx.claim("selection-transfers",
              "Selecting on validation still picks an above-average config on the test set",
              rule="mean over seeds of test_acc(selected) - mean test_acc(all configs) > 0",
              values=above, holds=_mean(above) > 0, seed_rule=lambda v: v > 0)


def _efficiency(ctx: LabContext, per_seed: list[dict[str, Any]]) -> None:
    ratios = []
    for s in per_seed:
        eff = s["efficiency"]
        small, large = min(eff, key=int), max(eff, key=int)
        ratios.append(eff[small]["epoch_s"] / eff[large]["epoch_s"])
    ctx.claim("bigger-batches-faster-epochs",
              "Larger batches make an epoch faster (fewer, better-vectorized steps)",
              rule="mean over seeds of seconds/epoch(smallest batch) / seconds/epoch(largest) "
                   ">= 2", values=ratios, holds=_mean(ratios) >= 2, seed_rule=lambda v: v >= 2)
    eff = per_seed[0]["efficiency"]
    xs = [float(b) for b in eff]
    ys = [float(v["saved_bytes"]) for v in eff.values()]
    mx, my = _mean(xs), _mean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs)
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1 - resid / max(sum((y - my) ** 2 for y in ys), 1e-12)
    ctx.metric("activation_bytes_per_example", slope)
    ctx.claim("memory-linear-in-batch",
              "The memory of a training step grows linearly with the batch size",
              rule="bytes saved for backward vs batch size: least-squares line with slope > 0 "
                   "and R^2 >= 0.99", value=r2, holds=slope > 0 and r2 >= 0.99)


def _capacity(ctx: LabContext, per_seed: list[dict[str, Any]], cfg: Any) -> None:
    smallest = f"{min(cfg.depths)}x{min(cfg.widths)}"
    largest = f"{max(cfg.depths)}x{max(cfg.widths)}"
    under = [s["capacity"][largest]["train_acc"] - s["capacity"][smallest]["train_acc"]
             for s in per_seed]
    ctx.claim("small-models-underfit",
              f"The smallest model ({smallest}) underfits: it cannot fit even the training set",
              rule=f"mean over seeds of train_acc({largest}) - train_acc({smallest}) > 0.1",
              values=under, holds=_mean(under) > 0.1, seed_rule=lambda v: v > 0.1)
    over = [s["capacity"][largest]["loss_gap"] - s["capacity"][smallest]["loss_gap"]
            for s in per_seed]
    ctx.claim("large-models-overfit",
              f"The largest model ({largest}) overfits: its validation loss exceeds its train "
              "loss by more than the smallest model's",
              rule=f"mean over seeds of loss_gap({largest}) - loss_gap({smallest}) > 0, "
                   "loss_gap = val loss - train loss", values=over, holds=_mean(over) > 0,
              seed_rule=lambda v: v > 0)


def _optimizers(ctx: LabContext, per_seed: list[dict[str, Any]], cfg: Any) -> None:
    margin = []
    for s in per_seed:
        o = s["optimizers"]
        others = max(o[k]["train_loss"][-1] for k in ("sgd_momentum", "adam", "rmsprop"))
        margin.append(o["sgd"]["train_loss"][-1] - others)
    ctx.claim("momentum-and-adaptive-beat-sgd",
              "Each at its own tuned rate, SGD with momentum, Adam and RMSprop all reach a lower "
              "train loss than plain SGD in the same epochs",
              rule="mean over seeds of loss(SGD) - max(loss(momentum), loss(Adam), "
                   "loss(RMSprop)) > 0, final train loss", values=margin,
              holds=_mean(margin) > 0, seed_rule=lambda v: v > 0)
    names = list(per_seed[0]["optimizers"])
    accs = [_mean([s["optimizers"][n]["val_acc"] for s in per_seed]) for n in names]
    spreads = [max(s["optimizers"][n]["val_acc"] for n in names)
               - min(s["optimizers"][n]["val_acc"] for n in names) for s in per_seed]
    ctx.claim("tuned-optimizers-close",
              "Once each optimizer's learning rate is tuned, their validation accuracies end "
              "close together",
              rule=f"max - min of the mean tuned validation accuracies <= {cfg.opt_spread_max} "
                   "(per seed: max - min of that seed's tuned accuracies)",
              value=max(accs) - min(accs), values=spreads,
              holds=max(accs) - min(accs) <= cfg.opt_spread_max,
              seed_rule=lambda v: v <= cfg.opt_spread_max)


def _transfer(ctx: LabContext, per_seed: list[dict[str, Any]]) -> None:
    tr = [s["transfer"] for s in per_seed]
    gain = [max(t["frozen"], t["same_lr"], t["small_backbone_lr"]) - t["scratch"] for t in tr]
    ctx.claim("pretraining-helps-few-labels",
              "With few labels, starting from a backbone pretrained on other digits beats "
              "training from scratch",
              rule="mean over seeds of max(test acc of the pretrained variants) - test acc "
                   "(scratch) > 0", values=gain, holds=_mean(gain) > 0, seed_rule=lambda v: v > 0)
    small = [t["small_backbone_lr"] - t["same_lr"] for t in tr]
    ctx.claim("small-backbone-lr-helps",
              "Fine-tuning the pretrained backbone at a 10x smaller rate than the new head "
              "beats one rate everywhere",
              rule="mean over seeds of test acc(backbone lr / 10) - test acc(same lr) > 0",
              values=small, holds=_mean(small) > 0, seed_rule=lambda v: v > 0)
    ft = [max(t["same_lr"], t["small_backbone_lr"]) - t["frozen"] for t in tr]
    ctx.claim("fine-tuning-beats-frozen",
              "Fine-tuning the backbone beats freezing it and training only the new head",
              rule="mean over seeds of max(test acc same lr, backbone lr / 10) - test acc "
                   "(frozen) > 0", values=ft, holds=_mean(ft) > 0, seed_rule=lambda v: v > 0)


def state_claims(ctx: LabContext, cfg: Any, per_seed: list[dict[str, Any]],
                 chosen: list[dict[str, Any]], base: dict[str, Any]) -> None:
    """State the lab's claims (two or three per effect) from the per-seed measurements."""
    _convergence(ctx, per_seed)
    _fitting(ctx, per_seed, base, cfg)
    _selection(ctx, per_seed, chosen)
    _efficiency(ctx, per_seed)
    _capacity(ctx, per_seed, cfg)
    _optimizers(ctx, per_seed, cfg)
    _transfer(ctx, per_seed)
