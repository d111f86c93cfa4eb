"""The gan-translation lab: the pieces that decide its claims, and a smoke run."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from deepdojo.labs import run_lab
from deepdojo.labs.framework import LabError, make_config
from deepdojo.labs.gan_translation import GanTranslationConfig
from deepdojo.labs.gan_translation import measure as M


def test_digits16_shape_range_and_labels():
    x, y = M.digits16()
    assert x.shape == (1797, 1, 16, 16) and y.shape == (1797,)
    assert float(x.min()) >= 0 and float(x.max()) <= 1


def test_edges_match_a_hand_computed_sobel():
    img = torch.zeros(1, 1, 6, 6)
    img[..., :, 3:] = 1.0  # a vertical step between columns 2 and 3
    e = M.edges(img, threshold=2.0)
    # interior rows: |Sx| = 4 at columns 2 and 3 and 3 (zero padding: 0 - 1 - 2 - 1 = -4... a
    # step down to the padded zeros) at column 5; 0 elsewhere; Sy = 0
    assert e[0, 0, 2].tolist() == [0, 0, 1, 1, 0, 1]
    assert M.edges(img, threshold=4.0)[0, 0, 2].tolist() == [0, 0, 0, 0, 0, 0]
    assert set(e.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="images must be"):
        M.edges(torch.zeros(2, 6, 6), 1.0)


def test_dilate_is_a_3x3_max_filter():
    img = torch.zeros(1, 1, 5, 5)
    img[0, 0, 2, 2] = 0.7
    out = M.dilate(img)
    assert out[0, 0, 1:4, 1:4].eq(0.7).all() and float(out.sum()) == pytest.approx(9 * 0.7)


def test_split_is_seeded_and_disjoint():
    a, b = M.split(3, 50, 40), M.split(3, 50, 40)
    torch.testing.assert_close(a.test, b.test)
    assert len(a.test) == 40 and len(a.val) == 50 and len(a.train) == 1797 - 90
    assert not torch.equal(a.test, M.split(4, 50, 40).test)


def test_pix2pix_generator_loss_is_lam_l1_plus_adversarial():
    torch.manual_seed(0)
    e, x = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    g = M.UNetGenerator(1, 1, base=4, depth=2, output="sigmoid")
    d = M.PatchDiscriminator(2, base=4, n_layers=2)
    task = M.Pix2PixTask(g, d, 1e-3, 100.0)
    task.log = lambda *a: None
    g.eval()
    steps = list(task.training_step((e, x)))
    assert [n for n, _ in steps] == ["d", "g"]
    with torch.no_grad():
        out = g(e)
        want = 100.0 * F.l1_loss(out, x) + F.softplus(-d(torch.cat([e, out], 1))).mean()
    torch.testing.assert_close(steps[1][1].detach(), want)
    l1 = M.Pix2PixTask(g, None, 1e-3, 100.0)
    l1.log = lambda *a: None
    assert set(l1.configure_optimizers()) == {"g"}
    (name, loss), = list(l1.training_step((e, x)))
    assert name == "g"
    torch.testing.assert_close(loss.detach(), 100.0 * F.l1_loss(g(e), x).detach())


def test_cyclegan_task_steps_both_groups():
    a, b = torch.rand(3, 1, 16, 16), torch.rand(3, 1, 16, 16)
    nets = [M.UNetGenerator(1, 1, base=4, depth=2, output="sigmoid") for _ in range(2)]
    ds = [M.PatchDiscriminator(1, base=4, n_layers=2) for _ in range(2)]
    task = M.CycleGANTask(*nets, *ds, 1e-3, 10.0, 0.5)
    task.log = lambda *a: None
    assert set(task.configure_optimizers()) == {"d", "g"}
    assert [n for n, _ in task.training_step((a, b))] == ["d", "g"]


def test_scores_of_target_against_itself():
    x = M.split(0, 10, 8).test
    s = M.score_paired(x, x)
    assert s.l1 == 0 and s.spectrum == 0 and s.ssim == pytest.approx(1.0)


def test_bad_config_is_one_line_lab_error():
    with pytest.raises(LabError, match="depth"):
        make_config(GanTranslationConfig, {"depth": "9"}, scale="smoke")


def test_smoke_run_records_claims_curves_and_doctor(tmp_path):
    res = run_lab("gan-translation", scale="smoke", seed=0, out=tmp_path, progress="off")
    result = json.loads((res.path / "result.json").read_text())
    ids = {c["id"] for c in result["claims"]}
    assert ids == {"paired-arms-share-initial-weights", "cyclegan-translates-domain",
                   "cyclegan-keeps-content", "domain-classifier-separates-real-domains"}
    assert result["metrics"]["claims_decided_at_full_scale"] == [
        "pix2pix-l1-not-lower", "pix2pix-ssim-not-higher", "pix2pix-sharper",
        "cyclegan-above-chance", "cyclegan-cycle-below-domain-gap"]  # statement order
    check = next(c for c in result["claims"] if c["id"] == "paired-arms-share-initial-weights")
    assert check["kind"] == "check" and check["verdict"] == "holds"
    nets = {(r["arm"], r["network"]) for r in result["tables"]["doctor"]}
    assert ("pix2pix", "generator") in nets and ("pix2pix", "discriminator") in nets
    assert {("cyclegan", n) for n in ("g_ab", "g_ba", "d_a", "d_b")} <= nets
    assert {f["name"] for f in result["figures"]} == {"examples", "paired_scores",
                                                      "unpaired_scores", "training_curves"}
    assert {r["arm"] for r in result["tables"]["chosen_lr"]} == {"l1_only", "pix2pix"}
    m = result["metrics"]  # smoke trains the A/A twin: its floor bounds every paired margin
    for k in ("l1", "ssim", "spectrum"):
        assert m[f"margin.paired.{k}"] >= m[f"noise_floor.paired.{k}"] >= 0
    assert "l1_only_aa" in {r["arm"] for r in result["tables"]["paired_scores"]}


def test_paired_margins_are_the_larger_of_the_aa_floor_and_the_minimum():
    from deepdojo.labs.gan_translation import claims as C

    def seed(a, twin):
        return SimpleNamespace(l1_only=M.Paired(a, a, a), l1_aa=M.Paired(twin, twin, twin))

    results = [seed(0.070, 0.074), seed(0.080, 0.078)]  # |diffs| 0.004 and 0.002
    assert C.aa_floor(results, "l1") == pytest.approx(0.003)
    mg = C.margins(results)
    assert mg["l1"] == pytest.approx(0.003) and mg["ssim"] == pytest.approx(0.003)
    assert mg["spectrum"] == pytest.approx(C.SPECTRUM_MARGIN)  # 0.005 > the floor 0.003
    no_twin = [SimpleNamespace(l1_only=M.Paired(0.1, 0.9, 0.1), l1_aa=None)]
    assert C.margins(no_twin) == C.MIN_MARGIN  # quick: no twin, and the claims are held


def test_judging_paired_claims_needs_the_aa_twin(tmp_path):
    from deepdojo.labs.framework import LabContext
    from deepdojo.labs.gan_translation import run

    cfg = make_config(GanTranslationConfig, {"full_only_claims": "true", "aa_twin": "false"},
                      scale="smoke")
    ctx = LabContext("gan-translation", scale="smoke", out_dir=tmp_path, progress="off")
    with pytest.raises(LabError, match="aa_twin"):
        run(cfg, ctx)


def test_config_namespace_is_enough_for_train():
    cfg = SimpleNamespace(g_base=4, depth=2, d_base=4, lam=100.0, edge_threshold=2.0,
                          doctor_every=5, epochs=1, batch_size=16)
    data = M.split(0, 10, 10, n_train=32)
    run_ = M.train_pix2pix(data, 0, 1e-3, True, cfg)
    assert set(run_.curves) == {"l1", "g", "d"} and len(run_.curves["d"]) == 1


def test_cyclegan_trains_for_cycle_epochs_not_the_paired_epochs():
    cfg = SimpleNamespace(g_base=4, depth=2, d_base=4, edge_threshold=2.0, doctor_every=5,
                          epochs=1, cycle_epochs=2, batch_size=16, cycle_lr=1e-3, cyc=10.0,
                          idt=0.5)
    data = M.split(0, 10, 10, n_train=32)
    run_ = M.train_cyclegan(data, 0, cfg)
    assert len(run_.curves["cycle"]) == 2
