"""The adversarial task: a generator and a discriminator (critic) updated in alternation.

Per training step, with real batches ``X_b`` of shape ``(B, *)`` and ``z ~ p(z)``::

    for i in range(n_critic):                   # the critic may update several times
        X_b = X_b if i == 0 else next_batch()   # each extra real batch counts in the data position
        x_fake = G(z).detach()                  # (B, *): no gradient reaches G here
        L_D = D-loss(D(X_b), D(x_fake)) [+ gp_weight * GP(D, X_b, x_fake)]
        yield "d", L_D                          # the Trainer steps D before G's loss is built
    L_G = G-loss(D(G(z')))
    yield "g", L_G

**Conditional GANs** (``conditional=True``): batches are ``(X_b, c_b)`` with a condition per
sample (integer labels ``(B,)`` or vectors ``(B, E)``); both networks take it as a second
argument, ``G(z, c)`` and ``D(x, c)``, and the fakes of a step use the real batch's conditions,
so that ``D`` compares real and generated samples of the same conditions::

    L_D = D-loss(D(X_b, c_b), D(G(z, c_b).detach(), c_b));   L_G = G-loss(D(G(z', c_b), c_b))

The losses come from :func:`deepdojo.nn.losses.gan_loss` (non-saturating, hinge or
Wasserstein) and the penalty from :func:`deepdojo.nn.losses.gradient_penalty` (WGAN-GP).
Latents are drawn from torch's global RNG, which the Trainer seeds and checkpoints.
The task logs ``d_real`` (mean ``D(x)``), ``d_fake`` (mean ``D(G(z))``) and, with a penalty,
``gp``; the history has ``train_loss_d`` and ``train_loss_g``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from deepdojo.nn.losses import gan_loss, gradient_penalty
from deepdojo.train.task import Task
from deepdojo.train.tasks._common import (
    OptimizerSpec,
    build_optimizer,
    check_optimizer_spec,
    check_positive,
    inputs_of,
)

__all__ = ["AdversarialTask"]

LatentSampler = Callable[[int, torch.device], Tensor]


class AdversarialTask(Task):
    """Train a GAN: ``generator`` maps latents to samples, ``discriminator`` scores samples.

    Parameters
    ----------
    generator : nn.Module
        ``(B, latent_dim) -> (B, *)``, the shape of a real batch.
    discriminator : nn.Module
        ``(B, *) -> (B,)`` or ``(B, 1)`` unbounded scores (logits for the non-saturating loss).
    latent_dim : int
        Size of ``z ~ N(0, I)``; ignored when ``latent`` is given.
    kind : {"non_saturating", "hinge", "wasserstein"}
        The objective (see :mod:`deepdojo.nn.losses.gan`).
    n_critic : int
        Discriminator updates per generator update; each after the first pulls a fresh real
        batch with ``next_batch()``, so an epoch has about ``batches / n_critic`` steps.
    gp_weight : float, optional
        Weight ``lambda`` of the WGAN-GP gradient penalty; default 10 for ``"wasserstein"``
        (WGAN-GP) and 0 (off) for the others.
    g_optimizer, d_optimizer : str, torch optimizer or callable
        Names (with ``lr``, ``betas``), built optimizers, or factories ``params -> optimizer``.
    lr, d_lr : float
        Learning rates of named optimizers; ``d_lr`` defaults to ``lr``.
    betas : (float, float)
        Adam's betas for named Adam optimizers; GANs use a low ``beta1`` (0.5; WGAN-GP 0, 0.9).
    latent : callable, optional
        ``latent(n, device) -> (n, ...)`` latents, instead of ``N(0, I)`` of ``latent_dim``.
    schedulers : dict, optional
        ``{"d": spec, "g": spec}`` (either or both): learning-rate schedules, anything
        ``Trainer(scheduler=...)`` takes, e.g. ``schedules.cosine()`` to settle the end.
    conditional : bool
        Batches are ``(X_b, c_b)`` and both networks take the condition (see the module).
    """

    latent: LatentSampler | None  # kept outside the module tree (a plain callable)

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        latent_dim: int,
        *,
        kind: str = "non_saturating",
        n_critic: int = 1,
        gp_weight: float | None = None,
        g_optimizer: OptimizerSpec = "adam",
        d_optimizer: OptimizerSpec = "adam",
        lr: float = 2e-4,
        d_lr: float | None = None,
        betas: Sequence[float] = (0.5, 0.999),
        latent: LatentSampler | None = None,
        schedulers: Mapping[str, Any] | None = None,
        conditional: bool = False,
    ) -> None:
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(net).__name__}")
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be an int >= 1, got {latent_dim!r}")
        if isinstance(n_critic, bool) or not isinstance(n_critic, int) or n_critic < 1:
            raise ValueError(f"n_critic must be an int >= 1, got {n_critic!r}")
        if latent is not None and not callable(latent):
            raise TypeError(f"latent must be callable (n, device) -> tensor, got {latent!r}")
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.objective = gan_loss(kind)  # validates kind
        self.n_critic = n_critic
        default_gp = 10.0 if kind == "wasserstein" else 0.0
        self.gp_weight = check_positive(
            default_gp if gp_weight is None else gp_weight, "gp_weight", allow_zero=True
        )
        self.g_spec = check_optimizer_spec(g_optimizer, "g_optimizer")
        self.d_spec = check_optimizer_spec(d_optimizer, "d_optimizer")
        self.lr = check_positive(lr, "lr")
        self.d_lr = self.lr if d_lr is None else check_positive(d_lr, "d_lr")
        if len(betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        object.__setattr__(self, "latent", latent)
        self.schedulers = dict(schedulers or {})
        if not isinstance(conditional, bool):
            raise TypeError(f"conditional must be a bool, got {type(conditional).__name__}")
        self.conditional = conditional
        if not set(self.schedulers) <= {"d", "g"}:
            raise ValueError(
                f"schedulers keys must be 'd' and/or 'g', got {sorted(self.schedulers)}"
            )

    @property
    def kind(self) -> str:
        """The objective's name, one of ``GAN_KINDS``."""
        return self.objective.kind

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        def named(spec: OptimizerSpec, net: nn.Module, lr: float) -> torch.optim.Optimizer:
            kwargs: Mapping[str, Any] = {"betas": self.betas} if spec in ("adam", "adamw") else {}
            return build_optimizer(spec, net, lr, kwargs)

        return {
            "d": named(self.d_spec, self.discriminator, self.d_lr),
            "g": named(self.g_spec, self.generator, self.lr),
        }

    def configure_schedulers(self) -> dict[str, Any]:
        return dict(self.schedulers)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def sample_latent(self, n: int, device: torch.device | None = None) -> Tensor:
        """``n`` latents ``z`` on ``device`` (the task's by default), from the global RNG."""
        if device is None:
            device = next(self.generator.parameters()).device
        if self.latent is not None:
            return self.latent(n, device)
        return torch.randn(n, self.latent_dim, device=device)  # (n, latent_dim)

    @torch.no_grad()
    def sample(self, n: int, cond: Tensor | None = None) -> Tensor:
        """``n`` generated samples ``G(z[, cond])``, shape ``(n, *)``, without gradients;
        a conditional task needs ``cond`` (``(n,)`` labels or ``(n, E)`` vectors)."""
        if self.conditional and cond is None:
            raise ValueError("a conditional task samples with cond: (n,) labels or (n, E) vectors")
        return self.generator(*self._args(self.sample_latent(n), cond))

    def _args(self, x: Tensor, cond: Tensor | None) -> tuple[Tensor, ...]:
        return (x, cond) if self.conditional and cond is not None else (x,)

    def _split(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """``(X_b, c_b)`` of a conditional task, ``(X_b, None)`` otherwise."""
        if not self.conditional:
            return inputs_of(batch), None
        if not (isinstance(batch, tuple | list) and len(batch) >= 2
                and all(isinstance(t, Tensor) for t in batch[:2])):
            raise TypeError("a conditional AdversarialTask needs (X_b, c_b) batches")
        return batch[0], batch[1]

    def discriminator_loss(self, real: Tensor, cond: Tensor | None = None
                           ) -> tuple[Tensor, dict[str, Tensor]]:
        """``L_D`` on one real batch (with its conditions), and the statistics to log."""
        z = self.sample_latent(real.shape[0], real.device)
        fake = self.generator(*self._args(z, cond)).detach()
        real_scores = self.discriminator(*self._args(real, cond))
        fake_scores = self.discriminator(*self._args(fake, cond))
        loss = self.objective.discriminator(real_scores, fake_scores)
        stats = {"d_real": real_scores.detach().mean(), "d_fake": fake_scores.detach().mean()}
        if self.gp_weight > 0 and torch.is_grad_enabled():
            critic = self.discriminator if cond is None else _Conditioned(self.discriminator, cond)
            penalty = gradient_penalty(critic, real, fake)
            loss = loss + self.gp_weight * penalty
            stats["gp"] = penalty.detach()
        return loss, stats

    def generator_loss(self, batch_size: int, device: torch.device,
                       cond: Tensor | None = None) -> Tensor:
        """``L_G`` on ``batch_size`` fresh latents (and the batch's conditions)."""
        fake = self.generator(*self._args(self.sample_latent(batch_size, device), cond))
        return self.objective.generator(self.discriminator(*self._args(fake, cond)))

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        real, cond = self._split(batch)
        stats: dict[str, Tensor] = {}
        for i in range(self.n_critic):
            if i:
                real, cond = self._split(self.next_batch())  # EndOfEpoch ends the step here
            loss, stats = self.discriminator_loss(real, cond)
            yield "d", loss
        yield "g", self.generator_loss(real.shape[0], real.device, cond)
        for name, value in stats.items():  # the last critic update's statistics
            self.log(name, value)

    def validation_step(self, batch: Any) -> dict[str, float]:
        real, cond = self._split(batch)
        d_loss, stats = self.discriminator_loss(real, cond)
        g_loss = self.generator_loss(real.shape[0], real.device, cond)
        return {"d_loss": float(d_loss), "g_loss": float(g_loss),
                **{name: float(value) for name, value in stats.items()}}  # fmt: skip

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.generator(*self._args(z, cond))


class _Conditioned(nn.Module):
    """``x -> D(x, c)`` for a fixed batch of conditions (the gradient penalty's critic)."""

    def __init__(self, discriminator: nn.Module, cond: Tensor) -> None:
        super().__init__()
        self.discriminator, self.cond = discriminator, cond

    def forward(self, x: Tensor) -> Tensor:
        return self.discriminator(x, self.cond)
