"""The gradient labs (vanishing-gradients, exploding-gradients, skip-connections) and their
shared training run (deepdojo.labs.shared.grad): configs per scale, ranges, and the claims'
rules on hand-made outcomes. The labs themselves run in tests/labs/test_registered_labs.py."""

from __future__ import annotations

import math

import pytest
import torch

from deepdojo.data import load_digits
from deepdojo.labs import exploding_gradients as exploding
from deepdojo.labs import skip_connections as skip
from deepdojo.labs import vanishing_gradients as vanishing
from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.shared import grad
from deepdojo.models import create


def _outcome(label: str = "x", seed: int = 0, *, log_ratio: float = 0.0, test_acc: float = 0.9,
             kinds: tuple[str, ...] = ("healthy",), max_grad: float = 1.0) -> grad.RunOutcome:
    return grad.RunOutcome(
        label=label, seed=seed, test_acc=test_acc, log_ratio=log_ratio, first_grad=1.0,
        last_grad=1.0, max_grad=max_grad, layer_grads=[1.0, 1.0], layer_names=["l1", "l2"],
        grad_matrix=torch.ones(3, 2), doctor={"kinds": list(kinds)},
    )  # fmt: skip


# ---------------------------------------------------------------- shared.grad


def test_log_ratio_floors_underflow_and_drops_non_finite():
    first = torch.tensor([1e-3, 0.0, math.inf, 1.0])
    last = torch.tensor([1.0, 1.0, 1.0, 0.0])
    out = grad._log_ratio(first, last)
    assert out[0].item() == pytest.approx(-3.0)
    assert out[1].item() == grad.LOG_FLOOR  # a gradient that underflowed to 0
    assert math.isnan(out[2].item()) and math.isnan(out[3].item())


def test_mean_and_layer_profile():
    assert grad.mean([1.0, math.nan, 3.0, math.inf]) == 2.0
    assert math.isnan(grad.mean([math.nan]))
    a, b = _outcome(), _outcome()
    a.layer_grads, b.layer_grads = [1e-4, 1.0], [1e-2, math.nan]
    assert grad.layer_profile([a, b]) == pytest.approx([1e-3, 1.0])  # geometric mean


def test_row_sums_events_and_counts_doctor_kinds():
    a = _outcome(kinds=("vanishing",), test_acc=0.2)
    b = _outcome(kinds=("vanishing", "saturation"), test_acc=0.4)
    b.nonfinite_steps, b.diverged = 3, True
    r = grad.row([a, b], setup="s")
    assert r["setup"] == "s" and r["test_acc"] == pytest.approx(0.3)
    assert (r["nonfinite_steps"], r["diverged_runs"]) == (3, 1)
    assert r["doctor"] == "saturation 1/2, vanishing 2/2"


def test_train_run_records_consistent_and_deterministic_outcome():
    data = load_digits(flat=True, seed=0).head(128)

    def build():
        return create("plain_mlp", in_features=64, num_classes=10, depth=4, width=16,
                      activation="sigmoid")  # fmt: skip

    runs = [grad.train_run("t", build, data, seed=3, epochs=1, lr=0.1, device="cpu",
                           doctor_every=1) for _ in range(2)]  # fmt: skip
    r = runs[0]
    assert r.grad_matrix.shape == (len(r.steps), len(r.layer_names)) == (2, 4)  # 128/64 steps
    logs = torch.log10(r.grad_matrix[:, 0] / r.grad_matrix[:, -1])
    assert r.log_ratio == pytest.approx(float(logs.median()))
    assert r.layer_grads == pytest.approx([float(c.median()) for c in r.grad_matrix.T])
    assert r.max_grad == pytest.approx(float(r.grad_matrix.max()))
    assert not r.diverged and 0.0 <= r.test_acc <= 1.0
    assert torch.equal(r.grad_matrix, runs[1].grad_matrix) and r.test_acc == runs[1].test_acc


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize(("cls", "epochs"), [
    (vanishing.VanishingConfig, (1, 12, 30)),
    (exploding.ExplodingConfig, (1, 10, 30)),
    (skip.SkipConfig, (1, 10, 30)),
])  # fmt: skip
def test_sizes_per_scale(cls, epochs):
    cfgs = [make_config(cls, scale=s) for s in ("smoke", "quick", "full")]
    assert tuple(c.epochs for c in cfgs) == epochs
    assert [c.n_train for c in cfgs] == [256, None, None]
    assert make_config(cls, {"n_train": "100"}, scale="quick").n_train == 100


def test_skip_depths_per_scale():
    assert [make_config(skip.SkipConfig, scale=s).depths for s in ("smoke", "quick", "full")] == [
        (4, 8), (4, 8, 16, 32), (4, 8, 16, 32, 64)]  # fmt: skip


@pytest.mark.parametrize(("cls", "key", "text", "bound"), [
    (vanishing.VanishingConfig, "depth", "0", ">= 2"),
    (vanishing.VanishingConfig, "lr", "nan", "finite"),
    (vanishing.VanishingConfig, "clip_active_share", "1.5", "<= 1"),
    (exploding.ExplodingConfig, "clip_norm", "0", "> 0"),
    (exploding.ExplodingConfig, "epochs", "0", ">= 1"),
    (skip.SkipConfig, "depths", "4,2", ">= 4"),
    (skip.SkipConfig, "within_factor", "1", "> 1"),
])  # fmt: skip
def test_out_of_range_overrides_are_refused(cls, key, text, bound):
    with pytest.raises(LabError, match=f"{key}.*{bound}"):
        make_config(cls, {key: text})


def test_odd_depths_refused_before_training(tmp_path):
    ctx = LabContext("x", scale="smoke", out_dir=tmp_path)
    with pytest.raises(ValueError, match="depth must be even"):
        vanishing.run(vanishing.VanishingConfig(depth=21), ctx)
    with pytest.raises(ValueError, match="depths must be even"):
        skip.run(skip.SkipConfig(depths=(4, 6, 9)), ctx)
    assert not ctx.claims and not ctx.metrics


# ---------------------------------------------------------------- claims


def _ctx(tmp_path) -> LabContext:
    ctx = LabContext("x", scale="quick", out_dir=tmp_path)
    assert len(ctx.seeds) == 5
    return ctx


def test_skip_gradient_claim_needs_residual_within_and_plain_outside(tmp_path):
    cfg = skip.SkipConfig()
    res = [_outcome(log_ratio=v, test_acc=0.9 + v / 100) for v in (-0.2, -0.3, -0.1, -0.25, -0.15)]
    plain = [_outcome(log_ratio=v, test_acc=0.5) for v in (-3.0, -2.5, -3.5, -2.8, -3.1)]
    ctx = _ctx(tmp_path)
    skip._claims(cfg, ctx, res, plain, 32)
    keep, better = ctx.claims
    assert (keep.kind, keep.verdict) == ("finding", "holds")
    assert keep.values == pytest.approx([10**r.log_ratio for r in res])
    assert keep.margin == 10.0
    assert (better.verdict, better.values_a, better.values_b) == (
        "holds", [r.test_acc for r in res], [0.5] * 5)  # fmt: skip
    # the same residual net, but the plain net is within 10x too: the control fails
    ctx = _ctx(tmp_path)
    skip._claims(cfg, ctx, res, res, 32)
    keep, better = ctx.claims
    assert keep.verdict == "does not hold" and "plain MLP is not within 10x" in keep.why
    assert better.verdict == "does not hold"  # a - b = 0 on every seed, margin 0.01
    assert "not more than 0.01" in better.why


def test_vanishing_doctor_claims_count_errors_per_seed(tmp_path):
    cfg = vanishing.VanishingConfig()
    ctx = _ctx(tmp_path)
    seeds = ctx.seeds
    runs = {
        "baseline": [_outcome("baseline", s, test_acc=0.1, kinds=("vanishing",)) for s in seeds],
        "relu": [_outcome("relu", s, kinds=("healthy",)) for s in seeds],
        "clipping": [_outcome("clipping", s, test_acc=0.1, kinds=("vanishing",)) for s in seeds],
    }
    runs["baseline"][1].doctor = {"kinds": ["healthy"]}  # one missed flag, seed 1
    runs["relu"][3].doctor = {"kinds": ["dead_units"]}  # one false alarm, seed 3
    vanishing._doctor_claims(cfg, ctx, runs, cured=["relu"])
    flags, strict = ctx.claims
    assert flags.values == [0, 1, 0, 1, 0] and flags.verdict == "does not hold"
    assert "missed vanishing on 1 of 5" in flags.why and "relu/seed3: dead_units" in flags.why
    # strict: the missed baseline run failed to train unflagged (seed 1); relu/seed3 trained
    # and was not flagged vanishing, so it agrees
    assert strict.values == [0, 1, 0, 0, 0] and strict.verdict == "does not hold"
    assert ctx.metrics["doctor_disagreements"] == [f"baseline/seed{seeds[1]}"]
    # no setup cured: the first claim cannot hold, whatever the Doctor said
    ctx = _ctx(tmp_path)
    vanishing._doctor_claims(cfg, ctx, {"baseline": runs["baseline"]}, cured=[])
    assert "at least one setup's cure claim holds" in ctx.claims[0].why


def test_exploding_log_max_counts_non_finite_as_float32_max():
    assert exploding._log_max(_outcome(max_grad=1e4)) == pytest.approx(4.0)
    assert exploding._log_max(_outcome(max_grad=math.inf)) == pytest.approx(38.53, abs=0.01)
    assert math.isnan(exploding._log_max(_outcome(max_grad=math.nan)))
