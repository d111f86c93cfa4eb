"""Measurements of the ``molecules`` lab: the SMILES autoencoder, samplers in its latent space
(a latent GAN and two Gaussian baselines), and the chemistry scores (RDKit).

Every function takes one seed. The autoencoder is trained with teacher forcing (cross-entropy,
padding ignored), the best-validation epoch kept. Latent codes are standardised per dimension
(training codes' mean and std) before the GAN sees them, and mapped back before decoding.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.labs.shared.adversarial import GANRun, fit_adversarial
from deepdojo.metrics import frechet_distance
from deepdojo.models import MLPDiscriminator, MLPGenerator, SmilesAutoEncoder
from deepdojo.models.autoencoder import SmilesVocabulary, is_valid_smiles, load_nci_smiles
from deepdojo.train.tasks import AdversarialTask


# ---------------------------------------------------------------- data
@dataclass
class Data:
    """One seed's split of the NCI molecules (80/10/10) and the shared vocabulary."""

    vocab: SmilesVocabulary
    max_len: int
    train: list[str]
    val: list[str]
    test: list[str]


def molecules(max_tokens: int, n: int | None) -> list[str]:
    """RDKit's bundled NCI SMILES with at most ``max_tokens`` tokens that RDKit parses, in file
    order, the first ``n`` (all when None)."""
    kept = [s for s in load_nci_smiles()
            if len(SmilesVocabulary.tokenize(s)) <= max_tokens and is_valid_smiles(s)]
    return kept if n is None else kept[:n]


def split(smiles: Sequence[str], max_tokens: int, seed: int) -> Data:
    order = np.random.default_rng(seed).permutation(len(smiles))
    rows = [smiles[i] for i in order]
    n_val = n_test = max(2, len(rows) // 10)
    vocab = SmilesVocabulary.from_smiles(smiles)
    return Data(vocab, max_tokens, rows[n_val + n_test:], rows[:n_val], rows[n_val:n_val + n_test])


# ---------------------------------------------------------------- the autoencoder
@dataclass
class AERun:
    model: SmilesAutoEncoder
    train_loss: list[float]
    val_loss: list[float]
    best_epoch: int


def _ce(model: SmilesAutoEncoder, ids: Tensor) -> Tensor:
    logits = model(ids)  # (B, T - 1, V)
    return F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], ignore_index=SmilesVocabulary.PAD)


def respell(smiles: Sequence[str], vocab: SmilesVocabulary, max_tokens: int, share: float,
            rng: np.random.Generator) -> list[str]:
    """``smiles`` with a ``share`` of them (each with that probability) replaced by a random
    Kekule spelling of the same molecule (RDKit's random SMILES, seeded; the NCI strings'
    style: upper-case atoms, explicit double bonds); a spelling longer than ``max_tokens`` or with a
    token outside ``vocab`` keeps the original. Training augmentation (Bjerrum 2017; Arus-Pous
    et al. 2019): many spellings per molecule teach the network to copy, not to memorise."""
    from rdkit import Chem as RDChem

    out = []
    for s in smiles:
        if rng.random() >= share:
            out.append(s)
            continue
        mol = RDChem.MolFromSmiles(s)
        RDChem.Kekulize(mol, clearAromaticFlags=True)
        new = RDChem.MolToRandomSmilesVect(mol, 1, randomSeed=int(rng.integers(1, 2**31)),
                                           kekuleSmiles=True)[0]
        toks = SmilesVocabulary.tokenize(new)
        out.append(new if len(toks) <= max_tokens and all(t in vocab.stoi for t in toks) else s)
    return out


def train_ae(data: Data, seed: int, lr: float, epochs: int, cfg: Any) -> AERun:
    """Adam with a one-cycle schedule peaking at ``lr`` (5% warm-up, cosine decay), batch 64,
    gradient norm clipped at 1; each epoch a ``cfg.respell`` share of the training strings is
    respelled (:func:`respell`); the best-validation epoch is kept (validation strings as
    written)."""
    torch.manual_seed(seed)
    model = SmilesAutoEncoder(len(data.vocab), cfg.embed_dim, cfg.hidden_size, cfg.code_size)
    val = data.vocab.encode(data.val, data.max_len)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, lr, total_steps=epochs * math.ceil(len(data.train) / 64), pct_start=0.05)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed + 17)
    best, best_state, best_epoch = math.inf, copy.deepcopy(model.state_dict()), 0
    train_curve, val_curve = [], []
    for epoch in range(epochs):
        rows = respell(data.train, data.vocab, data.max_len, cfg.respell, rng)
        ids = data.vocab.encode(rows, data.max_len)  # (N, T)
        model.train()
        total = 0.0
        for idx in torch.randperm(len(ids), generator=gen).split(64):
            loss = _ce(model, ids[idx])  # forward
            loss.backward()  # backward
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # clip
            opt.step()  # step
            opt.zero_grad()
            sched.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            v = float(_ce(model, val))
        train_curve.append(total / len(ids))
        val_curve.append(v)
        if v < best:
            best, best_state, best_epoch = v, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return AERun(model.eval(), train_curve, val_curve, best_epoch)


def codes(model: SmilesAutoEncoder, data: Data, smiles: Sequence[str]) -> Tensor:
    with torch.no_grad():
        return model.encode(data.vocab.encode(smiles, data.max_len))  # (N, Z)


def decode(model: SmilesAutoEncoder, data: Data, z: Tensor) -> list[str]:
    """Greedy decoding of codes ``z (N, Z)`` to strings."""
    return data.vocab.decode(model.generate(z, data.max_len))


def exact_rate(model: SmilesAutoEncoder, data: Data, smiles: Sequence[str]) -> float:
    """Share of ``smiles`` that encode-then-greedy-decode returns character for character."""
    out = decode(model, data, codes(model, data, smiles))
    return float(np.mean([a == b for a, b in zip(out, smiles, strict=True)]))


# ---------------------------------------------------------------- the latent GAN
def train_latent_gan(z_std: Tensor, seed: int, lr: float, cfg: Any) -> GANRun:
    """LatentGAN (Prykhodko et al. 2019): MLP G and D on standardised codes, non-saturating
    loss, Adam(lr, 0.5, 0.999), batch 64, the Doctor on both networks."""
    torch.manual_seed(seed)
    Z = z_std.shape[1]
    G = MLPGenerator(cfg.noise_dim, Z, (cfg.gan_hidden, cfg.gan_hidden), output="identity")
    D = MLPDiscriminator(Z, (cfg.gan_hidden, cfg.gan_hidden))
    fit = fit_adversarial(AdversarialTask(G, D, cfg.noise_dim, lr=lr), z_std,
                          epochs=cfg.gan_epochs, batch_size=64, seed=seed,
                          doctor_every=cfg.doctor_every)
    return GANRun(G.eval(), fit)


def gan_codes(run: GANRun, n: int, noise_dim: int, seed: int) -> Tensor:
    z = torch.randn(n, noise_dim, generator=torch.Generator().manual_seed(seed + 7))
    with torch.no_grad():
        return run.generator(z)


def gaussian_fit_codes(z_std: Tensor, n: int, seed: int) -> Tensor:
    """Samples of the Gaussian fitted to the (standardised) codes: full covariance."""
    x = z_std.double().numpy()
    rng = np.random.default_rng(seed + 11)
    out = rng.multivariate_normal(x.mean(0), np.cov(x, rowvar=False), size=n)
    return torch.as_tensor(out, dtype=torch.float32)


def val_fd(run: GANRun, z_val_std: Tensor, noise_dim: int, seed: int) -> float:
    """Frechet distance of the GAN's codes to the validation molecules' codes (tuning)."""
    if run.diverged:
        return math.inf
    fake = gan_codes(run, max(len(z_val_std), 200), noise_dim, seed)
    return frechet_distance(z_val_std, fake) if torch.isfinite(fake).all() else math.inf


# ---------------------------------------------------------------- chemistry scores
@dataclass
class Chem:
    """Validity, uniqueness (among valid), novelty (unique valid not in training), QED."""

    validity: float
    uniqueness: float
    novelty: float
    qed_w1: float  # Wasserstein-1 distance of the valid samples' QED to the training set's
    qed_mean: float
    qed: np.ndarray = field(default_factory=lambda: np.zeros(0))


def qed_of(smiles: Sequence[str]) -> np.ndarray:
    from rdkit import Chem as RDChem
    from rdkit.Chem import QED

    return np.array([QED.qed(RDChem.MolFromSmiles(s)) for s in smiles])


def canonical(smiles: str) -> str:
    """RDKit's canonical SMILES of a valid ``smiles``: two spellings of one molecule compare
    equal, so uniqueness and novelty count molecules, not strings."""
    from rdkit import Chem as RDChem

    return RDChem.MolToSmiles(RDChem.MolFromSmiles(smiles))


def chem_scores(samples: Sequence[str], train: set[str], train_qed: np.ndarray) -> Chem:
    """Scores of decoded ``samples`` against ``train`` (canonical SMILES, see :func:`canonical`)."""
    from scipy.stats import wasserstein_distance

    valid = [canonical(s) for s in samples if is_valid_smiles(s)]
    unique = set(valid)
    q = qed_of(sorted(unique)) if unique else np.zeros(0)
    return Chem(len(valid) / len(samples), len(unique) / len(valid) if valid else 0.0,
                len(unique - train) / len(unique) if unique else 0.0,
                float(wasserstein_distance(q, train_qed)) if len(q) else 1.0,
                float(q.mean()) if len(q) else math.nan, q)


# ---------------------------------------------------------------- one seed
@dataclass
class SeedResult:
    """Everything measured on one seed."""

    ae: AERun
    exact_test: float
    exact_train: float  # on as many training molecules as test ones
    gan: GANRun
    latent_gan: Chem
    gaussian_fit: Chem
    prior: Chem  # N(0, I) in the standardised code space (the naive baseline)
    real_qed_w1: float  # test molecules' QED vs the training set's: the floor
    real_qed_mean: float
    train_qed: np.ndarray
    roundtrip: float  # vocabulary decode(encode(s)) == s, share of the seed's molecules
    interpolation: list[tuple[float, str, bool]] = field(default_factory=list)
    interp_ends: tuple[str, str] = ("", "")  # the two input molecules


def seed_result(data: Data, ae: AERun, seed: int, gan_lr: float, cfg: Any,
                keep: bool) -> SeedResult:
    from scipy.stats import wasserstein_distance

    model = ae.model
    z = codes(model, data, data.train)  # (N, Z)
    mu, sd = z.mean(0), z.std(0).clamp_min(1e-6)
    z_std = (z - mu) / sd
    gan = train_latent_gan(z_std, seed, gan_lr, cfg)
    n = cfg.n_samples
    prior = torch.randn(n, z.shape[1], generator=torch.Generator().manual_seed(seed + 13))
    draws = {"latent_gan": gan_codes(gan, n, cfg.noise_dim, seed),
             "gaussian_fit": gaussian_fit_codes(z_std, n, seed), "prior": prior}
    train_set = {canonical(s) for s in data.train if is_valid_smiles(s)}
    train_qed = qed_of(sorted(train_set))
    scores = {k: chem_scores(decode(model, data, v * sd + mu), train_set, train_qed)
              for k, v in draws.items()}
    test_qed = qed_of(data.test)
    out = SeedResult(ae, exact_rate(model, data, data.test),
                     exact_rate(model, data, data.train[:len(data.test)]), gan,
                     scores["latent_gan"], scores["gaussian_fit"], scores["prior"],
                     float(wasserstein_distance(test_qed, train_qed)), float(test_qed.mean()),
                     train_qed, vocab_roundtrip(data))
    if keep:
        out.interpolation = interpolate(model, data, data.test[0], data.test[1], cfg.n_steps)
        out.interp_ends = (data.test[0], data.test[1])
    return out


def interpolate(model: SmilesAutoEncoder, data: Data, a: str, b: str, steps: int
                ) -> list[tuple[float, str, bool]]:
    """Greedy decodings along the straight line between the codes of ``a`` and ``b``."""
    za, zb = codes(model, data, [a, b])
    ts = torch.linspace(0, 1, steps)
    smiles = decode(model, data, za[None] + ts[:, None] * (zb - za)[None])  # (steps, Z)
    return [(float(t), s, is_valid_smiles(s)) for t, s in zip(ts, smiles, strict=True)]


def vocab_roundtrip(data: Data) -> float:
    """Share of the seed's molecules that the vocabulary encodes and decodes unchanged."""
    rows = data.train + data.val + data.test
    back = data.vocab.decode(data.vocab.encode(rows, data.max_len))
    return float(np.mean([a == b for a, b in zip(back, rows, strict=True)]))
