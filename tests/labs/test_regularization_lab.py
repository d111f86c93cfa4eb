"""The regularization lab's small noisy training set, strength selection, typed sizes and
claims."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from deepdojo.data import load_digits
from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.regularization import (
    RegularizationLabConfig,
    TrainedModel,
    _gap_claims,
    _pick,
    _small_noisy_split,
    _sparsity_claim,
)


def test_small_noisy_split_mislabels_exactly_the_requested_fraction():
    cfg = dataclasses.replace(RegularizationLabConfig(), n_train=100, label_noise=0.3)
    data, (X, y) = _small_noisy_split(cfg, seed=1)
    assert X.shape == (100, 64) and y.shape == (100,)
    # find each chosen image in the clean training split to recover its true label
    clean_X, clean_y = load_digits(flat=True, seed=1).train
    match = (X[:, None, :] == clean_X[None, :, :]).all(dim=2)  # (100, N_train)
    true = clean_y[match.float().argmax(dim=1)]
    assert match.any(dim=1).all()
    assert int((true != y).sum()) == 30
    again = _small_noisy_split(cfg, seed=1)[1]
    assert (again[1] == y).all() and (again[0] == X).all()  # same seed, same set


def _model(method: str, strength: float = 0.0, *, val_acc: float = 0.9, val_loss: float = 0.5,
           test_acc: float = 0.8, gap: float = 0.1, near_zero: float = 0.01,
           seed: int = 0) -> TrainedModel:
    return TrainedModel(seed=seed, method=method, strength=strength, train_acc=test_acc + gap,
                        val_acc=val_acc, val_loss=val_loss, test_acc=test_acc, gap=gap,
                        near_zero=near_zero, weights=torch.zeros(1000))


def test_pick_uses_validation_accuracy_then_loss_never_test():
    runs = [
        _model("l2", 1e-4, val_acc=0.8, val_loss=0.5, test_acc=0.99),
        _model("l2", 1e-3, val_acc=0.9, val_loss=0.7, test_acc=0.10),
        _model("l2", 1e-2, val_acc=0.9, val_loss=0.6, test_acc=0.20),
        _model("l1", 1e-5, val_acc=1.0, val_loss=0.1, test_acc=0.5),
    ]
    assert _pick(runs, "l2").strength == 1e-2
    assert "weights" not in runs[0].row() and runs[0].row()["strength"] == 1e-4


def test_sizes_by_scale_and_ranges():
    smoke = make_config(RegularizationLabConfig, scale="smoke")
    assert (smoke.epochs, smoke.width) == (2, 32)
    full = make_config(RegularizationLabConfig, scale="full")
    assert (full.epochs, full.width) == (80, 256)
    assert make_config(RegularizationLabConfig) == RegularizationLabConfig()
    with pytest.raises(LabError, match="label_noise must be <= 1"):
        make_config(RegularizationLabConfig, {"label_noise": "1.5"})
    with pytest.raises(LabError, match="l1_strengths must be > 0"):
        make_config(RegularizationLabConfig, {"l1_strengths": "0,1e-4"})


def test_gap_claims_need_every_seed_and_sparsity_uses_the_ratio(tmp_path):
    ctx = LabContext("regularization", scale="quick", out_dir=tmp_path)
    # L2 narrows the gap on every seed; L1 on two of three; AdamW never
    picked = {s: {"none": _model("none", gap=0.30), "adam": _model("adam", gap=0.20),
                  "l2": _model("l2", 1e-3, gap=0.10, near_zero=0.002),
                  "l1": _model("l1", 1e-4, gap=0.35 if s == 2 else 0.2, near_zero=0.02),
                  "adamw": _model("adamw", 1.0, gap=0.25)} for s in range(3)}
    _gap_claims(ctx, picked)
    cfg = RegularizationLabConfig()
    _sparsity_claim(cfg, ctx, picked)
    by_id = {c.id: c for c in ctx.claims}
    assert by_id["l2-shrinks-gap"].verdict == "holds"
    l1 = by_id["l1-shrinks-gap"]
    assert l1.verdict == "does not hold" and l1.seed_holds == [True, True, False]
    assert l1.why.startswith("on 1 of 3 seeds the gap with L1 penalty is not smaller")
    assert by_id["weight-decay-shrinks-gap"].values == pytest.approx([-0.05] * 3)
    assert ctx.metrics["gap.none"] == pytest.approx(0.30)
    sparse = by_id["l1-sparser-than-l2"]
    assert sparse.values == pytest.approx([10.0] * 3) and sparse.verdict == "holds"
