"""The skip-connections lab (version 2, issue 14): arms, config, training accuracy and the
claims on hand-made runs (the whole lab runs in the smoke test of
tests/labs/test_registered_labs.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.data import Split
from deepdojo.labs import skip_connections as skip
from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.shared.grad import LrChoice, RunOutcome
from deepdojo.models.mlp import PlainMLP, ResNetMLP


def test_config_per_scale_and_ranges():
    cfgs = [make_config(skip.SkipConfig, scale=s) for s in ("smoke", "quick", "full")]
    assert [c.lr_grid for c in cfgs] == [(0.03,), (0.001, 0.003, 0.01, 0.03, 0.1),
                                         (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)]  # fmt: skip
    assert [c.depths for c in cfgs] == [(4, 8), (4, 8, 16, 32), (4, 8, 16, 32, 64)]
    assert cfgs[1].acc_margin == 0.05 and cfgs[1].within_factor == 10.0
    for key, text, bound in (("lr_grid", "0.01,0", "> 0"), ("tuning_seed", "3", ">= 10"),
                             ("acc_margin", "-0.1", ">= 0"), ("depths", "4,2", ">= 4")):
        with pytest.raises(LabError, match=f"{key}.*{bound}"):
            make_config(skip.SkipConfig, {key: text})


def test_bad_depths_refused_before_training(tmp_path):
    ctx = LabContext("skip-connections", scale="smoke", out_dir=tmp_path)
    with pytest.raises(ValueError, match="depths must be even"):
        skip.run(skip.SkipConfig(depths=(4, 6, 9)), ctx)
    with pytest.raises(ValueError, match="at least two distinct depths"):
        skip.run(skip.SkipConfig(depths=(8, 8)), ctx)
    assert not ctx.claims and not ctx.metrics


def test_arms_build_what_they_say():
    cfg = skip.SkipConfig(width=16)
    box: dict[str, nn.Module] = {}
    he = skip._builder(cfg, "plain_he", 6, box)()
    assert box["model"] is he and isinstance(he, PlainMLP)
    linears = [m for m in he.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 6 and all(torch.count_nonzero(m.bias) == 0 for m in linears)
    # He: Var(w) = 2 / fan_in (hidden 16 x 16 layers; loose bound for 256 draws)
    var = torch.cat([m.weight.flatten() for m in linears[1:-1]]).var().item()
    assert var == pytest.approx(2 / 16, rel=0.2)
    bn = skip._builder(cfg, "plain_bn", 6)()
    assert sum(isinstance(m, nn.BatchNorm1d) for m in bn.modules()) == 5
    res = skip._builder(cfg, "residual", 6)()
    assert isinstance(res, ResNetMLP)
    assert sum(isinstance(m, nn.Linear) for m in res.modules()) == 6
    assert not any(isinstance(m, nn.BatchNorm1d) for m in res.modules())
    assert [a for a, arm in skip.ARMS.items() if arm.strawman] == ["plain"]


def test_accuracy_counts_argmax_hits_in_eval_mode():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        net[0].bias.zero_()
    X = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-1.0, -1.0], [1.0, 3.0], [3.0, 1.0]])
    y = torch.tensor([0, 1, 2, 0, 0])  # the 4th row's argmax is 1: 4 hits of 5
    net.train()
    assert skip.accuracy(net, Split(X, y), batch=2) == pytest.approx(0.8)
    assert net.training  # mode restored
    assert torch.equal(net[1].running_mean, torch.zeros(3))  # eval: no statistics update


def _runs(arm: str, depth: int, train_acc: list[float], log_ratio: float = 0.0) -> skip.DepthRuns:
    outs = [RunOutcome(label=arm, seed=i, test_acc=a, log_ratio=log_ratio + 0.01 * i,
                       first_grad=1.0, last_grad=1.0, max_grad=1.0, layer_grads=[1.0, 1.0],
                       layer_names=["a", "b"], grad_matrix=torch.ones(2, 2), lr=0.03)
            for i, a in enumerate(train_acc)]  # fmt: skip
    choice = LrChoice(f"{arm}-{depth}", [0.01, 0.03], [0.5, 0.6], [False, False], 0.03)
    return skip.DepthRuns(arm, depth, choice, outs, list(train_acc))


def _all(plain_deep: list[float], res_deep: list[float], he_log: float = 0.0) -> skip.Runs:
    shallow = [0.99, 1.0, 0.99, 0.995, 1.0]
    runs = {}
    for arm in skip.ARMS:
        runs[arm, 4] = _runs(arm, 4, shallow)
    runs["plain_he", 32] = _runs("plain_he", 32, plain_deep, he_log)
    runs["plain_bn", 32] = _runs("plain_bn", 32, [a + 0.1 for a in plain_deep])
    runs["residual", 32] = _runs("residual", 32, res_deep, 0.3)
    runs["plain", 32] = _runs("plain", 32, [0.1] * 5, -11.0)
    return runs


def test_claims_degradation_holds_on_a_degrading_plain_net(tmp_path):
    ctx = LabContext("skip-connections", scale="full", out_dir=tmp_path)
    plain = [0.4, 0.5, 0.3, 0.45, 0.35]
    res = [0.98, 0.99, 0.97, 0.985, 0.99]
    skip._claims(skip.SkipConfig(full_only_claims=True), ctx, _all(plain, res), (4, 32))
    by = {c.id: c for c in ctx.claims}
    assert list(by) == ["plain-he-degrades-with-depth", "plain-bn-degrades-with-depth",
                        "residual-does-not-degrade", "residual-trains-better-when-deep",
                        "residual-keeps-first-layer-gradient",
                        "plain-he-gradient-does-not-vanish"]  # fmt: skip
    assert all(c.kind == "finding" for c in ctx.claims)
    assert all(c.verdict == "holds" for c in ctx.claims), [(c.id, c.why) for c in ctx.claims]
    he = by["plain-he-degrades-with-depth"]
    assert he.values_b == plain and he.margin == 0.05
    better = by["residual-trains-better-when-deep"]
    assert better.values_b == pytest.approx([a + 0.1 for a in plain])  # the better plain arm
    assert by["residual-keeps-first-layer-gradient"].values[0] == pytest.approx(10**0.3)


def test_claims_explain_when_nothing_degrades(tmp_path):
    ctx = LabContext("skip-connections", scale="full", out_dir=tmp_path)
    fits = [0.99, 0.98, 0.99, 0.985, 0.99]
    runs = _all([a - 0.1 for a in fits], [0.7, 0.75, 0.72, 0.69, 0.71], he_log=-3.0)
    runs["plain_bn", 32] = _runs("plain_bn", 32, fits)  # batch norm alone fits the data
    skip._claims(skip.SkipConfig(full_only_claims=True), ctx, runs, (4, 32))
    by = {c.id: c for c in ctx.claims}
    bn = by["plain-bn-degrades-with-depth"]
    assert bn.verdict == "does not hold"
    assert "lr 0.03 at depth 32" in bn.why and "not more than 0.05 in 10 epochs" in bn.why
    res = by["residual-does-not-degrade"]
    assert res.verdict == "does not hold" and "fits 0.714 of the training set" in res.why
    better = by["residual-trains-better-when-deep"]
    assert better.verdict == "does not hold" and "He + BN 0.987" in better.why
    grad = by["plain-he-gradient-does-not-vanish"]
    assert grad.verdict == "does not hold" and "mean log10 r is -2.98" in grad.why
    assert math.isclose(by["residual-keeps-first-layer-gradient"].values[0], 10**0.3)


def test_quick_logs_the_full_only_claim_instead_of_judging_it(tmp_path):
    ctx = LabContext("skip-connections", scale="quick", out_dir=tmp_path)
    cfg = make_config(skip.SkipConfig, scale="quick")
    assert not cfg.full_only_claims and make_config(skip.SkipConfig, scale="full").full_only_claims
    skip._claims(cfg, ctx, _all([0.4] * 5, [0.97, 0.99, 0.95, 0.96, 0.98]), (4, 32))
    assert "residual-does-not-degrade" not in [c.id for c in ctx.claims]
    assert len(ctx.claims) == 5
    assert any("decided at full scale" in n and "residual-does-not-degrade" in n
               for n in ctx.notes)  # fmt: skip
    assert ctx.metrics["residual_train_acc_drop.4_to_32"] == pytest.approx(0.025)


def test_strawman_is_not_tuned(tmp_path, monkeypatch):
    calls: list[str] = []

    def fake_choose(label, build, data, grid, *, seed, **kw):
        calls.append(label)
        return LrChoice(label, list(grid), [0.5] * len(grid), [False] * len(grid), grid[0])

    def fake_run(label, build, data, *, seed, lr, **kw):
        build()
        return RunOutcome(label=label, seed=seed, test_acc=0.5, log_ratio=0.0, first_grad=1.0,
                          last_grad=1.0, max_grad=1.0, layer_grads=[1.0], layer_names=["a"],
                          grad_matrix=torch.ones(1, 1), lr=lr)  # fmt: skip

    monkeypatch.setattr(skip, "choose_lr", fake_choose)
    monkeypatch.setattr(skip, "train_run", fake_run)
    ctx = LabContext("skip-connections", scale="smoke", out_dir=tmp_path)
    cfg = make_config(skip.SkipConfig, scale="smoke")
    runs = skip._train_all(cfg, ctx, (4, 8))
    assert sorted(calls) == sorted(f"{a}-{d}" for a in skip.FAIR_PLAIN + ("residual",)
                                   for d in (4, 8))  # fmt: skip
    straw = runs["plain", 8]
    assert (straw.choice.param, straw.choice.chosen) == ("lr_fixed", cfg.lr)
    assert [r.lr for r in straw.runs] == [cfg.lr] * len(ctx.seeds)
    assert runs["plain_he", 4].runs[0].lr == 0.03
