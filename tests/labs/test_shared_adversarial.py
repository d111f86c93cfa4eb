"""labs.shared.adversarial: one fit of a GAN-like task with the Doctor, as the GAN labs run it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from deepdojo.diagnose import Doctor
from deepdojo.labs.shared.adversarial import GAN_CURVES, AdversarialFit, GANRun, fit_adversarial
from deepdojo.models import MLPDiscriminator, MLPGenerator
from deepdojo.train import Trainer
from deepdojo.train.task import Task
from deepdojo.train.tasks import AdversarialTask

X = torch.randn(96, 6, generator=torch.Generator().manual_seed(0))


def _gan(seed: int) -> AdversarialTask:
    torch.manual_seed(seed)
    return AdversarialTask(MLPGenerator(3, 6, (8,), output="identity"),
                           MLPDiscriminator(6, (8,)), 3, lr=1e-3)


def _fit(seed: int = 1, **kw: Any) -> AdversarialFit:
    return fit_adversarial(_gan(seed), X, epochs=3, batch_size=32, seed=seed, doctor_every=2,
                           **kw)


def test_fit_equals_the_trainer_and_doctor_run_it_replaces():
    fit = _fit()
    # the code each lab had before: Trainer + Doctor by hand
    doctor = Doctor(every=2, report=None)
    hist = Trainer(_gan(1), device="cpu", progress="off", seed=1, callbacks=[doctor],
                   guard=False).fit(X, epochs=3, batch_size=32)
    assert fit.curves == {"d": [float(v) for v in hist["train_loss_d"]],
                          "g": [float(v) for v in hist["train_loss_g"]]}
    assert list(fit.curves) == ["d", "g"] and len(fit.curves["g"]) == 3
    assert fit.doctor == doctor.by_network()
    assert set(fit.doctor) == {"generator", "discriminator"}
    assert fit.diverged is False
    assert fit.history["train_loss_d"] == hist["train_loss_d"]


def test_fit_is_deterministic_per_seed_and_differs_across_seeds():
    assert _fit(1).curves == _fit(1).curves
    assert _fit(1).curves != _fit(2).curves


def test_curves_follow_the_mapping_in_its_order():
    fit = _fit(curves={"g": "train_loss_g", "last": "train_loss"})
    assert list(fit.curves) == ["g", "last"]
    assert fit.curves["g"] == [float(v) for v in fit.history["train_loss_g"]]


class _OneNet(Task):
    """A single network whose loss becomes NaN from the second epoch (``scale`` is set)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(6, 1)
        self.scale = 1.0

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": torch.optim.SGD(self.net.parameters(), lr=0.01)}

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        yield "g", self.net(batch).pow(2).mean() * self.scale


def test_single_network_report_falls_back_to_one_generator_entry():
    torch.manual_seed(0)
    fit = fit_adversarial(_OneNet(), X, epochs=2, batch_size=32, seed=0, doctor_every=1,
                          curves={"g": "train_loss"})
    assert set(fit.doctor) == {"generator"}
    assert set(fit.doctor["generator"]) == {"kinds", "counts", "checks"}
    assert fit.doctor["generator"]["checks"] > 0 and fit.diverged is False


def test_a_non_finite_loss_marks_the_fit_diverged():
    task = _OneNet()
    task.scale = math.nan
    fit = fit_adversarial(task, X, epochs=1, batch_size=32, seed=0, doctor_every=1,
                          curves={"g": "train_loss"})
    assert fit.diverged is True and math.isnan(fit.curves["g"][0])


def test_gan_run_reads_its_fit():
    fit = _fit()
    run = GANRun(nn.Identity(), fit)
    assert run.loss_d is fit.curves["d"] and run.loss_g is fit.curves["g"]
    assert run.doctor is fit.doctor and run.diverged is fit.diverged
    assert dict(GAN_CURVES) == {"d": "train_loss_d", "g": "train_loss_g"}


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(ValueError, match="doctor_every must be an int >= 1"):
        fit_adversarial(_gan(0), X, epochs=1, batch_size=32, seed=0, doctor_every=0)
    with pytest.raises(ValueError, match="curves must name"):
        fit_adversarial(_gan(0), X, epochs=1, batch_size=32, seed=0, doctor_every=1, curves={})
    with pytest.raises(ValueError, match="history has no key 'train_nope'"):
        fit_adversarial(_gan(0), X, epochs=1, batch_size=32, seed=0, doctor_every=1,
                        curves={"x": "train_nope"})
