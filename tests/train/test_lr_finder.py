"""LR range test: deterministic, restores state, sensible suggestion, plots."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.train import lr_find


def setup():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (120,), generator=g)
    X = torch.randn(3, 6, generator=g)[y] * 2 + torch.randn(120, 6, generator=g)
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)), X, y


def test_lr_find_deterministic_restores_state_and_suggests():
    model, X, y = setup()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng_before = torch.get_rng_state()
    r1 = lr_find(model, nn.CrossEntropyLoss(), (X, y), optimizer=opt, num_steps=60,
                 batch_size=16, device="cpu")
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert opt.param_groups[0]["lr"] == 0.01 and opt.state_dict()["state"] == {}
    assert torch.equal(torch.get_rng_state(), rng_before)
    r2 = lr_find(model, nn.CrossEntropyLoss(), (X, y), optimizer=opt, num_steps=60,
                 batch_size=16, device="cpu")
    assert r1.losses == r2.losses and r1.suggestion == r2.suggestion
    # exponential sweep, early stop on divergence, and the documented min/10 rule
    assert r1.lrs[0] == pytest.approx(1e-7)
    ratio = r1.lrs[1] / r1.lrs[0]
    assert ratio == pytest.approx((10 / 1e-7) ** (1 / 59))
    best = min(range(6, len(r1.smoothed)), key=r1.smoothed.__getitem__)
    assert r1.suggestion == pytest.approx(r1.lrs[best] / 10)
    assert 1e-4 < r1.suggestion < 1.0
    assert r1.steepest_lr is not None and r1.steepest_lr < r1.lrs[best] * 1.0001


def test_lr_find_with_optimizer_name_and_plot():
    model, X, y = setup()
    r = lr_find(model, nn.CrossEntropyLoss(), (X, y), optimizer="adam", num_steps=30,
                start_lr=1e-5, end_lr=1.0, device="cpu")
    assert all(math.isfinite(v) for v in r.smoothed)
    far = lr_find(model, nn.CrossEntropyLoss(), (X, y), num_steps=40, end_lr=1e4, device="cpu")
    assert far.diverged_at is not None and len(far.lrs) < 40  # stopped early
    fig = r.plot()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "learning rate"
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_find(model, nn.CrossEntropyLoss(), (X, y), start_lr=1.0, end_lr=0.1)
