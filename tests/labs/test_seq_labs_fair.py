"""Version 3 of the transformer and attention labs: edge-widened tuning, convergence stops,
withheld claims and the attribution statistic (issue 15 follow-up)."""

from __future__ import annotations

import pytest
import torch

import deepdojo.labs.attention as attention_lab
import deepdojo.labs.transformer as transformer_lab
from deepdojo.data.sequences import date_normalization
from deepdojo.labs.attention import AttentionLabConfig, AttributionRun, VariantRun
from deepdojo.labs.framework import LabContext, make_config
from deepdojo.labs.shared.seq import train_to_target
from deepdojo.labs.transformer import ModelRun, TransformerLabConfig
from deepdojo.models import Seq2Seq


@pytest.fixture
def ctx(tmp_path):
    return LabContext("seq-fair-test", scale="full", seed=0, out_dir=tmp_path, progress="off")


def _by_id(ctx):
    return {c.id: c for c in ctx.claims}


def test_widened_adds_the_next_point_beyond_an_edge_only():
    w = transformer_lab._widened
    assert w((1e-3, 3e-3, 1e-2), 1e-2, float) == pytest.approx(0.033)
    assert w((1e-3, 3e-3, 1e-2), 1e-3, float) == pytest.approx(0.00033)
    assert w((1e-3, 3e-3, 1e-2), 3e-3, float) is None  # interior: nothing to add
    assert w((30, 100, 300), 300, int) == 900 and w((30, 100, 300), 30, int) == 9
    assert w((1, 3), 1, int) is None  # no warmup below one step


def _fake_run(best_lr, best_warmup, calls):
    """A stand-in for _run_one: steps to target grow with the distance from the best setting
    (in grid ratios); records the budget it was given."""

    def run_one(kind, lr, warmup, data, seed, cfg, *, tuning_budget=None):
        import math

        need = 100 + 50 * round(abs(math.log10(lr / best_lr)) * 2) \
            + 25 * round(abs(math.log10(warmup / best_warmup)) * 2)
        calls.append((lr, warmup, tuning_budget))
        reached = need if need <= tuning_budget else None
        return None, ModelRun(exact=0.5, chars=0.5, steps_to_target=reached, best_val=0.5,
                              steps=min(need, tuning_budget), final_loss=0.1, cpu_s=0.0,
                              wall_s=0.0, curve=[])

    return run_one


def test_tuning_widens_the_lr_grid_until_the_pick_is_inside(monkeypatch):
    cfg = make_config(TransformerLabConfig, scale="quick")
    calls = []
    monkeypatch.setattr(transformer_lab, "_run_one", _fake_run(0.1, 100, calls))
    pick, rows, _ = transformer_lab._tune("transformer", None, 0, cfg)
    lrs = sorted({r["lr"] for r in rows})
    # 1e-2 at the top edge -> 0.033 -> still the edge -> 0.11 (max_widen=2); 0.11 is then the
    # pick, at the edge of the widened grid: the check would flag it
    assert lrs == pytest.approx([1e-3, 3e-3, 1e-2, 0.033, 0.11])
    assert pick[0] == pytest.approx(0.11) and pick[1] == 100
    chosen = [r for r in rows if r["chosen"]]
    assert len(chosen) == 1 and chosen[0]["lr_grid_edge"]
    # every later run is capped at the fewest steps an earlier setting needed
    budgets = [b for _, _, b in calls]
    assert budgets[0] == cfg.max_steps and all(b < cfg.max_steps for b in budgets[1:])


def test_tuning_pick_inside_the_grid_is_not_at_an_edge(monkeypatch):
    cfg = make_config(TransformerLabConfig, scale="quick")
    monkeypatch.setattr(transformer_lab, "_run_one", _fake_run(3e-3, 100, []))
    pick, rows, _ = transformer_lab._tune("gru+attention", None, 0, cfg)
    assert pick == (3e-3, 100)
    assert not any(r["lr_grid_edge"] or r["warmup_grid_edge"] for r in rows)
    assert {r["stage"] for r in rows} == {"lr", "warmup"}  # nothing widened


def _runs(exact, converged):
    return [ModelRun(exact=e, chars=e, steps_to_target=100, best_val=e, steps=1000,
                     final_loss=0.1, cpu_s=1.0, wall_s=1.0, curve=[(100, e)], converged=c)
            for e, c in zip(exact, converged, strict=True)]


def _times():
    return {60: {"transformer": [0.01] * 7, "gru+attention": [0.02] * 7}}


def test_match_claim_is_withheld_unless_every_run_converged(ctx):
    cfg = make_config(TransformerLabConfig, scale="full")
    results = {("transformer", 30): _runs([0.95, 0.96, 0.94, 0.95, 0.96], [True] * 4 + [False]),
               ("gru+attention", 30): _runs([0.97, 0.96, 0.97, 0.98, 0.96], [True] * 5)}
    transformer_lab._claims(ctx, results, 30, {"transformer": 100, "gru+attention": 110},
                            _times(), cfg, {"transformer": 1e-2, "gru+attention": 3e-3})
    c = _by_id(ctx)
    match = c["transformer-matches-recurrent"]
    assert match.verdict == "inconclusive" and "withheld" in match.why
    assert "Transformer 4 of 5" in match.why
    assert c["match-margin-above-aa-floor"].kind == "check"


def test_match_claim_is_judged_when_every_run_converged(ctx):
    cfg = make_config(TransformerLabConfig, scale="full")
    results = {("transformer", 30): _runs([0.6, 0.62, 0.58, 0.61, 0.6], [True] * 5),
               ("gru+attention", 30): _runs([0.97, 0.96, 0.97, 0.98, 0.96], [True] * 5)}
    transformer_lab._claims(ctx, results, 30, {"transformer": 100, "gru+attention": 110},
                            _times(), cfg, {"transformer": 1e-2, "gru+attention": 3e-3})
    match = _by_id(ctx)["transformer-matches-recurrent"]
    assert match.verdict == "does not hold" and "at convergence" in match.why


def test_train_to_target_patience_stops_a_flat_run_as_converged():
    train = date_normalization(64, seed=0)
    val = date_normalization(8, seed=1)
    torch.manual_seed(0)
    model = Seq2Seq(len(train.src_vocab), len(train.tgt_vocab), embed_dim=8, hidden_size=16)
    # lr 0: nothing changes, the validation score stays flat after the first evaluation
    r = train_to_target(model, train, val, max_steps=40, batch_size=8, lr=1e-12, warmup=1,
                        clip=1.0, seed=0, eval_every=2, target=2.0, stop_at_target=False,
                        patience=6, min_delta=0.01)
    assert r.converged and r.steps == 8  # improved at step 2, flat through step 8
    torch.manual_seed(0)
    r = train_to_target(model, train, val, max_steps=4, batch_size=8, lr=1e-12, warmup=1,
                        clip=1.0, seed=0, eval_every=2, target=2.0, stop_at_target=False)
    assert not r.converged and r.steps == 4
    with pytest.raises(ValueError, match="patience must be >= 1"):
        train_to_target(model, train, val, max_steps=4, batch_size=8, lr=1e-2, warmup=1,
                        clip=1.0, seed=0, eval_every=2, target=2.0, stop_at_target=False,
                        patience=0)


def test_attribution_claim_judges_the_median_steps_rho_with_an_interval(tmp_path):
    ctx = LabContext("seq-fair-test", scale="quick", seed=0, out_dir=tmp_path, progress="off")
    # 6 of 11 steps at 0.55 (agree), 5 at 0.3: per seed "mostly agree"; the median step's rho
    # hovers at the cut over seeds, so the interval straddles 0.5
    steps = [[0.3] * 5 + [m] * 6 for m in (0.52, 0.47, 0.55, 0.49, 0.51)]
    runs = {s: AttributionRun(0.95, v) for s, v in enumerate(steps)}
    attention_lab._attribution_claim(ctx, runs, AttentionLabConfig())
    claim = _by_id(ctx)["attention-is-not-attribution"]
    assert claim.values == pytest.approx([0.52, 0.47, 0.55, 0.49, 0.51])
    assert claim.verdict == "inconclusive"
    ctx2 = LabContext("seq-fair-test", scale="quick", seed=1, out_dir=tmp_path, progress="off")
    high = {s: AttributionRun(0.95, [0.3] * 5 + [0.7 + 0.01 * s] * 6) for s in range(5)}
    attention_lab._attribution_claim(ctx2, high, AttentionLabConfig())
    assert _by_id(ctx2)["attention-is-not-attribution"].verdict == "does not hold"


def test_attention_tuning_widens_at_an_edge_and_keeps_the_pick(monkeypatch):
    cfg = make_config(AttentionLabConfig, scale="full")

    def run_variant(kind, data, seed, lr, cfg):
        score = {1e-3: 0.2, 3e-3: 0.5, 1e-2: 0.9, 0.033: 0.8}.get(lr, 0.1)
        return None, VariantRun(exact=score, chars=score, train_s=0.0, best_val=score,
                                steps=1000, converged=True)

    monkeypatch.setattr(attention_lab, "_run_variant", run_variant)
    lr, rows, (_, r) = attention_lab._tune("none", None, 0, cfg)
    assert lr == pytest.approx(1e-2) and r.best_val == 0.9
    assert [x["lr"] for x in rows] == [1e-3, 3e-3, 1e-2, 0.033]
    assert [x["chosen"] for x in rows] == [False, False, True, False]
    assert not any(x["grid_edge"] for x in rows)
