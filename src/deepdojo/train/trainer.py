"""The Trainer: a lean, explicit training loop with hooks named after its steps.

One training step (:meth:`Trainer._train_step`) reads top to bottom::

    forward -> loss (+ penalty) -> backward -> on_after_backward -> non-finite check
      -> clip -> on_before_optimizer_step -> optimizer.step -> (per-batch schedule)
      -> zero_grad -> log

Everything else (schedules, clipping, the non-finite guard, checkpoints, logging) plugs in at
those named steps. In-memory ``(X, y)`` data is shuffled by index with a seeded generator and
sliced per batch; DataLoaders are iterated as given.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from deepdojo.train.callbacks import Callback, bind_hooks
from deepdojo.train.data import InMemoryData, loader_batches, num_batches
from deepdojo.train.distributed import DistributedRun, local_device
from deepdojo.train.guard import resolve_guard
from deepdojo.train.history import History
from deepdojo.train.inference import PRECISIONS, InferenceMixin
from deepdojo.train.logging import MetricsLogger
from deepdojo.train.metrics import MetricFn, batch_logs, default_metrics
from deepdojo.train.optim import make_optimizer
from deepdojo.train.progress import EpochBar, want_progress
from deepdojo.train.schedules import build_scheduler, step_scheduler
from deepdojo.train.state import CheckpointPolicy, resume_fit, rng_state, set_rng_state
from deepdojo.utils import resolve_device, seed_everything


class Trainer(InferenceMixin):
    """Train a model on in-memory tensors or a DataLoader.

    Parameters
    ----------
    model : nn.Module
        Maps a batch of inputs ``(B, ...)`` to outputs ``(B, ...)``; moved to ``device``.
    loss_fn : callable
        ``loss_fn(outputs, targets) -> scalar tensor`` (mean over the batch).
    optimizer : torch.optim.Optimizer or str
        An optimizer over ``model``'s parameters, or a name for :func:`make_optimizer`
        (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``) built with ``lr``.
    lr : float
        Learning rate when ``optimizer`` is a name.
    scheduler : Schedule, torch LRScheduler, ReduceLROnPlateau or None
        See :mod:`deepdojo.train.schedules`; stepped per batch or per epoch as it requires.
    callbacks : sequence of Callback
        Called at the named steps (see :mod:`deepdojo.train.callbacks`).
    regularizer : callable or None
        ``regularizer(model) -> scalar`` added to the loss before backward (e.g.
        :class:`deepdojo.nn.regularization.Regularizer`).
    clip : ClipGrad or None
        Gradient clipping/normalization applied after ``on_after_backward``.
    metrics : dict or None
        ``name -> fn(outputs, targets) -> float``; default ``{"acc": accuracy}`` for
        classification-shaped outputs/targets (decided on the first batch).
    precision : {"32", "bf16", "fp16"}
        Autocast dtype of forward and loss; weights, gradients and optimizer state stay
        float32. ``"fp16"`` adds a GradScaler (dynamic loss scaling; a step whose gradients
        overflow is skipped by the scaler, not counted by the guard). On CPU both work:
        ``"bf16"`` uses CPU autocast (fast only on CPUs with bf16 units), ``"fp16"`` a CPU
        GradScaler (correct but usually slower than float32: meant for testing).
    compile : bool
        Run the forward pass through ``torch.compile(model)`` (the first batches pay the
        compilation; ``trainer.model`` stays the plain module, so checkpoints are unchanged).
    device : str or torch.device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda[:N]"``.
    seed : int
        ``fit`` seeds Python, NumPy and torch with it and draws the data order from it: the same
        seed gives the same history on CPU.
    progress : {"auto", "on", "off"}
        A rich progress bar on stderr; ``"auto"`` shows it only on a terminal.
    guard : NonFiniteGuard, bool or None
        The non-finite guard (on by default): skips steps with NaN/Inf loss or gradients.
    log_dir : path or None
        When given, per-epoch metrics go to ``metrics.jsonl`` and ``metrics.csv`` there.

    Attributes
    ----------
    history : History
        Per-epoch records of the last ``fit``.
    epoch, global_step : int
        Current epoch (0-based) and number of optimizer steps taken.
    should_stop : bool
        Set by a callback to stop after the current epoch.
    last_loss : float
        Loss of the last training batch.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer | str = "adam",
        *,
        lr: float = 1e-3,
        scheduler: Any = None,
        callbacks: Sequence[Callback] = (),
        regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
        clip: Any = None,
        metrics: dict[str, MetricFn] | None = None,
        precision: str = "32",
        compile: bool = False,
        device: str | torch.device = "auto",
        seed: int = 0,
        progress: str = "auto",
        guard: Any = True,
        log_dir: Any = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be '32', 'bf16' or 'fp16', got {precision!r}")
        want_progress(progress)  # validates the value early
        self.device = local_device(resolve_device(device))
        self.model = model.to(self.device)
        if isinstance(optimizer, torch.optim.Optimizer):
            self.optimizer = optimizer
        else:
            self.optimizer = make_optimizer(optimizer, self.model, lr)
        self.loss_fn = loss_fn
        self.scheduler_spec = scheduler
        self.scheduler: Any = None
        self.callbacks = list(callbacks)
        if log_dir is not None:
            self.callbacks.append(MetricsLogger(log_dir))
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        self.regularizer = regularizer
        self.clip = clip
        self.metrics = metrics
        self.precision = precision
        self.compile = compile
        self.seed = seed
        self.progress = progress
        self.guard = guard
        self.log_dir = log_dir
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self.should_stop = False
        self.last_loss = float("nan")
        self._forward: Callable[..., torch.Tensor] = (
            torch.compile(self.model) if compile else self.model
        )
        self._eval_forward = self._forward  # never DDP: evaluation needs no cross-rank sync
        self._dist: DistributedRun | None = None
        self._metric_fns: dict[str, MetricFn] | None = metrics
        self._guard = resolve_guard(guard)
        self._scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        self._hooks = bind_hooks(self.callbacks)

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        """The fp16 loss scaler (``precision="fp16"``), else None."""
        return self._scaler

    def _call(self, hook: str, *args: Any) -> None:
        for fn in self._hooks[hook]:
            fn(self, *args)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        train_data: Any,
        val_data: Any = None,
        *,
        epochs: int,
        batch_size: int = 32,
        shuffle: bool = True,
        checkpoint_dir: Any = None,
        resume: bool | str | os.PathLike[str] = False,
        save_every_n_steps: int | None = None,
        keep_last: int | None = 3,
    ) -> History:
        """Train for ``epochs`` epochs and return the :class:`History`.

        Parameters
        ----------
        train_data, val_data : DataLoader or (X, y)
            ``X`` of shape ``(N, ...)``, ``y`` of shape ``(N, ...)``, tensors or arrays.
            In-memory data is moved to the device once, shuffled by index with a generator
            seeded from ``(seed, epoch)`` and sliced into batches of ``batch_size``.
        epochs : int
            Total number of epochs (a resumed run continues up to this number).
        batch_size : int
            Batch size for in-memory data (a DataLoader keeps its own).
        shuffle : bool
            Shuffle in-memory training data each epoch.
        checkpoint_dir : path or None
            Save a checkpoint there at the end of every epoch (see
            :mod:`deepdojo.train.checkpoint`); only rank 0 writes.
        resume : bool or path
            ``True``: continue from the newest good checkpoint in ``checkpoint_dir`` (start
            fresh when there is none; corrupted ones are skipped with a warning). A path:
            continue from that checkpoint folder (an error if it is bad).
        save_every_n_steps : int or None
            Also save every that many optimizer steps, mid-epoch included.
        keep_last : int or None
            Keep only the newest that many checkpoints (``None``: keep all).
        """
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        train = self._prepare(train_data, "train_data")
        val = None if val_data is None else self._prepare(val_data, "val_data")
        self._setup_distributed()
        if self._dist is not None and isinstance(train, DataLoader):
            train = self._dist.distribute_loader(train, self.seed)
        steps_per_epoch = self._num_batches(train, batch_size)
        self._start_fit(steps_per_epoch, epochs)
        self._checkpoints = CheckpointPolicy.make(checkpoint_dir, save_every_n_steps, keep_last)
        if resume:
            resume_fit(self, checkpoint_dir, resume)
        show = want_progress(self.progress) and (self._dist is None or self._dist.is_main)
        with EpochBar(show) as bar:
            try:
                self._call("on_fit_start")
                for epoch in range(self.epoch, epochs):
                    self.epoch = epoch
                    bar.start_epoch(epoch, epochs, steps_per_epoch, self._resume_batch)
                    record = self._train_epoch(train, epoch, batch_size, shuffle, bar)
                    self._end_epoch(record, val, batch_size)
                    bar.end_epoch(record)
                    if self.should_stop:
                        break
            except BaseException as exc:
                self._call("on_exception", exc)
                raise
            self._call("on_fit_end")
        return self.history

    def _start_fit(self, steps_per_epoch: int | None, epochs: int) -> None:
        """Seed, reset the counters and build the scheduler for this fit."""
        seed_everything(self.seed)
        self._named_params = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        self._params = [p for _, p in self._named_params]
        self.history = History()
        self.epoch = self.global_step = self._resume_batch = 0
        self._totals: dict[str, float] = {}
        self._seen = 0
        self._epoch_rng: dict[str, Any] | None = None
        self._resume_rng: dict[str, Any] | None = None
        self.should_stop = False
        self._step_lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self._guard is not None:
            self._guard.start(self)
        self.scheduler, self._sched_interval = build_scheduler(
            self.scheduler_spec, self.optimizer, steps_per_epoch, epochs
        )

    def _setup_distributed(self) -> None:
        """Under torchrun (``WORLD_SIZE > 1``): join the process group and wrap in DDP once."""
        if self._dist is None:
            self._dist = DistributedRun.setup(self.device)
            if self._dist is not None:
                ddp = self._dist.wrap(self.model, self.device)
                self._forward = torch.compile(ddp) if self.compile else ddp

    def _num_batches(self, train: InMemoryData | DataLoader, batch_size: int) -> int | None:
        if isinstance(train, InMemoryData) and self._dist is not None:
            return -(-self._dist.shard_size(len(train)) // batch_size)
        return num_batches(train, batch_size)

    def _epoch_batches(
        self, train: InMemoryData | DataLoader, epoch: int, batch_size: int, shuffle: bool,
        start: int,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of ``epoch`` from batch index ``start`` on (``start > 0``: resuming)."""
        if isinstance(train, InMemoryData):
            order = train.order(shuffle, self.seed, epoch)
            if self._dist is not None:  # this rank's share of the shared permutation
                order = self._dist.shard(torch.arange(len(train)) if order is None else order)
            return train.batches(batch_size, order, start)
        if hasattr(train.sampler, "set_epoch"):
            train.sampler.set_epoch(epoch)
        if start == 0:
            return loader_batches(train)
        set_rng_state(self._epoch_rng)  # rebuild the sampler order of the interrupted epoch
        batches = loader_batches(train, start)
        first = next(batches, None)  # the iterator is made (and the done batches skipped) now
        set_rng_state(self._resume_rng)
        return itertools.chain([] if first is None else [first], batches)

    def _train_epoch(
        self, train: Any, epoch: int, batch_size: int, shuffle: bool, bar: EpochBar
    ) -> dict[str, Any]:
        """Run every batch of one epoch; return the epoch's partial record."""
        self.model.train()
        start_batch, self._resume_batch = self._resume_batch, 0
        if start_batch == 0:
            self._totals, self._seen = {}, 0
            self._epoch_rng = rng_state() if not isinstance(train, InMemoryData) else None
        self._call("on_epoch_start", epoch)
        start = time.perf_counter()
        batches = self._epoch_batches(train, epoch, batch_size, shuffle, start_batch)
        for batch_idx, (inputs, targets) in enumerate(batches, start=start_batch):
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            self._call("on_batch_start", batch_idx, (inputs, targets))
            logs = self._train_step(inputs, targets)
            if "skipped" not in logs:  # a rejected step does not count in the epoch means
                n = len(targets)
                for k, v in logs.items():
                    self._totals[k] = self._totals.get(k, 0.0) + v * n
                self._seen += n
            self._call("on_batch_end", batch_idx, logs)
            bar.advance(logs["loss"])
            if self._checkpoints is not None:
                self._checkpoints.after_step(self, epoch, batch_idx + 1)
        record: dict[str, Any] = {"epoch": epoch}
        totals, seen = self._totals, self._seen
        if self._dist is not None:  # global means: sum the totals of all ranks
            totals, seen = self._dist.sum_totals(totals, seen, self.device)
        if seen:
            record.update({f"train_{k}": v / seen for k, v in totals.items()})
        else:
            record["train_loss"] = float("nan")
        record["lr"] = self._step_lrs[0]
        if len(self._step_lrs) > 1:  # per-group rates (fine-tuning, decay groups)
            record["lrs"] = list(self._step_lrs)
        record["time_s"] = time.perf_counter() - start
        return record

    def _train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """One optimizer step on one batch; returns ``{"loss": ..., <metric>: ...}``.

        A step the non-finite guard rejects returns ``{"loss": nan-or-inf, "skipped": 1.0}``.
        """
        # 1. forward: outputs (B, ...) under autocast when precision asks for it
        with self._autocast():
            outputs = self._forward(inputs)
            # 2. loss: the data term, plus an explicit penalty (L1/L2) when configured
            loss = self.loss_fn(outputs, targets)
            if self.regularizer is not None:
                loss = loss + self.regularizer(self.model)
        # 3. backward: populate .grad (fp16: on the scaled loss, then unscale so that
        #    hooks, the check and clipping all see the true gradients)
        if self._scaler is not None:
            self._scaler.scale(loss).backward()
            self._scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        # 4. inspect: gradients are complete and untouched
        self._call("on_after_backward")
        # 5. check: one fused finiteness test over loss and gradient norms (one host read)
        loss_value, norms = self._check(loss)
        if norms is None:  # rejected by the guard: no update
            self.optimizer.zero_grad(set_to_none=True)
            self.last_loss = loss_value
            return {"loss": loss_value, "skipped": 1.0}
        # 6. clip / normalize gradients (reusing the norms from the check)
        if self.clip is not None:
            self.clip(self._params, norms=norms or None)
        # 7. last look before the update
        self._call("on_before_optimizer_step", self.optimizer)
        # 8. step: update the weights (and a per-batch schedule)
        if self._scaler is not None:
            self._scaler.step(self.optimizer)
            self._scaler.update()
        else:
            self.optimizer.step()
        self._step_lrs = [g["lr"] for g in self.optimizer.param_groups]  # this step's rates
        if self.scheduler is not None and self._sched_interval == "batch":
            step_scheduler(self.scheduler)
        # 9. zero_grad: free the gradients before the next forward
        self.optimizer.zero_grad(set_to_none=True)
        self.global_step += 1
        # 10. log: the batch loss and metrics as Python floats
        self.last_loss = loss_value
        if self._metric_fns is None:
            self._metric_fns = default_metrics(outputs, targets)
        return batch_logs(loss_value, outputs.detach(), targets, self._metric_fns)

    def _check(self, loss: torch.Tensor) -> tuple[float, list[torch.Tensor] | None]:
        """``(loss value, per-tensor grad norms)``; norms ``None`` when the guard rejects the
        step and ``[]`` when nothing needed them."""
        if self._guard is None:
            return loss.item(), []
        grads = [p.grad for p in self._params if p.grad is not None]
        loss_value, total, norms = self._guard.measure(loss, grads)
        if self._guard.is_finite(loss_value, total):
            self._guard.good_step(self)
            return loss_value, norms
        if self._scaler is not None and math.isfinite(loss_value):
            return loss_value, norms  # fp16 overflow in grads: the GradScaler skips the step
        names = [n for n, p in self._named_params if p.grad is not None]
        self._guard.bad_step(self, names, norms, loss_value)
        return loss_value, None

    def _end_epoch(self, record: dict[str, Any], val: Any, batch_size: int) -> None:
        """Validate, step a per-epoch schedule, run the epoch hooks and store the record."""
        if val is not None:
            metrics = {f"val_{k}": v for k, v in self.evaluate(val, batch_size=256).items()}
            self._call("on_validation_end", metrics)
            record.update(metrics)
        if self.scheduler is not None and self._sched_interval == "epoch":
            step_scheduler(self.scheduler, record.get("val_loss", record.get("train_loss")))
        if self._guard is not None:
            record.update(self._guard.pop_epoch_counts())
        self._call("on_epoch_end", record["epoch"], record)
        self.history.append(record)
        if self._checkpoints is not None:
            self._checkpoints.after_epoch(self, record["epoch"] + 1)
