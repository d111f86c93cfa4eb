"""GAN objectives: non-saturating, hinge and Wasserstein, plus the WGAN-GP gradient penalty.

Scores are the raw, unbounded outputs of the discriminator (critic), shape ``(B,)`` or
``(B, 1)``: logits for the non-saturating loss, critic values for hinge and Wasserstein. Every
loss is a mean over the batch. ``real`` is ``D(x)`` on data, ``fake`` is ``D(G(z))``.

=================  ==========================================  ===========================
kind               discriminator loss (minimized)               generator loss (minimized)
=================  ==========================================  ===========================
non_saturating     ``softplus(-real) + softplus(fake)``         ``softplus(-fake)``
                   ``= -log s(real) - log(1 - s(fake))``        ``= -log s(fake)``
hinge              ``relu(1 - real) + relu(1 + fake)``          ``-fake``
wasserstein        ``fake - real``                              ``-fake``
=================  ==========================================  ===========================

``s`` is the logistic sigmoid; ``softplus(t) = log(1 + e^t)`` is the numerically stable form
of ``-log s(-t)``. The non-saturating generator loss is Goodfellow et al.'s (2014) fix for
``log(1 - s(fake))``, whose gradient vanishes when the discriminator wins; hinge is Lim & Ye
(2017) as used by SNGAN/BigGAN; Wasserstein is Arjovsky et al. (2017), which needs a
Lipschitz critic: pair it with :func:`gradient_penalty` (Gulrajani et al., 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GAN_KINDS", "GANLoss", "gan_loss", "gradient_penalty"]

GAN_KINDS = ("non_saturating", "hinge", "wasserstein")

GANKind = Literal["non_saturating", "hinge", "wasserstein"]


def _scores(scores: Tensor, name: str) -> Tensor:
    """Check ``(B,)`` or ``(B, 1)`` scores and return them flattened to ``(B,)``."""
    if not isinstance(scores, Tensor):
        raise TypeError(f"{name} must be a tensor of scores, got {type(scores).__name__}")
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.ndim != 1 or scores.shape[0] < 1:
        raise ValueError(f"{name} must have shape (B,) or (B, 1), got {tuple(scores.shape)}")
    return scores


@dataclass(frozen=True)
class GANLoss:
    """The two halves of one GAN objective; build it with :func:`gan_loss`.

    Attributes
    ----------
    kind : str
        One of ``GAN_KINDS``.
    """

    kind: GANKind

    def discriminator(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Discriminator (critic) loss, a scalar, from scores ``(B_r,)`` and ``(B_f,)``.

        Detach the generator's samples before scoring them here so that this loss does not
        reach the generator's weights.
        """
        real = _scores(real_scores, "real_scores")
        fake = _scores(fake_scores, "fake_scores")
        if self.kind == "non_saturating":
            return F.softplus(-real).mean() + F.softplus(fake).mean()
        if self.kind == "hinge":
            return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
        return fake.mean() - real.mean()

    def generator(self, fake_scores: Tensor) -> Tensor:
        """Generator loss, a scalar, from the scores ``(B,)`` of generated samples."""
        fake = _scores(fake_scores, "fake_scores")
        if self.kind == "non_saturating":
            return F.softplus(-fake).mean()
        return -fake.mean()


def gan_loss(kind: str) -> GANLoss:
    """Return the :class:`GANLoss` for ``kind`` in ``GAN_KINDS`` (see the module table).

    Examples
    --------
    >>> loss = gan_loss("hinge")
    >>> d = loss.discriminator(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0]))
    >>> float(d)  # relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; relu(1-2)=0, relu(1+0)=1 -> 0.5
    0.75
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, one of {GAN_KINDS}, got {type(kind).__name__}")
    if kind not in GAN_KINDS:
        raise ValueError(f"kind must be one of {GAN_KINDS}, got {kind!r}")
    return GANLoss(kind)  # type: ignore[arg-type]


def gradient_penalty(
    critic: nn.Module,
    real: Tensor,
    fake: Tensor,
    *,
    target: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP two-sided gradient penalty (Gulrajani et al., 2017).

    .. math::
        \\hat x = \\alpha x + (1 - \\alpha) \\tilde x, \\quad \\alpha \\sim U[0, 1]
        \\text{ per sample}, \\qquad
        GP = \\frac{1}{B} \\sum_b \\left(\\lVert \\nabla_{\\hat x} D(\\hat x_b) \\rVert_2
        - t\\right)^2

    The gradient is taken with ``create_graph=True`` so that the penalty back-propagates into
    the critic's parameters. ``real`` and ``fake`` are detached: the penalty never reaches the
    generator. Multiply by ``lambda`` yourself (the paper uses 10). The per-sample gradient
    ``grad D(x_hat_b)`` is read off ``d sum_b D(x_hat_b) / d x_hat``, which is exact only for a
    critic that treats samples independently (no batch norm, as the paper requires). The
    inner gradient is not loss-scaled: under fp16 autocast a critic with tiny input
    gradients can underflow there (bf16 and fp32 cannot).

    Parameters
    ----------
    critic : nn.Module
        Maps ``(B, *)`` inputs to ``(B,)`` or ``(B, 1)`` scores.
    real, fake : Tensor, shape (B, *)
        Data and generated samples, same shape and dtype.
    target : float
        The norm ``t`` the gradient is pulled towards (1 for a 1-Lipschitz critic).
    generator : torch.Generator, optional
        Draws ``alpha``; must live on ``real``'s device. ``None`` uses the global RNG.

    Returns
    -------
    Tensor
        Scalar penalty, differentiable with respect to the critic's parameters.
    """
    if not isinstance(real, Tensor) or not isinstance(fake, Tensor):
        raise TypeError("real and fake must be tensors of shape (B, *)")
    if real.shape != fake.shape or real.ndim < 1 or real.shape[0] < 1:
        raise ValueError(
            f"real and fake must have the same (B, *) shape, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}"
        )
    if not real.dtype.is_floating_point:
        raise TypeError(f"real and fake must be floating point, got {real.dtype}")
    if isinstance(target, bool) or not isinstance(target, int | float):
        raise TypeError(f"target must be a number, got {type(target).__name__}")
    if not (math.isfinite(target) and target >= 0):
        raise ValueError(f"target must be a finite number >= 0, got {target}")
    batch = real.shape[0]
    alpha_shape = (batch,) + (1,) * (real.ndim - 1)  # (B, 1, ..., 1) broadcasts per sample
    alpha = torch.rand(alpha_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = _scores(critic(mixed), "critic(x_hat)")  # (B,)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)  # (B, *)
    norm = grad.reshape(batch, -1).norm(2, dim=1)  # (B,)
    return ((norm - target) ** 2).mean()
