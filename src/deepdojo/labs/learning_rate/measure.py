"""Measurements of the learning-rate lab: digits fits, the LR range test, the 2-D races.

Everything here trains or runs optimizers and returns dataclasses; nothing is judged or
drawn (see ``claims`` and ``figures``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import nn

from deepdojo.data import load_digits
from deepdojo.models import create
from deepdojo.train import (
    Callback,
    LRFinderResult,
    NonFiniteError,
    Trainer,
    lr_find,
    make_optimizer,
    warmup_cosine,
)
from deepdojo.utils import seed_everything

from . import surfaces as surf

if TYPE_CHECKING:
    from . import LearningRateLabConfig

# A run whose final training loss is above this share of its first batch loss made no progress.
NO_PROGRESS = 0.9

# Conventional default lr of each optimizer: the centre of its digits lr grid.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "adam": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}


class _StepLosses(Callback):
    """Records every batch loss (NaN/Inf included: the guard reports, never hides them) and
    the learning rate that batch's step used."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.lrs: list[float] = []

    def on_before_optimizer_step(self, trainer: Trainer, optimizer: Any) -> None:
        self.lrs.append(float(optimizer.param_groups[0]["lr"]))

    def on_batch_end(self, trainer: Trainer, batch_idx: int, logs: dict[str, Any]) -> None:
        self.losses.append(float(logs["loss"]))


@dataclass
class Fit:
    """One training run of the digits MLP.

    ``train_loss`` is ``+inf`` when the final evaluation was not finite; ``val_loss`` is
    ``+inf`` also when the run ``diverged`` (so a diverged lr is never the grid's best).
    ``step_losses`` / ``step_lrs`` hold the loss and lr of every batch.
    """

    optimizer: str
    lr: float
    seed: int
    diverged: bool
    nonfinite_steps: int
    rollbacks: int
    guard_error: bool
    train_loss: float
    val_loss: float
    val_acc: float
    test_acc: float
    step_losses: list[float] = field(default_factory=list, repr=False)
    step_lrs: list[float] = field(default_factory=list, repr=False)

    def row(self) -> dict[str, Any]:
        """The table row: every field but the per-batch curves."""
        return {
            "optimizer": self.optimizer, "lr": self.lr, "seed": self.seed,
            "diverged": self.diverged, "nonfinite_steps": self.nonfinite_steps,
            "rollbacks": self.rollbacks, "guard_error": self.guard_error,
            "train_loss": self.train_loss, "val_loss": self.val_loss, "val_acc": self.val_acc,
            "test_acc": self.test_acc,
        }  # fmt: skip


@functools.lru_cache(maxsize=8)
def _load(seed: int) -> Any:
    return load_digits(flat=True, seed=seed)


def digits(cfg: LearningRateLabConfig, seed: int) -> Any:
    """Digits splits for ``seed``, the training split cut to ``cfg.n_train`` rows if set."""
    return _load(seed).head(cfg.n_train)


def fit(cfg: LearningRateLabConfig, device: str, data: Any, optimizer: str, lr: float,
        seed: int, schedule: Any = None) -> Fit:
    """Train the digits MLP once for ``cfg.epochs``; never raises on divergence, reports it.

    Divergence rule: the Trainer's guard saw a NaN/Inf loss or gradient (or gave up with
    :class:`NonFiniteError`, caught here), or the final training loss is above
    ``NO_PROGRESS`` (0.9) times the first batch's -- a run that collapsed to the uniform
    predictor (loss ln 10 = 2.3026 against a first batch loss of about 2.31) made no progress.
    """
    seed_everything(seed)
    model = create("plain_mlp", in_features=64, num_classes=10, depth=cfg.depth, width=cfg.width)
    name, kw = surf.OPTIMIZERS[optimizer]
    steps = _StepLosses()
    trainer = Trainer(model, nn.CrossEntropyLoss(), make_optimizer(name, model, lr, **kw),
                      scheduler=schedule, callbacks=[steps], device=device, seed=seed,
                      progress="off")  # fmt: skip
    error = None
    try:
        trainer.fit(data.train, epochs=cfg.epochs, batch_size=cfg.batch_size)
    except NonFiniteError as exc:  # the guard gave up: that is the divergence verdict
        error = str(exc)
    events = [e["kind"] for e in trainer.history.events]
    nonfinite, rollbacks = events.count("nonfinite"), events.count("rollback")
    train, val = trainer.evaluate(data.train), trainer.evaluate(data.val)
    test = trainer.evaluate(data.test)
    final = train["loss"] if math.isfinite(train["loss"]) else math.inf
    diverged = error is not None or nonfinite > 0 or final >= NO_PROGRESS * steps.losses[0]
    val_loss = val["loss"] if math.isfinite(val["loss"]) and not diverged else math.inf
    return Fit(optimizer, lr, seed, diverged, nonfinite, rollbacks, error is not None, final,
               val_loss, val["acc"], test["acc"], steps.losses, steps.lrs)  # fmt: skip


def closest(fits: Sequence[Fit], lr: float) -> Fit:
    """The fit whose lr is nearest ``lr`` on a log scale."""
    return min(fits, key=lambda r: abs(math.log10(r.lr / lr)))


def lr_finder(cfg: LearningRateLabConfig, device: str, data: Any, seed: int) -> LRFinderResult:
    """The LR range test (SGD + momentum 0.9) from ``finder_start_lr`` to ``finder_end_lr``."""
    seed_everything(seed)
    model = create("plain_mlp", in_features=64, num_classes=10, depth=cfg.depth, width=cfg.width)
    opt = make_optimizer("sgd", model, cfg.finder_start_lr, momentum=0.9)
    return lr_find(model, nn.CrossEntropyLoss(), data.train, optimizer=opt,
                   start_lr=cfg.finder_start_lr, end_lr=cfg.finder_end_lr,
                   num_steps=cfg.finder_steps, batch_size=cfg.batch_size, seed=seed,
                   device=device)  # fmt: skip


@dataclass
class GridSeed:
    """One seed of the momentum lr grid: every fit, the best by validation loss, the finder."""

    seed: int
    fits: list[Fit]
    best: Fit
    finder: LRFinderResult


def lr_grid(cfg: LearningRateLabConfig, device: str, seed: int) -> GridSeed:
    """SGD + momentum at every lr of ``10 ** cfg.grid_exponents``, and the LR range test."""
    data = digits(cfg, seed)
    fits = [fit(cfg, device, data, "momentum", 10.0**e, seed) for e in cfg.grid_exponents]
    best = min(fits, key=lambda r: r.val_loss)
    return GridSeed(seed, fits, best, lr_finder(cfg, device, data, seed))


@dataclass
class OptimizerSweep:
    """One seed of the optimizer comparison: every optimizer at default lr x each factor.

    ``tuned`` maps each optimizer to its fit with the best validation accuracy; ``lr_cost``
    to its test-accuracy range (best - worst) over its lr grid.
    """

    seed: int
    fits: list[Fit]

    def by_optimizer(self) -> dict[str, list[Fit]]:
        return {o: [r for r in self.fits if r.optimizer == o] for o in DEFAULT_LR}

    @property
    def tuned(self) -> dict[str, Fit]:
        return {o: max(g, key=lambda r: r.val_acc) for o, g in self.by_optimizer().items()}

    @property
    def lr_cost(self) -> dict[str, float]:
        return {o: max(r.test_acc for r in g) - min(r.test_acc for r in g)
                for o, g in self.by_optimizer().items()}  # fmt: skip


def optimizer_sweep(cfg: LearningRateLabConfig, device: str, grid: GridSeed) -> OptimizerSweep:
    """SGD, Adam, RMSprop and Adagrad at ``DEFAULT_LR x cfg.opt_lr_factors``; momentum reuses
    the grid's fits nearest its own lrs."""
    data = digits(cfg, grid.seed)
    fits = [closest(grid.fits, DEFAULT_LR["momentum"] * f) for f in cfg.opt_lr_factors]
    fits += [fit(cfg, device, data, o, DEFAULT_LR[o] * f, grid.seed)
             for o in ("sgd", "adam", "rmsprop", "adagrad") for f in cfg.opt_lr_factors]
    return OptimizerSweep(grid.seed, fits)


@dataclass
class SchedulePair:
    """A constant-lr fit and a warmup + cosine fit of the same seed, for the figure and the
    paired claims (``peak`` names how their lrs were chosen)."""

    # "tuned" (each arm at its own val-best lr), "lowest" (each at its own lowest training
    # loss) or "above" (both at one lr above the constant's val-best)
    peak: str
    constant: Fit
    warmup: Fit


@dataclass
class ScheduleSeed:
    """One seed of the schedule comparison at ``cfg.schedule_epochs``.

    ``constant`` and ``warmup`` hold one fit per lr of ``10 ** cfg.schedule_lr_exponents``
    (same order); each arm's peak lr is its own best by validation loss (diverged runs have
    ``val_loss = inf`` and are never picked).
    """

    seed: int
    constant: list[Fit]
    warmup: list[Fit]

    @property
    def tuned(self) -> SchedulePair:
        """Each arm at its own validation-best peak lr."""
        return SchedulePair("tuned", min(self.constant, key=lambda r: r.val_loss),
                            min(self.warmup, key=lambda r: r.val_loss))  # fmt: skip

    @property
    def lowest(self) -> SchedulePair:
        """Each arm at the peak lr with its own lowest final training loss (diverged runs
        excluded; the target of an optimization claim, no test data involved)."""

        def pick(fits: list[Fit]) -> Fit:
            ok = [r for r in fits if not r.diverged] or fits
            return min(ok, key=lambda r: r.train_loss)

        return SchedulePair("lowest", pick(self.constant), pick(self.warmup))

    @property
    def above(self) -> SchedulePair | None:
        """Both arms at the next grid lr above the constant arm's best (None at the top)."""
        best = self.tuned.constant.lr
        i = next((k for k, r in enumerate(self.constant) if r.lr > best * (1 + 1e-9)), None)
        return None if i is None else SchedulePair("above", self.constant[i], self.warmup[i])


def schedule_runs(cfg: LearningRateLabConfig, device: str, seed: int) -> ScheduleSeed:
    """Constant lr and linear warmup + cosine decay, both at every peak lr of
    ``10 ** cfg.schedule_lr_exponents`` for ``cfg.schedule_epochs`` epochs (SGD + momentum)."""
    data = digits(cfg, seed)
    long = dataclasses.replace(cfg, epochs=cfg.schedule_epochs)
    total = long.epochs * math.ceil(len(data.train.y) / cfg.batch_size)
    sched = warmup_cosine(max(1, round(cfg.warmup_fraction * total)))
    lrs = [10.0**e for e in cfg.schedule_lr_exponents]
    return ScheduleSeed(
        seed, [fit(long, device, data, "momentum", lr, seed) for lr in lrs],
        [fit(long, device, data, "momentum", lr, seed, sched) for lr in lrs],
    )  # fmt: skip


def quadratic_races(cfg: LearningRateLabConfig,
                    seeds: Sequence[int]) -> dict[int, surf.QuadraticRace]:
    """Every optimizer on the ``cfg.kappa`` quadratic, each at its best lr of the grid
    ``10 ** cfg.quad_lr_exponents``, per seed."""
    lrs = [10.0**e for e in cfg.quad_lr_exponents]
    return {s: surf.quadratic_race(quadratic(cfg), s, lrs, cfg.surface_steps, cfg.quad_starts)
            for s in seeds}  # fmt: skip


def quadratic(cfg: LearningRateLabConfig) -> surf.Surface:
    """The lab's ill-conditioned quadratic as a surface ``p (..., 2) -> (...)``."""
    return functools.partial(surf.ill_conditioned_quadratic, kappa=cfg.kappa)


def double_well_races(cfg: LearningRateLabConfig,
                      seeds: Sequence[int]) -> dict[int, surf.DoubleWellRace]:
    """Every optimizer from ``cfg.well_starts`` starts in the poor basin, per seed."""
    ridge = surf.double_well_minima()[1]
    return {s: surf.double_well_race(s, cfg.well_starts, cfg.well_lr, cfg.well_steps, ridge)
            for s in seeds}  # fmt: skip
