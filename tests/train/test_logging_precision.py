"""Run-dir logging (JSONL/CSV), precision modes on CPU, compile flag."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch import nn

from deepdojo.train import Trainer
from deepdojo.train.logging import read_metrics


def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(32, 4, generator=g), torch.randint(0, 3, (32,), generator=g)


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_log_dir_writes_jsonl_and_csv_matching_history(tmp_path):
    X, y = data()
    tr = Trainer(net(), nn.CrossEntropyLoss(), "adam", log_dir=tmp_path / "run", device="cpu",
                 progress="off")
    hist = tr.fit((X, y), (X, y), epochs=3, batch_size=8)
    records = read_metrics(tmp_path / "run")
    assert [r["train_loss"] for r in records] == hist["train_loss"]
    assert [r["val_acc"] for r in records] == hist["val_acc"]
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and float(rows[2]["val_loss"]) == pytest.approx(hist["val_loss"][2])


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_on_cpu_trains_close_to_fp32(precision):
    X, y = data()
    ref = Trainer(net(), nn.CrossEntropyLoss(), "sgd", lr=0.1, device="cpu", progress="off")
    h32 = ref.fit((X, y), epochs=3, batch_size=8)
    tr = Trainer(net(), nn.CrossEntropyLoss(), "sgd", lr=0.1, precision=precision,
                 device="cpu", progress="off")
    h = tr.fit((X, y), epochs=3, batch_size=8)
    assert (tr._scaler is not None) == (precision == "fp16")  # GradScaler only for fp16
    assert h["train_loss"] != h32["train_loss"]  # autocast really changed the arithmetic
    assert h["train_loss"] == pytest.approx(h32["train_loss"], abs=0.05)
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())  # master weights


def test_compile_flag_uses_torch_compile(monkeypatch):
    calls = []

    def fake_compile(model, **kw):
        calls.append(model)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    model = net()
    tr = Trainer(model, nn.CrossEntropyLoss(), compile=True, device="cpu", progress="off")
    assert calls == [model]
    X, y = data()
    assert tr.fit((X, y), epochs=1).last["train_loss"] > 0


def test_fp16_overflow_is_left_to_the_grad_scaler():
    X, y = data()
    tr = Trainer(net(), nn.CrossEntropyLoss(), "sgd", lr=0.1, precision="fp16", device="cpu",
                 progress="off")
    tr._scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # guaranteed fp16 overflow
    hist = tr.fit((X, y), epochs=2, batch_size=8)
    assert tr._scaler.get_scale() < 2.0**40  # the scaler saw the overflow and backed off
    assert "nonfinite_steps" not in hist.last  # ... and the guard did not count it
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_fp16_steps_the_scaler_skipped_are_not_counted_as_updates():
    X, y = data()
    tr = Trainer(net(), nn.CrossEntropyLoss(), "sgd", lr=0.1, precision="fp16", device="cpu",
                 progress="off")
    tr._scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # first steps overflow
    before = [p.detach().clone() for p in tr.model.parameters()]
    tr.fit((X[:8], y[:8]), epochs=1, batch_size=8)  # one batch: overflow, skipped
    assert tr._scaler.get_scale() == 2.0**39  # backed off once
    assert tr.loop.optimizer_steps.get("model", 0) == 0 and tr.global_step == 0
    assert all(torch.equal(a, b) for a, b in zip(before, tr.model.parameters()))
    tr.fit((X, y), epochs=10, batch_size=8)  # more overflows while the scale comes down
    backoffs = 40 - int(math.log2(tr._scaler.get_scale()))  # growth needs 2000 good steps
    batches = 1 + 10 * math.ceil(len(X) / 8)
    assert 0 < backoffs < batches
    assert tr.loop.optimizer_steps["model"] == batches - backoffs == tr.global_step

