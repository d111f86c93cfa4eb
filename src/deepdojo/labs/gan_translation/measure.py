"""Measurements of the ``gan-translation`` lab: data, the paired and unpaired tasks, the scores.

Images are grayscale in ``[0, 1]``, ``(N, 1, 16, 16)``: scikit-learn's 8x8 digits (``/16``)
upsampled bilinearly to 16x16. Paired: ``edges(x) -> x``. Unpaired: digits ``A`` and their
thickened versions ``B = dilate(A')`` of *other* digits ``A'`` (no pairs are ever shown).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.labs.shared.adversarial import fit_adversarial
from deepdojo.metrics.generative import gradient_spectrum_distance, ssim
from deepdojo.models import PatchDiscriminator, UNetGenerator
from deepdojo.train.task import Task

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


# ---------------------------------------------------------------- data
def digits16() -> tuple[Tensor, Tensor]:
    """sklearn's digits as ``(1797, 1, 16, 16)`` float32 in [0, 1] and labels ``(1797,)``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False).clamp(0, 1)
    return x, torch.tensor(d.target)


def edges(images: Tensor, threshold: float) -> Tensor:
    """Binary edge map: ``1[sqrt(Sx^2 + Sy^2) > threshold]`` with 3x3 Sobel kernels
    (zero padding), ``(N, 1, H, W) -> (N, 1, H, W)`` in {0, 1}."""
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be (N, 1, H, W), got {tuple(images.shape)}")
    k = torch.stack([SOBEL_X, SOBEL_X.T])[:, None]  # (2, 1, 3, 3)
    g = F.conv2d(images, k.to(images.dtype), padding=1)  # (N, 2, H, W)
    return (g.pow(2).sum(1, keepdim=True).sqrt() > threshold).to(images.dtype)


def dilate(images: Tensor) -> Tensor:
    """Grayscale morphological dilation by a 3x3 square (max filter): the thick style."""
    return F.max_pool2d(images, 3, stride=1, padding=1)


@dataclass
class Split:
    """A seeded split of the digits: train / validation / test images and labels."""

    train: Tensor
    val: Tensor
    test: Tensor
    y_train: Tensor
    y_val: Tensor
    y_test: Tensor


def split(seed: int, n_val: int, n_test: int, n_train: int | None = None) -> Split:
    x, y = digits16()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    te, va, tr = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    if n_train is not None:
        tr = tr[:n_train]
    return Split(x[tr], x[va], x[te], y[tr], y[va], y[te])


# ---------------------------------------------------------------- tasks
class Pix2PixTask(Task):
    """``lam * L1(G(e), x)``; with a discriminator, pix2pix adds the non-saturating conditional
    GAN loss ``softplus(-D([e, G(e)]))`` (mean over patches) and ``D`` minimises
    ``softplus(-D([e, x])) + softplus(D([e, G(e)]))`` (Isola et al. 2017, lam = 100).
    Batches are ``(edges, image)``."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module | None, lr: float,
                 lam: float) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.lr, self.lam = lr, lam

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = (0.5, 0.999)  # pix2pix's Adam, the same for both arms
        opts: dict[str, torch.optim.Optimizer] = {
            "g": torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=betas)}
        if self.discriminator is not None:
            opts = {"d": torch.optim.Adam(self.discriminator.parameters(), lr=self.lr,
                                          betas=betas), **opts}
        return opts

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        e, x = batch
        if self.discriminator is not None:
            fake = self.generator(e).detach()
            loss_d = F.softplus(-self.discriminator(torch.cat([e, x], 1))).mean() + F.softplus(
                self.discriminator(torch.cat([e, fake], 1))).mean()
            yield "d", loss_d
        out = self.generator(e)
        l1 = F.l1_loss(out, x)
        self.log("l1", l1.detach())
        loss = self.lam * l1
        if self.discriminator is not None:
            loss = loss + F.softplus(-self.discriminator(torch.cat([e, out], 1))).mean()
        yield "g", loss


class CycleGANTask(Task):
    """CycleGAN (Zhu et al. 2017) with least-squares GAN losses. Batches ``(a, b)`` are
    unrelated images of the two domains. Generators minimise
    ``(D_B(G_AB a) - 1)^2 + (D_A(G_BA b) - 1)^2 + cyc (|G_BA G_AB a - a| + |G_AB G_BA b - b|)
    + idt cyc (|G_AB b - b| + |G_BA a - a|)`` (means; the identity term as in the reference
    implementation, ``lambda_identity = 0.5``); each discriminator minimises
    ``(D(real) - 1)^2 + D(fake)^2``."""

    def __init__(self, g_ab: nn.Module, g_ba: nn.Module, d_a: nn.Module, d_b: nn.Module,
                 lr: float, cyc: float, idt: float = 0.5) -> None:
        super().__init__()
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.lr, self.cyc, self.idt = lr, cyc, idt

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = (0.5, 0.999)
        return {"d": torch.optim.Adam([*self.d_a.parameters(), *self.d_b.parameters()],
                                      lr=self.lr, betas=betas),
                "g": torch.optim.Adam([*self.g_ab.parameters(), *self.g_ba.parameters()],
                                      lr=self.lr, betas=betas)}

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        a, b = batch
        with torch.no_grad():
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        loss_d = ((self.d_b(b) - 1).pow(2).mean() + self.d_b(fake_b).pow(2).mean()
                  + (self.d_a(a) - 1).pow(2).mean() + self.d_a(fake_a).pow(2).mean())
        yield "d", loss_d
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        cycle = F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b)
        self.log("cycle", cycle.detach())
        adv = (self.d_b(fake_b) - 1).pow(2).mean() + (self.d_a(fake_a) - 1).pow(2).mean()
        loss = adv + self.cyc * cycle
        if self.idt > 0:
            loss = loss + self.idt * self.cyc * (F.l1_loss(self.g_ab(b), b)
                                                 + F.l1_loss(self.g_ba(a), a))
        yield "g", loss


@dataclass
class Run:
    """Trained networks, curves per epoch and the Doctor's findings per network."""

    nets: dict[str, nn.Module]
    curves: dict[str, list[float]]
    doctor: dict[str, dict[str, Any]]
    diverged: bool


def _fit(task: Task, data: tuple[Tensor, Tensor], seed: int, cfg: Any, logged: str,
         epochs: int, adversarial: bool
         ) -> tuple[dict[str, list[float]], dict[str, dict[str, Any]], bool]:
    """Curves ``logged``, ``g`` and (adversarial) ``d`` per epoch, the Doctor's report per
    network, and whether a curve went non-finite (:func:`fit_adversarial`)."""
    curves = {logged: f"train_{logged}"}
    curves.update({"g": "train_loss_g", "d": "train_loss_d"} if adversarial
                  else {"g": "train_loss"})
    fit = fit_adversarial(task, data, epochs=epochs, batch_size=cfg.batch_size, seed=seed,
                          doctor_every=cfg.doctor_every, curves=curves)
    return fit.curves, fit.doctor, fit.diverged


def unet(seed: int, cfg: Any) -> UNetGenerator:
    """The generator of every arm: a U-Net with a sigmoid output (images in [0, 1])."""
    torch.manual_seed(seed)
    return UNetGenerator(1, 1, base=cfg.g_base, depth=cfg.depth, output="sigmoid")


def train_pix2pix(data: Split, seed: int, lr: float, adversarial: bool, cfg: Any) -> Run:
    """The same initial U-Net (seeded) for both arms; pix2pix adds a conditional PatchGAN."""
    G = unet(seed, cfg)
    D = PatchDiscriminator(2, base=cfg.d_base, n_layers=2) if adversarial else None
    task = Pix2PixTask(G, D, lr, cfg.lam)
    e = edges(data.train, cfg.edge_threshold)
    curves, report, diverged = _fit(task, (e, data.train), seed, cfg, "l1", cfg.epochs,
                                    adversarial)
    return Run({"generator": G.eval()}, curves, report, diverged)


def train_cyclegan(data: Split, seed: int, cfg: Any) -> Run:
    """Domain A: half the training digits; domain B: the other half, dilated (unpaired)."""
    half = len(data.train) // 2
    a, b = data.train[:half], dilate(data.train[half:2 * half])
    g_ab, g_ba = unet(seed, cfg), unet(seed + 1, cfg)
    d_a = PatchDiscriminator(1, base=cfg.d_base, n_layers=2)
    d_b = PatchDiscriminator(1, base=cfg.d_base, n_layers=2)
    task = CycleGANTask(g_ab, g_ba, d_a, d_b, cfg.cycle_lr, cfg.cyc, cfg.idt)
    curves, report, diverged = _fit(task, (a, b), seed, cfg, "cycle", cfg.cycle_epochs, True)
    return Run({"g_ab": g_ab.eval(), "g_ba": g_ba.eval()}, curves, report, diverged)


def apply(net: nn.Module, x: Tensor) -> Tensor:
    with torch.no_grad():
        return net(x).clamp(0, 1)


# ---------------------------------------------------------------- scores
@dataclass
class Paired:
    """Test scores of one image-to-image arm (means over test images)."""

    l1: float
    ssim: float
    spectrum: float  # gradient_spectrum_distance to the target (lower: closer)


def score_paired(out: Tensor, target: Tensor) -> Paired:
    return Paired(float(F.l1_loss(out, target)),
                  float(ssim(target.double(), out.double(), data_range=1.0).mean()),
                  float(gradient_spectrum_distance(out, target).mean()))


def val_l1(run: Run, data: Split, cfg: Any) -> float:
    """Validation L1 (the tuning criterion of both paired arms); inf for a diverged run."""
    if run.diverged:
        return math.inf
    return float(F.l1_loss(apply(run.nets["generator"], edges(data.val, cfg.edge_threshold)),
                           data.val))


def logistic(x: Tensor, y: Tensor, seed: int) -> Any:
    """A logistic regression on flattened pixels (sklearn, lbfgs)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500, C=1.0, random_state=seed).fit(
        x.flatten(1).numpy(), y.numpy())


@dataclass
class Unpaired:
    """CycleGAN's test measures, with the identity map and the true dilation as controls."""

    cycle: float  # mean |G_BA(G_AB(a)) - a|
    domain_gap: float  # mean |dilate(a) - a|: how far apart the domains are
    rate_translated: float  # share of G_AB(a) the domain classifier calls B
    rate_identity: float  # share of a itself called B (control)
    rate_dilated: float  # share of dilate(a) called B (the true mapping)
    content_translated: float  # digit-classifier agreement between a and G_AB(a)
    content_dilated: float  # ... between a and dilate(a) (the true mapping)
    content_shuffled: float  # ... between a and a shuffled G_AB(a) (content destroyed)
    domain_val_acc: float  # the domain classifier's validation accuracy (real A vs real B)
    digit_val_acc: float  # the digit classifier's validation accuracy (A and B)


def score_unpaired(run: Run, data: Split, seed: int) -> tuple[Unpaired, Tensor]:
    """The classifiers are trained on the training split only (real images of both domains)."""
    half = len(data.train) // 2
    a_tr, b_tr = data.train[:half], dilate(data.train[half:2 * half])
    dom = logistic(torch.cat([a_tr, b_tr]), torch.cat([torch.zeros(half), torch.ones(half)]),
                   seed)
    dig = logistic(torch.cat([data.train, dilate(data.train)]),
                   torch.cat([data.y_train, data.y_train]), seed)
    a = data.test
    out = apply(run.nets["g_ab"], a)
    back = apply(run.nets["g_ba"], out)

    def flat(t: Tensor) -> np.ndarray:
        return t.flatten(1).numpy()

    def called_b(t: Tensor) -> float:
        return float(np.mean(dom.predict(flat(t)) == 1))

    base = dig.predict(flat(a))

    def agree(t: Tensor) -> float:
        return float(np.mean(dig.predict(flat(t)) == base))

    perm = torch.randperm(len(a), generator=torch.Generator().manual_seed(seed))
    nv = len(data.val)
    dom_val = float(np.mean(dom.predict(flat(torch.cat([data.val, dilate(data.val)])))
                            == np.r_[np.zeros(nv), np.ones(nv)]))
    dig_val = float(np.mean(dig.predict(flat(torch.cat([data.val, dilate(data.val)])))
                            == torch.cat([data.y_val, data.y_val]).numpy()))
    u = Unpaired(float(F.l1_loss(back, a)), float(F.l1_loss(dilate(a), a)), called_b(out),
                 called_b(a), called_b(dilate(a)), agree(out), agree(dilate(a)),
                 agree(out[perm]), dom_val, dig_val)
    return u, out


AA_OFFSET = 500  # the A/A twin: the L1-only arm again, init and batch order from seed + 500


@dataclass
class SeedResult:
    """One seed: both paired arms, CycleGAN, and (first seed) example images."""

    l1_only: Paired
    pix2pix: Paired
    same_init: float  # max |initial weight difference| between the two paired arms' U-Nets
    l1_run: Run
    p2p_run: Run
    l1_aa: Paired | None = None  # the A/A twin: the L1-only arm from seed + AA_OFFSET
    aa_diverged: bool = False
    cycle: Unpaired | None = None
    cycle_run: Run | None = None
    images: dict[str, np.ndarray] = field(default_factory=dict)
