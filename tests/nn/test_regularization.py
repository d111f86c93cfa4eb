"""L1/L2 penalties: exact values, parameter selection, gradients, Trainer integration."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepdojo.nn.regularization import (
    Regularizer,
    bias_and_norm_names,
    l1_penalty,
    l2_penalty,
    penalized_parameters,
    prox_l1_,
)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3),
                         nn.LayerNorm(3)).double()


def test_penalties_equal_hand_sums():
    a = torch.tensor([[1.0, -2.0], [3.0, -0.5]], dtype=torch.float64)
    b = torch.tensor([-4.0, 0.25], dtype=torch.float64)
    assert l1_penalty([a, b]).item() == 1 + 2 + 3 + 0.5 + 4 + 0.25
    assert l2_penalty([a, b]).item() == 1 + 4 + 9 + 0.25 + 16 + 0.0625


def test_selection_excludes_bias_and_norm_params_unless_asked():
    model = net()
    skip = bias_and_norm_names(model)
    assert skip == {"0.bias", "1.weight", "1.bias", "3.bias", "4.weight", "4.bias"}
    chosen = penalized_parameters(model)
    assert [p.shape for p in chosen] == [(6, 4), (3, 6)]
    assert len(penalized_parameters(model, include_bias=True)) == len(list(model.parameters()))


def test_regularizer_value_and_gradient_are_exact():
    model = net()
    w0, w3 = model[0].weight, model[3].weight
    reg = Regularizer(l1=0.3, l2=0.7)
    penalty = reg(model)
    expected = 0.3 * (w0.abs().sum() + w3.abs().sum()) + 0.7 * (w0.pow(2).sum() + w3.pow(2).sum())
    torch.testing.assert_close(penalty, expected, rtol=1e-12, atol=0)
    penalty.backward()
    torch.testing.assert_close(w0.grad, 0.3 * w0.sign() + 1.4 * w0.detach())
    assert model[0].bias.grad is None and model[1].weight.grad is None
    with_bias = Regularizer(l2=1.0, include_bias=True)(net())
    assert with_bias.item() == pytest.approx(sum(p.pow(2).sum().item() for p in net().parameters()))


def test_zero_strength_is_zero_and_bad_args():
    assert Regularizer()(net()).item() == 0.0
    with pytest.raises(ValueError, match="l1 must be"):
        Regularizer(l1=-1.0)
    with pytest.raises(ValueError, match="at least one tensor"):
        l2_penalty([])


def test_trainer_adds_penalty_to_loss():
    from deepdojo.train import Trainer

    torch.manual_seed(0)
    X, y = torch.randn(16, 4), torch.randn(16, 1)
    model = nn.Linear(4, 1)
    reg = Regularizer(l2=0.5)
    expected = nn.functional.mse_loss(model(X), y).item() + reg(model).item()
    tr = Trainer(model, nn.MSELoss(), "sgd", lr=1e-9, regularizer=reg, device="cpu",
                 progress="off", metrics={})
    h = tr.fit((X, y), epochs=1, batch_size=16)
    assert h.last["train_loss"] == pytest.approx(expected, rel=1e-5)


def test_l2_penalty_with_sgd_equals_weight_decay():
    torch.manual_seed(1)
    X, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    a, b = nn.Linear(3, 1, bias=False).double(), nn.Linear(3, 1, bias=False).double()
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1, weight_decay=2 * 0.05)  # wd = 2 lambda
    for _ in range(5):
        (nn.functional.mse_loss(a(X), y) + Regularizer(l2=0.05)(a)).backward()
        nn.functional.mse_loss(b(X), y).backward()
        for opt in (opt_a, opt_b):
            opt.step()
            opt.zero_grad()
    torch.testing.assert_close(a.weight, b.weight)


def test_prox_l1_soft_thresholds_in_place_and_counts_zeros():
    a = torch.tensor([[0.5, -0.05], [-0.3, 0.1]], dtype=torch.float64)
    b = torch.tensor([0.0, -0.1, 2.0], dtype=torch.float64)
    zeros = prox_l1_([a, b], 0.1)
    torch.testing.assert_close(a, torch.tensor([[0.4, 0.0], [-0.2, 0.0]], dtype=torch.float64))
    torch.testing.assert_close(b, torch.tensor([0.0, 0.0, 1.9], dtype=torch.float64))
    assert zeros == 4  # -0.05, 0.1 (|w| <= tau), the zero that stays, -0.1
    same = torch.tensor([0.3, -0.2])
    assert prox_l1_([same], 0.0) == 0 and torch.equal(same, torch.tensor([0.3, -0.2]))


def test_prox_l1_is_the_minimizer_of_the_proximal_objective():
    # prox(v) = argmin_u 0.5 (u - v)^2 + tau |u|, checked on a fine grid of u
    v = torch.linspace(-1.0, 1.0, 41, dtype=torch.float64)
    tau = 0.3
    grid = torch.linspace(-1.5, 1.5, 30001, dtype=torch.float64)  # step 1e-4
    objective = 0.5 * (grid[None, :] - v[:, None]) ** 2 + tau * grid[None, :].abs()
    best = grid[objective.argmin(dim=1)]
    out = v.clone()
    prox_l1_([out], tau)
    torch.testing.assert_close(out, best, atol=1e-4, rtol=0)


def test_prox_l1_refuses_bad_thresholds():
    w = torch.ones(3)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        prox_l1_([w], -0.1)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        prox_l1_([w], float("nan"))
    with pytest.raises(TypeError, match="threshold must be a number"):
        prox_l1_([w], "0.1")
    with pytest.raises(ValueError, match="at least one tensor"):
        prox_l1_([], 0.1)
