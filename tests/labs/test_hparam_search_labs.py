"""Helpers of the hyperparameters lab (shifted few-label transfer task) and the search lab
(epochs-trained cost); the labs themselves run at smoke scale in test_registered_labs."""

from __future__ import annotations

import optuna
import torch

from deepdojo.labs import LabContext
from deepdojo.labs import _hparam_claims as hc
from deepdojo.labs._hparam_effects import SHIFTS, all_shifts, random_shifts, shift
from deepdojo.labs.search import _epochs_trained


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


def test_noisy_gap_claim_no_longer_holds_on_its_mean(tmp_path):
    # the reviewer's case: per-seed -0.016, +0.040, -0.010 (mean > 0) must not hold
    diffs = [-0.016, 0.040, -0.010]
    ctx = LabContext("hyperparameters", scale="quick", out_dir=tmp_path)
    rows = []
    for d in diffs:
        base = {"batch_size": 32, "dropout": 0.0, "weight_decay": 0.0}
        rows.append([{**base, "gap": 0.1}, {**base, "dropout": 0.6, "gap": 0.1 - d},
                     {**base, "weight_decay": 0.01, "gap": 0.05},
                     {**base, "batch_size": 8, "gap": 0.1},
                     {**base, "batch_size": 128, "gap": 0.1}])

    class Cfg:
        dropouts, weight_decays, batch_sizes = (0.0, 0.6), (0.0, 0.01), (8, 32, 128)

    hc._fitting(ctx, [{"fitting": r} for r in rows], base, Cfg())
    by_id = {c.id: c for c in ctx.claims}
    drop = by_id["dropout-narrows-gap"]
    assert drop.mean > 0 and drop.seed_holds == [False, True, False] and not drop.holds
    assert by_id["weight-decay-narrows-gap"].holds  # 0.05 narrower on every seed
