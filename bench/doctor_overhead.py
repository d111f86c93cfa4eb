"""Overhead of GradientMonitor(every=1) on a training step of the digits MLP.

Target (issue 4): attached at every=1 the monitor adds <= 10% to a plain training step of the
digits MLP (64-256-256-10), and nothing once detached; issue 13 asks the same of the update
ratio on every step (``all-steps``), so both get a verdict line. The cost is mostly memory
passes of fixed size (about 60-90 us a step on these CPUs for the update path), so the share
depends on how fast the plain step is: the same code read +8.4% at a 1040 us step and +12.3%
at an 800 us one.

A plain step is the explicit loop a user writes: forward, cross-entropy, backward, Adam step,
zero_grad, and reading the loss (``loss.item()``, as any logging loop and the Trainer do).
Variants, all on the same model and batches:

* ``attached``   GradientMonitor(every=1) with its defaults: gradient and weight norms on
  every step, the update/weight ratio on every 10th (the headline number);
* ``all-steps``  GradientMonitor(every=1, update_every=1): the update ratio on every step too
  (a full copy of the weights and three more passes over them per step);
* ``grads-only`` GradientMonitor(every=1, track_weights=False);
* ``detached``   a monitor attached once and detached again: the plain loop afterwards (a
  control: its ratio shows the noise floor).

Robust on a shared machine: the variants run interleaved in many short rounds (order rotated
each round); per round we divide each variant's time by the plain step's time of the same
round and report the median over rounds, for CPU time (``time.process_time``: this process
only, the fair measure with one torch thread on a shared CPU) and for wall time. The verdict
uses the CPU-time ratio: the median against the target, and next to it the geometric mean of
the per-round ratios with its 95% interval, judged in EVIDENCE.md's three outcomes (MET /
NOT MET / INCONCLUSIVE when the interval straddles the target; ``bench/_verdict.py``).

**A Doctor watching a GAN's two networks** (issue 13, target <= 10% too): the built-in
``AdversarialTask`` on a ring of 8 Gaussians (``bench/_overhead_tasks.py``), ``Trainer.fit``
with and without ``Doctor()`` (its defaults: every 10th update of each network), interleaved
fits of ``--gan-epochs`` epochs, CPU-time ratio per round, median over rounds.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/doctor_overhead.py [--rounds 60 --steps 8]``
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from deepdojo.data import load_digits
from deepdojo.diagnose import GradientMonitor
from deepdojo.models import create

sys.path.insert(0, str(Path(__file__).parent))
from _overhead_tasks import gan_data, make_gan  # noqa: E402
from _verdict import judge_ratio  # noqa: E402

TARGET = 0.10  # issue 4: attached overhead <= 10% of a step
CASES = {  # name -> plain_mlp kwargs
    "digits MLP 64-256-256-10": {"depth": 3, "width": 256},
    "plain_mlp depth 8, width 64": {"depth": 8, "width": 64},
}


def make_step(model: nn.Module, opt: torch.optim.Optimizer, batches: list) -> Callable:
    """``run(n) -> (cpu_s, wall_s)`` of ``n`` plain training steps."""
    cursor = [0]

    def run(n: int) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            x, y = batches[cursor[0] % len(batches)]
            cursor[0] += 1
            loss = nn.functional.cross_entropy(model(x), y)  # forward + loss
            loss.backward()  # backward (the monitor records at its end)
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss.item()  # log
        return time.process_time() - cpu, time.perf_counter() - wall

    return run


def bench_case(kwargs: dict, batches: list, rounds: int, steps: int) -> dict[str, list]:
    """Per-round ``(cpu, wall)`` ratios to the plain step for each variant of one model.

    Each variant trains its own copy of the same model with its own Adam, and each monitor
    stays attached for the whole run, as a user would use it (attaching allocates the weight
    snapshot; re-attaching every round would time fresh pages being faulted in).
    """
    torch.manual_seed(0)
    base = create("plain_mlp", in_features=64, num_classes=10, **kwargs)
    monitors = {"attached": {}, "all-steps": {"update_every": 1},
                "grads-only": {"track_weights": False}}  # fmt: skip
    variants: dict[str, Callable[[], tuple[float, float]]] = {}
    attached: list[GradientMonitor] = []
    for name in ("plain", *monitors, "detached"):
        model = copy.deepcopy(base)
        step = make_step(model, torch.optim.Adam(model.parameters(), lr=1e-3), batches)
        if name in monitors:
            mon = GradientMonitor(model, every=1, **monitors[name]).attach()
            assert mon.path == "host", "the CPU bench should take the host path"
            attached.append(mon)
        elif name == "detached":
            GradientMonitor(model).attach().detach()
            hooks_left = sum(len(getattr(p, "_post_accumulate_grad_hooks", None) or {})
                             for p in model.parameters())  # fmt: skip
            assert hooks_left == 0, f"{hooks_left} hooks left after detach"
        variants[name] = functools.partial(step, steps)
    for run in variants.values():  # warm-up (allocator, Adam state, first snapshot)
        run()
    names = list(variants)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(variants[name]())
    for mon in attached:
        assert len(mon.steps) == (rounds + 1) * steps  # it recorded every timed step
        mon.detach()
    plain = times["plain"]
    return {name: [(c / pc, w / pw) for (c, w), (pc, pw) in zip(t, plain, strict=True)]
            for name, t in times.items() if name != "plain"} | {"plain": plain}  # fmt: skip


def bench_gan(rounds: int, epochs: int, batch: int) -> dict[str, list[float]]:
    """Per-round CPU-time ratios of ``Trainer(gan, callbacks=[Doctor(...)])`` to the plain
    ``Trainer(gan)`` fit, for the Doctor's default cadence and for every update."""
    from deepdojo.diagnose import Doctor
    from deepdojo.train import Trainer

    data = gan_data()
    variants = {"plain": [], "doctor(every=10)": [Doctor(report=None)],
                "doctor(every=1)": [Doctor(every=1, report=None)]}  # fmt: skip
    trainers = {k: Trainer(make_gan(), callbacks=cbs, device="cpu", progress="off")
                for k, cbs in variants.items()}  # fmt: skip

    def fit(name: str) -> float:
        cpu = time.process_time()
        trainers[name].fit(data, epochs=epochs, batch_size=batch)
        return time.process_time() - cpu

    for name in trainers:  # warm-up
        fit(name)
    names = list(trainers)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(fit(name))
    checks = variants["doctor(every=10)"][0].by_network()
    assert set(checks) == {"generator", "discriminator"}, checks  # both networks judged
    return {k: [t / p for t, p in zip(v, times["plain"], strict=True)]
            for k, v in times.items() if k != "plain"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--steps", type=int, default=8, help="steps per variant per round")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--gan-rounds", type=int, default=15, help="interleaved GAN fits")
    parser.add_argument("--gan-epochs", type=int, default=2, help="epochs per GAN fit")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = load_digits(flat=True).train
    b = args.batch_size
    batches = [(X[i : i + b], y[i : i + b]) for i in range(0, len(X) - b + 1, b)]
    print(f"GradientMonitor(every=1) overhead; batch {b}, Adam, {args.threads} torch thread(s), "
          f"{args.rounds} interleaved rounds x {args.steps} steps per variant")  # fmt: skip
    verdicts = []
    for case, kwargs in CASES.items():
        res = bench_case(kwargs, batches, args.rounds, args.steps)
        plain_cpu = statistics.median(c for c, _ in res.pop("plain")) / args.steps
        print(f"\n{case} (plain_mlp {kwargs}): plain step {plain_cpu * 1e6:.0f} us CPU")
        for name, ratios in res.items():
            cpu = statistics.median(c for c, _ in ratios) - 1
            wall = statistics.median(w for _, w in ratios) - 1
            print(f"  {name:10s} overhead: CPU {cpu:+6.1%}   wall {wall:+6.1%}   (median of "
                  f"{len(ratios)} per-round ratios)")  # fmt: skip
            if name in ("attached", "all-steps"):
                verdicts.append((f"{case}: {name}", cpu, [c for c, _ in ratios]))
    print()
    for case, over, ratios in verdicts:
        ok = "MET" if over <= TARGET else "NOT MET"
        print(f"verdict: {case} median CPU overhead {over:+.1%} vs target <= {TARGET:+.0%}: {ok}; "
              f"{_interval_verdict(ratios)}")  # fmt: skip
    print("detached: no hook left on the model (checked), so the plain loop runs unchanged")
    print(f"\nDoctor on a GAN's two networks (AdversarialTask, batch 32, {args.gan_rounds} "
          f"interleaved fits of {args.gan_epochs} epochs)")  # fmt: skip
    for name, ratios in bench_gan(args.gan_rounds, args.gan_epochs, 32).items():
        over = statistics.median(ratios) - 1
        ok = "MET" if over <= TARGET else "NOT MET"
        print(f"  {name:16s} median CPU overhead {over:+6.1%} vs target <= {TARGET:+.0%}: {ok}; "
              f"{_interval_verdict(ratios)}")  # fmt: skip


def _interval_verdict(ratios: list[float]) -> str:
    """The per-round CPU ratios' geometric mean, 95% interval and three-outcome verdict
    against the target (``bench/_verdict.py``); rounds in one process follow each other, so
    a slow stretch of the machine can make neighbouring rounds alike and the interval a
    little narrow."""
    if len(ratios) < 2:
        return "interval: not judged (needs 2 or more rounds)"
    v = judge_ratio(ratios, 1 + TARGET, "rounds")
    note = f" ({v.note})" if v.note else ""
    return (f"interval: gmean {v.mean - 1:+.1%} [{v.lo - 1:+.1%}, {v.hi - 1:+.1%}] (95%, over "
            f"rounds): {v.verdict}{note}")

if __name__ == "__main__":
    main()
