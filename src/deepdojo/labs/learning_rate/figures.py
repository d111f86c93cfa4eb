"""Figures of the learning-rate lab (each function returns a matplotlib Figure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from deepdojo.labs.framework import plt

from . import surfaces as surf
from .measure import Fit, GridSeed, OptimizerSweep, SchedulePair

COLORS = {"sgd": "tab:blue", "momentum": "tab:orange", "adam": "tab:green",
          "rmsprop": "tab:red", "adagrad": "tab:purple",
          surf.EFFECTIVE: "tab:cyan"}  # fmt: skip


def _first_bad(losses: list[float]) -> int | None:
    """Index of the first non-finite batch loss, or None."""
    return next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)


def regime_curves(fits: Sequence[Fit], small: float, good: float, large: float) -> Any:
    """Per-batch training loss for the too-small, best and too-large lr of one seed."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for lr, label, color in ((small, "too small", "tab:blue"), (good, "best on grid", "tab:green"),
                             (large, "too large", "tab:red")):  # fmt: skip
        row = min(fits, key=lambda r: abs(math.log10(r.lr / lr)))
        losses = row.step_losses
        bad = _first_bad(losses)
        shown = losses[:bad] if bad is not None else losses
        tag = " - diverged" if row.diverged else ""
        ax.plot(range(len(shown)), shown, color=color, lw=1.2,
                label=f"lr {row.lr:.3g} ({label}{tag})")  # fmt: skip
        if row.diverged and shown:
            ax.plot([len(shown) - 1], [shown[-1]], "x", color=color, ms=12, mew=2)
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step (batch)")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title("SGD + momentum on digits: three learning rates")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def finder_vs_grid(grids: Sequence[GridSeed]) -> Any:
    """Left: val loss vs grid lr (mean over seeds); right: the first seed's LR range test."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    lrs = sorted({r.lr for g in grids for r in g.fits})
    means = []
    for lr in lrs:
        vals = [r.val_loss for g in grids for r in g.fits
                if r.lr == lr and math.isfinite(r.val_loss)]  # fmt: skip
        means.append(sum(vals) / len(vals) if vals else float("nan"))
    ax.plot(lrs, means, "o-", color="black", label="val loss after training (mean)")
    for i, g in enumerate(grids):
        ax.axvline(g.best.lr, color="tab:green", ls="-", alpha=0.6,
                   label="grid best (per seed)" if i == 0 else None)  # fmt: skip
        if g.finder.suggestion:
            ax.axvline(g.finder.suggestion, color="tab:red", ls="--", alpha=0.8,
                       label="LR finder suggestion (per seed)" if i == 0 else None)  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate (SGD + momentum 0.9)")
    ax.set_ylabel("validation loss")
    ax.set_title("Grid search vs LR range test")
    ax.legend(fontsize=8)
    first = grids[0].finder
    first.plot(ax=ax2)
    if first.smoothed:  # the blow-up at the end would flatten the useful part of the curve
        ax2.set_ylim(0.0, 1.5 * max(first.smoothed[0], min(first.smoothed)))
    fig.tight_layout()
    return fig


def quadratic_figure(surface: surf.Surface, race: surf.QuadraticRace) -> Any:
    """Paths over the quadratic's contours (left) and mean loss per step (right)."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    plot_surface_contours(ax, surface, (-4.8, 1.5), (-1.6, 1.6))
    for opt, path in race.path.items():
        p = path.clamp(-10, 10).numpy()
        ax.plot(p[:, 0], p[:, 1], ".-", ms=2, lw=1, color=COLORS[opt],
                label=f"{opt} (lr {race.lr[opt]:.3g})")  # fmt: skip
    ax.plot([0], [0], "k*", ms=12, label="minimum")
    ax.set_title("Ill-conditioned quadratic: paths at each optimizer's best lr")
    ax.legend(fontsize=7, loc="lower right")
    for opt, curve in race.curve.items():
        ax2.plot(curve.clamp_min(1e-30).numpy(), color=COLORS[opt], label=opt)
    ax2.set_yscale("log")
    ax2.set_xlabel("step")
    ax2.set_ylabel("f(x, y) (mean over starts; floor 1e-30)")
    ax2.set_title("Loss per step")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def double_well_figure(race: surf.DoubleWellRace) -> Any:
    """One panel per optimizer: its paths from the seed's starts over the double well."""
    opts = list(race.paths)
    fig, axes = plt.subplots(1, len(opts), figsize=(4 * len(opts), 3.8), sharey=True)
    g, _, loc = surf.double_well_minima()
    for ax, opt in zip(axes, opts, strict=True):
        plot_surface_contours(ax, surf.tilted_double_well, (-2.0, 2.7), (-2.2, 2.2))
        paths = race.paths[opt].clamp(-5, 5).numpy()  # (steps + 1, N, 2)
        for k in range(paths.shape[1]):
            ax.plot(paths[:, k, 0], paths[:, k, 1], lw=0.8, color=COLORS[opt], alpha=0.8)
            ax.plot(paths[0, k, 0], paths[0, k, 1], "o", ms=3, color="black")
            ax.plot(paths[-1, k, 0], paths[-1, k, 1], "s", ms=4, color=COLORS[opt])
        ax.plot([g], [0], "*", color="gold", ms=14, mec="black", label="global min")
        ax.plot([loc], [0], "v", color="white", ms=9, mec="black", label="poor local min")
        ax.set_title(f"{opt}: escaped {race.escaped[opt]:.0%} (lr {race.lrs.get(opt, race.lr):g})",
                     fontsize=9)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Tilted double well: starts (dots) in the poor basin, ends (squares)")
    fig.tight_layout()
    return fig


def optimizer_sensitivity(sweeps: Sequence[OptimizerSweep]) -> Any:
    """Test accuracy vs lr per optimizer on digits (mean over seeds), val-picked lr starred."""
    fig, ax = plt.subplots(figsize=(7, 4))
    all_fits = [r for sw in sweeps for r in sw.fits]
    for opt in (o for o in COLORS if o != surf.EFFECTIVE):
        lrs = sorted({r.lr for r in all_fits if r.optimizer == opt})
        accs = [sum(r.test_acc for r in all_fits if r.optimizer == opt and r.lr == lr)
                / len(sweeps) for lr in lrs]  # fmt: skip
        ax.plot(lrs, accs, "o-", color=COLORS[opt], label=opt)
        for sw in sweeps:
            pick = sw.tuned[opt]
            ax.plot([pick.lr], [pick.test_acc], "*", ms=12, color=COLORS[opt], alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("test accuracy")
    ax.set_title("Optimizers on digits: accuracy against learning rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def schedule_figure(pair: SchedulePair) -> Any:
    """Per-batch training loss (log) and lr per batch, constant vs warmup + cosine."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    for row, label, color in ((pair.constant, "constant", "tab:blue"),
                              (pair.warmup, "warmup + cosine", "tab:orange")):  # fmt: skip
        ax.plot(row.step_losses, color=color, lw=1, label=f"{label} (final {row.train_loss:.3g})")
        ax2.plot(row.step_lrs, color=color, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step (batch)")
    ax.set_ylabel("training loss (batch)")
    ax.set_title(f"Training loss at peak lr {pair.constant.lr:.3g}")
    ax.legend(fontsize=8)
    ax2.set_xlabel("optimizer step (batch)")
    ax2.set_ylabel("learning rate")
    ax2.set_title("Learning rate schedule")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_surface_contours(ax: Any, surface: surf.Surface, xlim: tuple[float, float],
                          ylim: tuple[float, float], levels: int = 20) -> None:
    """Filled contours of ``surface`` over ``xlim`` x ``ylim`` on matplotlib axes ``ax``."""
    xs = torch.linspace(*xlim, 120, dtype=torch.float64)
    ys = torch.linspace(*ylim, 120, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # (120, 120) each
    z = surface(torch.stack([gx, gy], dim=-1))  # (120, 120)
    ax.contourf(gx.numpy(), gy.numpy(), z.numpy(), levels=levels, cmap="Greys", alpha=0.6)
    ax.contour(gx.numpy(), gy.numpy(), z.numpy(), levels=levels, colors="grey",
               linewidths=0.4)  # fmt: skip
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def paired_seeds_figure(panels: Sequence[tuple[str, str, Sequence[float], str,
                                               Sequence[float]]]) -> Any:
    """One panel per claim: each seed's two arms joined by a line (per-seed values shown).

    ``panels`` are ``(title, label_a, values_a, label_b, values_b)``; the arms' values pair
    seed by seed.
    """
    panels = [p for p in panels if len(p[2])] or [("no pairs", "A", [0.0], "B", [0.0])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (title, la, va, lb, vb) in zip(axes[0], panels, strict=True):
        for a, b in zip(va, vb, strict=True):
            ax.plot([0, 1], [b, a], "o-", color="tab:gray", alpha=0.7)
        ax.plot([0, 1], [sum(vb) / len(vb), sum(va) / len(va)], "s-", color="black", lw=2,
                label="mean")  # fmt: skip
        ax.set_xticks([0, 1], [lb, la], fontsize=8)
        ax.set_xlim(-0.3, 1.3)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
