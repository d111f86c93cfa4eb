"""The ``gan-translation`` lab's figures: examples, per-seed scores, both networks' curves."""

from __future__ import annotations

import numpy as np

from deepdojo.labs.framework import LabContext, plt

from . import measure as M


def plot_all(ctx: LabContext, results: list[M.SeedResult]) -> None:
    _examples(ctx, results[0].images)
    _paired_scores(ctx, results)
    if results[0].cycle is not None:
        _unpaired_scores(ctx, results)
    _curves(ctx, results)


def _examples(ctx: LabContext, images: dict[str, np.ndarray]) -> None:
    cols = [k for k in ("edges", "L1-only", "pix2pix", "target", "digit", "CycleGAN A->B",
                        "cycle A->B->A", "dilated (true B)") if k in images]
    n = len(images[cols[0]])
    fig, axes = plt.subplots(n, len(cols), figsize=(1.6 * len(cols), 1.6 * n), squeeze=False)
    for c, col in enumerate(cols):
        for r in range(n):
            ax = axes[r, c]
            ax.imshow(images[col][r], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, c].set_title(col, fontsize=8)
    ctx.figure("examples", fig, "Test examples (first seed): paired edges -> digit by both arms, "
                                "and CycleGAN's digit -> thick translation and its cycle")


def _strip(ax: object, groups: list[tuple[str, list[float], str]], title: str) -> None:
    for i, (_, vals, color) in enumerate(groups):
        ax.scatter([i] * len(vals), vals, color=color, alpha=0.7)  # type: ignore[attr-defined]
        ax.plot([i - 0.2, i + 0.2], [np.mean(vals)] * 2, color=color)  # type: ignore[attr-defined]
    ax.set(xticks=range(len(groups)), xticklabels=[g[0] for g in groups],  # type: ignore[attr-defined]
           title=title)


def _paired_scores(ctx: LabContext, results: list[M.SeedResult]) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (attr, label) in zip(axes, (("l1", "test L1"), ("ssim", "test SSIM"),
                                        ("spectrum", "gradient spectrum distance")),
                                 strict=True):
        groups = [("L1-only", [getattr(r.l1_only, attr) for r in results], "tab:blue"),
                  ("pix2pix", [getattr(r.pix2pix, attr) for r in results], "tab:red")]
        if all(r.l1_aa is not None for r in results):
            groups.append(("L1-only (A/A)", [getattr(r.l1_aa, attr) for r in results],
                           "tab:cyan"))
        _strip(ax, groups, label)
    fig.tight_layout()
    ctx.figure("paired_scores", fig, "Per-seed test scores of the two paired arms (lower L1 and "
                                     "distance are better, higher SSIM) and, where trained, the "
                                     "A/A twin: the L1-only arm from another seed, whose gap to "
                                     "it is the noise floor of the margins")


def _unpaired_scores(ctx: LabContext, results: list[M.SeedResult]) -> None:
    cyc = [r.cycle for r in results]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    _strip(axes[0], [(lab, [getattr(c, k) for c in cyc], col) for lab, k, col in (
        ("identity", "rate_identity", "grey"), ("CycleGAN", "rate_translated", "tab:red"),
        ("dilation", "rate_dilated", "black"))], "share called 'thick'")
    axes[0].axhline(0.5, color="grey", ls=":", lw=0.8)
    _strip(axes[1], [(lab, [getattr(c, k) for c in cyc], col) for lab, k, col in (
        ("shuffled", "content_shuffled", "grey"), ("CycleGAN", "content_translated", "tab:red"),
        ("dilation", "content_dilated", "black"))], "digit agreement with the input")
    _strip(axes[2], [(lab, [getattr(c, k) for c in cyc], col) for lab, k, col in (
        ("cycle error", "cycle", "tab:red"), ("domain gap", "domain_gap", "black"))],
        "mean absolute error")
    fig.tight_layout()
    ctx.figure("unpaired_scores", fig, "CycleGAN per seed against its controls: identity map, "
                                       "the true dilation, shuffled translations")


def _curves(ctx: LabContext, results: list[M.SeedResult]) -> None:
    has_cycle = results[0].cycle_run is not None
    fig, axes = plt.subplots(2, 2 if has_cycle else 1, figsize=(10 if has_cycle else 5, 6.4),
                             squeeze=False)
    for i, r in enumerate(results):
        first = i == 0
        axes[0, 0].plot(r.l1_run.curves["l1"], color="tab:blue", alpha=0.6, marker=".",
                        label="L1-only G" if first else None)
        axes[0, 0].plot(r.p2p_run.curves["l1"], color="tab:red", alpha=0.6, marker=".",
                        label="pix2pix G: its L1 part" if first else None)
        axes[1, 0].plot(r.p2p_run.curves["d"], color="tab:orange", alpha=0.6, marker=".",
                        label="pix2pix D" if first else None)
        if has_cycle and r.cycle_run is not None:
            axes[0, 1].plot(r.cycle_run.curves["cycle"], color="tab:red", alpha=0.6, marker=".",
                            label="CycleGAN G: cycle L1" if first else None)
            axes[1, 1].plot(r.cycle_run.curves["d"], color="tab:orange", alpha=0.6, marker=".",
                            label="CycleGAN D_A + D_B (LSGAN)" if first else None)
    axes[1, 0].axhline(2 * np.log(2), color="grey", lw=0.8, ls=":", label="D at chance")
    axes[0, 0].set(title="paired: generators", ylabel="L1")
    axes[1, 0].set(title="paired: discriminator", xlabel="epoch", ylabel="D loss")
    if has_cycle:
        axes[0, 1].set(title="unpaired: generators", ylabel="cycle L1")
        axes[1, 1].set(title="unpaired: discriminators", xlabel="epoch", ylabel="D loss")
    for ax in axes.flat:
        ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.figure("training_curves", fig, "Both networks' losses per epoch, every seed")
