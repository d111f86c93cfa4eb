"""The training loop's resumable position: one dataclass, the one home of the loop's state.

Everything the Trainer needs to continue a run exactly where it stopped lives in
:class:`LoopState`: the epoch and the number of its batches already drawn (every batch, those a
task pulled with ``next_batch()`` included), the step counters, the rates each parameter group
used at its last step, the running sums of the epoch's means, the random number generators, and
what fixes the data order (seed, batch size, shuffle). Checkpoints store ``state_dict()`` and a
resumed run calls ``load_state_dict()``; nothing else reads or writes these values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    """Every global RNG state: Python, NumPy, torch CPU and each CUDA device."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])


@dataclass
class LoopState:
    """Where the loop is, and what it has summed so far this epoch.

    Attributes
    ----------
    epoch : int
        Current epoch (0-based).
    batch : int
        Batches of ``epoch`` drawn so far (the data position; 0: the epoch has not started).
    global_step : int
        Training steps in which at least one update was applied.
    optimizer_steps : dict[str, int]
        Updates applied per optimizer.
    step_lrs : dict[str, list[float]]
        Per optimizer, each parameter group's rate at its last step.
    sums, counts : dict[str, float]
        Epoch accumulators: ``sum(value * batch size)`` and ``sum(batch size)`` per logged key.
    epoch_rng : dict or None
        RNG state at the start of the epoch (rebuilds a DataLoader's order on resume).
    resume_rng : dict or None
        RNG state to restore once a resumed run has rebuilt its data iterator.
    data : dict
        What fixes the data order: ``seed``, ``batch_size``, ``shuffle``, ``kind``
        (``"memory"`` or ``"loader"``) and ``batches`` per epoch; a resume must match it.
    """

    epoch: int = 0
    batch: int = 0
    global_step: int = 0
    optimizer_steps: dict[str, int] = field(default_factory=dict)
    step_lrs: dict[str, list[float]] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)
    epoch_rng: dict[str, Any] | None = None
    resume_rng: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ epoch accumulators
    def accumulate(self, logs: dict[str, float], n: int, skip: frozenset[str] | set[str]) -> None:
        """Add one step's ``logs`` (batch size ``n``), leaving out ``skip`` and ``skipped``."""
        sums, counts = self.sums, self.counts
        for key, value in logs.items():
            if key == "skipped" or key in skip:
                continue
            sums[key] = sums.get(key, 0.0) + value * n
            counts[key] = counts.get(key, 0) + n

    def means(self) -> dict[str, float]:
        """``train_<key>``: the epoch's batch-size-weighted means so far."""
        return {f"train_{k}": v / self.counts[k] for k, v in self.sums.items()}

    def start_epoch(self, epoch: int, epoch_rng: dict[str, Any] | None) -> None:
        """A new epoch from its first batch: zero the accumulators and the position."""
        self.epoch, self.batch = epoch, 0
        self.sums, self.counts = {}, {}
        self.epoch_rng = epoch_rng

    def end_epoch(self) -> None:
        """The epoch is done: the position is the start of the next one."""
        self.epoch, self.batch = self.epoch + 1, 0
        self.sums, self.counts = {}, {}
        self.epoch_rng = None

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Plain values and tensors; ``rng`` is the RNG state at the time of the call."""
        return {
            "epoch": self.epoch, "batch": self.batch, "global_step": self.global_step,
            "optimizer_steps": dict(self.optimizer_steps),
            "step_lrs": {k: list(v) for k, v in self.step_lrs.items()},
            "sums": dict(self.sums), "counts": dict(self.counts),
            "epoch_rng": self.epoch_rng, "rng": rng_state(), "data": dict(self.data),
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take a checkpoint's position; refuse one whose data order differs from this run's.

        Raises
        ------
        ValueError
            When the seed, batch size, shuffle or data kind differ (the resumed run would
            continue at the wrong place in the data order).
        """
        check_same_data(state.get("data", {}), self.data)
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])
        self.global_step = int(state["global_step"])
        self.optimizer_steps = {k: int(v) for k, v in state.get("optimizer_steps", {}).items()}
        self.step_lrs = {k: [float(x) for x in v] for k, v in state["step_lrs"].items()}
        self.sums, self.counts = dict(state["sums"]), dict(state["counts"])
        self.epoch_rng, self.resume_rng = state["epoch_rng"], state["rng"]


_DATA_KEYS = ("seed", "batch_size", "shuffle", "kind", "batches")


def check_same_data(saved: dict[str, Any], current: dict[str, Any]) -> None:
    """A ValueError naming each setting that fixes the data order and differs."""
    diffs = [f"{k}={saved[k]!r} in the checkpoint, {current[k]!r} now" for k in _DATA_KEYS
             if k in saved and k in current and saved[k] != current[k]]  # fmt: skip
    if diffs:
        raise ValueError(
            "cannot resume: the data order would differ (" + "; ".join(diffs) + "); resume "
            "with the settings of the checkpoint or start a fresh run"
        )
