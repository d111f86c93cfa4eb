"""ReconstructionTask on cases with a closed-form answer: PCA, the Wiener filter, a linear VAE."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.data.augment import GaussianNoise, Mask
from deepdojo.nn.losses import reconstruction_loss
from deepdojo.train import Trainer
from deepdojo.train.tasks import ReconstructionTask


def _gaussian(n, scales, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, len(scales), generator=g) * torch.tensor(scales)
    return x - x.mean(0)


def _fit(task, data, epochs, batch_size=256):
    trainer = Trainer(task, device="cpu", progress="off", seed=0)
    return trainer.fit(data, epochs=epochs, batch_size=batch_size)


def test_linear_autoencoder_reaches_the_pca_residual():
    # a linear AE with a k-unit bottleneck is optimal at the PCA projection: its error is the
    # sum of the discarded eigenvalues of the data covariance
    g = torch.Generator().manual_seed(1)
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    x = _gaussian(2048, [3.0, 2.0, 1.0, 0.7, 0.4, 0.3]) @ rotation.T
    residual = float(torch.linalg.eigvalsh(x.T @ x / len(x))[:4].sum())  # 4 smallest
    torch.manual_seed(0)
    ae = nn.Sequential(nn.Linear(6, 2, bias=False), nn.Linear(2, 6, bias=False))
    history = _fit(ReconstructionTask(ae, lr=1e-2), x, epochs=30, batch_size=128)
    with torch.no_grad():
        error = float(((ae(x) - x) ** 2).sum(dim=1).mean())
    assert error == pytest.approx(residual, rel=0.01)
    assert history["train_loss"][-1] == pytest.approx(residual, rel=0.05)
    assert "train_kl" not in history


def test_denoising_linear_model_learns_the_wiener_filter():
    # E|| W (x + n) - x ||^2 is minimized by W = S (S + s^2 I)^-1, S the data covariance
    sigma = 0.5
    x = _gaussian(2048, [2.0, 1.0, 0.6, 0.3])
    cov = x.T @ x / len(x)
    wiener = cov @ torch.linalg.inv(cov + sigma**2 * torch.eye(4))
    torch.manual_seed(0)
    model = nn.Linear(4, 4, bias=False)
    history = _fit(ReconstructionTask(model, noise_std=sigma, lr=1e-2), x, epochs=40)
    torch.testing.assert_close(model.weight.detach(), wiener, rtol=0, atol=0.05)
    assert history["train_loss"][-1] == pytest.approx(
        float(torch.trace(cov - wiener @ cov)), rel=0.05
    )


class _Recorder(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.linear(x.flatten(1)).view_as(x)


def _first_loss(task, batch):
    name, loss = next(task.training_step(batch))
    assert name == "model"
    return loss


@pytest.mark.parametrize(
    ("kwargs", "corruption"),
    [
        ({"mask_fraction": 0.25}, Mask(0.25)),
        ({"noise_std": 0.3}, GaussianNoise(0.3)),
        ({"corrupt": Mask(0.5)}, Mask(0.5)),
    ],
)
def test_corrupted_input_clean_target(kwargs, corruption):
    x = torch.rand(8, 1, 8, 8) + 0.5
    model = _Recorder(64)
    task = ReconstructionTask(model, **kwargs)
    torch.manual_seed(3)
    loss = _first_loss(task, (x, torch.zeros(8)))  # labels, if any, are ignored
    torch.manual_seed(3)
    expected_input = corruption(x, None)
    assert torch.equal(model.seen[-1], expected_input)
    with torch.no_grad():
        expected = reconstruction_loss(model.linear(expected_input.flatten(1)).view_as(x), x)
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)
    if "mask_fraction" in kwargs:
        assert ((model.seen[-1] == 0).flatten(1).sum(1) == 16).all()


def test_mask_then_noise_when_both_are_given():
    x = torch.rand(4, 1, 8, 8) + 0.5
    model = _Recorder(64)
    torch.manual_seed(0)
    _first_loss(ReconstructionTask(model, mask_fraction=0.25, noise_std=0.1), x)
    torch.manual_seed(0)
    expected = GaussianNoise(0.1)(Mask(0.25)(x, None), None)
    assert torch.equal(model.seen[-1], expected)


class _LinearVAE(nn.Module):
    """q(z|x) = N(a x, exp(c)), x_hat = b z: the linear-Gaussian VAE in one dimension."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = (nn.Parameter(torch.tensor(v)) for v in (0.5, 0.5, 0.0))

    def forward(self, x):
        mu, logvar = self.a * x, self.c.expand_as(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.b * z, mu, logvar


@pytest.mark.parametrize("beta", [0.5, 4.0])
def test_linear_vae_reaches_the_closed_form_optimum(beta):
    # For x ~ N(0, s^2) and a squared-error decoder, the optimum of E[(x - b z)^2] + beta KL
    # has b^2 = s^2 - beta/2, v = beta / (2 s^2), a = b / s^2 when beta < 2 s^2, giving
    # KL = log(2 s^2 / beta) / 2 and reconstruction beta / 2; else the posterior collapses
    # (b = 0, KL = 0, reconstruction s^2).
    x = _gaussian(4096, [1.0], seed=2)
    s2 = float((x**2).mean())
    torch.manual_seed(1)
    vae = _LinearVAE()
    history = _fit(ReconstructionTask(vae, vae=True, beta=beta, lr=2e-2), x, epochs=20)
    a, b, v = float(vae.a.detach()), float(vae.b.detach()), math.exp(float(vae.c.detach()))
    kl = 0.5 * (a * a * s2 + v - 1 - math.log(v))  # the learned model's exact terms
    rec = s2 * (1 - a * b) ** 2 + b * b * v
    collapsed = beta >= 2 * s2
    kl_opt = 0.0 if collapsed else 0.5 * math.log(2 * s2 / beta)
    rec_opt = s2 if collapsed else beta / 2
    assert kl == pytest.approx(kl_opt, abs=0.02)
    assert rec == pytest.approx(rec_opt, rel=0.02)
    assert rec + beta * kl == pytest.approx(rec_opt + beta * kl_opt, rel=0.01)
    # KL and reconstruction are logged apart; the loss is their beta-weighted sum
    last = history.last
    assert last["train_kl"] == pytest.approx(kl_opt, abs=0.03)
    assert last["train_loss"] == pytest.approx(
        last["train_reconstruction"] + beta * last["train_kl"], rel=1e-6
    )
    val = Trainer(ReconstructionTask(vae, vae=True, beta=beta), device="cpu", progress="off")
    assert set(val.evaluate(x)) >= {"loss", "reconstruction", "kl"}


def test_reconstruction_task_errors():
    ae = nn.Linear(4, 4)
    with pytest.raises(ValueError, match="reconstruction must be one of"):
        ReconstructionTask(ae, reconstruction="l1")
    with pytest.raises(ValueError, match="not both"):
        ReconstructionTask(ae, noise_std=0.1, corrupt=Mask(0.2))
    with pytest.raises(ValueError, match="beta"):
        ReconstructionTask(ae, vae=True, beta=-1.0)
    with pytest.raises(TypeError, match="model must be"):
        ReconstructionTask(lambda x: x)
    with pytest.raises(TypeError, match="optimizer must be an optimizer name"):
        ReconstructionTask(ae, optimizer=3)
    with pytest.raises(TypeError, match="pass vae=True"):
        _first_loss(ReconstructionTask(_LinearVAE()), torch.zeros(2, 1))
    with pytest.raises(TypeError, match="must return \\(recon, mu, logvar\\)"):
        _first_loss(ReconstructionTask(nn.Linear(4, 4), vae=True), torch.zeros(2, 4))


def test_optimizer_factory_built_optimizer_and_name():
    ae = nn.Linear(4, 4)
    task = ReconstructionTask(ae, optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5))
    (opt,) = Trainer(task, device="cpu", progress="off").optimizers.values()
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.5
    built = torch.optim.RMSprop(ae.parameters(), lr=0.01)
    trainer = Trainer(ReconstructionTask(ae, optimizer=built), device="cpu", progress="off")
    assert trainer.optimizers == {"model": built}
    named = ReconstructionTask(ae, optimizer="sgd", lr=0.3, optimizer_kwargs={"momentum": 0.9})
    (opt,) = Trainer(named, device="cpu", progress="off").optimizers.values()
    assert opt.param_groups[0]["lr"] == 0.3 and opt.defaults["momentum"] == 0.9
