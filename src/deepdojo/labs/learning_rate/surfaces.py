r"""The learning-rate lab's 2-D test surfaces and optimizer trajectories.

Two surfaces, both functions of points ``p`` of shape ``(..., 2)`` returning ``(...)``:

* :func:`ill_conditioned_quadratic` -- :math:`f(x, y) = \tfrac12 (x^2 + \kappa y^2)`, an
  axis-aligned valley whose curvatures differ by the condition number :math:`\kappa`; the
  minimum is 0 at the origin.
* :func:`tilted_double_well` -- :math:`f(x, y) = (x^2 - 1)^2 + t x + \tfrac12 y^2`, two basins
  in :math:`x` separated by a ridge near :math:`x = 0`; the tilt :math:`t > 0` makes the left
  basin (:math:`x \approx -1`) the global minimum and the right one (:math:`x \approx +1`) a
  poor local minimum.

:func:`run_trajectories` runs one optimizer from many starting points at once: the points are
the rows of a single ``(N, 2)`` parameter tensor and the objective is the sum of ``f`` over the
rows, so every row gets exactly its own gradient. SGD (with or without momentum), Adam,
RMSprop and Adagrad all update element-wise, so the rows evolve independently, exactly as if
each start were run alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from deepdojo.train import make_optimizer

Surface = Callable[[torch.Tensor], torch.Tensor]

# The optimizers compared in the lab: label -> (make_optimizer name, extra keywords).
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("sgd", {}),
    "momentum": ("sgd", {"momentum": 0.9}),
    "adam": ("adam", {}),
    "rmsprop": ("rmsprop", {}),
    "adagrad": ("adagrad", {}),
}


def ill_conditioned_quadratic(p: torch.Tensor, kappa: float = 50.0) -> torch.Tensor:
    r""":math:`f(x, y) = \tfrac12 (x^2 + \kappa\, y^2)`; ``p`` ``(..., 2)`` -> ``(...)``.

    The Hessian is ``diag(1, kappa)``: gradient descent is stable only for
    :math:`\eta < 2/\kappa`, and then shrinks the flat :math:`x` direction by only
    :math:`1 - \eta` per step.
    """
    x, y = p[..., 0], p[..., 1]
    return 0.5 * (x**2 + kappa * y**2)


def tilted_double_well(p: torch.Tensor, tilt: float = 0.3) -> torch.Tensor:
    r""":math:`f(x, y) = (x^2 - 1)^2 + t\,x + \tfrac12 y^2`; ``p`` ``(..., 2)`` -> ``(...)``.

    Stationary points in :math:`x` solve :math:`4x(x^2 - 1) + t = 0`: for ``tilt=0.3`` the
    global minimum is at :math:`x \approx -1.04` (:math:`f \approx -0.31`), the ridge at
    :math:`x \approx 0.075` and the poor local minimum at :math:`x \approx 0.96`
    (:math:`f \approx 0.29`).
    """
    x, y = p[..., 0], p[..., 1]
    return (x**2 - 1) ** 2 + tilt * x + 0.5 * y**2


def double_well_minima(tilt: float = 0.3) -> tuple[float, float, float]:
    r"""Real roots of :math:`4x^3 - 4x + t = 0` in increasing order: ``(x_global, x_ridge,
    x_local)``; raises ValueError when the tilt leaves a single basin."""
    roots = torch.linalg.eigvals(
        torch.tensor([[0.0, 1.0, -tilt / 4], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    )  # companion matrix of x^3 - x + t/4
    real = sorted(r.real.item() for r in roots if abs(r.imag.item()) < 1e-9)
    if len(real) != 3:
        raise ValueError(f"tilt must leave two basins (|tilt| < 1.54), got {tilt}")
    return real[0], real[1], real[2]


@dataclass
class Trajectories:
    """Result of :func:`run_trajectories` for ``L`` learning rates and ``N`` starts.

    Attributes
    ----------
    lrs : list of float
        The ``L`` learning rates, in the order of the first axis below.
    points : torch.Tensor
        ``(L, steps + 1, N, 2)`` positions, starting points first.
    losses : torch.Tensor
        ``(L, steps + 1, N)`` surface values at those positions (NaN/Inf where diverged).
    """

    lrs: list[float]
    points: torch.Tensor
    losses: torch.Tensor

    def final_loss(self) -> torch.Tensor:
        """Last loss ``(L, N)`` with NaN/Inf (diverged) replaced by ``+inf``."""
        last = self.losses[:, -1]  # (L, N)
        return torch.where(torch.isfinite(last), last, torch.full_like(last, float("inf")))


def run_trajectories(
    surface: Surface, starts: torch.Tensor, optimizer: str, lrs: list[float], steps: int
) -> Trajectories:
    """Run ``optimizer`` (a key of :data:`OPTIMIZERS`) for ``steps`` from ``starts`` ``(N, 2)``
    once per learning rate in ``lrs``.

    Each learning rate gets its own copy of the starts in its own parameter group of a single
    optimizer, so one ``step()`` advances every run; groups share nothing. Diverging runs are
    recorded as they go (NaN/Inf), never stopped.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if starts.ndim != 2 or starts.shape[1] != 2:
        raise ValueError(f"starts must have shape (N, 2), got {tuple(starts.shape)}")
    if not lrs or any(lr <= 0 for lr in lrs):
        raise ValueError(f"lrs must be a non-empty list of positive numbers, got {lrs!r}")
    name, kw = OPTIMIZERS[optimizer]
    params = [starts.detach().clone().double().requires_grad_(True) for _ in lrs]  # L x (N, 2)
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    opt = make_optimizer(name, groups, lrs[0], **kw)
    points, losses = [], []
    for step in range(steps + 1):
        with torch.no_grad():
            points.append(torch.stack([p.detach().clone() for p in params]))  # (L, N, 2)
        values = surface(torch.stack(params))  # (L, N)
        losses.append(values.detach().clone())
        if step == steps:
            break
        opt.zero_grad()
        values.sum().backward()  # runs do not interact: each row gets its own gradient
        opt.step()
    return Trajectories(list(lrs), torch.stack(points, 1), torch.stack(losses, 1))


def best_lr(traj: Trajectories) -> tuple[int, torch.Tensor]:
    """Index of the lr with the lowest mean (over starts) final loss, and those means ``(L,)``.

    Diverged runs count as ``+inf``, so a diverging lr is never picked.
    """
    means = traj.final_loss().mean(dim=1)  # (L,)
    return int(torch.argmin(means)), means


@dataclass
class QuadraticRace:
    """Every optimizer on the quadratic at its own best lr (see :func:`quadratic_race`).

    Attributes
    ----------
    lr : dict of str to float
        Optimizer -> its best lr of the grid (lowest mean final loss over the starts).
    final : dict of str to float
        Optimizer -> mean final loss over the starts at that lr (``+inf`` when diverged).
    path : dict of str to torch.Tensor
        Optimizer -> ``(steps + 1, 2)`` path of the first start at that lr.
    curve : dict of str to torch.Tensor
        Optimizer -> ``(steps + 1,)`` loss per step, mean over the starts.
    """

    lr: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    path: dict[str, torch.Tensor] = field(default_factory=dict)
    curve: dict[str, torch.Tensor] = field(default_factory=dict)


def quadratic_race(surface: Surface, seed: int, lrs: list[float], steps: int,
                   n_starts: int = 4) -> QuadraticRace:
    """Every optimizer of :data:`OPTIMIZERS` on ``surface`` from ``n_starts`` seeded starts
    near ``(-4, 1)`` (``(-4, 1) + 0.2 N(0, I)``), each at its best lr of ``lrs``."""
    gen = torch.Generator().manual_seed(seed)
    starts = torch.tensor([[-4.0, 1.0]], dtype=torch.float64) + 0.2 * torch.randn(
        n_starts, 2, generator=gen, dtype=torch.float64)  # (n_starts, 2)
    out = QuadraticRace()
    for opt in OPTIMIZERS:
        traj = run_trajectories(surface, starts, opt, lrs, steps)
        i, means = best_lr(traj)
        out.lr[opt] = lrs[i]
        out.final[opt] = means[i].item()
        out.path[opt] = traj.points[i, :, 0]  # (steps + 1, 2)
        out.curve[opt] = traj.losses[i].mean(dim=1)  # (steps + 1,)
    return out


@dataclass
class DoubleWellRace:
    """Every optimizer on :func:`tilted_double_well` at one lr (see :func:`double_well_race`).

    Attributes
    ----------
    lr : float
        The learning rate shared by every optimizer of :data:`OPTIMIZERS`.
    escaped : dict of str to float
        Arm -> fraction of the starts ending (finite) left of the ridge, in the global basin.
    paths : dict of str to torch.Tensor
        Arm -> ``(steps + 1, n_starts, 2)`` positions, starts first.
    lrs : dict of str to float
        Arm -> its learning rate: ``lr`` for every optimizer, ``lr / (1 - momentum)`` for the
        control arm :data:`EFFECTIVE` (plain GD with momentum's effective step).
    diverged : dict of str to float
        Arm -> fraction of the starts whose last point is not finite.
    """

    lr: float
    escaped: dict[str, float] = field(default_factory=dict)
    paths: dict[str, torch.Tensor] = field(default_factory=dict)
    lrs: dict[str, float] = field(default_factory=dict)
    diverged: dict[str, float] = field(default_factory=dict)


# The control arm of the escape race: plain GD at momentum's effective step lr / (1 - beta).
EFFECTIVE = "sgd-effective-step"


def double_well_race(seed: int, n_starts: int, lr: float, steps: int,
                     ridge: float) -> DoubleWellRace:
    r"""Every optimizer on :func:`tilted_double_well` at ``lr`` from ``n_starts`` seeded starts
    uniform in the poor basin's box ``x in [0.3, 2.5], y in [-2, 2]``; a start *escapes* when
    its last point is finite and lies left of ``ridge``.

    One more arm, :data:`EFFECTIVE`, runs plain GD at :math:`\eta / (1 - \beta)` with
    :math:`\beta = 0.9`: heavy-ball momentum's steady-state step on a constant gradient, so
    that a momentum win is not just a 10x larger step.
    """
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n_starts, 2, generator=gen, dtype=torch.float64)  # (n_starts, 2)
    starts = torch.stack([0.3 + 2.2 * u[:, 0], -2.0 + 4.0 * u[:, 1]], dim=1)
    beta = OPTIMIZERS["momentum"][1]["momentum"]
    out = DoubleWellRace(lr)
    arms = [(opt, opt, lr) for opt in OPTIMIZERS] + [(EFFECTIVE, "sgd", lr / (1 - beta))]
    for arm, opt, arm_lr in arms:
        traj = run_trajectories(tilted_double_well, starts, opt, [arm_lr], steps)
        end = traj.points[0, -1]  # (n_starts, 2)
        finite = torch.isfinite(end).all(dim=1)  # (n_starts,)
        out.escaped[arm] = (finite & (end[:, 0] < ridge)).double().mean().item()
        out.diverged[arm] = (~finite).double().mean().item()
        out.paths[arm] = traj.points[0]  # (steps + 1, n_starts, 2)
        out.lrs[arm] = arm_lr
    return out
