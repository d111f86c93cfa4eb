"""Trainer overhead against a hand-written PyTorch loop (issue 3's benchmark).

Same model, data, optimizer and epochs, timed four ways, interleaved (one run of each variant
per round, in rotating order) so that load on the machine hits all of them alike:

- ``trainer``      — ``Trainer.fit`` with progress off and its defaults on (non-finite guard,
                     train accuracy, history);
- ``trainer+bar``  — the same with the rich progress bar on (rendered to a forced terminal);
- ``loop(DL)``     — the baseline: a hand-written loop over a shuffled ``DataLoader`` that
                     accumulates the epoch loss with ``loss.item()``;
- ``loop(mem)``    — a hand-written loop that shuffles in-memory tensors by index and slices.

Reported: the median time of each variant divided by the median of ``loop(DL)``. Models: the
digits MLP 64-256-256-10 and a small CNN on 1x8x8 digits, at batch 32 and 256.

Run::

    .venv/bin/python bench/trainer_overhead.py            # 5 rounds, 3 epochs
    .venv/bin/python bench/trainer_overhead.py --rounds 7 --epochs 5 --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from deepdojo.train import Trainer


def digits(flat: bool) -> tuple[torch.Tensor, torch.Tensor]:
    d = load_digits()
    X = torch.tensor(d.data, dtype=torch.float32) / 16.0  # (N, 64)
    y = torch.tensor(d.target, dtype=torch.long)
    return (X if flat else X.reshape(-1, 1, 8, 8)), y


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))  # fmt: skip


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 4, 4)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),  # (B, 512)
        nn.Linear(512, 10),
    )  # fmt: skip


def run_trainer(make: Callable[[], nn.Module], X, y, bs: int, epochs: int, bar: bool) -> float:
    torch.manual_seed(0)
    tr = Trainer(make(), nn.CrossEntropyLoss(), "adam", lr=1e-3, device="cpu",
                 progress="on" if bar else "off")  # fmt: skip
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink) if bar else contextlib.nullcontext():
        t = time.perf_counter()
        tr.fit((X, y), epochs=epochs, batch_size=bs)
        return time.perf_counter() - t


def run_loader_loop(make: Callable[[], nn.Module], X, y, bs: int, epochs: int) -> float:
    torch.manual_seed(0)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    t = time.perf_counter()
    loader = DataLoader(TensorDataset(X, y), batch_size=bs, shuffle=True)
    for _ in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
    return time.perf_counter() - t


def run_memory_loop(make: Callable[[], nn.Module], X, y, bs: int, epochs: int) -> float:
    torch.manual_seed(0)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    t = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        total = 0.0
        order = torch.randperm(len(X), generator=gen)
        for lo in range(0, len(X), bs):
            idx = order[lo : lo + bs]
            xb, yb = X[idx], y[idx]
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
    return time.perf_counter() - t


def bench_case(make, X, y, bs: int, epochs: int, rounds: int) -> dict[str, float]:
    variants: dict[str, Callable[[], float]] = {
        "trainer": lambda: run_trainer(make, X, y, bs, epochs, bar=False),
        "trainer+bar": lambda: run_trainer(make, X, y, bs, epochs, bar=True),
        "loop(DL)": lambda: run_loader_loop(make, X, y, bs, epochs),
        "loop(mem)": lambda: run_memory_loop(make, X, y, bs, epochs),
    }
    for fn in variants.values():  # warm-up: imports, allocator, first-call costs
        fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        for k in names[r % len(names):] + names[: r % len(names)]:  # rotate the order
            times[k].append(variants[k]())
    med = {k: statistics.median(v) for k, v in times.items()}
    return {k: med[k] / med["loop(DL)"] for k in names} | {"loop(DL) s": med["loop(DL)"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per case")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("FORCE_COLOR", "1")  # render the bar as on a terminal
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.rounds} interleaved rounds x {args.epochs} epochs; ratios = median time / "
          f"median time of loop(DL)")  # fmt: skip
    header = f"{'model':<6}{'batch':>6}{'trainer':>10}{'+bar':>8}{'loop(mem)':>11}{'DL s':>8}"
    print(header)
    print("-" * len(header))
    for name, make, flat in (("mlp", mlp, True), ("cnn", cnn, False)):
        X, y = digits(flat)
        for bs in (32, 256):
            r = bench_case(make, X, y, bs, args.epochs, args.rounds)
            print(f"{name:<6}{bs:>6}{r['trainer']:>10.2f}{r['trainer+bar']:>8.2f}"
                  f"{r['loop(mem)']:>11.2f}{r['loop(DL) s']:>8.3f}")  # fmt: skip
            sys.stdout.flush()


if __name__ == "__main__":
    main()
