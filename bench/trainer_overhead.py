"""Trainer overhead against hand-written PyTorch loops doing the same work, like for like.

Each variant runs in a fresh process (imports, allocator and caches start cold alike); the
variants of a case run interleaved, one process each per round in an order shuffled anew each
round (a fixed seed per case and batch), so load on the machine hits all of them alike. A
process trains ``--epochs`` epochs after one warm-up epoch and reports its median seconds per
epoch (wall, and CPU time of the process). Reported: the median over rounds, as a ratio to
the hand loop it is paired with:

- ``trainer(DL)`` / ``+bar``  vs ``loop(DL)``:  both iterate the *same* shuffled ``DataLoader``;
- ``trainer(mem)`` / ``+bar`` vs ``loop(mem)``: in-memory tensors, shuffled by index and sliced;
- ``trainer(gan)`` vs ``loop(gan)``:   a GAN step (D then G, non-saturating loss) on a 2-D mixture;
- ``trainer(ssl)`` vs ``loop(ssl)``:   a two-view contrastive step (NT-Xent) on the digits.

The Trainer runs with its defaults (non-finite guard on, train accuracy where it applies,
history); the hand loops do forward, loss, backward, step, zero_grad and read the loss with
``.item()``. ``+bar`` renders the rich progress bar as on a terminal (``FORCE_COLOR``, to
/dev/null). Goals (issue 13): <= 1.05x with progress off, <= 1.2x with the bar on, for the worst
ratio at batch 32 and 256. On a shared machine the numbers are noisy: read the CPU ratio too,
and the checks printed with them:

- ``loop(mem)'``: an A/A row, a second set of hand-loop processes against the first. Its ratio
  and interval are the protocol's noise floor; a trainer ratio inside it is not a finding.
- ``gmean [95% interval]``: the geometric mean of the per-round wall ratios and its 95%
  t-interval (on their logarithms), and in the goal column the verdict of ``ratio <= goal`` on
  it, in EVIDENCE.md's three outcomes (``bench/_verdict.py``, with the boundaries of the lab
  framework's ``AtMost`` rule): MET when the whole interval is at or below the goal, NOT MET
  when it is above, INCONCLUSIVE when it straddles the goal, with about how many rounds would
  decide it in all at the observed spread. The A/A row gets a check instead: whether its
  interval holds 1, and whether it is narrower than the goal's margin. The in-process and
  lockstep rows get the same, over process medians and pair medians. The median lines ("worst
  ratio") are the protocol issue 13 names; the interval lines at the end judge "every row meets
  the goal": MET when every row is MET, NOT MET when some row's Bonferroni interval lies above
  the goal (so that 8 rows do not give 8 chances of a false NOT MET), else INCONCLUSIVE, and
  withheld (INCONCLUSIVE) when an A/A check of that protocol excludes 1.
- ``flt/ep``: minor page faults per epoch, median over epochs, worst process of the variant
  (a process whose heap is returned to the OS and faulted in again every step shows hundreds;
  ~4 us each on these VMs).
- in one process: for every case, Trainer epochs alternated with hand-loop epochs in one
  process, the per-pair ratio (shared load, allocator and caches: much less noise, but blind
  to a cost that only a Trainer process pays, which the rows above can show).
- lockstep: a fresh Trainer process and a fresh hand-loop process started together and run
  in turn, one epoch at a time (the order alternating each epoch), every variant of every
  case, A/A included. Each pays its own process's costs, as in the first rows, while a
  change in the machine's speed that lasts longer than two epochs hits both alike, as in
  one process. Reported: the median and quartiles of the per-epoch ratios pooled over the
  ``--rounds`` pairs, and the range of the pairs' medians; it has its own verdict line.
  Opt in with ``--lockstep-epochs N`` (about 8 more minutes at 20): on the shared 2-core VM
  of issue 13 it was no tighter than the rows above (A/A pair medians 0.87-1.12 at batch
  32, 0.95-1.11 at 256; per-epoch quartiles up to [0.62, 1.65] at batch 256).

- ablations (opt in with ``--ablate-epochs N``): the MLP Trainer in one process with its
  guard, its train accuracy, and both turned off in turn, each against the hand loop as in
  the in-process rows; the ratio of each, and the defaults' ratio over it (what that part
  costs), with 95% intervals over ``--rounds`` processes. ``bench/guard_check.py`` times the
  guard's finiteness check itself against the exact alternatives, inside training.

- ``--malloc pinned``: every child process, Trainer and hand loop alike, runs with glibc's
  heap trimming off and a fixed mmap threshold (``GLIBC_TUNABLES``). With glibc's defaults
  a step's large temporaries can be handed back to the OS when freed and faulted in again on
  the next step: thousands of minor faults per epoch in some processes, none in others (the
  ``flt/ep`` columns). How often depends on the order in which a loop frees its memory. The
  hand loops call ``zero_grad`` after the step, as issue 13 lists the hand loop and as the
  Trainer's step does; ``--hand-zero-grad first`` calls it between the loss and
  ``backward`` (the gradients then live through the next forward), and ``both`` times a hand
  loop of each order after every Trainer epoch in the in-process rows. On the 2-core VM of
  issue 13 (15 processes, batch 256, ``both``) the contrastive task read 1.012 [1.002, 1.023]
  against the first order and 1.061 [1.042, 1.080] against the second, whose loop faulted
  less (2176 vs 2896 faults per epoch); pinned, 1.013 and 1.011, no faults. Pinned, the rows
  compare the loops without page-fault churn; as it is, they also show what glibc's defaults
  add, which depends on the loop's order.

With other processes running on a 2-core machine, ``--threads 2`` is not measurable (OpenMP
threads spin-wait for a core: a child took 30+ s instead of ~3 s at load 2-3); compare with
``--threads 1`` there, and with more rounds and epochs for the b256 cases (8 steps per epoch).

Run::

    .venv/bin/python bench/trainer_overhead.py                       # 7 rounds x 20 epochs
    # ~200 fresh processes of ~3 s each (the digits are loaded once, by the parent): about
    # 15-20 minutes on a 2-core machine; the last line prints the time
    .venv/bin/python bench/trainer_overhead.py --rounds 3 --epochs 5 --cases mlp gan
    # the lockstep protocol alone (--epochs 0 and --paired-epochs 0 skip the others)
    .venv/bin/python bench/trainer_overhead.py --epochs 0 --paired-epochs 0 --lockstep-epochs 20
    # the in-process rows with glibc's malloc pinned in every child (no page-fault churn)
    .venv/bin/python bench/trainer_overhead.py --epochs 0 --rounds 15 --malloc pinned
    # where the MLP's overhead goes (about 3 minutes)
    .venv/bin/python bench/trainer_overhead.py --epochs 0 --paired-epochs 0 --ablate-epochs 30
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from _overhead_tasks import (  # noqa: E402
    PAIRS,
    ZERO_GRAD_ENV,
    HandEpoch,
    gan_data,
    hand_gan,
    hand_ssl,
    make_gan,
    make_ssl,
    zero_grad_first,
)
from _verdict import (  # noqa: E402
    INCONCLUSIVE,
    MET,
    NOT_MET,
    contains_one,
    gmean_interval,
    judge_ratio,
    judge_rows,
)

GOAL_OFF, GOAL_BAR = 1.05, 1.2
GOALS = {"off": GOAL_OFF, "bar": GOAL_BAR}  # verdict key -> goal (progress off / bar on)


_DIGITS_ENV = "DEEPDOJO_BENCH_DIGITS"  # the parent's cached copy, so children skip sklearn
_MALLOC_ENV = "DEEPDOJO_BENCH_MALLOC"  # --malloc, for child_command
# --malloc pinned: glibc keeps freed heap memory (no trim below 1 GiB) and serves blocks below
# 32 MiB from the heap (a fixed mmap threshold), so no step's temporaries are returned to the
# OS and faulted in again
PINNED_MALLOC = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432"


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    import numpy as np

    cached = os.environ.get(_DIGITS_ENV)
    if cached:
        with np.load(cached) as f:
            data, target = f["data"], f["target"]
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        data, target = d.data, d.target
    X = torch.tensor(data, dtype=torch.float32) / 16.0  # (N, 64)
    return X, torch.tensor(target, dtype=torch.long)


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))  # fmt: skip


class EpochClock:
    """Per-epoch wall and CPU seconds and minor page faults, from epoch start to epoch end.

    With ``fds=(go, out)`` (the lockstep protocol) each epoch needs a byte from ``go`` to
    start, and its end writes the times as a JSON line to ``out`` and waits for the next byte
    at once, so that whatever the process does between epochs (the Trainer's epoch records,
    say) runs in its own turn, not during the other process's timed epoch."""

    def __init__(self, fds: tuple[int, int] | None = None) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.faults: list[int] = []
        self.fds = fds
        self._go: bytes | None = None  # the byte read at the end of the last epoch

    def start(self) -> None:
        if self.fds is not None:
            go, self._go = self._go or os.read(self.fds[0], 1), None
            if not go:
                sys.exit(0)  # the parent closed the pipe: no more epochs
        self._f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        self._w, self._c = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.wall.append(time.perf_counter() - self._w)
        self.cpu.append(time.process_time() - self._c)
        self.faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self._f)
        if self.fds is not None:
            line = json.dumps({"wall": self.wall[-1], "cpu": self.cpu[-1],
                               "faults": self.faults[-1]})  # fmt: skip
            os.write(self.fds[1], (line + "\n").encode())
            self._go = os.read(self.fds[0], 1)  # b"" once the parent is done


def trainer_clock(clock: EpochClock) -> Any:
    from deepdojo.train import Callback

    class Clock(Callback):
        def on_epoch_start(self, trainer: Any, epoch: int) -> None:
            clock.start()

        def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
            clock.stop()

    return Clock()


def hand_epochs(clock: EpochClock, epochs: int, one_epoch: Callable[[], None]) -> None:
    for _ in range(epochs):
        clock.start()
        one_epoch()
        clock.stop()


def hand_supervised(batches: Callable[[], Iterable[Any]], first: bool | None = None) -> HandEpoch:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    first = zero_grad_first(first)

    def one_epoch() -> None:
        model.train()
        total = 0.0
        for xb, yb in batches():
            loss = loss_fn(model(xb), yb)  # forward, loss
            if first:
                opt.zero_grad()
            loss.backward()
            opt.step()
            if not first:  # last (the default), as the Trainer's step
                opt.zero_grad()
            total += loss.item() * len(yb)  # read the loss, as any logging loop does

    return HandEpoch(one_epoch, model)


def index_batches(X: torch.Tensor, y: torch.Tensor, batch: int) -> Callable[[], Iterable[Any]]:
    """The hand loop's in-memory epochs: a fresh permutation each, sliced by index."""
    gen = torch.Generator().manual_seed(0)

    def batches() -> Iterable[Any]:
        order = torch.randperm(len(X), generator=gen)
        return ((X[order[lo : lo + batch]], y[order[lo : lo + batch]])
                for lo in range(0, len(X), batch))  # fmt: skip

    return batches


def case_trainer(source: str, bar: bool, callback: Any, **options: Any) -> Any:
    """The Trainer of a case with its defaults: the digits MLP (``DL``/``mem``; ``options``
    as Trainer keywords, e.g. ``guard=False``), else the GAN or contrastive task."""
    from deepdojo.train import Trainer

    progress = "on" if bar else "off"
    if source in ("DL", "mem"):
        return Trainer(mlp(), nn.CrossEntropyLoss(), "adam", lr=1e-3, device="cpu",
                       progress=progress, callbacks=[callback], **options)  # fmt: skip
    if options:
        raise ValueError(f"Trainer options {sorted(options)} apply to the MLP case only")
    return Trainer(make_gan() if source == "gan" else make_ssl(), device="cpu",
                   progress=progress, callbacks=[callback])  # fmt: skip


def task_data(source: str) -> torch.Tensor:
    """The GAN's 2-D mixture or the contrastive task's digits."""
    return gan_data() if source == "gan" else digits()[0]


def hand_task(source: str, data: torch.Tensor, batch: int, first: bool | None = None) -> HandEpoch:
    return (hand_gan if source == "gan" else hand_ssl)(data, batch, first)


def run_child(variant: str, batch: int, epochs: int,
              fds: tuple[int, int] | None = None) -> dict[str, float]:  # fmt: skip
    """One variant in this process: a warm-up epoch, then ``epochs`` timed ones (each gated
    and reported through ``fds`` in the lockstep protocol, see :class:`EpochClock`)."""
    clock = EpochClock(fds)
    kind, _, rest = variant.partition("(")  # "trainer(DL)+bar" -> trainer, DL, bar
    source, bar = rest.split(")")[0], variant.endswith("+bar")
    if source in ("DL", "mem"):
        X, y = digits()
        loader = DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=True)
        if kind == "loop":
            mem = index_batches(X, y, batch)
            step = hand_supervised((lambda: loader) if source == "DL" else mem)
            hand_epochs(clock, epochs + 1, step)  # a warm-up epoch, as the Trainer's below
        else:
            tr = case_trainer(source, bar, trainer_clock(clock))
            tr.fit(loader if source == "DL" else (X, y), epochs=epochs + 1, batch_size=batch)
    else:  # gan / ssl: a task against the hand loop doing the same work
        data = task_data(source)
        if kind == "loop":
            step = hand_task(source, data, batch)
            hand_epochs(clock, epochs + 1, step)
        else:
            case_trainer(source, bar, trainer_clock(clock)).fit(data, epochs=epochs + 1,
                                                                 batch_size=batch)  # fmt: skip
    wall, cpu = clock.wall[-epochs:], clock.cpu[-epochs:]  # the warm-up epoch left out
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu),
            "faults": statistics.median(clock.faults[-epochs:])}  # fmt: skip


def run_paired(case: str, batch: int, epochs: int, **options: Any) -> dict[str, Any]:
    """In this process: ``epochs`` Trainer epochs of ``case`` (``mlp``: in-memory data), each
    followed by one epoch of its hand loop (``mlp``: index slicing); the per-pair ratios
    (trainer / hand) of wall time. Both share the process, its imports, allocator and caches,
    and the machine's load of that moment, so the ratio is far less noisy than between
    processes (it cannot show a cost that only a Trainer process pays, which the fresh-process
    rows can). ``options``: Trainer keywords for the ``mlp`` case (the ablations).

    With ``--hand-zero-grad both``, each Trainer epoch is followed by one epoch of each hand
    loop (``zero_grad`` after the step, then before ``backward``, the two in turns): the
    ratios against the second come as ``ratios_first``. Each arm's median seconds and minor
    page faults per epoch come with them."""
    from deepdojo.train import Callback

    def faults() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    orders = ([False, True] if os.environ.get(ZERO_GRAD_ENV) == "both"
              else [zero_grad_first()])  # fmt: skip
    if case == "mlp":
        X, y = digits()
        hands = [hand_supervised(index_batches(X, y, batch), first) for first in orders]
        data: Any = (X, y)
    else:
        data = task_data(case)
        hands = [hand_task(case, data, batch, first) for first in orders]
    for hand in hands:
        hand()  # warm-up
    arms = ["trainer", *(f"hand-{i}" for i in range(len(hands)))]
    secs: dict[str, list[float]] = {arm: [] for arm in arms}
    flts: dict[str, list[int]] = {arm: [] for arm in arms}

    def timed(arm: str, f: int, t: float) -> None:
        secs[arm].append(time.perf_counter() - t)
        flts[arm].append(faults() - f)

    class Pair(Callback):
        def on_epoch_start(self, trainer: Any, epoch: int) -> None:
            self.f, self.t = faults(), time.perf_counter()

        def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
            timed("trainer", self.f, self.t)
            turn = range(len(hands)) if epoch % 2 == 0 else reversed(range(len(hands)))
            for i in turn:
                f, t = faults(), time.perf_counter()
                hands[i]()
                timed(f"hand-{i}", f, t)

    case_trainer("mem" if case == "mlp" else case, False, Pair(), **options).fit(
        data, epochs=epochs + 1, batch_size=batch)  # fmt: skip
    out: dict[str, Any] = {}
    for i, first in enumerate(orders):
        key = "_first" if len(orders) > 1 and first else ""
        out[f"ratios{key}"] = [t / h for t, h in zip(secs["trainer"][1:], secs[f"hand-{i}"][1:],
                                                     strict=True)]  # fmt: skip
        out[f"faults{key}"] = [statistics.median(flts[a][1:]) for a in ("trainer", f"hand-{i}")]
        out[f"seconds{key}"] = [statistics.median(secs[a][1:]) for a in ("trainer", f"hand-{i}")]
    return out


# the ablations: the digits MLP's Trainer with one default part turned off at a time
ABLATIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "guard off": {"guard": False},
    "accuracy off": {"metrics": {}},
    "both off": {"guard": False, "metrics": {}},
}


def run_ablations(batch: int, epochs: int, seed: int) -> dict[str, list[float]]:
    """In this process, each of :data:`ABLATIONS` (in an order shuffled by ``seed``) as in
    :func:`run_paired` (the MLP in memory, each Trainer epoch followed by a hand-loop epoch);
    per variant, the median per-pair wall ratio and the median minor page faults per epoch of
    the Trainer and of the hand loop. The variants share the process, so their differences
    (what each part costs) are free of the between-process noise."""
    out = {}
    for name in random.Random(seed).sample(list(ABLATIONS), len(ABLATIONS)):
        r = run_paired("mlp", batch, epochs, **ABLATIONS[name])
        out[name] = [statistics.median(r["ratios"]), *r["faults"]]
    return out


def child_command(variant: str, batch: int, epochs: int,
                  threads: int) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """The command line and environment of a child process running ``variant``."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    if os.environ.get(_MALLOC_ENV) == "pinned":  # every child alike, the hand loops too
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), PINNED_MALLOC]))
    if variant.endswith("+bar"):
        env["FORCE_COLOR"] = "1"  # rich renders as on a terminal
    cmd = [sys.executable, __file__, "--child", variant, "--batch", str(batch),
           "--epochs", str(epochs), "--threads", str(threads)]  # fmt: skip
    return cmd, env


def spawn(variant: str, batch: int, epochs: int, threads: int) -> dict[str, Any]:
    cmd, env = child_command(variant, batch, epochs, threads)
    if variant.endswith("+bar"):
        with open(os.devnull, "w") as sink:
            out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=sink, text=True,
                                 check=True).stdout  # fmt: skip
    else:
        out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def lockstep(variant: str, twin: str, batch: int, epochs: int, threads: int) -> list[float]:
    """Two fresh processes, ``variant`` and ``twin``, that take turns epoch by epoch (the
    order alternating each epoch); the per-epoch wall ratios ``variant / twin`` after one
    warm-up epoch each. Both pay their own process's costs (allocator, caches, imports), and
    a change in the machine's speed lasting longer than two epochs hits both alike."""
    procs: list[tuple[subprocess.Popen[bytes], int, Any]] = []
    try:
        for v in (variant, twin):
            go_r, go_w = os.pipe()
            out_r, out_w = os.pipe()
            cmd, env = child_command(v, batch, epochs, threads)
            try:
                proc = subprocess.Popen([*cmd, "--fds", f"{go_r},{out_w}"], env=env,
                                        pass_fds=(go_r, out_w), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL if v.endswith("+bar") else None)
            except BaseException:
                os.close(go_w)
                os.close(out_r)
                raise
            finally:
                os.close(go_r)
                os.close(out_w)
            procs.append((proc, go_w, os.fdopen(out_r)))
        ratios = []
        for epoch in range(epochs + 1):
            walls = {}
            for i in ((0, 1) if epoch % 2 == 0 else (1, 0)):
                proc, go, out = procs[i]
                os.write(go, b"g")
                line = out.readline()
                if not line:
                    raise RuntimeError(f"lockstep child {(variant, twin)[i]!r} exited with "
                                       f"{proc.wait()} at epoch {epoch}")  # fmt: skip
                walls[i] = json.loads(line)["wall"]
            if epoch:  # the first is the warm-up
                ratios.append(walls[0] / walls[1])
    finally:
        for _, go, out in procs:  # EOF on every pipe first: no child waits for another
            os.close(go)
            out.close()
        codes = []
        for proc, _, _ in procs:
            try:
                codes.append(proc.wait(timeout=60))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
    if any(codes):
        raise RuntimeError(f"lockstep children {(variant, twin)} exited with {codes}")
    return ratios


def bench_case(case: str, batch: int, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Median wall and CPU ratios of each variant to its paired hand loop (and the per-round
    wall ratios, ``rounds``)."""
    variants = list(dict.fromkeys(v for pair in PAIRS[case] for v in pair))
    times: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    order = random.Random(f"{case}-{batch}")  # a fixed shuffle: reruns see the same order
    for _ in range(args.rounds):
        for v in order.sample(variants, len(variants)):  # a new order each round
            times[v].append(spawn(v, batch, args.epochs, args.threads))
    out = {}
    for trainer_variant, loop_variant in PAIRS[case]:
        per_round = {m: [t[m] / h[m] for t, h in zip(
            times[trainer_variant], times[loop_variant], strict=True)] for m in ("wall", "cpu")}
        ratio = {m: statistics.median(r) for m, r in per_round.items()}
        ratio["rounds"] = per_round["wall"]  # type: ignore[assignment]
        ratio["loop_s"] = statistics.median(h["wall"] for h in times[loop_variant])
        ratio["faults"] = max(t["faults"] for t in times[trainer_variant])  # worst process
        out[trainer_variant] = ratio
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7,
                        help="interleaved fresh processes (EVIDENCE.md: 7 or more repeats)")
    parser.add_argument("--epochs", type=int, default=20,
                        help="timed epochs per process (0: skip the separate-process rows)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--cases", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--paired-epochs", type=int, default=40,
                        help="epoch pairs per process for the in-process comparison (0: skip)")
    parser.add_argument("--lockstep-epochs", type=int, default=0,
                        help="timed epochs per process pair in the lockstep protocol (0: skip)")
    parser.add_argument("--ablate-epochs", type=int, default=0,
                        help="epoch pairs per Trainer variant for the MLP ablations: guard "
                             "and train accuracy off in turn, in one process (0: skip)")
    parser.add_argument("--malloc", choices=["default", "pinned"], default="default",
                        help="glibc malloc settings of every child process, Trainer and hand "
                             "loop alike: as they are, or pinned (no trimming, a fixed mmap "
                             "threshold: no page-fault churn)")  # fmt: skip
    parser.add_argument("--hand-zero-grad", choices=["last", "first", "both"], default="last",
                        help="where the hand loops call zero_grad: after the step (as issue "
                             "13 lists the hand loop, and as the Trainer's step) or before "
                             "backward (the gradients live through the next forward); both: "
                             "the in-process rows time a hand loop of each order after every "
                             "Trainer epoch (the other protocols use 'last')")  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fds", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child:
        if args.child.startswith("ablate-"):  # ablate-<round>
            seed = int(args.child.removeprefix("ablate-"))
            print(json.dumps(run_ablations(args.batch, args.epochs, seed)))
            return
        if args.child.startswith("paired-"):
            print(json.dumps(run_paired(args.child.removeprefix("paired-"), args.batch,
                                        args.epochs)))  # fmt: skip
            return
        fds = tuple(int(f) for f in args.fds.split(",")) if args.fds else None
        print(json.dumps(run_child(args.child, args.batch, args.epochs, fds)))  # type: ignore[arg-type]
        return
    import tempfile

    import numpy as np
    from sklearn.datasets import load_digits

    started = time.perf_counter()
    d = load_digits()  # loaded once; the children read this copy (no sklearn import each)
    os.environ[_MALLOC_ENV] = args.malloc
    os.environ[ZERO_GRAD_ENV] = args.hand_zero_grad
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[_DIGITS_ENV] = cache = os.path.join(tmp, "digits.npz")
        np.savez(cache, data=d.data, target=d.target)
        _report(args)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"bench time {time.perf_counter() - started:.0f} s; load average at the end {load} "
          f"({os.cpu_count()} CPUs)")  # fmt: skip


def _goal_of(variant: str) -> tuple[str | None, str]:
    """``(verdict key, goal column)`` of a row: ``"bar"``/``"off"`` and its goal, or ``None``
    for the A/A twin (a check, not a finding)."""
    if variant.startswith("loop"):
        return None, "A/A: hand loop vs its twin"
    bar = variant.endswith("+bar")
    key = "bar" if bar else "off"
    return key, f"<= {GOALS[key]}"


def _report(args: argparse.Namespace) -> None:
    malloc = "as it is" if args.malloc == "default" else f"pinned ({PINNED_MALLOC})"
    print(f"torch {torch.__version__}, {args.threads} threads, glibc malloc {malloc}, hand "
          f"loops zero_grad {args.hand_zero_grad}")  # fmt: skip
    worst: dict[str, float] = {}
    worst_cpu: dict[str, float] = {}
    judged: dict[str, dict[str | None, list[list[float]]]] = {}  # protocol -> key -> rows
    if args.epochs:
        print(f"{args.rounds} interleaved fresh processes per variant, {args.epochs} epochs "
              f"each (median s/epoch); ratio = median over rounds of trainer / paired hand "
              f"loop (wall, cpu); gmean [95% interval] of the per-round wall ratios and its "
              f"verdict (MET / NOT MET / INCONCLUSIVE)")  # fmt: skip
        print(f"{'case':<6}{'batch':>6}  {'variant':<17}{'wall':>7}{'cpu':>7}  "
              f"{'gmean [95% interval]':<23}{'loop s/ep':>9}{'flt/ep':>7}  goal")  # fmt: skip
    for case in args.cases if args.epochs else []:
        for batch in args.batches:
            for variant, r in bench_case(case, batch, args).items():
                key, label = _goal_of(variant)
                if key is not None:
                    worst[key] = max(worst.get(key, 0.0), r["wall"])
                    worst_cpu[key] = max(worst_cpu.get(key, 0.0), r["cpu"])
                label = _judged_label(judged, "fresh", key, label, r["rounds"], "rounds")
                print(f"{case:<6}{batch:>6}  {variant:<17}{r['wall']:>7.3f}{r['cpu']:>7.3f}  "
                      f"{_interval_of(r['rounds']):<23}{r['loop_s']:>9.4f}{r['faults']:>7.0f}"
                      f"  {label}")  # fmt: skip
                sys.stdout.flush()
    if args.paired_epochs:
        print(f"\nin one process (progress off; mlp in memory): {args.paired_epochs} Trainer "
              f"epochs, each followed by a hand-loop epoch; median [quartiles] of the per-pair "
              f"wall ratios, over {args.rounds} processes; gmean [95% interval] of the "
              f"process medians; ms and minor page faults per epoch, trainer/hand (median "
              f"over processes of the per-process medians)")  # fmt: skip
        for case in args.cases:
            for batch in args.batches:
                outs = [spawn(f"paired-{case}", batch, args.paired_epochs, args.threads)
                        for _ in range(args.rounds)]  # fmt: skip
                for key in ("", "_first") if args.hand_zero_grad == "both" else ("",):
                    protocol = "in one process" + (", hand zero_grad first" if key else "")
                    _paired_row(judged, protocol, case, batch, outs, key)
    if args.ablate_epochs:
        _report_ablations(args)
    lock: dict[str, float] = {}
    if args.lockstep_epochs:
        print(f"\nlockstep: a fresh Trainer process and a fresh hand-loop process take turns "
              f"epoch by epoch, {args.rounds} pairs per variant, {args.lockstep_epochs} epochs "
              f"each; median [quartiles] of the per-epoch wall ratios over all pairs, the "
              f"range of the pairs' medians, and their gmean [95% interval]")  # fmt: skip
        for case in args.cases:
            for batch in args.batches:
                for variant, twin in PAIRS[case]:
                    pooled, medians = [], []
                    for _ in range(args.rounds):
                        r = lockstep(variant, twin, batch, args.lockstep_epochs, args.threads)
                        pooled += r
                        medians.append(statistics.median(r))
                    median = statistics.median(pooled)
                    q = statistics.quantiles(pooled, n=4) if len(pooled) > 1 else [median] * 3
                    key, label = _goal_of(variant)
                    if key is not None:
                        lock[key] = max(lock.get(key, 0.0), median)
                    label = _judged_label(judged, "lockstep", key, label, medians, "pairs")
                    print(f"{case:<6}{batch:>6}  {variant:<17}{median:7.3f} [{q[0]:.3f}, "
                          f"{q[2]:.3f}]  (pair medians {min(medians):.3f}-{max(medians):.3f})  "
                          f"{_interval_of(medians)}  {label}")  # fmt: skip
                    sys.stdout.flush()
    print()
    for key, goal in GOALS.items():
        if key in lock:
            verdict = "MET" if lock[key] <= goal else "NOT MET"
            print(f"lockstep worst ratio, progress {key}: {lock[key]:.3f} ({verdict}) vs goal "
                  f"<= {goal}")  # fmt: skip
        if key in worst:
            verdict = "MET" if worst[key] <= goal else "NOT MET"
            cpu_verdict = "MET" if worst_cpu[key] <= goal else "NOT MET"
            print(f"worst ratio, progress {key}: wall {worst[key]:.3f} ({verdict}), cpu "
                  f"{worst_cpu[key]:.3f} ({cpu_verdict}) vs goal <= {goal}")  # fmt: skip
    for protocol, by_key in judged.items():
        checks = [contains_one(r) for r in by_key.get(None, [])]
        biased = sum(c.verdict != MET for c in checks)
        for key, rows in by_key.items():
            if key is None:
                continue
            goal = GOALS[key]
            verdict, counts = judge_rows(rows, goal)
            if biased and verdict != NOT_MET:
                verdict = f"{INCONCLUSIVE} (withheld: {biased} A/A check(s) exclude 1)"
            print(f"{protocol}, progress {key}, every row's interval vs goal <= {goal}: "
                  f"{verdict} ({counts})")  # fmt: skip
    if args.rounds < 2:
        print("no interval verdicts: they need --rounds 2 or more")


def _paired_row(judged: dict[str, dict[str | None, list[list[float]]]], protocol: str,
                case: str, batch: int, outs: list[dict[str, Any]], key: str) -> None:
    """One in-process row: the per-pair ratios of every process against the hand loop
    ``key`` names (``""``, or ``"_first"``: the one calling ``zero_grad`` before backward)."""
    medians = [statistics.median(o[f"ratios{key}"]) for o in outs]
    q = [statistics.median(statistics.quantiles(o[f"ratios{key}"], n=4)[i] for o in outs)
         for i in (0, 2)]  # fmt: skip
    flt = [statistics.median(o[f"faults{key}"][i] for o in outs) for i in (0, 1)]
    sec = [statistics.median(o[f"seconds{key}"][i] for o in outs) * 1e3 for i in (0, 1)]
    label = _judged_label(judged, protocol, "off", f"<= {GOALS['off']}", medians, "processes")
    hand = "hand(first)" if key else "hand"
    print(f"{case:<6}{batch:>6}  trainer / {hand:<12}{statistics.median(medians):.3f} "
          f"[{q[0]:.3f}, {q[1]:.3f}]  (process medians {min(medians):.3f}-{max(medians):.3f})  "
          f"{_interval_of(medians)}  ms/ep {sec[0]:.1f}/{sec[1]:.1f}  flt/ep {flt[0]:.0f}/"
          f"{flt[1]:.0f}  {label}")  # fmt: skip
    sys.stdout.flush()


def _report_ablations(args: argparse.Namespace) -> None:
    """Where the MLP Trainer's overhead goes: its ratio to the hand loop with each default
    part off, and the cost of each part (the defaults' ratio over the variant's, within each
    process). A finding per row, with its interval; not judged against a goal."""
    print(f"\nablations (mlp in memory, progress off, in one process): {args.ablate_epochs} "
          f"Trainer epochs per variant, each followed by a hand-loop epoch, the variants in a "
          f"shuffled order; gmean [95% interval] over {args.rounds} processes of the median "
          f"per-pair wall ratio, and of defaults / variant (the cost of what it turns off)")
    for batch in args.batches:
        per: dict[str, list[float]] = {name: [] for name in ABLATIONS}
        faults: dict[str, list[list[float]]] = {name: [] for name in ABLATIONS}
        for r in range(args.rounds):
            out = spawn(f"ablate-{r}", batch, args.ablate_epochs, args.threads)
            for name, (ratio, *flt) in out.items():
                per[name].append(ratio)
                faults[name].append(flt)
        for name, ratios in per.items():
            cost = "" if name == "defaults" else (
                "   defaults / this " + _interval_of(
                    [d / v for d, v in zip(per["defaults"], ratios, strict=True)]))
            flt = [statistics.median(f[i] for f in faults[name]) for i in (0, 1)]
            print(f"{'mlp':<6}{batch:>6}  {name:<13} trainer / hand {_interval_of(ratios):<23}"
                  f"flt/ep {flt[0]:>4.0f}/{flt[1]:<4.0f}{cost}".rstrip())  # fmt: skip
        sys.stdout.flush()


def _interval_of(ratios: list[float]) -> str:
    """``gmean [lo, hi]`` of per-repeat ratios (``-`` for fewer than two)."""
    if len(ratios) < 2:
        return "-"
    mean, lo, hi = gmean_interval(ratios)
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def _judged_label(judged: dict[str, dict[str | None, list[list[float]]]], protocol: str,
                  key: str | None, label: str, ratios: list[float], unit: str) -> str:  # fmt: skip
    """The goal column with the row's 95% verdict (its ratios kept under
    ``judged[protocol][key]`` for the summary); for the A/A twin (``key`` None) whether its
    interval holds 1 and how wide it is against the goal, a check kept apart."""
    if len(ratios) < 2:
        return label
    judged.setdefault(protocol, {}).setdefault(key, []).append(ratios)
    if key is None:
        return f"{label}, interval {contains_one(ratios, GOAL_OFF).note}"
    v = judge_ratio(ratios, GOALS[key], unit)
    return f"{label} {v.verdict}" + (f" ({v.note})" if v.note else "")

if __name__ == "__main__":
    main()
