"""The gan-images lab: its measurement helpers, and a smoke run."""

from __future__ import annotations

import json
import math

import pytest
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
    # both arms kept at their best validation-FD checkpoint; smoke trains the A/A twins
    arms = {(r["data"], r["arm"]) for r in result["tables"]["chosen_checkpoints"]}
    assert arms == {(d, a) for d in ("digits", "mnist1d") for a in ("gan", "vae")}
    m = result["metrics"]
    assert {"noise_floor.digits.log_fd_aa_gan", "noise_floor.mnist1d.precision_aa_vae",
            "margin.digits.log_fd"} <= set(m)
    assert m["margin.digits.log_fd"] >= 0.2
    assert {r["arm"] for r in result["tables"]["generation"]} == {"gan", "vae", "real", "gan_aa",
                                                                  "vae_aa"}


def test_checkpoint_epochs_are_evenly_spaced_and_end_at_the_last():
    assert M.checkpoint_epochs(20, 4) == [4, 9, 14, 19]
    assert M.checkpoint_epochs(150, 4) == [37, 74, 112, 149]
    assert M.checkpoint_epochs(1, 4) == [0]
    assert M.checkpoint_epochs(3, 1) == [2]
    with pytest.raises(ValueError, match="epochs and n must be >= 1"):
        M.checkpoint_epochs(0, 4)


def test_selector_keeps_the_lowest_scoring_checkpoint_and_restores_it():
    net = torch.nn.Linear(1, 1, bias=False)
    scores = iter([3.0, 1.0, float("nan"), 2.0])
    sel = M._Selector(net, [0, 2, 4, 6], lambda: next(scores))
    for epoch in range(7):
        with torch.no_grad():
            net.weight.fill_(float(epoch))
        sel.check(epoch)  # epochs 1, 3, 5 are not checkpoints: not scored
    chosen = sel.restore()
    assert chosen.epoch == 2 and chosen.val_fd == 1.0
    assert list(chosen.scores) == [0, 2, 4, 6]
    assert float(net.weight.detach()) == 2.0  # the weights of epoch 2 are back


def test_precision_recall_use_equal_size_sets_and_the_same_reference():
    data = M.load("digits", 0, 2000)
    judge = M.train_judge(data, 0, epochs=5)
    ref = data.X_test  # (270, 1, 8, 8)
    many = data.X[:1000]
    s = M.score(judge, many, ref, 3)
    from deepdojo.metrics import classifier_features, frechet_distance, precision_recall

    fr, ff = classifier_features(judge, ref), classifier_features(judge, many)
    assert (s.precision, s.recall) == precision_recall(fr, ff[:270], k=3)
    assert s.fd == frechet_distance(fr, ff)  # the FD uses every sample
    few = M.score(judge, many[:100], ref, 3)  # fewer samples than test: the first 100 of each
    assert (few.precision, few.recall) == precision_recall(fr[:100], ff[:100], k=3)
    M.clear_caches()


def test_margins_never_sit_inside_the_aa_floor():
    from types import SimpleNamespace as NS

    from deepdojo.labs.gan_images.claims import aa_floor, margins

    def sc(fd, p, r):
        return M.Scores(fd, 10, p, r)

    runs = [NS(gan=sc(2.0, 0.5, 0.5), gan_aa=sc(2.0 * math.e ** 0.3, 0.6, 0.52),
               vae=sc(3.0, 0.9, 0.2), vae_aa=sc(3.0, 0.88, 0.2)),
            NS(gan=sc(1.0, 0.5, 0.5), gan_aa=sc(math.e ** -0.1, 0.4, 0.48),
               vae=sc(3.0, 0.9, 0.2), vae_aa=sc(3.0, 0.9, 0.2))]
    assert aa_floor(runs, "gan", "log_fd") == pytest.approx(0.2)
    assert aa_floor(runs, "gan", "precision") == pytest.approx(0.1)
    assert aa_floor(runs, "vae", "precision") == pytest.approx(0.01)
    mg = margins(runs)
    assert mg["log_fd"] == pytest.approx(0.2) and mg["precision"] == pytest.approx(0.1)
    assert mg["recall"] == 0.05  # floor 0.02 < the fixed margin
    no_twin = [NS(gan=sc(1.0, 0.5, 0.5), gan_aa=None, vae=sc(1.0, 0.5, 0.5), vae_aa=None)]
    assert math.isnan(aa_floor(no_twin, "gan", "log_fd"))
    assert margins(no_twin) == {"log_fd": 0.2, "precision": 0.05, "recall": 0.05}
