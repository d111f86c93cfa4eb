"""Measurements of the ``gan-superres`` lab: data, the two learned arms, bicubic, the scores.

Images are grayscale in ``[0, 1]``. A high-resolution (HR) patch ``y`` of size ``P x P`` gives
its low-resolution (LR) input ``x = down_s(y)`` (bicubic, antialiased, factor ``s``); every arm
maps ``x`` back to ``P x P``: bicubic interpolation, the pixel-loss network, SRGAN.
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
from deepdojo.metrics.generative import gradient_spectrum_distance, psnr, ssim
from deepdojo.models import PatchDiscriminator
from deepdojo.train.task import Task


# ---------------------------------------------------------------- data
def photo(name: str) -> Tensor:
    """scikit-learn's bundled sample photo as luma ``Y = 0.299 R + 0.587 G + 0.114 B``,
    ``(H, W)`` float32 in [0, 1]."""
    from sklearn.datasets import load_sample_image

    rgb = load_sample_image(name).astype(np.float32) / 255.0
    return torch.from_numpy(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))


def crops(image: Tensor, n: int, size: int, seed: int, min_std: float = 0.0) -> Tensor:
    """``n`` random ``size x size`` crops with pixel std >= ``min_std`` (flat patches, which
    carry nothing to super-resolve, are skipped), ``(n, 1, size, size)``."""
    gen = torch.Generator().manual_seed(seed)
    H, W = image.shape
    kept: list[Tensor] = []
    for _ in range(100):
        r = torch.randint(0, H - size + 1, (4 * n,), generator=gen)
        c = torch.randint(0, W - size + 1, (4 * n,), generator=gen)
        for i, j in zip(r.tolist(), c.tolist(), strict=True):
            patch = image[i:i + size, j:j + size]
            if float(patch.std()) >= min_std:
                kept.append(patch)
        if len(kept) >= n:
            return torch.stack(kept[:n])[:, None]
    raise ValueError(f"min_std={min_std}: fewer than {n} patches of the photo are that textured")


def downsample(hr: Tensor, factor: int) -> Tensor:
    """Bicubic, antialiased: ``(B, 1, P, P) -> (B, 1, P / s, P / s)``, clamped to [0, 1]."""
    return F.interpolate(hr, scale_factor=1 / factor, mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def bicubic(lr: Tensor, factor: int) -> Tensor:
    """The baseline: bicubic upsampling (``F.interpolate``), clamped to [0, 1]."""
    return F.interpolate(lr, scale_factor=factor, mode="bicubic",
                         align_corners=False).clamp(0, 1)


@dataclass
class Split:
    """One setting's patches for one seed: HR training/validation/test patches and factor."""

    name: str
    factor: int
    train: Tensor  # (N, 1, P, P)
    val: Tensor
    test: Tensor


def photo_split(train_photo: str, test_photo: str, factor: int, seed: int, n_train: int,
                n_test: int, size: int, min_std: float) -> Split:
    """Patches of the training photo (80% train, 20% validation) and of the other photo (test)."""
    patches = crops(photo(train_photo), n_train, size, seed, min_std)
    n_val = max(1, n_train // 5)
    test = crops(photo(test_photo), n_test, size, seed + 1, min_std)
    return Split(f"photo x{factor}", factor, patches[n_val:], patches[:n_val], test)


def digits_split(seed: int, n_test: int) -> Split:
    """sklearn's 8x8 digits in [0, 1] as HR (2x: LR is 4x4); a seeded train/val/test split."""
    from sklearn.datasets import load_digits

    X = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    test, rest = X[perm[:n_test]], X[perm[n_test:]]
    n_val = len(rest) // 5
    return Split("digits x2", 2, rest[n_val:], rest[:n_val], test)


# ---------------------------------------------------------------- networks and the task
class ResidualBlock(nn.Module):
    """``x + Conv(ReLU(Conv(x)))`` (SRResNet's block without batch norm, as in EDSR)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class SRNet(nn.Module):
    """A small SRResNet: features at LR, residual blocks, PixelShuffle up by ``factor``; the
    output is a correction added to the bicubic upsampling (global residual)::

        h = Conv(x)                              # (B, w, p, p)
        h = h + Conv(Blocks(h))                  # (B, w, p, p)
        u = PixelShuffle(Conv_{w -> s^2}(h))     # (B, 1, s p, s p)
        y = bicubic_s(x) + u

    The last convolution starts at zero, so an untrained network is bicubic interpolation.
    """

    def __init__(self, factor: int, width: int = 16, blocks: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.head = nn.Conv2d(1, width, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, padding=1))
        to_subpixels = nn.Conv2d(width, factor * factor, 3, padding=1)
        nn.init.zeros_(to_subpixels.weight)  # start exactly at bicubic: learn the correction
        nn.init.zeros_(to_subpixels.bias)  # type: ignore[arg-type]
        self.up = nn.Sequential(to_subpixels, nn.PixelShuffle(factor))

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)  # (B, w, p, p)
        h = h + self.body(h)
        return F.interpolate(x, scale_factor=self.factor, mode="bicubic",
                             align_corners=False) + self.up(h)  # (B, 1, s p, s p)


class SuperResTask(Task):
    """Pixel loss ``L1(G(x), y)``; with a discriminator, SRGAN's generator loss adds
    ``adv_weight * softplus(-D(G(x)))`` (non-saturating) and ``D`` (a PatchGAN on HR patches)
    minimises ``softplus(-D(y)) + softplus(D(G(x)))``. Batches are ``(x_lr, y_hr)``."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module | None, lr: float,
                 adv_weight: float) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.lr, self.adv_weight = lr, adv_weight

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        # the same G optimizer in both arms (the control differs only by the adversarial term)
        opts: dict[str, torch.optim.Optimizer] = {
            "g": torch.optim.Adam(self.generator.parameters(), lr=self.lr)}
        if self.discriminator is not None:
            opts = {"d": torch.optim.Adam(self.discriminator.parameters(), lr=self.lr,
                                          betas=(0.5, 0.999)), **opts}
        return opts

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        x, y = batch
        if self.discriminator is not None:
            fake = self.generator(x).detach()
            loss_d = F.softplus(-self.discriminator(y)).mean() + F.softplus(
                self.discriminator(fake)).mean()
            yield "d", loss_d
        out = self.generator(x)  # (B, 1, P, P)
        pixel = F.l1_loss(out, y)
        self.log("pixel", pixel.detach())
        loss = pixel
        if self.discriminator is not None:
            loss = pixel + self.adv_weight * F.softplus(-self.discriminator(out)).mean()
        yield "g", loss

    def validation_step(self, batch: Any) -> dict[str, float]:
        x, y = batch
        return {"pixel": float(F.l1_loss(self.generator(x), y))}


@dataclass
class SRRun:
    """A trained network: curves per epoch and the Doctor's findings per network."""

    generator: nn.Module
    curves: dict[str, list[float]]  # "g", "pixel" and, for SRGAN, "d"
    doctor: dict[str, dict[str, Any]]
    diverged: bool


def train(split: Split, seed: int, lr: float, adversarial: bool, cfg: Any) -> SRRun:
    """Adam(lr) on G, Adam(lr, betas 0.5, 0.999) on D; the same initial G for both arms."""
    torch.manual_seed(seed)
    G = SRNet(split.factor, cfg.width, cfg.blocks)
    D = PatchDiscriminator(1, base=cfg.d_base, n_layers=2) if adversarial else None
    task = SuperResTask(G, D, lr, cfg.adv_weight)
    x = downsample(split.train, split.factor)
    curves = {"pixel": "train_pixel", "g": "train_loss_g", "d": "train_loss_d"} if adversarial \
        else {"pixel": "train_pixel", "g": "train_loss"}
    fit = fit_adversarial(task, (x, split.train), epochs=cfg.epochs, batch_size=cfg.batch_size,
                          seed=seed, doctor_every=cfg.doctor_every, curves=curves)
    return SRRun(G.eval(), fit.curves, fit.doctor, fit.diverged)


def upscale(run: SRRun, lr_images: Tensor) -> Tensor:
    with torch.no_grad():
        return run.generator(lr_images).clamp(0, 1)


# ---------------------------------------------------------------- scores
@dataclass
class Scores:
    """Means over the test patches, and per-patch values kept for the figure."""

    psnr: float
    ssim: float
    spectrum: float  # gradient_spectrum_distance to HR (lower: closer)
    spectra: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mean radial spectrum


def score(sr: Tensor, hr: Tensor) -> Scores:
    from deepdojo.metrics.generative import gradient_magnitude, radial_power_spectrum

    p = psnr(hr.double(), sr.double(), data_range=1.0)
    p = p[torch.isfinite(p)]
    return Scores(float(p.mean()), float(ssim(hr.double(), sr.double(), data_range=1.0).mean()),
                  float(gradient_spectrum_distance(sr, hr).mean()),
                  radial_power_spectrum(gradient_magnitude(sr)).mean(0).numpy())


def val_psnr(run: SRRun, split: Split) -> float:
    """Validation PSNR (the tuning criterion; negated by the caller to minimise)."""
    if run.diverged:
        return -math.inf
    return score(upscale(run, downsample(split.val, split.factor)), split.val).psnr


def high_pass(x: Tensor) -> Tensor:
    """``x - box3(x)``: the image minus its 3x3 mean (replicate padding), ``(B, 1, H, W)`` to
    ``(B, 1, H, W)``; linear, so ``high_pass(c x) = c high_pass(x)``."""
    return x - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def energy_matched_noise(base: Tensor, reference: Tensor, seed: int) -> Tensor:
    """The noise control of "sharper": ``base`` plus white Gaussian noise with, per image, the
    same high-frequency energy as the residual ``reference - base``::

        r_i     = reference_i - base_i
        eps_i   ~ N(0, I)                                  (seeded)
        sigma_i = ||high_pass(r_i)|| / ||high_pass(eps_i)||
        out_i   = clamp(base_i + sigma_i eps_i, 0, 1)

    ``(B, 1, H, W)`` in, the same out. With ``base`` the pixel network's output and ``reference``
    SRGAN's, the control adds as much high-frequency power as SRGAN added, but as noise.
    """
    if base.shape != reference.shape:
        raise ValueError(f"reference must have base's shape {tuple(base.shape)}, got "
                         f"{tuple(reference.shape)}")
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(base.shape, generator=gen, dtype=base.dtype)  # (B, 1, H, W)
    hp_r = high_pass(reference - base).flatten(1).norm(dim=1)  # (B,)
    hp_e = high_pass(eps).flatten(1).norm(dim=1).clamp_min(1e-12)  # (B,)
    sigma = (hp_r / hp_e)[:, None, None, None]  # (B, 1, 1, 1)
    return (base + sigma * eps).clamp(0, 1)


AA_OFFSET = 500  # the A/A twin: the pixel arm again, init and batch order from seed + 500
NOISE_OFFSET = 777  # seed offset of the noise control's Gaussian draws


@dataclass
class Setting:
    """One setting and seed: the arms scored on the test patches, the noise control and the
    A/A twin (the pixel arm trained again from another seed on the same data and patches)."""

    bicubic: Scores
    pixel: Scores
    srgan: Scores
    hr: Scores  # HR against itself: the spectrum of the target (distance 0)
    pixel_run: SRRun
    srgan_run: SRRun
    noise: Scores  # the pixel output plus noise energy-matched to SRGAN's residual (control)
    pixel_aa: Scores  # the A/A twin of the pixel arm (seed + AA_OFFSET)
    aa_diverged: bool = False
    crops: dict[str, np.ndarray] = field(default_factory=dict)


def evaluate(split: Split, seed: int, lrs: dict[str, float], cfg: Any, keep: bool,
             runs: dict[str, SRRun] | None = None) -> Setting:
    runs = runs or {}
    pix = runs.get("pixel") or train(split, seed, lrs["pixel"], False, cfg)
    gan = runs.get("srgan") or train(split, seed, lrs["srgan"], True, cfg)
    twin = train(split, seed + AA_OFFSET, lrs["pixel"], False, cfg)
    lr_test = downsample(split.test, split.factor)
    outs = {"bicubic": bicubic(lr_test, split.factor), "pixel": upscale(pix, lr_test),
            "srgan": upscale(gan, lr_test)}
    outs["noise"] = energy_matched_noise(outs["pixel"], outs["srgan"], seed + NOISE_OFFSET)
    s = Setting(score(outs["bicubic"], split.test), score(outs["pixel"], split.test),
                score(outs["srgan"], split.test), score(split.test, split.test), pix, gan,
                score(outs["noise"], split.test), score(upscale(twin, lr_test), split.test),
                twin.diverged)
    if keep:
        s.crops = {"HR": split.test[:3, 0].numpy(), "LR": lr_test[:3, 0].numpy(),
                   **{k: v[:3, 0].numpy() for k, v in outs.items()}}
    return s
