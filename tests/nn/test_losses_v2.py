"""NT-Xent, the GAN objectives, the gradient penalty and the VAE loss against hand formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from deepdojo.nn import gan_loss, gradient_penalty, nt_xent, vae_loss
from deepdojo.nn.losses import GAN_KINDS, VAELoss, gaussian_kl

D = torch.float64


# ---------------------------------------------------------------- NT-Xent


def _nt_xent_by_hand(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> list[float]:
    """Per-anchor loss with explicit loops: cosine, exp, sum over k != i."""
    z = [list(map(float, row)) for row in torch.cat([z1, z2])]
    n, b = len(z), z1.shape[0]

    def cos(u: list[float], v: list[float]) -> float:
        dot = sum(a * c for a, c in zip(u, v, strict=True))
        return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(c * c for c in v)))

    losses = []
    for i in range(n):
        pos = (i + b) % n
        denom = sum(math.exp(cos(z[i], z[k]) / tau) for k in range(n) if k != i)
        losses.append(-math.log(math.exp(cos(z[i], z[pos]) / tau) / denom))
    return losses


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 2.0])
def test_nt_xent_matches_hand_computation_with_temperature(tau):
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(5, 7, generator=g, dtype=D), torch.randn(5, 7, generator=g, dtype=D)
    expected = _nt_xent_by_hand(z1, z2, tau)
    per_anchor = nt_xent(z1, z2, tau, reduction="none")
    assert per_anchor.shape == (10,)
    assert per_anchor.tolist() == pytest.approx(expected, rel=1e-12)
    assert float(nt_xent(z1, z2, temperature=tau)) == pytest.approx(sum(expected) / 10, rel=1e-12)
    assert float(nt_xent(z1, z2, tau, reduction="sum")) == pytest.approx(sum(expected), rel=1e-12)


def test_nt_xent_temperature_changes_the_value_and_scale_invariance():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 4, generator=g, dtype=D), torch.randn(6, 4, generator=g, dtype=D)
    assert float(nt_xent(z1, z2, 0.1)) != pytest.approx(float(nt_xent(z1, z2, 0.5)))
    # cosine similarity: rescaling an embedding changes nothing
    assert float(nt_xent(3 * z1, 0.2 * z2, 0.3)) == pytest.approx(float(nt_xent(z1, z2, 0.3)))


def test_nt_xent_perfectly_aligned_orthogonal_views_reach_the_analytic_value():
    # B orthonormal items, identical views: s_pos = 1, s to the other 2B-2 items = 0
    b, tau = 4, 0.5
    z = torch.eye(b, dtype=D)
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + (2 * b - 2)))
    assert float(nt_xent(z, z.clone(), tau)) == pytest.approx(expected, rel=1e-12)


def test_nt_xent_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(3, 4, generator=g, dtype=D, requires_grad=True)
    z2 = torch.randn(3, 4, generator=g, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, c: nt_xent(a, c, 0.3), (z1, z2))


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((torch.zeros(3, 2), torch.zeros(4, 2)), {}, ValueError, "same shape"),
        ((torch.zeros(3), torch.zeros(3)), {}, ValueError, r"\(B, D\)"),
        ((torch.zeros(3, 2), torch.zeros(3, 2), 0.0), {}, ValueError, "temperature"),
        ((torch.zeros(3, 2), torch.zeros(3, 2), "0.5"), {}, TypeError, "temperature"),
        ((torch.zeros(3, 2), torch.zeros(3, 2)), {"reduction": "avg"}, ValueError, "reduction"),
        (([1.0], torch.zeros(3, 2)), {}, TypeError, "z1 and z2"),
    ],
)
def test_nt_xent_rejects_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        nt_xent(*args, **kwargs)


# ---------------------------------------------------------------- GAN losses


def _log_sigmoid(t: float) -> float:
    return -math.log1p(math.exp(-t))


REAL = [2.0, -0.5, 0.3, 1.5]
FAKE = [-1.0, 0.7, -3.0]


def test_non_saturating_matches_log_formulas():
    loss = gan_loss("non_saturating")
    real, fake = torch.tensor(REAL, dtype=D), torch.tensor(FAKE, dtype=D)
    d_expected = (
        -sum(_log_sigmoid(r) for r in REAL) / 4
        - sum(math.log(1 - 1 / (1 + math.exp(-f))) for f in FAKE) / 3
    )
    g_expected = -sum(_log_sigmoid(f) for f in FAKE) / 3
    assert float(loss.discriminator(real, fake)) == pytest.approx(d_expected, rel=1e-12)
    assert float(loss.generator(fake)) == pytest.approx(g_expected, rel=1e-12)
    # equals torch's BCE-with-logits against labels 1 (real) and 0 (fake)
    bce = F.binary_cross_entropy_with_logits
    torch_d = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    assert float(loss.discriminator(real, fake)) == pytest.approx(float(torch_d), rel=1e-12)


def test_hinge_matches_formulas():
    loss = gan_loss("hinge")
    real, fake = torch.tensor(REAL, dtype=D), torch.tensor(FAKE, dtype=D)
    d_expected = sum(max(0.0, 1 - r) for r in REAL) / 4 + sum(max(0.0, 1 + f) for f in FAKE) / 3
    assert float(loss.discriminator(real, fake)) == pytest.approx(d_expected, rel=1e-12)
    assert float(loss.generator(fake)) == pytest.approx(-sum(FAKE) / 3, rel=1e-12)


def test_wasserstein_matches_formulas_and_accepts_column_scores():
    loss = gan_loss("wasserstein")
    real = torch.tensor(REAL, dtype=D).unsqueeze(1)  # (B, 1)
    fake = torch.tensor(FAKE, dtype=D).unsqueeze(1)
    d_expected = sum(FAKE) / 3 - sum(REAL) / 4
    assert float(loss.discriminator(real, fake)) == pytest.approx(d_expected, rel=1e-12)
    assert float(loss.generator(fake)) == pytest.approx(-sum(FAKE) / 3, rel=1e-12)


def test_gan_loss_rejects_unknown_kind_and_bad_scores():
    assert set(GAN_KINDS) == {"non_saturating", "hinge", "wasserstein"}
    with pytest.raises(ValueError, match="kind must be one of"):
        gan_loss("minimax")
    with pytest.raises(TypeError, match="kind"):
        gan_loss(3)
    with pytest.raises(ValueError, match="fake_scores"):
        gan_loss("hinge").generator(torch.zeros(4, 2))


# ---------------------------------------------------------------- gradient penalty


class _Linear(nn.Module):
    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w  # (B,)


def test_gradient_penalty_of_linear_critic_is_exact():
    w = torch.tensor([0.6, -1.2, 2.0, 0.1, 0.0, 0.5], dtype=D)
    critic = _Linear(w.clone())
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(5, 2, 3, generator=g, dtype=D), torch.randn(5, 2, 3, dtype=D)
    for target in (1.0, 0.5):
        gp = gradient_penalty(critic, real, fake, target=target, generator=g)
        assert float(gp.detach()) == pytest.approx((float(w.norm()) - target) ** 2, rel=1e-12)
    # gradient reaches the critic: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gp = gradient_penalty(critic, real, fake)
    gp.backward()
    expected = 2 * (w.norm() - 1) * w / w.norm()
    torch.testing.assert_close(critic.w.grad, expected, rtol=1e-12, atol=1e-12)


def test_gradient_penalty_uses_interpolates_and_does_not_reach_inputs():
    # f(x) = sum(x^2)/2 has gradient x, so the penalty depends on where x_hat lies.
    class Quad(nn.Module):
        def forward(self, x):
            return 0.5 * x.pow(2).sum(dim=1)

    real = torch.full((64, 1), 2.0, dtype=D, requires_grad=True)
    fake = torch.zeros(64, 1, dtype=D, requires_grad=True)
    g = torch.Generator().manual_seed(7)
    alpha = torch.rand(64, 1, generator=torch.Generator().manual_seed(7), dtype=D)
    gp = gradient_penalty(Quad(), real, fake, generator=g)
    expected = ((2 * alpha[:, 0]).abs() - 1).pow(2).mean()
    assert float(gp.detach()) == pytest.approx(float(expected), rel=1e-12)
    gp.backward()
    assert real.grad is None and fake.grad is None


def test_gradient_penalty_is_seeded_and_checks_input():
    critic = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(6, 3), torch.randn(6, 3)
    a = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    b = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.detach(), b.detach())
    with pytest.raises(ValueError, match="same"):
        gradient_penalty(critic, real, fake[:5])
    with pytest.raises(ValueError, match="target"):
        gradient_penalty(critic, real, fake, target=-1.0)
    with pytest.raises(TypeError, match="floating"):
        gradient_penalty(critic, real.long(), fake.long())


# ---------------------------------------------------------------- VAE


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(2)
    mu, logvar = torch.randn(4, 3, generator=g, dtype=D), torch.randn(4, 3, generator=g, dtype=D)
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = kl_divergence(q, p).sum(dim=1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_vae_loss_mse_sums_features_and_averages_batch(beta):
    g = torch.Generator().manual_seed(4)
    recon, target = torch.randn(4, 1, 3, 3, generator=g, dtype=D), torch.randn(4, 1, 3, 3, dtype=D)
    mu, logvar = torch.randn(4, 2, generator=g, dtype=D), torch.randn(4, 2, generator=g, dtype=D)
    out = vae_loss(recon, target, mu, logvar, beta=beta)
    assert isinstance(out, VAELoss)
    rec = float(((recon - target) ** 2).sum()) / 4
    kl = float(kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum() / 4)
    assert float(out.reconstruction) == pytest.approx(rec, rel=1e-12)
    assert float(out.kl) == pytest.approx(kl, rel=1e-12)
    assert float(out.total) == pytest.approx(rec + beta * kl, rel=1e-12)


def test_vae_loss_bce_and_bce_logits_agree_with_hand_formula():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(3, 6, generator=g, dtype=D)
    target = torch.rand(3, 6, generator=g, dtype=D)
    mu, logvar = torch.zeros(3, 2, dtype=D), torch.zeros(3, 2, dtype=D)  # KL = 0
    p = torch.sigmoid(logits)
    expected = float(-(target * p.log() + (1 - target) * (1 - p).log()).sum() / 3)
    probs = vae_loss(p, target, mu, logvar, reconstruction="bce")
    from_logits = vae_loss(logits, target, mu, logvar, reconstruction="bce_logits")
    assert float(probs.kl) == 0.0
    assert float(probs.total) == pytest.approx(expected, rel=1e-10)
    assert float(from_logits.total) == pytest.approx(expected, rel=1e-10)


def test_vae_loss_rejects_bad_input():
    x, mu = torch.zeros(2, 4), torch.zeros(2, 3)
    with pytest.raises(ValueError, match="reconstruction must be one of"):
        vae_loss(x, x, mu, mu, reconstruction="l1")
    with pytest.raises(ValueError, match="beta"):
        vae_loss(x, x, mu, mu, beta=-1.0)
    with pytest.raises(ValueError, match="recon and target"):
        vae_loss(x, x[:, :3], mu, mu)
    with pytest.raises(ValueError, match="mu and logvar"):
        vae_loss(x, x, mu, mu[:, :2])
    with pytest.raises(ValueError, match="batch size"):
        vae_loss(x, x, torch.zeros(3, 3), torch.zeros(3, 3))
