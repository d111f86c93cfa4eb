"""ActivationMonitor records what a hand computation on the hooked outputs gives; bad arguments."""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest
import torch
from torch import nn

from deepdojo.diagnose import ActivationMonitor, activation_stats

EPS = 0.05  # not the default, so the monitor must pass its own eps on


def _mlp(act: type[nn.Module]) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(6, 16)), ("act1", act()),
        ("fc2", nn.Linear(16, 16)), ("act2", act()),
        ("out", nn.Linear(16, 3)),
    ]))  # fmt: skip
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(8.0)  # large weights: a good share of outputs saturate
    return net


def _capture(net: nn.Module, names: list[str]) -> tuple[dict[str, list[torch.Tensor]], list]:
    """Our own hooks on the same modules: every output, as the next layer receives it."""
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    modules = dict(net.named_modules())
    handles = [modules[n].register_forward_hook(
        lambda _m, _a, out, n=n: seen[n].append(out.detach().clone())) for n in names]
    return seen, handles


def _by_hand(y: torch.Tensor, kind: str) -> dict[str, float]:
    """mean, population std, saturated fraction (eps from a bound), dead-unit fraction."""
    values = y.double().flatten().tolist()
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    saturated = dead = math.nan
    if kind == "sigmoid":
        saturated = sum(v < EPS or v > 1 - EPS for v in values) / n
    elif kind == "tanh":
        saturated = sum(abs(v) > 1 - EPS for v in values) / n
    elif kind == "rectifier":  # a unit (dim 1) is dead when no entry of it is positive
        units = y.shape[1]
        per_unit = [y.select(1, u).flatten().tolist() for u in range(units)]
        dead = sum(all(v <= 0 for v in unit) for unit in per_unit) / units
    return {"mean": mean, "std": std, "saturated": saturated, "dead": dead}


def _assert_same(recorded: float, expected: float) -> None:
    if math.isnan(expected):
        assert math.isnan(recorded)
    else:
        assert recorded == pytest.approx(expected, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize(("act", "kind"), [(nn.Sigmoid, "sigmoid"), (nn.Tanh, "tanh")])
def test_monitor_matches_a_hand_computation_on_the_hooked_outputs(act, kind):
    net, names = _mlp(act), ["act1", "act2"]
    seen, handles = _capture(net, names)
    gen = torch.Generator().manual_seed(1)
    with ActivationMonitor(net, eps=EPS) as mon:
        for _ in range(3):
            net(torch.randn(32, 6, generator=gen))
    for h in handles:
        h.remove()
    assert mon.layer_names == names and mon.kinds == [kind, kind]
    latest = mon.latest()
    for name in names:
        expected = _by_hand(seen[name][-1], kind)
        assert 0.05 < expected["saturated"] < 0.95  # a fraction that could be wrong both ways
        assert latest[name]["kind"] == kind
        for stat in ("mean", "std", "saturated", "dead"):
            _assert_same(latest[name][stat], expected[stat])
    for stat in ("mean", "std", "saturated", "dead"):
        history = mon.history(stat)
        assert history.shape == (3, 2)
        for p in range(3):
            for j, name in enumerate(names):
                _assert_same(history[p, j].item(), _by_hand(seen[name][p], kind)[stat])


def test_monitor_dead_fraction_matches_a_hand_computation_for_relu():
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(2, 6, 3, padding=1)), ("relu1", nn.ReLU()),
        ("flat", nn.Flatten()), ("fc", nn.Linear(6 * 5 * 5, 8)), ("relu2", nn.ReLU()),
    ]))  # fmt: skip
    with torch.no_grad():
        net.conv.bias[:2] = -100.0  # channels 0 and 1 never fire
        net.fc.bias[:3] = -100.0  # units 0..2 never fire
        net.fc.bias[3:] = 100.0  # the others always do
    names = ["relu1", "relu2"]
    seen, handles = _capture(net, names)
    gen = torch.Generator().manual_seed(2)
    with ActivationMonitor(net, every=2) as mon:
        for _ in range(4):  # passes 0 and 2 are recorded
            net(torch.randn(5, 2, 5, 5, generator=gen))  # (B, C, H, W)
    for h in handles:
        h.remove()
    recorded = {n: seen[n][0::2] for n in names}
    assert _by_hand(recorded["relu2"][-1], "rectifier")["dead"] == pytest.approx(3 / 8)
    latest = mon.latest()
    for name in names:
        expected = _by_hand(recorded[name][-1], "rectifier")
        for stat in ("mean", "std", "saturated", "dead"):
            _assert_same(latest[name][stat], expected[stat])
    assert latest["relu1"]["dead"] >= 2 / 6 - 1e-6  # float32 on the monitor side
    dead = mon.history("dead")
    assert dead.shape == (2, 2)
    for p in range(2):
        for j, name in enumerate(names):
            _assert_same(dead[p, j].item(), _by_hand(recorded[name][p], "rectifier")["dead"])


def test_bad_arguments_get_one_clear_line():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())
    with pytest.raises(TypeError, match=r"eps must be a number in \(0, 0.5\), got 'a' \(str\)"):
        ActivationMonitor(net, eps="a")
    with pytest.raises(TypeError, match="eps must be a number"):
        ActivationMonitor(net, eps=True)
    with pytest.raises(ValueError, match=r"eps must be in \(0, 0.5\), got 0.5"):
        ActivationMonitor(net, eps=0.5)
    with pytest.raises(TypeError, match="training_only must be a bool, got 'no'"):
        ActivationMonitor(net, training_only="no")
    y = torch.rand(3, 4)
    with pytest.raises(ValueError, match="kind must be one of sigmoid, tanh, rectifier, leaky, "
                                         "got 'foo'"):  # fmt: skip
        activation_stats(y, kind="foo")
    with pytest.raises(TypeError, match="eps must be a number"):
        activation_stats(y, "sigmoid", eps="0.1")
    leaky = activation_stats(y, "leaky")  # every documented kind still works
    assert leaky[0].item() == pytest.approx(y.mean().item())
    assert math.isnan(leaky[2].item()) and math.isnan(leaky[3].item())
