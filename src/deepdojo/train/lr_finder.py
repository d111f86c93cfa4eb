r"""Learning-rate range test (Smith, 2017): sweep the lr up exponentially, watch the loss.

Step :math:`i` of :math:`n` trains one batch with

.. math::
    \eta_i = \eta_{start}\,(\eta_{end}/\eta_{start})^{i/(n-1)}

and records the loss. The curve is smoothed with a bias-corrected exponential moving average
(:math:`\bar\ell_i = \beta\bar\ell_{i-1} + (1-\beta)\ell_i`, divided by :math:`1-\beta^{i+1}`).
The sweep stops early once the smoothed loss exceeds ``diverge_factor`` times its minimum or a
loss is NaN/Inf.

**Suggestion rule** ("min/10"): the learning rate at the minimum of the smoothed loss (ignoring
the first 10% of the steps, where the average has seen few batches), divided by 10. At the
minimum the loss is already about to blow up; a tenth of it is still on the steep, stable
descent. The lr of steepest descent of the smoothed loss before its minimum (the most negative
slope of :math:`\bar\ell` against :math:`\log\eta`) is reported as well, as ``steepest_lr``.

The model, the optimizer and the global RNG states are restored afterwards, so running the
test does not change the run that follows it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepdojo.train.data import InMemoryData, loader_batches, make_data
from deepdojo.train.optim import make_optimizer
from deepdojo.train.state import rng_state, set_rng_state
from deepdojo.utils import resolve_device, seed_everything


@dataclass
class LRFinderResult:
    """The curve of an LR range test and its suggestion.

    Attributes
    ----------
    lrs, losses, smoothed : list of float
        Learning rate, raw batch loss and smoothed loss per step taken.
    suggestion : float or None
        ``lr_at_min / 10`` (see the module docstring); ``None`` when fewer than 3 steps ran.
    steepest_lr : float or None
        Learning rate where the smoothed loss falls fastest against ``log(lr)``.
    diverged_at : float or None
        Learning rate at which the sweep stopped early (``None``: it ran to ``end_lr``).
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float | None = None
    steepest_lr: float | None = None
    diverged_at: float | None = None

    def plot(self, ax: Any = None) -> Any:
        """Smoothed loss against lr (log x axis) with the suggestion marked; returns the
        matplotlib Figure."""
        return plot_lr_find(self, ax=ax)


def _batches(data: Any, batch_size: int, seed: int, device: torch.device) -> Any:
    """An endless stream of batches: reshuffled each pass, seeded."""
    source = make_data(data, "data")
    epoch = 0
    while True:
        if isinstance(source, InMemoryData):
            yield from source.batches(batch_size, source.order(True, seed, epoch))
        else:
            yield from loader_batches(source)
        epoch += 1


def _suggest(result: LRFinderResult) -> None:
    n = len(result.smoothed)
    if n < 3:
        return
    skip = max(1, n // 10)  # the EMA has barely started on the first points
    best = min(range(skip, n), key=result.smoothed.__getitem__)
    result.suggestion = result.lrs[best] / 10
    logs = [math.log(lr) for lr in result.lrs]
    lo, hi = max(1, skip), min(best, n - 2)  # steepest descent on the way down to the minimum
    if hi < lo:
        return
    slope = {i: (result.smoothed[i + 1] - result.smoothed[i - 1]) / (logs[i + 1] - logs[i - 1])
             for i in range(lo, hi + 1)}  # fmt: skip
    result.steepest_lr = result.lrs[min(slope, key=slope.__getitem__)]


def lr_find(
    model: nn.Module,
    loss_fn: Any,
    data: Any,
    *,
    optimizer: torch.optim.Optimizer | str = "sgd",
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 32,
    beta: float = 0.9,
    diverge_factor: float = 4.0,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> LRFinderResult:
    """Run an LR range test on ``model`` and restore it afterwards.

    Parameters
    ----------
    model, loss_fn
        As for the Trainer; ``loss_fn(outputs, targets)`` returns a scalar.
    data : DataLoader or (X, y)
        Batches are drawn in a seeded order, cycling through the data as needed.
    optimizer : Optimizer or str
        An optimizer over ``model``'s parameters (its lr is overwritten during the sweep), or a
        name for :func:`make_optimizer`.
    start_lr, end_lr : float
        Sweep range, ``0 < start_lr < end_lr``.
    num_steps : int
        Number of batches (>= 3).
    beta : float
        Smoothing factor of the loss EMA.
    diverge_factor : float
        Stop once the smoothed loss exceeds this times its minimum.
    seed : int
        Same seed, same curve (on CPU).
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if not isinstance(num_steps, int) or num_steps < 3:
        raise ValueError(f"num_steps must be an int >= 3, got {num_steps!r}")
    dev = resolve_device(device)
    saved_rng = rng_state()
    saved_model = copy.deepcopy(model.state_dict())
    was_training, old_device = model.training, next(model.parameters()).device
    opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else None
    saved_opt = copy.deepcopy(opt.state_dict()) if opt is not None else None
    try:
        seed_everything(seed)
        model.to(dev).train()
        if opt is None:
            opt = make_optimizer(str(optimizer), model, start_lr)
        return _sweep(model, loss_fn, opt, _batches(data, batch_size, seed, dev), dev,
                      start_lr, end_lr, num_steps, beta, diverge_factor)  # fmt: skip
    finally:
        model.to(old_device)
        model.load_state_dict(saved_model)
        model.train(was_training)
        if saved_opt is not None:
            optimizer.load_state_dict(saved_opt)  # type: ignore[union-attr]
        set_rng_state(saved_rng)


def _sweep(
    model: nn.Module, loss_fn: Any, opt: torch.optim.Optimizer, batches: Any,
    device: torch.device, start_lr: float, end_lr: float, num_steps: int, beta: float,
    diverge_factor: float,
) -> LRFinderResult:  # fmt: skip
    result = LRFinderResult()
    avg, best = 0.0, math.inf
    for i in range(num_steps):
        lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
        for group in opt.param_groups:
            group["lr"] = lr
        inputs, targets = next(batches)
        loss = loss_fn(model(inputs.to(device)), targets.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        if not math.isfinite(value):
            result.diverged_at = lr
            break
        avg = beta * avg + (1 - beta) * value
        smooth = avg / (1 - beta ** (i + 1))
        result.lrs.append(lr)
        result.losses.append(value)
        result.smoothed.append(smooth)
        best = min(best, smooth)
        if smooth > diverge_factor * best:
            result.diverged_at = lr
            break
    _suggest(result)
    return result


def plot_lr_find(result: LRFinderResult, ax: Any = None) -> Any:
    """Plot ``result`` (smoothed and raw loss vs lr, suggestion marked); returns the Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    ax.plot(result.lrs, result.losses, color="0.75", lw=1, label="batch loss")
    ax.plot(result.lrs, result.smoothed, color="C0", lw=2, label="smoothed loss")
    if result.suggestion is not None:
        ax.axvline(result.suggestion, color="C3", ls="--",
                   label=f"suggestion {result.suggestion:.2g} (min/10)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("LR range test")
    ax.legend()
    return fig
