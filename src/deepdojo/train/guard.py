"""The non-finite guard: skip NaN/Inf steps, roll back after a streak, then stop with a name.

Per update it costs one fused check and no anomaly mode. Without clipping, CPU float32/64
gradients are tested element by element by one call of torch's fused AMP non-finite check at a
unit scale (values unchanged bit for bit; a huge but finite gradient is never rejected, as
nothing is squared or summed), and the loss and the verdict are read on the host (a CPU read:
no device sync). With clipping, or on other devices and dtypes, the per-tensor gradient norms
come from one ``torch._foreach_norm`` call (clipping reuses them), their total from one more,
and a single host read returns the loss and the total norm together (NaN or Inf anywhere in
any gradient makes the total non-finite). The Trainer reads the loss for logging anyway, so
the guard adds no extra device sync.

On a bad update the update is skipped (only that optimizer's, in a multi-optimizer task).
After ``patience`` consecutive bad updates the Trainer rolls back: every network and optimizer
goes back to the last good snapshot and every learning rate is multiplied by
``lr_factor``. A snapshot is only "good" in that its steps were finite: the weights may
already have been on their way up. So the guard keeps the last ``keep`` snapshots, and when
training blows up again before a new snapshot was taken, the next rollback goes one snapshot
further back. If that happens more than ``max_rollbacks`` times, :class:`NonFiniteError` is
raised naming the first parameter (in model order) whose gradient was non-finite.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deepdojo.train.clipping import grad_norms

if TYPE_CHECKING:  # pragma: no cover
    from deepdojo.train.trainer import Trainer


_GROUP_RATES = ("lr", "initial_lr", "max_lr", "min_lr")


class NonFiniteError(FloatingPointError):
    """Training kept producing NaN/Inf after the guard's rollbacks."""


class NonFiniteGuard:
    """Skip non-finite steps; roll back and lower the learning rate; finally raise.

    Parameters
    ----------
    patience : int
        Consecutive bad steps that trigger a rollback.
    lr_factor : float
        Multiplier (in (0, 1)) applied to every group's learning rate at a rollback.
    max_rollbacks : int
        Rollbacks allowed before :class:`NonFiniteError` is raised.
    snapshot_every : int
        Good steps between in-memory snapshots of the model and optimizer state.
    keep : int
        Snapshots kept in memory (each is a copy of the model and optimizer state).
    """

    def __init__(
        self,
        patience: int = 3,
        lr_factor: float = 0.5,
        max_rollbacks: int = 2,
        snapshot_every: int = 50,
        keep: int = 2,
    ) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {patience!r}")
        if not 0 < lr_factor < 1:
            raise ValueError(f"lr_factor must be in (0, 1), got {lr_factor!r}")
        if not isinstance(max_rollbacks, int) or max_rollbacks < 0:
            raise ValueError(f"max_rollbacks must be an int >= 0, got {max_rollbacks!r}")
        if not isinstance(snapshot_every, int) or snapshot_every < 1:
            raise ValueError(f"snapshot_every must be an int >= 1, got {snapshot_every!r}")
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an int >= 1, got {keep!r}")
        self.keep = keep
        self.patience = patience
        self.lr_factor = lr_factor
        self.max_rollbacks = max_rollbacks
        self.snapshot_every = snapshot_every
        self._new_flag()

    def _new_flag(self) -> None:
        """The fused check's flag (0 until a NaN/Inf is seen; a float32 CPU tensor whatever
        the default device and dtype) and a NumPy view of it: reading the view costs ~0.1 us,
        the tensor's ``.item()`` ~2 us inside training."""
        self._found = torch.zeros((), dtype=torch.float32, device="cpu")
        self._found_view = self._found.numpy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._new_flag()  # a copy of the guard has its own flag (not shared, nor another's view)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_found", None)
        state.pop("_found_view", None)
        return state

    # ------------------------------------------------------------------ lifecycle
    def start(self, trainer: Trainer) -> None:
        """Reset counters and take the first snapshot (called when ``fit`` starts)."""
        self.bad_streak_ = 0
        self.good_since_snapshot_ = 0
        self.rollbacks_ = 0
        self.skipped_total_ = 0
        self.epoch_counts_: dict[str, int] = {}
        self.first_bad_: str | None = None
        self.snapshots_: list[dict[str, Any]] = []
        self.snapshot(trainer)

    def restart(self, trainer: Trainer) -> None:
        """Forget every snapshot and take one of the current state (after a resume)."""
        self.snapshots_ = []
        self.snapshot(trainer)

    def snapshot(self, trainer: Trainer) -> None:
        """Keep a copy of every network and optimizer state to roll back to (the last
        ``keep``). The tensors of the snapshot that drops out are reused as buffers, so a
        snapshot costs one copy of the state, not an allocation and a ``deepcopy``."""
        state = {
            "task": _task(trainer).state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in _optimizers(trainer).items()},
        }  # fmt: skip
        spare = self.snapshots_[0] if len(self.snapshots_) >= self.keep else None
        pairs: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        with torch.no_grad():
            copied = _copy_tree(state, spare, pairs)
            if pairs[0]:  # every reused buffer refilled by one fused copy
                torch._foreach_copy_(*pairs)
        copied["step"] = trainer.global_step
        self.snapshots_.append(copied)
        del self.snapshots_[: -self.keep]
        self.good_since_snapshot_ = 0
        self.used_latest_ = False  # no rollback has landed on this snapshot yet

    # ------------------------------------------------------------------ the check
    @staticmethod
    def measure(
        loss: torch.Tensor,
        grads: list[torch.Tensor],
        need_norms: bool = True,
        host: bool | None = None,
    ) -> tuple[float, float, list[torch.Tensor]]:
        """``(loss, total grad norm, per-tensor norms)`` with one host read.

        ``host=True`` says the caller checked that every gradient's parameter is a float32/64
        CPU tensor (the Trainer does so once per fit), so the host path skips the per-gradient
        checks; ``False`` skips the host path, ``None`` checks each gradient.

        With ``need_norms=False`` and every gradient a dense float32/float64 CPU tensor, the
        total comes from BLAS dot products on zero-copy NumPy views (about 3x cheaper than the
        tensor path at the digits MLP's size) and the per-tensor norms are not returned
        (``[]``). A NaN/Inf anywhere makes the total non-finite either way; a float32 sum of
        squares that merely overflows is re-measured on the tensor path.
        """
        if not need_norms and grads:
            total_sq = (_host_sum_of_squares_checked(grads) if host is None
                        else _host_sum_of_squares(grads) if host else None)  # fmt: skip
            if total_sq is not None and total_sq < math.inf:
                return loss.item(), math.sqrt(total_sq), []
        norms = grad_norms(grads) if grads else []
        total = torch.linalg.vector_norm(torch.stack(norms)) if norms else loss.new_zeros(())
        loss_value, total_value = torch.stack([loss.detach().float(), total.float()]).tolist()
        return loss_value, total_value, norms

    def check(
        self,
        loss: torch.Tensor,
        grads: list[torch.Tensor],
        need_norms: bool = True,
        host: bool | None = None,
    ) -> tuple[float, bool, list[torch.Tensor]]:
        """``(loss, whether the loss and every gradient element are finite, per-tensor norms)``.

        With ``need_norms=False`` and dense CPU float32/float64 gradients (``host`` as in
        :meth:`measure`), the gradients are tested element by element in one fused pass:
        torch's AMP non-finite check at a unit scale, which leaves every value bit for bit as
        it is and, unlike a sum of squares, cannot overflow, so a gradient is rejected only
        for a NaN/Inf element. The loss and the verdict are read on the host; the norms are
        not returned (``[]``). Otherwise (norms needed, other devices or dtypes, gradients
        that require grad or are sparse) the verdict comes from :meth:`measure`'s norms.
        """
        if not need_norms and grads and host is not False:
            view = self.__dict__.get("_found_view")
            if view is None:  # a subclass that did not run this __init__
                self._new_flag()
                view = self._found_view
            found = _host_nonfinite(grads, bool(host), self._found, view)
            if found is not None:
                loss_value = loss.item()
                return loss_value, not found and math.isfinite(loss_value), []
        loss_value, total, norms = NonFiniteGuard.measure(loss, grads, need_norms, host)
        return loss_value, NonFiniteGuard.is_finite(loss_value, total), norms

    @staticmethod
    def is_finite(loss_value: float, total_norm: float) -> bool:
        return math.isfinite(loss_value) and math.isfinite(total_norm)

    def good_step(self, trainer: Trainer) -> None:
        """A training step whose every update was applied: the streak ends."""
        self.bad_streak_ = 0
        self.good_since_snapshot_ += 1
        if self.good_since_snapshot_ >= self.snapshot_every:
            self.snapshot(trainer)

    def bad_step(
        self, trainer: Trainer, names: list[str], norms: list[torch.Tensor], loss_value: float
    ) -> None:
        """Count a skipped step; roll back or raise when the streak is long enough."""
        if self.record_bad(trainer, names, norms, loss_value):
            self.rollback(trainer)

    def record_bad(
        self, trainer: Trainer, names: list[str], norms: list[torch.Tensor], loss_value: float,
        optimizer: str = "model",
    ) -> bool:
        """Count a skipped update of ``optimizer``; return whether the streak now calls for a
        rollback (the Trainer runs it as a step of its own, :meth:`rollback`).

        Raises :class:`NonFiniteError` when the streak is long enough and no rollback is left.
        """
        where = self._first_nonfinite(names, norms, loss_value)
        if self.bad_streak_ == 0:
            self.first_bad_ = where
        self.bad_streak_ += 1
        self.skipped_total_ += 1
        self._count("nonfinite_steps")
        event = {"kind": "nonfinite", "epoch": trainer.epoch, "step": trainer.global_step,
                 "where": where, "loss": loss_value}  # fmt: skip
        if len(_optimizers(trainer)) > 1:
            event["optimizer"] = optimizer
        trainer.history.events.append(event)
        if self.bad_streak_ < self.patience:
            return False
        if self.rollbacks_ >= self.max_rollbacks:
            lr = next(iter(_optimizers(trainer).values())).param_groups[0]["lr"]
            raise NonFiniteError(
                f"training diverged: {self.bad_streak_} consecutive non-finite steps after "
                f"{self.rollbacks_} rollback(s) (lr now {lr:.3g}); the first non-finite "
                f"gradient of this streak was in {self.first_bad_} at step {trainer.global_step}"
            )
        return True

    def rollback(self, trainer: Trainer) -> dict[str, Any]:
        """Restore every network and optimizer from a snapshot, multiply every rate by
        ``lr_factor``; return the ``rollback`` event (also added to the history)."""
        optimizers = _optimizers(trainer)
        # the current rates (a snapshot may predate an earlier rollback): lr, and the
        # per-group rates OneCycleLR recomputes lr from at every step
        rates = {name: [{k: g[k] for k in _GROUP_RATES if k in g} for g in opt.param_groups]
                 for name, opt in optimizers.items()}  # fmt: skip
        if self.used_latest_ and len(self.snapshots_) > 1:
            self.snapshots_.pop()  # it blew up again from there: go one snapshot further back
        target = self.snapshots_[-1]
        self.used_latest_ = True
        _task(trainer).load_state_dict(target["task"])
        for name, opt in optimizers.items():
            opt.load_state_dict(copy.deepcopy(target["optimizers"][name]))
            for group, old in zip(opt.param_groups, rates[name], strict=True):
                group.update({k: v * self.lr_factor for k, v in old.items()})
        schedulers = getattr(trainer, "schedulers", None) or {"model": trainer.scheduler}
        for scheduler in schedulers.values():
            for attr in ("base_lrs", "max_lrs"):  # schedules that recompute lr (CyclicLR)
                values = getattr(scheduler, attr, None)
                if values is not None:
                    setattr(scheduler, attr, [lr * self.lr_factor for lr in values])
        self.rollbacks_ += 1
        self.bad_streak_ = 0
        self.good_since_snapshot_ = 0  # the good steps since the snapshot were just undone
        self._count("rollbacks")
        first = next(iter(optimizers.values()))
        event = {"kind": "rollback", "epoch": trainer.epoch, "step": trainer.global_step,
                 "to_step": target["step"], "lr": first.param_groups[0]["lr"]}  # fmt: skip
        trainer.history.events.append(event)
        return event

    @staticmethod
    def _first_nonfinite(names: list[str], norms: list[torch.Tensor], loss_value: float) -> str:
        if norms:
            finite = torch.isfinite(torch.stack(norms))
            if not bool(finite.all()):
                return f"parameter {names[int((~finite).nonzero()[0])]!r}"
        return "the loss (all gradients finite)" if not math.isfinite(loss_value) else "?"

    def _count(self, key: str) -> None:
        self.epoch_counts_[key] = self.epoch_counts_.get(key, 0) + 1

    def pop_epoch_counts(self) -> dict[str, int]:
        """Counts of this epoch's events (only keys that happened), then reset."""
        counts, self.epoch_counts_ = self.epoch_counts_, {}
        return counts

    def state_dict(self) -> dict[str, Any]:
        """Counters for a checkpoint (the snapshot itself is not saved)."""
        return {
            "bad_streak": self.bad_streak_,
            "rollbacks": self.rollbacks_,
            "skipped_total": self.skipped_total_,
            "good_since": self.good_since_snapshot_,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bad_streak_ = state["bad_streak"]
        self.rollbacks_ = state["rollbacks"]
        self.skipped_total_ = state["skipped_total"]
        self.good_since_snapshot_ = state["good_since"]


_HOST_DTYPES = (torch.float32, torch.float64)


def _copy_tree(obj: Any, spare: Any = None,
               pairs: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None) -> Any:
    """A deep copy of nested dicts/lists/tuples of tensors and plain values; a tensor is
    copied into the tensor at the same place in ``spare`` when that one has its shape, dtype
    and device (no allocation), else cloned. With ``pairs`` given, such reused buffers are
    not filled here: ``(buffer, source)`` is appended to ``pairs`` for the caller to copy
    (one ``torch._foreach_copy_`` instead of a dispatch per tensor)."""
    if isinstance(obj, torch.Tensor):
        if (isinstance(spare, torch.Tensor) and spare.shape == obj.shape
                and spare.dtype == obj.dtype and spare.device == obj.device):  # fmt: skip
            if pairs is None:
                return spare.copy_(obj)
            pairs[0].append(spare)
            pairs[1].append(obj)
            return spare
        return obj.detach().clone()
    if isinstance(obj, dict):
        other = spare if isinstance(spare, dict) else {}
        return {k: _copy_tree(v, other.get(k), pairs) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        other = spare if isinstance(spare, (list, tuple)) and len(spare) == len(obj) else None
        items = [_copy_tree(v, None if other is None else other[i], pairs)
                 for i, v in enumerate(obj)]  # fmt: skip
        return items if isinstance(obj, list) else tuple(items)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj  # immutable
    return copy.deepcopy(obj)


# the AMP check's inverse scale: 1, so no value changes
_UNIT_SCALE = torch.ones((), dtype=torch.float32, device="cpu")


def _host_nonfinite(grads: list[torch.Tensor], checked: bool, found: torch.Tensor,
                    view: np.ndarray) -> bool | None:
    """Whether any element of the dense CPU float32/64 ``grads`` is NaN/Inf, from one call of
    torch's fused AMP check (``*1``: values unchanged) that sets the 0-d ``found`` (kept at 0
    between calls: reset only after it was set; read through its NumPy ``view``); ``None``
    when the gradients do not suit it
    (another device or dtype unless ``checked``, sparse, or requiring grad: the in-place pass
    would bump the version of a tensor in a double-backward graph)."""
    for g in grads:
        if g.requires_grad or (not checked and (g.device.type != "cpu"
                                                or g.dtype not in _HOST_DTYPES)):  # fmt: skip
            return None
    try:  # no autograd: no gradient here requires grad
        torch._amp_foreach_non_finite_check_and_unscale_(grads, found, _UNIT_SCALE)
    except RuntimeError:  # sparse (NotImplementedError) or self-overlapping gradients
        found.zero_()
        return None
    if view.item() == 0.0:
        return False
    found.zero_()
    return True


def _host_sum_of_squares_checked(grads: list[torch.Tensor]) -> float | None:
    """``sum ||g||^2`` over dense CPU float32/64 gradients via NumPy views; ``None`` when a
    gradient is anything else (CUDA, half precision, sparse, one that requires grad)."""
    for g in grads:
        if g.device.type != "cpu" or g.dtype not in _HOST_DTYPES:
            return None
    return _host_sum_of_squares(grads)


def _host_sum_of_squares(grads: list[torch.Tensor]) -> float | None:
    """:func:`_host_sum_of_squares_checked` for gradients known to be CPU tensors: BLAS dot
    products on zero-copy NumPy views, no per-gradient checks beyond the view itself (a
    sparse gradient or one that requires grad has none: ``None``). Float32 dots add up in
    float64."""
    total = 0.0
    vdot = np.vdot
    try:
        for g in grads:
            v = g.numpy()  # raises for sparse, requires-grad, conjugate or CUDA tensors
            if v.itemsize < 4:  # half precision (a model cast after the check): tensor path
                return None
            total += vdot(v, v)  # vdot flattens (a copy only for a non-contiguous grad)
    except (RuntimeError, TypeError):
        return None
    return float(total)


def _task(trainer: Any) -> torch.nn.Module:
    """Every network of the run: the Trainer's task (or a bare ``trainer.model``)."""
    task = getattr(trainer, "task", None)
    return trainer.model if task is None else task


def _optimizers(trainer: Any) -> dict[str, torch.optim.Optimizer]:
    """``name -> optimizer`` of the Trainer (or ``{"model": trainer.optimizer}``)."""
    optimizers = getattr(trainer, "optimizers", None)
    return optimizers if optimizers is not None else {"model": trainer.optimizer}


def resolve_guard(guard: Any) -> NonFiniteGuard | None:
    """``True`` → default guard, ``False``/``None`` → none, a guard → itself."""
    if guard is True:
        return NonFiniteGuard()
    if guard is False or guard is None:
        return None
    if isinstance(guard, NonFiniteGuard):
        return guard
    raise TypeError(f"guard must be a bool or a NonFiniteGuard, got {type(guard).__name__}")
