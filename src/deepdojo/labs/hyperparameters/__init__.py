"""Lab: seven measured effects of hyperparameters on small MLPs on the digits data (Q15).

Setup. Every experiment trains plain MLPs (``deepdojo.models``, ReLU) on the scikit-learn
digits (8x8 images flattened to 64 features, 10 classes; seeded stratified train/validation/
test splits that change with the seed) with the :class:`~deepdojo.train.Trainer`, once per
seed, and records every per-seed number.

1. **Convergence vs learning rate**: SGD with momentum 0.9 at rates over four decades.
2. **Over- and underfitting**: on a small training subset, the train/validation accuracy gap
   as batch size, dropout and weight decay vary one at a time (SGD + momentum, fixed epochs).
3. **Generalization**: pick the config of (2) with the best validation accuracy, then look at
   its test accuracy: selecting on validation makes validation optimistic.
4. **Computational efficiency**: seconds per epoch and the memory of one training step
   (tensors autograd saves for backward; CUDA peak when on a GPU) vs batch size; validation
   accuracy vs wall-clock time (the runs of 1).
5. **Capacity**: a depth x width grid on a small training subset: under- and overfit regions.
6. **Optimizer choice**: SGD, SGD + momentum, Adam and RMSprop, each at its own learning rate
   tuned on validation from a small grid.
7. **Transfer learning**: pretrain on digits 0-4 (every one-pixel shift of each image), then
   fine-tune on a hard few-label target: 5 labels per class of digits 5-9, each at a random
   one-pixel shift, tested on shifted 5-9 images (from-scratch models cannot learn translation
   robustness from 25 examples; pretrained features can bring it). Arms, each with a new head
   and ~600 Adam steps: from scratch, frozen backbone, one rate everywhere, a 10x smaller
   backbone rate; a converged logistic regression on the frozen features checks that the
   frozen arm's head is trained long enough.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from deepdojo.labs import LabContext, register_lab
from deepdojo.labs import _hparam_effects as fx
from deepdojo.labs import _hparam_plots as plots
from deepdojo.labs._hparam_claims import state_claims


@dataclass
class HyperparametersLabConfig:
    lrs: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)  # (1) SGD+momentum learning rates
    conv_epochs: int = 8  # (1, 4b) epochs per learning rate (smoke: 1)
    n_train: int = 300  # (2, 5) training examples of the small subset
    fit_epochs: int = 15  # (2, 5) epochs on the small subset (smoke: 1)
    batch_sizes: tuple[int, ...] = (8, 32, 128)  # (2) batch sizes compared
    dropouts: tuple[float, ...] = (0.0, 0.3, 0.6)  # (2) dropout rates compared
    weight_decays: tuple[float, ...] = (0.0, 1e-3, 1e-2)  # (2) L2 weight decays compared
    eff_batch_sizes: tuple[int, ...] = (8, 32, 128, 512)  # (4) batch sizes timed
    depths: tuple[int, ...] = (2, 4)  # (5) weight layers
    widths: tuple[int, ...] = (4, 16, 64, 256)  # (5) hidden units per layer
    opt_train: int = 600  # (6) training examples for the optimizer comparison
    opt_epochs: int = 6  # (6) epochs per optimizer run (smoke: 1)
    sgd_lrs: tuple[float, ...] = (0.1, 0.3, 1.0)  # (6) plain SGD rate grid
    momentum_lrs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)  # (6) SGD+momentum 0.9 rate grid
    adam_lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)  # (6) Adam rate grid
    rmsprop_lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2)  # (6) RMSprop rate grid
    per_class: int = 5  # (7) labelled examples per target class (digits 5-9, shifted)
    pre_epochs: int = 10  # (7) pretraining epochs on shifted digits 0-4 (smoke: 1)
    ft_epochs: int = 150  # (7) fine-tuning epochs (smoke: 2); 4 steps each at 25 labels
    ft_batch: int = 8  # (7) fine-tuning batch size
    ft_lr: float = 3e-3  # (7) Adam fine-tuning rate of the head (and of the backbone at 1x)
    opt_spread_max: float = 0.03  # claim (6): tuned optimizers' val acc within this


def _fit_configs(cfg: HyperparametersLabConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One-at-a-time variations around the base config (batch 32, no dropout, no decay)."""
    base = {"batch_size": 32, "dropout": 0.0, "weight_decay": 0.0}
    configs = [base]
    for key, values in (("batch_size", cfg.batch_sizes), ("dropout", cfg.dropouts),
                        ("weight_decay", cfg.weight_decays)):
        configs += [{**base, key: v} for v in values if {**base, key: v} not in configs]
    return configs, base


def _measure(cfg: HyperparametersLabConfig, ctx: LabContext, seed: int) -> dict[str, Any]:
    """All seven effects for one seed; records the seconds each took."""
    smoke = ctx.scale == "smoke"  # plumbing only: one epoch, tiny subsets
    conv_e, fit_e = (1, 1) if smoke else (cfg.conv_epochs, cfg.fit_epochs)
    n_all = 128 if smoke else 10_000  # (1, 4) training examples (all of them unless smoke)
    n_small, n_opt = (64, 64) if smoke else (cfg.n_train, cfg.opt_train)
    grids = {"sgd": cfg.sgd_lrs, "sgd_momentum": cfg.momentum_lrs, "adam": cfg.adam_lrs,
             "rmsprop": cfg.rmsprop_lrs}
    configs, _ = _fit_configs(cfg)
    jobs = {
        "convergence": (fx.convergence, (seed, cfg.lrs, conv_e, n_all, ctx.device)),
        "fitting": (fx.fitting, (seed, configs, n_small, fit_e, ctx.device)),
        "efficiency": (fx.efficiency, (seed, cfg.eff_batch_sizes, 1 if smoke else 3, n_all,
                                       ctx.device)),
        "capacity": (fx.capacity, (seed, cfg.depths, cfg.widths, n_small, fit_e, ctx.device)),
        "optimizers": (fx.optimizers, (seed, grids, n_opt, 1 if smoke else cfg.opt_epochs,
                                       ctx.device)),
        "transfer": (fx.transfer, (seed, 3 if smoke else cfg.per_class,
                                   1 if smoke else cfg.pre_epochs,
                                   2 if smoke else cfg.ft_epochs, cfg.ft_lr, ctx.device,
                                   cfg.ft_batch)),
    }
    out: dict[str, Any] = {}
    for name, (fn, args) in jobs.items():
        out[name], secs = fx.timed(fn, *args)
        out.setdefault("seconds", {})[name] = round(secs, 2)
    return out


def _tables(ctx: LabContext, per_seed: list[dict[str, Any]]) -> None:
    ctx.table("fitting", [r for s in per_seed for r in s["fitting"]])
    ctx.table("capacity", [{"seed": i, "model": k, **v} for i, s in enumerate(per_seed)
                           for k, v in s["capacity"].items()])
    ctx.table("optimizers", [{"seed": i, "optimizer": k, "tuned_lr": v["lr"],
                              "val_acc": v["val_acc"], "final_train_loss": v["train_loss"][-1],
                              "grid": str(v["grid"])}
                             for i, s in enumerate(per_seed) for k, v in s["optimizers"].items()])
    ctx.table("efficiency", [{"seed": i, "batch_size": int(b), **v}
                             for i, s in enumerate(per_seed) for b, v in s["efficiency"].items()])
    ctx.table("transfer", [{"seed": i, **s["transfer"]} for i, s in enumerate(per_seed)])
    ctx.table("seconds", [{"seed": i, **s["seconds"]} for i, s in enumerate(per_seed)])


@register_lab("hyperparameters", questions=("Q15",), config=HyperparametersLabConfig)
def run(cfg: HyperparametersLabConfig, ctx: LabContext) -> None:
    """Seven effects of hyperparameters measured on digits MLPs, each with a figure and claims."""
    per_seed = [_measure(cfg, ctx, seed) for seed in ctx.progress(ctx.seeds, "seeds")]
    _tables(ctx, per_seed)
    configs, base = _fit_configs(cfg)
    fit_rows = [r for s in per_seed for r in s["fitting"]]
    chosen = [max(s["fitting"], key=lambda r: r["val_acc"]) for s in per_seed]
    ctx.figure("convergence_vs_lr", plots.convergence([s["convergence"] for s in per_seed]),
               caption="(1) Train loss per epoch per learning rate; (4b) validation accuracy "
                       "vs wall-clock seconds of the same runs. Mean over seeds.")
    spec = {"batch_size": cfg.batch_sizes, "dropout": cfg.dropouts,
            "weight_decay": cfg.weight_decays}
    ctx.figure("fit_vs_regularization", plots.fitting(fit_rows, spec, base),
               caption=f"(2) Train vs validation accuracy on {cfg.n_train} training examples; "
                       "one hyperparameter varies, the others stay at the base config.")
    ctx.figure("validation_vs_test", plots.selection(fit_rows, chosen),
               caption="(3) Every config of (2); ringed: the one selected on validation.")
    ctx.figure("efficiency_vs_batch", plots.efficiency([s["efficiency"] for s in per_seed]),
               caption="(4a) Seconds per epoch (thin: seeds) and memory of one training step.")
    ctx.figure("capacity_grid", plots.capacity([s["capacity"] for s in per_seed], cfg.depths,
                                               cfg.widths),
               caption="(5) Depth x width: low train accuracy = underfit; large loss gap = "
                       "overfit. Mean over seeds.")
    ctx.figure("optimizers", plots.optimizers([s["optimizers"] for s in per_seed]),
               caption="(6) Each optimizer at the learning rate that maximized its "
                       "validation accuracy.")
    ctx.figure("transfer", plots.transfer([s["transfer"] for s in per_seed]),
               caption=f"(7) Fine-tuning on {cfg.per_class} labels per class of digits 5-9, "
                       "each at a random one-pixel shift, tested on shifted images; grey: "
                       "logistic regression on the frozen features (head reference).")
    state_claims(ctx, cfg, per_seed, chosen, base)
    ctx.metric("seconds_per_seed", statistics.fmean(sum(s["seconds"].values())
                                                    for s in per_seed))
