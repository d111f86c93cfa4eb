r"""Which GRU units carry the remembered symbol, and what their update gate does (gru lab).

The ``update-gate-holds-memory`` claim averages z over *all* units; a GRU needs only a few units
to hold the symbol while the others may do anything. Here we first find the units that carry
the memory, then look at their gate.

Memory score of unit u: how far apart its state at the last delay step lies for the different
symbols to recall, the between-symbol standard deviation

.. math::
    s_u = \Big(\tfrac1N \textstyle\sum_c n_c (\bar h_{u,c} - \bar h_u)^2\Big)^{1/2},

where ``c`` runs over the symbols, ``n_c`` counts the examples of symbol ``c``, and
:math:`\bar h_{u,c}` is the mean state of unit u at step T-2 over those examples. (With a
blank delay the state is a deterministic function of the symbol, so a variance *ratio* such
as eta^2 or a squared correlation is 1 for every unit and cannot rank them; the spread can.)
The ``k`` units with the largest :math:`s_u` are the *memory units*; the gap is the mean update
gate over the delay steps of the memory units minus that of the other units.
"""

from __future__ import annotations

import torch

from deepdojo.labs._core import LabContext

MEMORY_UNIT_FRACTION = 8  # k = max(1, H // 8) memory units


def memory_scores(h_last: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Between-symbol std per unit: h_last (N, H) states, y (N,) symbols -> (H,)."""
    mean = h_last.mean(0)  # (H,)
    between = torch.zeros_like(mean)
    for c in y.unique():
        hc = h_last[y == c]  # (n_c, H)
        between += hc.shape[0] * (hc.mean(0) - mean) ** 2
    return (between / h_last.shape[0]).sqrt()


def memory_unit_gap(gates: dict[str, torch.Tensor], y: torch.Tensor, T: int
                    ) -> dict[str, torch.Tensor | float]:
    """Memory units and their update gate during the delay.

    Parameters
    ----------
    gates : dict with ``"z"`` and ``"h"`` of shape (N, T, H) (one layer, one direction)
    y : (N,) the symbols to recall
    T : sequence length; the delay is steps 1 .. T-2

    Returns
    -------
    dict with ``scores`` (H,) memory scores, ``z_delay`` (H,) mean z over examples and delay steps,
    ``memory`` (H,) bool mask of the top-k units, ``gap`` (float) and ``z_memory`` (float).
    """
    H = gates["z"].shape[-1]
    scores = memory_scores(gates["h"][:, T - 2], y)  # (H,)
    z_delay = gates["z"][:, 1 : T - 1].mean(dim=(0, 1))  # (H,)
    k = max(1, H // MEMORY_UNIT_FRACTION)
    memory = torch.zeros(H, dtype=torch.bool)
    memory[scores.topk(k).indices] = True
    gap = (z_delay[memory].mean() - z_delay[~memory].mean()).item()
    return {"scores": scores, "z_delay": z_delay, "memory": memory, "gap": gap,
            "z_memory": z_delay[memory].mean().item()}


def plot_memory_units(ctx: LabContext, units: dict[int, dict], z_seed0: torch.Tensor, T: int
                      ) -> None:
    """Left: memory score vs delay-mean z per unit (all seeds); right: z over time, memory vs other.

    ``units`` maps seed -> :func:`memory_unit_gap` output; ``z_seed0`` (N, T, H) the first
    seed's update gate.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (seed, u) in enumerate(units.items()):
        mem = u["memory"]
        color = f"C{i}"
        ax1.scatter(u["scores"][~mem], u["z_delay"][~mem], s=14, color=color, alpha=0.35,
                    label=f"seed {seed}: other units")
        ax1.scatter(u["scores"][mem], u["z_delay"][mem], s=40, color=color, marker="*",
                    label=f"seed {seed}: memory units (gap {u['gap']:+.2f})")
    ax1.set(xlabel="memory score: spread of h_(T-2) across symbols",
            ylabel="mean z over the delay", title="Which units hold the symbol?", ylim=(0, 1.02))
    ax1.legend(fontsize=6)
    first = units[next(iter(units))]["memory"]
    z = z_seed0.mean(0)  # (T, H)
    ax2.plot(range(T), z[:, first].mean(-1).numpy(), color="tab:red", label="memory units")
    ax2.plot(range(T), z[:, ~first].mean(-1).numpy(), color="tab:grey", label="other units")
    ax2.axvspan(1, T - 2, color="grey", alpha=0.15, label="delay")
    ax2.set(xlabel="step t", ylabel="mean z", ylim=(0, 1.02),
            title=f"Update gate of memory units (seed {next(iter(units))})")
    ax2.legend(fontsize=7)
    ctx.figure("memory_units_gate", fig, caption=f"Memory units (top {first.sum().item()} by "
               f"between-symbol spread of the state) and their update gate, trained GRU, T={T}.")
