"""The supervised task: ``loss_fn(model(inputs), targets)`` with one optimizer.

``Trainer(model, loss_fn, optimizer, ...)`` builds this task; ``Trainer(SupervisedTask(...))``
is the same run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from deepdojo.train.metrics import (
    MetricFn,
    _multiclass_accuracy,
    batch_logs,
    default_metrics,
)
from deepdojo.train.optim import make_optimizer
from deepdojo.train.task import Task


class SupervisedTask(Task):
    """Fit ``model`` to ``(inputs, targets)`` batches: one update per batch.

    Per batch ``(X_b, y_b)`` with ``X_b`` of shape ``(B, ...)``::

        outputs = model(X_b)                                  # (B, ...)
        loss = loss_fn(outputs, y_b) [+ regularizer(model)]   # scalar
        yield "model", loss                                   # the Trainer steps here
        log metrics(outputs, y_b)                             # only when the step was applied

    Parameters
    ----------
    model : nn.Module
        The network (the task's only one, named ``"model"``).
    loss_fn : callable
        ``loss_fn(outputs, targets) -> scalar tensor``.
    optimizer : torch.optim.Optimizer or str
        An optimizer over ``model``'s parameters, or a :func:`make_optimizer` name built with
        ``lr``.
    lr : float
        Learning rate when ``optimizer`` is a name.
    scheduler : Schedule, torch LRScheduler, ReduceLROnPlateau or None
        The optimizer's schedule (see :mod:`deepdojo.train.schedules`).
    regularizer : callable or None
        ``regularizer(model) -> scalar`` added to the loss before backward.
    metrics : dict or None
        ``name -> fn(outputs, targets) -> float``; ``None``: accuracy for classification-shaped
        outputs and targets (decided on the first batch).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer | str = "adam",
        *,
        lr: float = 1e-3,
        scheduler: Any = None,
        regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
        metrics: dict[str, MetricFn] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        super().__init__()
        self.model = model
        # loss_fn and regularizer stay outside the module tree (as with the plain Trainer:
        # never moved, never in a checkpoint)
        object.__setattr__(self, "loss_fn", loss_fn)
        object.__setattr__(self, "regularizer", regularizer)
        self.optimizer = (optimizer if isinstance(optimizer, torch.optim.Optimizer)
                          else make_optimizer(optimizer, model, lr))  # fmt: skip
        self.scheduler = scheduler
        self.metric_fns: dict[str, MetricFn] | None = metrics
        self.set_forward(model)

    def set_forward(self, forward: Callable[..., torch.Tensor]) -> None:
        """The callable that runs ``model`` in training (the model, compiled or DDP-wrapped);
        kept outside the module tree, so checkpoints hold the plain model only."""
        object.__setattr__(self, "forward_fn", forward)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.optimizer}

    def configure_schedulers(self) -> dict[str, Any]:
        return {} if self.scheduler is None else {"model": self.scheduler}

    def networks(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def training_step(self, batch: Any) -> Iterator[tuple[str, torch.Tensor]]:
        inputs, targets = _pair(batch)
        # 1. forward: outputs (B, ...)
        outputs = self.forward_fn(inputs)
        # 2. loss: the data term, plus an explicit penalty (L1/L2) when configured
        loss = self.loss_fn(outputs, targets)
        if self.regularizer is not None:
            loss = loss + self.regularizer(self.model)
        applied = yield "model", loss
        # 10. log: the batch metrics, for an applied step only
        if applied:
            if self.metric_fns is None:
                self.metric_fns = default_metrics(outputs, targets)
            fns = self.metric_fns
            if fns:
                detached = outputs.detach()
                defer = getattr(self._context, "defer_accuracy", None)
                if defer is not None and len(fns) == 1 and fns.get("acc") is _multiclass_accuracy:
                    defer("acc", detached, targets)  # scored in bulk (same value) or at once
                    return
                for name, fn in fns.items():
                    self.log(name, float(fn(detached, targets)))

    def validation_step(self, batch: Any) -> dict[str, float]:
        inputs, targets = _pair(batch)
        outputs = self.model(inputs)
        if self.metric_fns is None:
            self.metric_fns = default_metrics(outputs, targets)
        return batch_logs(float(self.loss_fn(outputs, targets)), outputs, targets,
                          self.metric_fns)  # fmt: skip

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)


def _pair(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError("the supervised task needs (inputs, targets) batches, got "
                        f"{type(batch).__name__}")  # fmt: skip
    return batch[0], batch[1]
