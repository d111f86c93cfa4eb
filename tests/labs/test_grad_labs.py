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
    (vanishing.VanishingConfig, (1, 10, 30)),
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
    (vanishing.VanishingConfig, "lr_grid", "0.01,nan", "finite"),
    (vanishing.VanishingConfig, "lr_grid", "0.01,0", "> 0"),
    (vanishing.VanishingConfig, "tuning_seed", "3", ">= 10"),
    (exploding.ExplodingConfig, "warmup_grid", "20,-1", ">= 0"),
    (exploding.ExplodingConfig, "min_rotation_deg", "91", "<= 90"),
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
    runs["relu"][3].doctor = {"kinds": ["exploding"]}  # one false alarm, seed 3
    # an activation finding on a cured setup is listed, not counted as a false alarm
    runs["relu"][4].doctor = {"kinds": ["dead_units"]}
    vanishing._doctor_claims(cfg, ctx, runs, cured=["relu"])
    flags, strict = ctx.claims
    assert flags.values == [0, 1, 0, 1, 0] and flags.verdict == "does not hold"
    assert "missed vanishing on 1 of 5" in flags.why and "relu/seed3: exploding" in flags.why
    assert ctx.metrics["doctor_other_findings_on_cured"] == [f"relu/seed{seeds[4]}: dead_units"]
    # strict: the missed baseline run failed to train stably and unflagged (seed 1);
    # relu/seed3 trained and was not flagged vanishing, so it agrees
    assert strict.values == [0, 1, 0, 0, 0] and strict.verdict == "does not hold"
    assert ctx.metrics["doctor_disagreements"] == [
        f"baseline/seed{seeds[1]}: failed stably, not flagged vanishing"]
    # no setup cured: the first claim cannot hold, whatever the Doctor said
    ctx = _ctx(tmp_path)
    vanishing._doctor_claims(cfg, ctx, {"baseline": runs["baseline"]}, cured=[])
    assert "at least one setup's cure claim holds" in ctx.claims[0].why


def test_exploding_log_max_counts_non_finite_as_float32_max():
    assert exploding._log_max(_outcome(max_grad=1e4)) == pytest.approx(4.0)
    assert exploding._log_max(_outcome(max_grad=math.inf)) == pytest.approx(38.53, abs=0.01)
    assert math.isnan(exploding._log_max(_outcome(max_grad=math.nan)))


# ---------------------------------------------------------------- fair-tuning helpers


def test_pick_lr_prefers_stable_runs_then_accuracy_then_smaller_lr():
    grid = [0.001, 0.01, 0.1]
    assert grad.pick_lr(grid, [0.5, 0.9, 0.95], [False, False, True]) == 0.01  # 0.1 unstable
    assert grad.pick_lr(grid, [0.9, 0.9, 0.5], [False, False, False]) == 0.001  # tie: smaller
    assert grad.pick_lr(grid, [0.2, math.nan, 0.3], [True, True, True]) == 0.1  # none stable
    assert grad.pick_lr(grid, [math.nan, 0.1, math.nan], [False] * 3) == 0.01  # nan never best
    with pytest.raises(ValueError, match="one length"):
        grad.pick_lr(grid, [0.1], [False])


def test_choose_runs_every_grid_point_and_records_the_choice():
    seen = []

    def run(value):
        seen.append(value)
        out = _outcome(seed=7)
        out.best_val_acc = {1.0: 0.5, 2.0: 0.8, 3.0: 0.9}[value]
        out.nonfinite_steps = 2 if value == 3.0 else 0  # the best score needed the guard
        return out

    choice = grad.choose("arm", [1, 2, 3], run, param="clip_norm")
    assert seen == [1.0, 2.0, 3.0]
    assert (choice.chosen, choice.unstable, choice.param) == (2.0, [False, False, True],
                                                              "clip_norm")  # fmt: skip
    r = choice.as_row()
    assert r["chosen"] == 2.0 and r["val_acc@clip_norm=3"] == 0.9 and r["unstable_at"] == "3"


def test_standardize_uses_training_statistics_only():
    data = load_digits(flat=True, seed=0).head(200)
    out = grad.standardize(data)
    X = data.train.X
    mu, sd = X.mean(0), X.std(0)
    const = sd == 0  # pixels that are 0 on every training row keep std 1
    assert const.any()
    assert torch.allclose(out.train.X.mean(0), torch.zeros(64), atol=1e-5)
    assert torch.allclose(out.train.X.std(0)[~const], torch.ones(int((~const).sum())), atol=1e-4)
    expected = (data.val.X - mu) / torch.where(const, torch.ones_like(sd), sd)
    assert torch.allclose(out.val.X, expected)  # validation scaled with the train statistics
    assert torch.equal(out.test.y, data.test.y) and out.name == data.name


def test_init_gradients_matches_autograd():
    torch.manual_seed(0)
    model = create("plain_mlp", in_features=64, num_classes=10, depth=5, width=16,
                   activation="relu", init="he", batch_norm=True)  # fmt: skip
    X, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    names, norms = grad.init_gradients(model, X, y)
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    loss = torch.nn.functional.cross_entropy(model(X), y)
    expected = torch.stack([g.norm() for g in torch.autograd.grad(loss, weights)])
    assert names == ["fc1", "fc2", "fc3", "fc4", "out"]
    assert torch.allclose(norms, expected, rtol=1e-5)
    assert all(p.grad is None for p in model.parameters())  # left as it was found


def test_train_run_best_validation_checkpoint_and_untied_init():
    data = load_digits(flat=True, seed=0).head(256)

    def build():
        return create("plain_mlp", in_features=64, num_classes=10, depth=3, width=16,
                      activation="relu", init="he")  # fmt: skip

    kw = {"epochs": 4, "lr": 0.05, "device": "cpu", "doctor_every": 2}
    best = grad.train_run("b", build, data, seed=3, best_val=True, **kw)
    last = grad.train_run("l", build, data, seed=3, **kw)
    assert best.best_epoch == max(range(4), key=lambda e: (best.val_acc[e], -e))
    assert best.best_val_acc == pytest.approx(max(best.val_acc))
    assert best.final_test_acc == last.final_test_acc == last.test_acc  # same seed, same run
    assert len(best.train_loss) == 4 and best.lr == 0.05
    untied = grad.train_run("u", build, data, seed=3, init_seed=4, **kw)
    assert not torch.equal(untied.grad_matrix, last.grad_matrix)  # another weight draw


# ---------------------------------------------------------------- vanishing v3


def test_growth_rate_recovers_a_geometric_profile():
    rate = 1.3
    norms = torch.tensor([5.0] + [rate ** (10 - l) for l in range(1, 10)] + [0.1])  # first/last odd
    assert vanishing._growth_rate(norms) == pytest.approx(rate)


def test_doctor_strict_claim_separates_unstable_failures(tmp_path):
    cfg = vanishing.VanishingConfig()
    ctx = _ctx(tmp_path)
    s = ctx.seeds
    unstable_named = _outcome("big_lr", s[0], test_acc=0.1, kinds=("non_finite", "vanishing"))
    unstable_named.nonfinite_steps = 3
    unstable_blamed = _outcome("big_lr", s[1], test_acc=0.1, kinds=("vanishing",))
    unstable_blamed.rollbacks = 1
    trained_flagged = _outcome("he_init", s[2], test_acc=0.9, kinds=("vanishing",))
    unstable_unnamed = _outcome("big_lr", s[3], test_acc=0.1, kinds=("dead_units",))
    unstable_unnamed.diverged = True  # the Doctor missed it, but blamed nothing on vanishing
    # dead ReLUs beside vanishing name what the instability left behind: not an error
    unstable_dead = _outcome("big_lr", s[4], test_acc=0.1, kinds=("dead_units", "vanishing"))
    unstable_dead.rollbacks = 2
    runs = {"baseline": [_outcome("baseline", x, test_acc=0.1, kinds=("vanishing",)) for x in s],
            "big_lr": [unstable_named, unstable_blamed, unstable_unnamed, unstable_dead],
            "he_init": [trained_flagged]}
    vanishing._doctor_claims(cfg, ctx, runs, cured=[])
    strict = ctx.claims[1]
    assert strict.values == [0, 1, 1, 0, 0] and strict.verdict == "does not hold"
    assert ctx.metrics["failed_runs"] == {"stably": 5, "unstably": 4}
    assert ctx.metrics["doctor_unstable_not_named"] == [
        f"big_lr/seed{s[1]}: vanishing", f"big_lr/seed{s[3]}: dead_units",
        f"big_lr/seed{s[4]}: dead_units, vanishing"]
    assert "failed unstably, blamed on vanishing alone" in strict.why
    assert "trained but flagged vanishing" in strict.why


def _arm(key, log_ratios, init=0.0):
    runs = [_outcome(key, i, log_ratio=v) for i, v in enumerate(log_ratios)]
    return vanishing.Arm(key, runs, grad.LrChoice(key, [0.01], [0.5], [False], 0.01),
                         [init] * len(runs))  # fmt: skip


def test_remedy_claims_need_their_control_to_vanish(tmp_path):
    cfg = vanishing.VanishingConfig()
    ok, bad = [-0.2, 0.1, 0.0, -0.1, 0.2], [-6.0, -6.5, -6.2, -6.1, -6.4]
    arms = {k: _arm(k, ok) for k in vanishing.SETUPS}
    arms["baseline"] = _arm("baseline", [-16.0] * 5)
    arms["relu"] = _arm("relu", bad, init=-6.3)
    arms["tanh_default"] = _arm("tanh_default", ok)  # Xavier's control does not vanish
    ctx = _ctx(tmp_path)
    cured = vanishing._remedy_claims(cfg, ctx, arms)
    verdicts = {c.id: c for c in ctx.claims}
    assert cured == ["he_init", "batch_norm", "skip_connections"]
    x = verdicts["xavier-init-cures-vanishing"]
    assert x.verdict == "does not hold" and "control (tanh with torch's default init)" in x.why
    relu = verdicts["relu-cures-vanishing"]
    assert relu.verdict == "does not hold" and "torch's default init is not He" in relu.why
    assert "-6.30 at init" in relu.why


def test_bn_claim_needs_growth_with_depth(tmp_path):
    cfg = vanishing.VanishingConfig()
    plain = {d: [0.0, 0.1, -0.1, 0.05, 0.0] for d in (8, 16, 32)}
    grow = {8: [0.4] * 5, 16: [1.1] * 5, 32: [2.5, 2.6, 2.4, 2.5, 2.7]}
    ctx = _ctx(tmp_path)
    vanishing._bn_claim(cfg, ctx, vanishing.BnInit([8, 16, 32], plain, grow, [1.2] * 5))
    c = ctx.claims[0]
    assert (c.id, c.verdict) == ("batch-norm-grows-gradients-at-init", "holds")
    assert c.values_a == grow[32] and c.values_b == plain[32]
    flat = {8: [2.5] * 5, 16: [2.4] * 5, 32: [2.5, 2.6, 2.4, 2.5, 2.7]}  # no growth
    ctx = _ctx(tmp_path)
    vanishing._bn_claim(cfg, ctx, vanishing.BnInit([8, 16, 32], plain, flat, [1.0] * 5))
    assert ctx.claims[0].verdict == "does not hold"
    assert "grows at every depth step" in ctx.claims[0].why


def test_bn_at_init_study_grows_with_depth_only_with_batch_norm(tmp_path):
    cfg = make_config(vanishing.VanishingConfig, {"bn_depths": "8,24"}, scale="smoke")
    study = vanishing._bn_init_study(cfg, LabContext("x", scale="smoke", out_dir=tmp_path))
    assert study.depths == [8, 24]
    assert abs(study.plain[24][0]) < 1.0  # He init without BN: a flat profile
    assert study.bn[24][0] > study.bn[8][0] + 0.8  # about 0.08 decades more per layer
    assert 1.1 < study.bn_rate[0] < 1.35  # near sqrt(pi / (pi - 1)) = 1.21


# ---------------------------------------------------------------- exploding v3


def test_angle_matches_acos_and_is_exact_for_scaling():
    g = torch.tensor([3.0, 4.0, 0.0])
    h = torch.tensor([3.0, 0.0, 4.0])
    assert exploding._angle_deg(g, h) == pytest.approx(math.degrees(math.acos(9 / 25)))
    assert exploding._angle_deg(g, 0.001 * g) == pytest.approx(0.0, abs=1e-5)  # float32 rounding
    assert exploding._angle_deg(g, -g) == pytest.approx(180.0)


def test_exploding_full_only_claims_per_scale():
    assert [make_config(exploding.ExplodingConfig, scale=x).full_only_claims
            for x in ("smoke", "quick", "full")] == [False, False, True]  # fmt: skip
    assert exploding.FULL_ONLY == ("gradient_normalization",)


def test_exploding_arms_tune_the_right_knob():
    cfg = exploding.ExplodingConfig()
    assert exploding._grid(cfg, "baseline") == (cfg.lr_grid, "lr")
    assert exploding._grid(cfg, "clipping") == (cfg.clip_norm_grid, "clip_norm")
    assert exploding._grid(cfg, "lr_schedule")[1] == "warmup_steps"
    assert exploding._grid(cfg, "large_lr") is None  # the rate is the failure: not tuned
    lr, kw = exploding._lr_and_kw(cfg, "clipping", 0.3)
    assert lr == cfg.blowup_lr and kw["clip"].max_norm == 0.3
    lr, kw = exploding._lr_and_kw(cfg, "gradient_normalization", 0.01)
    assert lr == 0.01 and kw["clip"].target_norm == cfg.target_norm
    assert exploding._lr_and_kw(cfg, "weight_regularization", 1e-4)[1]["regularizer"].l2 == cfg.l2
    assert exploding._lr_and_kw(cfg, "large_lr", None) == (cfg.blowup_lr, {})


def test_exploding_init_gain_per_arm():
    cfg = exploding.ExplodingConfig()

    def first_std(key):
        torch.manual_seed(0)
        return float(exploding._build(cfg, key)().fc1.weight.detach().std())

    he = math.sqrt(2 / 64)
    assert first_std("baseline") == pytest.approx(2 * he, rel=0.1)
    assert first_std("init_fix") == pytest.approx(he, rel=0.1)
    assert first_std("clipping") == pytest.approx(he, rel=0.1)  # large-lr setting: gain 1


def test_clipping_direction_by_value_and_by_norm(tmp_path):
    cfg = make_config(exploding.ExplodingConfig, scale="smoke")
    ctx = LabContext("x", scale="smoke", out_dir=tmp_path)
    big = exploding._direction(cfg, ctx, "baseline")
    small = exploding._direction(cfg, ctx, "init_fix")
    assert big.norm_deg[0] < 1e-3 and small.norm_deg[0] < 1e-3
    assert big.value_deg[0] > 30 and big.value_share[0] > 0.3  # most elements exceed 1
    assert big.grad_norm[0] > 1e3 > small.grad_norm[0]
    assert big.loss[0] > 100 * small.loss[0]  # the forward pass already blew up at init


def _ex_arm(key, accs, bad=0, choice=None):
    runs = [_outcome(key, i, test_acc=a, max_grad=10.0) for i, a in enumerate(accs)]
    runs[0].nonfinite_steps = bad
    return exploding.Arm(key, runs, choice)


def test_tames_claim_needs_a_failing_control_and_no_non_finite_step(tmp_path):
    cfg = exploding.ExplodingConfig()
    good, poor = [0.9, 0.92, 0.91, 0.93, 0.9], [0.1, 0.12, 0.1, 0.11, 0.1]
    warm = grad.LrChoice("lr_schedule", [20.0, 50.0], [0.3, 0.6], [True, True], 50.0,
                         "warmup_steps")  # fmt: skip
    arms = {"baseline": _ex_arm("baseline", poor), "large_lr": _ex_arm("large_lr", poor, 3),
            "lr_schedule_at_init": _ex_arm("lr_schedule_at_init", poor),
            "clipping": _ex_arm("clipping", good),
            "lr_schedule": _ex_arm("lr_schedule", good, bad=4, choice=warm),
            "init_fix": _ex_arm("init_fix", good)}  # fmt: skip
    ctx = _ctx(tmp_path)
    exploding._tames_claim(cfg, ctx, arms, "clipping", "clipping", "large_lr", 1e5)
    exploding._tames_claim(cfg, ctx, arms, "lr_schedule", "warmup", "large_lr", 1e5)
    exploding._tames_claim(cfg, ctx, arms, "init_fix", "the fix", "init_fix", 1e5)
    clip, warmup, fix = ctx.claims
    assert clip.verdict == "holds"
    assert warmup.verdict == "does not hold" and "after 50 warmup steps" in warmup.why
    assert fix.verdict == "does not hold" and "the net fails" in fix.why  # control trains
