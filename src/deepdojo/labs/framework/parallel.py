"""Run several labs in worker processes, one thread each, longest first.

``deepdojo run --all --jobs N`` uses :func:`run_labs`. Each lab runs in one of ``jobs`` worker
processes with torch, OpenMP and MKL limited to one thread (two labs on two cores then never
fight over threads). Labs start longest first, by the last recorded duration of each lab at the
same scale under ``runs/`` (a lab never run starts first: it may be long). Each lab's start and
end are printed as plain lines, flushed, so a piped ``make demo`` shows progress too.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from deepdojo.labs.framework.errors import LabError
from deepdojo.labs.framework.runner import last_duration

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
UNKNOWN_DURATION_S = float("inf")  # never run and no estimate: start it first
# Quick-scale seconds of each lab in one `run --all --jobs 2` (2026-12-03, a shared 2-core
# machine, so only their order matters): the order of a first run, before runs/ has history.
ESTIMATED_S = {
    "attention": 52, "transformer": 59, "hyperparameters": 187, "vanishing-gradients": 184,
    "gru": 53, "regularization": 164, "search": 140, "imbalanced-data": 125,
    "skip-connections": 107, "learning-rate": 66, "weight-initialization": 56,
    "exploding-gradients": 47,
    "self-supervised": 49,  # CPU s at quick, one thread (v4, 2026-12-04, load ~4; 88 s wall)
    "one-shot": 58,  # CPU s at quick, one thread (wall was 10 min on a machine at load 12)
    "frameworks": 25,  # CPU s at quick, one thread (wall 90 s on a machine at load 14)
    "gan-images": 55,  # CPU s at quick, one thread (wall about 5 min on a machine at load 12)
    "gan-superres": 61,  # CPU s at quick, one thread (A/A twin, 600 patches; load 5)
    "molecules": 53,  # CPU s at quick, one thread (v5: wall 2.5 min at load 7)
    "counting": 46,  # CPU s at quick, one thread (v5; wall about 130 s at load 5-6)
    # gru 53 above: CPU s at quick, one thread (v4, 2026-12-04); attention 52, transformer 59: the
    # same, version 3 (2026-12-04, wall 2.5-4 min at load 5-6)
    "attention-memory": 17,  # CPU s at quick incl. its probe subprocesses (wall 25 s)
    "gan-translation": 54,  # CPU s at quick, one thread (wall 2.5 min on a machine at load 8)
    "autoencoders": 65,  # CPU s at quick, one thread (wall 8.5 min on a machine at load 17)
    "autoencoder-apps": 60,  # CPU s at quick, one thread (wall 13 min on a machine at load 17)
}
START_METHOD = "spawn"  # fresh workers: no torch state or threads inherited from the parent


@dataclass
class LabOutcome:
    """One lab's run in a batch: where it was written, or the error it raised."""

    name: str
    seconds: float
    path: Path | None = None
    result: dict[str, Any] | None = field(default=None, repr=False)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def longest_first(names: Sequence[str], runs_dir: str | Path, scale: str) -> list[str]:
    """``names`` ordered by the last recorded duration at ``scale``, longest first.

    A lab without a run at that scale under ``runs_dir`` is placed by :data:`ESTIMATED_S`
    (labs with neither come first); ties keep alphabetical order.
    """
    def key(name: str) -> tuple[float, str]:
        seconds = last_duration(runs_dir, name, scale)
        if seconds is None:
            seconds = ESTIMATED_S.get(name, UNKNOWN_DURATION_S)
        return (-seconds, name)

    return sorted(names, key=key)


def _stamp() -> str:
    return datetime.now().strftime("%H:%M:%S")


def say(line: str) -> None:
    """Print one progress line and flush it (stdout is block-buffered when piped)."""
    print(line, flush=True)


_INTERRUPTED = False  # set in a worker by Ctrl-C: the labs queued to it then do not start


def _on_sigint(signum: int, frame: Any) -> None:
    global _INTERRUPTED
    _INTERRUPTED = True
    raise KeyboardInterrupt


def _one_thread() -> None:
    """Worker initializer: one thread for torch and every BLAS/OpenMP pool; Ctrl-C stops the
    running lab and marks the worker interrupted (a lab already queued to it then returns at
    once instead of starting)."""
    signal.signal(signal.SIGINT, _on_sigint)
    for var in THREAD_ENV:
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)


def _run_one(name: str, kwargs: dict[str, Any]) -> LabOutcome:
    """Run one lab in a worker; an exception becomes the outcome's error (one line + trace)."""
    from deepdojo.labs.framework.runner import run_lab

    if _INTERRUPTED:
        return LabOutcome(name, 0.0, error="KeyboardInterrupt: not started (interrupted)")
    say(f"[{_stamp()}] start  {name} (pid {os.getpid()})")
    t0 = time.perf_counter()
    try:
        res = run_lab(name, **kwargs)
    except Exception as e:  # reported by the parent, the other labs go on
        detail = traceback.format_exc(limit=3)
        return LabOutcome(name, time.perf_counter() - t0, error=f"{type(e).__name__}: {e}\n"
                          f"{detail}")
    return LabOutcome(name, time.perf_counter() - t0, res.path, res.result)


@contextmanager
def _thread_env() -> Iterator[None]:
    """Set the one-thread variables for the workers about to be spawned; restore after."""
    old = {var: os.environ.get(var) for var in THREAD_ENV}
    os.environ.update({var: "1" for var in THREAD_ENV})
    try:
        yield
    finally:
        for var, value in old.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def run_labs(
    names: Sequence[str],
    *,
    jobs: int = 1,
    scale: str = "quick",
    seed: int = 0,
    overrides: dict[str, str] | None = None,
    out: str | Path = "runs",
    device: str = "cpu",
    threads: int | None = 1,
    on_done: Callable[[LabOutcome], None] | None = None,
    start_method: str | None = None,
) -> list[LabOutcome]:
    """Run ``names`` longest first, ``jobs`` at a time, and return their outcomes in the order
    they finished.

    ``jobs=1`` runs in this process (``threads`` torch threads); ``jobs > 1`` runs each lab in
    one of ``jobs`` worker processes with one thread. ``on_done(outcome)`` is called as each
    lab ends (after its start/end lines are printed). A lab that raises does not stop the
    others: its outcome carries the error. ``start_method`` defaults to :data:`START_METHOD`
    (tests use ``"fork"`` so that labs registered in the test exist in the workers).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise LabError(f"--jobs must be a positive integer, got {jobs!r}")
    order = longest_first(names, out, scale)
    base = {"scale": scale, "seed": seed, "overrides": dict(overrides or {}), "out": out,
            "device": device, "progress": "off" if jobs > 1 else "auto",
            "jobs": min(jobs, len(order))}
    outcomes: list[LabOutcome] = []

    def finish(o: LabOutcome) -> None:
        tail = f"{o.seconds:.1f} s" if o.ok else f"FAILED after {o.seconds:.1f} s"
        say(f"[{_stamp()}] end    {o.name}  {tail}")
        outcomes.append(o)
        if on_done is not None:
            on_done(o)

    if jobs == 1 or len(order) == 1:
        for name in order:
            finish(_run_one(name, {**base, "threads": threads}))
        return outcomes
    with _thread_env(), ProcessPoolExecutor(
        max_workers=min(jobs, len(order)),
        mp_context=mp.get_context(start_method or START_METHOD),
        initializer=_one_thread,
    ) as pool:
        pending: set[Future[LabOutcome]] = {
            pool.submit(_run_one, name, {**base, "threads": 1}) for name in order
        }
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    finish(fut.result())
        except KeyboardInterrupt:  # labs not yet handed to a worker never start
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    sys.stdout.flush()
    return outcomes
