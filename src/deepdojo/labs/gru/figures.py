"""The gru lab's figures: length sweep, gates over time, memory units and their gate."""

from __future__ import annotations

import statistics

import torch

from deepdojo.labs.framework import LabContext, plt

from .measure import MODELS, GateTrace, MemoryUnits, RecallRun

F32_BOUND = 2.0**-149  # the smallest positive float32: where an exact-0 gradient is drawn


def plot_comparison(ctx: LabContext, results: dict[tuple[str, int], list[RecallRun]],
                    lengths: tuple[int, ...], num_symbols: int) -> None:
    """Accuracy (left) and first-step gradient at init and trained (right) vs length."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, color in zip(MODELS, ("tab:blue", "tab:orange", "tab:green"), strict=True):
        acc = [statistics.fmean(r.acc for r in results[(kind, T)]) for T in lengths]
        ax1.plot(lengths, acc, marker="o", color=color, label=kind.upper())
        for key, style in (("grad_trained", "-"), ("grad_init", ":")):
            g = [statistics.fmean(getattr(r, key) for r in results[(kind, T)]) for T in lengths]
            ax2.semilogy(lengths, [max(v, F32_BOUND) for v in g], style, marker="o", color=color,
                         label=f"{kind.upper()} ({'trained' if key == 'grad_trained' else 'init'})")
    ax1.axhline(1 / num_symbols, color="grey", lw=0.8, ls="--", label="chance")
    ax1.set(xlabel="sequence length T", ylabel="test accuracy", title="Delayed recall accuracy")
    ax2.set(xlabel="sequence length T", ylabel="||dL/dx_0|| (mean)",
            title="Gradient reaching the first step")
    ax1.legend()
    ax2.legend(fontsize=7)
    ax2.axhline(F32_BOUND, color="grey", lw=0.8, ls=":")
    ctx.figure("length_sweep", fig, caption="Accuracy and first-step gradient vs length "
               "(mean over seeds). A mean gradient of exactly 0 in float32 (below float32 "
               "resolution) is drawn on the dotted line at 2^-149, an upper bound.")


def plot_gates(ctx: LabContext, g0: GateTrace, g1: GateTrace, T: int) -> None:
    """Trained z, r, h_tilde, h of one example, and the mean z over time at init and trained."""
    fig, axes = plt.subplots(1, 5, figsize=(21, 3.8), layout="constrained")
    for ax, key in zip(axes[:4], ("z", "r", "h_tilde", "h"), strict=True):
        gate = key in ("z", "r")  # gates live in [0, 1]; states in [-1, 1]: fixed scales
        im = ax.imshow(getattr(g1, key)[0].T.numpy(), aspect="auto",
                       cmap="viridis" if gate else "coolwarm", vmin=0 if gate else -1, vmax=1,
                       interpolation="nearest")
        ax.set(title=f"{key} (trained, one example)", xlabel="step t", ylabel="hidden unit")
        fig.colorbar(im, ax=ax)
    for g, label in ((g0, "init"), (g1, "trained")):
        axes[4].plot(range(T), g.z.mean(dim=(0, 2)).numpy(), label=f"mean z ({label})")
    axes[4].axvspan(1, T - 2, color="grey", alpha=0.15, label="delay")
    axes[4].set(title="Update gate over time", xlabel="step t", ylabel="z", ylim=(0, 1.02))
    axes[4].legend(fontsize=7)
    ctx.figure("gates_over_time", fig, caption=f"GRU gates on delayed recall, T={T}.")


def plot_memory_units(ctx: LabContext, units: dict[int, MemoryUnits], z_seed0: torch.Tensor,
                      T: int) -> None:
    """Left: memory score vs delay-mean z per unit (all seeds); right: z over time, memory vs
    other units (first seed, whose update gate ``z_seed0`` is (N, T, H))."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (seed, u) in enumerate(units.items()):
        mem = u.memory
        color = f"C{i}"
        ax1.scatter(u.scores[~mem], u.z_delay[~mem], s=14, color=color, alpha=0.35,
                    label=f"seed {seed}: other units")
        ax1.scatter(u.scores[mem], u.z_delay[mem], s=40, color=color, marker="*",
                    label=f"seed {seed}: memory units (gap {u.gap:+.2f})")
    ax1.set(xlabel="memory score: spread of h_(T-2) across symbols",
            ylabel="mean z over the delay", title="Which units hold the symbol?", ylim=(0, 1.02))
    ax1.legend(fontsize=6)
    first_seed = next(iter(units))
    first = units[first_seed].memory
    z = z_seed0.mean(0)  # (T, H)
    ax2.plot(range(T), z[:, first].mean(-1).numpy(), color="tab:red", label="memory units")
    ax2.plot(range(T), z[:, ~first].mean(-1).numpy(), color="tab:grey", label="other units")
    ax2.axvspan(1, T - 2, color="grey", alpha=0.15, label="delay")
    ax2.set(xlabel="step t", ylabel="mean z", ylim=(0, 1.02),
            title=f"Update gate of memory units (seed {first_seed})")
    ax2.legend(fontsize=7)
    ctx.figure("memory_units_gate", fig, caption=f"Memory units (top {first.sum().item()} by "
               f"between-symbol spread of the state) and their update gate, trained GRU, T={T}.")
