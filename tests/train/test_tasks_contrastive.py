"""ContrastiveTask: the loss on a batch is NT-Xent of two fresh views, checked by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.data.augment import Compose, GaussianNoise, Shift, two_views
from deepdojo.train import Trainer
from deepdojo.train.tasks import ContrastiveTask
from deepdojo.train.tasks.contrastive import default_views


def _hand_nt_xent(z1, z2, tau):
    """Explicit loops in float64: cosine, exp(s / tau), sum over k != i, mean over 2B."""
    z = [[float(v) for v in row] for row in torch.cat([z1, z2]).double()]
    n, b = len(z), len(z1)

    def cos(u, v):
        dot = sum(p * q for p, q in zip(u, v, strict=True))
        return dot / math.sqrt(sum(p * p for p in u) * sum(q * q for q in v))

    total = 0.0
    for i in range(n):
        denominator = sum(math.exp(cos(z[i], z[k]) / tau) for k in range(n) if k != i)
        total -= math.log(math.exp(cos(z[i], z[(i + b) % n]) / tau) / denominator)
    return total / n


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_training_loss_is_nt_xent_of_two_views_by_hand(tau):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 8))
    head = nn.Linear(8, 4)
    task = ContrastiveTask(encoder, head, temperature=tau)
    x = torch.rand(6, 1, 8, 8)
    torch.manual_seed(11)
    name, loss = next(task.training_step((x, torch.zeros(6))))
    assert name == "model"
    torch.manual_seed(11)  # the same two views again
    v1, v2 = two_views(x, default_views(), None)
    with torch.no_grad():
        z1, z2 = head(encoder(v1)), head(encoder(v2))
    assert float(loss.detach()) == pytest.approx(_hand_nt_xent(z1, z2, tau), rel=1e-5)
    assert not torch.equal(v1, v2)


def test_identity_views_and_identity_encoder_give_the_analytic_value():
    # views equal the input and rows are orthonormal: s_pos = 1 and every negative 0, so
    # loss = -log(e^{1/tau} / (e^{1/tau} + 2B - 2))
    tau, b = 0.25, 5
    task = ContrastiveTask(nn.Identity(), augment=lambda x, g: x, temperature=tau)
    _, loss = next(task.training_step(torch.eye(b)))
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2 * b - 2))
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_fit_lowers_the_loss_and_logs_alignment():
    # 4 well-separated prototypes, noisy shifted copies: contrastive training must pull the
    # two views of an item together (alignment up) and the loss down
    g = torch.Generator().manual_seed(0)
    prototypes = torch.randn(4, 32, generator=g)
    x = prototypes[torch.arange(256) % 4] + 0.3 * torch.randn(256, 32, generator=g)
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 16))
    views = Compose([Shift(1, mode="roll"), GaussianNoise(0.3)])
    task = ContrastiveTask(encoder, nn.Linear(16, 8), augment=views, temperature=0.5, lr=3e-3)
    history = Trainer(task, device="cpu", progress="off", seed=0).fit(
        x, x[:64], epochs=8, batch_size=64
    )
    assert history["train_loss"][-1] < history["train_loss"][0] - 0.3
    assert history["train_alignment"][-1] > history["train_alignment"][0]
    assert {"val_loss", "val_alignment"} <= set(history.last)
    assert task.embed(x[:3]).shape == (3, 16)
    assert set(task.networks()) == {"encoder", "projection_head"}


def test_contrastive_task_errors():
    with pytest.raises(TypeError, match="encoder must be"):
        ContrastiveTask(lambda x: x)
    with pytest.raises(TypeError, match="projection_head"):
        ContrastiveTask(nn.Identity(), projection_head="mlp")
    with pytest.raises(ValueError, match="temperature"):
        ContrastiveTask(nn.Linear(2, 2), temperature=0.0)
    with pytest.raises(TypeError, match="augment must be callable"):
        ContrastiveTask(nn.Linear(2, 2), augment=3)
