"""Measurements of the ``gan-images`` lab: one function per arm, one dataclass per result.

Every function takes one seed and returns that seed's numbers. GANs train with
:class:`deepdojo.train.tasks.AdversarialTask` in the Trainer, with the Doctor attached (each
network judged on its own updates); the VAE trains with the autoencoder labs' best-validation
loop. The judge of every sample is a small MLP classifier trained on the seed's training split:
its predictions count the modes and score the prompted digit, its penultimate features feed
the Frechet distance and precision/recall (in-project features: not comparable with Inception
FID).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from deepdojo.data import load_digits, load_mnist1d
from deepdojo.data.prompts import (
    encode_prompts,
    make_prompts,
    slant_sign,
    thickness_edges,
    thickness_tertile,
)
from deepdojo.labs.shared.adversarial import GANRun, fit_adversarial
from deepdojo.labs.shared.autoencoding import fit_reconstruction
from deepdojo.metrics import (
    classifier_features,
    frechet_distance,
    modes_covered,
    precision_recall,
)
from deepdojo.models import VAE, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from deepdojo.train.tasks import AdversarialTask

NUM_CLASSES = 10
_JUDGES: dict[tuple[str, int, int], nn.Module] = {}  # one judge per data set and seed
_GANS: dict[tuple[Any, ...], GANRun] = {}  # the tuning run at the chosen lr is seed 0's run


def clear_caches() -> None:
    """Forget the judges and GAN runs of a previous run of the lab (same process)."""
    _JUDGES.clear()
    _GANS.clear()


# ---------------------------------------------------------------- data and the judge
@dataclass
class Data:
    """One seed's split: ``X`` in the generator's range, flat views for the VAE and judge."""

    name: str
    X: Tensor  # (N, 1, 8, 8) digits in [0, 1] or (N, 1, 40) MNIST-1D standardized
    y: Tensor
    X_val: Tensor
    y_val: Tensor
    X_test: Tensor
    y_test: Tensor

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.X.shape[1:])


def load(name: str, seed: int, mnist1d_samples: int) -> Data:
    if name == "digits":
        s = load_digits(seed=seed)
    else:
        s = load_mnist1d(num_samples=mnist1d_samples, seed=seed)
    return Data(name, s.train.X, s.train.y, s.val.X, s.val.y, s.test.X, s.test.y)


def train_judge(data: Data, seed: int, epochs: int = 25, hidden: int = 128,
                features: int = 32) -> nn.Module:
    """A small MLP classifier ``D -> hidden -> features -> 10`` (ReLU, Adam 1e-3, batch 64),
    trained once per data set and seed (cached)."""
    key = (data.name, seed, len(data.X), epochs)
    if key not in _JUDGES:
        _JUDGES[key] = _fit_judge(data, seed, epochs, hidden, features)
    return _JUDGES[key]


def _fit_judge(data: Data, seed: int, epochs: int, hidden: int, features: int) -> nn.Module:
    torch.manual_seed(seed)
    D = math.prod(data.shape)
    net = nn.Sequential(nn.Flatten(), nn.Linear(D, hidden), nn.ReLU(), nn.Linear(hidden, features),
                        nn.ReLU(), nn.Linear(features, NUM_CLASSES))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(data.X), generator=gen).split(64):
            loss = nn.functional.cross_entropy(net(data.X[idx]), data.y[idx])
            loss.backward()
            opt.step()
            opt.zero_grad()
    return net.eval()


def predict(judge: nn.Module, X: Tensor) -> Tensor:
    with torch.no_grad():
        return judge(X).argmax(1)


# ---------------------------------------------------------------- generators
def _gan_pair(data: Data, latent: int, base: int, cond_dim: int | None = None
              ) -> tuple[nn.Module, nn.Module]:
    if data.name == "digits":  # DCGAN at 8x8, pixels in [0, 1]
        G = DCGANGenerator(latent, size=8, base=base, cond_dim=cond_dim, output="sigmoid")
        D = DCGANDiscriminator(size=8, base=base, cond_dim=cond_dim,
                               projection=cond_dim is not None)
        return G, D
    # MNIST-1D: MLP GAN on standardized 40-sample signals
    G = MLPGenerator(latent, data.shape, (4 * base, 4 * base), output="identity")
    return G, MLPDiscriminator(data.shape, (4 * base, 4 * base))


def train_gan(data: Data, seed: int, lr: float, epochs: int, latent: int, base: int,
              doctor_every: int, cond: Tensor | None = None) -> GANRun:
    """Non-saturating GAN, Adam(lr, betas 0.5, 0.999) for both networks, batch 64; an
    unconditional run is cached (the tuning run at the chosen lr is the first seed's run)."""
    key = (data.name, len(data.X), seed, lr, epochs, latent, base, doctor_every)
    if cond is None and key in _GANS:
        return _GANS[key]
    run = _fit_gan(data, seed, lr, epochs, latent, base, doctor_every, cond)
    if cond is None:
        _GANS[key] = run
    return run


def _fit_gan(data: Data, seed: int, lr: float, epochs: int, latent: int, base: int,
             doctor_every: int, cond: Tensor | None) -> GANRun:
    torch.manual_seed(seed)
    G, D = _gan_pair(data, latent, base, None if cond is None else cond.shape[1])
    task = AdversarialTask(G, D, latent, lr=lr, conditional=cond is not None)
    train = data.X if cond is None else (data.X, cond)
    fit = fit_adversarial(task, train, epochs=epochs, batch_size=64, seed=seed,
                          doctor_every=doctor_every)
    return GANRun(G.eval(), fit)


def gan_samples(run: GANRun, n: int, latent: int, seed: int, cond: Tensor | None = None
                ) -> Tensor:
    gen = torch.Generator().manual_seed(seed + 7)
    z = torch.randn(n, latent, generator=gen)
    with torch.no_grad():
        return run.generator(z) if cond is None else run.generator(z, cond)


def train_vae(data: Data, seed: int, lr: float, epochs: int, latent: int, hidden: int) -> VAE:
    """VAE ``D -> hidden -> latent``; Bernoulli likelihood on digits, Gaussian (MSE) on MNIST-1D;
    the best-validation epoch is kept."""
    D = math.prod(data.shape)
    torch.manual_seed(seed)
    digits = data.name == "digits"
    vae = VAE(D, latent, (hidden,), output="sigmoid" if digits else "linear")
    flat_val = data.X_val.reshape(len(data.X_val), -1)
    fit_reconstruction(vae, data.X.reshape(len(data.X), -1), flat_val,
                       epochs=epochs, lr=lr, seed=seed, vae=True,
                       reconstruction="bce" if digits else "mse")  # fmt: skip
    return vae.eval()


def vae_samples(vae: VAE, n: int, shape: tuple[int, ...], seed: int) -> Tensor:
    with torch.no_grad():
        return vae.sample(n, torch.Generator().manual_seed(seed + 7)).reshape(n, *shape)


# ---------------------------------------------------------------- scores
@dataclass
class Scores:
    """Frechet distance to the reference set, modes covered, precision and recall."""

    fd: float
    modes: int
    precision: float
    recall: float


def score(judge: nn.Module, samples: Tensor, reference: Tensor, k: int) -> Scores:
    if not torch.isfinite(samples).all():
        return Scores(math.inf, 0, 0.0, 0.0)
    fake, real = classifier_features(judge, samples), classifier_features(judge, reference)
    p, r = precision_recall(real, fake, k=k)
    return Scores(frechet_distance(real, fake), modes_covered(predict(judge, samples),
                                                                NUM_CLASSES), p, r)


@dataclass
class Generation:
    """One seed of one data set: the GAN, the VAE and a real set, scored against test."""

    gan: Scores
    vae: Scores
    real: Scores  # real-vs-real: training images (as many as test) against test
    gan_run: GANRun
    samples: dict[str, np.ndarray] = field(default_factory=dict)


def generation(data: Data, seed: int, gan_lr: float, vae_lr: float, cfg: Any,
               keep_samples: bool) -> Generation:
    judge = train_judge(data, seed, cfg.judge_epochs)
    n = min(cfg.n_samples, len(data.X))  # generated and real-vs-real sets: the same N
    run = train_gan(data, seed, gan_lr, cfg.gan_epochs, cfg.latent, cfg.base, cfg.doctor_every)
    vae = train_vae(data, seed, vae_lr, cfg.vae_epochs, cfg.vae_latent, cfg.vae_hidden)
    fake = gan_samples(run, n, cfg.latent, seed)
    blur = vae_samples(vae, n, data.shape, seed)
    gen = torch.Generator().manual_seed(seed + 11)
    real = data.X[torch.randperm(len(data.X), generator=gen)[:n]]  # disjoint from test
    out = Generation(score(judge, fake, data.X_test, cfg.k), score(judge, blur, data.X_test, cfg.k),
                     score(judge, real, data.X_test, cfg.k), run)  # fmt: skip
    if keep_samples:
        out.samples = {"gan": fake[:32].numpy(), "vae": blur[:32].numpy(),
                       "real": real[:32].numpy()}
    return out


def val_fd(data: Data, seed: int, samples: Tensor, judge_epochs: int) -> float:
    """Frechet distance of ``samples`` to the validation split (for choosing an lr)."""
    judge = train_judge(data, seed, judge_epochs)
    if not torch.isfinite(samples).all():
        return math.inf
    return frechet_distance(classifier_features(judge, data.X_val),
                            classifier_features(judge, samples))


# ---------------------------------------------------------------- text to image
@dataclass
class TextToImage:
    """Prompted digit accuracy and attribute match rates, with their controls."""

    digit_acc: float  # the judge's accuracy on the prompted digit, generated images
    digit_acc_real: float  # the judge's accuracy on real test images (ceiling)
    thick_match: float  # generated thickness tertile == prompted
    thick_real: float  # a random real image of the prompted digit has the prompted tertile
    thick_shuffled: float  # generated images against another image's prompt (same digit)
    slant_match: float
    slant_real: float
    slant_shuffled: float
    gan_run: GANRun
    backend: str
    samples: np.ndarray | None = None
    prompts: list[str] = field(default_factory=list)


def attributes(X: Tensor, y: Tensor, edges: Tensor) -> tuple[Tensor, Tensor]:
    return thickness_tertile(X, y, edges), slant_sign(X)


def _same_digit_shuffle(y: Tensor, gen: torch.Generator) -> Tensor:
    """A permutation that maps each row to another row of the same digit."""
    perm = torch.arange(len(y))
    for c in range(NUM_CLASSES):
        rows = (y == c).nonzero()[:, 0]
        perm[rows] = rows[torch.randperm(len(rows), generator=gen)]
    return perm


def text_to_image(data: Data, seed: int, lr: float, cfg: Any, keep: bool) -> TextToImage:
    judge = train_judge(data, seed, cfg.judge_epochs)
    edges = thickness_edges(data.X, data.y)
    thick, slant = attributes(data.X, data.y, edges)
    prompts = make_prompts(data.y, thick, slant)
    emb, backend = encode_prompts(prompts, cfg.text_encoder)
    cond = torch.as_tensor(emb)
    run = train_gan(data, seed, lr, cfg.t2i_epochs, cfg.latent, cfg.base, cfg.doctor_every,
                    cond=cond)
    # test prompts: the attributes of the test images (edges from training)
    t_thick, t_slant = attributes(data.X_test, data.y_test, edges)
    t_prompts = make_prompts(data.y_test, t_thick, t_slant)
    t_cond = torch.as_tensor(encode_prompts(t_prompts, backend)[0])
    fake = gan_samples(run, len(t_prompts), cfg.latent, seed, t_cond)
    f_thick, f_slant = attributes(fake, data.y_test, edges)
    gen = torch.Generator().manual_seed(seed + 13)
    perm = _same_digit_shuffle(data.y_test, gen)
    # real control: a random real (test) image of the prompted digit, its own attributes
    r_thick, r_slant = t_thick[perm], t_slant[perm]

    def rate(a: Tensor, b: Tensor) -> float:
        return float((a == b).double().mean())

    return TextToImage(
        rate(predict(judge, fake), data.y_test), rate(predict(judge, data.X_test), data.y_test),
        rate(f_thick, t_thick), rate(r_thick, t_thick), rate(f_thick, t_thick[perm]),
        rate(f_slant, t_slant), rate(r_slant, t_slant), rate(f_slant, t_slant[perm]),
        run, backend, fake[:20].numpy() if keep else None, t_prompts[:20] if keep else [])
