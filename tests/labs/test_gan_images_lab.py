"""The gan-images lab: its measurement helpers, and a smoke run."""

from __future__ import annotations

import json

import torch

from deepdojo.labs import run_lab
from deepdojo.labs.gan_images import measure as M


def test_same_digit_shuffle_keeps_each_row_within_its_digit():
    y = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2])
    perm = M._same_digit_shuffle(y, torch.Generator().manual_seed(0))
    assert sorted(perm.tolist()) == list(range(8))
    assert (y[perm] == y).all()


def test_real_vs_real_scores_near_the_floor():
    data = M.load("digits", 0, 2000)
    judge = M.train_judge(data, 0, epochs=5)
    real = M.score(judge, data.X[:270], data.X_test, 3)
    noise = M.score(judge, torch.rand(270, 1, 8, 8), data.X_test, 3)
    assert real.fd < noise.fd / 5
    assert real.precision > 0.8 > noise.precision
    assert real.modes == 10
    M.clear_caches()


def test_smoke_run_records_curves_doctor_and_encoder(tmp_path):
    res = run_lab("gan-images", scale="smoke", seed=0, out=tmp_path, progress="off")
    result = json.loads((res.path / "result.json").read_text())
    assert result["metrics"]["encoder_used"] in ("minilm", "bow")
    networks = {row["network"] for row in result["tables"]["doctor"]}
    assert networks == {"generator", "discriminator"}
    assert {f["name"] for f in result["figures"]} >= {"training_curves", "samples",
                                                      "generation_measures", "text_to_image"}
    ids = {c["id"] for c in result["claims"]}
    assert {"gan-digits-precision-above-vae", "t2i-slant-follows-prompt"} <= ids
    held = result["metrics"]["claims_decided_at_full_scale"]
    assert "gan-digits-fd-below-vae" in held and not set(held) & ids
