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

Schemes (:func:`deepdojo.nn.init.initialize`): zeros; small random N(0, 0.01²); large random
N(0, 1); Xavier (Var = 2/(fan_in+fan_out), gain 1); Xavier with torch's tanh gain 5/3 (tanh
probe only); He (Var = 2/fan_in).

Files: ``config`` (sizes per scale), ``measure`` (probe and training runs), ``claims`` (the
rules), ``figures``.
"""

from __future__ import annotations

from deepdojo.labs.framework import LabContext, register_lab

from .claims import large_init_claims, stability_claims, training_claims
from .config import InitLabConfig
from .figures import by_depth_figure, curves_figure, symmetry_figure
from .measure import labels, probe_table, run_probes, run_training

__all__ = ["InitLabConfig", "run"]


@register_lab("weight-initialization", questions=("Q08", "Q09"), config=InitLabConfig)
def run(cfg: InitLabConfig, ctx: LabContext) -> None:
    """Init schemes: activation scale and gradients through 30 layers, and training speed."""
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
