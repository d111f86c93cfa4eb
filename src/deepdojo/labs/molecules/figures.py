"""The ``molecules`` lab's figures: interpolation, QED, sampler scores, training curves."""

from __future__ import annotations

import numpy as np

from deepdojo.labs.framework import LabContext, plt

from . import measure as M

ARMS = (("latent_gan", "latent GAN", "tab:red"), ("gaussian_fit", "Gaussian fit", "tab:green"),
        ("prior", "N(0, I) (naive)", "tab:grey"))


def plot_all(ctx: LabContext, per_seed: list[M.SeedResult]) -> None:
    _interpolation(ctx, per_seed[0])
    _qed(ctx, per_seed[0])
    _scores(ctx, per_seed)
    _curves(ctx, per_seed)


def _interpolation(ctx: LabContext, r: M.SeedResult) -> None:
    from rdkit import Chem
    from rdkit.Chem import Draw

    a, b = r.interp_ends
    mols = [Chem.MolFromSmiles(a),
            *(Chem.MolFromSmiles(s) if ok else Chem.Mol() for _, s, ok in r.interpolation),
            Chem.MolFromSmiles(b)]
    legends = ["input A", *(f"t={t:.2f}" + ("" if ok else " (invalid)")
                            for t, _, ok in r.interpolation), "input B"]
    image = Draw.MolsToGridImage(mols, molsPerRow=len(mols), subImgSize=(180, 180),
                                 legends=legends)
    fig, ax = plt.subplots(figsize=(2.2 * len(mols), 2.6))
    ax.imshow(np.asarray(image))
    ax.axis("off")
    ctx.figure("interpolation", fig, "Two test molecules (ends) and the greedy decodings "
                                     "along the line between their codes (first seed); invalid "
                                     "strings drawn empty")


def _qed(ctx: LabContext, r: M.SeedResult) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = [i / 20 for i in range(21)]
    ax.hist(r.train_qed, bins=bins, density=True, color="black", alpha=0.25, label="training set")
    for arm, label, color in ARMS:
        q = getattr(r, arm).qed
        if len(q):
            ax.hist(q, bins=bins, density=True, histtype="step", color=color, lw=1.5, label=label)
    ax.set(xlabel="QED", ylabel="density")
    ax.legend(fontsize=7)
    ctx.figure("qed", fig, "QED of the distinct valid samples of each sampler vs the training "
                           "molecules (first seed)")


def _scores(ctx: LabContext, per_seed: list[M.SeedResult]) -> None:
    measures = ("validity", "uniqueness", "novelty", "qed_w1")
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.4))
    for ax, m in zip(axes[:4], measures, strict=True):
        for i, (arm, _, color) in enumerate(ARMS):
            vals = [getattr(getattr(r, arm), m) for r in per_seed]
            ax.scatter([i] * len(vals), vals, color=color, alpha=0.7)
            ax.plot([i - 0.2, i + 0.2], [np.mean(vals)] * 2, color=color)
        if m == "qed_w1":
            ax.axhline(np.mean([r.real_qed_w1 for r in per_seed]), color="black", ls=":",
                       label="test molecules (floor)")
            ax.legend(fontsize=7)
        ax.set(xticks=[0, 1, 2], xticklabels=["GAN", "Gauss fit", "N(0,I)"], title=m)
    ex = [r.exact_test for r in per_seed]
    axes[4].scatter(range(len(ex)), ex, color="tab:blue")
    axes[4].set(title="autoencoder: exact test reconstructions", xlabel="seed", ylim=(0, 1))
    ctx.figure("samplers", fig, "Per-seed validity, uniqueness, novelty and QED distance of each "
                                "latent sampler; the autoencoder's exactness")


def _curves(ctx: LabContext, per_seed: list[M.SeedResult]) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    for i, r in enumerate(per_seed):
        first = i == 0
        a.plot(r.ae.train_loss, color="tab:blue", alpha=0.6, label="train" if first else None)
        a.plot(r.ae.val_loss, color="tab:orange", alpha=0.6, label="validation" if first else None)
        b.plot(r.gan.loss_d, color="tab:red", alpha=0.6, label="discriminator" if first else None)
        b.plot(r.gan.loss_g, color="tab:blue", alpha=0.6, label="generator" if first else None)
    b.axhline(2 * np.log(2), color="grey", lw=0.8, ls=":", label="D at chance (2 ln 2)")
    a.set(title="SMILES autoencoder", xlabel="epoch", ylabel="cross-entropy per token")
    b.set(title="latent GAN", xlabel="epoch", ylabel="training loss (mean per epoch)")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    ctx.figure("training_curves", fig, "The autoencoder's and both GAN networks' losses per "
                                       "epoch, every seed")
