"""Helpers shared by the built-in tasks: optimizer specs and batch unpacking."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from deepdojo.train.optim import make_optimizer

OptimizerSpec = (
    str | torch.optim.Optimizer | Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
)


def check_optimizer_spec(spec: Any, name: str = "optimizer") -> OptimizerSpec:
    """A :func:`make_optimizer` name, a built optimizer, or a factory ``params -> optimizer``."""
    if not isinstance(spec, str | torch.optim.Optimizer) and not callable(spec):
        raise TypeError(
            f"{name} must be an optimizer name ('adam', 'sgd', ...), a torch optimizer or a "
            f"callable params -> torch.optim.Optimizer, got {type(spec).__name__}"
        )
    return spec


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return float(value)


def build_optimizer(
    spec: OptimizerSpec, module: nn.Module, lr: float, kwargs: Mapping[str, Any] | None
) -> torch.optim.Optimizer:
    """The optimizer of ``module`` from a name (with ``lr`` and ``kwargs``) or a factory; a
    built optimizer is returned as it is."""
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if isinstance(spec, str):
        return make_optimizer(spec, module, lr, **dict(kwargs or {}))
    optimizer = spec(module.parameters())
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"the optimizer factory returned {type(optimizer).__name__}")
    return optimizer


def inputs_of(batch: Any) -> Tensor:
    """The inputs of a batch: a bare tensor ``X_b`` or the first item of ``(X_b, y_b)``."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, tuple | list) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise TypeError(f"batches must be tensors X_b or (X_b, y_b) pairs, got {type(batch).__name__}")
