"""The ``gan-superres`` lab's figures: crops, scores, spectra, training curves."""

from __future__ import annotations

import numpy as np

from deepdojo.labs.framework import LabContext, plt

from . import measure as M

ARMS = (("bicubic", "tab:grey"), ("pixel", "tab:blue"), ("srgan", "tab:red"))
# the energy-matched noise control and the A/A twin, shown beside the arms
EXTRA = (("noise", "tab:purple"), ("pixel_aa", "tab:cyan"))
NAMES = {"srgan": "SRGAN", "noise": "pixel+noise", "pixel_aa": "pixel (A/A)", "hr": "HR"}


def plot_all(ctx: LabContext, results: dict[str, list[M.Setting]]) -> None:
    _crops(ctx, results)
    _scores(ctx, results)
    _spectra(ctx, results)
    _curves(ctx, results)


def _crops(ctx: LabContext, results: dict[str, list[M.Setting]]) -> None:
    cols = ("LR", "bicubic", "pixel", "srgan", "noise", "HR")
    rows = [(name, i) for name in results for i in range(2)]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2 * len(cols), 2 * len(rows)))
    for r, (name, i) in enumerate(rows):
        crops = results[name][0].crops
        for c, col in enumerate(cols):
            ax = axes[r, c]
            ax.imshow(crops[col][i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title({"srgan": "SRGAN", "pixel": "pixel loss",
                              "noise": "pixel + noise"}.get(col, col))
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    ctx.figure("crops", fig, "Test crops (first seed): LR input, bicubic, pixel-loss network, "
                             "SRGAN, the noise control, HR target")


def _scores(ctx: LabContext, results: dict[str, list[M.Setting]]) -> None:
    measures = (("psnr", "PSNR (dB)"), ("ssim", "SSIM"),
                ("spectrum", "gradient spectrum distance to HR"))
    fig, axes = plt.subplots(len(results), 3, figsize=(13, 3.2 * len(results)), squeeze=False)
    for row, (name, per_seed) in zip(axes, results.items(), strict=True):
        for ax, (attr, label) in zip(row, measures, strict=True):
            arms = (*ARMS, *EXTRA)
            for i, (arm, color) in enumerate(arms):
                vals = [getattr(getattr(r, arm), attr) for r in per_seed]
                ax.scatter([i] * len(vals), vals, color=color, alpha=0.7)
                ax.plot([i - 0.2, i + 0.2], [np.mean(vals)] * 2, color=color)
            ax.set(xticks=range(len(arms)), title=f"{name}: {label}")
            ax.set_xticklabels([NAMES.get(a, a) for a, _ in arms], fontsize=7)
    ctx.figure("scores", fig, "Per-seed test PSNR, SSIM and sharpness (lower distance = closer "
                              "to HR) of every arm, the energy-matched noise control (pixel "
                              "output + noise with SRGAN's high-frequency residual energy) and "
                              "the A/A twin (the pixel arm from another training seed)")


def _spectra(ctx: LabContext, results: dict[str, list[M.Setting]]) -> None:
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, (name, per_seed) in zip(axes[0], results.items(), strict=True):
        for arm, color in (("hr", "black"), *ARMS, EXTRA[0]):
            spec = np.mean([getattr(r, arm).spectra for r in per_seed], axis=0)
            ax.semilogy(np.arange(1, len(spec) + 1), spec, color=color,
                        ls="--" if arm == "noise" else "-", label=NAMES.get(arm, arm))
        ax.set(title=name, xlabel="spatial frequency ring", ylabel="power of |grad I|")
        ax.legend(fontsize=7)
    ctx.figure("gradient_spectra", fig, "Radially averaged power spectrum of the Sobel gradient "
                                        "magnitude, mean over seeds and test patches")


def _curves(ctx: LabContext, results: dict[str, list[M.Setting]]) -> None:
    n = len(results)
    fig, axes = plt.subplots(2, n, figsize=(5 * n, 6.4), squeeze=False)
    for col, (name, per_seed) in enumerate(results.items()):
        top, bottom = axes[0, col], axes[1, col]
        for i, r in enumerate(per_seed):
            first = i == 0
            top.plot(r.pixel_run.curves["pixel"], color="tab:blue", alpha=0.6, marker=".",
                     label="pixel net (G): L1" if first else None)
            top.plot(r.srgan_run.curves["pixel"], color="tab:red", alpha=0.6, marker=".",
                     label="SRGAN G: its L1 part" if first else None)
            bottom.plot(r.srgan_run.curves["d"], color="tab:orange", alpha=0.6, marker=".",
                        label="SRGAN D" if first else None)
        bottom.axhline(2 * np.log(2), color="grey", lw=0.8, ls=":", label="D at chance (2 ln 2)")
        top.set(title=f"{name}: generators", ylabel="L1 pixel loss")
        bottom.set(title=f"{name}: discriminator", xlabel="epoch", ylabel="D loss")
        top.legend(fontsize=7)
        bottom.legend(fontsize=7)
    fig.tight_layout()
    ctx.figure("training_curves", fig, "Both networks' losses per epoch, every seed")
