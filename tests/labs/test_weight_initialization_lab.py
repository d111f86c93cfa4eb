"""The weight-initialization lab's measuring helpers (the lab itself runs in the smoke test)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.labs import weight_initialization as lab


def test_log2_worst_ratio():
    assert lab._log2_worst_ratio([1.0, 2.0, 0.5, 1.5]) == pytest.approx(1.0)
    assert lab._log2_worst_ratio([0.3, 0.3]) == 0.0
    assert lab._log2_worst_ratio([1.0, 0.0]) == math.inf
    assert lab._log2_worst_ratio([1.0, math.nan]) == math.inf


def test_unit_spread_zero_for_identical_units_positive_otherwise():
    layer = nn.Linear(3, 4)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, -2.0, 0.5]).expand(4, 3))
        layer.bias.fill_(0.25)
    assert lab._unit_spread(layer) == 0.0
    with torch.no_grad():
        layer.weight[2, 1] = -1.0  # one unit differs by 1; largest weight is 2
    assert lab._unit_spread(layer) == pytest.approx(0.5)


def test_probe_records_every_layer_and_matches_a_manual_forward():
    cfg = lab.InitLabConfig(depth=3, probe_batch=16)
    out = lab._probe(cfg, "tanh", "xavier", seed=5, width=8)
    assert [len(out[k]) for k in ("std", "saturated", "grad")] == [3, 3, 3]
    # the same generator stream, replayed by hand: inputs, labels, then the first weight
    g = torch.Generator().manual_seed(5)
    x = torch.randn(16, 8, generator=g, dtype=torch.float64)
    torch.randint(0, 10, (16,), generator=g)
    w1 = torch.empty(8, 8, dtype=torch.float64).normal_(0, math.sqrt(2 / 16), generator=g)
    assert out["std"][0] == pytest.approx(torch.tanh(x @ w1.T).std().item(), rel=1e-12)
    assert all(v > 0 for v in out["grad"])


def test_probe_separates_stable_from_exploding_init():
    cfg = lab.InitLabConfig(depth=10, probe_batch=64)
    he = lab._probe(cfg, "relu", "he", seed=0, width=64)["std"]
    large = lab._probe(cfg, "relu", "normal_large", seed=0, width=64)["std"]
    assert lab._log2_worst_ratio(he) < 1.0
    assert large[-1] / large[0] > 1e3
    again = lab._probe(cfg, "relu", "he", seed=0, width=64)["std"]
    assert again == he  # same seed, same numbers
