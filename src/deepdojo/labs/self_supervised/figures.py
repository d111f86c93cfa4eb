"""Figures of the ``self-supervised`` lab: accuracy vs label fraction, and the embeddings."""

from __future__ import annotations

import statistics

import numpy as np

from deepdojo.labs.framework import LabContext, plt

from .claims import _interval, _probe, _sup
from .measure import SeedRun


def figures(ctx: LabContext, cfg, runs: dict[str, list[SeedRun]]) -> None:
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for ax, (ds, rs) in zip(axes[0], runs.items(), strict=True):
        fracs = sorted(rs[0].arms["random"].probe)  # the dataset's label fractions
        curves = {f"{a} (probe)": [_probe(rs, a, f) for f in fracs]
                  for a in rs[0].arms if a != "random_b"}
        if rs[0].supervised:
            curves["supervised from scratch"] = [_sup(rs, f) for f in fracs]
        for i, (name, per_frac) in enumerate(curves.items()):
            means = [statistics.fmean(v) for v in per_frac]
            ci = np.array([_interval(v) for v in per_frac])  # (fractions, 2)
            x = np.array(fracs) * (1 + 0.04 * (i - len(curves) / 2))  # dodge on the log axis
            ax.errorbar(x, means, yerr=[np.subtract(means, ci[:, 0]), ci[:, 1] - means],
                        marker="o", capsize=3, color=f"C{i}", label=name)
            for xi, vals in zip(x, per_frac, strict=True):
                ax.scatter([xi] * len(vals), vals, s=6, color=f"C{i}", alpha=0.4)
        ax.set(xscale="log", xlabel="share of labels used", ylabel="test accuracy",
               title=f"{ds}: frozen features vs training from scratch")
        ax.legend(fontsize=7)
    ctx.figure("accuracy_vs_labels", fig, caption="Linear-probe accuracy of each frozen encoder "
               "and the supervised network's accuracy against the share of labels; bars: 95% "
               "t-intervals over seeds, dots: seeds.")
    first = runs["mnist1d"][0]
    if first.embedding is None:
        return
    fig, ax = plt.subplots(figsize=(5, 4.5))
    points = ax.scatter(first.embedding[:, 0], first.embedding[:, 1], s=5,
                        c=first.embedding_labels, cmap="tab10")
    fig.colorbar(points, ax=ax, label="class (never seen in pretraining)")
    ax.set(xlabel="PC 1", ylabel="PC 2", title="SimCLR embeddings of MNIST-1D test signals")
    ctx.figure("embedding_pca", fig, caption="The first two principal components of the SimCLR "
               "representation (first seed); colours are the labels, which pretraining never "
               "saw.")
