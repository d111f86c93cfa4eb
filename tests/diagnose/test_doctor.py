"""The Doctor callback with the Trainer: each kind reported once, findings in the history."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepdojo.diagnose import Doctor, diagnose
from deepdojo.models import create
from deepdojo.train import Callback, Trainer


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


def _hooks_left(model):
    grads = sum(len(getattr(p, "_post_accumulate_grad_hooks", None) or {})
                for p in model.parameters())
    return grads + sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_doctor_detaches_when_fit_raises_and_starts_afresh_on_the_next_fit():
    from deepdojo.train import Callback

    class Stop(Exception):
        pass

    class Interrupt(Callback):
        def on_batch_end(self, trainer, batch_idx, logs):
            if trainer.global_step == 3:
                raise Stop

    torch.manual_seed(0)
    model = create("plain_mlp", in_features=16, num_classes=4, depth=20, width=16,
                   activation="sigmoid")
    doctor = Doctor(every=1, report=None)
    trainer = Trainer(model, nn.functional.cross_entropy, "sgd", lr=0.05, device="cpu",
                      callbacks=[doctor, Interrupt()], progress="off", seed=0)
    with pytest.raises(Stop):
        trainer.fit(_data(), epochs=2, batch_size=16)
    assert _hooks_left(model) == 0  # nothing keeps recording outside training
    assert doctor.counts == {"vanishing": 3} and len(doctor.gradients.steps) == 3
    _fit(model, doctor, epochs=1)  # the same Doctor, a new fit
    assert doctor.counts == {"vanishing": 4} and doctor.checks == 4  # this fit's only
    assert _hooks_left(model) == 0


def test_a_layer_outside_the_graph_is_not_judged():
    """An unused head registered last has no gradient: x/0 must not read as 'exploding'."""

    class WithUnusedHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(16, 16)
            self.head = nn.Linear(16, 4)
            self.aux = nn.Linear(16, 2)  # not used in forward

        def forward(self, x):
            return self.head(torch.tanh(self.body(x)))

    torch.manual_seed(0)
    model = WithUnusedHead()
    assert [f.kind for f in diagnose(model, _data(), nn.functional.cross_entropy)] == ["healthy"]
    doctor = Doctor(every=1, report=None)
    _fit(model, doctor, epochs=1)
    assert doctor.kinds == ["healthy"] and doctor.checks == 4


def test_doctor_flags_exploding_and_dead_units_while_training():
    torch.manual_seed(0)
    exploding = create("plain_mlp", in_features=16, num_classes=4, depth=12, width=32,
                       activation="relu", init="he", init_gain=3.0)
    doctor = Doctor(every=1, report=None)
    trainer = Trainer(exploding, nn.functional.cross_entropy, "sgd", lr=1e-6, device="cpu",
                      callbacks=[doctor], progress="off", seed=0)
    trainer.fit(_data(), epochs=1, batch_size=16)
    assert doctor.kinds[0] == "exploding" and doctor.findings[0].step == 0
    torch.manual_seed(0)
    dead = create("plain_mlp", in_features=16, num_classes=4, depth=3, width=16)
    with torch.no_grad():
        dead.fc2.bias.fill_(-1e3)  # act2 never fires
    doctor = Doctor(every=1, report=None)
    _fit(dead, doctor, epochs=1)
    assert "dead_units" in doctor.kinds
    assert doctor.findings[doctor.kinds.index("dead_units")].layers == ["act2"]


def test_doctor_and_diagnose_reject_a_dict_of_thresholds():
    with pytest.raises(TypeError, match="thresholds must be a Thresholds, got dict"):
        Doctor(thresholds={"vanishing_ratio": 0.1})
    model = create("plain_mlp", in_features=16, num_classes=4, depth=3, width=8)
    with pytest.raises(TypeError, match="thresholds must be a Thresholds"):
        diagnose(model, _data(), nn.functional.cross_entropy, thresholds={})
    with pytest.raises(ValueError, match="batch must be a pair .* got a list of length 3"):
        diagnose(model, [1, 2, 3], nn.functional.cross_entropy)
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar tensor .*\(64,\)"):
        diagnose(model, _data(), lambda out, y: nn.functional.cross_entropy(out, y,
                                                                            reduction="none"))


class _TinyGAN:
    """A two-network task for the per-network report (built lazily: Task imports train)."""

    @staticmethod
    def make(g_scale=1.0, d_depth=2, d_act=nn.Tanh):
        from deepdojo.train import Task

        class TinyGAN(Task):
            def __init__(self):
                super().__init__()
                torch.manual_seed(0)
                self.g = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
                layers = []
                for i in range(d_depth):
                    layers += [nn.Linear(2 if i == 0 else 16, 16), d_act()]
                self.d = nn.Sequential(*layers, nn.Linear(16, 1))

            def configure_optimizers(self):
                return {"d": torch.optim.SGD(self.d.parameters(), lr=1e-6),
                        "g": torch.optim.SGD(self.g.parameters(), lr=1e-6)}

            def training_step(self, real):
                z = torch.randn(len(real), 2)
                fake = self.g(z)
                yield "d", (nn.functional.softplus(-self.d(real)).mean()
                            + nn.functional.softplus(self.d(fake.detach())).mean())
                yield "g", g_scale * nn.functional.softplus(-self.d(self.g(z))).mean()

        return TinyGAN()


def _fit_gan(task, doctor, epochs=2):
    X = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(task, callbacks=[doctor], progress="off", device="cpu", seed=0)
    return trainer, trainer.fit(X, epochs=epochs, batch_size=16)


def test_doctor_reports_each_network_of_a_gan_on_its_own_updates():
    # the generator's loss is scaled by 1e6: its gradients explode, and so would the
    # discriminator's if it were judged on the gradient the generator's loss sends through it
    doctor = Doctor(every=1, report=None)
    _, history = _fit_gan(_TinyGAN.make(g_scale=1e6), doctor)
    report = doctor.by_network()
    assert report["g"]["kinds"] == ["exploding"] and report["d"]["kinds"] == ["healthy"]
    assert report["g"]["checks"] == report["d"]["checks"] == 8  # 4 steps x 2 epochs each
    assert doctor.checks == 16 and doctor.counts == {"exploding": 8}
    (finding,) = doctor.findings
    assert finding.layers and all(layer.startswith("g.") for layer in finding.layers)
    assert finding.message.startswith("network 'g': ") and finding.step == 0
    assert history.records[0]["findings"][0]["network"] == "g"
    assert doctor.summary()["networks"] == report
    assert not any(w.activations.attached for w in doctor._watches)


def test_doctor_flags_a_vanishing_discriminator_and_a_healthy_generator():
    doctor = Doctor(every=2, report=None)
    _fit_gan(_TinyGAN.make(d_depth=12, d_act=nn.Sigmoid), doctor)
    report = doctor.by_network()
    assert "vanishing" in report["d"]["kinds"] and report["g"]["kinds"] == ["healthy"]
    assert report["d"]["checks"] == 4  # every 2nd of 8 discriminator updates
    assert {f.kind for f in doctor.findings} == set(report["d"]["kinds"])
    assert all(layer.startswith("d.") for f in doctor.findings for layer in f.layers)


def test_doctor_sees_dead_units_of_one_network_from_its_checked_steps_only():
    task = _TinyGAN.make(d_depth=2, d_act=nn.ReLU)
    with torch.no_grad():
        task.d[2].bias.fill_(-1e3)  # the discriminator's second ReLU never fires
    seen = []

    class HooksOutsideChecks(Callback):
        def on_batch_end(self, trainer, batch_idx, logs):
            seen.append(_hooks_left(task))

    doctor = Doctor(every=3, report=None)
    X = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    Trainer(task, callbacks=[doctor, HooksOutsideChecks()], progress="off", device="cpu",
            seed=0).fit(X, epochs=2, batch_size=16)
    report = doctor.by_network()
    assert "dead_units" in report["d"]["kinds"] and "dead_units" not in report["g"]["kinds"]
    finding = next(f for f in doctor.findings if f.kind == "dead_units")
    assert finding.layers == ["d.3"]
    assert report["d"]["checks"] == 3  # steps 0, 3 and 6 of 8
    assert seen == [0] * 8 and _hooks_left(task) == 0  # no hook between or after checks
