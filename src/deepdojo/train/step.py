"""The step sequence: what the Trainer does with each ``(optimizer_name, loss)`` a task yields.

One training step runs the task's ``training_step(batch)`` generator; each pair it yields is
one update, and :meth:`StepMixin._update` reads top to bottom::

    3. backward            (fp16: on the scaled loss, then unscale this optimizer's grads)
    4. on_after_backward   (gradients complete and untouched: inspect them)
    5. check               (one fused finiteness test of the loss and the gradients)
       5a. skip            a non-finite update: no step for this optimizer only
       5b. rollback        after ``patience`` bad updates: every network and optimizer goes
                           back to the guard's snapshot (a ``rollback`` event and hook)
    6. clip                (this optimizer's clipping, reusing the check's norms)
    7. on_before_optimizer_step
    8. step                (+ GradScaler update, + a per-batch schedule)
    9. zero_grad           (every parameter of the task: the next loss sees its own grads)

Steps 1 (forward) and 2 (loss) run inside the task, under autocast, before it yields; step 10
(log) collects the losses and what the task logged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import torch

from deepdojo.train.metrics import _multiclass_accuracy
from deepdojo.train.schedules import step_scheduler
from deepdojo.train.task import EndOfEpoch

if TYPE_CHECKING:  # pragma: no cover
    from deepdojo.train.guard import NonFiniteGuard
    from deepdojo.train.loop import LoopState
    from deepdojo.train.task import Task


class TrainerContext:
    """What a task reaches through ``self.log`` and ``self.next_batch`` during one fit.

    ``defer_accuracy`` (used by the supervised task's default accuracy) copies a step's
    detached ``(N, C)`` outputs and ``(N,)`` labels into a slot of a buffer made once per fit
    (two ``copy_`` calls, no host sync) while ``deferring`` is on (set by ``fit`` when no
    callback reads per-batch logs and no checkpoint is saved mid-epoch). :meth:`flush`, run
    when the slots are used up and at the end of each epoch, scores them all with one
    ``argmax`` and one host read and adds each step's ``hits_b / N_b`` (weight ``n_b``, the
    step's batch size) to the epoch sums in step order: the same numbers, in the same order,
    as logging each step's accuracy eagerly. A step that fits no slot (a larger batch, or
    another dtype or class count than the buffer was made for, or none left) keeps its own
    tensors, and the epoch loop flushes right after it; the next buffer is made for the
    larger batch.

    Measured inside training (issue 13; digits MLP, CPU): the two copies cost about 7-13 us
    a step. Scoring each step at once on NumPy views cost 16-20 us at batch 32 and 33-59 us
    at batch 256 (the calls run cold after backward and the optimizer: 3-5x their cost in a
    tight loop). Keeping each step's own tensors until the flush cost ~1 us, but those small
    blocks outliving their step among its large temporaries made glibc give heap memory back
    and fault it in again in about half of fresh processes (190-990 page faults per epoch,
    ~4 us each on these VMs); the buffer and its views are made once, so nothing allocated
    during a step outlives it.
    """

    __slots__ = ("logged", "batches", "on_pull", "deferring", "pending", "n", "buffer",
                 "slots", "full", "wanted_rows")  # fmt: skip

    def __init__(self, on_pull: Callable[[], None]) -> None:
        self.logged: dict[str, float] = {}
        self.batches: Iterator[Any] = iter(())
        self.on_pull = on_pull
        self.deferring = False
        # the pending steps in order: (name, slot, rows, n) for a step in the buffer,
        # (name, outputs, targets, n) for one kept as it is
        self.pending: list[tuple[str, Any, Any, int]] = []
        self.n = 1  # the batch size of the current step (its weight in the epoch means)
        self.buffer: _AccuracyBuffer | None = None
        self.slots = 0  # buffer slots in use
        self.full = False  # no room for another step: the epoch loop flushes after this one
        self.wanted_rows = 0  # the largest batch that found the buffer too small

    def log(self, name: str, value: float) -> None:
        self.logged[name] = value

    def reset(self, release: bool = False) -> None:
        """Forget the pending steps (``release``: the buffer too)."""
        self.pending, self.slots, self.full = [], 0, False
        if release:
            self.buffer, self.wanted_rows = None, 0

    def defer_accuracy(self, name: str, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Log the accuracy of ``(N, C)`` logits ``outputs`` against ``(N,)`` labels."""
        if not self.deferring:
            self.logged[name] = _multiclass_accuracy(outputs, targets)
            return
        if outputs.requires_grad:  # the buffer must not join the step's graph
            outputs = outputs.detach()
        rows = targets.shape[0]
        key = (outputs.shape[1], outputs.dtype, targets.dtype)
        buffer, slot = self.buffer, self.slots
        if slot == 0 and (buffer is None or rows > buffer.rows or buffer.key != key
                          or buffer.rows < self.wanted_rows):  # fmt: skip
            buffer = self.buffer = _AccuracyBuffer(outputs, targets, key,
                                                   max(rows, self.wanted_rows))  # fmt: skip
        assert buffer is not None  # a slot in use implies a buffer
        if rows <= buffer.rows and buffer.key == key and slot < len(buffer.views):
            # (a task that logs twice a step can use up the slots before the epoch loop looks)
            out, tgt = buffer.views[slot]
            if rows < buffer.rows:  # a short batch (an epoch's last): the slot's first rows
                out, tgt = out[:rows], tgt[:rows]
            out.copy_(outputs)
            tgt.copy_(targets)
            self.pending.append((name, slot, rows, self.n))
            self.slots = slot + 1
            self.full = self.slots == len(buffer.views)
            return
        if rows > buffer.rows:  # the next buffer holds this batch size
            self.wanted_rows = rows
        self.pending.append((name, outputs, targets, self.n))  # kept until the flush,
        self.full = True  # ... which comes right after this step

    def flush(self, loop: LoopState) -> None:
        """Add the pending accuracies to ``loop``'s epoch sums, in step order."""
        pending, buffer, used = self.pending, self.buffer, self.slots
        if not pending:
            return
        self.reset()
        if used:
            assert buffer is not None
            size = used * buffer.rows
            correct = (buffer.outputs[:size].argmax(dim=1) == buffer.targets[:size])
            correct = correct.view(used, buffer.rows)  # (slots, N): each slot a step
            slot_hits = correct.sum(dim=1).tolist()  # the one host read
        sums, counts = loop.sums, loop.counts
        for name, where, what, n in pending:
            if isinstance(where, int):  # in slot `where`, `what` rows
                hits = slot_hits[where] if what == buffer.rows else int(
                    correct[where, :what].sum())  # fmt: skip
                value = hits / what  # as _multiclass_accuracy: hits over N
            else:  # kept outputs `where`, labels `what`
                value = int((where.argmax(dim=1) == what).sum()) / what.numel()
            sums[name] = sums.get(name, 0.0) + value * n
            counts[name] = counts.get(name, 0) + n

    def next_batch(self) -> Any:
        batch = next(self.batches, _END)
        if batch is _END:
            raise EndOfEpoch
        self.on_pull()
        return batch


class _AccuracyBuffer:
    """Room for the default accuracy's pending steps: ``(slots * N, C)`` outputs and
    ``(slots * N,)`` labels, with one ``(N, C)``/``(N,)`` view pair per slot."""

    __slots__ = ("outputs", "targets", "rows", "views", "key")

    def __init__(self, outputs: torch.Tensor, targets: torch.Tensor, key: tuple[Any, ...],
                 rows: int) -> None:  # fmt: skip
        classes = outputs.shape[1]
        slots = max(1, min(_BUFFER_STEPS, _BUFFER_NUMBERS // max(rows * classes, 1)))
        self.outputs = outputs.new_empty((slots * rows, classes))
        self.targets = targets.new_empty((slots * rows,))
        self.rows, self.key = rows, key
        self.views = [(self.outputs[i * rows : (i + 1) * rows],
                       self.targets[i * rows : (i + 1) * rows]) for i in range(slots)]  # fmt: skip


_NO_SKIP: frozenset[str] = frozenset()
_SKIP_LOSS: frozenset[str] = frozenset({"loss"})
_BUFFER_STEPS = 64  # slots of the default accuracy's buffer: a flush at least that often
_BUFFER_NUMBERS = 1 << 20  # ... and fewer slots when they would hold more numbers than that
_END = object()
_TORCH_ZERO_GRAD = torch.optim.Optimizer.zero_grad


class StepMixin:
    """The step sequence; the Trainer provides the attributes declared here."""

    task: Task
    loop: LoopState
    optimizers: dict[str, torch.optim.Optimizer]
    _guard: NonFiniteGuard | None
    _scaler: torch.amp.GradScaler | None
    _hooks: dict[str, list[Callable[..., None]]]
    _context: TrainerContext
    _clips: dict[str, Any]
    _batch_schedulers: dict[str, Any]
    _opt_params: dict[str, list[torch.Tensor]]
    _opt_names: dict[str, list[str]]
    _host_grads: dict[str, bool]  # per optimizer: every parameter a float32/64 CPU tensor
    _others: dict[str, list[torch.Tensor]]
    _grad_sync: Callable[[list[torch.Tensor]], None] | None
    current_optimizer: str | None
    precision: str
    last_loss: float
    _autocast: Callable[[], AbstractContextManager[Any]]  # from InferenceMixin

    def _resume(self, gen: Any, applied: bool | None) -> tuple[str, torch.Tensor] | None:
        """Run the task's code up to its next yield (under autocast); ``None`` at its end."""
        try:
            if self.precision == "32":
                item = gen.send(applied)
            else:
                with self._autocast():
                    item = gen.send(applied)
        except StopIteration:
            return None
        if not isinstance(item, tuple) or len(item) != 2 or item[0] not in self.optimizers:
            raise ValueError(
                f"training_step must yield (optimizer_name, loss) with a name from "
                f"configure_optimizers() {sorted(self.optimizers)}, got {item!r:.80}"
            )
        return item

    def _train_batch(self, batch: Any) -> tuple[dict[str, float], frozenset[str] | set[str]]:
        """One training step on ``batch``: every update the task yields. Returns its logs and
        the keys to leave out of the epoch means (the losses of skipped updates)."""
        context = self._context
        context.logged = logged = {}
        gen = self.task.training_step(batch)
        results: list[tuple[str, float, bool]] = []
        try:
            item = self._resume(gen, None)
            while item is not None:
                value, applied = self._update(*item)
                results.append((item[0], value, applied))
                item = self._resume(gen, applied)
        except EndOfEpoch:  # next_batch() found the epoch used up: the step ends here
            gen.close()
        self.current_optimizer = None
        logs, skip = self._step_logs(results)
        if logged:
            logs.update(logged)
        if len(results) == 1:  # the common case: one update
            if results[0][2]:
                if self._guard is not None:
                    self._guard.good_step(self)  # type: ignore[arg-type]
                self.loop.global_step += 1
            return logs, skip
        if results and self._guard is not None and not skip:
            self._guard.good_step(self)  # type: ignore[arg-type]
        if any(applied for _, _, applied in results):
            self.loop.global_step += 1
        return logs, skip

    def _step_logs(
        self, results: list[tuple[str, float, bool]]
    ) -> tuple[dict[str, float], frozenset[str] | set[str]]:
        """``loss`` (and ``loss_<name>`` with several optimizers), and the keys of skipped
        updates (left out of the epoch means)."""
        if len(results) == 1:  # the common case: one update
            _, value, applied = results[0]
            self.last_loss = value
            if applied:
                return {"loss": value}, _NO_SKIP
            return {"loss": value, "skipped": 1.0}, _SKIP_LOSS
        multi = len(self.optimizers) > 1
        if multi and results:  # common: each optimizer updated once, all applied (a GAN step)
            fast: dict[str, float] = {}
            for name, value, ok in results:
                key = f"loss_{name}"
                if not ok or key in fast:
                    break
                fast[key] = value
            else:
                fast["loss"] = self.last_loss = results[-1][1]
                return fast, _NO_SKIP
        logs: dict[str, float] = {}
        skip: set[str] = set()
        for name in dict.fromkeys(n for n, _, _ in results):
            values = [v for n, v, ok in results if n == name and ok]
            key = f"loss_{name}" if multi else "loss"
            if values:
                logs[key] = math.fsum(values) / len(values)
            else:
                logs[key] = next(v for n, v, _ in reversed(results) if n == name)
                skip.add(key)
        if multi:  # the step's last update (e.g. the generator's) stands for the step
            _, last, last_ok = results[-1]
            logs["loss"] = last
            if not last_ok:
                skip.add("loss")
        if "loss" in logs:
            self.last_loss = logs["loss"]
        skipped = sum(not ok for _, _, ok in results)
        if skipped:
            logs["skipped"] = float(skipped)
        return logs, skip

    def _update(self, name: str, loss: torch.Tensor) -> tuple[float, bool]:
        """The step sequence for one update; ``(loss value, applied)``."""
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"the loss yielded for {name!r} must be a scalar tensor, got {got}")
        optimizer, scaler = self.optimizers[name], self._scaler
        self.current_optimizer = name
        # 3. backward: populate .grad (fp16: on the scaled loss, then unscale so that hooks,
        #    the check and clipping all see the true gradients)
        if scaler is not None:
            scaler.scale(loss).backward()
            if self._grad_sync is not None:
                self._grad_sync(self._opt_params[name])
            scaler.unscale_(optimizer)
        else:
            loss.backward()
            if self._grad_sync is not None:  # DDP for a task: average over the ranks
                self._grad_sync(self._opt_params[name])
        # 4. inspect: gradients are complete and untouched
        for fn in self._hooks["on_after_backward"]:
            fn(self)
        # 5. check: one fused finiteness test of the loss and gradients (norms if clipping)
        loss_value, norms, rollback, overflow = self._check(name, loss)
        if norms is None:
            # 5a. skip: no update for this optimizer (fp16: the scaler forgets this unscale_
            #     and keeps its scale, as if the step had not happened)
            if scaler is not None:
                scaler.update(scaler.get_scale())
            self._zero_grad(name)
            # 5b. rollback: every network and optimizer back to the guard's snapshot
            if rollback:
                self._rollback()
            return loss_value, False
        # 6. clip / normalize this optimizer's gradients (reusing the norms from the check)
        clip = self._clips.get(name)
        if clip is not None:
            clip(self._opt_params[name], norms=norms or None)
        # 7. last look before the update
        for fn in self._hooks["on_before_optimizer_step"]:
            fn(self, optimizer)
        # 8. step: update the weights (one GradScaler, updated after each optimizer step)
        if scaler is not None:
            # the guard's check found every gradient finite: the scaler steps (no host read);
            # else (no guard, or an overflow) its verdict is whether it backed off its scale
            scale = scaler.get_scale() if overflow else 0.0
            scaler.step(optimizer)
            scaler.update()
            if overflow and scaler.get_scale() < scale:  # fp16 overflow: the scaler skipped
                self._zero_grad(name)  # this step and backed off; no update, no schedule step
                return loss_value, False
        else:
            optimizer.step()
        self.loop.step_lrs[name] = [g["lr"] for g in optimizer.param_groups]  # this step's
        scheduler = self._batch_schedulers.get(name)
        if scheduler is not None:
            step_scheduler(scheduler)
        # 9. zero_grad: free the gradients before the next forward
        self._zero_grad(name)
        steps = self.loop.optimizer_steps
        steps[name] = steps.get(name, 0) + 1
        return loss_value, True

    def _zero_grad(self, name: str) -> None:
        """Every gradient of the task to ``None``: this optimizer's parameters, then the
        task's others (another network's). For an optimizer that keeps torch's own
        ``zero_grad``, its ``set_to_none=True`` loop is run here without the method's
        profiler and dynamo wrappers (about 10 us of a CPU step); an optimizer that overrides
        ``zero_grad`` has it called."""
        optimizer = self.optimizers[name]
        if type(optimizer).zero_grad is _TORCH_ZERO_GRAD:
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad = None
        else:
            optimizer.zero_grad(set_to_none=True)
        for p in self._others[name]:
            if p.grad is not None:
                p.grad = None

    def _check(
        self, name: str, loss: torch.Tensor
    ) -> tuple[float, list[torch.Tensor] | None, bool, bool]:
        """``(loss value, per-tensor grad norms, rollback due, overflow possible)``; norms
        ``None`` when the guard rejects the update and ``[]`` when nothing needed them.

        The last flag (fp16 only) is False when the check proved every gradient finite, so
        the GradScaler cannot skip this step and the step needs no read of its scale; True
        without a guard or when the gradients overflowed (the scaler skips the step).
        """
        guard = self._guard
        scaled = self._scaler is not None
        if guard is None:
            return loss.item(), [], False, scaled
        params = self._opt_params[name]
        grads = [g for g in [p.grad for p in params] if g is not None]
        # per-tensor norms only when clipping will reuse them (else one fused element check)
        loss_value, finite, norms = guard.check(loss, grads, name in self._clips,
                                                self._host_grads.get(name))  # fmt: skip
        if finite:
            return loss_value, norms, False, False
        if not norms and grads:  # a bad step: the per-tensor norms say where
            loss_value, total, norms = guard.measure(loss, grads)
            if guard.is_finite(loss_value, total):  # the host sum of squares overflowed only
                return loss_value, norms, False, False
        if scaled and math.isfinite(loss_value):
            return loss_value, norms, False, True  # fp16 overflow in grads: the scaler skips it
        names = [n for n, p in zip(self._opt_names[name], params, strict=True)
                 if p.grad is not None]  # fmt: skip
        rollback = guard.record_bad(self, names, norms, loss_value, name)  # type: ignore[arg-type]
        return loss_value, None, rollback, False

    def _rollback(self) -> None:
        """Step 5b, by name: the guard restores its snapshot; ``on_rollback`` hooks see it."""
        assert self._guard is not None
        event = self._guard.rollback(self)  # type: ignore[arg-type]
        for fn in self._hooks["on_rollback"]:
            fn(self, event)
