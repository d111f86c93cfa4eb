"""Contrastive losses: NT-Xent (SimCLR).

Shapes (batch first): ``B`` pairs, ``D`` embedding size. ``z1[i]`` and ``z2[i]`` are the two
augmented views of item ``i``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["nt_xent"]

_REDUCTIONS = ("mean", "sum", "none")


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5, *, reduction: str = "mean") -> Tensor:
    """Normalized temperature-scaled cross entropy (Chen et al., SimCLR, ICML 2020).

    The two views are stacked into ``2B`` anchors ``z = [z1; z2]``. For anchor ``i`` its
    positive ``p(i)`` is the other view of the same item (``i + B`` modulo ``2B``); the other
    ``2B - 2`` embeddings are its negatives. With cosine similarity
    ``s_ij = z_i . z_j / (||z_i|| ||z_j||)``:

    .. math::
        \\ell_i = -\\log \\frac{\\exp(s_{i,p(i)} / \\tau)}
                              {\\sum_{k \\ne i} \\exp(s_{ik} / \\tau)}, \\qquad
        L = \\frac{1}{2B} \\sum_{i=1}^{2B} \\ell_i

    The anchor itself is left out of the denominator (``k != i``), as in the paper. Norms are
    clamped at ``1e-12`` (``F.normalize``), so an all-zero embedding gives similarity 0, not NaN.

    Parameters
    ----------
    z1, z2 : Tensor, shape (B, D)
        Embeddings (projection-head outputs) of the first and second view; ``B >= 1``.
    temperature : float
        ``tau > 0``. Smaller values sharpen the softmax over negatives; SimCLR uses 0.1-0.5.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns the ``(2B,)`` per-anchor losses ``ell`` in the order ``[z1; z2]``.

    Returns
    -------
    Tensor
        Scalar, or ``(2B,)`` with ``reduction="none"``.

    Examples
    --------
    >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    >>> nt_xent(z1, z2, temperature=0.1).shape
    torch.Size([])
    """
    if not isinstance(z1, Tensor) or not isinstance(z2, Tensor):
        raise TypeError("z1 and z2 must be tensors of shape (B, D)")
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 1:
        raise ValueError(
            f"z1 and z2 must both be (B, D) with the same shape and B >= 1, got "
            f"{tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    batch = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)  # (2B, D), unit rows
    logits = z @ z.T / temperature  # (2B, 2B): s_ik / tau
    self_mask = torch.eye(2 * batch, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # k != i
    positive = torch.arange(2 * batch, device=z.device).roll(batch)  # p(i) = i + B mod 2B
    loss = F.cross_entropy(logits, positive, reduction="none")  # (2B,)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
