"""gradient_magnitude / radial_power_spectrum / gradient_spectrum_distance: parity with scipy and
numpy, and the properties the super-resolution lab relies on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from deepdojo.metrics.generative import (
    gradient_magnitude,
    gradient_spectrum_distance,
    radial_power_spectrum,
)


def _img(seed: int, shape=(3, 32, 32)) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_gradient_magnitude_equals_scipy_sobel_on_the_interior():
    x = _img(0)
    ours = gradient_magnitude(x)
    for b in range(3):
        a = x[b].numpy()
        ref = np.hypot(ndimage.sobel(a, axis=1), ndimage.sobel(a, axis=0))[1:-1, 1:-1]
        np.testing.assert_allclose(ours[b].numpy(), ref, rtol=1e-12, atol=1e-12)
    assert ours.shape == (3, 30, 30)


def test_gradient_of_a_ramp_is_constant():
    ramp = torch.arange(10, dtype=torch.float64).repeat(10, 1)  # I(r, c) = c
    np.testing.assert_allclose(gradient_magnitude(ramp).numpy(), 8.0)  # Sobel gain 4 * 2


def test_radial_spectrum_matches_a_numpy_loop():
    x = _img(1, (2, 12, 16))
    ours = radial_power_spectrum(x).numpy()
    H, W = 12, 16
    for b in range(2):
        a = x[b].numpy() - x[b].numpy().mean()
        p = np.abs(np.fft.fft2(a)) ** 2 / (H * W)
        fu, fv = np.fft.fftfreq(H), np.fft.fftfreq(W)
        rings: dict[int, list[float]] = {}
        for i in range(H):
            for j in range(W):
                r = int(np.round(np.hypot(fu[i], fv[j]) * min(H, W)))
                rings.setdefault(r, []).append(p[i, j])
        ref = [np.mean(rings[r]) for r in range(1, min(H, W) // 2 + 1)]
        np.testing.assert_allclose(ours[b], ref, rtol=1e-12)


def test_parseval_total_power_of_a_sinusoid_lands_in_its_ring():
    c = torch.arange(32, dtype=torch.float64)
    wave = torch.cos(2 * np.pi * 4 * c / 32).repeat(32, 1)  # 4 cycles across 32 columns
    s = radial_power_spectrum(wave)[0]
    assert int(s.argmax()) + 1 == 4
    assert float(s[torch.arange(16) != 3].max()) < 1e-20


def test_distance_zero_symmetric_and_blur_is_farther():
    x, y = _img(2), _img(3)
    assert torch.all(gradient_spectrum_distance(x, x) == 0)
    np.testing.assert_allclose(gradient_spectrum_distance(x, y), gradient_spectrum_distance(y, x))
    # blur: 2x bilinear down and up loses high-frequency gradient power
    blur = F.interpolate(F.interpolate(x[:, None], scale_factor=0.5, mode="bilinear",
                                       antialias=True), scale_factor=2, mode="bilinear")[:, 0]
    noisy = x + 0.01 * _img(4)
    assert torch.all(gradient_spectrum_distance(blur, x) > 5 * gradient_spectrum_distance(noisy, x))
    assert gradient_spectrum_distance(x[0], blur[0]).dim() == 0
    assert gradient_spectrum_distance(x[:, None], blur[:, None]).shape == (3,)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="same shape"):
        gradient_spectrum_distance(_img(0), _img(0, (3, 16, 16)))
    with pytest.raises(ValueError, match="images must be"):
        gradient_magnitude(torch.zeros(4))
    with pytest.raises(ValueError, match="one channel"):
        gradient_magnitude(torch.zeros(2, 3, 8, 8))
    with pytest.raises(TypeError, match="x and y"):
        gradient_spectrum_distance(np.zeros((8, 8)), torch.zeros(8, 8))
    with pytest.raises(ValueError, match="eps"):
        gradient_spectrum_distance(_img(0), _img(0), eps=0.0)
