"""Non-finite guard: skip an injected NaN batch, roll back a divergent run, name the layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepdojo.train import NonFiniteError, NonFiniteGuard, Trainer
from deepdojo.train.schedules import one_cycle


def regression(n: int = 40, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, generator=g) * scale
    return X, X @ torch.tensor([[1.0], [-2.0], [0.5]])


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def test_injected_nan_batch_is_skipped():
    X, y = regression()
    X[12] = float("nan")  # batch 1 of 4 (batch_size 10, no shuffle)
    tr = Trainer(model(), nn.MSELoss(), "sgd", lr=0.05, device="cpu", progress="off")
    hist = tr.fit((X, y), epochs=2, batch_size=10, shuffle=False)
    assert hist["nonfinite_steps"] == [1, 1]
    assert tr.global_step == 6  # 8 batches, 2 skipped
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    assert hist["train_loss"][1] < hist["train_loss"][0]
    first = hist.events[0]
    assert first["kind"] == "nonfinite" and first["where"] == "parameter '0.weight'"
    # without the guard the NaN reaches the weights
    off = Trainer(model(), nn.MSELoss(), "sgd", lr=0.05, guard=False, device="cpu",
                  progress="off")
    off.fit((X, y), epochs=1, batch_size=10, shuffle=False)
    assert not torch.isfinite(off.model[0].weight).all()


def test_divergent_lr_rolls_back_and_recovers():
    X, y = regression(scale=10.0)
    guard = NonFiniteGuard(patience=2, lr_factor=1e-3, max_rollbacks=2, snapshot_every=1)
    tr = Trainer(model(), nn.MSELoss(), "sgd", lr=5.0, guard=guard, device="cpu",
                 progress="off")
    hist = tr.fit((X, y), epochs=4, batch_size=10)
    assert sum(r.get("rollbacks", 0) for r in hist) >= 1
    assert tr.optimizer.param_groups[0]["lr"] <= 5.0 * 1e-3
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    kinds = [e["kind"] for e in hist.events]
    assert "rollback" in kinds and kinds.index("rollback") >= 2


def test_persistent_nan_raises_naming_the_first_layer():
    X, y = regression()

    class NaNFromSecondLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(3, 4)
            self.second = nn.Linear(4, 1)

        def forward(self, x):
            # 'first' is cut off by detach (no gradient); sqrt(-1) makes every gradient of
            # 'second' NaN, so 'second.weight' is the first non-finite one in model order
            return self.second(self.first(x).detach()) * torch.sqrt(torch.tensor(-1.0))

    guard = NonFiniteGuard(patience=2, max_rollbacks=1)
    tr = Trainer(NaNFromSecondLayer(), nn.MSELoss(), "sgd", lr=0.1, guard=guard, device="cpu",
                 progress="off")
    with pytest.raises(NonFiniteError, match="parameter 'second.weight'"):
        tr.fit((X, y), epochs=1, batch_size=5)
    assert guard.rollbacks_ == 1 and guard.skipped_total_ == 4


def test_guard_arguments_checked():
    with pytest.raises(ValueError, match="lr_factor"):
        NonFiniteGuard(lr_factor=2.0)
    with pytest.raises(TypeError, match="guard must be"):
        Trainer(model(), nn.MSELoss(), guard="on", device="cpu")


def test_rollback_lowers_the_rate_a_one_cycle_schedule_recomputes():
    # OneCycleLR recomputes lr from each group's initial/max/min rates at every step, so
    # lowering only group["lr"] would be undone by the next scheduler step
    X, y = regression(n=200, scale=10.0)
    guard = NonFiniteGuard(patience=2, lr_factor=1e-3, max_rollbacks=3, snapshot_every=1)
    tr = Trainer(model(), nn.MSELoss(), "sgd", lr=5.0, scheduler=one_cycle(5.0), guard=guard,
                 device="cpu", progress="off")
    hist = tr.fit((X, y), epochs=3, batch_size=10)
    assert guard.rollbacks_ >= 1
    lrs_after = [r["lr"] for r in hist][1:]  # the epochs after the first rollback
    assert max(lrs_after) <= 5.0 * 1e-3
    assert tr.optimizer.param_groups[0]["max_lr"] <= 5.0 * 1e-3
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_blowing_up_again_from_a_snapshot_rolls_back_one_snapshot_further():
    from types import SimpleNamespace

    from deepdojo.train import History

    net = nn.Linear(1, 1, bias=False)
    trainer = SimpleNamespace(model=net, optimizer=torch.optim.SGD(net.parameters(), lr=1.0),
                              history=History(), epoch=0, global_step=0, scheduler=None)
    guard = NonFiniteGuard(patience=1, max_rollbacks=5, keep=2)
    with torch.no_grad():
        net.weight.fill_(1.0)
        guard.start(trainer)  # snapshot A: w = 1 at step 0
        net.weight.fill_(2.0)
        trainer.global_step = 50
        guard.snapshot(trainer)  # snapshot B: w = 2 at step 50 (finite, but maybe doomed)
    seen = []
    for _ in range(3):
        with torch.no_grad():
            net.weight.fill_(float("nan"))
        guard.bad_step(trainer, ["weight"], [torch.tensor(float("nan"))], float("nan"))
        seen.append((net.weight.item(), trainer.history.events[-1]["to_step"]))
    assert seen == [(2.0, 50), (1.0, 0), (1.0, 0)]  # B, then A, then A again (the oldest kept)
    assert guard.rollbacks_ == 3 and len(guard.snapshots_) == 1
    with pytest.raises(ValueError, match="keep must be an int >= 1"):
        NonFiniteGuard(keep=0)


def test_after_a_resume_the_guard_only_holds_the_resumed_state(tmp_path):
    """A rollback after resuming must never reach the fresh init the new process started from."""
    from deepdojo.train import Callback

    X, y = torch.randn(64, 4, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 2
    torch.manual_seed(0)
    net = nn.Linear(4, 2)
    Trainer(net, nn.functional.cross_entropy, "sgd", lr=0.1, seed=0, progress="off",
            guard=NonFiniteGuard()).fit((X, y), epochs=2, checkpoint_dir=tmp_path)
    trained = net.weight.detach().clone()

    class Stop(Callback):  # stop right after the resume, before any step
        def on_fit_start(self, trainer):
            raise KeyboardInterrupt

    fresh = nn.Linear(4, 2)
    guard = NonFiniteGuard(patience=1, max_rollbacks=5)
    tr = Trainer(fresh, nn.functional.cross_entropy, "sgd", lr=0.1, seed=0, progress="off",
                 guard=guard, callbacks=[Stop()])
    with pytest.raises(KeyboardInterrupt):
        tr.fit((X, y), epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert [s["step"] for s in guard.snapshots_] == [tr.global_step] and tr.global_step > 0
    for _ in range(2):  # blow up twice in a row right after resuming
        guard.bad_step(tr, ["weight"], [torch.tensor(float("nan"))], float("nan"))
    assert torch.equal(fresh.weight, trained)


def test_a_rollback_restarts_the_count_to_the_next_snapshot():
    """Good steps undone by a rollback do not count: the older snapshot is not evicted early."""
    from types import SimpleNamespace

    from deepdojo.train import History

    net = nn.Linear(1, 1, bias=False)
    trainer = SimpleNamespace(model=net, optimizer=torch.optim.SGD(net.parameters(), lr=1.0),
                              history=History(), epoch=0, global_step=0, scheduler=None)
    guard = NonFiniteGuard(patience=1, max_rollbacks=9, snapshot_every=5, keep=2)
    guard.start(trainer)  # snapshot at step 0
    for _ in range(4):
        trainer.global_step += 1
        guard.good_step(trainer)
    guard.bad_step(trainer, ["weight"], [torch.tensor(float("nan"))], float("nan"))
    for _ in range(4):  # fewer than snapshot_every good steps since the rollback
        trainer.global_step += 1
        guard.good_step(trainer)
    assert [s["step"] for s in guard.snapshots_] == [0]
    trainer.global_step += 1
    guard.good_step(trainer)
    assert [s["step"] for s in guard.snapshots_] == [0, 9]


def test_an_infinite_gradient_with_a_finite_loss_is_skipped():
    """The host (NumPy) check of the gradients catches what the loss does not show."""

    class SqrtAtZero(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 1, bias=False)

        def forward(self, x):
            return self.lin(x).abs().sqrt()  # d sqrt(u)/du = inf at u = 0

    X, y = regression(n=20)
    X[5] = 0.0  # batch 0 (no shuffle): a finite loss, an infinite gradient
    torch.manual_seed(0)
    tr = Trainer(SqrtAtZero(), nn.MSELoss(), "sgd", lr=0.01, device="cpu", progress="off")
    hist = tr.fit((X, y), epochs=1, batch_size=10, shuffle=False)
    (event,) = [e for e in hist.events if e["kind"] == "nonfinite"]
    assert event["where"] == "parameter 'lin.weight'" and torch.isfinite(
        torch.tensor(event["loss"]))
    assert tr.global_step == 1 and torch.isfinite(tr.model.lin.weight).all()


def test_the_fused_check_tests_elements_and_leaves_gradients_unchanged():
    """Without clipping, CPU float gradients are checked element by element in one fused pass:
    NaN/Inf anywhere (or in the loss) is caught, a huge but finite gradient is not (a sum of
    squares would overflow), and no gradient changes by a single bit."""
    guard = NonFiniteGuard()
    grads = [torch.randn(4, 3), torch.randn(5, dtype=torch.float64), torch.randn(7)]
    before = [g.clone() for g in grads]
    loss = torch.tensor(0.5)
    value, finite, norms = guard.check(loss, grads, need_norms=False, host=True)
    assert (value, finite, norms) == (0.5, True, [])
    grads[2][3] = 1e30  # finite, but its square overflows float32
    assert guard.check(loss, grads, need_norms=False, host=True)[1]
    for bad in (float("nan"), float("inf"), -float("inf")):
        grads[0][1, 2] = bad
        assert not guard.check(loss, grads, need_norms=False, host=True)[1]
        grads[0][1, 2] = 0.25
        assert guard.check(loss, grads, need_norms=False, host=True)[1]  # flag was reset
    assert not guard.check(torch.tensor(float("nan")), grads, need_norms=False, host=True)[1]
    grads[0][1, 2], grads[2][3] = before[0][1, 2], before[2][3]
    for g, b in zip(grads, before, strict=True):
        assert torch.equal(g, b)


def test_a_gradient_that_requires_grad_is_left_alone_by_the_fused_check():
    """A gradient that requires grad (double backward) gets no in-place pass (its version
    stays): the norm path decides, and still catches a NaN."""
    guard = NonFiniteGuard()
    g = torch.randn(3, requires_grad=True) * 1.0  # a non-leaf that requires grad
    version = g._version
    assert guard.check(torch.tensor(1.0), [g], need_norms=False, host=True)[1]
    assert g._version == version
    bad = torch.tensor([1.0, float("nan")], requires_grad=True) * 1.0
    assert not guard.check(torch.tensor(1.0), [bad], need_norms=False, host=True)[1]


def test_snapshots_that_reuse_buffers_hold_the_state_of_their_own_step():
    """From the third snapshot on (keep=2) the evicted snapshot's tensors are refilled by one
    fused copy: each kept snapshot equals the model and Adam state when it was taken, and
    later training does not change it."""
    from types import SimpleNamespace

    from deepdojo.train import History

    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    trainer = SimpleNamespace(model=net, optimizer=opt, history=History(), epoch=0,
                              global_step=0, scheduler=None)  # fmt: skip
    guard = NonFiniteGuard(keep=2)
    X, y = regression()
    taken = []
    for step in range(5):
        nn.functional.mse_loss(net(X), y).backward()
        opt.step()
        opt.zero_grad()
        trainer.global_step = step
        guard.start(trainer) if step == 0 else guard.snapshot(trainer)
        taken.append(({k: v.clone() for k, v in net.state_dict().items()},
                      [s["exp_avg_sq"].clone() for s in opt.state.values()]))  # fmt: skip
    assert [s["step"] for s in guard.snapshots_] == [3, 4]
    for snap, (weights, avg_sq) in zip(guard.snapshots_, taken[3:], strict=True):
        assert all(torch.equal(snap["task"][k], v) for k, v in weights.items())
        kept = [s["exp_avg_sq"] for s in snap["optimizers"]["model"]["state"].values()]
        assert all(torch.equal(a, b) for a, b in zip(kept, avg_sq, strict=True))
        live = [s["exp_avg_sq"] for s in opt.state.values()]
        assert all(a.data_ptr() != b.data_ptr() for a, b in zip(kept, live, strict=True))
    assert not torch.equal(guard.snapshots_[0]["task"]["0.weight"], net[0].weight)
