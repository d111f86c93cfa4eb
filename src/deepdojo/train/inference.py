"""Evaluation and prediction for the Trainer: batched, no-grad, in eval mode."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

from deepdojo.train.data import InMemoryData, loader_batches, make_data
from deepdojo.train.metrics import MetricFn, default_metrics

PRECISIONS = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class InferenceMixin:
    """``evaluate`` and ``predict``; the Trainer provides the attributes declared here."""

    model: nn.Module
    device: torch.device
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    _eval_forward: Callable[..., torch.Tensor]
    _metric_fns: dict[str, MetricFn] | None

    precision: str

    def _autocast(self) -> AbstractContextManager[Any]:
        """Autocast to the ``precision`` dtype, or a no-op context for ``"32"``."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _prepare(self, data: Any, name: str) -> InMemoryData | Any:
        batches = make_data(data, name)
        return batches.to(self.device) if isinstance(batches, InMemoryData) else batches

    @torch.no_grad()
    def _outputs(self, data: Any, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batches = self._prepare(data, "data")
        was_training = self.model.training
        self.model.eval()
        try:
            if isinstance(batches, InMemoryData):
                it: Iterable[Any] = batches.batches(batch_size, None)
            else:
                it = loader_batches(batches)
            for inputs, targets in it:
                with self._autocast():
                    outputs = self._eval_forward(inputs.to(self.device))
                yield outputs, targets.to(self.device)
        finally:
            self.model.train(was_training)

    def evaluate(self, data: Any, batch_size: int = 256) -> dict[str, float]:
        """Mean loss and metrics over ``data`` (DataLoader or ``(X, y)``), in eval mode.

        The loss is the batch-size-weighted mean of ``loss_fn`` over batches; metrics are
        computed once on all outputs ``(N, ...)`` and targets.
        """
        outs, tgts, loss_sum, n = [], [], 0.0, 0
        with torch.no_grad():
            for outputs, targets in self._outputs(data, batch_size):
                with self._autocast():
                    loss_sum += self.loss_fn(outputs, targets).item() * len(targets)
                n += len(targets)
                outs.append(outputs.float())
                tgts.append(targets)
        outputs, targets = torch.cat(outs), torch.cat(tgts)
        if self._metric_fns is None:
            self._metric_fns = default_metrics(outputs, targets)
        result = {"loss": loss_sum / n}
        result.update({k: float(fn(outputs, targets)) for k, fn in self._metric_fns.items()})
        return result

    def predict(self, data: Any, batch_size: int = 256) -> torch.Tensor:
        """Raw model outputs for ``data``, concatenated on the CPU: shape ``(N, ...)``.

        ``data`` is a DataLoader of ``(inputs, targets)``, an ``(X, y)`` pair, or a bare tensor
        ``X`` of shape ``(N, ...)``.
        """
        if isinstance(data, torch.Tensor):
            data = (data, torch.zeros(len(data)))
        return torch.cat([o.float().cpu() for o, _ in self._outputs(data, batch_size)])
