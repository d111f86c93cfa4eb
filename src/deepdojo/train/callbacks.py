"""Trainer callbacks: hooks named after the steps of a training step.

The Trainer calls, in order::

    on_fit_start
      on_epoch_start
        on_batch_start -> forward, loss -> backward -> on_after_backward
          -> (non-finite check [-> on_rollback]) -> (clip) -> on_before_optimizer_step
          -> step, zero_grad
          -> on_batch_end
      (validation) -> on_validation_end
      on_epoch_end
    on_fit_end          (on_exception instead, when fit raises)

A task with several optimizers runs the part from backward to zero_grad once per update
(``trainer.current_optimizer`` names the optimizer being updated), all between one
``on_batch_start`` and its ``on_batch_end``.

Every hook receives the trainer first; subclass :class:`Callback` and override what you need.
A step rejected by the non-finite guard skips the clip/step part and ``on_batch_end`` gets
``logs = {"loss": nan-or-inf, "skipped": 1.0}``.
A callback may set ``trainer.should_stop = True`` to end training after the current epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from deepdojo.train.trainer import Trainer


class Callback:
    """Base class with no-op hooks. ``logs``/``metrics`` dicts may be extended in place."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch (model already on its device)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Before the first batch of ``epoch`` (0-based)."""

    def on_batch_start(self, trainer: Trainer, batch_idx: int, batch: Any) -> None:
        """Before the forward pass of one batch."""

    def on_after_backward(self, trainer: Trainer) -> None:
        """Gradients are populated and not yet clipped: the place to inspect them."""

    def on_rollback(self, trainer: Trainer, event: dict[str, Any]) -> None:
        """The non-finite guard just restored every network and optimizer from its snapshot;
        ``event`` is the ``rollback`` record added to ``trainer.history.events``."""

    def on_before_optimizer_step(self, trainer: Trainer, optimizer: torch.optim.Optimizer) -> None:
        """After clipping, just before ``optimizer.step()``."""

    def on_batch_end(self, trainer: Trainer, batch_idx: int, logs: dict[str, Any]) -> None:
        """After the step; ``logs`` holds at least ``loss`` (a float) for this batch."""

    def on_validation_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        """After validation; ``metrics`` holds ``val_loss`` and other ``val_*`` values."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """End of ``epoch``; ``logs`` is the history record for it (add keys freely)."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """After the last epoch (or an early stop)."""

    def on_exception(self, trainer: Trainer, exc: BaseException) -> None:
        """``fit`` is raising ``exc`` (NonFiniteError, KeyboardInterrupt...): release what
        ``on_fit_start`` took (hooks, files). ``on_fit_end`` is not called then."""


HOOKS = (
    "on_fit_start", "on_epoch_start", "on_batch_start", "on_after_backward",
    "on_rollback", "on_before_optimizer_step", "on_batch_end", "on_validation_end", "on_epoch_end",
    "on_fit_end", "on_exception",
)  # fmt: skip


def bind_hooks(callbacks: Sequence[Callback]) -> dict[str, list[Callable[..., None]]]:
    """Per hook name, the bound methods of the callbacks that override it, in order.

    Callbacks that keep the no-op base method are left out, so an unused hook costs nothing.
    """
    bound: dict[str, list[Callable[..., None]]] = {}
    for name in HOOKS:
        base = getattr(Callback, name)
        bound[name] = [getattr(cb, name) for cb in callbacks if getattr(type(cb), name) is not base]
    return bound
