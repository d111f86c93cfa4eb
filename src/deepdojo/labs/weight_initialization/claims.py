"""The weight-initialization lab's claims, each a rule object judged on per-seed values.

Checks (true by construction, EVIDENCE.md §3): N(0, 1) weights saturate tanh and blow up ReLU
activations (every layer multiplies the pre-activation std by about sqrt(width)), zero init
keeps the units of a layer identical (they get identical gradients), and torch's default init
without bias shrinks a ReLU signal's variance 6x per layer (Q08; the derivation
fan_in * 1/(3 fan_in) * 1/2). Findings: the activation std stays within a factor of layer 1's
under the matched init; He/Xavier reach the target accuracy sooner than a small N(0, 0.01²)
init; with torch's default bias the 6x shrink stops at a bias floor that no longer depends on
the input (Q08); at the tanh gain 5/3 the forward std holds while the gradient grows on its
way back, against gain 1 as the control (Q09).
"""

from __future__ import annotations

import math
import sys

from deepdojo.labs.framework import LabContext
from deepdojo.labs.framework import rules as R

from .config import InitLabConfig
from .measure import DefaultProbes, Probes, TrainResult, log2_worst_ratio, log10_grad_growth

# a zero or non-finite std makes a ratio infinite: it counts as float64's largest
LOG2_CAP = math.log2(sys.float_info.max)
LOG10_CAP = math.log10(sys.float_info.max)


def stability_claims(cfg: InitLabConfig, ctx: LabContext, probes: Probes) -> None:
    """He + ReLU, Xavier + tanh, Xavier (tanh gain) + tanh: the activation std stays within
    ``stable_factor`` of layer 1's through every layer (the per-seed worst excursion, judged by
    the 95% interval of its mean over seeds)."""
    limit = math.log2(cfg.stable_factor)
    band = f"[{1 / cfg.stable_factor:g}x, {cfg.stable_factor:g}x]"
    for claim_id, act, key, who in (
        ("he-relu-stable", "relu", "he", "He init keeps a ReLU MLP's"),
        ("xavier-tanh-stable", "tanh", "xavier", "Xavier init (gain 1) keeps a tanh MLP's"),
        ("xavier-gain-tanh-stable", "tanh", "xavier_tanh_gain",
         f"Xavier init with torch's tanh gain {cfg.tanh_gain:.3g} keeps a tanh MLP's"),
    ):  # fmt: skip
        per_seed = probes[act, key]
        values = [min(log2_worst_ratio(p.std), LOG2_CAP) for p in per_seed]
        ratio = _geo_mean([p.std[-1] / p.std[0] for p in per_seed])
        ctx.claim(
            claim_id,
            f"{who} activation std within {band} of the first layer's across all "
            f"{cfg.depth} layers",
            R.AtMost(limit), values=values,
            metric="max over layers of |log2(std_l / std_1)|", kind="finding",
            why={"does not hold": "on seed(s) {bad} some layer's activation std is up to "
                 "{worst:.3g}x away from layer 1's (the band is {factor:g}x); the last layer's "
                 "std is {ratio:.3g}x the first layer's (geometric mean over seeds): {trend}"},
            facts={"bad": ", ".join(str(s) for s, v in zip(ctx.seeds, values, strict=True)
                                    if v > limit),
                   "worst": 2 ** max(values), "factor": cfg.stable_factor, "ratio": ratio,
                   "trend": _trend(ratio, cfg.stable_factor, cfg.width)},
        )  # fmt: skip


def large_init_claims(cfg: InitLabConfig, ctx: LabContext, probes: Probes) -> None:
    """N(0, large_std²) saturates the tanh probe and blows up the ReLU probe (checks)."""
    saturation = [p.mean_saturated for p in probes["tanh", "normal_large"]]
    ctx.claim(
        "normal-1-saturates-tanh",
        f"N(0, {cfg.large_std:g}²) init saturates a deep tanh MLP",
        R.EverySeed(R.AtLeast(cfg.saturated_fraction)), values=saturation,
        metric=f"mean over layers of the fraction of units with |a| > {cfg.saturation_level:g}",
        kind="check",
        why={"does not hold": "only {min:.0%} to {max:.0%} of the tanh units are saturated "
             "(mean over layers), below {margin:.0%}"},
    )  # fmt: skip
    growth = [min(p.log10_growth, LOG10_CAP) for p in probes["relu", "normal_large"]]
    ctx.claim(
        "normal-1-explodes-relu",
        f"N(0, {cfg.large_std:g}²) init makes a deep ReLU MLP's activations explode",
        R.EverySeed(R.AtLeast(math.log10(cfg.explode_factor))), values=growth,
        metric="log10(std_last / std_1) (a non-finite ratio counts as float64's largest)",
        kind="check",
        why={"does not hold": "the last layer's activation std is only 10^{min:.2f} to "
             "10^{max:.2f} times the first layer's, below {factor:g}x"},
        facts={"factor": cfg.explode_factor},
    )  # fmt: skip


def default_init_claims(cfg: InitLabConfig, ctx: LabContext, default: DefaultProbes) -> None:
    """Q08: torch's default Linear init and a deep ReLU MLP: 6x per layer without bias (check
    against the derivation), a floor with its bias (finding), and a floor that forgot the input
    (finding)."""
    tol = cfg.default_factor_tol
    no_bias = [p.factor() for p in default[False]]
    ctx.claim(
        "torch-default-relu-shrinks-6x",
        "Without biases, torch's default Linear init (kaiming_uniform with a = sqrt(5): Var(w) = "
        "1/(3 fan_in)) shrinks a ReLU MLP's activation variance 6x per layer, as derived: "
        "fan_in * 1/(3 fan_in) * 1/2 = 1/6",
        R.WithinFactor(tol), values=[6 * f for f in no_bias],
        metric=f"6 x the per-layer variance factor over {cfg.depth} layers (geometric mean; "
               "1 = exactly 1/6)",
        kind="check",
        why={"does not hold": "the measured per-layer factor is 1/{inv:.2f} (seeds from 1/"
             "{inv_max:.2f} to 1/{inv_min:.2f}), not within {margin:g}x of the derived 1/6: the "
             "probe or the init does not do what the derivation assumes"},
        facts={"inv": 1 / _geo_mean(no_bias), "inv_min": 1 / max(no_bias),
               "inv_max": 1 / min(no_bias)},
    )  # fmt: skip
    start = len(default[True][0].var) // 2
    late = [p.factor(start) for p in default[True]]
    floor_var = [p.var[-1] for p in default[True]]
    ctx.claim(
        "torch-default-bias-stops-shrink",
        "With torch's default biases as well (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), the 6x-per-"
        f"layer shrink stops after a few layers: over the deeper half of {cfg.depth} layers the "
        "variance settles (the bias floor Var(z) -> 2/(5 fan_in))",
        R.WithinFactor(tol), values=late,
        metric=f"per-layer variance factor from layer {start + 1} to {cfg.depth} (geometric "
               "mean; 1 = flat)",
        kind="finding",
        why={"does not hold": "the deeper half still changes by {mean:.3g}x per layer on "
             "average (95% interval [{lo:.3g}, {hi:.3g}]); the last layer's variance is "
             "{last:.3g} (post-ReLU); the pre-activation floor is 2/(5 fan_in) = {floor:.3g}"},
        facts={"last": _geo_mean(floor_var), "floor": 2 / (5 * cfg.width)},
    )  # fmt: skip
    share = [math.log10(p.input_share) if p.input_share > 0 else -LOG10_CAP
             for p in default[True]]
    ctx.claim(
        "torch-default-relu-loses-input",
        f"Under torch's default init (with biases) the last of {cfg.depth} ReLU layers hardly "
        "depends on the input: the spread across inputs is below "
        f"10^{cfg.input_share_log10:g} of the activations' spread (the floor is bias, not "
        "signal)",
        R.AtMost(cfg.input_share_log10), values=share,
        metric="log10(mean over units of the std across inputs / std over inputs and units), "
               "last hidden layer",
        kind="finding",
        why={"does not hold": "the input-driven share is 10^{mean:.2f} (95% interval "
             "[10^{lo:.2f}, 10^{hi:.2f}]), above 10^{margin:g}: at width {width} and depth "
             "{depth} the input still moves the last layer"},
        facts={"width": cfg.width, "depth": cfg.depth},
    )  # fmt: skip


def tanh_gain_claims(cfg: InitLabConfig, ctx: LabContext, probes: Probes) -> None:
    """Q09: at torch's tanh gain the forward std holds (the stability claim) but the gradient
    grows on its way back; Xavier at gain 1 is the control."""
    gain = [log10_grad_growth(p) for p in probes["tanh", "xavier_tanh_gain"]]
    one = [log10_grad_growth(p) for p in probes["tanh", "xavier"]]
    limit = math.log2(cfg.stable_factor)
    forward_ok = all(log2_worst_ratio(p.std) <= limit for p in probes["tanh", "xavier_tanh_gain"])
    margin = math.log10(cfg.grad_growth_factor)
    ctx.claim(
        "tanh-gain-grows-gradients",
        f"At Xavier gain {cfg.tanh_gain:.3g}, a {cfg.depth}-layer tanh MLP keeps its forward "
        "std, but its weight gradients grow with depth on the way back (control: gain 1)",
        R.Greater(margin=margin), a=gain, b=one,
        metric="log10(|dL/dW_1| / |dL/dW_last hidden|), tanh gain - gain 1 (same draws)",
        kind="finding",
        requires={f"the forward std stays within {cfg.stable_factor:g}x of layer 1's on every "
                  "seed at the tanh gain": forward_ok},
        why={"does not hold": "the first layer's gradient is 10^{a_mean:.2f} times the last "
             "hidden layer's at gain {gain:.3g} and 10^{b_mean:.2f} at gain 1: a paired "
             "difference of {mean:.2f} decades (95% interval [{lo:.2f}, {hi:.2f}]), not more "
             "than log10({factor:g}) = {margin:.2f}"},
        facts={"gain": cfg.tanh_gain, "factor": cfg.grad_growth_factor},
    )  # fmt: skip


def training_claims(cfg: InitLabConfig, ctx: LabContext,
                    training: dict[str, list[TrainResult]]) -> None:  # fmt: skip
    """Zero init stays symmetric (check); He/Xavier beat small random init to the target."""
    spreads = [max(relu.unit_spread, sigmoid.unit_spread)
               for relu, sigmoid in zip(training["zeros"], training["zeros_sigmoid"], strict=True)]
    ctx.claim(
        "zero-init-symmetry",
        "With zero init every hidden unit of a layer stays identical after training (symmetry "
        "never breaks), in a ReLU and in a sigmoid MLP",
        R.EverySeed(R.AtMost(cfg.symmetry_tol)), values=spreads,
        metric="max over both nets and their hidden layers of the spread between units' "
               "incoming weights (relative to the largest weight)",
        kind="check",
        why={"does not hold": "the units drifted apart by up to {max:.3g} of the largest "
             "weight: something broke the symmetry (a random op or a non-zero init)"},
    )  # fmt: skip
    small = [r.epochs_to_target for r in training["normal_small"]]
    best = [min(x.epochs_to_target, h.epochs_to_target)
            for x, h in zip(training["xavier"], training["he"], strict=True)]
    ctx.claim(
        "he-xavier-faster-than-small",
        f"He or Xavier init reaches {cfg.target_acc:.0%} validation accuracy on digits in fewer "
        f"epochs than small random N(0, {cfg.small_std:g}²)",
        R.EverySeed(R.Greater(0.0)), a=small, b=best,
        metric=f"epochs to {cfg.target_acc:.0%} validation accuracy, N(0, {cfg.small_std:g}²) "
               f"- min(He, Xavier) (never reached counts as epochs + 1 = {cfg.epochs + 1})",
        kind="finding",
        why={"does not hold": "small random init needs {a_mean:.1f} epochs on average and the "
             "better of He/Xavier {b_mean:.1f}; on {n_tied} of {n} seeds it was not slower "
             "({n_censored} of its runs never reached the target in {epochs} epochs)"},
        facts={"n_tied": sum(s <= b for s, b in zip(small, best, strict=True)),
               "n_censored": sum(s > cfg.epochs for s in small), "epochs": cfg.epochs},
    )  # fmt: skip


def _trend(ratio: float, factor: float, width: int) -> str:
    """How the std of the last layer compares with the band around layer 1's."""
    if ratio < 1 / factor:
        return "the signal shrinks steadily with depth"
    if ratio > factor:
        return "the signal grows steadily with depth"
    return (f"the last layer ends inside the band, so the excursion is a fluctuation of a "
            f"finite-width ({width}) net, not a steady trend")


def _geo_mean(values: list[float]) -> float:
    logs = [math.log(v) for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else math.nan
