"""Lab ``skip-connections`` (Q14): plain vs residual MLPs as depth grows.

Setup. scikit-learn's digits (64 pixels, 10 classes). For each depth in ``depths`` (weight
layers from input to logits; 4/8/16/32 at quick scale) we train a plain MLP and a
pre-activation residual MLP (:class:`~deepdojo.nn.ResidualBlock`, two weight layers per
block) with the same depth, width, ReLU, torch's default init and no batch norm, with SGD +
momentum 0.9, over ``ctx.seeds``.

Measures. The first-layer gradient norm ‖∂L/∂W_1‖ and the first-to-last ratio
r = ‖∂L/∂W_1‖ / ‖∂L/∂W_depth‖ (median over the steps the Doctor recorded; log10 r reported),
and the test accuracy after training.

Rules (fixed before running), at the largest depth, with 95% t-intervals over seeds: the
residual net keeps the first layer's gradient within ``within_factor`` (10x) of the last
layer's (the interval of the geometric-mean ratio r lies inside [1/10, 10], i.e. of mean
log10 r inside [-1, 1]), while the plain net does not (its |mean log10 r| > 1); and the residual
net's test accuracy beats the plain net's, paired by seed, by more than ``acc_margin``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from deepdojo.data import load_digits
from deepdojo.diagnose import plot_gradient_flow
from deepdojo.labs.framework import LabContext, plt, ranged, register_lab, scaled
from deepdojo.labs.framework import rules as R
from deepdojo.labs.shared.grad import RunOutcome, layer_profile, mean, row, train_run
from deepdojo.models import create

ARCHS = {"plain": "plain_mlp", "residual": "resnet_mlp"}


@dataclass
class SkipConfig:
    # weight layers of both families, each even (residual blocks hold 2 layers)
    depths: tuple[int, ...] = scaled(smoke=(4, 8), quick=(4, 8, 16, 32),
                                     full=(4, 8, 16, 32, 64), low=4)  # fmt: skip
    width: int = ranged(64, low=1)  # units per hidden layer
    activation: str = "relu"  # activation of both families
    epochs: int = scaled(smoke=1, quick=10, full=30, low=1)  # epochs per arch, depth and seed
    # training rows taken from the digits split (None: all of them)
    n_train: int | None = scaled(smoke=256, quick=None, full=None, low=1)
    batch_size: int = ranged(64, low=1)  # mini-batch size
    lr: float = ranged(0.05, low=0.0, low_open=True)  # SGD learning rate (momentum 0.9)
    doctor_every: int = ranged(5, low=1)  # steps between gradient records
    # "within 10x": the ratio r = |G_first|/|G_last| within [1/within_factor, within_factor]
    within_factor: float = ranged(10.0, low=1.0, low_open=True)
    # residual must beat plain's test accuracy (paired by seed) by more than this
    acc_margin: float = ranged(0.01, low=0.0)


def _train_all(cfg: SkipConfig, ctx: LabContext, depths: tuple[int, ...]
               ) -> dict[tuple[str, int], list[RunOutcome]]:  # fmt: skip
    datasets = {s: load_digits(flat=True, seed=s).head(cfg.n_train) for s in ctx.seeds}
    runs: dict[tuple[str, int], list[RunOutcome]] = {(a, d): [] for d in depths for a in ARCHS}
    jobs = [(a, d, s) for s in ctx.seeds for d in depths for a in ARCHS]
    for arch, depth, seed in ctx.progress(jobs, "depths x archs x seeds", total=len(jobs)):
        kw = {"in_features": 64, "num_classes": 10, "depth": depth, "width": cfg.width,
              "activation": cfg.activation}  # fmt: skip
        runs[arch, depth].append(train_run(
            f"{arch}-{depth}", lambda arch=arch, kw=kw: create(ARCHS[arch], **kw),
            datasets[seed], seed=seed, epochs=cfg.epochs, lr=cfg.lr, device=ctx.device,
            batch_size=cfg.batch_size, doctor_every=cfg.doctor_every))  # fmt: skip
    return runs


def _gradient_figure(runs: dict[tuple[str, int], list[RunOutcome]], depths: tuple[int, ...],
                     cfg: SkipConfig) -> Any:  # fmt: skip
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
    if any(d % 2 for d in cfg.depths):
        raise ValueError(f"depths must be even (residual blocks), got {cfg.depths!r}")
    depths = tuple(sorted(cfg.depths))
    runs = _train_all(cfg, ctx, depths)
    ctx.table("runs", [row(rs, arch=a, depth=d) for (a, d), rs in runs.items()])
    for (arch, depth), rs in runs.items():
        ctx.metric(f"first_grad_norm.{arch}.{depth}", mean([r.first_grad for r in rs]))
        ctx.metric(f"log10_first_to_last.{arch}.{depth}", mean([r.log_ratio for r in rs]))
        ctx.metric(f"test_acc.{arch}.{depth}", mean([r.test_acc for r in rs]))
    deepest = depths[-1]
    ctx.figure("gradient_ratio_vs_depth", _gradient_figure(runs, depths, cfg),
               caption="Left: first-to-last gradient ratio by depth (green band: within "
                       f"{cfg.within_factor:g}x). Right: per-layer gradient norm at depth "
                       f"{deepest}.")  # fmt: skip
    ctx.figure("accuracy_vs_depth", _accuracy_figure(runs, depths),
               caption="Test accuracy after the same training budget, by depth.")
    _claims(cfg, ctx, runs["residual", deepest], runs["plain", deepest], deepest)


def _claims(cfg: SkipConfig, ctx: LabContext, res: list[RunOutcome], plain: list[RunOutcome],
            deepest: int) -> None:  # fmt: skip
    limit = math.log10(cfg.within_factor)
    res_log, plain_log = mean([r.log_ratio for r in res]), mean([r.log_ratio for r in plain])
    ctx.claim(
        "residual-keeps-first-layer-gradient",
        f"At depth {deepest} the residual MLP keeps the first layer's gradient within "
        f"{cfg.within_factor:g}x of the last layer's, the plain MLP does not",
        R.WithinFactor(cfg.within_factor), values=[10**r.log_ratio for r in res],
        metric=f"residual MLP's |G_first| / |G_last| at depth {deepest}", kind="finding",
        requires={f"the plain MLP is not within {cfg.within_factor:g}x (|mean log10 r| > "
                  f"{limit:g}; got {abs(plain_log):.2f})": abs(plain_log) > limit},
        why={"does not hold": "at depth {depth} the residual MLP's mean log10 r is {res_log:.2f} "
             "(seeds from {res_min:.2f} to {res_max:.2f}) and the plain MLP's {plain_log:.2f}; "
             "within {factor:g}x means |log10 r| <= {limit:g} for the residual net and not "
             "for the plain one"},
        facts={"depth": deepest, "res_log": res_log, "plain_log": plain_log, "limit": limit,
               "factor": cfg.within_factor, "res_min": min(r.log_ratio for r in res),
               "res_max": max(r.log_ratio for r in res)},
    )  # fmt: skip
    ctx.claim(
        "residual-trains-better-when-deep",
        f"At depth {deepest} the residual MLP reaches a higher test accuracy than the plain MLP",
        R.Greater(margin=cfg.acc_margin), a=[r.test_acc for r in res],
        b=[r.test_acc for r in plain], metric=f"test accuracy at depth {deepest}, residual - plain",
        kind="finding",
        why={"does not hold": "at depth {depth} the plain MLP reaches {b_mean:.3f} test "
             "accuracy and the residual one {a_mean:.3f}: a paired gain of {mean:.3f} (95% "
             "interval [{lo:.3f}, {hi:.3f}]), not more than {margin:g}"},
        facts={"depth": deepest},
    )  # fmt: skip
