"""The ``autoencoders`` lab's figures: one per section, per-seed values shown."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepdojo.labs.framework import LabContext, plt


def plot_all(ctx: LabContext, cfg: Any, sheets: dict, dimred: list, probes: list, den: dict,
             gens: list) -> None:
    _dimred(ctx, cfg, sheets, dimred)
    _probe(ctx, cfg, probes)
    _denoise(ctx, den)
    _generation(ctx, gens)


def _dimred(ctx: LabContext, cfg: Any, sheets: dict, dimred: list) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    codes = dimred[0].codes
    if codes:
        for ax, key, title in ((axes[0], "ae", "AE 2-D codes"), (axes[1], "pca", "PCA 2-D")):
            sc = ax.scatter(codes[key][:, 0], codes[key][:, 1], c=codes["y"], cmap="tab10", s=6)
            ax.set(title=f"{title} (test digits)", xticks=[], yticks=[])
        fig.colorbar(sc, ax=axes[1], ticks=range(10), fraction=0.05)
    ax = axes[2]
    for i, kind in enumerate(("nonlinear", "linear")):
        rel = [1 - a / p for a, p in sheets[kind]]
        ax.scatter([i] * len(rel), rel, color="tab:blue", alpha=0.7)
        ax.plot([i - 0.2, i + 0.2], [np.mean(rel)] * 2, color="tab:blue")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xticks=[0, 1], xticklabels=["curved sheet", "flat plane (control)"],
           ylabel="1 - AE MSE / PCA MSE", title="AE gain over PCA at d = 2")
    ax = axes[3]
    dims = list(cfg.dims)
    for key, color in (("ae_mse", "tab:blue"), ("pca_mse", "tab:orange")):
        per = np.array([[getattr(r, key)[d] for d in dims] for r in dimred])
        for row in per:
            ax.plot(dims, row, color=color, alpha=0.25)
        ax.plot(dims, per.mean(0), color=color, marker="o", label=key.split("_")[0].upper())
    ax.set(xscale="log", xticks=dims, xticklabels=dims, xlabel="code size d",
           ylabel="test MSE per pixel", title="Digits: reconstruction vs d")
    ax.legend()
    ctx.figure("dimred", fig, caption="Left: 2-D codes of the test digits (first seed). Middle: "
               "AE gain over PCA per seed on a curved sheet and on a flat plane. Right: digits "
               "test MSE vs code size (thin lines: seeds).")


def _probe(ctx: LabContext, cfg: Any, probes: list) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = ("raw", "pca", "ae")
    for j, frac in enumerate(cfg.label_fractions):
        for i, name in enumerate(names):
            acc = [p.acc[name][frac] for p in probes]
            x = j * (len(names) + 1) + i
            ax.bar(x, np.mean(acc), color=f"C{i}", alpha=0.6, label=name if j == 0 else None)
            ax.scatter([x] * len(acc), acc, color="k", s=8)
    ax.set(xticks=[j * (len(names) + 1) + 1 for j in range(len(cfg.label_fractions))],
           xticklabels=[f"{f:.0%} labels" for f in cfg.label_fractions],
           ylabel="probe test accuracy", title="Linear probe: AE codes vs raw pixels vs PCA")
    ax.legend()
    ctx.figure("features", fig, caption="Bars: mean over seeds; dots: seeds.")


def _denoise(ctx: LabContext, den: dict) -> None:
    rows = ("noisy", "dae", "blur", "median", "clean")
    fig, axes = plt.subplots(len(rows), 12, figsize=(12, 5.4))
    for half, (source, runs) in enumerate(den.items()):
        ex = runs[0].examples
        if not ex:
            continue
        for r, name in enumerate(rows):
            for c in range(6):
                ax = axes[r, half * 6 + c]
                if c < len(ex[name]):
                    ax.imshow(ex[name][c], cmap="gray", vmin=0, vmax=1)
                ax.set(xticks=[], yticks=[])
                if c == 0 and half == 0:
                    ax.set_ylabel(name, fontsize=8)
        dae_db = np.mean([x.psnr["dae"] for x in runs])
        blur_db = np.mean([x.psnr["blur"] for x in runs])
        axes[0, half * 6].set_title(f"{source}: PSNR DAE {dae_db:.1f} / blur {blur_db:.1f} dB",
                                    fontsize=8, loc="left")
    ctx.figure("denoising", fig, caption="Rows: noisy input, DAE output, Gaussian blur, median "
               "filter, clean image (test images of the first seed; digits left, photo patches "
               "right).")


def _generation(ctx: LabContext, gens: list) -> None:
    fig = plt.figure(figsize=(10, 4))
    grid = fig.add_gridspec(8, 16)
    for k, img in enumerate(gens[0].samples[:64]):
        ax = fig.add_subplot(grid[k // 8, k % 8])
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
    ax = fig.add_subplot(grid[1:7, 10:16])
    for i, key in enumerate(("conf_real", "conf_vae", "conf_gauss")):
        vals = [getattr(g, key) for g in gens]
        ax.scatter([i] * len(vals), vals, color=f"C{i}")
        ax.plot([i - 0.2, i + 0.2], [np.mean(vals)] * 2, color=f"C{i}")
    ax.set(xticks=[0, 1, 2], xticklabels=["real", "VAE", "Gaussian"], ylim=(0, 1.02),
           ylabel="classifier confidence", title="Do samples look like digits?")
    ctx.figure("generation", fig, caption="Left: 64 VAE samples (first seed). Right: a pixel "
               "classifier's mean top-class probability per seed.")
