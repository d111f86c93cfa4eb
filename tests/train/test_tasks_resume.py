"""Every built-in task resumes bit-identically mid-epoch and trains under bf16 and fp16 (CPU)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepdojo.data import episode_loader
from deepdojo.data.augment import Compose, GaussianNoise, Shift
from deepdojo.train import Callback, Trainer
from deepdojo.train.tasks import (
    AdversarialTask,
    ContrastiveTask,
    EpisodicTask,
    ReconstructionTask,
)


class _Crash(Callback):
    """Stop the process's work at a global step, as a SIGKILL would (after a checkpoint)."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, batch_idx, logs):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


class _Count(Callback):
    def __init__(self):
        self.steps = 0

    def on_batch_end(self, trainer, batch_idx, logs):
        self.steps += 1


def _net(inputs, outputs, seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(inputs, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, outputs))


def _case(name):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 8, generator=g)  # 10 batches of 12: 5 steps when n_critic=2
    if name == "reconstruction":
        return lambda: ReconstructionTask(_net(8, 8, 1), mask_fraction=0.25, noise_std=0.1), x
    if name == "adversarial":
        return (
            lambda: AdversarialTask(
                _net(3, 8, 1), _net(8, 1, 2), 3, kind="wasserstein", n_critic=2
            ),
            x,
        )
    if name == "contrastive":
        views = Compose([Shift(1, mode="roll"), GaussianNoise(0.1)])
        return lambda: ContrastiveTask(_net(8, 4, 1), augment=views), x
    labels = torch.arange(120) % 6
    loader = episode_loader(x, labels, n_way=3, k_shot=2, n_query=2, episodes=10, seed=3)
    return lambda: EpisodicTask(_net(8, 4, 1), 3, 2), loader


@pytest.mark.parametrize("name", ["reconstruction", "adversarial", "contrastive", "episodic"])
def test_resume_mid_epoch_is_bit_identical(name, tmp_path):
    make, data = _case(name)
    full_task = make()
    full = Trainer(full_task, device="cpu", progress="off", seed=7)
    full.fit(data, epochs=2, batch_size=12)
    crashed = Trainer(make(), callbacks=[_Crash(7)], device="cpu", progress="off", seed=7)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(data, epochs=2, batch_size=12, checkpoint_dir=tmp_path, save_every_n_steps=3)
    resumed_task, count = make(), _Count()
    Trainer(resumed_task, callbacks=[count], device="cpu", progress="off", seed=7).fit(
        data, epochs=2, batch_size=12, checkpoint_dir=tmp_path, resume=True
    )
    assert count.steps == full.global_step - 6  # it went on from the step-6 checkpoint
    for (key, want), got in zip(
        full_task.state_dict().items(), resumed_task.state_dict().values(), strict=True
    ):
        assert torch.equal(got, want), key


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("name", ["reconstruction", "adversarial", "contrastive", "episodic"])
def test_every_task_trains_under_reduced_precision(name, precision):
    make, data = _case(name)
    task = make()
    before = {name: p.detach().clone() for name, p in task.named_parameters()}
    history = Trainer(task, device="cpu", progress="off", precision=precision).fit(
        data, epochs=1, batch_size=12
    )
    losses = [v for k, v in history.last.items() if k.startswith("train_loss")]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    # every network moved (not every tensor: a Wasserstein critic's output bias cancels out)
    changed = {name for name, p in task.named_parameters() if not torch.equal(p, before[name])}
    for network in task.networks():
        assert any(name.startswith(network + ".") for name in changed), network
