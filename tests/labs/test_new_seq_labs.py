"""The counting (a^n b^n, Q19) and attention-memory (Q17) labs: data, measures and claims."""

from __future__ import annotations

import math

import pytest
import torch

from deepdojo.labs.attention_memory import AttentionMemoryConfig, probe, slope
from deepdojo.labs.counting import (
    CounterNet,
    CountingLabConfig,
    CountRun,
    _claims,
    anbn,
    reach,
    recognised,
)
from deepdojo.labs.framework import LabContext, LabError, make_config


def test_anbn_marks_only_the_determined_positions():
    X, Y, M = anbn([1, 3])
    assert X.shape == (2, 6, 2) and Y.shape == M.shape == (2, 6)
    assert X[1, :, 0].tolist() == [1, 1, 1, 0, 0, 0] and X[1, :, 1].tolist() == [0, 0, 0, 1, 1, 1]
    assert X[0, 2:].eq(0).all()  # padding
    assert M[1].tolist() == [False, False, False, True, True, True]
    assert Y[1, 3:].tolist() == [1, 1, 2] and Y[0, 1].item() == 2
    with pytest.raises(ValueError, match="ns must be a non-empty list"):
        anbn([0, 2])


def test_reach_is_the_first_failure():
    assert reach(torch.tensor([True, True, False, True])) == 2
    assert reach(torch.tensor([False, True])) == 0
    assert reach(torch.tensor([True] * 4)) == 4


class _Oracle(torch.nn.Module):
    """Predicts the determined next character exactly: counts a's and b's."""

    def forward(self, x):
        a, b = x[..., 0].cumsum(1), x[..., 1].cumsum(1)
        logits = torch.zeros(*x.shape[:2], 3)
        logits[..., 1] = (b < a).float()
        logits[..., 2] = (b >= a).float() * (b > 0).float()
        return logits


def test_recognised_accepts_a_perfect_counter_and_rejects_a_constant_model():
    ok = recognised(_Oracle(), list(range(1, 30)))
    assert ok.all()
    always_b = lambda x: torch.tensor([0.0, 1.0, 0.0]).expand(*x.shape[:2], 3)  # noqa: E731
    assert not recognised(always_b, [1, 2, 3]).any()  # never predicts the end
    with pytest.raises(ValueError, match="kind must be one of"):
        CounterNet("rnn", 4)


def _runs(reaches):
    return [CountRun(reach=r, train_fit=1.0, ok=[True], loss=0.01) for r in reaches]


def test_counting_claims_judge_lstm_reach_and_pair_it_with_the_gru(tmp_path):
    ctx = LabContext("counting-test", scale="quick", seed=0, out_dir=tmp_path, progress="off")
    runs = {"lstm": _runs([2.0, 1.9, 2.1, 1.8, 2.0]), "gru": _runs([1.1, 1.2, 1.0, 1.1, 1.15])}
    _claims(ctx, runs, CountingLabConfig())
    c = {x.id: x for x in ctx.claims}
    assert c["lstm-counts-beyond-training"].verdict == "holds"
    assert c["lstm-counts-beyond-training"].margin == 1.25
    further = c["lstm-counts-further-than-gru"]
    assert further.verdict == "holds"
    assert further.values == pytest.approx([0.9, 0.7, 1.1, 0.7, 0.85])
    assert "n* = 39.2 and the GRU 22.2" in further.why


def test_counting_claims_are_inconclusive_with_a_wide_spread(tmp_path):
    ctx = LabContext("counting-test", scale="quick", seed=0, out_dir=tmp_path, progress="off")
    _claims(ctx, {"lstm": _runs([1.0, 2.05, 2.1, 1.7, 1.45]), "gru": _runs([1.2] * 5)},
            CountingLabConfig())
    c = {x.id: x for x in ctx.claims}
    assert c["lstm-counts-beyond-training"].verdict == "inconclusive"
    assert "on some seeds only" in c["lstm-counts-beyond-training"].why


def test_slope_of_power_laws():
    L = [512, 1024, 2048]
    assert slope(L, [3 * x**2 for x in L]) == pytest.approx(2.0)
    assert slope(L, [5 * x + 0.0 for x in L]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least two"):
        slope([1], [1.0])


def test_memory_probe_sees_the_quadratic_matrix_of_naive_attention():
    cfg = AttentionMemoryConfig(embed_dim=32, num_heads=4, repeats=2)
    naive = probe("naive", 1024, cfg)
    fused = probe("fused", 1024, cfg)
    assert len(naive) == len(fused) == 2
    matrix = 4 * 1024 * 1024 * 4  # one (heads, L, L) float32 matrix: 16 MiB
    assert min(naive) > matrix  # scores and weights are both held
    assert max(fused) < matrix / 4


def test_attention_memory_refuses_bad_configs(tmp_path):
    from deepdojo.labs import run_lab

    with pytest.raises(LabError, match="must be divisible by num_heads"):
        run_lab("attention-memory", scale="smoke", seed=0, out=tmp_path, progress="off",
                overrides={"embed_dim": "30"})
    with pytest.raises(LabError, match="lengths must be >= 8"):
        make_config(AttentionMemoryConfig, {"lengths": "4,64"}, scale="quick")
    assert math.isfinite(make_config(CountingLabConfig, scale="quick").lrs[0])


def test_counting_claims_are_held_back_below_full_scale():
    from deepdojo.labs.counting import FULL_ONLY
    from deepdojo.labs.framework import make_config

    assert make_config(CountingLabConfig, scale="full").full_only_claims
    assert not make_config(CountingLabConfig, scale="quick").full_only_claims
    assert {"lstm-counts-beyond-training", "lstm-counts-further-than-gru"} <= set(FULL_ONLY)
