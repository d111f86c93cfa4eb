"""VICReg loss: each term against a hand-written NumPy formula, the weights, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepdojo.nn.losses import vicreg_loss, vicreg_terms


def _hand(z1: np.ndarray, z2: np.ndarray, gamma=1.0, eps=1e-4):
    n, d = z1.shape
    inv = sum((z1[i, j] - z2[i, j]) ** 2 for i in range(n) for j in range(d)) / (n * d)

    def var(z):
        out = 0.0
        for j in range(d):
            col = z[:, j]
            v = sum((c - col.mean()) ** 2 for c in col) / (n - 1)  # unbiased
            out += max(0.0, gamma - np.sqrt(v + eps))
        return out / d

    def cov(z):
        zc = z - z.mean(0)
        total = 0.0
        for j in range(d):
            for k in range(d):
                if j != k:
                    total += (sum(zc[i, j] * zc[i, k] for i in range(n)) / (n - 1)) ** 2
        return total / d

    return inv, (var(z1) + var(z2)) / 2, cov(z1) + cov(z2)


def test_terms_match_the_hand_formulas():
    rng = np.random.default_rng(0)
    z1 = rng.normal(0, 0.7, (9, 5))
    z2 = z1 + rng.normal(0, 0.3, (9, 5))
    terms = vicreg_terms(torch.tensor(z1), torch.tensor(z2))
    inv, var, cov = _hand(z1, z2)
    assert float(terms.invariance) == pytest.approx(inv, rel=1e-10)
    assert float(terms.variance) == pytest.approx(var, rel=1e-10)
    assert float(terms.covariance) == pytest.approx(cov, rel=1e-10)
    assert var > 0 and cov > 0  # the test exercises every term


def test_loss_weights_the_terms_25_25_1_by_default():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(16, 6, generator=g) * 0.5, torch.randn(16, 6, generator=g) * 0.5
    t = vicreg_terms(z1, z2)
    expected = 25 * t.invariance + 25 * t.variance + 1 * t.covariance
    assert float(vicreg_loss(z1, z2)) == pytest.approx(float(expected), rel=1e-6)
    custom = vicreg_loss(z1, z2, sim_coeff=1.0, std_coeff=0.0, cov_coeff=2.0)
    assert float(custom) == pytest.approx(float(t.invariance + 2 * t.covariance), rel=1e-6)


def test_collapsed_embeddings_pay_the_full_variance_term_and_keep_finite_gradients():
    z = torch.ones(8, 4, requires_grad=True)
    t = vicreg_terms(z.detach(), z.detach())
    assert float(t.invariance) == 0.0 and float(t.covariance) == 0.0
    assert float(t.variance) == pytest.approx(1.0 - 1e-2, abs=1e-7)  # gamma - sqrt(eps)
    vicreg_loss(z, z * 1.0).backward()
    assert torch.isfinite(z.grad).all()


def test_spread_decorrelated_embeddings_have_no_variance_penalty():
    # columns of a scaled orthogonal design: std 2 > gamma, zero covariance
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64) * 2
    t = vicreg_terms(z, z)
    assert float(t.variance) == 0.0 and float(t.covariance) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("args, kwargs, message", [
    ((torch.randn(4, 3), torch.randn(4, 2)), {}, "same shape"),
    ((torch.randn(1, 3), torch.randn(1, 3)), {}, "N >= 2"),
    ((torch.randn(4, 3), torch.randn(4, 3)), {"std_coeff": -1.0}, "std_coeff"),
    ((torch.randn(4, 3), torch.randn(4, 3)), {"gamma": 0.0}, "gamma"),
])
def test_bad_input_is_named(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        vicreg_loss(*args, **kwargs)
