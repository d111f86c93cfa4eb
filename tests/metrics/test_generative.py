"""PSNR and SSIM against scikit-image; the Frechet distance against closed forms and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from deepdojo_testing import require

from deepdojo.metrics import frechet_distance, frechet_distance_from_stats, psnr, ssim

skimage_metrics = require("skimage.metrics", extra="dev")
scipy_linalg = require("scipy.linalg", extra="dev")


def _images(shape, seed=0, noise=0.1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    y = (x + noise * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, y


def _sk_ssim(x, y, **kwargs):
    x, y = x.numpy(), y.numpy()
    channel_axis = 0 if x.ndim == 3 else None
    return skimage_metrics.structural_similarity(x, y, channel_axis=channel_axis, **kwargs)


@pytest.mark.parametrize("data_range", [1.0, 16.0])
def test_psnr_matches_skimage_single_and_batch(data_range):
    x, y = _images((5, 3, 8, 8), seed=1)
    x, y = x * data_range, y * data_range
    batch = psnr(x, y, data_range=data_range)
    assert batch.shape == (5,)
    for b in range(5):
        expected = skimage_metrics.peak_signal_noise_ratio(
            x[b].numpy(), y[b].numpy(), data_range=data_range
        )
        assert float(batch[b]) == pytest.approx(expected, rel=1e-12)
    single = psnr(x[0, 0], y[0, 0], data_range)
    assert single.ndim == 0
    expected = skimage_metrics.peak_signal_noise_ratio(
        x[0, 0].numpy(), y[0, 0].numpy(), data_range=data_range
    )
    assert float(single) == pytest.approx(expected, rel=1e-12)
    three_d = psnr(x[:, 0], y[:, 0], data_range)  # (B, H, W)
    torch.testing.assert_close(three_d, psnr(x[:, :1], y[:, :1], data_range))


def test_psnr_known_value_and_identical_images():
    x = torch.zeros(4, 4)
    y = torch.full((4, 4), 0.1, dtype=torch.float64)  # MSE 0.01 -> 10 log10(1 / 0.01) = 20 dB
    assert float(psnr(x, y, 1.0)) == pytest.approx(20.0, rel=1e-12)
    assert float(psnr(x, x, 1.0)) == float("inf")


@pytest.mark.parametrize("noise", [0.05, 0.3])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"win_size": 5},
        {"use_sample_covariance": False},
        {"k1": 0.02, "k2": 0.05},
    ],
)
def test_ssim_matches_skimage_on_digit_sized_images(kwargs, noise):
    x, y = _images((4, 1, 8, 8), seed=2, noise=noise)
    got = ssim(x, y, data_range=1.0, **kwargs)
    sk_kwargs = {("K1" if k == "k1" else "K2" if k == "k2" else k): v for k, v in kwargs.items()}
    for b in range(4):
        expected = _sk_ssim(x[b, 0], y[b, 0], data_range=1.0, **sk_kwargs)
        assert float(got[b]) == pytest.approx(expected, abs=1e-12)
    assert float(ssim(x[0, 0], y[0, 0], 1.0, **kwargs)) == pytest.approx(float(got[0]), abs=1e-14)


def test_ssim_matches_skimage_gaussian_and_multichannel():
    x, y = _images((3, 3, 24, 20), seed=3)
    got = ssim(x, y, 1.0)
    gauss = ssim(x, y, 1.0, gaussian_weights=True, use_sample_covariance=False)
    for b in range(3):
        assert float(got[b]) == pytest.approx(_sk_ssim(x[b], y[b], data_range=1.0), abs=1e-12)
        expected = _sk_ssim(
            x[b], y[b], data_range=1.0, gaussian_weights=True, use_sample_covariance=False
        )
        assert float(gauss[b]) == pytest.approx(expected, abs=1e-12)


def test_ssim_of_identical_images_is_one_and_it_is_differentiable():
    x, _ = _images((2, 1, 8, 8))
    torch.testing.assert_close(ssim(x, x, 1.0), torch.ones(2, dtype=torch.float64))
    y = x.clone().requires_grad_(True)
    (1 - ssim(x, (y + 0.1).clamp(0, 1), 1.0).mean()).backward()
    assert y.grad is not None and bool(y.grad.abs().sum() > 0)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: psnr(torch.zeros(4, 4), torch.zeros(4, 5), 1.0), ValueError, "same shape"),
        (lambda: psnr(torch.zeros(4), torch.zeros(4), 1.0), ValueError, r"\(H, W\)"),
        (lambda: psnr(torch.zeros(4, 4), torch.zeros(4, 4), 0.0), ValueError, "data_range"),
        (lambda: ssim(torch.zeros(6, 6), torch.zeros(6, 6), 1.0), ValueError, "7x7 window"),
        (lambda: ssim(torch.zeros(8, 8), torch.zeros(8, 8), 1.0, win_size=4), ValueError, "odd"),
        (
            lambda: ssim(
                torch.zeros(20, 20), torch.zeros(20, 20), 1.0, gaussian_weights=True, win_size=7
            ),
            ValueError,
            "conflicts",
        ),
        (lambda: ssim(torch.zeros(8, 8), torch.zeros(8, 8), 1.0, k1=-1), ValueError, "k1"),
    ],
)
def test_image_metric_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------- Frechet distance


def test_frechet_from_stats_closed_forms():
    rng = np.random.default_rng(0)
    mu_a, mu_b = rng.normal(size=5), rng.normal(size=5)
    factor = rng.normal(size=(5, 5))
    cov = factor @ factor.T + np.eye(5)
    # identical covariances: only the mean term is left
    assert frechet_distance_from_stats(mu_a, cov, mu_b, cov) == pytest.approx(
        float(((mu_a - mu_b) ** 2).sum()), rel=1e-9
    )
    # diagonal covariances: sum of (sqrt(s_a) - sqrt(s_b))^2
    s_a, s_b = rng.uniform(0.1, 3, size=5), rng.uniform(0.1, 3, size=5)
    expected = float(((mu_a - mu_b) ** 2).sum() + ((np.sqrt(s_a) - np.sqrt(s_b)) ** 2).sum())
    got = frechet_distance_from_stats(mu_a, np.diag(s_a), mu_b, np.diag(s_b))
    assert got == pytest.approx(expected, rel=1e-12)
    assert frechet_distance_from_stats(mu_a, cov, mu_a, cov) == pytest.approx(0.0, abs=1e-9)


def test_frechet_from_stats_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    fa, fb = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    cov_a, cov_b = fa @ fa.T, fb @ fb.T + 0.5 * np.eye(6)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    root = scipy_linalg.sqrtm(cov_a @ cov_b).real
    expected = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))
    got = frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b)
    assert got == pytest.approx(expected, rel=1e-9)
    # symmetric in its two arguments
    assert frechet_distance_from_stats(mu_b, cov_b, mu_a, cov_a) == pytest.approx(got, rel=1e-9)


def test_frechet_distance_on_samples_uses_mean_and_unbiased_cov():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(50, 3))
    b = rng.normal(loc=1.0, scale=2.0, size=(40, 3))
    expected = frechet_distance_from_stats(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    assert frechet_distance(torch.from_numpy(a), b) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_of_gaussian_samples_approaches_the_known_value():
    # N(0, I) vs N(m, 4 I) in D = 4: d^2 = ||m||^2 + D (2 - 1)^2 = 4 * 0.25 + 4 = 5
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20_000, 4))
    b = rng.normal(loc=0.5, scale=2.0, size=(20_000, 4))
    assert frechet_distance(a, b) == pytest.approx(5.0, abs=0.1)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_errors():
    with pytest.raises(ValueError, match="features_a must be"):
        frechet_distance(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="2 features but features_b has 3"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        frechet_distance(np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="cov_a must have shape"):
        frechet_distance_from_stats(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
