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
    open_gate_accuracy,
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


def _study(s, memory_acc=0.3, control_acc=0.97, acc=1.0, z_memory=0.95):
    abl = GateAblation(intact=1.0, memory=memory_acc + 0.01 * s, control=control_acc,
                       control_a=control_acc + 0.005 * (s % 2), control_b=control_acc)
    return GateStudy(z_init=0.8, z_trained=0.7, units=_units(z_memory, 0.6),
                     z_memory_init=0.88, retention=1e-3, candidate_gap=0.01,
                     aa_gap_sd=0.02 + 0.001 * s, ablation=abl, acc=acc)


def test_gate_ablation_claim_holds_when_opening_the_memory_units_gate_breaks_recall(ctx):
    gate_claims(ctx, {s: _study(s) for s in range(5)}, 80, GRULabConfig())
    held = _by_id(ctx)["update-gate-holds-memory"]
    assert held.verdict == "holds" and held.margin == 0.1
    assert held.values == pytest.approx([0.67, 0.66, 0.65, 0.64, 0.63])
    assert "drops recall from 1.00 to 0.32" in held.why and "only to 0.97" in held.why
    assert "0.950 after training (0.880 at initialisation)" in held.why
    memory = _by_id(ctx)["memory-units-keep-z-high"]
    assert memory.verdict == "holds" and memory.margin == 2.0
    assert memory.values == pytest.approx([0.35 / (0.02 + 0.001 * s) for s in range(5)])


def test_gate_ablation_claim_fails_when_the_candidate_holds_the_state(ctx):
    studies = {s: _study(s, memory_acc=0.95, z_memory=0.6005) for s in range(5)}
    gate_claims(ctx, studies, 80, GRULabConfig())
    held = _by_id(ctx)["update-gate-holds-memory"]
    assert held.verdict == "does not hold"
    assert "candidate re-proposes the old state" in held.why and "= 0.010 on" in held.why
    assert _by_id(ctx)["memory-units-keep-z-high"].verdict == "does not hold"


def test_gate_claims_are_withheld_when_the_gru_does_not_recall(ctx):
    gate_claims(ctx, {s: _study(s, acc=0.5) for s in range(5)}, 80, GRULabConfig())
    for cid in ("update-gate-holds-memory", "memory-units-keep-z-high"):
        claim = _by_id(ctx)[cid]
        assert claim.verdict == "inconclusive" and "withheld" in claim.why


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


def test_opening_no_gate_reproduces_the_fused_gru_and_opening_all_changes_it():
    cfg = dataclasses.replace(GRULabConfig(), hidden_size=6)
    torch.manual_seed(0)
    model = RecallNet("gru", cfg, 2.0)
    X, y = recall_data(40, 12, cfg, 3)
    with torch.no_grad():
        acc = (model(X).argmax(-1) == y).float().mean().item()
    none = torch.zeros(6, dtype=torch.bool)
    assert open_gate_accuracy(model, X, y, none, 12) == pytest.approx(acc)
    # the final state with every gate opened differs from the trained path
    with torch.no_grad():
        model.head.weight.copy_(torch.eye(4, 6))
        model.head.bias.zero_()
    pred_all = open_gate_accuracy(model, X, y, torch.ones(6, dtype=torch.bool), 12)
    pred_none = open_gate_accuracy(model, X, y, none, 12)
    assert 0.0 <= pred_all <= 1.0 and 0.0 <= pred_none <= 1.0


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
