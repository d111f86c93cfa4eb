"""One epoch of the Trainer: the data order, the steps, the epoch record and its end.

The data position lives in :class:`~deepdojo.train.loop.LoopState`: ``loop.batch`` counts the
batches drawn from the epoch's iterator (those a task pulls with ``next_batch()`` included), so
a resumed run skips exactly that many and continues with the next one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, RandomSampler

from deepdojo.train.data import InMemoryData, batch_len, num_batches, skip_batches, to_device
from deepdojo.train.guard import _HOST_DTYPES
from deepdojo.train.history import History
from deepdojo.train.loop import LoopState, rng_state, set_rng_state
from deepdojo.train.progress import EpochBar
from deepdojo.train.schedules import build_scheduler, step_scheduler
from deepdojo.train.step import TrainerContext
from deepdojo.utils import seed_everything

if TYPE_CHECKING:  # pragma: no cover
    from deepdojo.train.distributed import DistributedRun
    from deepdojo.train.guard import NonFiniteGuard
    from deepdojo.train.task import Task


class EpochMixin:
    """Epochs and fits; the Trainer provides the attributes declared here."""

    task: Task
    loop: LoopState
    device: torch.device
    seed: int
    history: History
    should_stop: bool
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    _guard: NonFiniteGuard | None
    _dist: DistributedRun | None
    _hooks: dict[str, list[Callable[..., None]]]
    _checkpoints: Any
    _opt_params: dict[str, list[torch.Tensor]]
    _host_grads: dict[str, bool]
    _context: TrainerContext
    _train_batch: Callable[[Any], tuple[dict[str, float], set[str]]]  # from StepMixin

    def _call(self, hook: str, *args: Any) -> None:
        for fn in self._hooks[hook]:
            fn(self, *args)

    def _start_fit(self, train: Any, steps_per_epoch: int | None, epochs: int,
                   batch_size: int, shuffle: bool) -> None:  # fmt: skip
        """Seed, start a fresh loop state and build the schedulers for this fit."""
        seed_everything(self.seed)
        self.history = History()
        self.should_stop = False
        self.loop = LoopState(data=_data_signature(train, self.seed, batch_size, shuffle,
                                                   steps_per_epoch))  # fmt: skip
        self.loop.step_lrs = {name: [g["lr"] for g in opt.param_groups]
                              for name, opt in self.optimizers.items()}  # fmt: skip
        if self._guard is not None:
            self._guard.start(self)  # type: ignore[arg-type]
        # the guard's host path needs no per-gradient checks when every parameter is on the
        # CPU in float32/64 (a dense gradient has its parameter's device and dtype)
        self._host_grads = {name: all(p.device.type == "cpu" and p.dtype in _HOST_DTYPES
                                      for p in params)
                            for name, params in self._opt_params.items()}  # fmt: skip
        specs = self.task.configure_schedulers()
        unknown = sorted(set(specs) - set(self.optimizers))
        if unknown:
            raise ValueError(f"configure_schedulers() names unknown optimizers {unknown}")
        self.schedulers, self._intervals = {}, {}
        for name, spec in specs.items():
            sched, interval = build_scheduler(spec, self.optimizers[name], steps_per_epoch, epochs)
            if sched is not None:
                self.schedulers[name], self._intervals[name] = sched, interval
        self._batch_schedulers = {name: s for name, s in self.schedulers.items()
                                  if self._intervals[name] == "batch"}  # fmt: skip

    def _num_batches(self, train: InMemoryData | DataLoader, batch_size: int) -> int | None:
        if isinstance(train, InMemoryData) and self._dist is not None:
            return -(-self._dist.shard_size(len(train)) // batch_size)
        return num_batches(train, batch_size)

    def _epoch_batches(
        self, train: InMemoryData | DataLoader, epoch: int, batch_size: int, shuffle: bool,
        start: int,
    ) -> Iterator[Any]:
        """The batches of ``epoch`` from batch index ``start`` on (``start > 0``: resuming)."""
        if isinstance(train, InMemoryData):
            order = train.order(shuffle, self.seed, epoch)
            if self._dist is not None:  # this rank's share of the shared permutation
                order = self._dist.shard(torch.arange(len(train)) if order is None else order)
            return train.batches(batch_size, order, start)
        if hasattr(train.sampler, "set_epoch"):
            train.sampler.set_epoch(epoch)
        device = self.device
        if start == 0:
            if device.type == "cpu":  # a CPU loader's batches are where they need to be
                return skip_batches(train)
            return (to_device(b, device) for b in skip_batches(train))
        assert self.loop.epoch_rng is not None and self.loop.resume_rng is not None
        set_rng_state(self.loop.epoch_rng)  # rebuild the sampler order of the interrupted epoch
        batches = skip_batches(train, start)
        first = next(batches, None)  # the iterator is made (and the done batches skipped) now
        set_rng_state(self.loop.resume_rng)
        rest = itertools.chain([] if first is None else [first], batches)
        return rest if device.type == "cpu" else (to_device(b, device) for b in rest)

    def _train_epoch(
        self, train: Any, epoch: int, batch_size: int, shuffle: bool, bar: EpochBar
    ) -> dict[str, Any]:
        """Run every batch of one epoch; return the epoch's partial record."""
        self.task.train()
        loop = self.loop
        start_batch = loop.batch
        if start_batch == 0:
            loop.start_epoch(epoch, rng_state() if not isinstance(train, InMemoryData) else None)
        self._call("on_epoch_start", epoch)
        start = time.perf_counter()
        batches = self._epoch_batches(train, epoch, batch_size, shuffle, start_batch)
        context = self._context
        context.batches = batches
        context.reset()
        # per-step branches decided once: empty hook lists and a hidden bar cost nothing
        starts, ends = self._hooks["on_batch_start"], self._hooks["on_batch_end"]
        advance = bar.advance if bar.enabled else None
        checkpoints, train_batch, accumulate = self._checkpoints, self._train_batch, loop.accumulate
        deferring = context.deferring
        for batch in batches:
            batch_idx = loop.batch
            loop.batch += 1
            for fn in starts:
                fn(self, batch_idx, batch)
            n = context.n = batch_len(batch)
            logs, skip = train_batch(batch)
            accumulate(logs, n, skip)
            if deferring and context.full:  # the accuracy buffer has no room left
                context.flush(loop)
            for fn in ends:
                fn(self, batch_idx, logs)
            if advance is not None:
                advance(logs.get("loss", float("nan")))
            if checkpoints is not None:
                checkpoints.after_step(self)
        context.flush(loop)  # the deferred accuracies, before the epoch means are taken
        return self._epoch_record(epoch, time.perf_counter() - start)

    def _epoch_record(self, epoch: int, seconds: float) -> dict[str, Any]:
        """``epoch``, the ``train_*`` means (summed over ranks), the rates and the time."""
        record: dict[str, Any] = {"epoch": epoch}
        sums, counts = self.loop.sums, self.loop.counts
        if self._dist is not None:  # global means: sum the accumulators of all ranks
            sums, counts = self._dist.sum_means(sums, counts, self.device)
        means = {f"train_{k}": v / counts[k] for k, v in sums.items()}
        record.update(means if "train_loss" in means else {"train_loss": float("nan"), **means})
        lrs = self.loop.step_lrs
        first = lrs[next(iter(self.optimizers))]
        record["lr"] = first[0]
        if len(first) > 1:  # per-group rates (fine-tuning, decay groups)
            record["lrs"] = list(first)
        if len(self.optimizers) > 1:
            record.update({f"lr_{name}": lrs[name][0] for name in self.optimizers})
        record["time_s"] = seconds
        return record

    def _end_epoch(self, record: dict[str, Any], val: Any, batch_size: int) -> None:
        """Validate, step per-epoch schedules, run the epoch hooks, store the record, move the
        loop to the next epoch and save a checkpoint."""
        if val is not None:
            metrics = {f"val_{k}": v for k, v in self.evaluate(val, batch_size=256).items()}
            self._call("on_validation_end", metrics)
            record.update(metrics)
        watched = record.get("val_loss", record.get("train_loss"))
        for name, scheduler in self.schedulers.items():
            if self._intervals[name] == "epoch":
                step_scheduler(scheduler, watched)
        if self._guard is not None:
            record.update(self._guard.pop_epoch_counts())
        self._call("on_epoch_end", record["epoch"], record)
        self.history.append(record)
        self.loop.end_epoch()
        if self._checkpoints is not None:
            self._checkpoints.after_epoch(self)

    def evaluate(self, data: Any, batch_size: int = 256) -> dict[str, float]:
        """Mean loss and metrics over ``data`` in eval mode (see the supervised
        :meth:`InferenceMixin.evaluate`); a task's ``validation_step`` metrics are averaged
        over batches, weighted by batch size."""
        from deepdojo.train.tasks.supervised import SupervisedTask

        if isinstance(self.task, SupervisedTask):
            return super().evaluate(data, batch_size)  # type: ignore[misc]
        return evaluate_task(self, data, batch_size)


def evaluate_task(trainer: Any, data: Any, batch_size: int) -> dict[str, float]:
    """Batch-size-weighted means of ``task.validation_step`` over ``data`` (no grad, eval)."""
    source = trainer._prepare(data, "data")
    task = trainer.task
    was_training = task.training
    task.eval()
    sums: dict[str, float] = {}
    total = 0
    try:
        with torch.no_grad():
            it = (source.batches(batch_size, None) if isinstance(source, InMemoryData)
                  else (to_device(b, trainer.device) for b in skip_batches(source)))  # fmt: skip
            for batch in it:
                with trainer._autocast():
                    metrics = task.validation_step(batch)
                n = batch_len(batch)
                total += n
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * n
    finally:
        task.train(was_training)
    return {k: v / total for k, v in sums.items()} if total else {}


def _data_signature(train: Any, seed: int, batch_size: int, shuffle: bool,
                    batches: int | None) -> dict[str, Any]:  # fmt: skip
    """What fixes the data order of a fit (compared when resuming)."""
    if isinstance(train, InMemoryData):
        return {"seed": seed, "kind": "memory", "batch_size": batch_size, "shuffle": shuffle,
                "batches": batches}  # fmt: skip
    return {"seed": seed, "kind": "loader", "batch_size": train.batch_size,
            "shuffle": isinstance(train.sampler, RandomSampler), "batches": batches}
