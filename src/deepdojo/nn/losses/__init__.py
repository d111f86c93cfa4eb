"""deepdojo.nn.losses: imbalance, generative (GAN, VAE) and contrastive losses.

- ``imbalance``: focal, class-balanced, logit-adjusted and LDAM losses;
- ``gan``: :func:`gan_loss` (non-saturating, hinge, Wasserstein) and :func:`gradient_penalty`;
- ``vae``: :func:`vae_loss` (reconstruction + beta * KL, terms returned apart);
- ``contrastive``: :func:`nt_xent` (SimCLR);
- ``vicreg``: :func:`vicreg_loss`, :func:`vicreg_terms` (VICReg, non-contrastive).
"""

from deepdojo.nn.losses.contrastive import nt_xent
from deepdojo.nn.losses.gan import GAN_KINDS, GANLoss, gan_loss, gradient_penalty
from deepdojo.nn.losses.imbalance import (
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    effective_number_weights,
)
from deepdojo.nn.losses.vae import (
    RECONSTRUCTIONS,
    VAELoss,
    gaussian_kl,
    reconstruction_loss,
    vae_loss,
)
from deepdojo.nn.losses.vicreg import VICRegTerms, vicreg_loss, vicreg_terms

__all__ = [
    "GAN_KINDS",
    "RECONSTRUCTIONS",
    "ClassBalancedLoss",
    "FocalLoss",
    "GANLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "VAELoss",
    "VICRegTerms",
    "effective_number_weights",
    "gan_loss",
    "gaussian_kl",
    "gradient_penalty",
    "nt_xent",
    "reconstruction_loss",
    "vae_loss",
    "vicreg_loss",
    "vicreg_terms",
]
