"""The Trainer's low-overhead paths give the same numbers as the plain ones (issue 13).

- The default accuracy is copied into a buffer and scored in bulk (one ``argmax`` and one host
  read per up to 64 steps) when no callback reads per-batch logs; the epoch means must be
  bit-identical to scoring every step eagerly (forced here by a callback that reads
  ``on_batch_end``).
- Under fp16 with the guard on, the GradScaler's scale is read only when the guard saw the
  gradients overflow: a step whose gradients are finite is applied without a host read.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from deepdojo.train import Callback, Trainer
from deepdojo.train.metrics import _multiclass_accuracy
from deepdojo.train.step import _BUFFER_STEPS, TrainerContext


def _data(n: int = 1000, d: int = 6, c: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, c, (n,), generator=g)
    X = torch.randn(c, d, generator=g)[y] * 0.7 + torch.randn(n, d, generator=g)
    return X, y


def _net(d: int = 6, c: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, c))


class ReadsBatchLogs(Callback):
    """Forces per-step (eager) accuracy and records what each step logged."""

    def __init__(self) -> None:
        self.acc: list[float] = []

    def on_batch_end(self, trainer, batch_idx, logs) -> None:
        self.acc.append(logs["acc"])


def _fit(data, callbacks=(), epochs: int = 3, batch_size: int = 7):
    tr = Trainer(_net(), nn.CrossEntropyLoss(), "adam", lr=1e-2, device="cpu", progress="off",
                 callbacks=list(callbacks))  # fmt: skip
    hist = tr.fit(data, epochs=epochs, batch_size=batch_size)
    return tr, hist


@pytest.mark.parametrize("slots", [5, _BUFFER_STEPS])
def test_bulk_accuracy_is_bit_identical_to_eager_accuracy(slots, monkeypatch):
    import deepdojo.train.step as step_module

    monkeypatch.setattr(step_module, "_BUFFER_STEPS", slots)
    X, y = _data()  # 1000 rows / batch 7: 143 steps and a short last batch: several flushes
    assert len(X) // 7 > 2 * _BUFFER_STEPS
    bulk_tr, bulk = _fit((X, y))
    reader = ReadsBatchLogs()
    eager_tr, eager = _fit((X, y), [reader])
    ctx = bulk_tr._context
    assert ctx.deferring is False and not ctx.pending and ctx.buffer is None  # reset, freed
    assert [r["train_acc"] for r in bulk.records] == [r["train_acc"] for r in eager.records]
    assert [r["train_loss"] for r in bulk.records] == [r["train_loss"] for r in eager.records]
    assert list(bulk.records[0]) == list(eager.records[0])  # same keys, same order
    # the eager per-step values, weighted by batch size, give the epoch mean of the last epoch
    steps = -(-len(X) // 7)
    sizes = [7] * (steps - 1) + [len(X) - 7 * (steps - 1)]
    last = reader.acc[-steps:]
    expected = sum(a * n for a, n in zip(last, sizes, strict=True)) / len(X)
    assert eager.last["train_acc"] == expected


def test_bulk_accuracy_over_a_dataloader_matches_eager():
    X, y = _data(300)
    torch.manual_seed(1)
    a = _fit(DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True), epochs=2)[1]
    torch.manual_seed(1)
    b = _fit(DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True), [ReadsBatchLogs()],
             epochs=2)[1]  # fmt: skip
    assert [r["train_acc"] for r in a.records] == [r["train_acc"] for r in b.records]


def test_default_accuracy_matches_torch_argmax_scored_at_once_or_buffered():
    """Eager CPU scoring (NumPy views) and the buffered bulk path both break ties and treat
    NaN/Inf exactly as torch's ``argmax`` does, and a buffered step keeps nothing of its own
    alive (see TrainerContext)."""
    import weakref

    nan, inf = float("nan"), float("inf")
    ties = torch.tensor([[1.0, 3.0, 3.0], [nan, 2.0, nan], [0.0, inf, nan], [-inf, -inf, -inf],
                         [2.0, 2.0, 2.0], [0.5, -1.0, 0.2]])  # fmt: skip
    g = torch.Generator().manual_seed(5)
    cases = [lambda: (ties.clone(), torch.tensor([1, 0, 2, 1, 0, 0])),
             lambda: (torch.randn(33, 10, generator=g).double(),
                      torch.randint(0, 10, (33,), generator=g)),
             lambda: (torch.randn(8, 4, generator=g)[:, ::2],  # a strided view
                      torch.randint(0, 2, (8,), dtype=torch.int32, generator=g))]  # fmt: skip
    for case in cases:
        out, tgt = case()
        torch_count = (out.argmax(dim=1) == tgt).sum().item() / tgt.numel()  # torch's argmax
        eager = TrainerContext(lambda: None)  # deferring off: logged at once
        eager.defer_accuracy("acc", out, tgt)
        assert eager.logged == {"acc": torch_count} and eager.pending == []
        assert _multiclass_accuracy(out, tgt) == torch_count  # the metric's CPU path too
        bulk = TrainerContext(lambda: None)
        bulk.deferring = True
        bulk.n = 3
        ref = weakref.ref(out)
        bulk.defer_accuracy("acc", out, tgt)
        assert bulk.logged == {} and bulk.slots == 1 and _kept(bulk) == []  # buffered
        del out
        assert ref() is None  # nothing holds the step's outputs
        loop = type("Loop", (), {"sums": {}, "counts": {}})()
        bulk.flush(loop)
        assert loop.sums == {"acc": torch_count * 3} and loop.counts == {"acc": 3}


def _kept(ctx):
    """Rows of the pending steps kept as they are (not in the buffer), in order."""
    return [p[2].numel() for p in ctx.pending if not isinstance(p[1], int)]


def _loop():
    return type("Loop", (), {"sums": {}, "counts": {}})()


def test_context_flush_scores_buffered_and_kept_steps_in_step_order(monkeypatch):
    import deepdojo.train.step as step_module

    monkeypatch.setattr(step_module, "_BUFFER_STEPS", 3)
    g = torch.Generator().manual_seed(3)
    ctx = TrainerContext(lambda: None)
    ctx.deferring = True

    def batch(n, dtype=torch.bfloat16, c=5):
        return torch.randn(n, c, generator=g).to(dtype), torch.randint(0, c, (n,), generator=g)

    # rows 4 make the buffer; 9 rows fit no slot (kept); 1 row is a short batch in a slot;
    # float32 outputs are another dtype (kept); 6 rows again kept
    steps = [batch(4), batch(9), batch(1), batch(3, torch.float32), batch(6)]
    weights = (10, 20, 30, 40, 50)
    full = []
    for n, (out, tgt) in zip(weights, steps, strict=True):
        ctx.n = n  # the step's weight in the epoch sums
        ctx.defer_accuracy("acc", out, tgt)
        full.append(ctx.full)
    assert ctx.logged == {} and len(ctx.pending) == 5 and ctx.slots == 2
    assert full == [False, True, False, True, True]  # the epoch loop would flush after a kept
    assert _kept(ctx) == [9, 3, 6]
    loop = _loop()
    ctx.flush(loop)
    expected = 0.0  # the eager values, added in step order
    for n, (out, tgt) in zip(weights, steps, strict=True):
        expected = expected + _multiclass_accuracy(out, tgt) * n
    assert loop.sums == {"acc": expected} and loop.counts == {"acc": 150}
    assert ctx.pending == [] and ctx.slots == 0 and not ctx.full

    same = [batch(8) for _ in range(3)]  # a larger batch at slot 0: a new buffer of 8 rows
    for i, (out, tgt) in enumerate(same):
        ctx.n = 8
        ctx.defer_accuracy("acc", out, tgt)
        assert ctx.full == (i == 2)  # three slots used: no room for a fourth step
    assert ctx.buffer.rows == 8 and _kept(ctx) == []  # all three in the buffer
    loop2 = _loop()
    ctx.flush(loop2)
    want = 0.0
    for out, tgt in same:
        want = want + _multiclass_accuracy(out, tgt) * 8
    assert loop2.sums == {"acc": want} and loop2.counts == {"acc": 24}
    ctx.deferring = False  # eager: the value is logged at once
    ctx.defer_accuracy("acc", *steps[1])
    assert ctx.logged == {"acc": _multiclass_accuracy(*steps[1])}
    ctx.reset(release=True)
    assert ctx.buffer is None


def test_accuracy_buffer_holds_a_bounded_number_of_values(monkeypatch):
    import deepdojo.train.step as step_module

    monkeypatch.setattr(step_module, "_BUFFER_NUMBERS", 1000)
    ctx = TrainerContext(lambda: None)
    ctx.deferring = True
    ctx.defer_accuracy("acc", torch.zeros(32, 10), torch.zeros(32, dtype=torch.long))
    assert len(ctx.buffer.views) == 3 and ctx.buffer.outputs.shape == (96, 10)
    ctx.reset()
    ctx.defer_accuracy("acc", torch.zeros(200, 10), torch.zeros(200, dtype=torch.long))
    assert len(ctx.buffer.views) == 1 and ctx.full  # one slot, at least


def test_accuracy_buffer_edge_cases_keep_the_eager_values(monkeypatch):
    """Outputs that still require grad, more steps than slots between flushes (a task logging
    twice a step), and a batch larger than the buffer (the next buffer takes its size)."""
    import deepdojo.train.step as step_module

    monkeypatch.setattr(step_module, "_BUFFER_STEPS", 2)
    g = torch.Generator().manual_seed(4)
    ctx = TrainerContext(lambda: None)
    ctx.deferring = True
    w = torch.randn(3, 4, generator=g, requires_grad=True)
    steps = [(torch.randn(5, 3, generator=g) @ w, torch.randint(0, 4, (5,), generator=g))
             for _ in range(3)]  # outputs in an autograd graph  # fmt: skip
    for out, tgt in steps:  # three in a row: the third finds no slot and is kept
        ctx.defer_accuracy("acc", out, tgt)
    assert ctx.slots == 2 and ctx.full and not ctx.buffer.outputs.requires_grad
    loop = _loop()
    ctx.flush(loop)
    expected = 0.0
    for out, tgt in steps:
        expected = expected + _multiclass_accuracy(out.detach(), tgt)
    assert loop.sums == {"acc": expected}
    big = (torch.randn(9, 4, generator=g), torch.randint(0, 4, (9,), generator=g))
    small = (torch.randn(5, 4, generator=g), torch.randint(0, 4, (5,), generator=g))
    ctx.defer_accuracy("acc", *small)
    ctx.defer_accuracy("acc", *big)  # larger than the buffer's 5 rows: kept
    assert ctx.slots == 1 and ctx.full and ctx.buffer.rows == 5
    ctx.flush(_loop())
    ctx.defer_accuracy("acc", *small)  # the next buffer is made for 9 rows
    ctx.defer_accuracy("acc", *big)
    assert ctx.buffer.rows == 9 and ctx.slots == 2 and _kept(ctx) == []


def test_guard_flag_is_a_cpu_float32_tensor_whatever_the_defaults():
    import copy
    import pickle

    from deepdojo.train.guard import NonFiniteGuard

    bad = [torch.tensor([1.0, float("inf")]), torch.ones(3)]
    dtype = torch.get_default_dtype()
    try:
        torch.set_default_device("meta")  # a CUDA default device would do the same
        guard = NonFiniteGuard()
        torch.set_default_device("cpu")
        torch.set_default_dtype(torch.float64)
        guard2 = NonFiniteGuard()
    finally:
        torch.set_default_device(None)
        torch.set_default_dtype(dtype)
    for g in (guard, guard2, copy.deepcopy(guard), pickle.loads(pickle.dumps(guard))):
        assert g._found.device.type == "cpu" and g._found.dtype == torch.float32
        assert g.check(torch.tensor(1.0), bad, False, True)[1] is False  # flag read and reset
        assert g.check(torch.tensor(1.0), bad[1:], False, True)[1] is True
    assert copy.deepcopy(guard)._found_view is not guard._found_view  # a copy's own flag


def test_fp16_with_guard_reads_the_scale_only_after_an_overflow(monkeypatch):
    X, y = _data(64)
    tr = Trainer(_net(), nn.CrossEntropyLoss(), "sgd", lr=0.1, precision="fp16", device="cpu",
                 progress="off")  # fmt: skip
    tr._scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # the first steps overflow
    reads = []
    original = tr._scaler.get_scale
    monkeypatch.setattr(tr._scaler, "get_scale", lambda: reads.append(1) or original())
    tr.fit((X, y), epochs=4, batch_size=8)  # 32 steps
    backoffs = 40 - round(torch.log2(torch.tensor(original())).item())
    assert 0 < backoffs < 32
    assert tr.loop.optimizer_steps["model"] == 32 - backoffs == tr.global_step
    assert len(reads) == 2 * backoffs  # before and after each overflowed step, none otherwise


def test_zero_grad_clears_every_gradient_and_calls_an_overriding_optimizer():
    """The Trainer's zero_grad (torch's set_to_none loop without its wrappers) leaves no
    gradient after an update, gives the same weights as optimizer.zero_grad, and an optimizer
    that overrides zero_grad still has it called once per update."""

    class CountingSGD(torch.optim.SGD):
        calls = 0

        def zero_grad(self, set_to_none: bool = True) -> None:
            type(self).calls += 1
            super().zero_grad(set_to_none)

    class SeesGrads(Callback):
        def __init__(self) -> None:
            self.before: list[bool] = []

        def on_batch_start(self, trainer, batch_idx, batch) -> None:
            self.before.append(any(p.grad is not None for p in trainer.model.parameters()))

    X, y = _data(n=60)
    weights = []
    for opt_cls in (torch.optim.SGD, CountingSGD):
        net = _net()
        seen = SeesGrads()
        tr = Trainer(net, nn.CrossEntropyLoss(), opt_cls(net.parameters(), lr=0.1),
                     device="cpu", progress="off", callbacks=[seen])  # fmt: skip
        tr.fit((X, y), epochs=2, batch_size=20)
        assert not any(seen.before) and all(p.grad is None for p in net.parameters())
        weights.append([p.detach().clone() for p in net.parameters()])
    assert CountingSGD.calls == 6  # 3 updates per epoch, 2 epochs
    assert all(torch.equal(a, b) for a, b in zip(*weights, strict=True))
