"""The gru lab, version 4: the gate ablation, the memory-unit gap in A/A sd, the LSTM claim's
reason, early stopping and the tie-free tuning rule."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from deepdojo.labs.framework import LabContext
from deepdojo.labs.gru import GRULabConfig
from deepdojo.labs.gru.claims import gate_claims, lstm_claim
from deepdojo.labs.gru.measure import (
    GateAblation,
    GateStudy,
    MemoryUnits,
    RecallNet,
    RecallRun,
    Setting,
    Tuning,
    clamped_gate_accuracy,
    gate_ablation,
    last_distractor,
    recall_data,
    train_recall,
    tune,
)


@pytest.fixture
def ctx(tmp_path):
    return LabContext("gru-test", scale="full", seed=0, out_dir=tmp_path, progress="off")


def _by_id(ctx):
    return {c.id: c for c in ctx.claims}


def _units(z_memory, z_other):
    return MemoryUnits(scores=torch.ones(2), z_delay=torch.tensor([z_memory, z_other]),
                       memory=torch.tensor([True, False]), z_memory=z_memory, z_other=z_other)


def _study(s, z_control=0.3, acc=1.0, acc_control=1.0, z_memory=0.95):
    return GateStudy(z_init=0.95, z_trained=0.85 + 0.01 * s, units=_units(z_memory, 0.6),
                     z_memory_init=0.95, retention=1e-3, candidate_gap=0.01,
                     aa_gap_sd=0.02 + 0.001 * s, ablation=GateAblation(intact=1.0, open=0.55),
                     acc=acc, z_control=z_control + 0.02 * (s % 2), acc_control=acc_control)


def test_gate_claim_holds_when_recall_keeps_z_above_the_control_task(ctx):
    gate_claims(ctx, {s: _study(s) for s in range(5)}, 80, GRULabConfig())
    held = _by_id(ctx)["update-gate-holds-memory"]
    assert held.verdict == "holds" and held.margin == 0.0
    assert held.values == pytest.approx([0.55, 0.54, 0.57, 0.56, 0.59])
    assert "both start at z = 0.950" in held.why and "lowers it to 0.308" in held.why
    assert "leaves recall at 0.55" in held.why
    memory = _by_id(ctx)["memory-units-keep-z-high"]
    assert memory.verdict == "holds" and memory.margin == 2.0
    assert memory.values == pytest.approx([0.35 / (0.02 + 0.001 * s) for s in range(5)])


def test_gate_claim_fails_when_the_control_task_keeps_z_as_high(ctx):
    studies = {s: _study(s, z_control=0.95, z_memory=0.6005) for s in range(5)}
    gate_claims(ctx, studies, 80, GRULabConfig())
    held = _by_id(ctx)["update-gate-holds-memory"]
    assert held.verdict == "does not hold"
    assert "does not keep the gate markedly higher" in held.why and "= 0.010 on" in held.why
    assert _by_id(ctx)["memory-units-keep-z-high"].verdict == "does not hold"


def test_gate_claims_are_withheld_unless_their_grus_learn(ctx):
    gate_claims(ctx, {s: _study(s, acc=0.5) for s in range(5)}, 80, GRULabConfig())
    for cid in ("update-gate-holds-memory", "memory-units-keep-z-high"):
        claim = _by_id(ctx)[cid]
        assert claim.verdict == "inconclusive" and "withheld" in claim.why


def test_a_control_that_does_not_learn_withholds_only_the_control_claim(tmp_path):
    ctx = LabContext("gru-test", scale="full", seed=0, out_dir=tmp_path, progress="off")
    gate_claims(ctx, {s: _study(s, acc_control=0.5) for s in range(5)}, 80, GRULabConfig())
    assert "withheld" in _by_id(ctx)["update-gate-holds-memory"].why
    assert _by_id(ctx)["memory-units-keep-z-high"].verdict == "holds"


def _recall(accs):
    return [RecallRun(acc=a, grad_init=1e-3, grad_trained=1e-3, converged=a > 0.9)
            for a in accs]


def test_lstm_claim_names_the_chosen_forget_bias(ctx):
    cfg = GRULabConfig()
    runs = {("lstm", 80): _recall([0.25, 0.26, 0.3, 0.24, 0.25]),
            ("gru", 80): _recall([1.0] * 5)}
    tried = [(Setting(lr, b), [RecallRun(0.25, 0, 0, val_acc=0.25 + 0.1 * (b == 3.0),
                                         val_loss=1.0)])
             for lr in cfg.lrs for b in cfg.gate_biases]
    tuning = Tuning("lstm", tried, Setting(0.003, 3.0), models=[], runs=tried[0][1])
    lstm_claim(ctx, runs, 80, cfg, tuning)
    claim = _by_id(ctx)["lstm-matches-gru-long"]
    assert claim.verdict == "does not hold"
    assert "lr 0.003 and forget bias 3, its forget gate starts at 0.953" in claim.why
    assert "memory time constant ~21 steps" in claim.why
    assert "0 of 5 LSTM runs and 5 of 5 GRU runs converged" in claim.why
    assert "1: 0.25, 3: 0.35, 5: 0.25" in claim.why


def test_a_gate_clamped_at_1_holds_the_first_state_and_z_0_is_measured():
    cfg = dataclasses.replace(GRULabConfig(), hidden_size=6)
    torch.manual_seed(0)
    model = RecallNet("gru", cfg, 2.0)
    X, y = recall_data(40, 12, cfg, 3)
    with torch.no_grad():
        model.head.weight.normal_(std=3.0)
    # z fixed at 1 during the delay keeps h_0: the output equals that of the input [x_0, x_11]
    held = clamped_gate_accuracy(model, X, y, torch.ones(6), 12)
    with torch.no_grad():
        short = (model(X[:, [0, 11]]).argmax(-1) == y).float().mean().item()
    assert held == pytest.approx(short)
    ab = gate_ablation(model, 12, dataclasses.replace(cfg, n_test=40), 0)
    with torch.no_grad():
        X40, y40 = recall_data(40, 12, cfg, 10_000)
        assert ab.intact == pytest.approx((model(X40).argmax(-1) == y40).float().mean().item())
    assert 0.0 <= ab.open <= 1.0


def test_the_control_task_targets_the_last_distractor():
    cfg = GRULabConfig()
    X, _ = recall_data(50, 9, cfg, 1)
    last = last_distractor(X, cfg)
    K = cfg.num_symbols
    assert torch.equal(X[torch.arange(50), 7, K + 1 + last], torch.ones(50))
    small = dataclasses.replace(cfg, hidden_size=4, n_train=64, n_test=32, steps=2)
    _, run = train_recall("gru", 9, 0, small, Setting(1e-2, 1.0), task="last")
    assert run.steps == 2
    # without the stall stop, a run goes on to its budget (or its loss target)
    slow = dataclasses.replace(small, steps=30, eval_every=5, patience=5, stop_loss=1e-9)
    _, stalled = train_recall("gru", 9, 0, slow, Setting(1e-9, 1.0), task="last")
    _, full = train_recall("gru", 9, 0, slow, Setting(1e-9, 1.0), task="last", patience=False)
    assert stalled.steps < 30 and full.steps == 30
    with pytest.raises(ValueError, match="task must be"):
        train_recall("gru", 9, 0, small, Setting(1e-2, 1.0), task="first")


def test_training_stops_once_the_validation_loss_meets_the_target():
    cfg = dataclasses.replace(GRULabConfig(), hidden_size=4, n_train=64, n_test=32, steps=40,
                              eval_every=10)
    _, done = train_recall("gru", 6, 0, dataclasses.replace(cfg, stop_loss=100.0),
                           Setting(1e-2, 1.0))
    assert done.converged and done.steps == 10
    _, capped = train_recall("lstm", 6, 0, dataclasses.replace(cfg, stop_loss=1e-9),
                             Setting(1e-2, 1.0))
    assert not capped.converged and capped.steps == 40


def test_tuning_breaks_ties_by_steps_then_the_grid_order(monkeypatch):
    import deepdojo.labs.gru.measure as measure

    cfg = GRULabConfig()
    same = RecallRun(0.25, 0, 0, val_acc=1.0, val_loss=0.01, steps=100)
    monkeypatch.setattr(measure, "train_recall", lambda kind, T, seed, cfg, st: (None, same))
    t = tune("lstm", 80, [0, 1], cfg)  # a complete tie: the first setting of the grid
    assert t.chosen == Setting(cfg.lrs[0], cfg.gate_biases[0]) and len(t.tried) == 9
    faster = dataclasses.replace(same, steps=50)
    monkeypatch.setattr(measure, "train_recall", lambda kind, T, seed, cfg, st: (
        None, faster if st == Setting(3e-3, 5.0) else same))
    assert tune("lstm", 80, [0], cfg).chosen == Setting(3e-3, 5.0)  # fewer steps wins
