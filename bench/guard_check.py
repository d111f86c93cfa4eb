"""What the Trainer's non-finite check costs inside training, against the exact alternatives.

Issue 13 asks where the Trainer's overhead over a hand loop goes. ``trainer_overhead.py
--ablate-epochs`` shows the guard is the largest part on the digits MLP; this bench times the
check itself. Each candidate answers "is every gradient element finite?" without missing a
NaN/Inf: "finite" from any of them proves it. The element-wise ones (``guard``, ``amp``,
``foreach norm``/``max``, ``isfinite``) are exact both ways; the sums (``numpy sum``/``dot``,
``torch sum``) can also say "not finite" when finite values overflow, so a guard built on
one would look again with an element-wise check before rejecting a step. All of them run
where the guard runs: after ``loss.backward()`` and before ``opt.step()`` of a plain
training step of the digits MLP (64-256-256-10, Adam, in-memory batches, ``zero_grad`` after
the step). Inside training they cost more than in a tight loop over the same gradients
(the fused check: about 20 us against 13 at batch 32, an earlier measurement not made here).

Candidates, one per epoch in an order rotated each round (``none`` times the plain step):

- ``guard``: ``NonFiniteGuard.check`` as the Trainer calls it without clipping (torch's fused
  AMP non-finite check at a unit scale, and the loss read on the host, which the step pays
  anyway);
- ``amp``: the fused check alone;
- ``numpy sum`` / ``numpy dot``: per gradient, NumPy's sum / BLAS sum of squares on a
  zero-copy view (NaN/Inf make either non-finite);
- ``torch sum``: per-gradient ``sum`` stacked and tested once;
- ``foreach norm``: ``torch._foreach_norm(grads, inf)`` stacked and tested once;
- ``foreach max``: ``torch._foreach_max`` of ``torch._foreach_abs(grads)`` (the maximum of
  the raw values would miss a ``-inf``);
- ``isfinite``: ``all(g.isfinite().all())``, the naive one.

Reported per batch size: the median microseconds of each check over its steps, its share of
the plain step measured in the same run, and its ratio to ``amp`` (medians of a diagnostic,
without intervals: the ranking, not a goal, is what it shows). Before timing, every
candidate is checked to say "finite" on these gradients and "not finite" when one element is
NaN, +Inf or -Inf.

Run: ``.venv/bin/python bench/guard_check.py [--rounds 20 --batches 32 256 --threads 2]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from trainer_overhead import digits, index_batches, mlp  # noqa: E402

from deepdojo.train.guard import NonFiniteGuard  # noqa: E402

Check = Callable[[torch.Tensor, list[torch.Tensor]], bool]


def candidates() -> dict[str, Check]:
    """name -> ``check(loss, grads)``: True when every gradient element is finite."""
    guard = NonFiniteGuard()
    found = torch.zeros(())
    unit = torch.ones(())
    view = found.numpy()

    def amp(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        torch._amp_foreach_non_finite_check_and_unscale_(grads, found, unit)
        ok = view.item() == 0.0
        found.zero_()
        return ok

    def numpy_sum(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        total = 0.0
        for g in grads:
            total += float(np.add.reduce(g.numpy(), axis=None))
        return math.isfinite(total)

    def numpy_dot(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        total = 0.0
        for g in grads:
            v = g.numpy()
            total += float(np.vdot(v, v))
        return math.isfinite(total)

    def torch_sum(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        return bool(torch.stack([g.sum() for g in grads]).sum().isfinite())

    def foreach_norm(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        return bool(torch.stack(torch._foreach_norm(grads, math.inf)).isfinite().all())

    def foreach_max(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        return bool(torch.stack(torch._foreach_max(torch._foreach_abs(grads))).isfinite().all())

    def isfinite(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        return all(bool(g.isfinite().all()) for g in grads)

    def guarded(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        return guard.check(loss, grads, False, True)[1]

    return {"guard": guarded, "amp": amp, "numpy sum": numpy_sum, "numpy dot": numpy_dot,
            "torch sum": torch_sum, "foreach norm": foreach_norm, "foreach max": foreach_max,
            "isfinite": isfinite}  # fmt: skip


def self_check(checks: dict[str, Check]) -> None:
    """Every candidate says finite on finite gradients and not finite with one NaN/Inf
    (raises ``AssertionError`` naming the first that does not, also under ``python -O``)."""
    torch.manual_seed(0)
    grads = [torch.randn(256, 64), torch.randn(256), torch.randn(10, 256)]
    loss = torch.tensor(1.0)
    for name, check in checks.items():
        if not check(loss, grads):
            raise AssertionError(f"{name} says finite gradients are not")
        for bad in (math.nan, math.inf, -math.inf):
            broken = [g.clone() for g in grads]
            broken[1][7] = bad
            if check(loss, broken):
                raise AssertionError(f"{name} misses a {bad} element")


def bench(batch: int, rounds: int, checks: dict[str, Check]) -> dict[str, list[float]]:
    """Seconds of each check (``none``: of the plain step without one), step by step."""
    X, y = digits()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    params = list(model.parameters())
    batches = index_batches(X, y, batch)
    names = ["none", *checks]
    times: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for r in range(rounds + 1):  # round 0 warms up
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotated each round
            check = checks.get(name)
            for xb, yb in batches():
                start = clock()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                if check is not None:
                    t = clock()
                    check(loss, [p.grad for p in params])
                    spent = clock() - t
                opt.step()
                opt.zero_grad()
                loss.item()
                if r:
                    times[name].append(clock() - start if check is None else spent)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="epochs per candidate")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    checks = candidates()
    self_check(checks)
    print(f"torch {torch.__version__}, {args.threads} threads; every candidate says finite / "
          f"not finite correctly (checked); median us per step over {args.rounds} epochs each, "
          f"inside training")  # fmt: skip
    for batch in args.batches:
        times = bench(batch, args.rounds, checks)
        step = statistics.median(times.pop("none"))
        amp = statistics.median(times["amp"])
        print(f"\nbatch {batch}: plain step {step * 1e6:.0f} us")
        print(f"  {'check':<13}{'us':>7}{'of step':>9}{'/ amp':>7}")
        for name, spent in times.items():
            us = statistics.median(spent)
            print(f"  {name:<13}{us * 1e6:>7.1f}{us / step:>8.1%}{us / amp:>7.2f}")


if __name__ == "__main__":
    main()
