"""The learning-rate lab's 2-D surfaces and trajectory runner (deepdojo.labs._optim_surfaces)."""

from __future__ import annotations

import math

import pytest
import torch

from deepdojo.labs import _optim_surfaces as surf


def _grad(fn, point):
    p = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    fn(p).backward()
    return p.grad


def test_quadratic_gradient_is_diag_hessian_times_point():
    g = _grad(lambda p: surf.ill_conditioned_quadratic(p, kappa=7.0), [0.3, -1.2])
    assert torch.allclose(g, torch.tensor([0.3, 7.0 * -1.2], dtype=torch.float64))


def test_double_well_stationary_points_and_ranking():
    x_global, x_ridge, x_local = surf.double_well_minima(0.3)
    assert x_global < x_ridge < x_local
    for x in (x_global, x_ridge, x_local):
        g = _grad(surf.tilted_double_well, [x, 0.0])
        assert g.abs().max().item() < 1e-9
    f = lambda x: surf.tilted_double_well(torch.tensor([x, 0.0], dtype=torch.float64)).item()  # noqa: E731
    assert f(x_global) < f(x_local) < f(x_ridge)  # the right basin is the poor one
    assert f(x_global) == pytest.approx(-0.31, abs=0.01)
    with pytest.raises(ValueError, match="tilt"):
        surf.double_well_minima(3.0)


def test_sgd_on_quadratic_matches_closed_form():
    # x_t = (1 - lr)^t x_0 and y_t = (1 - lr * kappa)^t y_0 for plain gradient descent
    lr, kappa, steps = 0.01, 50.0, 25
    start = torch.tensor([[-4.0, 1.0]], dtype=torch.float64)
    traj = surf.run_trajectories(
        lambda p: surf.ill_conditioned_quadratic(p, kappa), start, "sgd", [lr], steps
    )
    assert traj.points.shape == (1, steps + 1, 1, 2)
    assert traj.losses.shape == (1, steps + 1, 1)
    end = traj.points[0, -1, 0]
    assert end[0].item() == pytest.approx(-4.0 * (1 - lr) ** steps, rel=1e-12)
    assert end[1].item() == pytest.approx((1 - lr * kappa) ** steps, rel=1e-9)


@pytest.mark.parametrize("opt", sorted(surf.OPTIMIZERS))
def test_batched_runs_equal_separate_runs(opt):
    starts = torch.tensor([[1.5, 0.7], [0.4, -1.1]], dtype=torch.float64)
    lrs = [0.01, 0.05]
    together = surf.run_trajectories(surf.tilted_double_well, starts, opt, lrs, 15)
    for i, lr in enumerate(lrs):
        for k in range(len(starts)):
            alone = surf.run_trajectories(surf.tilted_double_well, starts[k : k + 1], opt, [lr], 15)
            assert torch.allclose(together.points[i, :, k], alone.points[0, :, 0], atol=1e-12)


def test_best_lr_never_picks_a_diverged_lr():
    quad = lambda p: surf.ill_conditioned_quadratic(p, 50.0)  # noqa: E731
    start = torch.tensor([[-4.0, 1.0]], dtype=torch.float64)
    traj = surf.run_trajectories(quad, start, "sgd", [1e-3, 0.03, 1.0], 200)
    final = traj.final_loss()
    assert math.isinf(final[2, 0].item()) or final[2, 0].item() > 1e10  # 1.0 > 2/kappa diverges
    idx, means = surf.best_lr(traj)
    assert idx == 1 and means[1] < means[0]


def test_run_trajectories_rejects_bad_input():
    start = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="optimizer"):
        surf.run_trajectories(surf.tilted_double_well, start, "lbfgs", [0.1], 3)
    with pytest.raises(ValueError, match="starts"):
        surf.run_trajectories(surf.tilted_double_well, torch.zeros(3), "sgd", [0.1], 3)
    with pytest.raises(ValueError, match="lrs"):
        surf.run_trajectories(surf.tilted_double_well, start, "sgd", [], 3)


def test_double_well_race_counts_escapes_left_of_the_ridge():
    ridge = surf.double_well_minima()[1]
    race = surf.double_well_race(seed=0, n_starts=8, lr=0.02, steps=300, ridge=ridge)
    for opt, paths in race["paths"].items():
        escaped = (paths[-1, :, 0] < ridge).double().mean().item()
        assert race["escaped"][opt] == escaped
        assert (paths[0, :, 0] > ridge).all()  # every start is in the poor basin
    assert race["escaped"]["sgd"] == 0.0  # plain GD at a small lr cannot climb the ridge
