"""Monitors return the same numbers as a manual computation, and leave no hook behind."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from deepdojo.diagnose import (
    ActivationMonitor,
    GradientMonitor,
    activation_stats,
    diagnose,
    weight_layers,
)
from deepdojo.models import create


def _data(n=16, d=12, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)


def _manual_step(model, x, y, opt, names):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    mods = [model.get_submodule(n) for n in names]
    grads = [m.weight.grad.norm().item() for m in mods]
    weights = [m.weight.detach().clone() for m in mods]
    opt.step()
    opt.zero_grad()
    return grads, weights


def test_gradient_monitor_matches_manual_norms_and_update_ratios():
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=12, num_classes=5, depth=4, width=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = _data()
    manual_g, manual_w = [], []
    with GradientMonitor(model, update_every=1) as mon:
        for _ in range(3):
            g, w = _manual_step(model, x, y, opt, ["fc1", "fc2", "fc3", "out"])
            manual_g.append(g)
            manual_w.append(w)
    assert mon.layer_names == ["fc1", "fc2", "fc3", "out"]
    assert mon.steps == [0, 1, 2]
    torch.testing.assert_close(mon.grad_norms, torch.tensor(manual_g, dtype=torch.float64),
                               rtol=1e-5, atol=0)
    wn = torch.tensor([[w.norm().item() for w in ws] for ws in manual_w], dtype=torch.float64)
    torch.testing.assert_close(mon.weight_norms, wn, rtol=1e-5, atol=0)
    ratios = mon.update_ratios
    assert torch.isnan(ratios[0]).all()
    for t in (1, 2):
        expect = [(manual_w[t][i] - manual_w[t - 1][i]).norm().item() / manual_w[t][i].norm().item()
                  for i in range(4)]
        torch.testing.assert_close(ratios[t], torch.tensor(expect, dtype=torch.float64),
                                   rtol=1e-4, atol=1e-9)
    assert (ratios[1:] > 0).all()


def test_every_records_every_kth_backward_with_the_update_of_the_step_before():
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _data()
    ws = []
    with GradientMonitor(model, every=2, update_every=1) as mon:
        for _ in range(5):
            _, w = _manual_step(model, x, y, opt, ["fc1", "fc2", "out"])
            ws.append(w)
    assert mon.steps == [0, 2, 4]
    expect = (ws[2][0] - ws[1][0]).norm() / ws[2][0].norm()
    assert math.isclose(mon.update_ratios[1, 0].item(), expect.item(), rel_tol=1e-4)


def test_detach_removes_every_hook_and_stops_recording():
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    x, y = _data()
    mon = GradientMonitor(model).attach()
    assert mon.attached
    nn.functional.cross_entropy(model(x), y).backward()
    mon.detach()
    assert not mon.attached
    for p in model.parameters():
        assert not getattr(p, "_post_accumulate_grad_hooks", None)
    nn.functional.cross_entropy(model(x), y).backward()
    assert mon.steps == [0]
    acts = ActivationMonitor(model).attach()
    acts.detach()
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_layer_with_several_weights_and_unused_layer():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(3, 4, batch_first=True)
            self.unused = nn.Linear(4, 4)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    torch.manual_seed(0)
    net = Net()
    assert [n for n, _ in weight_layers(net)] == ["rnn", "unused", "head"]
    with GradientMonitor(net) as mon:
        net(torch.randn(2, 5, 3)).square().sum().backward()
    rnn = math.hypot(net.rnn.weight_ih_l0.grad.norm().item(),
                     net.rnn.weight_hh_l0.grad.norm().item())
    g = mon.grad_norms[0]
    assert math.isclose(g[0].item(), rnn, rel_tol=1e-5)
    assert g[1].item() == 0.0
    assert mon.latest()["head"]["grad_norm"] == pytest.approx(net.head.weight.grad.norm().item())


def test_activation_stats_by_hand():
    y = torch.tensor([[0.001, 0.5, 0.999, 0.3]])
    stats = activation_stats(y, "sigmoid", eps=0.02)
    assert stats[2].item() == pytest.approx(0.5)
    assert math.isnan(stats[3].item())
    t = torch.tensor([[-0.99, 0.1], [0.2, 0.995]])
    assert activation_stats(t, "tanh")[2].item() == pytest.approx(0.5)
    r = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # unit 0 never positive
    s = activation_stats(r, "rectifier")
    assert s[3].item() == pytest.approx(1 / 3)
    assert s[0].item() == pytest.approx(r.mean().item())
    assert s[1].item() == pytest.approx(r.std(correction=0).item())


def test_activation_monitor_sees_dead_units_and_skips_eval_passes():
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    with torch.no_grad():
        model.fc2.bias[:6] = -1e3  # 6 of 8 units of act2 can never fire
        model.fc2.bias[6:] = 1e3  # and the other 2 always do
    x, _ = _data()
    with ActivationMonitor(model, training_only=True) as mon:
        model(x)
        model.eval()
        model(x)
    latest = mon.latest()
    assert list(latest) == ["act1", "act2"]
    assert latest["act2"]["dead"] == pytest.approx(6 / 8)
    assert len(mon.history("dead")) == 1
    with pytest.raises(ValueError, match="stat must be one of"):
        mon.history("median")


def test_bad_arguments():
    with pytest.raises(ValueError, match="every must be a positive int"):
        GradientMonitor(nn.Linear(2, 2), every=0)
    with pytest.raises(ValueError, match="update_every must be a positive int"):
        GradientMonitor(nn.Linear(2, 2), update_every=True)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        ActivationMonitor("net")
    with pytest.raises(ValueError, match="no weight layer"):
        GradientMonitor(nn.ReLU()).attach()


def test_layers_of_the_same_shape_are_grouped_without_mixing_up_the_order():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2), nn.Tanh(),
                        nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 4))
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    x = torch.randn(8, 4)
    with GradientMonitor(net) as mon:
        for _ in range(2):
            before = [net[i].weight.detach().clone() for i in (0, 2, 4, 6)]
            net(x).pow(3).mean().backward()
            grads = [net[i].weight.grad.norm().item() for i in (0, 2, 4, 6)]
            opt.step()
            opt.zero_grad()
    after = [net[i].weight.detach() for i in (0, 2, 4, 6)]
    assert mon.layer_names == ["0", "2", "4", "6"]
    torch.testing.assert_close(mon.grad_norms[1], torch.tensor(grads, dtype=torch.float64),
                               rtol=1e-5, atol=0)
    torch.testing.assert_close(mon.weight_norms[1],
                               torch.tensor([b.norm().item() for b in before], dtype=torch.float64),
                               rtol=1e-5, atol=0)
    assert len({round(v, 6) for v in mon.grad_norms[1].tolist()}) == 4
    assert after[0].shape == after[3].shape


def test_track_weights_false_keeps_only_gradient_norms():
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _data()
    with GradientMonitor(model, track_weights=False) as mon:
        grads, _ = _manual_step(model, x, y, opt, ["fc1", "fc2", "out"])
        _manual_step(model, x, y, opt, ["fc1", "fc2", "out"])
    torch.testing.assert_close(mon.grad_norms[0], torch.tensor(grads, dtype=torch.float64),
                               rtol=1e-5, atol=0)
    assert torch.isnan(mon.weight_norms).all() and torch.isnan(mon.update_ratios).all()


def test_weight_snapshot_is_preallocated_reused_and_freed_on_detach():
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = _data()
    mon = GradientMonitor(model, update_every=1).attach()
    buffers = [t.data_ptr() for t in mon._snapshot]
    assert len(buffers) == 3  # one per tracked weight, allocated by attach()
    before = []
    for _ in range(3):
        _, w = _manual_step(model, x, y, opt, ["fc1", "fc2", "out"])
        before.append(w)
        assert [t.data_ptr() for t in mon._snapshot] == buffers  # no per-step allocation
    mon.detach()
    assert mon._snapshot == []
    _manual_step(model, x, y, opt, ["fc1", "fc2", "out"])  # weights move while detached
    with mon:
        _, w = _manual_step(model, x, y, opt, ["fc1", "fc2", "out"])
        _, w2 = _manual_step(model, x, y, opt, ["fc1", "fc2", "out"])
    ratios = mon.update_ratios  # (5, 3): records 0-2, then 3-4 after re-attaching
    assert mon.steps == [0, 1, 2, 3, 4]
    assert torch.isnan(ratios[3]).all()  # first record after attach has no previous weights
    expect = [((w2[i] - w[i]).norm() / w2[i].norm()).item() for i in range(3)]
    torch.testing.assert_close(ratios[4], torch.tensor(expect, dtype=torch.float64),
                               rtol=1e-4, atol=1e-9)
    adam = [((before[2][i] - before[1][i]).norm() / before[2][i].norm()).item() for i in range(3)]
    torch.testing.assert_close(ratios[2], torch.tensor(adam, dtype=torch.float64),
                               rtol=1e-4, atol=1e-9)


def test_leaky_and_smooth_rectifiers_are_never_dead():
    # a LeakyReLU/GELU unit with only negative inputs still passes a gradient: not dead,
    # and the doctor must not prescribe "LeakyReLU instead of ReLU" to a LeakyReLU net
    x, y = _data()
    for act in (nn.LeakyReLU(0.1), nn.GELU(), nn.ELU()):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(12, 8), act, nn.Linear(8, 5))
        with torch.no_grad():
            model[0].bias.fill_(-1e3)  # every unit's input is negative
        with ActivationMonitor(model) as mon:
            model(x)
        stats = mon.latest()["1"]
        assert math.isnan(stats["dead"]) and stats["mean"] <= 0
        assert "dead_units" not in {f.kind for f in diagnose(model, (x, y), F.cross_entropy)}
    relu = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 5))
    with torch.no_grad():
        relu[0].bias.fill_(-1e3)
    assert "dead_units" in {f.kind for f in diagnose(relu, (x, y), F.cross_entropy)}


def _train(model, steps, mon_kwargs=None, lr=0.05, seed=0):
    """``steps`` Adam steps under a GradientMonitor; returns it and the manual numbers."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = _data()
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    grads, norms, deltas = [], [], []
    with GradientMonitor(model, **(mon_kwargs or {})) as mon:
        prev = None
        for _ in range(steps):
            F.cross_entropy(model(x), y).backward()
            now = [w.detach().clone() for w in weights]
            grads.append([w.grad.norm().item() for w in weights])
            norms.append([w.norm().item() for w in now])
            deltas.append([math.nan] * len(now) if prev is None else
                          [(a - b).norm().item() / a.norm().item() for a, b in zip(now, prev)])
            prev = now
            opt.step()
            opt.zero_grad()
    as64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return mon, as64(grads), as64(norms), as64(deltas)


def test_update_ratio_is_measured_exactly_on_every_update_every_th_record():
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    mon, _, _, deltas = _train(model, 9, {"update_every": 4})
    ratios = mon.update_ratios
    measured = [t for t in range(9) if not torch.isnan(ratios[t]).any()]
    assert measured == [4, 8]  # record 0 has no step before it
    assert torch.isnan(ratios[[0, 1, 2, 3, 5, 6, 7]]).all()
    torch.testing.assert_close(ratios[measured], deltas[measured], rtol=1e-4, atol=1e-9)
    assert mon.weight_norms.isfinite().all()  # weight norms stay on every record


def test_host_and_device_paths_record_the_same_numbers(monkeypatch):
    """The NumPy (host) path and the torch._foreach (device) path agree with the manual norms."""
    results = []
    for force_device in (False, True):
        if force_device:
            monkeypatch.setattr("deepdojo.diagnose.monitors._host_view", lambda t: None)
        torch.manual_seed(0)
        model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
        mon, grads, norms, deltas = _train(model, 4, {"update_every": 1})
        assert mon.path == ("device" if force_device else "host")
        torch.testing.assert_close(mon.grad_norms, grads, rtol=1e-5, atol=0)
        torch.testing.assert_close(mon.weight_norms, norms, rtol=1e-5, atol=0)
        torch.testing.assert_close(mon.update_ratios[1:], deltas[1:], rtol=1e-4, atol=1e-9)
        results.append(mon.update_ratios)
    torch.testing.assert_close(results[0], results[1], rtol=1e-4, atol=0, equal_nan=True)


def test_weights_replaced_after_attach_are_followed():
    """``model.double()`` swaps every weight's storage: the monitor re-binds to the new ones."""
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    x, y = _data()
    with GradientMonitor(model, update_every=1) as mon:
        F.cross_entropy(model(x), y).backward()
        model.double()
        model.zero_grad()
        F.cross_entropy(model(x.double()), y).backward()
        expect = [m.weight.grad.norm().item() for m in (model.fc1, model.fc2, model.out)]
        norms = [m.weight.norm().item() for m in (model.fc1, model.fc2, model.out)]
    assert mon.steps == [0, 1]
    torch.testing.assert_close(mon.grad_norms[1], torch.tensor(expect, dtype=torch.float64),
                               rtol=1e-12, atol=0)
    torch.testing.assert_close(mon.weight_norms[1], torch.tensor(norms, dtype=torch.float64),
                               rtol=1e-12, atol=0)
    assert torch.isnan(mon.update_ratios[1]).all()  # no previous weights after the swap


def test_huge_float32_gradients_do_not_overflow_the_norm():
    """A float32 sum of squares overflows above ~1.8e19; the monitor redoes it in float64."""
    net = nn.Linear(4, 3, bias=False)
    with GradientMonitor(net) as mon:
        (net(torch.ones(2, 4)).sum() * 1e30).backward()
    expect = torch.linalg.vector_norm(net.weight.grad.double()).item()
    assert math.isfinite(expect)
    assert mon.grad_norms[0, 0].item() == pytest.approx(expect, rel=1e-6)


def test_sparse_embedding_gradients():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Embedding(10, 4, sparse=True), nn.Flatten(), nn.Linear(8, 2))
    with GradientMonitor(net) as mon:
        net(torch.tensor([[1, 3], [3, 5]])).square().sum().backward()
    dense = net[0].weight.grad.to_dense().norm().item()
    assert mon.grad_norms[0, 0].item() == pytest.approx(dense, rel=1e-6)
    assert mon.grad_norms[0, 1].item() == pytest.approx(net[2].weight.grad.norm().item(), rel=1e-6)


def test_update_ratio_survives_a_hand_written_update_that_replaces_p_data():
    """``p.data = p.data - lr * p.grad`` moves every weight to new storage at every step."""
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    x, y = _data()
    layers = (model.fc1, model.fc2, model.out)
    expect, prev = [], None
    with GradientMonitor(model, update_every=1) as mon:
        for _ in range(4):
            F.cross_entropy(model(x), y).backward()
            now = [m.weight.detach().clone() for m in layers]
            if prev is not None:
                expect.append([(a - b).norm().item() / a.norm().item() for a, b in zip(now, prev)])
            prev = now
            for p in model.parameters():
                p.data = p.data - 0.5 * p.grad
                p.grad = None
    assert mon.path == "host"
    torch.testing.assert_close(mon.update_ratios[1:], torch.tensor(expect, dtype=torch.float64),
                               rtol=1e-4, atol=1e-9)


def test_weights_shrunk_in_place_are_measured_whole_again():
    """Pruning by slicing keeps the data pointer; the monitor must still see the new size."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.randn(16, 6)
    with GradientMonitor(model) as mon:
        model(x).square().mean().backward()
        model.zero_grad()
        model[0].weight.data = model[0].weight.data[:4]  # same data_ptr, half the rows
        model[0].bias.data = model[0].bias.data[:4]
        model[2].weight.data = model[2].weight.data[:, :4].contiguous()
        model(x).square().mean().backward()
    assert mon.path == "host"
    expect = [model[0].weight.norm().item(), model[2].weight.norm().item()]
    torch.testing.assert_close(mon.weight_norms[1], torch.tensor(expect, dtype=torch.float64),
                               rtol=1e-6, atol=0)
    grads = [model[0].weight.grad.norm().item(), model[2].weight.grad.norm().item()]
    torch.testing.assert_close(mon.grad_norms[1], torch.tensor(grads, dtype=torch.float64),
                               rtol=1e-6, atol=0)


def test_records_take_one_float64_table_row_each():
    model = create("plain_mlp", in_features=12, num_classes=5, depth=3, width=8)
    x, y = _data()
    with GradientMonitor(model) as mon:
        for _ in range(300):  # past the first 256-row block
            F.cross_entropy(model(x), y).backward()
    assert mon._rows == list(range(300)) and mon._host_table.shape[1] == 9
    assert mon.grad_norms.shape == (300, 3) and mon.grad_norms.isfinite().all()
    mon.reset()
    assert mon.grad_norms.shape == (0, 3) and np.isnan(mon._host_table).all()
