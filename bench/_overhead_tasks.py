"""The GAN and contrastive cases of ``trainer_overhead.py``: the built-in tasks and hand-written
loops doing the same work (same networks, losses, optimizers, augmentations, logged scalars)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

# trainer variant -> the hand loop it is compared with
PAIRS: dict[str, list[tuple[str, str]]] = {
    "mlp": [("trainer(DL)", "loop(DL)"), ("trainer(DL)+bar", "loop(DL)"),
            ("trainer(mem)", "loop(mem)"), ("trainer(mem)+bar", "loop(mem)"),
            ("loop(mem)'", "loop(mem)")],  # A/A: a twin of the hand loop (the noise floor)
    "gan": [("trainer(gan)", "loop(gan)")],
    "ssl": [("trainer(ssl)", "loop(ssl)")],
}  # fmt: skip
LATENT = 8
# where the hand loops call zero_grad (--hand-zero-grad, set by the parent for its children):
# "last", after the step, as issue 13 lists the hand loop and as the Trainer's step runs; or
# "first", between the loss and backward, which keeps the gradients through the next forward
ZERO_GRAD_ENV = "DEEPDOJO_BENCH_ZERO_GRAD"


def zero_grad_first(first: bool | None = None) -> bool:
    """Whether a hand loop calls ``zero_grad`` before ``backward`` (else after the step):
    ``first`` when given, else as ``--hand-zero-grad`` said (``both``: after the step)."""
    return os.environ.get(ZERO_GRAD_ENV, "last") == "first" if first is None else first


class HandEpoch:
    """One epoch of a hand-written loop (called), and the networks it trains (``modules``:
    for the test that both ``zero_grad`` orders train them alike)."""

    def __init__(self, one_epoch: Callable[[], None], *modules: nn.Module) -> None:
        self.one_epoch, self.modules = one_epoch, modules

    def __call__(self) -> None:
        self.one_epoch()


def gan_data(n: int = 2048) -> torch.Tensor:
    """``(n, 2)`` points from a ring of 8 Gaussians (radius 2, sigma 0.02)."""
    g = torch.Generator().manual_seed(0)
    angle = torch.randint(0, 8, (n,), generator=g).float() * (2 * math.pi / 8)
    centers = torch.stack([angle.cos(), angle.sin()], dim=1) * 2.0  # (n, 2)
    return centers + 0.02 * torch.randn(n, 2, generator=g)


def _gan_nets() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(LATENT, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                      nn.Linear(128, 2))  # fmt: skip
    d = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128),
                      nn.LeakyReLU(0.2), nn.Linear(128, 1))  # fmt: skip
    return g, d


def make_gan() -> nn.Module:
    from deepdojo.train.tasks import AdversarialTask

    g, d = _gan_nets()
    return AdversarialTask(g, d, LATENT, kind="non_saturating", lr=2e-4)


def hand_gan(data: torch.Tensor, batch: int, first: bool | None = None) -> HandEpoch:
    """One epoch of the non-saturating GAN written out: D step, then G step, per batch."""
    from deepdojo.nn.losses import gan_loss

    g, d = _gan_nets()
    objective = gan_loss("non_saturating")
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    first = zero_grad_first(first)

    def one_epoch() -> None:
        order = torch.randperm(len(data), generator=gen)
        for lo in range(0, len(data), batch):
            real = data[order[lo : lo + batch]]
            fake = g(torch.randn(len(real), LATENT)).detach()
            real_scores, fake_scores = d(real), d(fake)
            loss_d = objective.discriminator(real_scores, fake_scores)
            if first:  # (D's gradients from the last G loss go here too)
                opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if not first:
                opt_d.zero_grad()
            loss_d.item()
            loss_g = objective.generator(d(g(torch.randn(len(real), LATENT))))
            if first:
                opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            if not first:  # G's loss reached D's weights too: cleared, as the Trainer does
                opt_g.zero_grad()
                for p in d_params:  # (a bare loop, as the Trainer's: no zero_grad wrapper)
                    p.grad = None
            loss_g.item()
            real_scores.detach().mean().item(), fake_scores.detach().mean().item()  # logged

    d_params = list(d.parameters())
    return HandEpoch(one_epoch, g, d)


def _ssl_nets() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64))
    head = nn.Sequential(nn.ReLU(), nn.Linear(64, 32))
    return encoder, head


def make_ssl() -> nn.Module:
    from deepdojo.train.tasks import ContrastiveTask

    encoder, head = _ssl_nets()
    return ContrastiveTask(encoder, head, temperature=0.5, lr=1e-3)


def hand_ssl(data: torch.Tensor, batch: int, first: bool | None = None) -> HandEpoch:
    """One epoch of SimCLR written out: two views, one forward, NT-Xent, the alignment."""
    from deepdojo.data.augment import two_views
    from deepdojo.nn.losses import nt_xent
    from deepdojo.train.tasks.contrastive import default_views

    encoder, head = _ssl_nets()
    augment = default_views()
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    first = zero_grad_first(first)

    def one_epoch() -> None:
        order = torch.randperm(len(data), generator=gen)
        for lo in range(0, len(data), batch):
            x = data[order[lo : lo + batch]]
            v1, v2 = two_views(x, augment, None)
            z = head(encoder(torch.cat([v1, v2])))  # (2B, D)
            z1, z2 = z[: len(x)], z[len(x) :]
            loss = nt_xent(z1, z2, 0.5)
            if first:
                opt.zero_grad()
            loss.backward()
            opt.step()
            if not first:
                opt.zero_grad()
            loss.item()
            F.cosine_similarity(z1.detach(), z2.detach(), dim=1).mean().item()  # logged

    return HandEpoch(one_epoch, encoder, head)
