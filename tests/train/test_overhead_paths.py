"""The Trainer's low-overhead paths give the same numbers as the plain ones (issue 13).

- The default accuracy is scored in bulk (one ``argmax`` and one host read per up to 32 steps)
  when no callback reads per-batch logs; the epoch means must be bit-identical to scoring
  every step eagerly (forced here by a callback that reads ``on_batch_end``).
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
from deepdojo.train.step import _FLUSH_STEPS, TrainerContext


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


@pytest.mark.parametrize("flush_steps", [32, _FLUSH_STEPS])
def test_bulk_accuracy_is_bit_identical_to_eager_accuracy(flush_steps, monkeypatch):
    import deepdojo.train.epoch as epoch_module

    monkeypatch.setattr(epoch_module, "_FLUSH_STEPS", flush_steps)
    X, y = _data()  # 1000 rows / batch 7: 143 steps and a short last batch; at 32: several flushes
    assert len(X) // 7 > 3 * 32 and len(X) // 7 < _FLUSH_STEPS  # default: once per epoch
    bulk_tr, bulk = _fit((X, y))
    reader = ReadsBatchLogs()
    eager_tr, eager = _fit((X, y), [reader])
    assert bulk_tr._context.deferring is False and not bulk_tr._context.pending  # reset
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


def test_cpu_accuracy_is_scored_at_once_on_numpy_views_like_torch():
    """CPU outputs are never kept past their step (see TrainerContext), and NumPy's argmax
    breaks ties and treats NaN/Inf exactly as torch's does."""
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
    ctx = TrainerContext(lambda: None)
    ctx.deferring = True
    for case in cases:
        out, tgt = case()
        ctx.logged = {}
        ref = weakref.ref(out)
        ctx.defer_accuracy("acc", out, tgt)
        torch_count = (out.argmax(dim=1) == tgt).sum().item() / tgt.numel()  # torch's argmax
        assert ctx.logged == {"acc": torch_count} and ctx.pending == []
        assert _multiclass_accuracy(out, tgt) == torch_count  # the metric's CPU path too
        del out
        assert ref() is None  # nothing holds the step's outputs


def test_context_flush_scores_each_pending_step_like_the_metric():
    # bfloat16 has no NumPy view: these CPU steps take the deferred path other devices take
    g = torch.Generator().manual_seed(3)
    ctx = TrainerContext(lambda: None)
    ctx.deferring = True
    batches = [(torch.randn(n, 5, generator=g).bfloat16(),
                torch.randint(0, 5, (n,), generator=g)) for n in (4, 9, 1, 6)]  # fmt: skip
    for n, (out, tgt) in zip((10, 20, 30, 40), batches, strict=True):
        ctx.n = n  # the step's weight in the epoch sums
        ctx.defer_accuracy("acc", out, tgt)
    assert ctx.logged == {} and len(ctx.pending) == 4

    class Loop:
        sums: dict = {}
        counts: dict = {}

    loop = Loop()
    ctx.flush(loop)
    expected = 0.0
    for n, (out, tgt) in zip((10, 20, 30, 40), batches, strict=True):
        expected = expected + _multiclass_accuracy(out, tgt) * n
    assert loop.sums == {"acc": expected} and loop.counts == {"acc": 100}
    assert ctx.pending == [] and ctx.pending_rows == 0
    same = [(torch.randn(8, 5, generator=g).bfloat16(), torch.randint(0, 5, (8,), generator=g))
            for _ in range(5)]  # fmt: skip
    for out, tgt in same:  # equal batch sizes: the (k, N) row-sum path
        ctx.n = 8
        ctx.defer_accuracy("acc", out, tgt)
    loop2 = type("Loop2", (), {"sums": {}, "counts": {}})()
    ctx.flush(loop2)
    want = 0.0
    for out, tgt in same:
        want = want + _multiclass_accuracy(out, tgt) * 8
    assert loop2.sums == {"acc": want} and loop2.counts == {"acc": 40}
    ctx.deferring = False  # eager: the value is logged at once
    ctx.defer_accuracy("acc", *batches[1])
    assert ctx.logged == {"acc": _multiclass_accuracy(*batches[1])}


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
