r"""Explicit L1/L2 penalties added to the loss.

For weights :math:`w` selected from a model (by default every weight matrix/kernel, no biases
and no normalization parameters)::

    l1_penalty(w) = \sum_i |w_i|
    l2_penalty(w) = \sum_i w_i^2

and :class:`Regularizer` adds :math:`\lambda_1 \sum|w| + \lambda_2 \sum w^2` to the loss, whose
gradient :math:`\lambda_1\,\mathrm{sign}(w) + 2\lambda_2 w` then flows through the optimizer.

L2 penalty vs decoupled weight decay
------------------------------------
With plain SGD, an L2 penalty :math:`\lambda_2\sum w^2` and weight decay
:math:`w \leftarrow w - \eta\,\mathrm{wd}\,w` are the same thing with
:math:`\mathrm{wd} = 2\lambda_2`. With an adaptive optimizer they are not: Adam divides the
penalty's gradient :math:`2\lambda_2 w` by :math:`\sqrt{\hat v}` like any other gradient, so
weights with large, noisy gradients are barely regularized. *Decoupled* weight decay (AdamW,
Loshchilov & Hutter 2019) shrinks every weight by :math:`\eta\,\mathrm{wd}\,w` outside the
adaptive update, giving the same relative shrinkage to all weights. Use ``Regularizer`` when
you want the penalty to be part of the objective (it shows up in the loss, works with any
optimizer, and L1 exists only in this form); use ``make_optimizer("adamw", ...,
weight_decay=...)`` for decoupled decay.

Subgradient vs proximal L1
--------------------------
The penalty's (sub)gradient :math:`\lambda_1\,\mathrm{sign}(w)` pushes a weight by a fixed
step each update, so a weight near zero jumps back and forth across zero and is almost never
exactly zero. The *proximal* step of :math:`\tau\sum|w|` (:func:`prox_l1_`, soft
thresholding, used by ISTA/proximal SGD after a plain gradient step on the data loss),

    w \leftarrow \mathrm{sign}(w)\,\max(|w| - \tau, 0),\qquad \tau = \eta\,\lambda_1,

sets every weight with :math:`|w| \le \tau` to exactly zero: it is the minimizer of
:math:`\tfrac12 (w - v)^2 + \tau |w|` over :math:`w` for the pre-step value :math:`v`.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

_NORM_TYPES = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.RMSNorm,
)


def bias_and_norm_names(model: nn.Module) -> set[str]:
    """Qualified names of every bias, every normalization-layer parameter and every other
    1-D parameter (scales, shifts) of ``model``: the ones penalties and weight decay skip."""
    names: set[str] = set()
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if isinstance(module, _NORM_TYPES) or p_name.endswith("bias") or p.ndim <= 1:
                names.add(full)
    return names


def penalized_parameters(model: nn.Module, include_bias: bool = False) -> list[nn.Parameter]:
    """Trainable parameters of ``model`` a penalty applies to (see :func:`bias_and_norm_names`)."""
    skip = set() if include_bias else bias_and_norm_names(model)
    return [p for n, p in model.named_parameters() if p.requires_grad and n not in skip]


def _stack(params: Iterable[torch.Tensor], name: str) -> list[torch.Tensor]:
    tensors = list(params)
    if not tensors:
        raise ValueError(f"{name} needs at least one tensor, got none")
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} expects tensors, got {type(t).__name__}")
    return tensors


def l1_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    r""":math:`\sum_i |w_i|` over every element of every tensor in ``params`` (a 0-d tensor)."""
    tensors = _stack(params, "l1_penalty")
    return torch.stack([t.abs().sum() for t in tensors]).sum()


def l2_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    r""":math:`\sum_i w_i^2` (no 1/2 factor, no square root) over ``params`` (a 0-d tensor)."""
    tensors = _stack(params, "l2_penalty")
    return torch.stack([t.pow(2).sum() for t in tensors]).sum()


def prox_l1_(params: Iterable[torch.Tensor], threshold: float) -> int:
    r"""Proximal step of :math:`\tau \sum|w|` in place (soft thresholding); returns the zeros.

    For every element :math:`w` of every tensor in ``params``::

        w <- sign(w) * max(|w| - tau, 0)

    the minimizer of :math:`\tfrac12 (u - w)^2 + \tau |u|` over :math:`u`: every weight with
    :math:`|w| \le \tau` becomes exactly 0, the others move :math:`\tau` towards 0. Called
    after an optimizer step with :math:`\tau = \eta \lambda_1` (learning rate times the L1
    strength) it turns SGD into proximal SGD for the L1-penalized loss.

    Parameters
    ----------
    params : iterable of tensors
        Modified in place (under ``torch.no_grad``), any shape.
    threshold : float
        :math:`\tau \ge 0`; 0 leaves the values unchanged.

    Returns
    -------
    int
        How many elements are exactly zero afterwards, over all tensors.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold must be a number, got {threshold!r}")
    if not threshold >= 0:  # also refuses NaN
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    zeros = 0
    with torch.no_grad():
        for t in _stack(params, "prox_l1_"):
            t.copy_(t.sign() * (t.abs() - threshold).clamp_min(0))
            zeros += int((t == 0).sum())
    return zeros


class Regularizer:
    r"""Penalty :math:`\lambda_1 \sum|w| + \lambda_2 \sum w^2` on a model's weights.

    Parameters
    ----------
    l1, l2 : float
        Strengths :math:`\lambda_1, \lambda_2 \ge 0`.
    include_bias : bool
        Also penalize biases and normalization parameters (excluded by default).

    Examples
    --------
    >>> model = nn.Linear(3, 2)
    >>> reg = Regularizer(l2=1e-3)
    >>> penalty = reg(model)  # 0-d tensor, add it to the loss
    >>> bool(torch.isclose(penalty, 1e-3 * model.weight.pow(2).sum()))
    True

    ``Trainer(..., regularizer=Regularizer(l1=1e-4))`` adds it to every training loss.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, include_bias: bool = False) -> None:
        for name, value in (("l1", l1), ("l2", l2)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.include_bias = include_bias

    def __call__(self, model: nn.Module) -> torch.Tensor:
        """The penalty for ``model``'s current weights (differentiable, 0-d)."""
        params = penalized_parameters(model, self.include_bias)
        penalty = torch.zeros((), device=params[0].device if params else None)
        if self.l1 and params:
            penalty = penalty + self.l1 * l1_penalty(params)
        if self.l2 and params:
            penalty = penalty + self.l2 * l2_penalty(params)
        return penalty

    def __repr__(self) -> str:
        return f"Regularizer(l1={self.l1}, l2={self.l2}, include_bias={self.include_bias})"
