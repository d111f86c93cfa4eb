"""Helpers, configs and claims of the hyperparameters lab (shifted few-label transfer task,
one-at-a-time configs, line fit, paired gap claims) and the search lab (epochs-trained cost,
typed sizes); the labs themselves run at smoke scale in test_registered_labs."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch
from scipy import stats

from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.hyperparameters import BASE, HyperparametersLabConfig, _fit_configs
from deepdojo.labs.hyperparameters import claims as hc
from deepdojo.labs.hyperparameters.measure import (
    SHIFTS,
    BatchRun,
    EfficiencyRow,
    FitConfig,
    FitRow,
    TransferResult,
    all_shifts,
    line_fit,
    pick_batch,
    random_shifts,
    shift,
)
from deepdojo.labs.search import (
    STRATEGIES,
    SearchLabConfig,
    SearchRow,
    _aa_differences,
    _column,
    _epochs_trained,
    sampler_seed,
)


def test_shift_moves_pixels_and_fills_background():
    x = torch.zeros(1, 64)
    x[0, 3 * 8 + 4] = 1.0  # pixel (row 3, col 4)
    for dy, dx in SHIFTS:
        img = shift(x, dy, dx).view(8, 8)
        assert torch.nonzero(img).tolist() == [[3 + dy, 4 + dx]]
    edge = torch.zeros(1, 64)
    edge[0, 7] = 1.0  # top-right corner: shifted right it leaves the image
    assert shift(edge, 0, 1).sum() == 0


def test_all_and_random_shifts():
    X, y = torch.rand(4, 64), torch.arange(4)
    Xa, ya = all_shifts(X, y)
    assert Xa.shape == (36, 64) and torch.equal(ya, y.repeat(9))
    assert torch.equal(Xa[4 * SHIFTS.index((0, 0)):][:4], X)  # the unshifted copy is kept
    a, b = random_shifts(X, 3), random_shifts(X, 3)
    assert torch.equal(a, b)
    assert all(any(torch.equal(a[i], shift(X[i:i + 1], *s)[0]) for s in SHIFTS) for i in range(4))


def test_epochs_trained_counts_pruned_trials_partially():
    def objective(trial: optuna.Trial) -> float:
        steps = 3 if trial.number == 0 else 1
        for e in range(steps):
            trial.report(0.5, step=e)
        if trial.number == 1:
            raise optuna.TrialPruned()
        return 0.5

    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=2)

    class R:
        pass

    r = R()
    r.study = study
    assert _epochs_trained(r) == 3 + 1


def test_fit_configs_vary_one_hyperparameter_at_a_time_without_duplicates():
    cfg = HyperparametersLabConfig()
    configs = _fit_configs(cfg)
    assert configs[0] == BASE == FitConfig(32, 0.0, 0.0)
    # base + dropout 0.3, 0.6 + decay 1e-3, 1e-2 (the base values appear once; batch sizes
    # have their own equal-steps study)
    assert len(configs) == len(set(configs)) == 5
    for c in configs[1:]:
        assert sum(getattr(c, k) != getattr(BASE, k)
                   for k in ("batch_size", "dropout", "weight_decay")) == 1
    assert BASE.vary("dropout", 0.6) == FitConfig(32, 0.6, 0.0)


def test_line_fit_matches_numpy():
    xs, ys = [8.0, 32.0, 128.0, 512.0], [1.0e4, 2.9e4, 1.1e5, 4.2e5]
    slope, r2 = line_fit(xs, ys)
    ref_slope, ref_icpt = np.polyfit(xs, ys, 1)
    pred = ref_slope * np.array(xs) + ref_icpt
    ref_r2 = 1 - np.sum((np.array(ys) - pred) ** 2) / np.sum((np.array(ys) - np.mean(ys)) ** 2)
    assert slope == pytest.approx(ref_slope) and r2 == pytest.approx(ref_r2)
    assert line_fit([1.0, 2.0, 3.0], [5.0, 7.0, 9.0]) == pytest.approx((2.0, 1.0))


def test_config_sizes_come_from_the_scale_and_are_range_checked():
    smoke = make_config(HyperparametersLabConfig, scale="smoke")
    quick = make_config(HyperparametersLabConfig, scale="quick")
    assert (smoke.conv_epochs, smoke.conv_train, smoke.n_train, smoke.ft_epochs) == (1, 128, 64, 2)
    assert (quick.conv_epochs, quick.conv_train, quick.n_train, quick.ft_epochs) == (8, 10_000,
                                                                                     300, 150)
    assert (smoke.batch_steps, quick.batch_steps, quick.fit_epochs) == (20, 500, 20)
    assert quick == HyperparametersLabConfig()  # the dataclass defaults are the quick sizes
    with pytest.raises(LabError, match="conv_epochs must be >= 1"):
        make_config(HyperparametersLabConfig, {"conv_epochs": "0"})
    with pytest.raises(LabError, match="lrs must be > 0"):
        make_config(HyperparametersLabConfig, {"lrs": "0.1,0"})
    with pytest.raises(LabError, match="dropouts must be < 1"):
        make_config(HyperparametersLabConfig, {"dropouts": "0.0,1.0"})
    s = make_config(SearchLabConfig, scale="smoke")
    assert (s.trials, s.epochs, s.studies) == (3, 1, 1)
    assert (SearchLabConfig().trials, SearchLabConfig().epochs) == (20, 6)
    assert make_config(SearchLabConfig, scale="full").trials == 40
    with pytest.raises(LabError, match="trials must be >= 1"):
        make_config(SearchLabConfig, {"trials": "0"})


def _fit_rows(gaps: dict[FitConfig, float], seed: int) -> list[FitRow]:
    """Each config at two rates: the one with the better validation accuracy has ``gap``."""
    rows = []
    for c, g in gaps.items():
        rows.append(FitRow(c.batch_size, c.dropout, c.weight_decay, seed=seed, train_acc=1.0,
                           val_acc=0.95, test_acc=1.0 - g, gap=g, lr=0.1))
        rows.append(FitRow(c.batch_size, c.dropout, c.weight_decay, seed=seed, train_acc=1.0,
                           val_acc=0.90, test_acc=0.5, gap=0.5, lr=0.05))  # never picked
    return rows


class _Seed:
    """The fields of SeedMeasurements that the fitting and selection claims read."""

    def __init__(self, fitting: list[FitRow], aa: float = 0.0) -> None:
        self.fitting = fitting
        self.fit_aa_gap = aa


def test_noisy_gap_claim_is_inconclusive_and_a_steady_one_holds(tmp_path):
    # per-seed gap drops 0.004, 0.060, 0.010 against the margin 0.02: the interval straddles it
    diffs = [0.004, 0.060, 0.010]
    ctx = LabContext("hyperparameters", scale="quick", out_dir=tmp_path)
    cfg = HyperparametersLabConfig(dropouts=(0.0, 0.6), weight_decays=(0.0, 0.01))
    per_seed = [_Seed(_fit_rows({BASE: 0.1, BASE.vary("dropout", 0.6): 0.1 - d,
                                 BASE.vary("weight_decay", 0.01): 0.05}, seed), aa=0.01 * seed)
                for seed, d in enumerate(diffs)]
    hc._fitting(ctx, cfg, per_seed, BASE)
    by_id = {c.id: c for c in ctx.claims}
    drop = by_id["dropout-narrows-gap"]
    assert drop.values == pytest.approx(diffs)  # the picked rate's gap, never the other's
    assert drop.values_a == pytest.approx([0.1] * 3)  # arm A: the gap without dropout
    assert drop.margin == 0.02 and drop.verdict == "inconclusive"
    s = np.std(diffs, ddof=1) / np.sqrt(3)
    assert drop.ci == pytest.approx(stats.t.interval(0.95, 2, loc=np.mean(diffs), scale=s))
    assert "straddles" in drop.why and "decided at full scale" in drop.why
    wd = by_id["weight-decay-narrows-gap"]  # 0.05 narrower on every seed: zero-width interval
    assert wd.verdict == "holds" and wd.ci == pytest.approx([0.05, 0.05])
    assert ctx.metrics["noise_floor.gap"] == pytest.approx(0.01)


def test_validation_optimism_subtracts_the_offset_all_configs_share(tmp_path):
    ctx = LabContext("hyperparameters", scale="quick", out_dir=tmp_path)
    per_seed, chosen = [], []
    for seed in range(3):
        rows = [FitRow(32, 0.0, 0.0, seed=seed, train_acc=1.0, val_acc=0.9 + 0.01 * k,
                       test_acc=0.85 + 0.01 * k, gap=0.0, lr=0.1 * (k + 1)) for k in range(3)]
        per_seed.append(_Seed(rows))
        chosen.append(max(rows, key=lambda r: r.val_acc))
    hc._selection(ctx, per_seed, chosen)
    opt = {c.id: c for c in ctx.claims}["validation-is-optimistic"]
    # every config is 0.05 better on validation: the selected one is no more optimistic
    assert opt.values == pytest.approx([0.0] * 3) and opt.verdict == "does not hold"
    assert ctx.metrics["val_minus_test_offset"] == pytest.approx(0.05)


def _batch_seed(seed: int, small_acc: float, large_acc: float, ctrl_acc: float) -> object:
    runs = [BatchRun(8, lr, 500, 13, 1.0, 0.9 + lr, small_acc if lr == 0.05 else 0.5,
                     small_acc, 1.0 - small_acc) for lr in (0.0125, 0.05)]
    runs += [BatchRun(128, lr, 500, 166, 1.0, 0.9 + lr, large_acc if lr == 0.2 else 0.5,
                      large_acc, 1.0 - large_acc) for lr in (0.05, 0.2)]
    runs.append(BatchRun(128, 0.05, 39, 13, 0.6, 0.5, ctrl_acc, ctrl_acc, 0.6 - ctrl_acc,
                         equal_epochs=True))

    class S:
        batches = runs
    return S


def test_batch_claims_pick_the_rate_per_batch_size_on_validation(tmp_path):
    ctx = LabContext("hyperparameters", scale="quick", out_dir=tmp_path)
    cfg = HyperparametersLabConfig()
    per_seed = [_batch_seed(s, 0.92 + 0.002 * s, 0.915, 0.55) for s in range(4)]
    assert pick_batch(per_seed[0].batches, 128).lr == 0.2  # not the equal-epochs control
    hc._batches(ctx, cfg, per_seed)
    by_id = {c.id: c for c in ctx.claims}
    folk = by_id["small-batch-generalizes-better-at-fixed-lr"]
    assert folk.verdict == "holds" and folk.values_b == pytest.approx([0.55] * 4)
    vanish = by_id["small-batch-gain-vanishes-with-tuned-lr"]
    assert vanish.verdict == "holds" and vanish.margin == cfg.equiv_margin
    assert vanish.values == pytest.approx([0.005 + 0.002 * s for s in range(4)])
    gap = by_id["small-batch-narrows-gap"]
    assert gap.values == pytest.approx([0.005 + 0.002 * s for s in range(4)])  # < margin
    assert gap.verdict == "does not hold"


def test_transfer_arms_are_chosen_on_validation_not_test():
    t = TransferResult(scratch=0.5, frozen=0.9, frozen_logreg=0.6, same_lr=0.6,
                       small_backbone_lr=0.7, val={"frozen": 0.5, "same_lr": 0.8,
                                                   "small_backbone_lr": 0.7})
    assert t.best_on_val(("frozen", "same_lr", "small_backbone_lr")) == "same_lr"
    assert t.best_on_val(("same_lr", "small_backbone_lr")) == "same_lr"


def test_search_sampler_seeds_are_distinct_and_studies_are_averaged():
    seeds = [sampler_seed(s, st, k) for s in (0, 1, 7000, 7001) for st in STRATEGIES
             for k in range(3)]
    assert len(seeds) == len(set(seeds))
    rows = [SearchRow(st, seed, k, best_val_acc=0.9 + 0.01 * k + (0.05 if st == "tpe" else 0),
                      epochs_trained=10, wall_s=1.0, pruned=0, complete=10, best_params="",
                      sampler_seed=sampler_seed(seed, st, k), after_startup=0.5)
            for seed in (0, 1) for st in STRATEGIES for k in range(2)]
    assert _column(rows, "tpe", "best_val_acc") == pytest.approx([0.955, 0.955])
    assert _aa_differences(rows) == pytest.approx([-0.01, -0.01])


class _Eff:
    def __init__(self, efficiency: dict[int, EfficiencyRow]) -> None:
        self.efficiency = efficiency


def test_efficiency_claims_are_environment_dependent_and_memory_is_a_check(tmp_path):
    ctx = LabContext("hyperparameters", scale="quick", out_dir=tmp_path)
    per_seed = [_Eff({b: EfficiencyRow(epoch_s=4.0 / b ** 0.5, saved_bytes=1000 + 300 * b,
                                       cuda_peak_bytes=None) for b in (8, 32, 128, 512)})
                for _ in range(3)]
    hc._efficiency(ctx, per_seed)
    speed, memory = ctx.claims
    assert speed.environment_dependent and memory.environment_dependent
    assert speed.kind == "finding" and memory.kind == "check"
    assert speed.values == pytest.approx([8.0] * 3)  # sqrt(512 / 8)
    assert speed.verdict == "holds"
    assert memory.verdict == "holds" and memory.values == pytest.approx([1.0] * 3)
    assert ctx.metrics["activation_bytes_per_example"] == pytest.approx(300.0)


def test_full_only_claims_exist_and_are_stated_at_full_scale():
    assert make_config(HyperparametersLabConfig, scale="full").full_only_claims
    assert not make_config(HyperparametersLabConfig, scale="quick").full_only_claims
    import inspect

    source = "".join(inspect.getsource(f) for f in (hc._fitting, hc._batches, hc._selection,
                                                   hc._optimizers, hc._transfer))
    for cid in hc.FULL_ONLY:  # every held-back id is a claim these functions state
        assert f'"{cid}"' in source


def _search_rows(tpe_best: float, rnd_best: float) -> list[SearchRow]:
    rows = []
    for seed in range(3):
        for st in STRATEGIES:
            for k in range(2):
                best = {"tpe": tpe_best, "random": rnd_best}.get(st, tpe_best) + 0.001 * seed
                rows.append(SearchRow(st, seed, k, best_val_acc=best,
                                      epochs_trained=60 if st == "tpe+pruning" else 80,
                                      wall_s=1.0, pruned=5 if st == "tpe+pruning" else 0,
                                      complete=15, best_params="",
                                      sampler_seed=sampler_seed(seed, st, k),
                                      after_startup=0.8 if st == "tpe" else 0.5 + 0.01 * seed))
    return rows


def test_search_claims_a_tie_is_no_win_and_tpe_vs_random_waits_for_full_scale(tmp_path):
    from deepdojo.labs.search import _claims

    ctx = LabContext("search", scale="quick", out_dir=tmp_path)
    _claims(ctx, SearchLabConfig(), _search_rows(0.95, 0.95))
    by_id = {c.id: c for c in ctx.claims}
    assert "tpe-vs-random" not in by_id  # quick: decided at full scale
    assert by_id["tpe-proposals-beat-random"].verdict == "holds"
    assert by_id["pruning-saves-time"].values == pytest.approx([0.75] * 3)
    keep = by_id["pruning-keeps-quality"]
    assert keep.verdict == "holds" and keep.values == pytest.approx([0.0] * 3)
    full = LabContext("search", scale="full", out_dir=tmp_path)
    _claims(full, SearchLabConfig(full_only_claims=True), _search_rows(0.95, 0.95))
    tie = {c.id: c for c in full.claims}["tpe-vs-random"]
    assert tie.values == pytest.approx([0.0] * 3) and tie.verdict == "does not hold"
