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
    bumps = [measure.ProbeResult([1.0, peak, 1.5, 1.1], [0.0] * 4, [1.0] * 4)
             for peak in (2.4, 2.6, 2.45, 2.55)]  # fmt: skip
    probes = {("relu", "he"): [*bumps, bump], ("tanh", "xavier"): [steady] * 5,
              ("tanh", "xavier_tanh_gain"): [flat] * 5}  # fmt: skip
    claims.stability_claims(cfg, ctx, probes)
    he, xavier, gain = ctx.claims
    assert he.values[-1] == pytest.approx(math.log2(2.5)) and he.verdict == "does not hold"
    assert f"on seed(s) {', '.join(map(str, ctx.seeds))} " in he.why
    assert "fluctuation of a finite-width (16)" in he.why
    assert xavier.verdict == "does not hold" and "shrinks steadily" in xavier.why
    assert "up to 5x away" in xavier.why
    assert (gain.kind, gain.verdict) == ("finding", "holds")


# ---------------------------------------------------------------- issue 14: Q08, Q09, splits


def test_torch_default_init_equals_torchs_own_draw():
    """The same generator stream as nn.Linear.reset_parameters: identical weights and biases."""
    torch.manual_seed(3)
    ref = nn.Sequential(nn.Linear(7, 5), nn.ReLU(), nn.Linear(5, 2))
    net = nn.Sequential(nn.Linear(7, 5), nn.ReLU(), nn.Linear(5, 2))
    measure.torch_default_init(net, torch.Generator().manual_seed(3))
    for a, b in zip(ref.parameters(), net.parameters(), strict=True):
        assert torch.equal(a, b)
    measure.torch_default_init(net, torch.Generator().manual_seed(3), bias=False)
    assert all(torch.count_nonzero(m.bias) == 0 for m in net if isinstance(m, nn.Linear))
    w = nn.Linear(400, 400)
    measure.torch_default_init(w, torch.Generator().manual_seed(0))
    assert w.weight.abs().max().item() <= 1 / 20  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert w.weight.var().item() == pytest.approx(1 / (3 * 400), rel=0.02)  # Var = b^2 / 3


def test_default_probe_matches_the_derivation():
    """No bias: x 1/6 per layer (fan_in * 1/(3 fan_in) * 1/2); with bias: a flat floor that
    no longer depends on the input."""
    cfg = InitLabConfig(depth=12, probe_batch=128)
    no_bias = measure.default_probe(cfg, seed=1, width=256, bias=False)
    assert len(no_bias.var) == 12
    assert 6 * no_bias.factor() == pytest.approx(1.0, rel=0.15)
    assert no_bias.input_share > 0.05
    biased = measure.default_probe(cfg, seed=1, width=256, bias=True)
    assert biased.factor(6) == pytest.approx(1.0, rel=0.1)
    assert biased.var[-1] == pytest.approx(biased.var[-2], rel=0.1)
    assert biased.input_share < 1e-3
    assert measure.default_probe(cfg, seed=1, width=256, bias=True).var == biased.var


def test_default_probe_factor_and_gradient_growth_formulas():
    p = measure.DefaultProbe(var=[1.0, 0.5, 0.25, 1 / 8], input_share=0.1)
    assert p.factor() == pytest.approx(0.5) and p.factor(2) == pytest.approx(0.5)
    assert math.isnan(p.factor(3))  # no step left
    assert math.isnan(measure.DefaultProbe([0.0, 1.0], 0.1).factor())
    g = measure.ProbeResult(std=[1.0] * 3, saturated=[0.0] * 3, grad=[100.0, 3.0, 1.0])
    assert measure.log10_grad_growth(g) == pytest.approx(2.0)
    assert math.isnan(measure.log10_grad_growth(measure.ProbeResult([1.0], [0.0], [0.0])))


def _default(var: list[float], share: float) -> measure.DefaultProbe:
    return measure.DefaultProbe(var=var, input_share=share)


def test_default_init_claims(tmp_path):
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    cfg = InitLabConfig(width=16)
    sixth = [_default([6.0**-k * f for k in range(5)], 0.3) for f in (1.0, 1.1, 0.9, 1.0, 1.05)]
    flat = [_default([1.0, 0.2, 0.05, 0.05 * f, 0.05 * f], s)
            for f, s in ((1.0, 1e-11), (1.01, 1e-10), (0.99, 1e-12), (1.0, 1e-11), (1.0, 1e-9))]
    claims.default_init_claims(cfg, ctx, {False: sixth, True: flat})
    check, floor, lost = ctx.claims
    assert (check.id, check.kind, check.verdict) == ("torch-default-relu-shrinks-6x", "check",
                                                     "holds")  # fmt: skip
    assert check.values == pytest.approx([1.0] * 5)
    assert (floor.kind, floor.verdict) == ("finding", "holds")
    assert (lost.verdict, lost.values[0]) == ("holds", pytest.approx(-11.0))
    # a 4x-per-layer shrink is not the derived 6x; a floor that still falls is no floor
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    quarter = [_default([4.0**-k for k in range(5)], 0.3)] * 5
    falling = [_default([1.0, 0.5, 0.25, 0.125, 0.0625], 0.3)] * 5
    claims.default_init_claims(cfg, ctx, {False: quarter, True: falling})
    check, floor, lost = ctx.claims
    assert check.verdict == "does not hold" and "1/4.00" in check.why
    assert floor.verdict == "does not hold" and "0.5x per layer" in floor.why
    assert lost.verdict == "does not hold" and "input still moves the last layer" in lost.why


def test_tanh_gain_claim_needs_both_passes(tmp_path):
    cfg = InitLabConfig()
    flat = [1.0, 0.9, 0.95]
    gain = [measure.ProbeResult(flat, [0.0] * 3, [g, 3.0, 1.0]) for g in (15, 16, 20, 14, 17)]
    one = [measure.ProbeResult([1.0, 0.5, 0.2], [0.0] * 3, [g, 1.0, 1.0])
           for g in (1.0, 1.2, 1.1, 0.9, 1.0)]  # fmt: skip
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    claims.tanh_gain_claims(cfg, ctx, {("tanh", "xavier_tanh_gain"): gain, ("tanh", "xavier"): one})
    (c,) = ctx.claims
    assert (c.id, c.kind, c.verdict) == ("tanh-gain-grows-gradients", "finding", "holds")
    assert c.values_a[0] == pytest.approx(math.log10(15)) and c.margin == pytest.approx(
        math.log10(2))
    # the backward half alone is not enough: a forward std that drifts 4x fails the claim
    drift = [measure.ProbeResult([1.0, 2.0, 4.0], p.saturated, p.grad) for p in gain]
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    claims.tanh_gain_claims(cfg, ctx, {("tanh", "xavier_tanh_gain"): drift,
                                       ("tanh", "xavier"): one})  # fmt: skip
    assert ctx.claims[0].verdict == "does not hold" and "forward std" in ctx.claims[0].why
    # equal growth at both gains: the gain is not the cause
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    claims.tanh_gain_claims(cfg, ctx, {("tanh", "xavier_tanh_gain"): gain,
                                       ("tanh", "xavier"): gain})  # fmt: skip
    assert ctx.claims[0].verdict == "does not hold" and "not more than" in ctx.claims[0].why


def test_training_uses_one_split_per_seed(tmp_path, monkeypatch):
    seen: list[int] = []
    used: list[object] = []

    def fake_load(*, flat: bool, seed: int) -> object:
        seen.append(seed)
        return f"split-{seed}"

    def fake_train(cfg, ctx, data, key, seed):
        used.append((data, seed))
        return _result(3)

    monkeypatch.setattr(measure, "load_digits", fake_load)
    monkeypatch.setattr(measure, "train", fake_train)
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    measure.run_training(InitLabConfig(), ctx)
    assert sorted(seen) == sorted(ctx.seeds)
    assert all(data == f"split-{seed}" for data, seed in used)


def test_stability_claim_judges_the_mean_not_every_seed(tmp_path):
    """One seed straying just past the band does not decide the claim; the interval does."""
    ctx = LabContext("weight-initialization", scale="quick", out_dir=tmp_path)
    cfg = InitLabConfig(width=256)
    flat = [measure.ProbeResult([1.0, s, 1.0], [0.0] * 3, [1.0] * 3) for s in (1.3, 1.4, 1.35, 1.2)]
    stray = measure.ProbeResult([1.0, 2.1, 1.0], [0.0] * 3, [1.0] * 3)  # 2.1x > 2x
    probes = {("relu", "he"): [*flat, stray], ("tanh", "xavier"): [*flat, stray],
              ("tanh", "xavier_tanh_gain"): [*flat, stray]}  # fmt: skip
    claims.stability_claims(cfg, ctx, probes)
    assert [c.verdict for c in ctx.claims] == ["holds"] * 3
    assert ctx.claims[0].seed_holds == [True] * 4 + [False]
