"""Learning-rate schedules for the Trainer: torch's own, plus linear warmup + cosine.

A schedule must be stepped at the right rate: per batch (warmup, one-cycle, cosine over steps)
or per epoch (step decay, exponential, plateau). :class:`Schedule` carries that choice with a
factory, because the optimizer and the number of steps are known only when ``fit`` starts::

    Trainer(model, loss_fn, "sgd", lr=0.1, scheduler=warmup_cosine(warmup_steps=100))

``Trainer(scheduler=...)`` also takes a built torch scheduler (stepped per epoch, except
``OneCycleLR``/``CyclicLR`` which are per batch) or ``ReduceLROnPlateau`` (stepped per epoch
with the validation loss, or the training loss when there is no validation data).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.optim import lr_scheduler

Interval = Literal["batch", "epoch"]
_PER_BATCH = (lr_scheduler.OneCycleLR, lr_scheduler.CyclicLR)


@dataclass
class Schedule:
    """A scheduler recipe: ``factory(optimizer, total) -> scheduler`` and its step interval.

    ``total`` is the number of scheduler steps in the fit: ``epochs * batches_per_epoch`` for
    ``interval="batch"``, ``epochs`` for ``interval="epoch"``.
    """

    factory: Callable[[torch.optim.Optimizer, int], Any]
    interval: Interval = "epoch"
    needs_total: bool = True  # False when the recipe fixes its own length

    def __post_init__(self) -> None:
        if self.interval not in ("batch", "epoch"):
            raise ValueError(f"interval must be 'batch' or 'epoch', got {self.interval!r}")


def warmup_cosine_factor(
    step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0
) -> float:
    r"""Multiplier of the base lr at ``step`` (0-based).

    .. math::
        f(t) = \begin{cases} (t+1)/W & t < W \\
        r + (1-r)\,\tfrac12\big(1+\cos(\pi\,\tfrac{t-W}{\max(1,T-W)})\big) & t \ge W \end{cases}

    with warmup ``W``, total ``T`` and floor ``r = min_lr_ratio``; ``f`` stays at ``r`` after
    ``T``.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(
    warmup_steps: int,
    total_steps: int | None = None,
    *,
    min_lr_ratio: float = 0.0,
    interval: Interval = "batch",
) -> Schedule:
    """Linear warmup over ``warmup_steps`` then cosine decay to ``min_lr_ratio * lr``.

    ``total_steps=None`` uses the fit's total (all epochs). See :func:`warmup_cosine_factor`.
    """
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")

    def factory(opt: torch.optim.Optimizer, total: int) -> lr_scheduler.LambdaLR:
        T = total_steps if total_steps is not None else total
        return lr_scheduler.LambdaLR(
            opt, lambda t: warmup_cosine_factor(t, warmup_steps, T, min_lr_ratio)
        )

    return Schedule(factory, interval, needs_total=total_steps is None)


def step_lr(step_size: int, gamma: float = 0.1) -> Schedule:
    """``torch.optim.lr_scheduler.StepLR``: multiply lr by ``gamma`` every ``step_size`` epochs."""
    return Schedule(
        lambda opt, _: lr_scheduler.StepLR(opt, step_size, gamma), "epoch", needs_total=False
    )


def exponential(gamma: float) -> Schedule:
    """``ExponentialLR``: multiply lr by ``gamma`` every epoch."""
    return Schedule(
        lambda opt, _: lr_scheduler.ExponentialLR(opt, gamma), "epoch", needs_total=False
    )


def cosine(eta_min: float = 0.0, *, interval: Interval = "epoch") -> Schedule:
    """``CosineAnnealingLR`` from lr to ``eta_min`` over the whole fit (per epoch or batch)."""
    return Schedule(
        lambda opt, total: lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=eta_min),
        interval,
    )


def one_cycle(max_lr: float, **kw: Any) -> Schedule:
    """``OneCycleLR`` over the whole fit, stepped per batch (``kw`` go to torch)."""
    return Schedule(
        lambda opt, total: lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, **kw),
        "batch",
    )


def reduce_on_plateau(factor: float = 0.1, patience: int = 10, **kw: Any) -> Schedule:
    """``ReduceLROnPlateau`` on the validation loss (training loss without validation data)."""
    return Schedule(
        lambda opt, _: lr_scheduler.ReduceLROnPlateau(opt, factor=factor, patience=patience, **kw),
        "epoch",
        needs_total=False,
    )


def build_scheduler(
    spec: Any, optimizer: torch.optim.Optimizer, batches_per_epoch: int | None, epochs: int
) -> tuple[Any, Interval]:
    """Turn ``Trainer(scheduler=...)`` into ``(scheduler, interval)``; ``(None, "epoch")``
    for no schedule. ``batches_per_epoch`` is ``None`` for a loader without a length."""
    if spec is None:
        return None, "epoch"
    if isinstance(spec, Schedule):
        if spec.interval == "batch" and spec.needs_total and batches_per_epoch is None:
            raise ValueError(
                "scheduler steps per batch over the whole fit, but train_data has no length: "
                "give the schedule its own total (e.g. warmup_cosine(..., total_steps=N)) or "
                "use a DataLoader with __len__"
            )
        total = (batches_per_epoch or 1) * epochs if spec.interval == "batch" else epochs
        return spec.factory(optimizer, total), spec.interval
    if isinstance(spec, (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)):
        if spec.optimizer is not optimizer:
            raise ValueError("scheduler was built on a different optimizer than the Trainer's")
        return spec, "batch" if isinstance(spec, _PER_BATCH) else "epoch"
    raise TypeError(
        "scheduler must be a deepdojo.train.schedules.Schedule, a torch LRScheduler or "
        f"ReduceLROnPlateau, got {type(spec).__name__}"
    )


def step_scheduler(scheduler: Any, metric: float | None = None) -> None:
    """One scheduler step; ``ReduceLROnPlateau`` gets ``metric`` (the loss to watch)."""
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        if metric is None:
            raise ValueError("ReduceLROnPlateau needs a loss to watch, got none")
        scheduler.step(metric)
    else:
        scheduler.step()
