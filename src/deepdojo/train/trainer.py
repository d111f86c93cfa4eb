"""The Trainer: one lean, explicit training loop for every task, with hooks named after its steps.

``Trainer(model, loss_fn, optimizer)`` trains a supervised model (the built-in
:class:`~deepdojo.train.tasks.SupervisedTask`); ``Trainer(task)`` trains any
:class:`~deepdojo.train.Task` (an autoencoder, a GAN, a contrastive or an episodic learner).
A training step runs the task's ``training_step(batch)`` and, for each ``(optimizer, loss)``
it yields, the step sequence of :mod:`deepdojo.train.step`::

    forward -> loss (in the task) -> backward -> on_after_backward -> non-finite check
      (-> skip | rollback) -> clip -> on_before_optimizer_step -> step (+ per-batch schedule)
      -> zero_grad -> log

Schedules, clipping, the guard, checkpoints, DDP, precision, the progress bar and logs plug in
at those named steps. The loop's resumable position lives in one :class:`LoopState`. In-memory
data is shuffled by index with a seeded generator and sliced per batch; DataLoaders are iterated
as given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from deepdojo.train.callbacks import Callback, bind_hooks
from deepdojo.train.distributed import DistributedRun, local_device
from deepdojo.train.epoch import EpochMixin
from deepdojo.train.guard import resolve_guard
from deepdojo.train.history import History
from deepdojo.train.inference import PRECISIONS, InferenceMixin
from deepdojo.train.logging import MetricsLogger
from deepdojo.train.loop import LoopState
from deepdojo.train.metrics import MetricFn
from deepdojo.train.progress import EpochBar, want_progress
from deepdojo.train.state import CheckpointPolicy, resume_fit
from deepdojo.train.step import StepMixin, TrainerContext
from deepdojo.train.task import Task
from deepdojo.train.tasks.supervised import SupervisedTask
from deepdojo.utils import resolve_device


class Trainer(EpochMixin, StepMixin, InferenceMixin):
    """Train a model on in-memory tensors or a DataLoader, or run a :class:`Task`.

    Parameters
    ----------
    model : nn.Module or Task
        A model mapping inputs ``(B, ...)`` to outputs ``(B, ...)`` (with ``loss_fn``), or a
        :class:`~deepdojo.train.Task` that owns its networks, optimizers and loss; moved to
        ``device``.
    loss_fn : callable
        ``loss_fn(outputs, targets) -> scalar tensor`` (mean over the batch); ``None`` for a
        Task.
    optimizer : torch.optim.Optimizer or str
        An optimizer over ``model``'s parameters, or a name for :func:`make_optimizer`
        (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``) built with ``lr``.
        A Task configures its own.
    lr : float
        Learning rate when ``optimizer`` is a name.
    scheduler : Schedule, torch LRScheduler, ReduceLROnPlateau or None
        See :mod:`deepdojo.train.schedules`; stepped per batch or per epoch as it requires.
        A Task returns its own from ``configure_schedulers()``.
    callbacks : sequence of Callback
        Called at the named steps (see :mod:`deepdojo.train.callbacks`).
    regularizer : callable or None
        ``regularizer(model) -> scalar`` added to the loss before backward (e.g.
        :class:`deepdojo.nn.regularization.Regularizer`); supervised only.
    clip : ClipGrad, dict or None
        Gradient clipping/normalization applied after ``on_after_backward``; a dict
        ``optimizer name -> ClipGrad`` clips per optimizer (one ClipGrad: every optimizer).
    metrics : dict or None
        ``name -> fn(outputs, targets) -> float``; default ``{"acc": accuracy}`` for
        classification-shaped outputs/targets (decided on the first batch); supervised only.
    precision : {"32", "bf16", "fp16"}
        Autocast dtype of forward and loss; weights, gradients and optimizer state stay
        float32. ``"fp16"`` adds one GradScaler (dynamic loss scaling, updated after each
        optimizer step; a step whose gradients overflow is skipped by the scaler, not counted
        by the guard). On CPU both work: ``"bf16"`` uses CPU autocast (fast only on CPUs with
        bf16 units), ``"fp16"`` a CPU GradScaler (correct but usually slower than float32:
        meant for testing).
    compile : bool
        Run the supervised forward pass through ``torch.compile(model)`` (the first batches pay
        the compilation; ``trainer.model`` stays the plain module, so checkpoints are
        unchanged). A Task compiles its networks itself.
    device : str or torch.device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda[:N]"``.
    seed : int
        ``fit`` seeds Python, NumPy and torch with it and draws the data order from it: the same
        seed gives the same history on CPU.
    progress : {"auto", "on", "off"}
        A rich progress bar on stderr; ``"auto"`` shows it only on a terminal.
    guard : NonFiniteGuard, bool or None
        The non-finite guard (on by default): skips updates with NaN/Inf loss or gradients.
    log_dir : path or None
        When given, per-epoch metrics go to ``metrics.jsonl`` and ``metrics.csv`` there.

    Attributes
    ----------
    task : Task
        The task being trained (a :class:`SupervisedTask` for ``Trainer(model, loss_fn)``).
    model : nn.Module
        The supervised model, or the task itself.
    optimizers, schedulers : dict
        ``name -> optimizer`` and ``name -> scheduler`` (schedulers built by ``fit``);
        ``optimizer`` and ``scheduler`` name the only ones of a one-optimizer task.
    history : History
        Per-epoch records of the last ``fit``.
    loop : LoopState
        The loop's resumable position; ``epoch`` and ``global_step`` read it.
    current_optimizer : str or None
        The optimizer being updated (set from backward to zero_grad), for callbacks.
    should_stop : bool
        Set by a callback to stop after the current epoch.
    last_loss : float
        Loss of the last training step.
    """

    def __init__(
        self,
        model: nn.Module | Task,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
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
            raise TypeError(f"model must be a torch.nn.Module or a Task, got "
                            f"{type(model).__name__}")  # fmt: skip
        if isinstance(model, Task):
            _check_task_arguments(loss_fn, optimizer, scheduler, regularizer, metrics, compile)
        elif not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be '32', 'bf16' or 'fp16', got {precision!r}")
        want_progress(progress)  # validates the value early
        self.device = local_device(resolve_device(device))
        if isinstance(model, Task):
            self.task, self.model = model.to(self.device), model
        else:
            self.model = model.to(self.device)
            self.task = SupervisedTask(self.model, loss_fn, optimizer, lr=lr, scheduler=scheduler,
                                       regularizer=regularizer, metrics=metrics)  # fmt: skip
            if compile:
                self.task.set_forward(torch.compile(self.model))
        if isinstance(self.task, SupervisedTask):  # the model, its loss and penalty
            self.model = self.task.model
            loss_fn, regularizer = self.task.loss_fn, self.task.regularizer
        self.optimizers = _checked_optimizers(self.task)
        self.schedulers: dict[str, Any] = {}
        self.loss_fn = loss_fn
        self.regularizer = regularizer
        self.callbacks = list(callbacks)
        if log_dir is not None:
            self.callbacks.append(MetricsLogger(log_dir))
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        self.clip = clip
        self._clips = _clips_per_optimizer(clip, self.optimizers)
        self.metrics = metrics
        self.precision = precision
        self.compile = compile
        self.seed = seed
        self.progress = progress
        self.guard = guard
        self.log_dir = log_dir
        self.history = History()
        self.loop = LoopState()
        self.should_stop = False
        self.last_loss = float("nan")
        self.current_optimizer: str | None = None
        self._eval_forward = self.model  # never DDP: evaluation needs no cross-rank sync
        self._dist: DistributedRun | None = None
        self._grad_sync: Callable[[list[torch.Tensor]], None] | None = None
        self._guard = resolve_guard(guard)
        self._scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        self._hooks = bind_hooks(self.callbacks)
        self._context = TrainerContext(self._count_pulled_batch)
        self._bind_parameters()

    # ------------------------------------------------------------------ views
    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimizer of a one-optimizer task (else use ``optimizers[name]``)."""
        if len(self.optimizers) != 1:
            raise AttributeError(f"this task has several optimizers {sorted(self.optimizers)}: "
                                 "use trainer.optimizers[name]")  # fmt: skip
        return next(iter(self.optimizers.values()))

    @property
    def scheduler(self) -> Any:
        """The scheduler of a one-optimizer task (``None`` when it has none)."""
        return next(iter(self.schedulers.values()), None) if len(self.optimizers) == 1 else None

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        """The fp16 loss scaler (``precision="fp16"``), else None."""
        return self._scaler

    @property
    def epoch(self) -> int:
        """Current epoch (0-based)."""
        return self.loop.epoch

    @property
    def global_step(self) -> int:
        """Training steps in which at least one update was applied."""
        return self.loop.global_step

    @property
    def _metric_fns(self) -> dict[str, MetricFn] | None:  # read by InferenceMixin
        return getattr(self.task, "metric_fns", None)

    @_metric_fns.setter
    def _metric_fns(self, value: dict[str, MetricFn] | None) -> None:
        self.task.metric_fns = value  # type: ignore[assignment]

    def _bind_parameters(self) -> None:
        """Per optimizer: its parameters in model order, their names, and the task's others."""
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        self._opt_params, self._opt_names, self._others = {}, {}, {}
        self._host_grads: dict[str, bool] = {}  # set per fit (EpochMixin._start_fit)
        for name, opt in self.optimizers.items():
            ids = {id(p) for g in opt.param_groups for p in g["params"]}
            mine = [(n, p) for n, p in named if id(p) in ids]
            self._opt_names[name] = [n for n, _ in mine]
            self._opt_params[name] = [p for _, p in mine]
            self._others[name] = [p for n, p in named if id(p) not in ids]

    def _count_pulled_batch(self) -> None:
        self.loop.batch += 1

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
        train_data, val_data : DataLoader, (X, y) or X
            ``X`` of shape ``(N, ...)``, ``y`` of shape ``(N, ...)``, tensors or arrays (a
            bare ``X`` gives a task batches ``X_b``). In-memory data is moved to the device
            once, shuffled by index with a generator seeded from ``(seed, epoch)`` and sliced
            into batches of ``batch_size``.
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
            continue from that checkpoint folder (an error if it is bad). A checkpoint whose
            seed, batch size, shuffle or optimizer classes differ from this run is refused.
        save_every_n_steps : int or None
            Also save every that many training steps, mid-epoch included.
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
        self._start_fit(train, steps_per_epoch, epochs, batch_size, shuffle)
        self._checkpoints = CheckpointPolicy.make(checkpoint_dir, save_every_n_steps, keep_last)
        if resume:
            resume_fit(self, checkpoint_dir, resume)
        show = want_progress(self.progress) and (self._dist is None or self._dist.is_main)
        self.task.bind(self._context)
        # score the default accuracy in bulk unless something reads the per-batch logs or a
        # mid-epoch checkpoint needs the epoch sums up to date at every step
        self._context.deferring = not self._hooks["on_batch_end"] and (
            self._checkpoints is None or not self._checkpoints.every_n_steps
        )
        with EpochBar(show) as bar:
            try:
                self._call("on_fit_start")
                while self.loop.epoch < epochs:
                    epoch = self.loop.epoch
                    bar.start_epoch(epoch, epochs, steps_per_epoch, self.loop.batch)
                    record = self._train_epoch(train, epoch, batch_size, shuffle, bar)
                    self._end_epoch(record, val, batch_size)
                    bar.end_epoch(record)
                    if self.should_stop:
                        break
            except BaseException as exc:
                self._call("on_exception", exc)
                raise
            finally:
                self.task.bind(None)
                self._context.deferring = False
                self._context.reset(release=True)
            self._call("on_fit_end")
        return self.history

    def _setup_distributed(self) -> None:
        """Under torchrun (``WORLD_SIZE > 1``): join the process group once; wrap a supervised
        model in DDP, or average a task's gradients after each backward."""
        if self._dist is not None:
            return
        self._dist = DistributedRun.setup(self.device)
        if self._dist is None:
            return
        if isinstance(self.task, SupervisedTask):
            ddp = self._dist.wrap(self.model, self.device)
            self.task.set_forward(torch.compile(ddp) if self.compile else ddp)
        else:
            self._dist.broadcast_parameters(self.task)
            self._grad_sync = self._dist.average_gradients


def _check_task_arguments(loss_fn: Any, optimizer: Any, scheduler: Any, regularizer: Any,
                          metrics: Any, compile: bool) -> None:  # fmt: skip
    given = {"loss_fn": loss_fn is not None, "optimizer": optimizer != "adam",
             "scheduler": scheduler is not None, "regularizer": regularizer is not None,
             "metrics": metrics is not None, "compile": bool(compile)}  # fmt: skip
    extra = [k for k, v in given.items() if v]
    if extra:
        raise TypeError(f"Trainer(task) takes no {', '.join(extra)}: a Task defines its own "
                        "(configure_optimizers, configure_schedulers, training_step)")  # fmt: skip


def _checked_optimizers(task: Task) -> dict[str, torch.optim.Optimizer]:
    optimizers = task.configure_optimizers()
    if not isinstance(optimizers, dict) or not optimizers:
        raise TypeError(f"{type(task).__name__}.configure_optimizers() must return a non-empty "
                        f"dict name -> optimizer, got {type(optimizers).__name__}")  # fmt: skip
    for name, opt in optimizers.items():
        if not isinstance(name, str) or not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"configure_optimizers() must map str names to torch optimizers, "
                            f"got {name!r}: {type(opt).__name__}")  # fmt: skip
    return dict(optimizers)


def _clips_per_optimizer(clip: Any, optimizers: dict[str, Any]) -> dict[str, Any]:
    if clip is None:
        return {}
    if isinstance(clip, dict):
        unknown = sorted(set(clip) - set(optimizers))
        if unknown:
            raise ValueError(f"clip names unknown optimizers {unknown}; the task has "
                             f"{sorted(optimizers)}")  # fmt: skip
        return {k: v for k, v in clip.items() if v is not None}
    return dict.fromkeys(optimizers, clip)
