"""The Doctor callback with the Trainer: each kind reported once, findings in the history."""

from __future__ import annotations

import torch
from torch import nn

from deepdojo.diagnose import Doctor
from deepdojo.models import create
from deepdojo.train import Trainer


def _data(n=64, d=16, c=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)


def _fit(model, doctor, epochs=2):
    trainer = Trainer(model, nn.functional.cross_entropy, "sgd", lr=0.05, callbacks=[doctor],
                      progress="off", device="cpu", seed=0)
    history = trainer.fit(_data(), epochs=epochs, batch_size=16)
    return trainer, history


def test_doctor_reports_vanishing_once_and_stores_it_in_history():
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=16, num_classes=4, depth=20, width=16,
                   activation="sigmoid")
    seen = []
    doctor = Doctor(every=2, report=seen.append)
    _, history = _fit(model, doctor, epochs=3)
    assert doctor.checks == 6  # 4 steps per epoch, 3 epochs, every 2nd step
    assert [f.kind for f in seen] == ["vanishing"]  # reported once, not at every check
    assert doctor.counts["vanishing"] == 6
    assert doctor.kinds == ["vanishing"]
    assert [len(r["findings"]) for r in history.records] == [1, 0, 0]
    assert history.records[0]["findings"][0]["kind"] == "vanishing"
    assert doctor.findings[0].step == 0
    assert doctor.summary()["counts"] == {"vanishing": 6}
    assert not doctor.gradients.attached and not doctor.activations.attached
    assert all(not m._forward_hooks for m in model.modules())


def test_doctor_calls_a_healthy_residual_net_healthy():
    torch.manual_seed(0)
    model = create("resnet_mlp", in_features=16, num_classes=4, depth=8, width=16,
                   batch_norm=True)
    doctor = Doctor(every=1, report=None)
    _, history = _fit(model, doctor)
    assert doctor.kinds == ["healthy"]
    assert doctor.checks == 8
    assert all(r["findings"] == [] for r in history.records)
    assert doctor.gradients.grad_norms.shape == (8, len(doctor.gradients.layer_names))


def test_doctor_judges_unscaled_gradients_under_fp16():
    # the GradScaler multiplies the loss by 65536: the monitor sees scaled gradients, and an
    # absolute rule (any layer's norm > 1000) would call a healthy net exploding
    torch.manual_seed(0)
    model = create("resnet_mlp", in_features=16, num_classes=4, depth=4, width=16,
                   batch_norm=True)
    plain, scaled = Doctor(every=1, report=None), Doctor(every=1, report=None)
    _fit(model, plain, epochs=1)
    torch.manual_seed(0)
    model = create("resnet_mlp", in_features=16, num_classes=4, depth=4, width=16,
                   batch_norm=True)
    trainer = Trainer(model, nn.functional.cross_entropy, "sgd", lr=0.05, callbacks=[scaled],
                      precision="fp16", progress="off", device="cpu", seed=0)
    trainer.fit(_data(), epochs=1, batch_size=16)
    assert plain.kinds == ["healthy"]
    assert scaled.kinds == ["healthy"], scaled.findings
    assert scaled.checks == 4
    raw = scaled.gradients.grad_norms.max().item()
    assert raw > 1000  # what the monitor saw was scaled, so the rule would have fired on it


def test_doctor_flags_a_nan_batch_once_at_the_guards_step():
    X, y = _data()
    X[20] = float("nan")  # batch 1 of each epoch (no shuffle)
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=16, num_classes=4, depth=3, width=16)
    doctor = Doctor(every=1, report=None)
    trainer = Trainer(model, nn.functional.cross_entropy, "sgd", lr=0.05, callbacks=[doctor],
                      progress="off", device="cpu", seed=0)
    history = trainer.fit((X, y), epochs=2, batch_size=16, shuffle=False)
    assert doctor.counts["non_finite"] == 2 and doctor.kinds == ["non_finite"]
    first_skip = next(e for e in history.events if e["kind"] == "nonfinite")
    assert doctor.findings[0].step == first_skip["step"] == 1
