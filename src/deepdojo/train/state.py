"""What a Trainer checkpoint holds, and how a resumed run picks up at the same batch.

Exact resume needs everything that decides the next update: the weights of every network, every
optimizer's moments, every scheduler, the GradScaler, the guard's counters, the history so far
and the loop's position (:class:`~deepdojo.train.loop.LoopState`: epoch, batches drawn, RNG
states, per-group rates, epoch sums). In-memory data order is a pure function of
``(seed, epoch)``; for a DataLoader the RNG state at the start of the epoch is saved too, so the
resumed run rebuilds the same sampler order and skips the batches already drawn.

A resume is refused with a ValueError when it would not continue the same run: another seed,
batch size, shuffle or kind of data, or another optimizer class under a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from deepdojo.train.checkpoint import (
    CheckpointError,
    checkpoint_name,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from deepdojo.train.history import History
from deepdojo.train.loop import rng_state, set_rng_state

if TYPE_CHECKING:  # pragma: no cover
    from deepdojo.train.trainer import Trainer

__all__ = ["CheckpointPolicy", "resume_fit", "rng_state", "set_rng_state", "trainer_state",
           "validate_state"]  # fmt: skip


def trainer_state(trainer: Trainer) -> dict[str, Any]:
    """Everything but the weights, as nested plain values and tensors."""
    return {
        "loop": trainer.loop.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in trainer.optimizers.items()},
        "optimizer_classes": {name: type(opt).__name__ for name, opt in trainer.optimizers.items()},
        "schedulers": {name: s.state_dict() for name, s in trainer.schedulers.items()},
        "scaler": None if trainer.scaler is None else trainer.scaler.state_dict(),
        "guard": None if trainer._guard is None else trainer._guard.state_dict(),
        "history": trainer.history.to_dict(),
    }  # fmt: skip


def _upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint written before tasks and LoopState, in today's layout."""
    if "loop" in state or "position" not in state:
        return state
    pos = state["position"]
    rates = state["step_lrs"] if "step_lrs" in state else [state["step_lr"]]
    loop = {"epoch": pos["epoch"], "batch": pos["batch"], "global_step": pos["global_step"],
            "step_lrs": {"model": rates}, "sums": pos["totals"],
            "counts": dict.fromkeys(pos["totals"], pos["seen"]),
            "epoch_rng": state["epoch_rng"], "rng": state["rng"], "data": {"seed": state["seed"]}}
    return {"loop": loop, "optimizers": {"model": state["optimizer"]},
            "schedulers": {} if state["scheduler"] is None else {"model": state["scheduler"]},
            "scaler": state["scaler"], "guard": state["guard"], "history": state["history"]}


_SHAPE: dict[str, type | tuple[type, ...]] = {
    "loop": dict, "optimizers": dict, "schedulers": dict, "history": dict,
    "scaler": (dict, type(None)), "guard": (dict, type(None)),
}  # fmt: skip
_LOOP_SHAPE: dict[str, type | tuple[type, ...]] = {
    "epoch": int, "batch": int, "global_step": int, "step_lrs": dict, "sums": dict,
    "counts": dict, "rng": dict, "epoch_rng": (dict, type(None)), "data": dict,
}  # fmt: skip


def validate_state(model_state: Any, state: Any) -> dict[str, Any]:
    """The checkpoint's state in today's layout; :class:`CheckpointError` when its shape is
    not that of a Trainer checkpoint (so ``resume=True`` falls back to an older one)."""
    if not isinstance(model_state, dict) or not isinstance(state, dict):
        raise CheckpointError("checkpoint state is not a Trainer state (not a dict)")
    try:
        state = _upgrade(state)
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint state lacks {e} (not a Trainer checkpoint?)") from e
    for where, shape, value in (("state", _SHAPE, state), ("loop", _LOOP_SHAPE,
                                                            state.get("loop"))):  # fmt: skip
        if not isinstance(value, dict):
            raise CheckpointError(f"checkpoint {where} is a {type(value).__name__}, not a dict")
        for key, kind in shape.items():
            if key not in value:
                raise CheckpointError(f"checkpoint {where} lacks {key!r}")
            if not isinstance(value[key], kind) or isinstance(value[key], bool):
                raise CheckpointError(f"checkpoint {where}[{key!r}] is a "
                                      f"{type(value[key]).__name__}")  # fmt: skip
    if any(not isinstance(o, dict) or "state" not in o or "param_groups" not in o
           for o in state["optimizers"].values()):  # fmt: skip
        raise CheckpointError("checkpoint optimizer state is malformed")
    return state


def _check_optimizers(trainer: Trainer, state: dict[str, Any]) -> None:
    """A ValueError when the checkpoint's optimizers are not this run's (names, classes)."""
    saved, current = state["optimizers"], trainer.optimizers
    if set(saved) != set(current):
        raise ValueError(f"cannot resume: the checkpoint has optimizers {sorted(saved)}, this "
                         f"run has {sorted(current)}")  # fmt: skip
    classes = state.get("optimizer_classes", {})
    for name, opt in current.items():
        was = classes.get(name)
        groups = saved[name]["param_groups"]
        same_keys = [set(g) - {"params"} for g in groups] == [
            set(g) - {"params"} for g in opt.state_dict()["param_groups"]]
        if (was is not None and was != type(opt).__name__) or not same_keys:
            got = was or "another optimizer"
            raise ValueError(
                f"cannot resume: optimizer {name!r} is a {type(opt).__name__} but the "
                f"checkpoint holds the state of a {got}; resume with the same optimizer "
                "(or load only the weights with import_weights)"
            )


def restore_trainer(
    trainer: Trainer, model_state: dict[str, torch.Tensor], state: dict[str, Any]
) -> None:
    """Load a checkpoint into ``trainer`` (after ``fit`` built its schedulers)."""
    state = validate_state(model_state, state)
    trainer.loop.load_state_dict(state["loop"])  # checks seed, batch size, shuffle first
    _check_optimizers(trainer, state)
    trainer.model.load_state_dict(model_state)
    for name, opt in trainer.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sched in trainer.schedulers.items():
        if name in state["schedulers"]:
            sched.load_state_dict(state["schedulers"][name])
    if state["scaler"] is not None and trainer.scaler is not None:
        trainer.scaler.load_state_dict(state["scaler"])
    trainer.history = History.from_dict(state["history"])
    trainer.history.events.append({"kind": "resume", "epoch": trainer.loop.epoch,
                                   "step": trainer.loop.global_step})  # fmt: skip
    if trainer._guard is not None:  # snapshots of the resumed state only (the fresh init
        trainer._guard.restart(trainer)  # fit started from must never be rolled back to)
        if state["guard"] is not None:
            trainer._guard.load_state_dict(state["guard"])
    set_rng_state(state["loop"]["rng"])


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

    def save(self, trainer: Trainer, end_of_epoch: bool) -> None:
        """Save the trainer as it is now (its loop state says where it continues)."""
        self.last_saved_step = trainer.global_step
        if not _is_main_process():
            return
        save_checkpoint(self.directory, checkpoint_name(trainer.global_step, end_of_epoch),
                        trainer.model.state_dict(), trainer_state(trainer),
                        keep_last=self.keep_last)  # fmt: skip

    def after_step(self, trainer: Trainer) -> None:
        step = trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0 and step != self.last_saved_step:
            self.save(trainer, end_of_epoch=False)

    def after_epoch(self, trainer: Trainer) -> None:
        self.save(trainer, end_of_epoch=True)


def resume_fit(trainer: Trainer, checkpoint_dir: Any, resume: Any) -> bool:
    """Restore ``trainer`` from ``resume`` (a checkpoint folder) or, for ``resume=True``, from
    the newest good checkpoint in ``checkpoint_dir``. Returns whether anything was restored."""
    if resume is True:
        if checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir")
        found = latest_checkpoint(checkpoint_dir, validate=validate_state)
        if found is None:
            return False
        _, model_state, state = found
    else:
        model_state, state = load_checkpoint(resume)
    restore_trainer(trainer, model_state, state)
    return True
