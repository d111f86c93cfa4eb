"""The weight-initialization lab's figures (seed 0 for the probe, all seeds for training)."""

from __future__ import annotations

import math
from typing import Any

import torch

from deepdojo.labs.framework import plt

from .measure import PROBE_ACTIVATIONS, DefaultProbes, Probes, TrainResult


def by_depth_figure(probes: Probes, labels: dict[str, str], field: str, ylabel: str,
                    title: str, nets: tuple[str, ...] = PROBE_ACTIVATIONS) -> Any:  # fmt: skip
    """One panel per net: ``field`` of seed 0 by layer, one line per scheme (log scale except
    for the saturated fraction; zeros and non-finite values are left out of log plots)."""
    log = field != "saturated"
    fig, axes = plt.subplots(1, len(nets), figsize=(5.5 * len(nets), 4), squeeze=False)
    for ax, act in zip(axes[0], nets, strict=True):
        for (a, key), per_seed in probes.items():
            if a == act:
                values = [v if math.isfinite(v) and (v > 0 or not log) else math.nan
                          for v in getattr(per_seed[0], field)]  # fmt: skip
                ax.plot(range(1, len(values) + 1), values, marker=".", label=labels[key])
        if log:
            ax.set_yscale("log")
        ax.set(xlabel="layer", ylabel=ylabel, title=f"{act} MLP: {title}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def curves_figure(training: dict[str, list[TrainResult]], labels: dict[str, str], target: float
                  ) -> Any:  # fmt: skip
    """Training loss and validation accuracy per epoch: mean and min-max band over seeds."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (key, per_seed) in enumerate(training.items()):
        epochs = range(1, len(per_seed[0].train_loss) + 1)
        diverged = not all(math.isfinite(v) for r in per_seed for v in r.train_loss)
        label = labels[key] + (" (diverged: NaN)" if diverged else "")
        for field, ax in (("train_loss", ax_loss), ("val_acc", ax_acc)):
            curves = [getattr(r, field) for r in per_seed]
            runs = torch.tensor(curves, dtype=torch.float64)  # (S, E)
            (line,) = ax.plot(epochs, runs.mean(0), ls=("-", "--", ":")[i % 3], label=label)
            ax.fill_between(epochs, runs.min(0).values, runs.max(0).values,
                            color=line.get_color(), alpha=0.2)  # fmt: skip
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log",
                title="digits: training loss (mean, min-max over seeds)")  # fmt: skip
    ax_acc.axhline(target, color="k", ls="--", lw=1, label=f"target {target:.0%}")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy", title="digits: validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def symmetry_figure(training: dict[str, list[TrainResult]], labels: dict[str, str]) -> Any:
    """First-layer weights after training: zero init (sigmoid net) next to He (ReLU net)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, key in zip(axes, ("zeros_sigmoid", "he"), strict=True):
        weight = training[key][0].first_weight.numpy()  # (units, pixels)
        image = ax.imshow(weight, aspect="auto", cmap="RdBu")
        ax.set(xlabel="input pixel", ylabel="hidden unit",
               title=f"first-layer weights after training: {labels[key]}")  # fmt: skip
        fig.colorbar(image, ax=ax, format="%.1e")
    return fig


def default_init_figure(default: DefaultProbes, width: int) -> Any:
    """Q08: post-ReLU variance by layer under torch's default init, every seed, without and
    with biases, against the derived 1/6 per layer (anchored at layer 1) and the bias floor."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for bias, color in ((False, "tab:blue"), (True, "tab:orange")):
        for i, p in enumerate(default[bias]):
            ax.plot(range(1, len(p.var) + 1), p.var, color=color, alpha=0.6, lw=1,
                    label=("with default bias" if bias else "no bias") if i == 0 else None)
    first = default[False][0].var
    layers = range(1, len(first) + 1)
    ax.plot(layers, [first[0] / 6 ** (k - 1) for k in layers], "k--", lw=1,
            label="derived: x 1/6 per layer")  # fmt: skip
    ax.axhline(2 / (5 * width), color="gray", ls=":", lw=1,
               label=f"pre-activation floor 2/(5 fan_in) = {2 / (5 * width):.2g}")  # fmt: skip
    ax.set(yscale="log", xlabel="hidden layer", ylabel="activation variance (log)",
           title="ReLU MLP under torch's default init (one line per seed)")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def tanh_passes_figure(probes: Probes, labels: dict[str, str]) -> Any:
    """Q09: forward std and weight-gradient norm by layer, tanh at gain 1 and at the tanh gain,
    one line per seed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key, color in (("xavier", "tab:blue"), ("xavier_tanh_gain", "tab:red")):
        for i, p in enumerate(probes["tanh", key]):
            for ax, values in zip(axes, (p.std, p.grad), strict=True):
                ax.plot(range(1, len(values) + 1), values, color=color, alpha=0.6, lw=1,
                        label=labels[key] if i == 0 else None)  # fmt: skip
    axes[0].set(ylabel="activation std", title="forward pass: activation std by layer")
    axes[1].set(yscale="log", ylabel="‖∂L/∂W_l‖ (log)",
                title="backward pass: weight-gradient norm by layer")  # fmt: skip
    for ax in axes:
        ax.set_xlabel("hidden layer (input side first)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
