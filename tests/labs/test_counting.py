"""Counting lab (a^n b^n, Q19), version 4: the hand-set LSTM counter, training to
convergence, and the share-of-seeds claim."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from deepdojo.labs.counting import (
    FULL_ONLY,
    SHARE_MARGIN,
    TWICE,
    CounterNet,
    CountingLabConfig,
    CountRun,
    _claims,
    hand_set_lstm_counter,
    recognised,
    train_counter,
)
from deepdojo.labs.framework import LabContext


@pytest.mark.parametrize("hidden", [1, 8])
def test_hand_set_lstm_counts_far_beyond_any_training_range(hidden):
    net = hand_set_lstm_counter(hidden)
    assert isinstance(net, CounterNet) and isinstance(net.rnn, torch.nn.LSTM)
    assert recognised(net, list(range(1, 301))).all()
    assert recognised(net, [1000]).all()


def test_hand_set_lstm_fails_when_one_gate_is_broken():
    # the check can fail: a forget gate at 0.5 (bias 0) forgets the count, so n >= 2 fails
    net = hand_set_lstm_counter(1)
    with torch.no_grad():
        net.rnn.bias_ih_l0[1] = 0.0
    ok = recognised(net, [1, 2, 3, 10])
    assert ok.tolist() == [True, False, False, False]
    # g and o rows swapped (a wrong gate order): the count never enters the cell
    net = hand_set_lstm_counter(1)
    with torch.no_grad():
        w = net.rnn.weight_ih_l0
        w[[2, 3]] = w[[3, 2]].clone()
    assert not recognised(net, [2, 5]).any()


def test_training_stops_at_the_loss_target_and_counts_its_updates():
    cfg = dataclasses.replace(CountingLabConfig(), hidden_size=2, n_train=3, steps=7)
    _, done = train_counter("gru", 1e-2, 0, dataclasses.replace(cfg, fit_loss=100.0))
    assert done.converged and done.updates == 0  # the initial loss already meets the target
    _, capped = train_counter("lstm", 1e-2, 0, dataclasses.replace(cfg, fit_loss=1e-9))
    assert not capped.converged and capped.updates == 7
    assert len(capped.ok) == cfg.test_factor * cfg.n_train
    _, again = train_counter("lstm", 1e-2, 0, dataclasses.replace(cfg, fit_loss=1e-9))
    assert again == capped  # deterministic on CPU


def _runs(reaches, converged=True):
    return [CountRun(reach=r, train_fit=1.0, ok=[True], loss=1e-5, updates=100,
                     converged=converged) for r in reaches]


def _judge(tmp_path, lstm, gru):
    ctx = LabContext("counting-test", scale="full", seed=0, out_dir=tmp_path, progress="off")
    _claims(ctx, {"lstm": _runs(lstm), "gru": _runs(gru)}, CountingLabConfig())
    return ctx, {c.id: c for c in ctx.claims}


def test_share_claim_holds_when_most_lstm_seeds_reach_twice(tmp_path):
    lstm = [2.1, 3.0, 2.4, 1.1, 2.7, 2.0, 3.9, 2.2, 2.5, 2.05]  # 9 of 10 at >= 2
    ctx, c = _judge(tmp_path, lstm, [1.2] * 9 + [2.0])
    share = c["lstm-reaches-twice-more-often-than-gru"]
    assert share.kind == "finding" and share.margin == SHARE_MARGIN
    assert share.values == [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert share.verdict == "holds"
    assert "9 of 10 LSTM seeds and 1 of 10 GRU seeds count to 2 x 20" in share.why
    assert ctx.metrics["lstm_share_of_seeds_reaching_twice_n_train"] == pytest.approx(0.9)
    assert ctx.metrics["gru_median_reach_over_n_train"] == pytest.approx(1.2)
    assert c["hand-set-lstm-recognises-every-test-string"].verdict == "holds"
    assert c["hand-set-lstm-recognises-every-test-string"].kind == "check"


def test_share_claim_fails_or_is_inconclusive_as_the_seeds_say(tmp_path):
    _, c = _judge(tmp_path, [1.1] * 10, [1.2] * 10)
    assert c["lstm-reaches-twice-more-often-than-gru"].verdict == "does not hold"
    _, c = _judge(tmp_path, [2.5, 1.1, 2.5, 1.1, 2.5, 1.1, 1.1, 1.1, 1.1, 1.1], [1.0] * 10)
    share = c["lstm-reaches-twice-more-often-than-gru"]
    assert share.verdict == "inconclusive" and "more seeds would decide it" in share.why
    assert TWICE == 2.0 and "lstm-reaches-twice-more-often-than-gru" in FULL_ONLY


def _tuned(band_fit, band_loss):
    return CountRun(reach=1.0, train_fit=1.0, ok=[True], loss=1e-4, band_fit=band_fit,
                    band_loss=band_loss)


def test_lr_rule_uses_the_band_then_its_loss_then_the_grid_order():
    from deepdojo.labs.counting import choose_lr

    # band share first: 1e-2 recognises more of the band although its loss is worse
    tried = {3e-3: [_tuned(0.2, 0.1)] * 2, 1e-2: [_tuned(1.0, 0.5), _tuned(0.2, 0.5)],
             3e-2: [_tuned(0.5, 0.01)] * 2}
    assert choose_lr(tried) == 1e-2
    # equal band share: the lower band loss wins; a NaN loss counts as infinite
    tried = {3e-3: [_tuned(1.0, float("nan"))], 1e-2: [_tuned(1.0, 0.3)],
             3e-2: [_tuned(1.0, 0.2)]}
    assert choose_lr(tried) == 3e-2
    # a complete tie: the lr listed first wins, whatever the order of the grid
    tie = [_tuned(1.0, 0.2)]
    assert choose_lr({3e-2: tie, 1e-2: tie}) == 3e-2
    assert choose_lr({1e-2: tie, 3e-2: tie}) == 1e-2


def test_tuning_runs_use_other_seeds_than_the_judged_ones():
    from deepdojo.labs.counting import TUNE_SEED_OFFSET

    cfg = CountingLabConfig()
    assert TUNE_SEED_OFFSET > 100  # disjoint from any base seed's judged seeds (<= 10 seeds)
    assert 1e-2 in cfg.lrs and min(cfg.lrs) < 1e-2 < max(cfg.lrs)  # 1e-2 is interior
    cfg = dataclasses.replace(cfg, hidden_size=2, n_train=3, steps=3)
    _, r = train_counter("lstm", 1e-2, 0, cfg)
    assert 0.0 <= r.band_fit <= 1.0 and r.band_loss > 0.0
