"""The VAE objective (negative ELBO) with a weight ``beta`` on the KL term (beta-VAE).

Convention: every term is a **sum over features and a mean over the batch**, so the numbers are
per-sample nats (up to the constant of the Gaussian likelihood for ``"mse"``) and do not change
with the batch size. Means over features would shrink the reconstruction term by the number of
pixels and silently act like a large ``beta``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor

__all__ = ["RECONSTRUCTIONS", "VAELoss", "gaussian_kl", "reconstruction_loss", "vae_loss"]

RECONSTRUCTIONS = ("mse", "bce", "bce_logits")


class VAELoss(NamedTuple):
    """Terms of :func:`vae_loss`, each a scalar tensor; ``total = reconstruction + beta * kl``."""

    total: Tensor
    reconstruction: Tensor
    kl: Tensor


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """Per-sample ``KL(N(mu, diag(exp(logvar))) || N(0, I))``, shape ``(B,)``.

    .. math::
        KL_b = -\\tfrac12 \\sum_j \\left(1 + \\log\\sigma_{bj}^2 - \\mu_{bj}^2
        - \\sigma_{bj}^2\\right)

    ``mu`` and ``logvar`` have shape ``(B, Z)`` (extra dimensions are summed like ``Z``).
    """
    if not isinstance(mu, Tensor) or not isinstance(logvar, Tensor):
        raise TypeError("mu and logvar must be tensors of shape (B, Z)")
    if mu.shape != logvar.shape or mu.ndim < 2:
        raise ValueError(
            f"mu and logvar must have the same (B, Z) shape, got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}"
        )
    terms = 1.0 + logvar - mu.pow(2) - logvar.exp()  # (B, Z)
    return -0.5 * terms.flatten(1).sum(dim=1)  # (B,)


def vae_loss(
    recon: Tensor,
    target: Tensor,
    mu: Tensor,
    logvar: Tensor,
    *,
    beta: float = 1.0,
    reconstruction: str = "mse",
) -> VAELoss:
    """Negative ELBO with a ``beta``-weighted KL (Kingma & Welling 2014; Higgins et al. 2017).

    .. math::
        R = \\frac1B \\sum_b \\sum_j r(\\hat x_{bj}, x_{bj}), \\qquad
        KL = \\frac1B \\sum_b KL_b, \\qquad
        L = R + \\beta \\, KL

    with ``r`` one of

    - ``"mse"``: ``(x_hat - x)^2`` (a unit-variance Gaussian decoder, up to constants);
    - ``"bce"``: ``-x log x_hat - (1 - x) log(1 - x_hat)``; ``recon`` holds probabilities;
    - ``"bce_logits"``: the same with ``x_hat = sigmoid(recon)``, computed stably from logits.

    and ``KL_b`` from :func:`gaussian_kl`.

    Parameters
    ----------
    recon, target : Tensor, shape (B, *)
        Decoder output and the input it reconstructs; same shape. For the BCE kinds ``target``
        lies in ``[0, 1]``.
    mu, logvar : Tensor, shape (B, Z)
        Encoder mean and log-variance of ``q(z | x)``.
    beta : float
        KL weight, ``>= 0``; ``1`` is the plain VAE.
    reconstruction : {"mse", "bce", "bce_logits"}

    Returns
    -------
    VAELoss
        ``(total, reconstruction, kl)``, scalars; log ``reconstruction`` and ``kl`` apart.
    """
    if isinstance(beta, bool) or not isinstance(beta, int | float):
        raise TypeError(f"beta must be a number, got {type(beta).__name__}")
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    rec = reconstruction_loss(recon, target, reconstruction)
    kl_per_sample = gaussian_kl(mu, logvar)  # (B,)
    if kl_per_sample.shape[0] != recon.shape[0]:
        raise ValueError(
            f"mu has batch size {kl_per_sample.shape[0]} but recon has {recon.shape[0]}"
        )
    kl = kl_per_sample.mean()
    return VAELoss(total=rec + beta * kl, reconstruction=rec, kl=kl)


def reconstruction_loss(recon: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    """Reconstruction error summed over features and averaged over the batch.

    .. math:: R = \\frac1B \\sum_b \\sum_j r(\\hat x_{bj}, x_{bj})

    with ``r`` the squared error (``"mse"``), the binary cross entropy on probabilities
    (``"bce"``) or on logits (``"bce_logits"``); the reconstruction term of :func:`vae_loss`.

    Parameters
    ----------
    recon, target : Tensor, shape (B, *)
        Same shape; for the BCE kinds ``target`` lies in ``[0, 1]``.
    kind : {"mse", "bce", "bce_logits"}

    Returns
    -------
    Tensor, scalar.
    """
    if kind not in RECONSTRUCTIONS:
        raise ValueError(f"reconstruction must be one of {RECONSTRUCTIONS}, got {kind!r}")
    if not isinstance(recon, Tensor) or not isinstance(target, Tensor):
        raise TypeError("recon and target must be tensors of shape (B, *)")
    if recon.shape != target.shape or recon.ndim < 1:
        raise ValueError(
            f"recon and target must have the same (B, *) shape, got {tuple(recon.shape)} and "
            f"{tuple(target.shape)}"
        )
    target = target.to(recon.dtype)
    if kind == "mse":
        per_element = (recon - target).pow(2)
    elif kind == "bce":
        per_element = F.binary_cross_entropy(recon, target, reduction="none")
    else:
        per_element = F.binary_cross_entropy_with_logits(recon, target, reduction="none")
    return per_element.reshape(recon.shape[0], -1).sum(dim=1).mean()  # sum features, mean batch
