"""Metrics for generated and reconstructed data: PSNR, SSIM and the Frechet distance.

Image shapes: a single image ``(H, W)`` gives a scalar; a batch ``(B, H, W)`` or
``(B, C, H, W)`` gives one value per image, shape ``(B,)`` (SSIM averages its map over
channels and positions; PSNR takes the MSE over channels and positions). PSNR and SSIM follow
scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity`` (default arguments)
number for number, and are differentiable torch code, so SSIM can also serve as a loss.

The Frechet distance (the "FID" formula, Heusel et al. 2017) compares two sets of feature
vectors through Gaussians fitted to each; this module does not ship an Inception network:
pass features from whatever encoder suits the data (for digits, a small trained classifier's
penultimate layer, :func:`classifier_features`). A Frechet distance on such in-project features
is NOT comparable with the Inception FID of papers: it lives in another feature space with
another scale, and is only meaningful between sets scored with the same classifier and the same
``N`` (compare it with the real-vs-real distance of two disjoint real halves as the floor).

Sample quality and coverage, apart: :func:`precision_recall` (the k-NN manifold estimate of
Kynkaanniemi et al., 2019) and :func:`modes_covered` (how many classes a classifier finds among
the samples).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "classifier_features",
    "frechet_distance",
    "frechet_distance_from_stats",
    "gradient_magnitude",
    "gradient_spectrum_distance",
    "modes_covered",
    "precision_recall",
    "psnr",
    "radial_power_spectrum",
    "ssim",
]

_TRUNCATE = 3.5  # scikit-image's Gaussian window: radius int(3.5 * sigma + 0.5), 11 taps at 1.5


def _pair(x: Tensor, y: Tensor, data_range: float) -> tuple[Tensor, Tensor, bool]:
    """Validate an image pair; return both as ``(B, C, H, W)`` float64 and whether unbatched."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("x and y must be tensors of shape (H, W), (B, H, W) or (B, C, H, W)")
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"x must be (H, W), (B, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    if isinstance(data_range, bool) or not isinstance(data_range, int | float):
        raise TypeError(f"data_range must be a number, got {type(data_range).__name__}")
    if not (math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a finite number > 0, got {data_range}")
    single = x.ndim == 2
    shape = {2: (1, 1, *x.shape), 3: (x.shape[0], 1, *x.shape[1:]), 4: tuple(x.shape)}[x.ndim]
    return x.double().reshape(shape), y.double().reshape(shape), single


def psnr(x: Tensor, y: Tensor, data_range: float) -> Tensor:
    """Peak signal-to-noise ratio in dB: ``10 log10(R^2 / MSE(x, y))``.

    Parameters
    ----------
    x, y : Tensor, shape (H, W), (B, H, W) or (B, C, H, W)
        Reference and test images (the formula is symmetric).
    data_range : float
        ``R``, the span of possible values (1 for images in ``[0, 1]``, 16 for raw digits).

    Returns
    -------
    Tensor
        float64; a scalar for one image, ``(B,)`` for a batch. Identical images give ``inf``.
    """
    a, b, single = _pair(x, y, data_range)
    mse = (a - b).pow(2).flatten(1).mean(dim=1)  # (B,)
    peak = torch.as_tensor(float(data_range) ** 2, dtype=mse.dtype, device=mse.device)
    value = 10.0 * torch.log10(peak / mse)  # (B,)
    return value[0] if single else value


def _window(win_size: int | None, gaussian_weights: bool, sigma: float) -> Tensor:
    """The 2-D averaging window ``(k, k)``, float64, summing to 1."""
    if gaussian_weights:
        radius = int(_TRUNCATE * sigma + 0.5)
        if win_size is not None and win_size != 2 * radius + 1:
            raise ValueError(
                f"win_size={win_size} conflicts with the Gaussian window of sigma={sigma} "
                f"({2 * radius + 1} taps); leave win_size=None"
            )
        taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
        kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
        kernel = kernel / kernel.sum()  # (k,)
        return torch.outer(kernel, kernel)  # (k, k), separable
    size = 7 if win_size is None else win_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 3 or size % 2 == 0:
        raise ValueError(f"win_size must be an odd int >= 3, got {win_size!r}")
    return torch.full((size, size), 1.0 / size**2, dtype=torch.float64)


def ssim(
    x: Tensor,
    y: Tensor,
    data_range: float,
    *,
    win_size: int | None = None,
    gaussian_weights: bool = False,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    use_sample_covariance: bool = True,
) -> Tensor:
    """Mean structural similarity (Wang et al. 2004), as scikit-image computes it.

    With local (windowed) means ``mu``, variances ``s^2`` and covariance ``s_xy``:

    .. math::
        S = \\frac{(2 \\mu_x \\mu_y + C_1)(2 s_{xy} + C_2)}
                  {(\\mu_x^2 + \\mu_y^2 + C_1)(s_x^2 + s_y^2 + C_2)}, \\qquad
        C_1 = (k_1 R)^2, \\; C_2 = (k_2 R)^2

    averaged over every window that lies wholly inside the image (scikit-image crops a
    border of ``(k - 1) / 2`` pixels) and over channels. The local moments use a uniform
    ``k x k`` window (``k = win_size = 7``) or, with ``gaussian_weights``, a Gaussian window of
    ``sigma`` truncated at 3.5 sigma (11 taps at 1.5). ``use_sample_covariance`` rescales the
    moments by ``k^2 / (k^2 - 1)``; set it False with ``gaussian_weights=True`` to match the
    paper exactly.

    Parameters
    ----------
    x, y : Tensor, shape (H, W), (B, H, W) or (B, C, H, W)
        ``H, W >= k``; an 8x8 digit allows ``k`` up to 7 (the default).
    data_range : float
        ``R``, the span of possible values.

    Returns
    -------
    Tensor
        float64 in ``[-1, 1]``; a scalar for one image, ``(B,)`` for a batch. Differentiable.
    """
    a, b, single = _pair(x, y, data_range)
    for name, number in (("k1", k1), ("k2", k2), ("sigma", sigma)):
        if isinstance(number, bool) or not isinstance(number, int | float) or not number > 0:
            raise ValueError(f"{name} must be a number > 0, got {number!r}")
    window = _window(win_size, gaussian_weights, sigma).to(a.device)
    k = window.shape[0]
    if min(a.shape[-2:]) < k:
        raise ValueError(f"images of {tuple(a.shape[-2:])} are smaller than the {k}x{k} window")
    batch, channels = a.shape[:2]
    flat = lambda t: t.reshape(batch * channels, 1, *t.shape[-2:])  # noqa: E731
    kernel = window.view(1, 1, k, k)
    local = lambda t: F.conv2d(flat(t), kernel)  # (B*C, 1, H-k+1, W-k+1): windows inside  # noqa: E731
    cov_norm = k * k / (k * k - 1) if use_sample_covariance else 1.0
    mu_x, mu_y = local(a), local(b)
    var_x = cov_norm * (local(a * a) - mu_x * mu_x)
    var_y = cov_norm * (local(b * b) - mu_y * mu_y)
    cov_xy = cov_norm * (local(a * b) - mu_x * mu_y)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    ssim_map = numerator / denominator  # (B*C, 1, H', W')
    value = ssim_map.reshape(batch, -1).mean(dim=1)  # (B,): channels share the map size
    return value[0] if single else value


def _features(values: Any, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().double().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must be (N, D) with N >= 2 samples, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds non-finite values")
    return arr


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def frechet_distance_from_stats(mu_a: Any, cov_a: Any, mu_b: Any, cov_b: Any) -> float:
    """Squared 2-Wasserstein (Frechet) distance between ``N(mu_a, cov_a)`` and ``N(mu_b, cov_b)``.

    .. math::
        d^2 = \\lVert \\mu_a - \\mu_b \\rVert^2
              + \\operatorname{tr}\\left(\\Sigma_a + \\Sigma_b
              - 2 (\\Sigma_a \\Sigma_b)^{1/2}\\right)

    ``tr((S_a S_b)^{1/2})`` is computed as the sum of the square roots of the eigenvalues of
    the symmetric matrix ``S_a^{1/2} S_b S_a^{1/2}`` (same spectrum as ``S_a S_b``), which
    avoids the complex round-off of a general matrix square root.

    Parameters
    ----------
    mu_a, mu_b : array-like, shape (D,)
    cov_a, cov_b : array-like, shape (D, D), symmetric positive semi-definite

    Returns
    -------
    float, ``>= 0`` up to round-off.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    dim = mu_a.shape[0] if mu_a.ndim == 1 else -1
    for name, arr, shape in (
        ("mu_b", mu_b, (dim,)),
        ("cov_a", cov_a, (dim, dim)),
        ("cov_b", cov_b, (dim, dim)),
    ):
        if dim < 1 or arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match mu_a {mu_a.shape}")
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a  # (D, D), symmetric PSD
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Frechet distance between Gaussians fitted to two feature sets ("FID" on any features).

    Means and unbiased covariances (``np.cov``, divisor ``N - 1``, as in pytorch-fid) of each
    set go into :func:`frechet_distance_from_stats`. The estimate is biased upward for small
    ``N``: compare values computed with the same ``N``.

    Parameters
    ----------
    features_a, features_b : array-like or Tensor, shape (N_a, D) and (N_b, D)

    Returns
    -------
    float
    """
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a has {a.shape[1]} features but features_b has {b.shape[1]}")
    return frechet_distance_from_stats(
        a.mean(axis=0),
        np.cov(a, rowvar=False).reshape(a.shape[1], -1),
        b.mean(axis=0),
        np.cov(b, rowvar=False).reshape(b.shape[1], -1),
    )


def _knn_radii(points: Tensor, k: int, chunk: int) -> Tensor:
    """Distance from each point to its ``k``-th nearest neighbour in the same set (itself
    excluded), shape ``(N,)``."""
    radii = []
    for start in range(0, points.shape[0], chunk):
        d = torch.cdist(points[start:start + chunk], points)  # (c, N)
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, k])  # 0th is the point itself
    return torch.cat(radii)


def _coverage(queries: Tensor, centres: Tensor, radii: Tensor, chunk: int) -> float:
    """Share of ``queries`` inside at least one ball ``B(centre_j, radius_j)``."""
    inside = 0
    for start in range(0, queries.shape[0], chunk):
        d = torch.cdist(queries[start:start + chunk], centres)  # (c, M)
        inside += int((d <= radii[None, :]).any(dim=1).sum())
    return inside / queries.shape[0]


def precision_recall(real_features: Any, fake_features: Any, k: int = 3,
                     chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019): k-NN manifold estimates.

    Each set's manifold is the union of balls around its points, each ball's radius the distance
    to that point's ``k``-th nearest neighbour within the set:

    .. math::
        \\Phi(S) = \bigcup_{s \\in S} B(s, d_k(s, S)), \\qquad
        \text{precision} = \frac{1}{|F|} \\sum_{f \\in F} [f \\in \\Phi(R)], \\qquad
        \text{recall} = \frac{1}{|R|} \\sum_{r \\in R} [r \\in \\Phi(F)]

    Precision is the share of generated samples that fall on the real manifold (quality);
    recall the share of real samples that fall on the generated manifold (coverage). A point
    on a ball's boundary counts as inside (identical sets give 1, 1).

    Parameters
    ----------
    real_features, fake_features : array-like or Tensor, shape (N_r, D) and (N_f, D)
        Both sets need more than ``k`` points. Use the same ``N`` when comparing runs.
    k : int
        Neighbourhood size (the paper uses 3).

    Returns
    -------
    (precision, recall) : tuple of float in [0, 1]
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    real = torch.from_numpy(_features(real_features, "real_features"))
    fake = torch.from_numpy(_features(fake_features, "fake_features"))
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_features has {real.shape[1]} features but fake_features has "
                         f"{fake.shape[1]}")  # fmt: skip
    for name, arr in (("real_features", real), ("fake_features", fake)):
        if arr.shape[0] <= k:
            raise ValueError(f"{name} needs more than k={k} samples, got {arr.shape[0]}")
    precision = _coverage(fake, real, _knn_radii(real, k, chunk), chunk)
    recall = _coverage(real, fake, _knn_radii(fake, k, chunk), chunk)
    return precision, recall


def modes_covered(labels: Any, num_classes: int, min_share: float = 0.1) -> int:
    """How many of ``num_classes`` modes the samples cover, from the classes a classifier gave
    them: class ``c`` is covered when its count is at least ``min_share * N / num_classes``
    (``min_share`` of its share under a uniform spread; 0 counts a single sample).

    Parameters
    ----------
    labels : array-like or Tensor of int, shape (N,)
        Predicted class of each generated sample, in ``0..num_classes-1``.
    num_classes : int
    min_share : float in [0, 1]

    Returns
    -------
    int in ``0..num_classes``
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
    if not (isinstance(min_share, int | float) and 0.0 <= min_share <= 1.0):
        raise ValueError(f"min_share must be a number in [0, 1], got {min_share!r}")
    arr = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-D array of ints, got shape {arr.shape} "
                         f"and dtype {arr.dtype}")  # fmt: skip
    if arr.min() < 0 or arr.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {arr.min()}..{arr.max()}")
    counts = np.bincount(arr, minlength=num_classes)
    need = max(min_share * arr.size / num_classes, 1.0)
    return int((counts >= need).sum())


@torch.no_grad()
def classifier_features(model: torch.nn.Module, inputs: Tensor,
                        layer: torch.nn.Module | None = None,
                        batch_size: int = 512) -> np.ndarray:
    """Features of ``inputs`` from a trained classifier, for :func:`frechet_distance` and
    :func:`precision_recall`: the input of ``layer`` (default: the classifier's last
    ``nn.Linear``, i.e. its penultimate features), read with a forward pre-hook in eval mode.

    These features are in-project: a Frechet distance on them is not comparable with the
    Inception FID reported in papers (another network, space and scale); compare it only with
    distances from the same classifier at the same ``N``, e.g. against two disjoint real halves.

    Parameters
    ----------
    model : nn.Module
        The classifier; its train/eval mode is restored afterwards.
    inputs : Tensor, shape (N, *)

    Returns
    -------
    np.ndarray, float64, shape (N, D)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if layer is None:
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not linears:
            raise ValueError("model has no nn.Linear layer: pass layer=")
        layer = linears[-1]
    grabbed: list[Tensor] = []
    handle = layer.register_forward_pre_hook(
        lambda _m, args: grabbed.append(args[0].detach().flatten(1).double().cpu()))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, inputs.shape[0], batch_size):
            model(inputs[start:start + batch_size])
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(grabbed).numpy()


# ---------------------------------------------------------------- sharpness (super-resolution)
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def _gray_batch(x: Any, name: str) -> Tensor:
    """``(B, H, W)`` float64 from ``(H, W)``, ``(B, H, W)`` or ``(B, 1, H, W)``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(x).__name__}")
    t = x.detach().to(torch.float64)
    if t.dim() == 4:
        if t.shape[1] != 1:
            raise ValueError(f"{name} must have one channel, got shape {tuple(x.shape)}")
        t = t[:, 0]
    elif t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or t.shape[-1] < 5 or t.shape[-2] < 5:
        raise ValueError(f"{name} must be (H, W), (B, H, W) or (B, 1, H, W) with H, W >= 5, "
                         f"got shape {tuple(x.shape)}")
    return t


def gradient_magnitude(images: Tensor) -> Tensor:
    """Sobel gradient magnitude ``sqrt(G_x^2 + G_y^2)`` on the valid interior.

    ``G_x = S * I`` and ``G_y = S^T * I`` with ``S = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``
    (the same kernel as ``scipy.ndimage.sobel``, whose values it equals away from the border).

    Parameters
    ----------
    images : Tensor, shape (H, W), (B, H, W) or (B, 1, H, W)

    Returns
    -------
    Tensor, float64, shape (B, H - 2, W - 2)
    """
    x = _gray_batch(images, "images")[:, None]  # (B, 1, H, W)
    kx = torch.tensor(_SOBEL_X, dtype=torch.float64)
    k = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3): d/dx (columns), d/dy (rows)
    g = F.conv2d(x, k.flip(-1, -2))  # (B, 2, H - 2, W - 2); flip: convolution, not correlation
    return g.pow(2).sum(dim=1).sqrt()


def radial_power_spectrum(images: Tensor) -> Tensor:
    """Radially averaged power spectrum of each image (mean removed).

    ``P(u, v) = |FFT2(I - mean I)|^2 / (H W)``, averaged over the rings
    ``r = round(sqrt(f_u^2 + f_v^2) * min(H, W))`` for ``r = 1 .. min(H, W) // 2`` (the DC ring,
    zero after centring, is left out), with ``f`` the FFT frequencies in cycles per pixel.

    Parameters
    ----------
    images : Tensor, shape (H, W), (B, H, W) or (B, 1, H, W)

    Returns
    -------
    Tensor, float64, shape (B, min(H, W) // 2)
    """
    x = _gray_batch(images, "images")
    B, H, W = x.shape
    x = x - x.mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2) / (H * W)  # (B, H, W)
    fu, fv = torch.fft.fftfreq(H, dtype=torch.float64), torch.fft.fftfreq(W, dtype=torch.float64)
    radius = (torch.sqrt(fu[:, None] ** 2 + fv[None, :] ** 2) * min(H, W)).round().long()
    n_bins = min(H, W) // 2
    sums = torch.zeros(B, n_bins + 1, dtype=torch.float64)
    keep = radius <= n_bins  # (H, W): the corners beyond the last full ring are dropped
    idx = radius[keep]  # (K,)
    sums.index_add_(1, idx, power[:, keep])
    counts = torch.bincount(idx, minlength=n_bins + 1).to(torch.float64)
    return (sums / counts)[:, 1:]  # (B, n_bins)


def gradient_spectrum_distance(x: Tensor, y: Tensor, eps: float = 1e-8) -> Tensor:
    """Distance between the radially averaged power spectra of the Sobel gradient magnitudes.

    A measured "sharpness" difference: blurred reconstructions lose power at high spatial
    frequencies of their gradient magnitude. With ``S_x = radial_power_spectrum(|grad x|)``
    (:func:`gradient_magnitude`, :func:`radial_power_spectrum`):

    .. math::
        d(x, y) = \\frac{1}{R} \\sum_{r=1}^{R} |\\log_{10}(S_x(r) + \\epsilon)
                  - \\log_{10}(S_y(r) + \\epsilon)|

    i.e. the mean absolute gap in decades per ring. Zero for identical images, symmetric.

    Parameters
    ----------
    x, y : Tensor, shape (H, W), (B, H, W) or (B, 1, H, W), same shape
        Images compared pair by pair (e.g. super-resolved vs high-resolution).
    eps : float
        Floor inside the logarithm (flat images have zero power).

    Returns
    -------
    Tensor
        float64; a scalar for one pair, ``(B,)`` for a batch.
    """
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("x and y must be Tensors")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if not (isinstance(eps, int | float) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    sx = radial_power_spectrum(gradient_magnitude(x))  # (B, R)
    sy = radial_power_spectrum(gradient_magnitude(y))
    d = (torch.log10(sx + eps) - torch.log10(sy + eps)).abs().mean(dim=1)  # (B,)
    return d[0] if x.dim() == 2 else d
