"""Default training metrics and the rule that picks them.

A metric is ``fn(outputs, targets) -> float`` over one batch (or the whole validation set).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

MetricFn = Callable[[torch.Tensor, torch.Tensor], float]


def _is_binary_target(outputs: torch.Tensor, targets: torch.Tensor) -> bool:
    """(N,) or (N, 1) logits with float 0/1 targets of the same number of elements."""
    if outputs.ndim == 2 and outputs.shape[1] != 1:
        return False
    if outputs.ndim not in (1, 2) or not targets.is_floating_point():
        return False
    return targets.numel() == outputs.shape[0]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions.

    Parameters
    ----------
    outputs : Tensor
        ``(N, C)`` class logits (prediction: ``argmax`` over ``C``), or ``(N,)``/``(N, 1)``
        binary logits (prediction: ``logit > 0``).
    targets : Tensor
        ``(N,)`` integer class labels, or ``(N,)``/``(N, 1)`` float 0/1 labels for binary logits.
    """
    if _is_binary_target(outputs, targets):
        pred = outputs.reshape(-1) > 0  # (N,)
        return (pred == (targets.reshape(-1) > 0.5)).float().mean().item()
    if outputs.ndim != 2 or targets.ndim != 1:
        raise ValueError(
            f"accuracy expects (N, C) logits with (N,) labels, got {tuple(outputs.shape)} "
            f"and {tuple(targets.shape)}"
        )
    return (outputs.argmax(dim=1) == targets).float().mean().item()


def default_metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, MetricFn]:
    """``{"acc": accuracy}`` for classification-shaped outputs/targets, else ``{}``.

    Classification means integer ``(N,)`` labels with ``(N, C)`` logits, or float 0/1 labels
    with ``(N,)``/``(N, 1)`` logits.
    """
    if not targets.is_floating_point() and outputs.ndim == 2 and targets.ndim == 1:
        return {"acc": _multiclass_accuracy}
    if _is_binary_target(outputs, targets):
        values = targets.detach()
        if bool(((values == 0) | (values == 1)).all()):
            return {"acc": accuracy}
    return {}


def _multiclass_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """:func:`accuracy` for ``(N, C)`` logits and ``(N,)`` labels, without the shape checks
    (the default metric runs on every batch; its shapes were checked once): the exact count
    of hits over ``N``."""
    hits = _host_hits(outputs, targets)
    if hits is None:
        hits = (outputs.argmax(dim=1) == targets).sum().item()
    return hits / targets.numel()


def _host_hits(outputs: torch.Tensor, targets: torch.Tensor) -> int | None:
    """Hits of ``(N, C)`` CPU logits against ``(N,)`` labels, counted on zero-copy NumPy views
    (NumPy's ``argmax`` breaks ties and treats NaN/Inf as torch's does); ``None`` when either
    is off the CPU or has no NumPy view (bfloat16, a tensor that requires grad)."""
    if not (outputs.is_cpu and targets.is_cpu):
        return None
    try:
        return int(np.count_nonzero(outputs.numpy().argmax(axis=1) == targets.numpy()))
    except (TypeError, RuntimeError):
        return None


def batch_logs(
    loss: float, outputs: torch.Tensor, targets: torch.Tensor, metrics: dict[str, MetricFn]
) -> dict[str, float]:
    """``{"loss": loss, <name>: fn(outputs, targets), ...}`` for one batch."""
    logs = {"loss": loss}
    for name, fn in metrics.items():
        logs[name] = float(fn(outputs, targets))
    return logs
