"""Activation monitor: per-layer activation mean/std, saturated and dead fractions.

It hooks the model's activation modules only while attached (``attach()``/``detach()`` or a
``with`` block); a detached monitor leaves no hook behind and costs nothing.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch import nn

_SATURATING: dict[type[nn.Module], str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
_RECTIFIERS = (nn.ReLU, nn.ReLU6)  # zero output and zero gradient below 0: units can die
# negative inputs still pass a gradient: mean/std only, never "dead"
_LEAKY = (nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.CELU, nn.SELU, nn.PReLU, nn.Mish)
ACTIVATION_STATS = ("mean", "std", "saturated", "dead")
ACTIVATION_KINDS = ("sigmoid", "tanh", "rectifier", "leaky")


def _check_eps(eps: float) -> None:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a number in (0, 0.5), got {eps!r} ({type(eps).__name__})")
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps!r}")


def _activation_kind(module: nn.Module) -> str | None:
    for cls, kind in _SATURATING.items():
        if isinstance(module, cls):
            return kind
    if isinstance(module, _RECTIFIERS):
        return "rectifier"
    return "leaky" if isinstance(module, _LEAKY) else None


def activation_stats(y: torch.Tensor, kind: str, eps: float = 0.02) -> torch.Tensor:
    r"""``[mean, std, saturated, dead]`` of one activation output ``y`` of shape ``(B, C, *S)``.

    * ``saturated`` (sigmoid, tanh): fraction of entries within ``eps`` of a bound:
      :math:`y < \epsilon` or :math:`y > 1-\epsilon` (sigmoid), :math:`|y| > 1-\epsilon`
      (tanh): there the derivative is below ~8% (sigmoid) or ~4% (tanh) of its peak.
    * ``dead`` (``kind="rectifier"``: ReLU, ReLU6): fraction of units (dim 1: features or
      channels) that are never positive anywhere in the batch, so they pass no gradient.
      ``kind="leaky"`` (LeakyReLU, ELU, GELU, SiLU, ...) gets mean and std only: a negative
      input still passes a gradient there, so no unit is dead.

    ``kind`` is one of :data:`ACTIVATION_KINDS` (``sigmoid``, ``tanh``, ``rectifier``,
    ``leaky``). The statistic that does not apply to ``kind`` is NaN. Returns a 0-sync ``(4,)``
    tensor.
    """
    if kind not in ACTIVATION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ACTIVATION_KINDS)}, got {kind!r}")
    _check_eps(eps)
    y = y.detach().float()
    nan = torch.full((), float("nan"), device=y.device)
    mean, std = y.mean(), y.std(correction=0)
    saturated, dead = nan, nan
    if kind == "sigmoid":
        saturated = ((y < eps) | (y > 1 - eps)).float().mean()
    elif kind == "tanh":
        saturated = (y.abs() > 1 - eps).float().mean()
    elif kind == "rectifier":
        units = y.transpose(0, 1).reshape(y.shape[1], -1) if y.ndim > 1 else y.reshape(1, -1)
        dead = 1.0 - (units > 0).any(dim=1).float().mean()  # (C, B*S) -> never positive
    return torch.stack([mean, std, saturated, dead])


class ActivationMonitor:
    """Per-layer activation mean/std, fraction saturated and fraction of dead units.

    Watches every activation *module* of the model (sigmoid, tanh, ReLU and its leaky or
    smooth relatives; activations applied functionally, e.g. ``F.relu``, are invisible to it)
    with forward hooks installed only while attached. See :func:`activation_stats` for the
    definitions.

    Parameters
    ----------
    model : nn.Module
        The model to watch.
    every : int
        Record every ``every``-th forward pass of ``model`` (counted from 0).
    eps : float
        Saturation margin (see :func:`activation_stats`).
    training_only : bool
        Record only forward passes made in training mode (skips validation passes).
    """

    def __init__(self, model: nn.Module, every: int = 1, *, eps: float = 0.02,
                 training_only: bool = False) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        _check_eps(eps)
        if not isinstance(training_only, bool):
            raise TypeError(f"training_only must be a bool, got {training_only!r}")
        self.model, self.every, self.eps, self.training_only = model, every, eps, training_only
        self.layer_names: list[str] = []
        self.kinds: list[str] = []
        self.records: list[tuple[int, int, torch.Tensor]] = []  # (pass, layer, (4,) stats)
        self._handles: list[Any] = []
        self._pass = -1

    @property
    def attached(self) -> bool:
        """Whether hooks are installed."""
        return bool(self._handles)

    def attach(self) -> ActivationMonitor:
        """Install the forward hooks (idempotent) and return ``self``."""
        if self.attached:
            return self
        found = [(n, m, _activation_kind(m)) for n, m in self.model.named_modules()]
        found = [(n, m, k) for n, m, k in found if k is not None]
        self.layer_names = [n for n, _, _ in found]
        self.kinds = [k for _, _, k in found]
        self._handles = [self.model.register_forward_pre_hook(self._on_pass)]
        for i, (_, module, kind) in enumerate(found):
            self._handles.append(module.register_forward_hook(self._make_hook(i, kind)))
        return self

    def detach(self) -> None:
        """Remove every hook; recorded numbers stay readable."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> ActivationMonitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def _on_pass(self, module: nn.Module, args: Any) -> None:
        if not (self.training_only and not module.training):
            self._pass += 1

    def _make_hook(self, index: int, kind: str) -> Any:
        def hook(module: nn.Module, args: Any, output: torch.Tensor) -> None:
            if self.training_only and not module.training:
                return
            if self._pass % self.every == 0 and isinstance(output, torch.Tensor):
                self.records.append((self._pass, index, activation_stats(output, kind, self.eps)))

        return hook

    def latest(self) -> dict[str, dict[str, Any]]:
        """Each layer's last record: ``{layer: {"kind", "mean", "std", "saturated", "dead"}}``."""
        last: dict[int, torch.Tensor] = {}
        for _, index, stats in self.records:
            last[index] = stats
        if not last:
            return {}
        values = torch.stack(list(last.values())).double().cpu().tolist()  # one host sync
        out = {}
        for index, row in zip(last, values, strict=True):
            entry: dict[str, Any] = {"kind": self.kinds[index]}
            entry.update(zip(ACTIVATION_STATS, row, strict=True))
            out[self.layer_names[index]] = entry
        return out

    def history(self, stat: str) -> torch.Tensor:
        """``(passes, layers)`` float64 matrix of ``stat`` (NaN where a layer was not seen)."""
        if stat not in ACTIVATION_STATS:
            raise ValueError(f"stat must be one of {', '.join(ACTIVATION_STATS)}, got {stat!r}")
        passes = sorted({p for p, _, _ in self.records})
        row_of = {p: i for i, p in enumerate(passes)}
        out = torch.full((len(passes), len(self.layer_names)), float("nan"), dtype=torch.float64)
        if self.records:
            col = ACTIVATION_STATS.index(stat)
            values = torch.stack([s[col] for _, _, s in self.records]).double().cpu()
            for (p, index, _), v in zip(self.records, values, strict=True):
                out[row_of[p], index] = v
        return out
