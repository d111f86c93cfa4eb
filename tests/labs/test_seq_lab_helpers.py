"""Helpers of the gru and transformer labs: memory-unit scores, warmup-then-constant lr."""

from __future__ import annotations

import pytest
import torch

from deepdojo.data.sequences import date_normalization
from deepdojo.labs._seq_gru_units import memory_scores, memory_unit_gap
from deepdojo.labs._seq_train import train_steps, warmup_constant
from deepdojo.models import Seq2Seq


def test_gru_memory_scores_find_the_unit_that_carries_the_symbol():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (400,), generator=g)
    h = torch.randn(400, 5, generator=g)
    h[:, 2] = y.float() + 0.01 * torch.randn(400, generator=g)  # unit 2 encodes the symbol
    scores = memory_scores(h, y)
    assert scores.argmax().item() == 2 and (scores >= 0).all()
    assert scores[2] > 5 * scores[[0, 1, 3, 4]].max()
    means = torch.stack([h[y == c, 2].mean() for c in range(4)])  # (4,) class means of unit 2
    counts = torch.stack([(y == c).sum() for c in range(4)]).float()
    expected = ((counts * (means - h[:, 2].mean()) ** 2).sum() / 400).sqrt()
    torch.testing.assert_close(scores[2], expected)


def test_gru_memory_unit_gap_compares_memory_units_with_the_rest():
    N, T, H = 200, 6, 16
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 3, (N,), generator=g)
    h = torch.randn(N, T, H, generator=g)
    h[:, T - 2, 5] = y.float() * 3  # unit 5 is the (k = 16 // 8 = 2) top memory unit
    h[:, T - 2, 9] = y.float() * 3 + 0.1 * torch.randn(N, generator=g)
    z = torch.full((N, T, H), 0.5)
    z[:, 1 : T - 1, [5, 9]] = 0.9
    out = memory_unit_gap({"z": z, "h": h}, y, T)
    assert out["memory"].nonzero().flatten().tolist() == [5, 9]
    assert out["gap"] == pytest.approx(0.4, abs=1e-6)
    assert out["z_memory"] == pytest.approx(0.9, abs=1e-6)


def test_transformer_lab_schedule_warms_up_then_stays_at_the_peak():
    f = [warmup_constant(s, warmup=4) for s in range(20)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0]) and f[4:] == [1.0] * 16
    with pytest.raises(ValueError, match="warmup must be >= 1"):
        warmup_constant(0, warmup=0)


def test_transformer_lab_train_steps_is_deterministic_and_learns():
    task = date_normalization(64, seed=0)

    def fit(steps):
        torch.manual_seed(0)
        model = Seq2Seq(len(task.src_vocab), len(task.tgt_vocab), embed_dim=8, hidden_size=16)
        r = train_steps(model, task, steps=steps, batch_size=16, lr=1e-2, warmup=2, clip=1.0,
                        seed=3)
        return model, r

    (m1, r1), (m2, r2) = fit(12), fit(12)
    assert r1["final_loss"] == r2["final_loss"] and r1["cpu_s"] > 0 and r1["wall_s"] > 0
    torch.testing.assert_close(m1.out.weight, m2.out.weight)
    _, r0 = fit(2)
    assert r1["final_loss"] < r0["final_loss"]
