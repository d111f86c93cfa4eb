"""One fit of a (possibly) adversarial task, as the GAN labs run it: the Trainer on CPU with the
Doctor attached, the curves it logged, a divergence flag, and the Doctor's report per network.

Used by ``gan-images``, ``gan-superres``, ``gan-translation`` and ``molecules``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from deepdojo.diagnose import Doctor
from deepdojo.train import Callback, Trainer
from deepdojo.train.history import History
from deepdojo.train.task import Task

#: the curves of an :class:`~deepdojo.train.tasks.AdversarialTask`: name -> history key
GAN_CURVES: Mapping[str, str] = {"d": "train_loss_d", "g": "train_loss_g"}


@dataclass
class AdversarialFit:
    """What one fit leaves behind.

    Attributes
    ----------
    curves
        ``name -> per-epoch values`` for every entry of the ``curves`` mapping, in its order.
    doctor
        The Doctor's report per network: ``{network: {"kinds", "counts", "checks", ...}}``
        (:meth:`Doctor.by_network`); a single-network task gives one ``"generator"`` entry.
    diverged
        True when any value of any curve is not finite.
    history
        The Trainer's :class:`~deepdojo.train.history.History` (every logged key, per epoch).
    """

    curves: dict[str, list[float]]
    doctor: dict[str, dict[str, Any]]
    diverged: bool
    history: History


def doctor_report(doctor: Doctor) -> dict[str, dict[str, Any]]:
    """The Doctor's report per network; one ``"generator"`` entry (kinds, counts, checks) when
    the task had a single network and :meth:`Doctor.by_network` is empty."""
    return doctor.by_network() or {"generator": {
        "kinds": [f.kind for f in doctor.findings] or ["healthy"],
        "counts": dict(doctor.counts), "checks": doctor.checks}}


def fit_adversarial(task: Task, train_data: Any, *, epochs: int, batch_size: int, seed: int,
                    doctor_every: int, curves: Mapping[str, str] = GAN_CURVES,
                    callbacks: Sequence[Callback] = ()) -> AdversarialFit:
    """Train ``task`` on ``train_data`` and collect its curves and the Doctor's findings.

    Runs ``Trainer(task, device="cpu", progress="off", seed=seed,
    callbacks=[Doctor(every=doctor_every, report=None)], guard=False).fit(train_data,
    epochs=epochs, batch_size=batch_size)``. The guard is off so that a diverging GAN is
    recorded as diverged (non-finite curve values) rather than stopped.

    Parameters
    ----------
    task
        The task (an :class:`~deepdojo.train.tasks.AdversarialTask` or any multi-optimizer task;
        the networks are trained in place).
    train_data
        What :meth:`Trainer.fit` accepts: a tensor ``(N, ...)`` or a tuple of tensors.
    epochs, batch_size, seed
        Passed to the Trainer.
    doctor_every
        Steps between the Doctor's checks (``>= 1``).
    curves
        ``name -> history key`` (e.g. ``{"d": "train_loss_d", "g": "train_loss_g"}``); each key
        must be in the history.
    callbacks
        Extra Trainer callbacks, run after the Doctor (e.g. a checkpoint selector).

    Returns
    -------
    AdversarialFit
        ``diverged`` is ``not all(isfinite(v) for every curve value)``.
    """
    if not isinstance(doctor_every, int) or doctor_every < 1:
        raise ValueError(f"doctor_every must be an int >= 1, got {doctor_every!r}")
    if not curves:
        raise ValueError("curves must name at least one history key")
    doctor = Doctor(every=doctor_every, report=None)
    trainer = Trainer(task, device="cpu", progress="off", seed=seed,
                      callbacks=[doctor, *callbacks], guard=False)
    history = trainer.fit(train_data, epochs=epochs, batch_size=batch_size)
    missing = [k for k in curves.values() if k not in history]
    if missing:
        raise ValueError(f"curves: history has no key {missing[0]!r} "
                         f"(it has {history.keys()})")
    out = {name: [float(v) for v in history[key]] for name, key in curves.items()}
    diverged = not all(math.isfinite(v) for c in out.values() for v in c)
    return AdversarialFit(out, doctor_report(doctor), diverged, history)


@dataclass
class GANRun:
    """A trained unconditional or conditional GAN: its generator (in eval mode) and its fit."""

    generator: nn.Module
    fit: AdversarialFit

    @property
    def loss_d(self) -> list[float]:
        """The discriminator's training loss per epoch."""
        return self.fit.curves["d"]

    @property
    def loss_g(self) -> list[float]:
        """The generator's training loss per epoch."""
        return self.fit.curves["g"]

    @property
    def doctor(self) -> dict[str, dict[str, Any]]:
        """The Doctor's report per network."""
        return self.fit.doctor

    @property
    def diverged(self) -> bool:
        """True when a loss went non-finite."""
        return self.fit.diverged
