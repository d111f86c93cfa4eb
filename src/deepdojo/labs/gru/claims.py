"""The gru lab's claims: each rule declared once, with a reason drawn from this run's numbers."""

from __future__ import annotations

import math
import statistics

from deepdojo.labs.framework import Greater, LabContext

from .config import GRULabConfig
from .measure import GateStudy, RecallRun

ACC_MARGIN = 0.1  # accuracy the GRU must beat the vanilla RNN by at the longest T
MEMORY_Z_MARGIN = 0.05  # update-gate gap memory units must keep over the others
GRAD_FLOOR = 1e-30  # a vanished gradient is counted as 10^-30, not log(0)


def gate_claims(ctx: LabContext, studies: dict[int, GateStudy], T: int,
                cfg: GRULabConfig) -> None:
    """update-gate-holds-memory and memory-units-keep-z-high, at length ``T``."""
    seeds = list(studies)
    k = int(studies[seeds[0]].units.memory.sum())
    z_memory = statistics.fmean(s.units.z_memory for s in studies.values())
    z_other = statistics.fmean(s.units.z_other for s in studies.values())
    facts = {"T": T, "k": k, "gate_bias": cfg.gate_bias, "z_memory": z_memory,
             "z_other": z_other}
    if z_memory < statistics.fmean(s.z_init for s in studies.values()):
        lowered = "so training lowers z even on the units that keep the symbol"
    else:
        lowered = "so the units that do not carry the symbol pull the mean down"
    ctx.claim(
        "update-gate-holds-memory",
        "Training pushes the GRU's update gate z towards 1 during the delay (hold the "
        "state: h_t ~ h_{t-1}) beyond its initial value",
        Greater(margin=0.0),
        a=[studies[s].z_trained for s in seeds], b=[studies[s].z_init for s in seeds],
        metric=f"mean z over the delay steps and all units at T={T}, A = trained, "
               "B = initial",
        kind="finding",
        why={"does not hold": "averaged over all units, z during the delay is {a_mean:.2f} "
                              "after training against {b_mean:.2f} at initialisation (gate "
                              "bias {gate_bias:g}); the {k} memory units average "
                              "{z_memory:.2f} and the other units {z_other:.2f}, "
                              + lowered + "."},
        facts=facts,
    )
    ctx.claim(
        "memory-units-keep-z-high",
        f"The {k} units whose state at the end of the delay carries the symbol (top "
        f"H/{cfg.memory_unit_fraction} by the between-symbol std of h_(T-2)) keep their "
        f"update gate z higher during the delay than the other units (T={T})",
        Greater(margin=MEMORY_Z_MARGIN),
        a=[studies[s].units.z_memory for s in seeds],
        b=[studies[s].units.z_other for s in seeds],
        metric=f"mean z over the delay steps at T={T}, A = the {k} memory units, "
               "B = the other units",
        kind="finding",
        why={"does not hold": "during the delay the {k} memory units average z = {a_mean:.2f} "
                              "and the other units {b_mean:.2f} (gap {mean:.3f}): at T={T} "
                              "the units that carry the symbol do not keep a markedly higher "
                              "update gate than the rest."},
        facts=facts,
    )


def comparison_claims(ctx: LabContext, results: dict[tuple[str, int], list[RecallRun]],
                      T: int, cfg: GRULabConfig) -> None:
    """gru-beats-rnn-long and gru-gradient-reaches-first-step, at length ``T``."""
    gru, rnn = results[("gru", T)], results[("rnn", T)]
    chance = 1 / cfg.num_symbols
    gru_acc = statistics.fmean(r.acc for r in gru)
    rnn_acc = statistics.fmean(r.acc for r in rnn)
    if gru_acc < chance + ACC_MARGIN:
        reason = (f"the GRU itself stays near chance ({chance:.2f}) after {cfg.steps} steps, "
                  "so neither model has learned to recall at this length")
    else:
        reason = "the vanilla RNN also carries the symbol across the delay at this length"
    facts = {"T": T, "chance": chance, "steps": cfg.steps,
             "gru_acc": gru_acc, "rnn_acc": rnn_acc,
             "gru_init": statistics.fmean(r.grad_init for r in gru),
             "rnn_init": statistics.fmean(r.grad_init for r in rnn)}
    ctx.claim(
        "gru-beats-rnn-long",
        f"On delayed recall with T={T}, the GRU's test accuracy exceeds the vanilla RNN's",
        Greater(margin=ACC_MARGIN),
        a=[r.acc for r in gru], b=[r.acc for r in rnn],
        metric=f"test accuracy at T={T}, A = GRU, B = vanilla RNN",
        kind="finding",
        why={"does not hold": "at T={T} the GRU reaches {a_mean:.2f} test accuracy and the "
                              "vanilla RNN {b_mean:.2f} (chance {chance:.2f}): " + reason + "."},
        facts=facts,
    )
    ctx.claim(
        "gru-gradient-reaches-first-step",
        f"After training at T={T}, more gradient reaches the first step through the GRU "
        "than through the vanilla RNN",
        Greater(margin=0.0),
        a=[math.log10(max(r.grad_trained, GRAD_FLOOR)) for r in gru],
        b=[math.log10(max(r.grad_trained, GRAD_FLOOR)) for r in rnn],
        metric=f"log10 ||dL/dx_0|| after training at T={T} (mean over test examples), "
               "A = GRU, B = vanilla RNN",
        kind="finding",
        why={"does not hold": "after training, log10 ||dL/dx_0|| is {a_mean:.1f} through the "
                              "GRU and {b_mean:.1f} through the vanilla RNN (at initialisation "
                              "{gru_init:.2g} vs {rnn_init:.2g}; test accuracy {gru_acc:.2f} "
                              "vs {rnn_acc:.2f}): the trained RNN passes at least as much "
                              "gradient back to the first step."},
        facts=facts,
    )
