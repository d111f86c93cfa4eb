"""The regularization lab's small noisy training set, strength selection, typed sizes and
claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from deepdojo.data import load_digits
from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.regularization import (
    ProximalL1,
    RegularizationLabConfig,
    TrainedModel,
    _extra_arms,
    _gap_claims,
    _grid,
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
           seed: int = 0, lr: float = 0.05, train_loss: float = 0.1, exact_zero: float = 0.0,
           weight_norm: float = 10.0, weights: torch.Tensor | None = None) -> TrainedModel:
    return TrainedModel(seed=seed, method=method, strength=strength, lr=lr,
                        train_acc=test_acc + gap, train_loss=train_loss, val_acc=val_acc,
                        val_loss=val_loss, test_acc=test_acc, gap=gap, near_zero=near_zero,
                        exact_zero=exact_zero, weight_norm=weight_norm,
                        weights=torch.zeros(1000) if weights is None else weights)


def test_pick_uses_validation_accuracy_then_loss_never_test():
    runs = [
        _model("l2", 1e-4, val_acc=0.8, val_loss=0.5, test_acc=0.99),
        _model("l2", 1e-3, val_acc=0.9, val_loss=0.7, test_acc=0.10),
        _model("l2", 1e-2, val_acc=0.9, val_loss=0.6, test_acc=0.20),
        _model("l1", 1e-5, val_acc=1.0, val_loss=0.1, test_acc=0.5),
    ]
    assert _pick(runs, "l2").strength == 1e-2
    assert "weights" not in runs[0].row() and runs[0].row()["strength"] == 1e-4


def test_pick_of_a_baseline_keeps_to_converged_runs():
    runs = [_model("none", lr=0.02, val_acc=0.95, train_loss=0.6),  # best val, not converged
            _model("none", lr=0.05, val_acc=0.90, train_loss=0.2),
            _model("none", lr=0.1, val_acc=0.85, train_loss=0.05)]
    assert _pick(runs, "none").lr == 0.02
    assert _pick(runs, "none", max_loss=0.3).lr == 0.05
    assert _pick(runs, "none", max_loss=0.01).lr == 0.02  # none converged: all compete


def test_sizes_by_scale_and_ranges():
    smoke = make_config(RegularizationLabConfig, scale="smoke")
    assert (smoke.epochs, smoke.width, smoke.random_epochs) == (2, 32, 2)
    full = make_config(RegularizationLabConfig, scale="full")
    assert (full.epochs, full.width, full.random_epochs) == (80, 256, 150)
    assert make_config(RegularizationLabConfig) == RegularizationLabConfig()
    with pytest.raises(LabError, match="label_noise must be <= 1"):
        make_config(RegularizationLabConfig, {"label_noise": "1.5"})
    with pytest.raises(LabError, match="l1_strengths must be > 0"):
        make_config(RegularizationLabConfig, {"l1_strengths": "0,1e-4"})
    with pytest.raises(LabError, match="norm_factor must be > 1"):
        make_config(RegularizationLabConfig, {"norm_factor": "1"})


def test_grid_gives_every_arm_three_configurations():
    cfg = RegularizationLabConfig()
    arms = _grid(cfg)
    for method in ("none", "adam", "l1", "l2", "adamw"):
        assert sum(a.method == method for a in arms) == 3
    assert sorted(a.lr for a in arms if a.method == "none") == sorted(cfg.sgd_lrs)
    extra = {a.method: a for a in _extra_arms(cfg, adamw_wd=1.0)}
    assert extra["adam_l2"].opt == "adam" and extra["adam_l2"].weight_decay == 1.0
    assert extra["sgd_l2_penalty"].l2 * 2 == extra["sgd_weight_decay"].weight_decay
    assert extra["random_adamw"].random_labels and extra["random_adamw"].weight_decay == 1.0
    assert extra["none_aa"].init_offset > 0


def test_proximal_callback_gives_exact_zeros_and_subgradient_does_not():
    # one weight layer fit to targets that need no weights: the L1 step must zero them
    torch.manual_seed(0)
    X = torch.randn(64, 8)
    y = torch.zeros(64, dtype=torch.long)
    cfg = dataclasses.replace(RegularizationLabConfig(), width=8, depth=2, epochs=20,
                              batch_size=16)
    data = load_digits(flat=True, seed=0)

    class Data:  # the digits splits with 8 features: only shapes and num_classes matter
        num_classes = data.num_classes
        val = (torch.randn(16, 8), torch.zeros(16, dtype=torch.long))
        test = val

    from deepdojo.labs import regularization as reg

    def train(arm):
        model = reg.create("plain_mlp", in_features=8, num_classes=10, depth=2, width=8)
        opt = reg.make_optimizer("sgd", model, 0.05, momentum=reg.MOMENTUM)
        cbs = [ProximalL1(arm[1], reg.MOMENTUM)] if arm[0] == "prox" else []
        regularizer = reg.Regularizer(l1=arm[1]) if arm[0] == "sub" else None
        t = reg.Trainer(model, torch.nn.CrossEntropyLoss(), opt, regularizer=regularizer,
                        callbacks=cbs, seed=0, progress="off")
        t.fit((X, y), epochs=cfg.epochs, batch_size=cfg.batch_size)
        w = torch.cat([p.detach().flatten() for p in reg.penalized_parameters(model)])
        return float((w == 0).double().mean())

    assert Data.num_classes == 10
    assert train(("prox", 0.05)) > 0.3
    assert train(("sub", 0.05)) == 0.0


def _runs_for(seed: int, *, none_gap: float = 0.3, l2_gap: float = 0.05, l2_test: float = 0.85,
              prox_zero: float = 0.8, sub_zero: float = 0.0, l1_nz: float = 0.85,
              l2_nz: tuple[float, ...] = (0.01, 0.02, 0.07), adam_l2_norm: float = 0.02,
              random_acc: float = 1.0) -> list[TrainedModel]:
    w = torch.linspace(-1, 1, 1000)
    runs = [_model("none", lr=lr, gap=none_gap, val_acc=0.8 + 0.01 * i, train_loss=0.1, seed=seed)
            for i, lr in enumerate((0.02, 0.05, 0.1))]
    runs += [_model("adam", lr=lr, gap=0.2, seed=seed) for lr in (1e-3, 3e-3, 1e-2)]
    runs += [_model("l1", s, gap=0.1, near_zero=l1_nz if s == 1e-3 else 0.02, test_acc=0.85,
                    exact_zero=sub_zero, seed=seed) for s in (1e-5, 1e-4, 1e-3)]
    runs += [_model("l2", s, gap=l2_gap, test_acc=l2_test, near_zero=nz, seed=seed,
                    val_acc=0.95 if s == 1e-2 else 0.9)
             for s, nz in zip((1e-4, 1e-3, 1e-2), l2_nz, strict=True)]
    runs += [_model("adamw", s, gap=0.1, val_acc=0.95 if s == 1.0 else 0.9, weight_norm=16.0,
                    seed=seed) for s in (0.1, 1.0, 10.0)]
    runs += [_model("none_aa", lr=0.05, gap=none_gap + 0.01 * (seed % 2), seed=seed),
             _model("l1_prox", 1e-3, exact_zero=prox_zero, seed=seed),
             _model("adam_l2", 1.0, weight_norm=adam_l2_norm, seed=seed),
             _model("sgd_l2_penalty", 1e-2, weights=w, seed=seed),
             _model("sgd_weight_decay", 1e-2, weights=w.clone(), seed=seed),
             _model("random_adam", 0.0, test_acc=0.1, gap=0.9, seed=seed),
             _model("random_adamw", 1.0, test_acc=0.1, gap=random_acc - 0.1, seed=seed)]
    return runs


def _judge(runs: dict[int, list[TrainedModel]], tmp_path, **cfg_kw) -> dict[str, object]:
    from deepdojo.labs.regularization import (
        BASES,
        METHODS,
        _decay_claims,
        _memorization_claims,
        _proximal_claims,
    )

    cfg = RegularizationLabConfig(**cfg_kw)
    ctx = LabContext("regularization", scale="quick", out_dir=tmp_path)
    picked = {s: {m: _pick(rs, m, cfg.converged_loss if m in BASES else None)
                  for m in (*BASES, *METHODS)} for s, rs in runs.items()}
    _gap_claims(cfg, ctx, runs, picked)
    _sparsity_claim(cfg, ctx, runs, picked)
    _proximal_claims(cfg, ctx, runs)
    _decay_claims(cfg, ctx, runs, picked)
    _memorization_claims(cfg, ctx, runs, picked)
    return {c.id: c for c in ctx.claims} | {"_metrics": ctx.metrics}


def test_claims_on_hand_made_runs(tmp_path):
    by_id = _judge({s: _runs_for(s, l2_gap=0.05 + 0.01 * s) for s in range(4)}, tmp_path)
    l2 = by_id["l2-shrinks-gap"]
    assert l2.verdict == "holds" and l2.values == pytest.approx([0.25, 0.24, 0.23, 0.22])
    assert l2.margin == RegularizationLabConfig().gap_margin
    assert by_id["_metrics"]["noise_floor.gap"] == pytest.approx(np.std([0, -0.01] * 2, ddof=1))
    assert by_id["gap-margin-above-noise-floor"].kind == "check"
    assert by_id["l1-sparser-than-l2"].verdict == "holds"
    assert by_id["l1-sparser-than-l2"].values == pytest.approx([0.85 / 0.07] * 4)
    assert by_id["prox-l1-exact-zeros"].verdict == "holds"
    assert by_id["subgradient-l1-no-exact-zeros"].verdict == "holds"
    assert by_id["sgd-l2-equals-weight-decay"].verdict == "holds"
    assert by_id["sgd-l2-equals-weight-decay"].kind == "check"
    ad = by_id["adam-l2-differs-from-adamw"]
    assert ad.verdict == "holds" and ad.values == pytest.approx([np.log(16.0 / 0.02)] * 4)
    mem = by_id["weight-decay-allows-memorization"]
    assert mem.verdict == "holds" and "fits 1.000 of 200 random labels" in mem.why


def test_gap_claim_fails_when_test_accuracy_falls_and_memorization_can_fail(tmp_path):
    by_id = _judge({s: _runs_for(s, l2_test=0.6 + 0.01 * s, random_acc=0.5 + 0.01 * s)
                    for s in range(4)}, tmp_path)
    l2 = by_id["l2-shrinks-gap"]
    assert l2.verdict == "does not hold" and "test accuracy does not fall" in l2.why
    mem = by_id["weight-decay-allows-memorization"]
    assert mem.verdict == "does not hold"
    assert mem.why.startswith("AdamW at weight_decay [1.0] fits 0.515 of the 200 random")


def test_sparsity_claim_compares_against_the_sparsest_l2_strength(tmp_path):
    by_id = _judge({s: _runs_for(s, l2_nz=(0.01, 0.3, 0.02)) for s in range(3)}, tmp_path)
    sparse = by_id["l1-sparser-than-l2"]
    assert sparse.values == pytest.approx([0.85 / 0.3] * 3) and sparse.verdict == "does not hold"


def test_l1_gap_claim_is_stated_at_full_scale_only(tmp_path):
    runs = {s: _runs_for(s) for s in range(3)}
    assert "l1-shrinks-gap" not in _judge(runs, tmp_path)
    assert not make_config(RegularizationLabConfig, scale="quick").full_only_claims
    assert make_config(RegularizationLabConfig, scale="full").full_only_claims
    full = _judge(runs, tmp_path, full_only_claims=True)
    assert full["l1-shrinks-gap"].verdict == "holds"
