"""The reconstruction task: autoencoders (plain, denoising, masked) and VAEs with a beta.

The target is the input itself. Per batch ``X_b`` of shape ``(B, *)``::

    X_in = corrupt(X_b)                          # identity, noise, mask, or your augmentation
    plain AE:  X_hat = model(X_in)               # (B, *)
               loss = R(X_hat, X_b)
    VAE:       X_hat, mu, logvar = model(X_in)   # (B, *), (B, Z), (B, Z)
               loss = R(X_hat, X_b) + beta * KL  # KL logged apart, as train_kl
    yield "model", loss

``R`` is :func:`deepdojo.nn.losses.reconstruction_loss`: the error summed over features and
averaged over the batch, so an autoencoder's loss and a VAE's reconstruction term are in the
same units (per-sample sums; divide by the number of features for a per-element MSE).
Corruption draws from torch's global RNG, which the Trainer seeds and checkpoints, so a resumed
run sees the same noise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from deepdojo.data.augment import Augmentation, Compose, GaussianNoise, Mask
from deepdojo.nn.losses import RECONSTRUCTIONS, reconstruction_loss, vae_loss
from deepdojo.train.task import Task
from deepdojo.train.tasks._common import (
    OptimizerSpec,
    build_optimizer,
    check_optimizer_spec,
    check_positive,
    inputs_of,
)

__all__ = ["ReconstructionTask"]


class ReconstructionTask(Task):
    """Train ``model`` to reconstruct its (possibly corrupted) input.

    Parameters
    ----------
    model : nn.Module
        ``(B, *) -> (B, *)``; with ``vae=True``, ``(B, *) -> (recon, mu, logvar)`` where the
        model itself samples ``z = mu + exp(logvar / 2) * eps`` (reparameterization).
    reconstruction : {"mse", "bce", "bce_logits"}
        The per-element error ``r`` (see :func:`deepdojo.nn.losses.reconstruction_loss`).
    noise_std : float
        Denoising: add ``N(0, noise_std^2)`` noise to the input (0: off).
    mask_fraction : float
        Masked: zero one random patch covering this fraction of each input (0: off); see
        :class:`deepdojo.data.augment.Mask`. With both, the mask comes first.
    corrupt : callable, optional
        Any ``(x, generator) -> x`` augmentation instead of ``noise_std``/``mask_fraction``.
    vae : bool
        The model is a VAE: add ``beta * KL(q(z|x) || N(0, I))`` and log ``kl`` and
        ``reconstruction`` separately.
    beta : float
        KL weight (``>= 0``; 1 is the plain VAE, > 1 the beta-VAE).
    optimizer : str or callable
        A :func:`deepdojo.train.make_optimizer` name or a factory ``params -> optimizer``.
    lr : float
        Learning rate for a named optimizer.
    optimizer_kwargs : dict, optional
        Extra keywords for a named optimizer (``weight_decay``, ``betas``, ...).
    scheduler : optional
        A learning-rate schedule, anything ``Trainer(scheduler=...)`` takes.

    Examples
    --------
    >>> ae = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 64))
    >>> task = ReconstructionTask(ae, noise_std=0.1)   # a denoising autoencoder
    >>> # Trainer(task).fit(X, epochs=10)               # bare X: the target is X itself
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        reconstruction: str = "mse",
        noise_std: float = 0.0,
        mask_fraction: float = 0.0,
        corrupt: Augmentation | None = None,
        vae: bool = False,
        beta: float = 1.0,
        optimizer: OptimizerSpec = "adam",
        lr: float = 1e-3,
        optimizer_kwargs: Mapping[str, Any] | None = None,
        scheduler: Any = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(
                f"reconstruction must be one of {RECONSTRUCTIONS}, got {reconstruction!r}"
            )
        if not isinstance(vae, bool):
            raise TypeError(f"vae must be a bool, got {type(vae).__name__}")
        noise_std = check_positive(noise_std, "noise_std", allow_zero=True)
        mask_fraction = check_positive(mask_fraction, "mask_fraction", allow_zero=True)
        if corrupt is not None and (noise_std or mask_fraction):
            raise ValueError("give either corrupt or noise_std/mask_fraction, not both")
        if corrupt is not None and not callable(corrupt):
            raise TypeError(f"corrupt must be callable, got {type(corrupt).__name__}")
        super().__init__()
        self.model = model
        self.reconstruction = reconstruction
        self.vae = vae
        self.beta = check_positive(beta, "beta", allow_zero=True)
        self.optimizer_spec = check_optimizer_spec(optimizer)
        self.lr = check_positive(lr, "lr")
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        if corrupt is None:
            steps: list[Augmentation] = []
            if mask_fraction:
                steps.append(Mask(mask_fraction))
            if noise_std:
                steps.append(GaussianNoise(noise_std))
            corrupt = Compose(steps) if steps else None
        self.corrupt = corrupt
        self.scheduler = scheduler

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": build_optimizer(self.optimizer_spec, self.model, self.lr,
                                         self.optimizer_kwargs)}  # fmt: skip

    def configure_schedulers(self) -> dict[str, Any]:
        return {} if self.scheduler is None else {"model": self.scheduler}

    def networks(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def corrupted(self, inputs: Tensor) -> Tensor:
        """The model's input: ``corrupt(inputs)`` drawn from the global RNG, or ``inputs``."""
        return inputs if self.corrupt is None else self.corrupt(inputs, None)

    def losses(self, inputs: Tensor) -> dict[str, Tensor]:
        """``loss`` (what is minimized) and, for a VAE, ``reconstruction`` and ``kl``."""
        output = self.model(self.corrupted(inputs))
        if not self.vae:
            if not isinstance(output, Tensor):
                raise TypeError("the model returned a tuple: pass vae=True for (recon, mu, logvar)")
            return {"loss": reconstruction_loss(output, inputs, self.reconstruction)}
        if not isinstance(output, tuple | list) or len(output) != 3:
            raise TypeError("with vae=True the model must return (recon, mu, logvar)")
        recon, mu, logvar = output
        terms = vae_loss(recon, inputs, mu, logvar, beta=self.beta,
                         reconstruction=self.reconstruction)  # fmt: skip
        return {"loss": terms.total, "reconstruction": terms.reconstruction, "kl": terms.kl}

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        terms = self.losses(inputs_of(batch))
        applied = yield "model", terms["loss"]
        if applied and self.vae:
            self.log("reconstruction", terms["reconstruction"].detach())
            self.log("kl", terms["kl"].detach())

    def validation_step(self, batch: Any) -> dict[str, float]:
        return {name: float(value) for name, value in self.losses(inputs_of(batch)).items()}

    def forward(self, inputs: Tensor) -> Any:
        return self.model(inputs)
