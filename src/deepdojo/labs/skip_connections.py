"""Lab ``skip-connections`` (Q14): plain vs residual MLPs as depth grows.

Setup. scikit-learn's digits (64 pixels, 10 classes). For each depth (weight layers from input
to logits; 4/8/16/32 at quick scale) we train a plain MLP and a pre-activation residual MLP
(:class:`~deepdojo.nn.ResidualBlock`, two weight layers per block) with the same depth, width,
ReLU, torch's default init and no batch norm, with SGD + momentum 0.9, over ``ctx.seeds``.

Measures. The first-layer gradient norm ‖∂L/∂W_1‖ and the first-to-last ratio
r = ‖∂L/∂W_1‖ / ‖∂L/∂W_depth‖ (median over the steps the Doctor recorded; log10 r reported),
and the test accuracy after training.

Rules (fixed before running), at the largest depth: the residual net keeps the first layer's
gradient within ``within_factor`` (10x) of the last layer's, |mean log10 r| <= 1, while the
plain net does not; and the residual net's mean test accuracy beats the plain net's by more
than ``acc_margin``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from deepdojo.data import load_digits
from deepdojo.diagnose import plot_gradient_flow
from deepdojo.labs import LabContext, register_lab
from deepdojo.labs._grad_labs import (
    RunOutcome,
    layer_profile,
    mean,
    row,
    train_run,
)
from deepdojo.models import create

ARCHS = {"plain": "plain_mlp", "residual": "resnet_mlp"}


@dataclass
class SkipConfig:
    depths: tuple[int, ...] | None = None  # even; None: smoke 4,8; quick 4,8,16,32; full +64
    width: int = 64  # units per hidden layer
    activation: str = "relu"  # activation of both families
    epochs: int | None = None  # None: by scale (smoke 1, quick 10, full 30)
    batch_size: int = 64  # mini-batch size
    lr: float = 0.05  # SGD learning rate (momentum 0.9)
    doctor_every: int = 5  # steps between gradient records
    within_factor: float = 10.0  # "within 10x": |mean log10 r| <= log10(within_factor)
    acc_margin: float = 0.01  # residual must beat plain's mean test accuracy by more than this


def _train_all(cfg: SkipConfig, ctx: LabContext, depths: tuple[int, ...]
               ) -> dict[tuple[str, int], list[RunOutcome]]:  # fmt: skip
    epochs = cfg.epochs or ctx.pick(smoke=1, quick=10, full=30)
    datasets = {s: load_digits(flat=True, seed=s).head(ctx.pick(256, None, None))
                for s in ctx.seeds}  # fmt: skip
    runs: dict[tuple[str, int], list[RunOutcome]] = {(a, d): [] for d in depths for a in ARCHS}
    jobs = [(a, d, s) for s in ctx.seeds for d in depths for a in ARCHS]
    for arch, depth, seed in ctx.progress(jobs, "depths x archs x seeds", total=len(jobs)):
        kw = {"in_features": 64, "num_classes": 10, "depth": depth, "width": cfg.width,
              "activation": cfg.activation}  # fmt: skip
        runs[arch, depth].append(train_run(
            f"{arch}-{depth}", lambda arch=arch, kw=kw: create(ARCHS[arch], **kw),
            datasets[seed], seed=seed, epochs=epochs, lr=cfg.lr, device=ctx.device,
            batch_size=cfg.batch_size, doctor_every=cfg.doctor_every))  # fmt: skip
    return runs


def _gradient_figure(runs: dict[tuple[str, int], list[RunOutcome]], depths: tuple[int, ...],
                     cfg: SkipConfig) -> Any:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    for arch in ARCHS:
        ys = [10 ** mean([r.log_ratio for r in runs[arch, d]]) for d in depths]
        ax.plot(depths, ys, marker="o", label=arch)
    band = cfg.within_factor
    ax.axhspan(1 / band, band, color="tab:green", alpha=0.1, label=f"within {band:g}x")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(depths), [str(d) for d in depths])
    ax.set_yscale("log")
    ax.set_xlabel("depth (weight layers)")
    ax.set_ylabel("‖∂L/∂W_first‖ / ‖∂L/∂W_last‖ (geo-mean over seeds)")
    ax.set_title("First-to-last gradient ratio vs depth")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    deepest = depths[-1]
    plot_gradient_flow({f"{a}, depth {deepest}": layer_profile(runs[a, deepest]) for a in ARCHS},
                       ax=ax2, title=f"Gradient flow at depth {deepest}")  # fmt: skip
    fig.tight_layout()
    return fig


def _accuracy_figure(runs: dict[tuple[str, int], list[RunOutcome]], depths: tuple[int, ...]
                     ) -> Any:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for arch in ARCHS:
        ax.plot(depths, [mean([r.test_acc for r in runs[arch, d]]) for d in depths],
                marker="o", label=arch)  # fmt: skip
        for d in depths:
            ax.scatter([d] * len(runs[arch, d]), [r.test_acc for r in runs[arch, d]], s=10,
                       alpha=0.5, color="tab:blue" if arch == "plain" else "tab:orange")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(depths), [str(d) for d in depths])
    ax.set_xlabel("depth (weight layers)")
    ax.set_ylabel("test accuracy (line: mean; dots: seeds)")
    ax.set_ylim(0, 1.02)
    ax.set_title("Test accuracy vs depth: plain vs residual")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


@register_lab("skip-connections", questions=("Q14",), config=SkipConfig)
def run(cfg: SkipConfig, ctx: LabContext) -> None:
    """Plain vs residual MLPs at growing depth: first-layer gradient and test accuracy."""
    depths = cfg.depths or ctx.pick(smoke=(4, 8), quick=(4, 8, 16, 32), full=(4, 8, 16, 32, 64))
    if any(d < 4 or d % 2 for d in depths):
        raise ValueError(f"depths must be even and >= 4 (residual blocks), got {depths!r}")
    depths = tuple(sorted(depths))
    runs = _train_all(cfg, ctx, depths)
    ctx.table("runs", [row(rs, arch=a, depth=d) for (a, d), rs in runs.items()])
    for (arch, depth), rs in runs.items():
        ctx.metric(f"first_grad_norm.{arch}.{depth}", mean([r.first_grad for r in rs]))
        ctx.metric(f"log10_first_to_last.{arch}.{depth}", mean([r.log_ratio for r in rs]))
        ctx.metric(f"test_acc.{arch}.{depth}", mean([r.test_acc for r in rs]))
    deepest = depths[-1]
    res, plain = runs["residual", deepest], runs["plain", deepest]
    limit = math.log10(cfg.within_factor)
    res_log, plain_log = mean([r.log_ratio for r in res]), mean([r.log_ratio for r in plain])
    ctx.figure("gradient_ratio_vs_depth", _gradient_figure(runs, depths, cfg),
               caption="Left: first-to-last gradient ratio by depth (green band: within "
                       f"{cfg.within_factor:g}x). Right: per-layer gradient norm at depth "
                       f"{deepest}.")  # fmt: skip
    ctx.claim("residual-keeps-first-layer-gradient",
              f"At depth {deepest} the residual MLP keeps the first layer's gradient within "
              f"{cfg.within_factor:g}x of the last layer's, the plain MLP does not",
              rule=f"|mean log10 r| <= {limit:g} for residual and > {limit:g} for plain "
                   f"(plain's mean log10 r = {plain_log:.2f})",
              values=[r.log_ratio for r in res],
              holds=abs(res_log) <= limit and not abs(plain_log) <= limit,
              seed_rule=lambda v: abs(v) <= limit)  # fmt: skip
    res_acc, plain_acc = mean([r.test_acc for r in res]), mean([r.test_acc for r in plain])
    ctx.figure("accuracy_vs_depth", _accuracy_figure(runs, depths),
               caption="Test accuracy after the same training budget, by depth.")
    ctx.claim("residual-trains-better-when-deep",
              f"At depth {deepest} the residual MLP reaches a higher test accuracy than the "
              "plain MLP",
              rule=f"mean residual acc - mean plain acc > {cfg.acc_margin} (plain mean "
                   f"{plain_acc:.3f})",
              values=[r.test_acc - p.test_acc for r, p in zip(res, plain, strict=True)],
              value=res_acc - plain_acc, holds=res_acc - plain_acc > cfg.acc_margin,
              seed_rule=lambda v: v > cfg.acc_margin)  # fmt: skip
