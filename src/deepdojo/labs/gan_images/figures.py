"""The ``gan-images`` lab's figures: training curves, samples, per-seed measures."""

from __future__ import annotations

import numpy as np

from deepdojo.labs.framework import LabContext, plt

from . import measure as M


def plot_all(ctx: LabContext, gens: dict[str, list[M.Generation]],
             t2i: list[M.TextToImage]) -> None:
    runs = {f"GAN {n}": [g.gan_run for g in v] for n, v in gens.items()}
    runs["text-to-image GAN"] = [t.gan_run for t in t2i]
    _curves(ctx, runs)
    _measures(ctx, gens)
    _samples(ctx, gens)
    _text(ctx, t2i)


def _curves(ctx: LabContext, runs: dict[str, list[M.GANRun]]) -> None:
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.6), squeeze=False)
    for ax, (title, seeds) in zip(axes[0], runs.items(), strict=True):
        for i, r in enumerate(seeds):
            ax.plot(r.loss_d, color="tab:red", alpha=0.6, label="discriminator" if i == 0 else None)
            ax.plot(r.loss_g, color="tab:blue", alpha=0.6, label="generator" if i == 0 else None)
        ax.axhline(2 * np.log(2), color="grey", lw=0.8, ls=":", label="D at chance (2 ln 2)")
        ax.set(title=title, xlabel="epoch", ylabel="training loss (mean per epoch)")
        ax.legend(fontsize=7)
    ctx.figure("training_curves", fig, "Both networks' losses per epoch, every seed")


def _measures(ctx: LabContext, gens: dict[str, list[M.Generation]]) -> None:
    fig, axes = plt.subplots(len(gens), 3, figsize=(14, 3.4 * len(gens)), squeeze=False)
    colors = {"gan": "tab:red", "vae": "tab:green", "real": "tab:grey"}
    for row, (name, runs) in zip(axes, gens.items(), strict=True):
        for col, (attr, label) in enumerate((("fd", "Frechet distance (judge features)"),
                                             ("precision", "precision"), ("recall", "recall"))):
            ax = row[col]
            for i, arm in enumerate(("gan", "vae", "real")):
                vals = [getattr(getattr(g, arm), attr) for g in runs]
                ax.scatter([i] * len(vals), vals, color=colors[arm], alpha=0.7)
                ax.plot([i - 0.2, i + 0.2], [np.mean(vals)] * 2, color=colors[arm])
            ax.set(xticks=[0, 1, 2], xticklabels=["GAN", "VAE", "real vs real"],
                   title=f"{name}: {label}")
            if attr == "fd":
                ax.set_yscale("log")
    ctx.figure("generation_measures", fig, "Per-seed Frechet distance, precision and recall: "
               "GAN, VAE and real vs real (the floor)")


def _samples(ctx: LabContext, gens: dict[str, list[M.Generation]]) -> None:
    digits, signals = gens["digits"][0].samples, gens["mnist1d"][0].samples
    fig, axes = plt.subplots(2, 3, figsize=(12, 7))
    for ax, arm in zip(axes[0], ("gan", "vae", "real"), strict=True):
        tiles = np.pad(digits[arm][:16].reshape(16, 8, 8), ((0, 0), (0, 1), (0, 1)),
                       constant_values=np.nan)  # a blank line between digits
        ax.imshow(tiles.reshape(4, 4, 9, 9).transpose(0, 2, 1, 3).reshape(36, 36), cmap="gray_r")
        ax.set(title=f"digits: {arm}", xticks=[], yticks=[])
    for ax, arm in zip(axes[1], ("gan", "vae", "real"), strict=True):
        for k, sig in enumerate(signals[arm][:6]):
            ax.plot(sig.reshape(-1) + 4 * k, lw=1)
        ax.set(title=f"MNIST-1D: {arm}", yticks=[])
    ctx.figure("samples", fig, "First seed: samples of the GAN, the VAE and real data")


def _text(ctx: LabContext, t2i: list[M.TextToImage]) -> None:
    fig = plt.figure(figsize=(15, 6.5))
    first = t2i[0]
    if first.samples is not None:
        for i, (img, prompt) in enumerate(zip(first.samples[:10], first.prompts[:10],
                                              strict=True)):
            ax = fig.add_subplot(3, 10, i + 1)
            ax.imshow(img.reshape(8, 8), cmap="gray_r")
            ax.set_title(prompt.replace("a ", "", 1).replace(" leaning", "\n"), fontsize=7)
            ax.set(xticks=[], yticks=[])
    groups = (("digit", "digit_acc", "digit_acc_real", None),
              ("thickness", "thick_match", "thick_real", "thick_shuffled"),
              ("slant", "slant_match", "slant_real", "slant_shuffled"))
    for j, (title, gen, real, shuf) in enumerate(groups):
        ax = fig.add_subplot(3, 3, 4 + j + 3 * (j // 3))
        arms = [("samples", gen), ("real" if title != "digit" else "real (ceiling)", real)]
        if shuf:
            arms.append(("shuffled prompt", shuf))
        for i, (_, attr) in enumerate(arms):
            vals = [getattr(t, attr) for t in t2i]
            ax.scatter([i] * len(vals), vals, alpha=0.7)
            ax.plot([i - 0.2, i + 0.2], [np.mean(vals)] * 2)
        ax.set(xticks=range(len(arms)), xticklabels=[a for a, _ in arms], ylim=(0, 1.02),
               title=f"{title} match rate ({first.backend} encoder)")
    ctx.figure("text_to_image", fig, "Prompted samples (first seed) and per-seed match rates")
