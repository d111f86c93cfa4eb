"""The gru lab's claims: each rule declared once, with a reason drawn from this run's numbers."""

from __future__ import annotations

import math
import statistics

from deepdojo.labs.framework import Greater, LabContext

from .config import GRULabConfig
from .measure import GateStudy, RecallRun, Tuning

ACC_MARGIN = 0.1  # accuracy the GRU must beat the vanilla RNN by at the longest T
MEMORY_Z_MARGIN = 0.05  # update-gate gap memory units must keep over the others (the A/A
# control, a random choice of k units, is recorded beside it: memory_units_aa_gap_sd.seed*)
GRAD_FLOOR = 1e-30  # a vanished gradient is counted as 10^-30, not log(0)


def gate_claims(ctx: LabContext, studies: dict[int, GateStudy], T: int,
                cfg: GRULabConfig) -> None:
    """update-gate-holds-memory and memory-units-keep-z-high, at length ``T``."""
    seeds = list(studies)
    k = int(studies[seeds[0]].units.memory.sum())
    mean = lambda f: statistics.fmean(f(s) for s in studies.values())  # noqa: E731
    facts = {"T": T, "k": k, "z_memory": mean(lambda s: s.units.z_memory),
             "z_other": mean(lambda s: s.units.z_other), "z_all": mean(lambda s: s.z_trained),
             "z_all_init": mean(lambda s: s.z_init), "retention": mean(lambda s: s.retention),
             "cand_gap": mean(lambda s: s.candidate_gap), "aa_sd": mean(lambda s: s.aa_gap_sd)}
    ctx.claim(
        "update-gate-holds-memory",
        f"Training pushes the update gate z of the {k} units that carry the symbol towards 1 "
        "during the delay (hold the state: h_t ~ h_(t-1)), above the same units' z before "
        f"training (T={T})",
        Greater(margin=0.0),
        a=[studies[s].units.z_memory for s in seeds],
        b=[studies[s].z_memory_init for s in seeds],
        metric=f"mean z over the delay steps of the {k} memory units at T={T}, "
               "A = trained, B = the same units at initialisation",
        kind="finding",
        why={"does not hold": "the memory units' z during the delay falls from {b_mean:.2f} "
                              "at initialisation to {a_mean:.2f} after training, so the gate "
                              "path alone keeps only {retention:.1e} of their state across "
                              "the delay (mean product of z); the symbol is held instead by "
                              "the candidate re-proposing the old state (mean |h_tilde_t - "
                              "h_(t-1)| = {cand_gap:.3f} on those units).",
             "holds": "the memory units' z during the delay rises from {b_mean:.2f} to "
                      "{a_mean:.2f} (all units: {z_all_init:.2f} -> {z_all:.2f}); the gate "
                      "path alone keeps {retention:.1e} of their state across the delay."},
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
                              "and the other units {b_mean:.2f} (gap {mean:.3f}; a random "
                              "choice of {k} units shows a gap of sd {aa_sd:.3f}): at T={T} "
                              "the units that carry the symbol do not keep a markedly higher "
                              "update gate than the rest.",
             "holds": "the memory units average z = {a_mean:.2f} against {b_mean:.2f} for "
                      "the rest (a random choice of {k} units shows a gap of sd {aa_sd:.3f})."},
        facts=facts,
    )


def lstm_claim(ctx: LabContext, results: dict[tuple[str, int], list[RecallRun]], T: int,
               cfg: GRULabConfig, tuning: Tuning) -> None:
    """lstm-matches-gru-long: the tuned LSTM recalls as well as the GRU at length ``T``."""
    lstm, gru = results[("lstm", T)], results[("gru", T)]
    by_bias = {b: max(statistics.fmean(r.val_acc for r in rs) for st, rs in tuning.tried
                      if st.gate_bias == b) for b in cfg.gate_biases}
    lo_b = min(cfg.gate_biases)
    ctx.claim(
        "lstm-matches-gru-long",
        f"With its learning rate and forget-gate bias tuned, the LSTM recalls across T={T} "
        "about as well as the GRU (it trails by at most 0.1 test accuracy)",
        Greater(margin=-ACC_MARGIN),
        a=[r.acc for r in lstm], b=[r.acc for r in gru],
        metric=f"test accuracy at T={T}, A = LSTM, B = GRU",
        kind="finding",
        why={"does not hold": "the LSTM reaches {a_mean:.2f} and the GRU {b_mean:.2f} at "
                              "T={T}; with forget bias {lo_b:g} its forget gate starts at "
                              "{f_lo:.2f} (memory time constant ~{tau:.0f} steps against a "
                              "delay of {delay} steps), and the best validation accuracy per "
                              "bias was {by_bias}.",
             "holds": "tuned (lr {lr:g}, forget bias {bias:g}: forget gate {f_chosen:.2f} at "
                      "init), the LSTM reaches {a_mean:.2f} against the GRU's {b_mean:.2f}; "
                      "best validation accuracy per forget bias: {by_bias}.",
             "inconclusive": "Most seeds of the tuned LSTM recall perfectly, but a seed that "
                             "stays on the chance plateau (LSTM accuracy {lstm_min:.2f} to "
                             "{lstm_max:.2f}) widens the interval; full scale decides it."},
        facts={"T": T, "lo_b": lo_b, "f_lo": _sigmoid(lo_b), "tau": 1 / (1 - _sigmoid(lo_b)),
               "delay": T - 2, "lr": tuning.chosen.lr, "lstm_min": min(r.acc for r in lstm),
               "lstm_max": max(r.acc for r in lstm), "bias": tuning.chosen.gate_bias,
               "f_chosen": _sigmoid(tuning.chosen.gate_bias),
               "by_bias": ", ".join(f"{b:g}: {a:.2f}" for b, a in by_bias.items())},
    )


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


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
             "rnn_init": statistics.fmean(r.grad_init for r in rnn),
             "rnn_min": min(r.acc for r in rnn), "rnn_max": max(r.acc for r in rnn)}
    ctx.claim(
        "gru-beats-rnn-long",
        f"On delayed recall with T={T}, the GRU's test accuracy exceeds the vanilla RNN's",
        Greater(margin=ACC_MARGIN),
        a=[r.acc for r in gru], b=[r.acc for r in rnn],
        metric=f"test accuracy at T={T}, A = GRU, B = vanilla RNN",
        kind="finding",
        why={"does not hold": "at T={T} the GRU reaches {a_mean:.2f} test accuracy and the "
                              "vanilla RNN {b_mean:.2f} (chance {chance:.2f}): " + reason + ".",
             "inconclusive": "The tuned vanilla RNN carries the symbol across T={T} on some "
                             "seeds and not on others (accuracy {rnn_min:.2f} to {rnn_max:.2f}); "
                             "full scale (10 seeds, T up to 250) decides it."},
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
                              "gradient back to the first step.",
             "inconclusive": "An RNN that learns the task ends with large, exploding "
                             "gradients and one that does not with vanished ones, so the gap "
                             "swings with the seed (RNN accuracy {rnn_min:.2f} to "
                             "{rnn_max:.2f}); full scale decides it."},
        facts=facts,
    )
