"""Lab: what a GRU is and what its gates do (Q19, Q20).

Setup. Delayed recall: step 0 shows one of ``num_symbols`` symbols, then ``T - 2`` blank steps,
then a query; the model must output the first symbol (chance = 1 / num_symbols). This needs
memory across the whole sequence. We train a vanilla RNN, an LSTM and deepdojo's GRU (same
hidden size, optimiser and budget) for growing T, and measure

- test accuracy,
- the gradient norm reaching the first step, ``||dL/dx_0||`` (averaged over the test set),
- the GRU's gates ``z``, ``r``, ``h_tilde`` and state ``h`` over time (explicit path,
  ``record_gates=True``, same weights as the fused path used for training).

Gate biases start at ``gate_bias`` (update gate z for the GRU, forget gate for the LSTM), the
usual "remember by default" initialisation (Jozefowicz et al., 2015); the vanilla RNN has no gate.

Files: ``config`` (sizes), ``measure`` (training and measurements), ``claims``, ``figures``.
"""

from __future__ import annotations

import statistics

from deepdojo.labs.framework import LabContext, LabError, register_lab

from .claims import comparison_claims, gate_claims
from .config import GRULabConfig
from .figures import plot_comparison, plot_gates, plot_memory_units
from .measure import (
    GATE_SEED,
    MEMORY_SEED,
    MODELS,
    GateStudy,
    RecallNet,
    RecallRun,
    initial_gru,
    memory_units,
    record_gates,
    train_recall,
)

__all__ = ["GRULabConfig", "run"]


@register_lab("gru", questions=("Q19", "Q20"), config=GRULabConfig)
def run(cfg: GRULabConfig, ctx: LabContext) -> None:
    """GRU gates over time and GRU vs vanilla RNN vs LSTM on delayed recall as length grows."""
    if max(1, cfg.hidden_size // cfg.memory_unit_fraction) >= cfg.hidden_size:
        raise LabError(f"hidden_size={cfg.hidden_size} with memory_unit_fraction="
                       f"{cfg.memory_unit_fraction} leaves no unit outside the memory units")
    lengths, T = cfg.lengths, cfg.lengths[-1]
    results: dict[tuple[str, int], list[RecallRun]] = {}
    trained: dict[int, RecallNet] = {}  # seed -> GRU trained at the longest length
    for length in ctx.progress(lengths, "lengths"):
        for seed in ctx.seeds:
            for kind in MODELS:
                model, r = train_recall(kind, length, seed, cfg)
                results.setdefault((kind, length), []).append(r)
                if kind == "gru" and length == T:
                    trained[seed] = model
    ctx.table("accuracy_and_gradients", [
        {"model": k, "T": length, **{m: statistics.fmean(getattr(r, m) for r in rs)
                                     for m in ("acc", "grad_init", "grad_trained")}}
        for (k, length), rs in results.items()])
    plot_comparison(ctx, results, lengths, cfg.num_symbols)
    gate_claims(ctx, _study_gates(ctx, trained, T, cfg), T, cfg)
    comparison_claims(ctx, results, T, cfg)


def _study_gates(ctx: LabContext, trained: dict[int, RecallNet], T: int, cfg: GRULabConfig
                 ) -> dict[int, GateStudy]:
    """Gates before and after training, and the memory units, of each seed's GRU at ``T``."""
    studies: dict[int, GateStudy] = {}
    for seed, model in trained.items():
        g0 = record_gates(initial_gru(seed, cfg), T, cfg, cfg.gate_examples, GATE_SEED)
        g1 = record_gates(model, T, cfg, cfg.gate_examples, GATE_SEED)
        unit_z = g1.z[:, 1 : T - 1].mean(dim=(0, 1))  # (H,) mean z per unit during the delay
        ctx.metric(f"units_with_z_above_0.9.seed{seed}", (unit_z > 0.9).float().mean())
        ctx.metric(f"units_with_z_below_0.1.seed{seed}", (unit_z < 0.1).float().mean())
        if seed == ctx.seeds[0]:
            plot_gates(ctx, g0, g1, T)
        gm = record_gates(model, T, cfg, cfg.memory_examples, MEMORY_SEED)
        units = memory_units(gm.z, gm.h, gm.y, T, fraction=cfg.memory_unit_fraction)
        ctx.metric(f"memory_units_mean_z.seed{seed}", units.z_memory)
        if seed == ctx.seeds[0]:
            z_first = gm.z
        studies[seed] = GateStudy(z_init=g0.delay_z(), z_trained=g1.delay_z(), units=units)
    plot_memory_units(ctx, {s: st.units for s, st in studies.items()}, z_first, T)
    return studies
