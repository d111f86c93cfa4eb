"""The doctor flags known vanishing, exploding, dead-ReLU and saturated nets; healthy is healthy."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from deepdojo.diagnose import Finding, Thresholds, check, diagnose
from deepdojo.models import create

CE = nn.functional.cross_entropy


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, 16, generator=g), torch.randint(0, 4, (64,), generator=g)


def _kinds(findings):
    return {f.kind for f in findings}


def _net(name, **kw):
    torch.manual_seed(0)
    return create(name, in_features=16, num_classes=4, width=32, **kw)


def test_known_vanishing_net(batch):
    found = diagnose(_net("plain_mlp", depth=20, activation="sigmoid"), batch, CE)
    assert _kinds(found) == {"vanishing"}
    (f,) = found
    assert f.evidence["first_to_last_ratio"] < 1e-2
    assert "fc1" in f.layers and "out" not in f.layers
    assert any("residual" in r for r in f.remedies)
    assert "clipping does not help" in f.message


def test_known_exploding_net(batch):
    found = diagnose(_net("plain_mlp", depth=12, init="he", init_gain=2.0), batch, CE)
    assert "exploding" in _kinds(found)
    f = next(f for f in found if f.kind == "exploding")
    assert f.evidence["max_grad_norm"] > 1e3
    assert any("clipping" in r for r in f.remedies)


def test_net_with_dead_relus(batch):
    net = _net("plain_mlp", depth=4, init="he")
    with torch.no_grad():
        net.fc2.bias[:24] = -100.0  # 24 of 32 units of act2 never fire
    found = diagnose(net, batch, CE)
    f = next(f for f in found if f.kind == "dead_units")
    assert f.layers == ["act2"]
    assert f.evidence["max_dead_fraction"] == pytest.approx(0.75)


def test_saturated_tanh_net(batch):
    found = diagnose(_net("plain_mlp", depth=4, activation="tanh", init="xavier", init_gain=6.0),
                     batch, CE)
    assert "saturation" in _kinds(found)


@pytest.mark.parametrize("depth", [8, 16])
def test_healthy_residual_net_is_called_healthy(batch, depth):
    found = diagnose(_net("resnet_mlp", depth=depth, batch_norm=True), batch, CE)
    assert [f.kind for f in found] == ["healthy"]
    assert 1e-2 <= found[0].evidence["first_to_last_ratio"] <= 1e2


def test_non_finite_inputs(batch):
    x, y = batch
    x = x.clone()
    x[0, 0] = float("nan")
    found = diagnose(_net("resnet_mlp", depth=4), (x, y), CE)
    assert "non_finite" in _kinds(found)
    assert "vanishing" not in _kinds(found) and "exploding" not in _kinds(found)


def test_diagnose_leaves_grads_and_buffers_as_they_were(batch):
    net = _net("resnet_mlp", depth=4, batch_norm=True)
    net.out.weight.grad = torch.ones_like(net.out.weight)
    before = {n: b.clone() for n, b in net.named_buffers()}
    diagnose(net, batch, CE)
    assert torch.equal(net.out.weight.grad, torch.ones_like(net.out.weight))
    assert net.stem.weight.grad is None
    for n, b in net.named_buffers():
        assert torch.equal(b, before[n])


def test_check_thresholds_are_the_documented_ones():
    grads = {"a": 0.5, "b": 1.0, "c": 100.0}
    assert _kinds(check(grads)) == {"vanishing"}  # 0.5/100 = 5e-3 < 1e-2
    assert _kinds(check({"a": 2.0, "c": 100.0})) == {"healthy"}  # 2e-2 >= 1e-2
    assert _kinds(check({"a": 101.0, "c": 1.0})) == {"exploding"}
    assert _kinds(check({"a": 1001.0, "c": 1000.0})) == {"exploding"}
    loose = Thresholds(vanishing_ratio=1e-3)
    assert _kinds(check(grads, thresholds=loose)) == {"healthy"}
    acts = {"act1": {"dead": 0.5, "saturated": float("nan")},
            "act2": {"dead": 0.49, "saturated": float("nan")}}
    f = next(f for f in check({"a": 1.0}, acts) if f.kind == "dead_units")
    assert f.layers == ["act1"]
    assert _kinds(check({"a": 1.0}, loss=float("inf"))) == {"non_finite"}
    with pytest.raises(ValueError, match="grad_norms is empty"):
        check({})


def test_all_zero_gradients_are_not_called_exploding():
    # a loss that is exactly zero (or a detached output) gives zero gradients everywhere:
    # 0/0 is no evidence of growth
    assert _kinds(check({"a": 0.0, "b": 0.0, "c": 0.0})) == {"healthy"}
    assert _kinds(check({"a": 1.0, "c": 0.0})) == {"exploding"}  # only the input side moves


def test_finding_to_dict_is_json():
    f = Finding("non_finite", ["fc1"], {"loss": float("nan"), "n": 1.0}, ["x"])
    d = json.loads(json.dumps(f.to_dict()))
    assert d["evidence"]["loss"] == "nan" and d["kind"] == "non_finite"
    assert math.isnan(f.evidence["loss"])


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"vanishing_ratio": "0.01"}, TypeError, r"vanishing_ratio must be a number, got '0.01'"),
    ({"exploding_norm": None}, TypeError, "exploding_norm must be a number, got None"),
    ({"dead_fraction": True}, TypeError, "dead_fraction must be a number, got True"),
    ({"vanishing_ratio": 0.0}, ValueError, r"vanishing_ratio must be > 0, got 0.0"),
    ({"exploding_ratio": -1}, ValueError, r"exploding_ratio must be > 0, got -1"),
    ({"exploding_norm": float("nan")}, ValueError, r"exploding_norm must be > 0, got nan"),
    ({"dead_fraction": 0}, ValueError, r"dead_fraction must be a fraction in \(0, 1\], got 0"),
    ({"saturated_fraction": 50}, ValueError, r"saturated_fraction must be a fraction in"),
    ({"vanishing_ratio": 10.0, "exploding_ratio": 5.0}, ValueError,
     "vanishing_ratio must not exceed exploding_ratio"),
])
def test_thresholds_reject_values_that_make_no_sense(kwargs, error, match):
    with pytest.raises(error, match=match):
        Thresholds(**kwargs)


def test_thresholds_accept_valid_numbers():
    th = Thresholds(vanishing_ratio=1e-3, exploding_ratio=10, dead_fraction=1,
                    saturated_fraction=0.25)  # fmt: skip
    assert (th.exploding_ratio, th.dead_fraction) == (10, 1)
    off = Thresholds(exploding_ratio=float("inf"), exploding_norm=float("inf"))  # rules off
    assert _kinds(check({"a": 1e6, "c": 1.0}, thresholds=off)) == {"healthy"}


def test_check_refuses_thresholds_that_are_not_a_thresholds():
    with pytest.raises(TypeError, match="thresholds must be a Thresholds, got dict; use Thresh"):
        check({"a": 1.0, "c": 1.0}, thresholds={"vanishing_ratio": 1e-3})
