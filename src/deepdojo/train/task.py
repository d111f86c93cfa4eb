"""What a Task is: the training work of one kind of model, run by the one Trainer.

A :class:`Task` is an ``nn.Module`` that owns its networks (as attributes) and says how to
train them. The Trainer owns everything around it: the data order, devices, precision, the
non-finite guard, clipping, checkpoints, DDP, callbacks, progress and logs.

The contract
------------
``configure_optimizers() -> dict[str, Optimizer]``
    One torch optimizer per name (``{"d": ..., "g": ...}``), over the task's parameters.
    Called once, by the Trainer's constructor, after the task moved to its device.
``configure_schedulers() -> dict[str, spec]`` (optional, default none)
    Per optimizer name, anything ``Trainer(scheduler=...)`` accepts: a
    :class:`~deepdojo.train.schedules.Schedule` (built on that optimizer; a per-batch schedule
    counts batches of the epoch), a torch ``LRScheduler`` or ``ReduceLROnPlateau`` built on it.
``training_step(batch)`` — a generator of ``(optimizer_name, loss)`` pairs
    One pair per update. For each pair the Trainer runs its full step sequence before it asks
    for the next pair: backward -> ``on_after_backward`` -> non-finite check (-> skip, or
    rollback) -> clip -> ``on_before_optimizer_step`` -> step (+ GradScaler update, per-batch
    schedule) -> zero_grad. So a GAN reads::

        def training_step(self, batch):
            yield "d", self.d_loss(batch)    # D is stepped before the next line runs
            yield "g", self.g_loss(batch)

    The ``yield`` expression evaluates to ``True`` when the update was applied and ``False``
    when the guard skipped it (non-finite loss or gradients): ``applied = yield "d", loss``.
    A skipped update skips only that optimizer's step. Between yields the code runs under
    the Trainer's autocast (``precision``). Gradients of every parameter of the task are
    cleared after each update, so a loss only ever sees its own gradients.
``validation_step(batch) -> dict[str, float]``
    Metrics of one validation batch (no grad, eval mode). ``Trainer.evaluate`` averages them
    over batches, weighted by batch size; the history stores them as ``val_<name>``.

Inside ``training_step`` a task may call

- ``self.log(name, value)``: an extra scalar (KL, ``D(x)``, ``D(G(z))``) for this step. The
  epoch record gets ``train_<name>``, the batch-size-weighted mean over the epoch's steps.
- ``self.next_batch()``: pull one more batch from the epoch's data (a critic taking several
  steps per generator step). Every batch pulled counts in the data position, so a resumed run
  continues exactly where the interrupted one stopped. When the epoch has no batch left, the
  training step ends there (updates already made stay) and so does the epoch.

What the history records per step: ``loss`` for a one-optimizer task; with several
optimizers ``loss_<name>`` for each (the mean when one optimizer updates several times in a
step) and ``loss``, the loss of the step's last update. A skipped update's loss stays out of
the epoch means.

``networks()`` names the networks for per-network reports (the Doctor); by default the
task's direct sub-modules that have parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import nn


class EndOfEpoch(Exception):
    """Raised by :meth:`Task.next_batch` when the epoch's data is used up."""


class StepContext(Protocol):
    """What the Trainer lends a task during ``fit`` (see :meth:`Task.log`, :meth:`next_batch`)."""

    def log(self, name: str, value: float) -> None: ...

    def next_batch(self) -> Any: ...


class Task(nn.Module):
    """Base class of a training task (module docstring: the contract).

    Subclasses build their networks in ``__init__`` (as attributes, so they are sub-modules)
    and implement :meth:`configure_optimizers` and :meth:`training_step`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._context: StepContext | None = None

    # ------------------------------------------------------------------ to implement
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``name -> optimizer`` over this task's parameters."""
        raise NotImplementedError(f"{type(self).__name__} must implement configure_optimizers()")

    def configure_schedulers(self) -> dict[str, Any]:
        """``name -> schedule spec`` for some of the optimizers (default: none)."""
        return {}

    def training_step(self, batch: Any) -> Iterator[tuple[str, torch.Tensor]]:
        """Yield ``(optimizer_name, scalar loss)`` once per update (module docstring)."""
        raise NotImplementedError(f"{type(self).__name__} must implement training_step(batch)")

    def validation_step(self, batch: Any) -> dict[str, float]:
        """Metrics of one validation batch (default: none)."""
        return {}

    def networks(self) -> dict[str, nn.Module]:
        """``name -> network``: the direct sub-modules that have parameters."""
        return {name: m for name, m in self.named_children() if any(True for _ in m.parameters())}

    # ------------------------------------------------------------------ lent by the Trainer
    def log(self, name: str, value: float | torch.Tensor) -> None:
        """Record an extra scalar for this training step (history key ``train_<name>``)."""
        if self._context is None:
            raise RuntimeError("Task.log() is only available inside training_step during fit")
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        if isinstance(value, torch.Tensor):
            value = value.detach()
        self._context.log(name, float(value))

    def next_batch(self) -> Any:
        """One more batch of this epoch, on the Trainer's device (counts in the position).

        Raises :class:`EndOfEpoch` (handled by the Trainer) when the epoch has none left.
        """
        if self._context is None:
            raise RuntimeError("Task.next_batch() is only available inside training_step")
        return self._context.next_batch()

    def bind(self, context: StepContext | None) -> None:
        """Lend (or, with ``None``, take back) the Trainer's step context."""
        object.__setattr__(self, "_context", context)
