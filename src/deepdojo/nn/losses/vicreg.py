r"""VICReg: variance-invariance-covariance regularisation (Bardes, Ponce & LeCun, ICLR 2022).

A non-contrastive self-supervised loss: no negatives, collapse is prevented by keeping every
embedding dimension's spread up and the dimensions decorrelated. Shapes (batch first): ``N``
pairs, ``D`` embedding size; ``z1[i]`` and ``z2[i]`` embed two views of item ``i``.

.. math::
    s(Z_1, Z_2) &= \frac{1}{N D} \sum_i \|z_{1,i} - z_{2,i}\|^2
        \quad\text{(invariance: mean squared error)} \\
    v(Z) &= \frac{1}{D} \sum_j \max\big(0, \gamma - \sqrt{\operatorname{Var}(Z_{:,j})
        + \epsilon}\big) \quad\text{(variance; unbiased Var over the batch)} \\
    c(Z) &= \frac{1}{D} \sum_{j \ne k} C(Z)_{jk}^2, \quad
        C(Z) = \frac{1}{N-1} (Z - \bar Z)^\top (Z - \bar Z) \quad\text{(covariance)} \\
    \ell &= \lambda\, s(Z_1, Z_2) + \mu\, \tfrac12 [v(Z_1) + v(Z_2)] + \nu\, [c(Z_1) + c(Z_2)]

with the paper's defaults :math:`\lambda = \mu = 25`, :math:`\nu = 1`, :math:`\gamma = 1`,
:math:`\epsilon = 10^{-4}`. The variance term is averaged over the two branches and the
covariance term summed, as in the authors' reference code (``facebookresearch/vicreg``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor

__all__ = ["VICRegTerms", "vicreg_loss", "vicreg_terms"]


class VICRegTerms(NamedTuple):
    """The three unweighted terms: ``invariance`` s, ``variance`` (v1 + v2) / 2 and
    ``covariance`` c1 + c2, each a scalar tensor."""

    invariance: Tensor
    variance: Tensor
    covariance: Tensor


def _variance(z: Tensor, gamma: float, eps: float) -> Tensor:
    std = (z.var(dim=0) + eps).sqrt()  # (D,): unbiased variance over the batch
    return F.relu(gamma - std).mean()


def _covariance(z: Tensor) -> Tensor:
    n, d = z.shape
    zc = z - z.mean(dim=0)  # (N, D)
    cov = zc.T @ zc / (n - 1)  # (D, D)
    off = cov - cov.diagonal().diag_embed()  # off-diagonal entries only
    return off.pow(2).sum() / d


def _check_number(value: object, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value}")
    return float(value)


def vicreg_terms(z1: Tensor, z2: Tensor, *, gamma: float = 1.0, eps: float = 1e-4) -> VICRegTerms:
    """The invariance, variance and covariance terms of two ``(N, D)`` embeddings, ``N >= 2``."""
    if not isinstance(z1, Tensor) or not isinstance(z2, Tensor):
        raise TypeError("z1 and z2 must be tensors of shape (N, D)")
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError(f"z1 and z2 must both be (N, D) with the same shape and N >= 2, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")  # fmt: skip
    gamma = _check_number(gamma, "gamma", positive=True)
    eps = _check_number(eps, "eps", positive=False)
    invariance = F.mse_loss(z1, z2)  # s(Z1, Z2)
    variance = (_variance(z1, gamma, eps) + _variance(z2, gamma, eps)) / 2  # (v1 + v2) / 2
    covariance = _covariance(z1) + _covariance(z2)  # c1 + c2
    return VICRegTerms(invariance, variance, covariance)


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg loss ``sim_coeff * s + std_coeff * v + cov_coeff * c`` (see the module docstring).

    Parameters
    ----------
    z1, z2 : Tensor, shape (N, D)
        Expander (projection-head) outputs of the two views; ``N >= 2``.
    sim_coeff, std_coeff, cov_coeff : float
        ``lambda, mu, nu >= 0``; the paper's 25, 25, 1.
    gamma : float
        Target standard deviation per dimension (``> 0``).
    eps : float
        Added to the variance before the square root (``>= 0``), keeps the gradient finite.

    Examples
    --------
    >>> z1, z2 = torch.randn(16, 8), torch.randn(16, 8)
    >>> vicreg_loss(z1, z2).shape
    torch.Size([])
    """
    weights = [_check_number(w, n, positive=False) for w, n in
               ((sim_coeff, "sim_coeff"), (std_coeff, "std_coeff"), (cov_coeff, "cov_coeff"))]
    terms = vicreg_terms(z1, z2, gamma=gamma, eps=eps)
    lam, mu, nu = weights
    return lam * terms.invariance + mu * terms.variance + nu * terms.covariance
