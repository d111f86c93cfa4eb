"""The Task API: several optimizers stepped in turn, extra scalars, next_batch, skips."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from deepdojo.train import Task, Trainer
from deepdojo.train.tasks import SupervisedTask

sys.path.insert(0, str(Path(__file__).parent))
from _toy_tasks import Chase, Critic, regression  # noqa: E402


def hand_chase(X, y, epochs, batch_size):
    """The Chase task written out by hand: same data order (no shuffle), same updates."""
    task = Chase()
    opt_a, opt_b = task.configure_optimizers().values()
    gaps = []
    for _ in range(epochs):
        for lo in range(0, len(X), batch_size):
            x, t = X[lo : lo + batch_size], y[lo : lo + batch_size]
            nn.functional.mse_loss(task.a(x), t).backward()
            opt_a.step()
            opt_a.zero_grad()
            target = task.a(x).detach()
            out = task.b(x)
            gaps.append((out - target).abs().mean().item())
            nn.functional.mse_loss(out, target).backward()
            opt_b.step()
            opt_b.zero_grad()
    return task, gaps


def test_two_optimizers_are_stepped_in_turn_like_a_hand_written_loop():
    X, y = regression()
    tr = Trainer(Chase(), device="cpu", progress="off")
    hist = tr.fit((X, y), (X, y), epochs=3, batch_size=16, shuffle=False)
    ref, gaps = hand_chase(X, y, epochs=3, batch_size=16)
    for pa, pb in zip(tr.task.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=1e-6)
    assert hist["train_gap"][-1] == pytest.approx(sum(gaps[-3:]) / 3, rel=1e-5)
    assert set(hist.last) >= {"train_loss_a", "train_loss_b", "train_loss", "train_gap",
                              "lr", "lr_a", "lr_b", "val_mse_a", "val_mse_b"}
    assert hist.last["train_loss"] == hist.last["train_loss_b"]  # the step's last update
    assert hist["lr_a"] == [0.1] * 3 and hist["lr_b"] == [0.05] * 3
    assert tr.global_step == 9 and tr.loop.optimizer_steps == {"a": 9, "b": 9}
    with torch.no_grad():
        want = nn.functional.mse_loss(tr.task.a(X), y).item()
    assert tr.evaluate((X, y))["mse_a"] == pytest.approx(want, rel=1e-6)
    with pytest.raises(AttributeError, match="several optimizers"):
        tr.optimizer  # noqa: B018


def test_a_non_finite_loss_skips_only_that_optimizers_step():
    X, y = regression()
    y[20] = float("nan")  # batch 1 of 3: a's loss is NaN there; b chases a, which stays finite
    tr = Trainer(Chase(), device="cpu", progress="off")
    hist = tr.fit((X, y), epochs=1, batch_size=16, shuffle=False)
    assert tr.loop.optimizer_steps == {"a": 2, "b": 3}
    assert hist.last["nonfinite_steps"] == 1
    (event,) = [e for e in hist.events if e["kind"] == "nonfinite"]
    assert event["optimizer"] == "a" and event["where"] == "parameter 'a.0.weight'"
    assert all(torch.isfinite(p).all() for p in tr.task.parameters())
    assert torch.isfinite(torch.tensor(hist.last["train_loss_a"]))  # the skipped one left out


def test_next_batch_pulls_extra_batches_that_count_in_the_position():
    X, y = regression(n=60)
    task = Critic(n_critic=3)
    tr = Trainer(task, device="cpu", progress="off")
    tr.fit((X, y), epochs=2, batch_size=5, shuffle=False)
    # 12 batches per epoch, 3 per training step: 4 steps per epoch, each a 3-times, b once
    assert tr.loop.optimizer_steps == {"a": 24, "b": 8} and tr.global_step == 8
    seen = torch.cat(task.seen)
    assert torch.equal(seen, torch.cat([X, X]))  # every batch once per epoch, in order


def test_next_batch_at_the_end_of_the_epoch_ends_the_step():
    X, y = regression(n=50)  # 10 batches of 5: the 4th step gets one batch, not three
    tr = Trainer(Critic(n_critic=3), device="cpu", progress="off")
    tr.fit((X, y), epochs=1, batch_size=5, shuffle=False)
    assert tr.loop.optimizer_steps == {"a": 10, "b": 3}


class Bad(Task):
    def __init__(self, yields):
        super().__init__()
        self.net = nn.Linear(2, 1)
        self.yields = yields

    def configure_optimizers(self):
        return {"net": torch.optim.SGD(self.net.parameters(), lr=0.1)}

    def training_step(self, batch):
        yield from self.yields(self, batch)


def test_task_mistakes_get_clear_errors():
    X = torch.randn(8, 2)
    with pytest.raises(ValueError, match=r"name from configure_optimizers\(\) \['net'\]"):
        Trainer(Bad(lambda t, b: [("g", t.net(b).mean())]), device="cpu",
                progress="off").fit(X, epochs=1)
    with pytest.raises(ValueError, match="must be a scalar tensor, got \\(4, 1\\)"):
        Trainer(Bad(lambda t, b: [("net", t.net(b))]), device="cpu",
                progress="off").fit(X, epochs=1, batch_size=4)
    with pytest.raises(TypeError, match="takes no loss_fn, optimizer"):
        Trainer(Chase(), nn.MSELoss(), "sgd")
    with pytest.raises(NotImplementedError, match="configure_optimizers"):
        Trainer(Task())
    with pytest.raises(RuntimeError, match="only available inside training_step"):
        Chase().next_batch()


def test_supervised_task_is_the_plain_trainer():
    X, y = regression()
    runs = []
    for make in ("plain", "task"):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
        if make == "plain":
            tr = Trainer(model, nn.MSELoss(), "adam", lr=1e-2, device="cpu", progress="off")
        else:
            tr = Trainer(SupervisedTask(model, nn.MSELoss(), "adam", lr=1e-2), device="cpu",
                         progress="off")
        runs.append(tr.fit((X, y), (X, y), epochs=2, batch_size=8).records)
    for a, b in zip(*runs, strict=True):
        a.pop("time_s"), b.pop("time_s")
        assert a == b
