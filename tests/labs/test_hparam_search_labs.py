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
    EfficiencyRow,
    FitConfig,
    FitRow,
    all_shifts,
    line_fit,
    random_shifts,
    shift,
)
from deepdojo.labs.search import SearchLabConfig, _epochs_trained


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
    # base + batch 8, 128 + dropout 0.3, 0.6 + decay 1e-3, 1e-2 (the base values appear once)
    assert len(configs) == len(set(configs)) == 7
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
    assert quick == HyperparametersLabConfig()  # the dataclass defaults are the quick sizes
    with pytest.raises(LabError, match="conv_epochs must be >= 1"):
        make_config(HyperparametersLabConfig, {"conv_epochs": "0"})
    with pytest.raises(LabError, match="lrs must be > 0"):
        make_config(HyperparametersLabConfig, {"lrs": "0.1,0"})
    with pytest.raises(LabError, match="dropouts must be < 1"):
        make_config(HyperparametersLabConfig, {"dropouts": "0.0,1.0"})
    s = make_config(SearchLabConfig, scale="smoke")
    assert (s.trials, s.epochs) == (3, 1)
    assert make_config(SearchLabConfig, scale="full").trials == 40
    with pytest.raises(LabError, match="trials must be >= 1"):
        make_config(SearchLabConfig, {"trials": "0"})


def _fit_rows(gaps: dict[FitConfig, float], seed: int) -> list[FitRow]:
    return [FitRow(c.batch_size, c.dropout, c.weight_decay, seed=seed, train_acc=1.0,
                   val_acc=1.0 - g, test_acc=0.9, gap=g) for c, g in gaps.items()]


class _Seed:
    """The one field of SeedMeasurements that the gap claims read."""

    def __init__(self, fitting: list[FitRow]) -> None:
        self.fitting = fitting


def test_noisy_gap_claim_is_inconclusive_and_a_steady_one_holds(tmp_path):
    # per-seed gap drops -0.016, +0.040, -0.010: the mean is > 0 but the interval straddles 0
    diffs = [-0.016, 0.040, -0.010]
    ctx = LabContext("hyperparameters", scale="quick", out_dir=tmp_path)
    cfg = HyperparametersLabConfig(dropouts=(0.0, 0.6), weight_decays=(0.0, 0.01),
                                   batch_sizes=(8, 32, 128))
    per_seed = [_Seed(_fit_rows({BASE: 0.1, BASE.vary("dropout", 0.6): 0.1 - d,
                                 BASE.vary("weight_decay", 0.01): 0.05,
                                 BASE.vary("batch_size", 8): 0.1,
                                 BASE.vary("batch_size", 128): 0.1}, seed))
                for seed, d in enumerate(diffs)]
    hc._fitting(ctx, cfg, per_seed, BASE)
    by_id = {c.id: c for c in ctx.claims}
    drop = by_id["dropout-narrows-gap"]
    assert drop.values == pytest.approx(diffs)
    assert drop.values_a == pytest.approx([0.1] * 3)  # arm A: the gap without dropout
    assert drop.seed_holds == [False, True, False] and drop.verdict == "inconclusive"
    s = np.std(diffs, ddof=1) / np.sqrt(3)
    assert drop.ci == pytest.approx(stats.t.interval(0.95, 2, loc=np.mean(diffs), scale=s))
    assert "straddles" in drop.why and not drop.holds
    wd = by_id["weight-decay-narrows-gap"]  # 0.05 narrower on every seed: zero-width interval
    assert wd.verdict == "holds" and wd.ci == pytest.approx([0.05, 0.05])
    batch = by_id["small-batch-narrows-gap"]  # no difference at all: the interval is [0, 0]
    assert batch.verdict == "does not hold"
    assert batch.why == ("with batch_size=8 the gap averages 0.100, against 0.100 with "
                         "batch_size=128, after 15 epochs on 300 examples")


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
