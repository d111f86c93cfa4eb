"""make_optimizer groups, schedules stepping per batch/epoch, ClipGrad parity with torch."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.train import ClipGrad, Trainer, make_optimizer, schedules


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))


def data(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


# ---------------------------------------------------------------- optimizers
def test_make_optimizer_skips_decay_on_bias_and_norm():
    model = net()
    opt = make_optimizer("adamw", model, 1e-3, weight_decay=0.1)
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert len(plain["params"]) == 4  # two biases + LayerNorm weight and bias
    single = make_optimizer("sgd", model, 0.1, weight_decay=0.1, decay_bias_and_norm=True)
    assert len(single.param_groups) == 1


def test_make_optimizer_per_group_lr_and_kwargs():
    model = net()
    groups = [{"params": model[0].parameters(), "lr": 1e-4}, {"params": model[3].parameters()}]
    opt = make_optimizer("sgd", groups, 0.1, momentum=0.9, nesterov=True)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 0.1]
    assert opt.param_groups[0]["nesterov"] is True
    assert isinstance(make_optimizer("RMSprop", model.parameters(), 0.01), torch.optim.RMSprop)
    with pytest.raises(ValueError, match="lr must be"):
        make_optimizer("adam", model, 0.0)


# ---------------------------------------------------------------- schedules
def fit_lrs(scheduler, epochs=3, n=40, batch_size=10, val=True) -> tuple[Trainer, list[float]]:
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = scheduler(opt) if callable(scheduler) and not isinstance(
        scheduler, schedules.Schedule) else scheduler
    seen: list[float] = []
    from deepdojo.train import Callback

    class LrSpy(Callback):
        def on_before_optimizer_step(self, trainer, optimizer):
            seen.append(optimizer.param_groups[0]["lr"])

    tr = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, callbacks=[LrSpy()],
                 device="cpu", progress="off")
    X, y = data(n)
    tr.fit((X, y), (X, y) if val else None, epochs=epochs, batch_size=batch_size)
    return tr, seen


def test_warmup_cosine_steps_per_batch():
    tr, seen = fit_lrs(schedules.warmup_cosine(warmup_steps=4), epochs=3)
    total = 12
    expected = [0.1 * schedules.warmup_cosine_factor(t, 4, total) for t in range(total)]
    assert seen == pytest.approx(expected)
    assert seen[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert tr.history["lr"] == pytest.approx([seen[3], seen[7], seen[11]])


def test_step_lr_steps_per_epoch_and_torch_instance():
    _, seen = fit_lrs(schedules.step_lr(step_size=1, gamma=0.5), epochs=3)
    assert seen == pytest.approx([0.1] * 4 + [0.05] * 4 + [0.025] * 4)
    tr, seen2 = fit_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.5), epochs=2)
    assert seen2 == pytest.approx([0.1] * 4 + [0.05] * 4)
    assert tr.history["lr"] == pytest.approx([0.1, 0.05])


def test_one_cycle_is_per_batch_and_plateau_gets_val_loss():
    _, seen = fit_lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.5, total_steps=12))
    assert len(set(seen)) == 12 and 0.45 < max(seen) <= 0.5

    class Plateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
        got: list[float] = []

        def step(self, metrics, epoch=None):
            Plateau.got.append(float(metrics))
            return super().step(metrics)

    tr, _ = fit_lrs(lambda o: Plateau(o, patience=0), epochs=2)
    assert Plateau.got == pytest.approx(tr.history["val_loss"])


def test_cosine_reaches_eta_min_and_bad_scheduler():
    tr, seen = fit_lrs(schedules.cosine(eta_min=0.0, interval="batch"), epochs=2)
    assert seen[0] == pytest.approx(0.1) and seen[-1] == pytest.approx(0.1 * (1 + math.cos(
        math.pi * 7 / 8)) / 2)
    with pytest.raises(TypeError, match="scheduler must be"):
        fit_lrs("cosine")


# ---------------------------------------------------------------- clipping
def grads_pair(seed: int = 0, scale: float = 10.0):
    torch.manual_seed(seed)
    a = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)).double()
    b = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(9, 5, dtype=torch.float64) * scale
    for m in (a, b):
        (m(x) ** 2).sum().backward()
    return a, b


@pytest.mark.parametrize("max_norm, norm_type", [(0.5, 2.0), (1e6, 2.0), (0.3, 1.0),
                                                 (0.2, math.inf)])
def test_clip_max_norm_equals_torch(max_norm, norm_type):
    a, b = grads_pair()
    total = ClipGrad(max_norm=max_norm, norm_type=norm_type)(a.parameters())
    ref = torch.nn.utils.clip_grad_norm_(b.parameters(), max_norm, norm_type=norm_type)
    torch.testing.assert_close(total, ref, rtol=0, atol=0)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=0, atol=0)


def test_clip_max_value_equals_torch():
    a, b = grads_pair()
    ClipGrad(max_value=0.7)(a.parameters())
    torch.nn.utils.clip_grad_value_(b.parameters(), 0.7)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=0, atol=0)
    assert max(p.grad.abs().max().item() for p in a.parameters()) == 0.7


def test_target_norm_and_per_layer():
    for scale in (1e-3, 10.0):  # scales small gradients up as well as big ones down
        a, _ = grads_pair(scale=scale)
        ClipGrad(target_norm=2.0)(a.parameters())
        total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in a.parameters()]))
        assert total.item() == pytest.approx(2.0, rel=1e-5)
    a, b = grads_pair()
    ClipGrad(target_norm=1.0, per_layer=True)(a.parameters())
    assert [p.grad.norm().item() for p in a.parameters()] == pytest.approx([1.0] * 4, rel=1e-5)
    ClipGrad(max_norm=0.1, per_layer=True)(b.parameters())
    norms = [p.grad.norm().item() for p in b.parameters()]
    assert max(norms) == pytest.approx(0.1, rel=1e-5)


def test_clip_in_trainer_bounds_the_update_and_bad_args():
    model = nn.Linear(4, 3)
    before = model.weight.detach().clone()
    tr = Trainer(model, nn.CrossEntropyLoss(), "sgd", lr=1.0, clip=ClipGrad(max_norm=1e-3),
                 device="cpu", progress="off")
    X, y = data(8)
    tr.fit((X * 100, y), epochs=1, batch_size=8)
    step = torch.cat([(model.weight - before).flatten(), torch.zeros(0)])
    assert step.norm().item() <= 1e-3 + 1e-7
    with pytest.raises(ValueError, match="exactly one"):
        ClipGrad(max_norm=1.0, max_value=1.0)
    with pytest.raises(ValueError, match="max_norm must be"):
        ClipGrad(max_norm=-1.0)


def test_make_optimizer_module_groups_keep_their_lr_and_skip_decay_on_bias_and_norm():
    model = net()
    backbone, head = model[:3], model[3]
    opt = make_optimizer("adamw", [{"params": backbone, "lr": 1e-4}, {"params": head}], 1e-3,
                         weight_decay=0.1)
    summary = [(g["lr"], g["weight_decay"], {id(p) for p in g["params"]})
               for g in opt.param_groups]
    assert summary == [
        (1e-4, 0.1, {id(model[0].weight)}),
        (1e-4, 0.0, {id(model[0].bias), id(model[1].weight), id(model[1].bias)}),
        (1e-3, 0.1, {id(model[3].weight)}),
        (1e-3, 0.0, {id(model[3].bias)}),
    ]


@pytest.mark.parametrize("per_layer", [False, True])
def test_clip_in_trainer_equals_a_manual_loop(per_layer):
    # the Trainer hands the guard's per-tensor norms to ClipGrad: the result must be what a
    # hand-written loop gets from torch's clip_grad_norm_ (or per-tensor clipping)
    X, y = data(24)
    X, models = X.double() * 20, []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double())
    trained, manual = models
    tr = Trainer(trained, nn.CrossEntropyLoss(), "sgd", lr=0.5,
                 clip=ClipGrad(max_norm=0.05, per_layer=per_layer), device="cpu",
                 progress="off")
    tr.fit((X, y), epochs=2, batch_size=8, shuffle=False)
    opt = torch.optim.SGD(manual.parameters(), lr=0.5)
    for _ in range(2):
        for i in range(0, 24, 8):
            nn.CrossEntropyLoss()(manual(X[i:i + 8]), y[i:i + 8]).backward()
            if per_layer:
                for p in manual.parameters():
                    torch.nn.utils.clip_grad_norm_([p], 0.05)
            else:
                torch.nn.utils.clip_grad_norm_(manual.parameters(), 0.05)
            opt.step()
            opt.zero_grad()
    for pa, pb in zip(trained.parameters(), manual.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-12, atol=1e-12)


class _NoLength(torch.utils.data.IterableDataset):
    def __iter__(self):
        gen = torch.Generator().manual_seed(0)
        for _ in range(8):
            yield torch.randn(4, generator=gen), torch.tensor(1)


def test_per_batch_schedule_needs_a_length_or_its_own_total():
    from deepdojo.train import Trainer, warmup_cosine

    loader = torch.utils.data.DataLoader(_NoLength(), batch_size=2)

    def trainer(schedule):
        return Trainer(torch.nn.Linear(4, 2), torch.nn.CrossEntropyLoss(), "sgd", lr=0.1,
                       scheduler=schedule, progress="off")

    with pytest.raises(ValueError, match="train_data has no length"):
        trainer(warmup_cosine(warmup_steps=2)).fit(loader, epochs=2)
    history = trainer(warmup_cosine(warmup_steps=2, total_steps=8)).fit(loader, epochs=2)
    assert history["lr"][-1] < 0.1  # decayed over the schedule's own 8 steps


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_make_optimizer_default_weight_decay_is_torchs_own(name):
    """Unset weight_decay means what torch means by the class (AdamW: 0.01), on the weights."""
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    opt = make_optimizer(name, model, 1e-3)
    cls = type(opt)
    expect = cls([torch.zeros(1, requires_grad=True)], lr=1e-3).defaults["weight_decay"]
    assert opt.param_groups[0]["weight_decay"] == expect
    assert all(g["weight_decay"] == 0.0 for g in opt.param_groups[1:])  # biases and norms
    assert (name == "adamw") == (expect > 0)


def test_history_records_every_groups_rate_when_there_are_several():
    """Fine-tuning groups follow the schedule each at its own rate; the history keeps all."""
    model = net()
    groups = [{"params": model[0].parameters(), "lr": 0.01}, {"params": model[3].parameters()}]
    opt = make_optimizer("sgd", groups, 0.1)
    tr = Trainer(model, nn.CrossEntropyLoss(), opt, device="cpu", progress="off",
                 scheduler=torch.optim.lr_scheduler.ExponentialLR(opt, 0.5))
    X, y = data(40)
    tr.fit((X, y), epochs=2, batch_size=10)
    assert [pytest.approx(r) for r in tr.history["lrs"]] == [[0.01, 0.1], [0.005, 0.05]]
    assert tr.history["lr"] == pytest.approx([0.01, 0.005])  # group 0, as before
    single, _ = fit_lrs(schedules.step_lr(step_size=1, gamma=0.5), epochs=1)
    assert "lrs" not in single.history.records[0]
