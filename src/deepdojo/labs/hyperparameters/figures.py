"""Figures of the hyperparameters lab: one function per effect, each returns a figure."""

from __future__ import annotations

import statistics
from typing import Any

from deepdojo.labs.framework import plt

from .measure import (
    BatchRun,
    CapacityCell,
    EfficiencyRow,
    FitConfig,
    FitRow,
    LrRun,
    OptimizerRun,
    TransferResult,
)


def _mean(rows: list[list[float]]) -> list[float]:
    """Element-wise mean of equally long (or truncated to the shortest) lists."""
    n = min(len(r) for r in rows)
    return [statistics.fmean(r[i] for r in rows) for i in range(n)]


def convergence(conv: list[dict[float, LrRun]]) -> Any:
    """Train loss per epoch per learning rate (mean over seeds) and val acc vs seconds."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    cmap = plt.get_cmap("plasma")
    lrs = list(conv[0])
    for i, lr in enumerate(lrs):
        c = cmap(i / max(len(lrs) - 1, 1))
        loss = _mean([s[lr].train_loss for s in conv])
        loss = [min(v, 1e3) for v in loss]  # a diverged run is drawn at the top
        a1.plot(range(1, len(loss) + 1), loss, color=c, marker="o", ms=3, label=f"lr={lr}")
        secs = _mean([[sum(s[lr].time_s[: k + 1]) for k in range(len(s[lr].time_s))]
                      for s in conv])
        a2.plot(secs, _mean([s[lr].val_acc for s in conv]), color=c, marker="o", ms=3,
                label=f"lr={lr}")
    a1.set_yscale("log")
    a1.set(xlabel="epoch", ylabel="train loss (log)", title="1. Convergence vs learning rate")
    a2.set(xlabel="wall-clock seconds", ylabel="validation accuracy",
           title="4b. Time to accuracy (same runs)")
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fitting(rows: list[FitRow], axes_spec: dict[str, tuple[Any, ...]], base: FitConfig) -> Any:
    """Train and test accuracy vs dropout and weight decay (others at base); ``rows`` holds
    each config at its validation-picked rate."""
    fig, axes = plt.subplots(1, len(axes_spec), figsize=(4 * len(axes_spec), 3.6), sharey=True)
    for ax, (key, values) in zip(axes, axes_spec.items(), strict=True):
        tr, va = [], []
        for v in values:
            sel = [r for r in rows if r.config == base.vary(key, v)]
            tr.append(statistics.fmean(r.train_acc for r in sel))
            va.append(statistics.fmean(r.test_acc for r in sel))
        xs = range(len(values))
        ax.plot(xs, tr, "o-", label="train acc")
        ax.plot(xs, va, "s-", label="test acc")
        ax.fill_between(xs, va, tr, alpha=0.2, label="gap")
        ax.set_xticks(list(xs), [str(v) for v in values])
        ax.set(xlabel=key, title=f"2. Fit vs {key}")
    axes[0].set_ylabel("accuracy (mean over seeds)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def batches(runs: list[list[BatchRun]]) -> Any:
    """Test accuracy (best-validation epoch) vs peak rate for each batch size at equal steps,
    and the large batch at the small batch's epochs (the folk comparison)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    flat = [r for s in runs for r in s]
    for bs, color in zip(sorted({r.batch_size for r in flat}), ("tab:blue", "tab:red"),
                         strict=False):
        lrs = sorted({r.lr for r in flat if r.batch_size == bs and not r.equal_epochs})
        acc = [statistics.fmean(r.test_acc for r in flat if r.batch_size == bs
                                and r.lr == lr and not r.equal_epochs) for lr in lrs]
        ax.plot(lrs, acc, "o-", color=color, label=f"batch {bs}, equal steps")
        ctrl = [r for r in flat if r.batch_size == bs and r.equal_epochs]
        if ctrl:
            ax.plot([ctrl[0].lr], [statistics.fmean(r.test_acc for r in ctrl)], "x", ms=10,
                    color=color, label=f"batch {bs} at the small batch's epochs")
    ax.set_xscale("log")
    ax.set(xlabel="peak learning rate (SGD + momentum, cosine)", ylabel="test accuracy",
           title="2. Batch size with the rate tuned per batch size")
    ax.legend(fontsize=7)
    return fig


def selection(rows: list[FitRow], chosen: list[FitRow]) -> Any:
    """Validation vs test accuracy of every config; the validation-selected ones ringed."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.scatter([r.val_acc for r in rows], [r.test_acc for r in rows], s=14,
               color="tab:blue", alpha=0.6, label="all configs (all seeds)")
    ax.scatter([r.val_acc for r in chosen], [r.test_acc for r in chosen], s=80,
               facecolors="none", edgecolors="tab:red", linewidths=1.5,
               label="selected on validation")
    lo = min(min(r.val_acc, r.test_acc) for r in rows) - 0.01
    ax.plot([lo, 1], [lo, 1], "k--", linewidth=0.8, label="test = validation")
    ax.set(xlabel="validation accuracy", ylabel="test accuracy",
           title="3. Generalization after selecting on validation")
    ax.legend(fontsize=7)
    return fig


def efficiency(eff: list[dict[int, EfficiencyRow]]) -> Any:
    """Seconds per epoch and activation memory vs batch size."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6))
    xs = list(eff[0])
    for s in eff:
        a1.plot(xs, [s[b].epoch_s for b in xs], color="tab:blue", alpha=0.3)
    a1.plot(xs, [statistics.fmean(s[b].epoch_s for s in eff) for b in xs], "o-",
            color="tab:blue", label="mean over seeds")
    a2.plot(xs, [eff[0][b].saved_bytes / 1024 for b in xs], "o-", color="tab:red",
            label="saved for backward")
    if eff[0][xs[0]].cuda_peak_bytes is not None:
        a2.plot(xs, [(eff[0][b].cuda_peak_bytes or 0) / 1024 for b in xs], "s--",
                color="tab:purple", label="CUDA peak allocated")
    a1.set_xscale("log", base=2)
    a2.set_ylim(bottom=0)  # linear axes: a straight line here is the claimed linear growth
    for ax in (a1, a2):
        ax.legend(fontsize=8)
    a1.set(xlabel="batch size (log)", ylabel="seconds per epoch", title="4a. Time per epoch")
    a2.set(xlabel="batch size", ylabel="KiB", title="4a. Memory of one training step")
    fig.tight_layout()
    return fig


def capacity(cap: list[dict[tuple[int, int], CapacityCell]], depths: tuple[int, ...],
             widths: tuple[int, ...]) -> Any:
    """Heatmaps over depth x width: train accuracy, validation accuracy, loss gap."""
    keys = (("train_acc", "train accuracy"), ("val_acc", "validation accuracy"),
            ("loss_gap", "val loss - train loss"))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (key, title) in zip(axes, keys, strict=True):
        grid = [[statistics.fmean(getattr(s[(d, w)], key) for s in cap) for w in widths]
                for d in depths]
        im = ax.imshow(grid, cmap="viridis", aspect="auto")
        for i in range(len(depths)):
            for j in range(len(widths)):
                bright = im.norm(grid[i][j]) > 0.6  # viridis turns light green/yellow here
                ax.text(j, i, f"{grid[i][j]:.2f}", ha="center", va="center",
                        color="black" if bright else "white", fontsize=9)
        ax.set_xticks(range(len(widths)), [str(w) for w in widths])
        ax.set_yticks(range(len(depths)), [str(d) for d in depths])
        ax.set(xlabel="width", ylabel="depth (weight layers)", title=f"5. {title}")
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


def optimizers(opt: list[dict[str, OptimizerRun]]) -> Any:
    """Train loss per epoch of each optimizer at its tuned rate, and its validation accuracy."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    names = list(opt[0])
    for name in names:
        loss = _mean([s[name].train_loss for s in opt])
        lrs = sorted({s[name].lr for s in opt})
        a1.plot(range(1, len(loss) + 1), loss, marker="o", ms=3,
                label=f"{name} (tuned lr {', '.join(f'{x:g}' for x in lrs)})")
    a1.set_yscale("log")
    a1.set(xlabel="epoch", ylabel="train loss (log)", title="6. Optimizers at tuned rates")
    a1.legend(fontsize=7)
    vals = [[s[n].val_acc for s in opt] for n in names]
    a2.bar(names, [statistics.fmean(v) for v in vals], color="tab:green", alpha=0.7)
    for i, v in enumerate(vals):
        a2.scatter([i] * len(v), v, color="black", s=10, zorder=3)
    a2.set(ylabel="validation accuracy", title="Tuned validation accuracy (dots: seeds)")
    a2.set_ylim(min(min(v) for v in vals) - 0.05, 1.0)
    fig.tight_layout()
    return fig


def transfer(tr: list[TransferResult]) -> Any:
    """Test accuracy on digits 5-9 of each fine-tuning variant."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = [n for n in vars(tr[0]) if n != "val"]
    colors = ["tab:gray" if n == "frozen_logreg" else "tab:orange" for n in names]
    ax.bar(names, [statistics.fmean(getattr(s, n) for s in tr) for n in names], color=colors,
           alpha=0.7)
    ax.tick_params(axis="x", labelsize=8)
    for i, n in enumerate(names):
        ax.scatter([i] * len(tr), [getattr(s, n) for s in tr], color="black", s=10, zorder=3)
    ax.set(ylabel="test accuracy on shifted digits 5-9",
           title="7. Transfer from digits 0-4 (bar: mean, dots: seeds)")
    return fig
