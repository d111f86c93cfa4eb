"""Training runs shared by the gradient labs (vanishing-gradients, exploding-gradients,
skip-connections).

One training run = one model trained with SGD + momentum through the Trainer, with the Doctor
attached (its GradientMonitor records every ``doctor_every`` steps, before clipping). We keep
the numbers the labs judge: test accuracy, the per-step first-to-last gradient ratio, the
per-layer gradient norms, the doctor's findings and the non-finite guard's events.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepdojo.data import DataSplits
from deepdojo.diagnose import Doctor, plot_gradient_flow
from deepdojo.labs.framework import plt
from deepdojo.train import NonFiniteError, Trainer, make_optimizer
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
    **trainer_kw: Any,
) -> RunOutcome:
    """Seed, build the model, train it with the Doctor attached and collect the outcome.

    ``trainer_kw`` goes to :class:`~deepdojo.train.Trainer` (``clip``, ``scheduler``,
    ``regularizer``, ``guard``).
    """
    seed_everything(seed)
    model = build()
    opt = make_optimizer("sgd", model, lr, momentum=momentum)
    doctor = Doctor(every=doctor_every, report=None)
    trainer = Trainer(model, nn.functional.cross_entropy, opt, callbacks=[doctor],
                      device=device, seed=seed, progress="off", **trainer_kw)  # fmt: skip
    diverged = False
    try:
        trainer.fit(data.train, data.val, epochs=epochs, batch_size=batch_size)
    except NonFiniteError:  # the Doctor detached its monitors (on_exception)
        diverged = True
    test_acc = float(trainer.evaluate(data.test)["acc"])
    grads = doctor.gradients.grad_norms  # (S, L)
    events = trainer.history.events
    bad = torch.where(torch.isfinite(grads), grads, torch.full_like(grads, math.inf))
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
        val_acc=[float(r.get("val_acc", float("nan"))) for r in trainer.history.records],
    )  # fmt: skip


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
