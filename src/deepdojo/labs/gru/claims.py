"""The gru lab's claims: each rule declared once, with a reason drawn from this run's numbers."""

from __future__ import annotations

import math
import statistics

from deepdojo.labs.framework import AtLeast, Given, Greater, LabContext

from .config import GRULabConfig
from .measure import GateStudy, RecallRun, Tuning

ACC_MARGIN = 0.1  # accuracy the GRU must beat the vanilla RNN by at the longest T
# version 4: the memory units' z gap over the other units, in A/A standard deviations (the sd
# of the gap of a random choice of k units, per seed); was 0.05 in z units, inside that floor
MEMORY_Z_SDS = 2.0
GATE_MARGIN = 0.0  # version 4: delay z after recall training minus after control training
# (a direction claim: the 95% interval over seeds must lie above 0)
RECALLS = 0.9  # the gate claims are judged only if the trained GRU's mean test accuracy >= this
# A first-step gradient that is exactly 0 in float32 lies below the smallest positive float32
# (2^-149 ~ 1.4e-45); it is counted at that bound, an upper bound on its true size (version 4;
# was a 1e-30 stand-in)
GRAD_FLOOR = 2.0**-149


def gate_claims(ctx: LabContext, studies: dict[int, GateStudy], T: int,
                cfg: GRULabConfig) -> None:
    """update-gate-holds-memory (recall vs a no-memory control task from the same init) and
    memory-units-keep-z-high (the gap in A/A standard deviations), at length ``T``; judged
    only if both GRUs learn their task."""
    seeds = list(studies)
    k = int(studies[seeds[0]].units.memory.sum())
    mean = lambda f: statistics.fmean(f(s) for s in studies.values())  # noqa: E731
    z_sds = [st.units.gap / st.aa_gap_sd if st.aa_gap_sd > 0 else 0.0
             for st in studies.values()]
    z_rec = [studies[s].z_trained for s in seeds]
    z_ctl = [studies[s].z_control for s in seeds]
    acc = mean(lambda s: s.acc)
    acc_ctl = mean(lambda s: s.acc_control)
    abl = [st.ablation for st in studies.values() if st.ablation is not None]
    facts = {"T": T, "k": k, "z_memory": mean(lambda s: s.units.z_memory),
             "z_other": mean(lambda s: s.units.z_other), "z_all": mean(lambda s: s.z_trained),
             "z_all_init": mean(lambda s: s.z_init), "retention": mean(lambda s: s.retention),
             "z_memory_init": mean(lambda s: s.z_memory_init),
             "cand_gap": mean(lambda s: s.candidate_gap), "aa_sd": mean(lambda s: s.aa_gap_sd),
             "acc": acc, "acc_ctl": acc_ctl, "chance": 1 / cfg.num_symbols,
             "z_rec_sd": statistics.stdev(z_rec) if len(z_rec) > 1 else float("nan"),
             "gap": mean(lambda s: s.units.gap), "zsd_lo": min(z_sds), "zsd_hi": max(z_sds),
             "open_acc": statistics.fmean(a.open for a in abl) if abl else float("nan")}
    ctx.metric("z_delay_init_recall_control", {"init": facts["z_all_init"], "recall": z_rec,
                                               "control": z_ctl})
    ctx.metric("gate_opened_accuracy_mean", facts["open_acc"])
    both = acc >= RECALLS and acc_ctl >= RECALLS
    recalls = acc >= RECALLS

    ctx.claim(
        "update-gate-holds-memory",
        "From the same initialisation, a GRU trained to recall the first symbol keeps its "
        "update gate z higher during the delay than the same GRU trained on the same "
        "sequences to report the last distractor (a control task that needs no memory "
        f"across the delay): the need to hold the state keeps z high (T={T})",
        Given(Greater(margin=GATE_MARGIN),
              f"both GRUs learn their task (mean test accuracy >= {RECALLS:g} at T={T})",
              both, f"recall {acc:.2f}, control task {acc_ctl:.2f}"),
        a=z_rec, b=z_ctl,
        metric=f"mean update gate z over units, examples and the delay steps at T={T}, "
               "A = trained on recall, B = trained on the control task (same seed and init)",
        kind="finding",
        why={"holds": "both start at z = {z_all_init:.3f}; training on recall keeps z at "
                      "{a_mean:.3f} (sd over seeds {z_rec_sd:.3f}), training on the control "
                      "task lowers it to {b_mean:.3f} (test accuracy {acc:.2f} and "
                      "{acc_ctl:.2f}): the gate stays high where the state must be held. "
                      "Opening it (z = 0) during the delay leaves recall at {open_acc:.2f}, "
                      "so the candidate path carries part of the memory too.",
             "does not hold": "from z = {z_all_init:.3f} at initialisation, training on "
                              "recall ends at {a_mean:.3f} and on the control task at "
                              "{b_mean:.3f} (test accuracy {acc:.2f} and {acc_ctl:.2f}): the "
                              "memory task does not keep the gate markedly higher; the "
                              "candidate re-proposes the old state (mean |h_tilde_t - "
                              "h_(t-1)| = {cand_gap:.3f} on the memory units).",
             "inconclusive": "from z = {z_all_init:.3f}, recall training ends at "
                             "{a_mean:.3f} and control training at {b_mean:.3f}, with a "
                             "spread over seeds (sd {z_rec_sd:.3f}) that straddles the "
                             "margin."},
        facts=facts,
    )
    ctx.claim(
        "memory-units-keep-z-high",
        f"The {k} units whose state at the end of the delay carries the symbol (top "
        f"H/{cfg.memory_unit_fraction} by the between-symbol std of h_(T-2)) keep their "
        f"update gate z higher during the delay than the other units, by at least "
        f"{MEMORY_Z_SDS:g} A/A standard deviations (the sd of that gap for a random choice of "
        f"{k} units; T={T})",
        Given(AtLeast(MEMORY_Z_SDS),
              f"the GRU learns to recall (mean test accuracy >= {RECALLS:g} at T={T})",
              recalls, f"it is {acc:.2f}"),
        values=z_sds,
        metric=f"(mean z of the {k} memory units - mean z of the others) over the delay at "
               f"T={T}, divided by the sd of the same gap over random {k}-unit choices",
        kind="finding",
        why={"does not hold": "during the delay the {k} memory units average z = "
                              "{z_memory:.3f} and the other units {z_other:.3f} (gap {gap:.3f}; "
                              "a random choice of {k} units shows a gap of sd {aa_sd:.3f}, so "
                              "the gap is {mean:.2f} sd): the units that carry the symbol do "
                              "not keep a markedly higher update gate than the rest.",
             "holds": "the memory units average z = {z_memory:.3f} against {z_other:.3f} for "
                      "the rest, {mean:.2f} sd of a random choice of {k} units (sd "
                      "{aa_sd:.3f}).",
             "inconclusive": "the gap runs from {zsd_lo:.2f} to {zsd_hi:.2f} A/A sd over "
                             "seeds (memory units z = {z_memory:.3f}, others {z_other:.3f}): "
                             "which units carry the symbol, and their gate, vary with the "
                             "seed."},
        facts=facts,
    )


def lstm_claim(ctx: LabContext, results: dict[tuple[str, int], list[RecallRun]], T: int,
               cfg: GRULabConfig, tuning: Tuning) -> None:
    """lstm-matches-gru-long: the tuned LSTM recalls as well as the GRU at length ``T``."""
    lstm, gru = results[("lstm", T)], results[("gru", T)]
    by_bias = {b: max(statistics.fmean(r.val_acc for r in rs) for st, rs in tuning.tried
                      if st.gate_bias == b) for b in cfg.gate_biases}
    bias = tuning.chosen.gate_bias
    ctx.claim(
        "lstm-matches-gru-long",
        f"With its learning rate and forget-gate bias tuned, the LSTM recalls across T={T} "
        "about as well as the GRU (it trails by at most 0.1 test accuracy)",
        Greater(margin=-ACC_MARGIN),
        a=[r.acc for r in lstm], b=[r.acc for r in gru],
        metric=f"test accuracy at T={T}, A = LSTM, B = GRU",
        kind="finding",
        why={"does not hold": "the LSTM reaches {a_mean:.2f} and the GRU {b_mean:.2f} at "
                              "T={T} ({lstm_conv} of {S} LSTM runs and {gru_conv} of {S} GRU "
                              "runs converged within {steps} steps; LSTM accuracy per seed "
                              "{lstm_min:.2f} to {lstm_max:.2f}); tuned to lr {lr:g} and "
                              "forget bias {bias:g}, its forget gate starts at {f_chosen:.3f} "
                              "(memory time constant ~{tau:.0f} steps against a delay of "
                              "{delay} steps), and the best validation accuracy per bias was "
                              "{by_bias}.",
             "holds": "tuned (lr {lr:g}, forget bias {bias:g}: forget gate {f_chosen:.2f} at "
                      "init), the LSTM reaches {a_mean:.2f} against the GRU's {b_mean:.2f}; "
                      "best validation accuracy per forget bias: {by_bias}.",
             "inconclusive": "LSTM accuracy per seed runs from {lstm_min:.2f} to "
                             "{lstm_max:.2f} ({lstm_conv} of {S} runs converged within {steps} "
                             "steps; tuned lr {lr:g}, forget bias {bias:g}): a seed that stays "
                             "on the chance plateau widens the interval."},
        facts={"T": T, "tau": 1 / (1 - _sigmoid(bias)), "steps": cfg.steps, "S": len(lstm),
               "lstm_conv": sum(r.converged for r in lstm),
               "gru_conv": sum(r.converged for r in gru),
               "delay": T - 2, "lr": tuning.chosen.lr, "lstm_min": min(r.acc for r in lstm),
               "lstm_max": max(r.acc for r in lstm), "bias": bias,
               "f_chosen": _sigmoid(bias),
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
             "rnn_min": min(r.acc for r in rnn), "rnn_max": max(r.acc for r in rnn),
             "S": len(rnn), "rnn_zero": sum(r.grad_trained == 0.0 for r in rnn),
             "gru_zero": sum(r.grad_trained == 0.0 for r in gru),
             "floor": math.log10(GRAD_FLOOR)}
    zeros = (" ({rnn_zero} of {S} RNN and {gru_zero} of {S} GRU gradients are exactly 0 in "
             "float32, below its smallest positive number, and count as log10 = {floor:.1f}, an "
             "upper bound)")
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
        metric=f"log10 ||dL/dx_0|| after training at T={T} (mean over test examples; a "
               "gradient of exactly 0 in float32 counts as log10 2^-149 = -44.9, an upper "
               "bound), A = GRU, B = vanilla RNN",
        kind="finding",
        why={"does not hold": "after training, log10 ||dL/dx_0|| is {a_mean:.1f} through the "
                              "GRU and {b_mean:.1f} through the vanilla RNN (at initialisation "
                              "{gru_init:.2g} vs {rnn_init:.2g}; test accuracy {gru_acc:.2f} "
                              "vs {rnn_acc:.2f}): the trained RNN passes at least as much "
                              "gradient back to the first step" + zeros + ".",
             "holds": "after training, log10 ||dL/dx_0|| is {a_mean:.1f} through the GRU and "
                      "{b_mean:.1f} through the vanilla RNN" + zeros + ".",
             "inconclusive": "An RNN that learns the task ends with large, exploding "
                             "gradients and one that does not with vanished ones, so the gap "
                             "swings with the seed (RNN accuracy {rnn_min:.2f} to "
                             "{rnn_max:.2f})" + zeros + "."},
        facts=facts,
    )
