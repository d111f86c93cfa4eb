"""The weight-initialization lab: its measuring helpers, config and claims (the whole lab runs
in the smoke test of tests/labs/test_registered_labs.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.weight_initialization import InitLabConfig, claims, measure


def test_log2_worst_ratio():
    assert measure.log2_worst_ratio([1.0, 2.0, 0.5, 1.5]) == pytest.approx(1.0)
    assert measure.log2_worst_ratio([0.3, 0.3]) == 0.0
    assert measure.log2_worst_ratio([1.0, 0.0]) == math.inf
    assert measure.log2_worst_ratio([1.0, math.nan]) == math.inf


def test_unit_spread_zero_for_identical_units_positive_otherwise():
    layer = nn.Linear(3, 4)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, -2.0, 0.5]).expand(4, 3))
        layer.bias.fill_(0.25)
    assert measure.unit_spread(layer) == 0.0
    with torch.no_grad():
        layer.weight[2, 1] = -1.0  # one unit differs by 1; largest weight is 2
    assert measure.unit_spread(layer) == pytest.approx(0.5)


def test_probe_records_every_layer_and_matches_a_manual_forward():
    cfg = InitLabConfig(depth=3, probe_batch=16)
    out = measure.probe(cfg, "tanh", "xavier", seed=5, width=8)
    assert [len(out.std), len(out.saturated), len(out.grad)] == [3, 3, 3]
    # the same generator stream, replayed by hand: inputs, labels, then the first weight
    g = torch.Generator().manual_seed(5)
    x = torch.randn(16, 8, generator=g, dtype=torch.float64)
    torch.randint(0, 10, (16,), generator=g)
    w1 = torch.empty(8, 8, dtype=torch.float64).normal_(0, math.sqrt(2 / 16), generator=g)
    assert out.std[0] == pytest.approx(torch.tanh(x @ w1.T).std().item(), rel=1e-12)
    assert all(v > 0 for v in out.grad)


def test_probe_separates_stable_from_exploding_init():
    cfg = InitLabConfig(depth=10, probe_batch=64)
    he = measure.probe(cfg, "relu", "he", seed=0, width=64)
    large = measure.probe(cfg, "relu", "normal_large", seed=0, width=64)
    assert measure.log2_worst_ratio(he.std) < 1.0
    assert large.std[-1] / large.std[0] > 1e3
    assert large.log10_growth == pytest.approx(math.log10(large.std[-1] / large.std[0]))
    again = measure.probe(cfg, "relu", "he", seed=0, width=64)
    assert again.std == he.std  # same seed, same numbers


def test_probe_result_summaries():
    p = measure.ProbeResult(std=[2.0, 1.0, 0.02], saturated=[0.0, 0.5, 1.0], grad=[1, 1, 1])
    assert p.mean_saturated == pytest.approx(0.5)
    assert p.log10_growth == pytest.approx(-2.0)
    assert measure.ProbeResult([0.0, 1.0], [0, 0], [1, 1]).log10_growth == math.inf


def test_config_sizes_per_scale_and_ranges():
    smoke = make_config(InitLabConfig, scale="smoke")
    quick = make_config(InitLabConfig, scale="quick")
    full = make_config(InitLabConfig, scale="full")
    assert (smoke.width, quick.width, full.width) == (32, 256, 256)
    assert (smoke.epochs, quick.epochs, full.epochs) == (2, 15, 40)
    assert make_config(InitLabConfig, {"width": "8"}, scale="smoke").width == 8
    for key, text in (("depth", "0"), ("lr", "nan"), ("stable_factor", "1"), ("momentum", "1")):
        with pytest.raises(LabError, match=key):
            make_config(InitLabConfig, {key: text})


def _result(epochs_to_target: int, spread: float = 0.0) -> measure.TrainResult:
    return measure.TrainResult(train_loss=[1.0], val_acc=[0.5], epochs_to_target=epochs_to_target,
                               test_acc=0.5, unit_spread=spread, max_abs_hidden_weight=1.0,
                               first_weight=torch.zeros(2, 2))  # fmt: skip


@pytest.mark.parametrize(("small", "verdict"), [([5, 6, 7], "holds"), ([5, 3, 7], "does not hold")])
def test_faster_claim_is_paired_and_every_seed(tmp_path, small, verdict):
    """epochs(small) - min(epochs(He), epochs(Xavier)) > 0 on every seed."""
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    cfg = InitLabConfig(epochs=15)
    training = {
        "zeros": [_result(16, 0.0)] * 3,
        "zeros_sigmoid": [_result(16, 1e-9)] * 3,
        "normal_small": [_result(e) for e in small],
        "xavier": [_result(e) for e in (4, 3, 9)],
        "he": [_result(e) for e in (6, 3, 2)],
    }
    claims.training_claims(cfg, ctx, training)
    by_id = {c.id: c for c in ctx.claims}
    sym = by_id["zero-init-symmetry"]
    assert (sym.kind, sym.verdict, sym.values) == ("check", "holds", [1e-9] * 3)
    fast = by_id["he-xavier-faster-than-small"]
    assert fast.kind == "finding" and fast.verdict == verdict
    assert fast.values_b == [4, 3, 2]
    assert fast.values == [s - b for s, b in zip(small, (4, 3, 2), strict=True)]
    if verdict == "does not hold":
        assert "on 1 of 3 seeds it was not slower" in fast.why


def test_stability_claims_explain_the_drift(tmp_path):
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    cfg = InitLabConfig(width=16)
    steady = measure.ProbeResult([1.0, 0.7, 0.4, 0.2], [0.0] * 4, [1.0] * 4)  # 5x shrink
    bump = measure.ProbeResult([1.0, 2.5, 1.5, 1.1], [0.0] * 4, [1.0] * 4)  # 2.5x, ends at 1.1
    flat = measure.ProbeResult([1.0, 1.2, 0.9, 1.0], [0.0] * 4, [1.0] * 4)
    probes = {("relu", "he"): [flat] * 4 + [bump], ("tanh", "xavier"): [steady] * 5,
              ("tanh", "xavier_tanh_gain"): [flat] * 5}  # fmt: skip
    claims.stability_claims(cfg, ctx, probes)
    he, xavier, gain = ctx.claims
    assert he.values[-1] == pytest.approx(math.log2(2.5)) and he.verdict == "does not hold"
    assert f"on seed(s) {ctx.seeds[4]} " in he.why
    assert "fluctuation of a finite-width (16)" in he.why
    assert xavier.verdict == "does not hold" and "shrinks steadily" in xavier.why
    assert "up to 5x away" in xavier.why
    assert (gain.kind, gain.verdict) == ("finding", "holds")
