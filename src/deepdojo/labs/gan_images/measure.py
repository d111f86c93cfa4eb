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

import copy
import math
from collections.abc import Callable
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
from deepdojo.metrics import (
    classifier_features,
    frechet_distance,
    modes_covered,
    precision_recall,
)
from deepdojo.models import VAE, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from deepdojo.train import Callback
from deepdojo.train.tasks import AdversarialTask, ReconstructionTask

NUM_CLASSES = 10
_JUDGES: dict[tuple[str, int, int], nn.Module] = {}  # one judge per data set and seed
_GANS: dict[tuple[Any, ...], tuple[GANRun, Chosen]] = {}  # tuning run at the chosen lr
_VAES: dict[tuple[Any, ...], tuple[VAE, Chosen]] = {}  # = the first seed's run


def clear_caches() -> None:
    """Forget the judges and GAN runs of a previous run of the lab (same process)."""
    _JUDGES.clear()
    _GANS.clear()
    _VAES.clear()


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


# ---------------------------------------------------------------- checkpoint selection
@dataclass
class Chosen:
    """The checkpoint a generator is kept at: the lowest validation Frechet distance among
    the checkpoint epochs (0-based; the last epoch is always one)."""

    epoch: int
    val_fd: float
    scores: dict[int, float]  # epoch -> validation FD


def checkpoint_epochs(epochs: int, n: int) -> list[int]:
    """``n`` evenly spaced 0-based epochs ending at the last: ``ceil(epochs * i / n) - 1`` for
    ``i = 1..n`` (distinct, sorted), e.g. ``(20, 4) -> [4, 9, 14, 19]``."""
    if epochs < 1 or n < 1:
        raise ValueError(f"epochs and n must be >= 1, got {epochs} and {n}")
    return sorted({math.ceil(epochs * i / n) - 1 for i in range(1, n + 1)})


class _Selector:
    """Scores ``model`` at the checkpoint epochs and keeps the best state (lowest score)."""

    def __init__(self, model: nn.Module, epochs: list[int], score: Callable[[], float]) -> None:
        self.model, self.epochs, self.score = model, set(epochs), score
        self.scores: dict[int, float] = {}
        self.best: tuple[float, int, dict[str, Tensor]] | None = None

    def check(self, epoch: int) -> None:
        if epoch not in self.epochs:
            return
        was = self.model.training
        self.model.eval()
        v = self.score()
        self.model.train(was)
        self.scores[epoch] = v
        if self.best is None or v < self.best[0]:  # NaN/inf never replace a finite score
            self.best = (v, epoch, copy.deepcopy(self.model.state_dict()))

    def restore(self) -> Chosen:
        if self.best is None:  # no checkpoint was reached (a fit that stopped early)
            return Chosen(-1, math.inf, self.scores)
        v, epoch, state = self.best
        self.model.load_state_dict(state)
        return Chosen(epoch, v if math.isfinite(v) else math.inf, self.scores)


class _EpochHook(Callback):
    def __init__(self, selector: _Selector) -> None:
        self.selector = selector

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        self.selector.check(epoch)


@dataclass
class Validation:
    """What scores a checkpoint (and an lr): ``n`` samples (sample seed ``seed + 7``) against
    the validation split, on the seed's judge's features."""

    judge: nn.Module
    X_val: Tensor
    n: int
    seed: int

    def fd(self, samples: Tensor) -> float:
        if not torch.isfinite(samples).all():
            return math.inf
        return frechet_distance(classifier_features(self.judge, self.X_val),
                                classifier_features(self.judge, samples))


def train_gan(data: Data, seed: int, lr: float, epochs: int, latent: int, base: int,
              doctor_every: int, cond: Tensor | None = None, val: Validation | None = None,
              checkpoints: int = 1) -> tuple[GANRun, Chosen]:
    """Non-saturating GAN, Adam(lr, betas 0.5, 0.999) for both networks, batch 64. With
    ``val``, the generator is kept at the checkpoint (of ``checkpoints`` evenly spaced epochs)
    with the lowest validation Frechet distance; without, at its last epoch. An unconditional
    run is cached (the tuning run at the chosen lr is the first seed's run)."""
    key = (data.name, len(data.X), seed, lr, epochs, latent, base, doctor_every,
           val is not None, checkpoints)
    if cond is None and key in _GANS:
        return _GANS[key]
    torch.manual_seed(seed)
    G, D = _gan_pair(data, latent, base, None if cond is None else cond.shape[1])
    task = AdversarialTask(G, D, latent, lr=lr, conditional=cond is not None)
    train = data.X if cond is None else (data.X, cond)
    sel = _Selector(G, checkpoint_epochs(epochs, checkpoints) if val is not None else [],
                    lambda: val.fd(_draw(G, val.n, latent, val.seed)) if val else math.nan)
    fit = fit_adversarial(task, train, epochs=epochs, batch_size=64, seed=seed,
                          doctor_every=doctor_every, callbacks=[_EpochHook(sel)])
    chosen = sel.restore() if val is not None else Chosen(epochs - 1, math.nan, {})
    out = (GANRun(G.eval(), fit), chosen)
    if cond is None:
        _GANS[key] = out
    return out


def _draw(G: nn.Module, n: int, latent: int, seed: int, cond: Tensor | None = None) -> Tensor:
    gen = torch.Generator().manual_seed(seed + 7)
    z = torch.randn(n, latent, generator=gen)
    with torch.no_grad():
        return G(z) if cond is None else G(z, cond)


def gan_samples(run: GANRun, n: int, latent: int, seed: int, cond: Tensor | None = None
                ) -> Tensor:
    return _draw(run.generator, n, latent, seed, cond)


def train_vae(data: Data, seed: int, lr: float, epochs: int, latent: int, hidden: int,
              val: Validation, checkpoints: int) -> tuple[VAE, Chosen]:
    """VAE ``D -> hidden -> latent``; Bernoulli likelihood on digits, Gaussian (MSE) on MNIST-1D;
    Adam(lr), batch 128 (the autoencoder labs' loop). Kept at the checkpoint with the lowest
    validation Frechet distance, exactly as the GAN (the same ``val`` and checkpoints). A
    non-finite loss stops training (the best checkpoint so far is kept; none: inf)."""
    key = (data.name, len(data.X), seed, lr, epochs, latent, hidden, checkpoints)
    if key in _VAES:
        return _VAES[key]
    D = math.prod(data.shape)
    torch.manual_seed(seed)
    digits = data.name == "digits"
    vae = VAE(D, latent, (hidden,), output="sigmoid" if digits else "linear")
    torch.manual_seed(seed)  # as the autoencoder labs' loop: reseeded after the build
    task = ReconstructionTask(vae, vae=True, lr=lr, reconstruction="bce" if digits else "mse")
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    X = data.X.reshape(len(data.X), -1)
    sel = _Selector(vae, checkpoint_epochs(epochs, checkpoints),
                    lambda: val.fd(vae_samples(vae, val.n, data.shape, val.seed)))
    for epoch in range(epochs):
        vae.train()
        finite = True
        for idx in torch.randperm(len(X), generator=gen).split(128):
            loss = task.losses(X[idx])["loss"]
            if not torch.isfinite(loss):
                finite = False
                break
            loss.backward()
            opt.step()
            opt.zero_grad()
        if not finite:
            break
        sel.check(epoch)
    out = (vae, sel.restore())
    vae.eval()
    _VAES[key] = out
    return out


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
    """Frechet distance and modes on all ``samples`` (FD against all of ``reference``);
    precision/recall on equal-size sets, the first ``N = min(len(samples), len(reference))`` of
    each (the k-NN radii depend on each set's size): every arm is scored on the same real set
    with as many samples."""
    if not torch.isfinite(samples).all():
        return Scores(math.inf, 0, 0.0, 0.0)
    fake, real = classifier_features(judge, samples), classifier_features(judge, reference)
    n = min(len(fake), len(real))
    p, r = precision_recall(real[:n], fake[:n], k=k)
    return Scores(frechet_distance(real, fake), modes_covered(predict(judge, samples),
                                                                NUM_CLASSES), p, r)


@dataclass
class Generation:
    """One seed of one data set: the GAN, the VAE and a real set, scored against test; with
    ``aa_twin``, each generator's A/A twin (same arm, data, lr and selection; init and batch
    order from ``seed + AA_OFFSET``)."""

    gan: Scores
    vae: Scores
    real: Scores  # real-vs-real: training images (as many as generated) against test
    gan_run: GANRun
    gan_chosen: Chosen
    vae_chosen: Chosen
    gan_aa: Scores | None = None
    vae_aa: Scores | None = None
    aa_diverged: bool = False
    samples: dict[str, np.ndarray] = field(default_factory=dict)


AA_OFFSET = 500  # the A/A twins' seed: seed + 500 (init and batch order; same data and split)


def validation(data: Data, seed: int, cfg: Any) -> Validation:
    """The checkpoint and lr criterion of seed ``seed``: ``min(n_samples, N_train)`` samples
    against the validation split, on the seed's judge."""
    return Validation(train_judge(data, seed, cfg.judge_epochs), data.X_val,
                      min(cfg.n_samples, len(data.X)), seed)


def fit_gan(data: Data, seed: int, lr: float, cfg: Any, val: Validation) -> tuple[GANRun, Chosen]:
    """The generation GAN at ``cfg``'s sizes, kept at its best validation-FD checkpoint."""
    return train_gan(data, seed, lr, cfg.gan_epochs, cfg.latent, cfg.base, cfg.doctor_every,
                     val=val, checkpoints=cfg.checkpoints)


def fit_vae(data: Data, seed: int, lr: float, cfg: Any, val: Validation) -> tuple[VAE, Chosen]:
    """The VAE at ``cfg``'s sizes, kept at its best validation-FD checkpoint."""
    return train_vae(data, seed, lr, cfg.vae_epochs, cfg.vae_latent, cfg.vae_hidden, val,
                     cfg.checkpoints)


def generation(data: Data, seed: int, gan_lr: float, vae_lr: float, cfg: Any,
               keep_samples: bool) -> Generation:
    val = validation(data, seed, cfg)
    judge, n = val.judge, val.n  # generated and real-vs-real sets: the same N
    run, gan_chosen = fit_gan(data, seed, gan_lr, cfg, val)
    vae, vae_chosen = fit_vae(data, seed, vae_lr, cfg, val)
    fake = gan_samples(run, n, cfg.latent, seed)
    blur = vae_samples(vae, n, data.shape, seed)
    gen = torch.Generator().manual_seed(seed + 11)
    real = data.X[torch.randperm(len(data.X), generator=gen)[:n]]  # disjoint from test
    scored = [score(judge, x, data.X_test, cfg.k) for x in (fake, blur, real)]
    out = Generation(*scored, run, gan_chosen, vae_chosen)
    if cfg.aa_twin:  # the same arms again from seed + AA_OFFSET, scored with the same judge
        twin, _ = fit_gan(data, seed + AA_OFFSET, gan_lr, cfg, val)
        vae2, _ = fit_vae(data, seed + AA_OFFSET, vae_lr, cfg, val)
        out.gan_aa = score(judge, gan_samples(twin, n, cfg.latent, seed), data.X_test, cfg.k)
        out.vae_aa = score(judge, vae_samples(vae2, n, data.shape, seed), data.X_test, cfg.k)
        out.aa_diverged = twin.diverged
    if keep_samples:
        out.samples = {"gan": fake[:32].numpy(), "vae": blur[:32].numpy(),
                       "real": real[:32].numpy()}
    return out


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
    run, _ = train_gan(data, seed, lr, cfg.t2i_epochs, cfg.latent, cfg.base, cfg.doctor_every,
                       cond=cond)  # its last epoch (no checkpoint selection: no rival arm)
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
