"""What a Trainer checkpoint holds, and how a resumed run picks up at the same batch.

Exact resume needs everything that decides the next update: weights, optimizer moments,
scheduler and GradScaler state, guard counters, the history so far, every random number
generator (Python, NumPy, torch CPU and CUDA) and the position in the data order (epoch, batch
index and the running sums of the epoch's means). In-memory data order is a pure function of
``(seed, epoch)``; for a DataLoader the RNG state at the start of the epoch is saved too, so the
resumed run rebuilds the same sampler order and skips the batches already done.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deepdojo.train.checkpoint import (
    checkpoint_name,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from deepdojo.train.history import History

if TYPE_CHECKING:  # pragma: no cover
    from deepdojo.train.trainer import Trainer


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


def trainer_state(trainer: Trainer, epoch: int, batch: int) -> dict[str, Any]:
    """Everything but the weights, as nested plain values and tensors.

    ``(epoch, batch)`` is where the resumed run continues: ``batch`` batches of ``epoch`` are
    done (``batch == 0``: the epoch has not started).
    """
    return {
        "position": {"epoch": epoch, "batch": batch, "totals": dict(trainer._totals),
                     "seen": trainer._seen, "global_step": trainer.global_step},
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "scaler": None if trainer.scaler is None else trainer.scaler.state_dict(),
        "guard": None if trainer._guard is None else trainer._guard.state_dict(),
        "history": trainer.history.to_dict(),
        "rng": rng_state(),
        "epoch_rng": trainer._epoch_rng,
        "seed": trainer.seed,
        "step_lrs": list(trainer._step_lrs),
    }  # fmt: skip


def restore_trainer(
    trainer: Trainer, model_state: dict[str, torch.Tensor], state: dict[str, Any]
) -> None:
    """Load a checkpoint into ``trainer`` (after ``fit`` built its scheduler)."""
    if state["seed"] != trainer.seed:
        raise ValueError(
            f"checkpoint was written with seed={state['seed']}, this Trainer has "
            f"seed={trainer.seed}: the data order would differ"
        )
    trainer.model.load_state_dict(model_state)
    trainer.optimizer.load_state_dict(state["optimizer"])
    if state["scheduler"] is not None and trainer.scheduler is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if state["scaler"] is not None and trainer.scaler is not None:
        trainer.scaler.load_state_dict(state["scaler"])
    trainer.history = History.from_dict(state["history"])
    trainer.history.events.append({"kind": "resume", "epoch": state["position"]["epoch"],
                                   "step": state["position"]["global_step"]})  # fmt: skip
    pos = state["position"]
    trainer.epoch = pos["epoch"]
    trainer.global_step = pos["global_step"]
    trainer._totals = dict(pos["totals"])
    trainer._seen = pos["seen"]
    trainer._resume_batch = pos["batch"]
    trainer._epoch_rng = state["epoch_rng"]
    trainer._resume_rng = state["rng"]
    groups = len(trainer.optimizer.param_groups)
    trainer._step_lrs = list(state["step_lrs"]) if "step_lrs" in state else \
        [state["step_lr"]] * groups  # a checkpoint from before per-group rates
    if trainer._guard is not None:  # snapshots of the resumed state only (the fresh init
        trainer._guard.restart(trainer)  # fit started from must never be rolled back to)
        if state["guard"] is not None:
            trainer._guard.load_state_dict(state["guard"])
    set_rng_state(state["rng"])


def _is_main_process() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


@dataclass
class CheckpointPolicy:
    """When and where the Trainer saves: end of every epoch, and every ``every_n_steps``."""

    directory: Path
    every_n_steps: int | None = None
    keep_last: int | None = 3
    last_saved_step: int = -1

    @classmethod
    def make(
        cls, directory: Any, every_n_steps: int | None, keep_last: int | None
    ) -> CheckpointPolicy | None:
        if every_n_steps is not None and (not isinstance(every_n_steps, int) or every_n_steps < 1):
            raise ValueError(f"save_every_n_steps must be a positive int, got {every_n_steps!r}")
        if keep_last is not None and (not isinstance(keep_last, int) or keep_last < 1):
            raise ValueError(f"keep_last must be a positive int or None, got {keep_last!r}")
        if directory is None:
            if every_n_steps is not None:
                raise ValueError("save_every_n_steps needs a checkpoint_dir")
            return None
        return cls(Path(directory), every_n_steps, keep_last)

    def save(self, trainer: Trainer, epoch: int, batch: int, end_of_epoch: bool) -> None:
        self.last_saved_step = trainer.global_step
        if not _is_main_process():
            return
        state = trainer_state(trainer, epoch, batch)
        save_checkpoint(self.directory, checkpoint_name(trainer.global_step, end_of_epoch),
                        trainer.model.state_dict(), state, keep_last=self.keep_last)  # fmt: skip

    def after_step(self, trainer: Trainer, epoch: int, batch: int) -> None:
        step = trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0 and step != self.last_saved_step:
            self.save(trainer, epoch, batch, end_of_epoch=False)

    def after_epoch(self, trainer: Trainer, next_epoch: int) -> None:
        trainer._totals, trainer._seen = {}, 0
        self.save(trainer, next_epoch, 0, end_of_epoch=True)


def resume_fit(trainer: Trainer, checkpoint_dir: Any, resume: Any) -> bool:
    """Restore ``trainer`` from ``resume`` (a checkpoint folder) or, for ``resume=True``, from
    the newest good checkpoint in ``checkpoint_dir``. Returns whether anything was restored."""
    if resume is True:
        if checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir")
        found = latest_checkpoint(checkpoint_dir)
        if found is None:
            return False
        _, model_state, state = found
    else:
        model_state, state = load_checkpoint(resume)
    restore_trainer(trainer, model_state, state)
    return True
