"""Measurements of the ``autoencoders`` lab: one function per section, one dataclass per result.

Every function takes one seed and returns that seed's numbers; the AE arms train with
:func:`deepdojo.labs.shared.autoencoding.fit_reconstruction` (best-validation weights) and the
learning rates come from the lab's tuning step (chosen on validation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import trustworthiness

from deepdojo.data import load_digits, sample_images
from deepdojo.labs.shared.autoencoding import (
    cached_fit,
    mse_of,
    pick,
    recon_of,
)
from deepdojo.metrics import psnr, ssim
from deepdojo.models import VAE, MLPAutoEncoder


# ---------------------------------------------------------------- data
def digits(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                torch.Tensor, torch.Tensor]:
    """Flat digits in [0, 1]: X_train, y_train, X_val, y_val, X_test, y_test (split by seed)."""
    s = load_digits(flat=True, seed=seed)
    return s.train.X, s.train.y, s.val.X, s.val.y, s.test.X, s.test.y


def photo_patches(n: int, patch: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Grey ``patch x patch`` patches: train/val from ``china.jpg``, test from ``flower.jpg``
    (a different photo, so the denoiser is tested on images it never saw), flat ``(N, p*p)``."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for img, count in zip(sample_images(), (n + n // 4, n // 2), strict=True):
        grey = img.mean(0)  # (H, W)
        H, W = grey.shape
        rows = torch.randint(0, H - patch, (count,), generator=gen)
        cols = torch.randint(0, W - patch, (count,), generator=gen)
        out.append(torch.stack([grey[r:r + patch, c:c + patch].reshape(-1)
                                for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]))
    return out[0][:n], out[0][n:], out[1]


# ---------------------------------------------------------------- dimensionality reduction
@dataclass
class DimRed:
    """Test reconstruction MSE (per element) of the AE and PCA per code size, trustworthiness of
    the 2-D codes, and the 2-D codes of the first seed for the figure."""

    ae_mse: dict[int, float]
    pca_mse: dict[int, float]
    ae_trust: float
    pca_trust: float
    codes: dict[str, np.ndarray] = field(default_factory=dict)


def pca_mse(X: torch.Tensor, X_test: torch.Tensor, d: int) -> tuple[float, PCA]:
    pca = PCA(d).fit(X.numpy())
    rec = pca.inverse_transform(pca.transform(X_test.numpy()))
    return float(((rec - X_test.numpy()) ** 2).mean()), pca


def train_ae(X: torch.Tensor, X_val: torch.Tensor, d: int, lr: float, epochs: int, hidden: int,
             seed: int, **kw: Any) -> tuple[MLPAutoEncoder, float]:
    ae, res = cached_fit(("ae-tanh", X.shape[1], d, hidden),
                         lambda: MLPAutoEncoder(X.shape[1], d, (hidden,), activation="tanh"),
                         X, X_val, init_seed=seed, epochs=epochs, lr=lr, seed=seed, **kw)
    return ae, (math.inf if res.diverged else res.val_mse)  # type: ignore[return-value]


def ae_vs_pca(X: torch.Tensor, X_val: torch.Tensor, X_test: torch.Tensor, d: int, lr: float,
              epochs: int, hidden: int, seed: int, batch_size: int = 128
              ) -> tuple[float, float, MLPAutoEncoder, PCA]:
    """Test MSE of the AE and of PCA at code size ``d`` on the same split."""
    ae, _ = train_ae(X, X_val, d, lr, epochs, hidden, seed, batch_size=batch_size)
    p_mse, pca = pca_mse(X, X_test, d)
    return mse_of(ae, X_test), p_mse, ae, pca


def trust_of(ae: MLPAutoEncoder, X_test: torch.Tensor, neighbors: int) -> float:
    """Trustworthiness (sklearn) of the AE's test codes."""
    with torch.no_grad():
        codes = ae.encode(X_test).numpy()
    return float(trustworthiness(X_test.numpy(), codes, n_neighbors=neighbors))


def dimred_digits(seed: int, dims: tuple[int, ...], lrs: dict[int, float], epochs: int,
                  hidden: int, neighbors: int, keep_codes: bool) -> DimRed:
    X, _, Xv, _, Xt, yt = digits(seed)
    out = DimRed({}, {}, math.nan, math.nan)
    for d in dims:
        a, p, ae, pca = ae_vs_pca(X, Xv, Xt, d, lrs[d], epochs, hidden, seed)
        out.ae_mse[d], out.pca_mse[d] = a, p
        if d == 2:
            with torch.no_grad():
                ae_codes = ae.encode(Xt).numpy()
            pca_codes = pca.transform(Xt.numpy())
            out.ae_trust = float(trustworthiness(Xt.numpy(), ae_codes, n_neighbors=neighbors))
            out.pca_trust = float(trustworthiness(Xt.numpy(), pca_codes, n_neighbors=neighbors))
            if keep_codes:
                out.codes = {"ae": ae_codes, "pca": pca_codes, "y": yt.numpy()}
    return out


# ---------------------------------------------------------------- feature learning
@dataclass
class Probe:
    """Test accuracy of a logistic-regression probe per label fraction, per feature set."""

    acc: dict[str, dict[float, float]]
    chosen_c: dict[str, dict[float, float]]


def labelled_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of ``max(n_classes, round(fraction * N))`` rows with every class present."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    first = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
    k = max(len(classes), int(round(fraction * len(y))))
    rest = rng.permutation(np.setdiff1d(np.arange(len(y)), first))[: k - len(first)]
    return np.concatenate([first, rest])


def _probe_one(F: np.ndarray, y: np.ndarray, Fv: np.ndarray, yv: np.ndarray, Ft: np.ndarray,
               yt: np.ndarray, cs: tuple[float, ...]) -> tuple[float, float]:
    """Test accuracy of the logistic regression whose ``C`` is best on validation; the C."""
    fits = {c: LogisticRegression(C=c, max_iter=500).fit(F, y) for c in cs}
    c, _ = pick(cs, lambda c: -fits[c].score(Fv, yv))
    return float(fits[c].score(Ft, yt)), c


def probe(seed: int, fractions: tuple[float, ...], cs: tuple[float, ...], code_size: int,
          lr: float, epochs: int, hidden: int, init_offset: int = 0) -> Probe:
    """AE codes (trained on every training image, no labels) vs raw pixels vs PCA codes.

    ``init_offset`` moves only the AE's init and batch order (seed ``seed + init_offset``);
    the split and the labelled subset stay: an A/A twin of the AE arm."""
    X, y, Xv, yv, Xt, yt = digits(seed)
    ae, _ = train_ae(X, Xv, code_size, lr, epochs, hidden, seed + init_offset)
    pca = PCA(code_size).fit(X.numpy())
    with torch.no_grad():
        feats = {"ae": [ae.encode(t).numpy() for t in (X, Xv, Xt)],
                 "raw": [t.numpy() for t in (X, Xv, Xt)],
                 "pca": [pca.transform(t.numpy()) for t in (X, Xv, Xt)]}
    out = Probe({k: {} for k in feats}, {k: {} for k in feats})
    for frac in fractions:
        idx = labelled_subset(y.numpy(), frac, seed)
        for name, (F, Fv, Ft) in feats.items():
            mu, sd = F[idx].mean(0), F[idx].std(0) + 1e-6  # scale on the labelled rows only
            acc, c = _probe_one((F[idx] - mu) / sd, y[idx].numpy(), (Fv - mu) / sd, yv.numpy(),
                                (Ft - mu) / sd, yt.numpy(), cs)
            out.acc[name][frac], out.chosen_c[name][frac] = acc, c
    return out


# ---------------------------------------------------------------- denoising
@dataclass
class Denoise:
    """Mean test PSNR (dB) and SSIM of each method, the filter settings chosen on validation,
    and a few test images (noisy, dae, best filter, clean) for the figure."""

    psnr: dict[str, float]
    ssim: dict[str, float]
    sigma: float
    size: int
    examples: dict[str, np.ndarray] = field(default_factory=dict)


def _images(x: torch.Tensor, side: int) -> torch.Tensor:
    return x.reshape(-1, 1, side, side).double()


def _scores(x: torch.Tensor, clean: torch.Tensor, side: int) -> tuple[float, float]:
    a, b = _images(x.clamp(0, 1), side), _images(clean, side)
    return float(psnr(b, a, 1.0).mean()), float(ssim(b, a, 1.0, win_size=7).mean())


def _filter(x: torch.Tensor, side: int, kind: str, value: float) -> torch.Tensor:
    imgs = x.reshape(-1, side, side).numpy()
    if kind == "blur":
        out = np.stack([ndimage.gaussian_filter(i, sigma=value, mode="reflect") for i in imgs])
    else:
        out = np.stack([ndimage.median_filter(i, size=int(value), mode="reflect") for i in imgs])
    return torch.tensor(out.reshape(len(x), -1), dtype=torch.float32)


def fit_dae(X: torch.Tensor, X_val: torch.Tensor, noisy_val: torch.Tensor, noise: float,
            lr: float, epochs: int, hidden: int, code_size: int, seed: int
            ) -> tuple[MLPAutoEncoder, float]:
    """A denoising MLP AE (sigmoid output) trained on ``X`` with fresh noise each step; its
    validation MSE is that of ``recon(noisy_val)`` against ``X_val`` (inf if it diverged)."""
    dae, res = cached_fit(("dae", X.shape[1], code_size, hidden),
                          lambda: MLPAutoEncoder(X.shape[1], code_size, (hidden,),
                                                 output="sigmoid"),
                          X, X_val, init_seed=seed, epochs=epochs, lr=lr, seed=seed,
                          noise_std=noise, val_input=noisy_val)
    return dae, (math.inf if res.diverged else res.val_mse)  # type: ignore[return-value]


def fit_vae(X: torch.Tensor, X_val: torch.Tensor, latent: int, lr: float, epochs: int,
            hidden: int, beta: float, seed: int) -> tuple[VAE, float]:
    """A VAE (Bernoulli reconstruction term) on ``X``; validation MSE (inf if it diverged)."""
    vae, res = cached_fit(("vae", X.shape[1], latent, hidden),
                          lambda: VAE(X.shape[1], latent, (hidden,), output="sigmoid"),
                          X, X_val, init_seed=seed, epochs=epochs, lr=lr, seed=seed, vae=True,
                          beta=beta, reconstruction="bce")
    return vae, (math.inf if res.diverged else res.val_mse)  # type: ignore[return-value]


def denoise(seed: int, source: str, noise: float, sigmas: tuple[float, ...],
            sizes: tuple[int, ...], lr: float, epochs: int, hidden: int, code_size: int,
            n_patches: int, keep: int, aa_offset: int = 0) -> Denoise:
    """DAE vs Gaussian blur vs median filter on noisy digits or noisy photo patches.

    Noise ``N(0, noise^2)`` is added once (seeded) to validation and test images; the DAE sees
    fresh noise each step on its training images. Filter settings are chosen on validation
    PSNR, like the DAE's learning rate. With ``aa_offset > 0`` a second DAE, identical but for
    its init and batch order (seed ``seed + aa_offset``), is scored as ``"dae_aa"``: the A/A
    comparison that gives the noise floor of the DAE's PSNR.
    """
    if source == "digits":
        X, _, Xv, _, Xt, _ = digits(seed)
    else:
        X, Xv, Xt = photo_patches(n_patches, 8, seed)
    side = int(math.isqrt(X.shape[1]))
    gen = torch.Generator().manual_seed(seed + 1)
    Nv = Xv + noise * torch.randn(Xv.shape, generator=gen)
    Nt = Xt + noise * torch.randn(Xt.shape, generator=gen)
    dae = fit_dae(X, Xv, Nv, noise, lr, epochs, hidden, code_size, seed)[0]
    twin = None
    if aa_offset:
        twin = fit_dae(X, Xv, Nv, noise, lr, epochs, hidden, code_size, seed + aa_offset)[0]
    sigma, _ = pick(sigmas, lambda s: -_scores(_filter(Nv, side, "blur", s), Xv, side)[0])
    size, _ = pick(sizes, lambda k: -_scores(_filter(Nv, side, "median", k), Xv, side)[0])
    outs = {"noisy": Nt, "dae": recon_of(dae, Nt), "blur": _filter(Nt, side, "blur", sigma),
            "median": _filter(Nt, side, "median", size)}
    if twin is not None:
        outs["dae_aa"] = recon_of(twin, Nt)
    res = Denoise({}, {}, float(sigma), int(size))
    for name, x in outs.items():
        res.psnr[name], res.ssim[name] = _scores(x, Xt, side)
    if keep:
        res.examples = {k: v[:keep].clamp(0, 1).reshape(-1, side, side).numpy()
                        for k, v in {**outs, "clean": Xt}.items() if k != "dae_aa"}
    return res


# ---------------------------------------------------------------- generation
@dataclass
class Generation:
    """A classifier's mean top-class probability on real test digits, on VAE samples and on
    samples of a Gaussian fitted to the pixels (the linear reference); sample images."""

    conf_real: float
    conf_vae: float
    conf_gauss: float
    kl: float
    samples: np.ndarray


def generation(seed: int, latent: int, lr: float, epochs: int, hidden: int, beta: float,
               n_samples: int, init_offset: int = 0) -> Generation:
    """``init_offset`` moves only the VAE's init and batch order (an A/A twin)."""
    X, y, Xv, _, Xt, _ = digits(seed)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(X.numpy(), y.numpy())
    vae = fit_vae(X, Xv, latent, lr, epochs, hidden, beta, seed + init_offset)[0]
    gen = torch.Generator().manual_seed(seed + 2)
    samples = vae.sample(n_samples, gen).clamp(0, 1)
    with torch.no_grad():
        mu, logvar = vae.encode(Xt)
        kl = float((0.5 * (logvar.exp() + mu**2 - 1 - logvar).sum(1)).mean())
    rng = np.random.default_rng(seed + 3)
    Xn = X.numpy().astype(np.float64)
    gauss = np.clip(rng.multivariate_normal(Xn.mean(0), np.cov(Xn.T), n_samples), 0, 1)

    def conf(a: np.ndarray) -> float:
        return float(clf.predict_proba(a).max(1).mean())

    return Generation(conf(Xt.numpy()), conf(samples.numpy()), conf(gauss), kl,
                      samples[:64].reshape(-1, 8, 8).numpy())

