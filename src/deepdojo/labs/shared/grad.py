"""Training runs shared by the gradient labs (vanishing-gradients, exploding-gradients,
skip-connections).

One training run = one model trained with SGD + momentum through the Trainer, with the Doctor
attached (its GradientMonitor records every ``doctor_every`` steps, before clipping). We keep
the numbers the labs judge: test accuracy (after the last epoch, and at the best-validation
checkpoint), the per-step first-to-last gradient ratio, the per-layer gradient norms, the
per-epoch curves, the doctor's findings and the non-finite guard's events.

Fair comparisons (EVIDENCE.md §1) need three more pieces, also here: :func:`choose_lr` picks
each arm's learning rate from a grid on validation accuracy, :func:`standardize` scales inputs
with training statistics only, and :func:`init_gradients` measures per-layer gradient norms of
a freshly initialized net on one batch (no training).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepdojo.data import DataSplits, Split
from deepdojo.diagnose import Doctor, plot_gradient_flow
from deepdojo.labs.framework import plt
from deepdojo.train import Callback, NonFiniteError, Trainer, make_optimizer
from deepdojo.utils import seed_everything

LOG_FLOOR = -30.0  # log10 ratios are floored here (a float32 gradient can underflow to 0)


@dataclass
class RunOutcome:
    """What one training run measured."""

    label: str
    seed: int
    test_acc: float
    log_ratio: float  # median over recorded steps of log10(|G_first| / |G_last|)
    first_grad: float  # median first-layer gradient norm
    last_grad: float  # median last-layer gradient norm
    max_grad: float  # largest layer gradient norm seen (NaN/inf count as inf)
    layer_grads: list[float]  # per-layer median gradient norm (gradient-flow chart)
    layer_names: list[str]
    grad_matrix: torch.Tensor = field(repr=False)  # (steps, layers)
    steps: list[int] = field(default_factory=list)
    doctor: dict[str, Any] = field(default_factory=dict)
    nonfinite_steps: int = 0
    rollbacks: int = 0
    diverged: bool = False  # the guard gave up (NonFiniteError)
    val_acc: list[float] = field(default_factory=list)
    lr: float = math.nan  # the learning rate it trained with
    train_loss: list[float] = field(default_factory=list)  # per-epoch mean training loss
    final_test_acc: float = math.nan  # test accuracy after the last epoch
    best_val_acc: float = math.nan  # best validation accuracy over the epochs
    best_epoch: int = -1  # 0-based epoch of the best-validation checkpoint (-1: none)

    @property
    def doctor_kinds(self) -> list[str]:
        return list(self.doctor.get("kinds", []))


def _log_ratio(first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    ratio = first / last
    logs = torch.log10(ratio.clamp_min(10**LOG_FLOOR))
    return torch.where(torch.isfinite(ratio), logs, torch.full_like(logs, float("nan")))


def _median(values: torch.Tensor) -> float:
    finite = values[torch.isfinite(values)]
    return float(finite.median()) if finite.numel() else float("nan")


class BestValidation(Callback):
    """Keep a copy of the weights (and buffers) at the epoch with the best validation accuracy.

    Ties keep the earlier epoch; a non-finite accuracy never counts as best.
    """

    def __init__(self) -> None:
        self.best_acc = -math.inf
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        acc = float(logs.get("val_acc", math.nan))
        if math.isfinite(acc) and acc > self.best_acc:
            self.best_acc, self.best_epoch = acc, epoch
            self.state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def train_run(
    label: str,
    build: Callable[[], nn.Module],
    data: DataSplits,
    *,
    seed: int,
    epochs: int,
    lr: float,
    device: str,
    batch_size: int = 64,
    momentum: float = 0.9,
    doctor_every: int = 5,
    init_seed: int | None = None,
    best_val: bool = False,
    **trainer_kw: Any,
) -> RunOutcome:
    """Seed, build the model, train it with the Doctor attached and collect the outcome.

    Parameters
    ----------
    label : str
        The arm's name (kept in the outcome).
    build : callable
        ``build() -> nn.Module``, called right after seeding with ``init_seed``.
    data : DataSplits
        Train, validation and test splits.
    seed : int
        Seeds the Trainer (data order); also the weights' draw unless ``init_seed`` is given.
    init_seed : int or None
        Seed of the weights' draw. Give each arm its own (for example ``seed + offset``) to
        untie the arms: otherwise arms that only rescale one init share the same draw.
    best_val : bool
        ``test_acc`` is measured at the best-validation checkpoint (the epoch with the highest
        validation accuracy) instead of after the last epoch. ``final_test_acc`` is always the
        last epoch's.
    trainer_kw
        Goes to :class:`~deepdojo.train.Trainer` (``clip``, ``scheduler``, ``regularizer``,
        ``guard``).
    """
    seed_everything(seed if init_seed is None else init_seed)
    model = build()
    opt = make_optimizer("sgd", model, lr, momentum=momentum)
    doctor = Doctor(every=doctor_every, report=None)
    best = BestValidation()
    trainer = Trainer(model, nn.functional.cross_entropy, opt, callbacks=[doctor, best],
                      device=device, seed=seed, progress="off", **trainer_kw)  # fmt: skip
    diverged = False
    try:
        trainer.fit(data.train, data.val, epochs=epochs, batch_size=batch_size)
    except NonFiniteError:  # the Doctor detached its monitors (on_exception)
        diverged = True
    final_acc = float(trainer.evaluate(data.test)["acc"])
    test_acc = final_acc
    if best_val and best.state is not None:
        trainer.model.load_state_dict(best.state)
        test_acc = float(trainer.evaluate(data.test)["acc"])
    grads = doctor.gradients.grad_norms  # (S, L)
    events = trainer.history.events
    bad = torch.where(torch.isfinite(grads), grads, torch.full_like(grads, math.inf))
    records = trainer.history.records
    return RunOutcome(
        label=label, seed=seed, test_acc=test_acc,
        log_ratio=_median(_log_ratio(grads[:, 0], grads[:, -1])),
        first_grad=_median(grads[:, 0]), last_grad=_median(grads[:, -1]),
        max_grad=float(bad.max()) if bad.numel() else float("nan"),
        layer_grads=[_median(grads[:, j]) for j in range(grads.shape[1])],
        layer_names=list(doctor.gradients.layer_names), grad_matrix=grads,
        steps=list(doctor.gradients.steps), doctor=doctor.summary(),
        nonfinite_steps=sum(e.get("kind") == "nonfinite" for e in events),
        rollbacks=sum(e.get("kind") == "rollback" for e in events), diverged=diverged,
        val_acc=[float(r.get("val_acc", float("nan"))) for r in records],
        lr=float(lr), train_loss=[float(r.get("train_loss", float("nan"))) for r in records],
        final_test_acc=final_acc,
        best_val_acc=best.best_acc if best.best_epoch >= 0 else float("nan"),
        best_epoch=best.best_epoch,
    )  # fmt: skip


@dataclass
class LrChoice:
    """One arm's setting of a hyperparameter (the learning rate unless ``param`` says
    otherwise), chosen from ``grid`` on the tuning split's validation accuracy."""

    label: str
    grid: list[float]
    val_acc: list[float]  # best validation accuracy of each grid point
    unstable: list[bool]  # whether the guard saw a non-finite step at each grid point
    chosen: float
    param: str = "lr"

    def as_row(self) -> dict[str, Any]:
        """A table row: the arm, the chosen value and each grid point's validation accuracy."""
        cells = {f"val_acc@{self.param}={v:g}": round(acc, 4) if math.isfinite(acc) else str(acc)
                 for v, acc in zip(self.grid, self.val_acc, strict=True)}  # fmt: skip
        shaky = ", ".join(f"{v:g}" for v, u in zip(self.grid, self.unstable, strict=True) if u)
        return {"arm": self.label, "param": self.param, "chosen": self.chosen, **cells,
                "unstable_at": shaky or "none"}  # fmt: skip


def pick_lr(grid: Sequence[float], val_acc: Sequence[float], unstable: Sequence[bool]) -> float:
    """The grid point with the best validation accuracy among the stable runs (no non-finite
    step, no give-up; all of them when none is stable); ties go to the smaller value.

    A run that needed the non-finite guard may still score well on one tuning seed while the
    same setting diverges on others, so stability comes first.
    """
    if not grid or not len(grid) == len(val_acc) == len(unstable):
        raise ValueError(f"grid, val_acc and unstable must be non-empty and of one length, got "
                         f"{len(grid)}, {len(val_acc)}, {len(unstable)}")
    pool = [i for i in range(len(grid)) if not unstable[i]] or list(range(len(grid)))
    score = [val_acc[i] if math.isfinite(val_acc[i]) else -math.inf for i in range(len(grid))]
    return float(grid[min(pool, key=lambda i: (-score[i], grid[i]))])


def choose(
    label: str, grid: Sequence[float], run: Callable[[float], RunOutcome], *, param: str = "lr"
) -> LrChoice:
    """Call ``run(value)`` (one training run on the tuning split) for every value of ``grid``
    and keep the one with the best validation accuracy (see :func:`pick_lr`)."""
    runs = [run(float(v)) for v in grid]
    val = [r.best_val_acc for r in runs]
    bad = [bool(r.diverged or r.nonfinite_steps) for r in runs]
    return LrChoice(label, [float(x) for x in grid], val, bad, pick_lr(grid, val, bad), param)


def choose_lr(
    label: str,
    build: Callable[[], nn.Module],
    data: DataSplits,
    grid: Sequence[float],
    *,
    seed: int,
    **run_kw: Any,
) -> LrChoice:
    """Train ``build()`` once per learning rate of ``grid`` and keep the best on validation.

    ``seed`` should be a tuning seed that none of the judged runs uses (and ``data`` its own
    split), so that the choice never sees the seeds or test rows the claims are judged on.
    ``run_kw`` goes to :func:`train_run`.
    """
    return choose(label, grid, lambda lr: train_run(label, build, data, seed=seed, lr=lr,
                                                    **run_kw))  # fmt: skip


def standardize(data: DataSplits) -> DataSplits:
    """Every feature to ``(x - mean) / std`` with the training split's mean and std (a feature
    constant on the training rows keeps std 1): no statistics leak from validation or test."""
    X = data.train.X  # (N, F)
    mu = X.mean(0, keepdim=True)  # (1, F)
    sd = X.std(0, keepdim=True)  # (1, F)
    sd = torch.where(sd > 0, sd, torch.ones_like(sd))

    def scale(split: Split) -> Split:
        return Split((split.X - mu) / sd, split.y)

    return dataclasses.replace(data, train=scale(data.train), val=scale(data.val),
                               test=scale(data.test))  # fmt: skip


def init_gradients(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> tuple[list[str], torch.Tensor]:
    """Per weight layer, the gradient norm ``||dL/dW_l||`` of the cross-entropy on one batch
    at the model's current weights (training mode, so batch norm uses batch statistics).

    Returns the layer names (input side first) and the norms, shape ``(L,)``.
    """
    model.train()
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(X), y).backward()  # X: (B, F) -> logits (B, C)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    norms = torch.stack([m.weight.grad.detach().norm() for _, m in layers])  # (L,)
    model.zero_grad(set_to_none=True)
    return [n for n, _ in layers], norms


def mean(values: Sequence[float]) -> float:
    """Mean of the finite values (NaN when none)."""
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else float("nan")


def layer_profile(runs: Sequence[RunOutcome]) -> list[float]:
    """Per-layer gradient norm: geometric mean over seeds of each run's per-layer median."""
    out = []
    for values in zip(*[r.layer_grads for r in runs], strict=True):
        logs = [math.log10(v) for v in values if math.isfinite(v) and v > 0]
        out.append(10 ** statistics.fmean(logs) if logs else float("nan"))
    return out


def row(runs: Sequence[RunOutcome], **extra: Any) -> dict[str, Any]:
    """One table row summarising a setup's runs (means over seeds)."""
    kinds = sorted({k for r in runs for k in r.doctor_kinds})
    doctor = ", ".join(f"{k} {sum(k in r.doctor_kinds for r in runs)}/{len(runs)}" for k in kinds)
    return {
        **extra,
        "log10_first_to_last": round(mean([r.log_ratio for r in runs]), 3),
        "first_grad_norm": mean([r.first_grad for r in runs]),
        "last_grad_norm": mean([r.last_grad for r in runs]),
        "max_grad_norm": max(r.max_grad for r in runs),
        "test_acc": round(mean([r.test_acc for r in runs]), 4),
        "nonfinite_steps": sum(r.nonfinite_steps for r in runs),
        "rollbacks": sum(r.rollbacks for r in runs),
        "diverged_runs": sum(r.diverged for r in runs),
        "doctor": doctor,  # kind and the share of seeds it was reported in
    }


def comparison_figure(
    runs: dict[str, Sequence[RunOutcome]], title: str, *, accuracy: bool = True
) -> Any:
    """Gradient flow (log scale) of each setup, and mean validation accuracy per epoch."""
    fig, axes = plt.subplots(1, 2 if accuracy else 1, figsize=(12 if accuracy else 7, 4))
    axes = list(axes) if accuracy else [axes]
    plot_gradient_flow({k: layer_profile(v) for k, v in runs.items()}, ax=axes[0],
                       title=f"{title}: gradient flow (median over steps)")  # fmt: skip
    if accuracy:
        ax = axes[1]
        for label, rs in runs.items():
            curves = [r.val_acc for r in rs if r.val_acc]
            if curves:
                n = min(len(c) for c in curves)
                ax.plot(range(1, n + 1), [mean([c[i] for c in curves]) for i in range(n)],
                        label=label)  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (mean over seeds)")
        ax.set_ylim(0, 1)
        ax.set_title(f"{title}: accuracy")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
