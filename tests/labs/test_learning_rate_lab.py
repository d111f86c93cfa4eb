"""The learning-rate lab: its 2-D surfaces and trajectory runner, its typed config, and its
claims judged on hand-made measurements."""

from __future__ import annotations

import dataclasses
import math
import statistics

import pytest
import torch

from deepdojo.labs.framework import LabContext, LabError, make_config, rules
from deepdojo.labs.framework.config import scale_values
from deepdojo.labs.learning_rate import LearningRateLabConfig, claims
from deepdojo.labs.learning_rate import surfaces as surf
from deepdojo.labs.learning_rate.measure import (
    Fit,
    GridSeed,
    OptimizerSweep,
    SchedulePair,
    ScheduleSeed,
    closest,
)
from deepdojo.train import LRFinderResult


def _grad(fn, point):
    p = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    fn(p).backward()
    return p.grad


def test_quadratic_gradient_is_diag_hessian_times_point():
    g = _grad(lambda p: surf.ill_conditioned_quadratic(p, kappa=7.0), [0.3, -1.2])
    assert torch.allclose(g, torch.tensor([0.3, 7.0 * -1.2], dtype=torch.float64))


def test_double_well_stationary_points_and_ranking():
    x_global, x_ridge, x_local = surf.double_well_minima(0.3)
    assert x_global < x_ridge < x_local
    for x in (x_global, x_ridge, x_local):
        g = _grad(surf.tilted_double_well, [x, 0.0])
        assert g.abs().max().item() < 1e-9
    f = lambda x: surf.tilted_double_well(torch.tensor([x, 0.0], dtype=torch.float64)).item()  # noqa: E731
    assert f(x_global) < f(x_local) < f(x_ridge)  # the right basin is the poor one
    assert f(x_global) == pytest.approx(-0.31, abs=0.01)
    with pytest.raises(ValueError, match="tilt"):
        surf.double_well_minima(3.0)


def test_sgd_on_quadratic_matches_closed_form():
    # x_t = (1 - lr)^t x_0 and y_t = (1 - lr * kappa)^t y_0 for plain gradient descent
    lr, kappa, steps = 0.01, 50.0, 25
    start = torch.tensor([[-4.0, 1.0]], dtype=torch.float64)
    traj = surf.run_trajectories(
        lambda p: surf.ill_conditioned_quadratic(p, kappa), start, "sgd", [lr], steps
    )
    assert traj.points.shape == (1, steps + 1, 1, 2)
    assert traj.losses.shape == (1, steps + 1, 1)
    end = traj.points[0, -1, 0]
    assert end[0].item() == pytest.approx(-4.0 * (1 - lr) ** steps, rel=1e-12)
    assert end[1].item() == pytest.approx((1 - lr * kappa) ** steps, rel=1e-9)


@pytest.mark.parametrize("opt", sorted(surf.OPTIMIZERS))
def test_batched_runs_equal_separate_runs(opt):
    starts = torch.tensor([[1.5, 0.7], [0.4, -1.1]], dtype=torch.float64)
    lrs = [0.01, 0.05]
    together = surf.run_trajectories(surf.tilted_double_well, starts, opt, lrs, 15)
    for i, lr in enumerate(lrs):
        for k in range(len(starts)):
            alone = surf.run_trajectories(surf.tilted_double_well, starts[k : k + 1], opt, [lr], 15)
            assert torch.allclose(together.points[i, :, k], alone.points[0, :, 0], atol=1e-12)


def test_best_lr_never_picks_a_diverged_lr():
    quad = lambda p: surf.ill_conditioned_quadratic(p, 50.0)  # noqa: E731
    start = torch.tensor([[-4.0, 1.0]], dtype=torch.float64)
    traj = surf.run_trajectories(quad, start, "sgd", [1e-3, 0.03, 1.0], 200)
    final = traj.final_loss()
    assert math.isinf(final[2, 0].item()) or final[2, 0].item() > 1e10  # 1.0 > 2/kappa diverges
    idx, means = surf.best_lr(traj)
    assert idx == 1 and means[1] < means[0]


def test_run_trajectories_rejects_bad_input():
    start = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="optimizer"):
        surf.run_trajectories(surf.tilted_double_well, start, "lbfgs", [0.1], 3)
    with pytest.raises(ValueError, match="starts"):
        surf.run_trajectories(surf.tilted_double_well, torch.zeros(3), "sgd", [0.1], 3)
    with pytest.raises(ValueError, match="lrs"):
        surf.run_trajectories(surf.tilted_double_well, start, "sgd", [], 3)


def test_double_well_race_counts_escapes_left_of_the_ridge():
    ridge = surf.double_well_minima()[1]
    race = surf.double_well_race(seed=0, n_starts=8, lr=0.02, steps=300, ridge=ridge)
    for opt, paths in race.paths.items():
        escaped = (paths[-1, :, 0] < ridge).double().mean().item()
        assert race.escaped[opt] == escaped
        assert (paths[0, :, 0] > ridge).all()  # every start is in the poor basin
    assert race.escaped["sgd"] == 0.0  # plain GD at a small lr cannot climb the ridge
    assert race.lr == 0.02 and set(race.escaped) == set(surf.OPTIMIZERS) | {surf.EFFECTIVE}
    # the control arm: plain GD at momentum's effective step lr / (1 - 0.9)
    assert race.lrs[surf.EFFECTIVE] == pytest.approx(0.2) and race.lrs["momentum"] == 0.02
    assert race.diverged["sgd"] == 0.0


def test_escape_counts_only_finite_ends_left_of_the_ridge():
    ridge = surf.double_well_minima()[1]
    race = surf.double_well_race(seed=3, n_starts=32, lr=0.05, steps=200, ridge=ridge)
    paths = race.paths[surf.EFFECTIVE]  # plain GD at lr 0.5: far starts overflow
    end = paths[-1]
    finite = torch.isfinite(end).all(dim=1)
    assert race.diverged[surf.EFFECTIVE] == (~finite).double().mean().item() > 0
    assert race.escaped[surf.EFFECTIVE] == (finite & (end[:, 0] < ridge)).double().mean().item()


def test_quadratic_race_picks_each_optimizers_best_lr():
    lrs = [1e-3, 1e-2, 3e-2]  # plain GD is stable below 2 / kappa = 0.04: the largest wins
    race = surf.quadratic_race(lambda p: surf.ill_conditioned_quadratic(p, 50.0), 0, lrs, 30)
    assert race.lr["sgd"] == 3e-2
    assert race.path["sgd"].shape == (31, 2) and race.curve["sgd"].shape == (31,)
    assert race.final["sgd"] == pytest.approx(race.curve["sgd"][-1].item())


# ---------------------------------------------------------------- typed config


OLD_FIELDS = {"width", "depth", "batch_size", "epochs", "grid_exponents", "regime_factor",
              "slow_factor", "schedule_epochs", "schedule_lr_exponents", "finder_start_lr",
              "finder_end_lr", "finder_steps",
              "finder_tolerance", "opt_lr_factors", "surface_steps", "kappa", "quad_ratio",
              "well_steps", "well_lr", "well_starts", "warmup_fraction"}  # fmt: skip


def test_config_keeps_its_field_names_and_the_old_sizes_per_scale():
    cfg = LearningRateLabConfig()
    assert set(vars(cfg)) >= OLD_FIELDS
    # the sizes v1 chose with ctx.pick (epochs: smoke 1, quick cfg.epochs, full 2 x cfg.epochs)
    assert scale_values(LearningRateLabConfig) == {
        "epochs": {"smoke": 1, "quick": 4, "full": 8},
        "n_train": {"smoke": 256, "quick": None, "full": None},
        "finder_steps": {"smoke": 20, "quick": 100, "full": 100},
        "surface_steps": {"smoke": 20, "quick": 100, "full": 100},
        "well_steps": {"smoke": 30, "quick": 300, "full": 300},
        "schedule_epochs": {"smoke": 1, "quick": 12, "full": 30},
        "judge_slow": {"smoke": True, "quick": False, "full": True},
        "schedule_reps": {"smoke": 1, "quick": 2, "full": 1},
        "judge_schedule_tuned": {"smoke": True, "quick": False, "full": True},
    }
    # the quadratic's lr grid was 10 ** (k / 2) for k in -6..2
    assert [10.0**e for e in cfg.quad_lr_exponents] == pytest.approx(
        [10.0 ** (k / 2) for k in range(-6, 3)])
    smoke = make_config(LearningRateLabConfig, scale="smoke")
    assert (smoke.epochs, smoke.n_train, smoke.well_steps) == (1, 256, 30)


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [("depth", "1", "depth must be >= 2"), ("well_lr", "0", "well_lr must be > 0"),
     ("warmup_fraction", "1.5", "warmup_fraction must be <= 1"),
     ("opt_lr_factors", "0.1,0", "opt_lr_factors must be > 0"),
     ("finder_steps", "2", "finder_steps must be >= 3"), ("slow_factor", "nan", "must be finite"),
     ("regime_factor", "1", "regime_factor must be > 1")],
)  # fmt: skip
def test_bad_sizes_are_refused_before_any_training(key, text, message):
    with pytest.raises(LabError, match=message):
        make_config(LearningRateLabConfig, {key: text}, scale="smoke")


def test_finder_sweep_must_go_up(tmp_path):
    from deepdojo.labs.learning_rate import run

    cfg = make_config(LearningRateLabConfig, {"finder_end_lr": "1e-6"}, scale="smoke")
    ctx = LabContext("learning-rate", scale="smoke", out_dir=tmp_path, progress="off")
    with pytest.raises(LabError, match=r"finder_end_lr \(1e-06\) must be > finder_start_lr"):
        run(cfg, ctx)
    assert not ctx.tables  # refused before the first fit


# ---------------------------------------------------------------- claims on hand-made numbers


def _fit(lr, train_loss, *, seed=0, optimizer="momentum", diverged=False, test_acc=0.9,
         val_acc=0.9, val_loss=None):
    val = val_loss if val_loss is not None else train_loss
    return Fit(optimizer, lr, seed, diverged, 0, 0, False, train_loss,
               math.inf if diverged else val, val_acc, test_acc, [2.3, train_loss], [lr, lr])


def _grid(seed, small_loss, best_loss=0.1, large_diverged=True, suggestion=0.1, best=0.1):
    fits = [_fit(best / 10, small_loss, seed=seed), _fit(best, best_loss, seed=seed),
            _fit(best * 10, 2.5, seed=seed, diverged=large_diverged)]
    return GridSeed(seed, fits, fits[1], LRFinderResult(suggestion=suggestion))


def _ctx(tmp_path):
    return LabContext("learning-rate", scale="quick", out_dir=tmp_path, progress="off")


def test_regime_claims_sit_a_factor_either_side_of_each_seeds_best(tmp_path):
    cfg, ctx = dataclasses.replace(LearningRateLabConfig(), judge_slow=True), _ctx(tmp_path)
    grids = [_grid(0, 2.0), _grid(1, 1.5, best=0.3), _grid(2, 0.2, large_diverged=False)]
    claims.regimes(cfg, ctx, grids)
    slow, large = ctx.claims
    assert slow.id == "too-small-lr-is-slow" and slow.kind == "finding"
    # log10(small / best train loss), judged against log10(3) with a t-interval
    assert slow.values == pytest.approx([math.log10(20.0), math.log10(15.0), math.log10(2.0)])
    assert slow.ci == pytest.approx(list(rules.t_interval(slow.values)))
    assert slow.verdict == "inconclusive" and slow.seed_holds == [True, True, False]
    # the 10x runs: diverged by no progress (2.5 > 0.9 x 2.3: keeps 0 of the best's reduction)
    # on seeds 0 and 1; on seed 2 not flagged, yet its loss 2.5 is above the first batch's 2.3
    assert large.values == pytest.approx([0.0, 0.0, 0.0]) and large.verdict == "holds"
    assert ctx.metrics["too_large_diverged"] == [1.0, 1.0, 0.0]


def test_too_large_claim_judges_the_share_of_the_best_loss_reduction_kept(tmp_path):
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)
    grids = []
    for seed, large_loss in enumerate((2.3, 1.2, 2.0, 0.3)):
        g = _grid(seed, 2.0, best_loss=0.3)
        large = dataclasses.replace(g.fits[2], train_loss=large_loss, diverged=False)
        grids.append(GridSeed(seed, [g.fits[0], g.fits[1], large], g.fits[1], g.finder))
    # a guard-flagged run keeps nothing, whatever its final loss
    flagged = dataclasses.replace(grids[0].fits[2], train_loss=0.3, nonfinite_steps=2)
    grids.append(GridSeed(4, [grids[0].fits[0], grids[0].fits[1], flagged], grids[0].fits[1],
                          grids[0].finder))  # fmt: skip
    claims.regimes(cfg, ctx, grids)
    large = ctx.claims[0]
    # (first 2.3 - final) / (2.3 - 0.3)
    assert large.values == pytest.approx([0.0, 0.55, 0.15, 1.0, 0.0])
    assert large.verdict == "inconclusive"  # mean 0.34, interval straddles 0.5
    ctx2 = _ctx(tmp_path)
    claims.regimes(cfg, ctx2, [grids[0], grids[2], grids[4]])
    assert ctx2.claims[0].values == pytest.approx([0.0, 0.15, 0.0])
    assert ctx2.claims[0].verdict == "holds"  # interval [-0.165, 0.265] below 0.5


def test_regime_claims_fail_when_the_grid_does_not_reach_the_factor(tmp_path):
    cfg, ctx = dataclasses.replace(LearningRateLabConfig(), judge_slow=True), _ctx(tmp_path)
    g = _grid(0, 2.0)
    short = GridSeed(0, g.fits[:2], g.fits[1], g.finder)  # nothing 10x above the best
    claims.regimes(cfg, ctx, [short, _grid(1, 2.0)])
    slow, large = ctx.claims
    assert slow.verdict == large.verdict == "does not hold"
    assert "condition not met: the grid reaches 10x either side" in large.why


def test_too_small_claim_is_left_to_full_scale_but_its_values_are_recorded(tmp_path):
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)  # quick: judge_slow is False
    assert scale_values(LearningRateLabConfig)["judge_slow"] == {
        "smoke": True, "quick": False, "full": True}
    claims.regimes(cfg, ctx, [_grid(0, 2.0), _grid(1, 1.0)])
    assert [c.id for c in ctx.claims] == ["too-large-lr-diverges"]
    assert ctx.metrics["too_small_log10_loss_ratio"] == pytest.approx([math.log10(20), 1.0])


def test_finder_claim_measures_decades_and_needs_a_suggestion(tmp_path):
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)
    claims.finder(cfg, ctx, [_grid(0, 2.0, suggestion=0.02), _grid(1, 2.0, suggestion=0.1)])
    ok = ctx.claims[0]
    assert ok.values == pytest.approx([math.log10(5), 0.0]) and ok.verdict == "holds"
    ctx2 = _ctx(tmp_path)
    claims.finder(cfg, ctx2, [_grid(0, 2.0, suggestion=None), _grid(1, 2.0)])
    missing = ctx2.claims[0]
    assert missing.verdict == "does not hold" and "suggestion on every seed" in missing.why
    assert missing.values[0] == pytest.approx(6.0)  # the whole 1e-5..10 sweep, as a stand-in


def test_optimizer_claim_pairs_lr_cost_with_the_tuned_spread(tmp_path):
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)
    sweeps = []
    for seed, gap in enumerate((0.02, 0.03, 0.01)):
        fits = []
        for k, opt in enumerate(("momentum", "sgd", "adam", "rmsprop", "adagrad")):
            accs = (0.5, 0.95 - gap * (k == 4), 0.7)  # the middle lr wins on validation
            fits += [_fit(f, 0.1, seed=seed, optimizer=opt, test_acc=a, val_acc=a)
                     for f, a in zip((0.1, 1.0, 10.0), accs)]
        sweeps.append(OptimizerSweep(seed, fits))
    claims.optimizers(cfg, ctx, sweeps)
    c = ctx.claims[0]
    costs = [statistics.fmean([0.45] * 4 + [0.45 - g]) for g in (0.02, 0.03, 0.01)]
    assert c.values_a == pytest.approx(costs)
    assert c.values_b == pytest.approx([0.02, 0.03, 0.01])  # best - worst tuned optimizer
    assert c.verdict == "holds" and c.ci == pytest.approx(
        list(rules.t_interval([x - y for x, y in zip(costs, [0.02, 0.03, 0.01])])))


def _diverged(lr, seed):
    return _fit(lr, 3.0, seed=seed, diverged=True)


def test_schedule_lowest_picks_each_arms_own_lowest_training_loss():
    const = [_fit(0.1, 0.02, val_loss=0.10), _fit(0.3, 0.05, val_loss=0.09),
             _diverged(1.0, 0)]
    warm = [_fit(0.1, 0.03, val_loss=0.10), _fit(0.3, 0.005, val_loss=0.11),
            _fit(1.0, 0.001, diverged=True)]
    sd = ScheduleSeed(0, const, warm)
    assert (sd.lowest.constant.lr, sd.lowest.warmup.lr) == (0.1, 0.3)  # diverged never picked
    assert (sd.tuned.constant.lr, sd.tuned.warmup.lr) == (0.3, 0.1)  # on validation loss


def test_schedule_tuned_claim_compares_log_losses_at_each_arms_own_lr(tmp_path):
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)
    const = [0.020, 0.025, 0.022, 0.018, 0.030]
    warm = [0.010, 0.026, 0.012, 0.017, 0.031]
    pairs = [SchedulePair("tuned", _fit(0.1, c, seed=i), _fit(0.3, w, seed=i))
             for i, (c, w) in enumerate(zip(const, warm))]
    claims.schedule_tuned(cfg, ctx, pairs)
    c = ctx.claims[0]
    assert c.id == "warmup-cosine-lowers-final-loss"
    assert c.values == pytest.approx([math.log10(w / k) for w, k in zip(warm, const)])
    lo, hi = rules.t_interval(c.values)
    assert c.ci == pytest.approx([lo, hi]) and lo < 0 < hi
    assert c.verdict == "inconclusive" and "seeds would decide it" in c.why
    assert "see warmup-cosine-tames-larger-lr" in c.why  # the lab's own sentence, appended


def test_schedule_seed_picks_each_arm_on_validation_and_the_lr_above():
    const = [_fit(lr, 0.1, val_loss=v) for lr, v in ((0.03, 0.3), (0.1, 0.2), (0.3, 0.4))]
    const.append(_diverged(1.0, 0))
    warm = [_fit(lr, 0.1, val_loss=v) for lr, v in ((0.03, 0.3), (0.1, 0.25), (0.3, 0.1),
                                                    (1.0, 0.9))]  # fmt: skip
    sd = ScheduleSeed(0, const, warm)
    assert (sd.tuned.constant.lr, sd.tuned.warmup.lr) == (0.1, 0.3)
    assert sd.above.constant is const[2] and sd.above.warmup is warm[2]
    top = ScheduleSeed(0, const[:2], warm[:2])  # the constant's best is the top of the grid
    assert top.above is None


def test_schedule_above_leaves_out_seeds_where_both_runs_diverged(tmp_path):
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)
    pairs = [SchedulePair("above", _diverged(1.0, 0), _diverged(1.0, 0)),  # no win: left out
             SchedulePair("above", _diverged(0.3, 1), _fit(0.3, 0.2, seed=1)),
             SchedulePair("above", _fit(0.3, 0.2, seed=2), _fit(0.3, 0.02, seed=2)),
             SchedulePair("above", _fit(0.3, 0.1, seed=3), _fit(0.3, 0.01, seed=3)), None]
    claims.schedule_above(cfg, ctx, pairs)
    c = ctx.claims[0]
    assert len(c.values) == 3  # the both-diverged seed and the seed without an lr above: out
    # a diverged run counts at its first batch loss (2.3): no progress
    assert c.values_b == pytest.approx([math.log10(2.3), math.log10(0.2), math.log10(0.1)])
    assert c.values_a == pytest.approx([math.log10(0.2), math.log10(0.02), math.log10(0.01)])
    assert c.verdict == "holds" and "1 seeds left out because both diverged" in c.why
    ctx2 = _ctx(tmp_path)
    claims.schedule_above(cfg, ctx2, pairs[:1] + [None])
    assert ctx2.claims[0].verdict == "does not hold"
    assert "at least 2 seeds where not both runs diverged" in ctx2.claims[0].why


def test_momentum_claim_is_paired_with_plain_gd_at_the_effective_step(tmp_path):
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)
    races = {}
    for seed, (mom, eff) in enumerate(((0.4, 0.2), (0.3, 0.25), (0.5, 0.2), (0.35, 0.3))):
        races[seed] = surf.DoubleWellRace(
            0.02, escaped={"momentum": mom, "sgd": 0.0, surf.EFFECTIVE: eff},
            lrs={"momentum": 0.02, "sgd": 0.02, surf.EFFECTIVE: 0.2},
            diverged={"momentum": 0.0, "sgd": 0.0, surf.EFFECTIVE: 0.25})
    claims.double_well(cfg, ctx, races)
    c = ctx.claims[0]
    assert c.values_b == [0.2, 0.25, 0.2, 0.3]  # not the same-lr plain GD (0.0)
    assert c.values == pytest.approx([0.2, 0.05, 0.3, 0.05])
    assert c.verdict == "inconclusive" or c.verdict == "holds"
    assert "25% of its starts blow up" in c.why or "straddles" in c.why


def test_closest_is_nearest_on_a_log_scale():
    fits = [_fit(lr, 1.0) for lr in (0.01, 0.1, 1.0)]
    assert closest(fits, 0.3).lr == 0.1 and closest(fits, 0.32).lr == 1.0


def test_paired_seeds_figure_draws_one_line_per_seed_and_skips_empty_panels():
    from deepdojo.labs.framework import plt
    from deepdojo.labs.learning_rate import figures

    fig = figures.paired_seeds_figure([("t", "A", [1.0, 2.0, 3.0], "B", [0.0, 1.0, 1.0]),
                                       ("empty", "A", [], "B", [])])
    (ax,) = fig.axes
    assert len(ax.lines) == 3 + 1  # a line per seed and the mean
    assert list(ax.lines[-1].get_ydata()) == pytest.approx([2 / 3, 2.0])  # B mean, A mean
    plt.close(fig)


def test_schedule_section_runs_reps_per_seed_and_leaves_the_tuned_claim_to_full(
        tmp_path, monkeypatch):
    import deepdojo.labs.learning_rate as lab
    from deepdojo.labs.learning_rate import figures

    seen = []

    def fake_runs(cfg, device, seed):
        seen.append(seed)
        const = [_fit(lr, 0.02, seed=seed, val_loss=v) for lr, v in ((0.1, 0.1), (0.3, 0.2))]
        warm = [_fit(lr, 0.01, seed=seed, val_loss=v) for lr, v in ((0.1, 0.2), (0.3, 0.1))]
        return ScheduleSeed(seed, const, warm)

    monkeypatch.setattr(lab.measure, "schedule_runs", fake_runs)
    monkeypatch.setattr(figures, "schedule_figure", lambda *a, **k: figures.plt.figure())
    monkeypatch.setattr(figures, "paired_seeds_figure", lambda *a, **k: figures.plt.figure())
    cfg, ctx = LearningRateLabConfig(), _ctx(tmp_path)  # quick: 2 reps, tuned claim at full
    lab._schedule_section(cfg, ctx)
    assert seen == [s + 500 * k for s in ctx.seeds for k in range(2)]
    assert [c.id for c in ctx.claims] == ["warmup-cosine-tames-larger-lr"]
    assert len(ctx.claims[0].values) == 10
    assert ctx.metrics["schedule_lowest_log10_ratio"] == pytest.approx([math.log10(0.5)] * 10)
    ctx2 = _ctx(tmp_path)
    lab._schedule_section(dataclasses.replace(cfg, judge_schedule_tuned=True), ctx2)
    assert [c.id for c in ctx2.claims] == ["warmup-cosine-lowers-final-loss",
                                           "warmup-cosine-tames-larger-lr"]
