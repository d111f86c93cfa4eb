"""The gan-superres lab: the pieces that decide its claims, and a smoke run."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from deepdojo.labs import run_lab
from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.gan_superres import GanSuperresConfig, run
from deepdojo.labs.gan_superres import measure as M


def test_untrained_network_is_exactly_bicubic():
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for factor in (2, 4):
        net = M.SRNet(factor, width=8, blocks=1)
        ref = F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False)
        torch.testing.assert_close(net(x), ref, rtol=0, atol=0)
        assert net(x).shape == (3, 1, 8 * factor, 8 * factor)


def test_downsample_is_antialiased_bicubic_and_bicubic_round_trips_shapes():
    hr = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    lr = M.downsample(hr, 4)
    ref = F.interpolate(hr, size=(8, 8), mode="bicubic", antialias=True).clamp(0, 1)
    torch.testing.assert_close(lr, ref)
    assert M.bicubic(lr, 4).shape == hr.shape
    assert float(M.bicubic(lr, 4).min()) >= 0 and float(M.bicubic(lr, 4).max()) <= 1


def test_crops_keep_only_textured_patches_and_are_seeded():
    img = torch.zeros(64, 64)
    img[:, 32:] = torch.rand(64, 32, generator=torch.Generator().manual_seed(2))
    patches = M.crops(img, 20, 16, seed=3, min_std=0.2)
    assert patches.shape == (20, 1, 16, 16)
    assert all(float(p.std()) >= 0.2 for p in patches)
    torch.testing.assert_close(patches, M.crops(img, 20, 16, seed=3, min_std=0.2))
    with pytest.raises(ValueError, match="min_std=0.9"):
        M.crops(img, 5, 16, seed=3, min_std=0.9)


def test_pixel_task_steps_only_the_generator_and_srgan_steps_both():
    x, y = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 16, 16)
    g = M.SRNet(2, 4, 1)
    pixel = M.SuperResTask(g, None, 1e-3, 0.01)
    assert set(pixel.configure_optimizers()) == {"g"}
    pixel.log = lambda *a: None
    assert [name for name, _ in pixel.training_step((x, y))] == ["g"]
    srgan = M.SuperResTask(g, M.PatchDiscriminator(1, base=4, n_layers=2), 1e-3, 0.01)
    srgan.log = lambda *a: None
    steps = list(srgan.training_step((x, y)))
    assert [name for name, _ in steps] == ["d", "g"]
    # the SRGAN generator loss is the pixel loss plus the weighted adversarial term
    with torch.no_grad():
        out = g(x)
        adv = F.softplus(-srgan.discriminator(out)).mean()
    torch.testing.assert_close(steps[1][1].detach(), F.l1_loss(out, y) + 0.01 * adv)


def test_bad_photo_choice_is_a_lab_error(tmp_path):
    cfg = make_config(GanSuperresConfig, {"test_photo": "china.jpg"}, scale="smoke")
    ctx = LabContext("gan-superres", scale="smoke", out_dir=tmp_path, progress="off")
    with pytest.raises(LabError, match="two different photos"):
        run(cfg, ctx)


def test_score_of_hr_against_itself():
    hr = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    s = M.score(hr, hr)
    assert s.spectrum == 0 and s.ssim == pytest.approx(1.0)


def test_smoke_run_records_claims_curves_and_doctor(tmp_path):
    res = run_lab("gan-superres", scale="smoke", seed=0, out=tmp_path, progress="off")
    result = json.loads((res.path / "result.json").read_text())
    ids = {c["id"] for c in result["claims"]}
    # judged below full scale: SSIM everywhere, PSNR and the noise control on digits
    assert {c["id"] for c in result["claims"] if c["kind"] == "finding"} == {
        "pixel-beats-bicubic-ssim-photo-x2", "pixel-beats-bicubic-ssim-photo-x4",
        "pixel-beats-bicubic-psnr-digits-x2", "pixel-beats-bicubic-ssim-digits-x2",
        "srgan-sharper-than-noise-digits-x2"}
    m = result["metrics"]
    for name in ("photo_x2", "photo_x4", "digits_x2"):
        for k in ("psnr", "ssim", "spectrum"):  # the paired A/A floor bounds every margin
            assert m[f"margin.{name}.{k}"] >= m[f"noise_floor.{name}.{k}"] >= 0
    assert {r["arm"] for r in result["tables"]["scores"]} >= {"noise", "pixel_aa"}
    held = ["pixel-beats-bicubic-psnr-photo-x2", "srgan-sharper-than-noise-photo-x2",
            "srgan-sharper-photo-x2", "srgan-psnr-at-most-pixel-photo-x2",
            "pixel-beats-bicubic-psnr-photo-x4", "srgan-sharper-than-noise-photo-x4",
            "srgan-sharper-photo-x4", "srgan-psnr-at-most-pixel-photo-x4",
            "srgan-sharper-digits-x2", "srgan-psnr-at-most-pixel-digits-x2"]  # statement order
    assert not ids & set(held)
    assert result["metrics"]["claims_decided_at_full_scale"] == held
    check = next(c for c in result["claims"] if c["id"] == "spectrum-distance-hr-to-itself-zero")
    assert check["kind"] == "check" and check["verdict"] == "holds"
    doctor = result["tables"]["doctor"]
    assert {(r["arm"], r["network"]) for r in doctor} == {
        ("pixel", "generator"), ("srgan", "generator"), ("srgan", "discriminator")}
    assert {f["name"] for f in result["figures"]} == {"crops", "scores", "gradient_spectra",
                                                      "training_curves"}
    assert {r["arm"] for r in result["tables"]["chosen_settings"]} == {"pixel", "srgan"}


def test_config_namespace_is_enough_for_train():
    cfg = SimpleNamespace(width=4, blocks=1, d_base=4, adv_weight=0.01, doctor_every=5,
                          epochs=1, batch_size=8)
    split = M.digits_split(0, 20)
    split.train = split.train[:32]
    run_ = M.train(split, 0, 1e-3, True, cfg)
    assert set(run_.curves) == {"pixel", "g", "d"} and len(run_.curves["d"]) == 1


def test_energy_matched_noise_has_the_residual_high_frequency_energy():
    g = torch.Generator().manual_seed(6)
    base = 0.25 + 0.5 * torch.rand(3, 1, 16, 16, generator=g)  # away from the clamp
    ref = base + 0.02 * torch.randn(3, 1, 16, 16, generator=g)
    out = M.energy_matched_noise(base, ref, seed=1)
    assert out.shape == base.shape
    hp_out = M.high_pass(out - base).flatten(1).norm(dim=1)
    hp_ref = M.high_pass(ref - base).flatten(1).norm(dim=1)
    torch.testing.assert_close(hp_out, hp_ref, rtol=1e-5, atol=1e-6)  # unclamped: exact
    torch.testing.assert_close(out, M.energy_matched_noise(base, ref, seed=1))  # seeded
    assert not torch.equal(out, M.energy_matched_noise(base, ref, seed=2))
    torch.testing.assert_close(M.energy_matched_noise(base, base, seed=1), base)  # no residual
    with pytest.raises(ValueError, match="reference must have"):
        M.energy_matched_noise(base, ref[:2], seed=1)


def test_high_pass_removes_constants_and_is_the_box_residual():
    x = torch.full((1, 1, 6, 6), 0.3)
    torch.testing.assert_close(M.high_pass(x), torch.zeros_like(x), rtol=0, atol=1e-7)
    y = torch.rand(1, 1, 6, 6, generator=torch.Generator().manual_seed(7))
    assert float(M.high_pass(y)[0, 0, 2, 3]) == pytest.approx(
        float(y[0, 0, 2, 3] - y[0, 0, 1:4, 2:5].mean()), abs=1e-6)


def test_aa_floor_and_margins_take_the_larger_of_floor_and_minimum():
    from deepdojo.labs.gan_superres import claims as C

    def seed(p, twin):
        sc = lambda v: M.Scores(v, v / 1000, v / 10)  # noqa: E731
        return SimpleNamespace(pixel=sc(p), pixel_aa=sc(twin))

    per_seed = [seed(30.0, 30.5), seed(31.0, 30.9)]  # |diffs| 0.5 and 0.1 dB
    assert C.aa_floor(per_seed, "psnr") == pytest.approx(0.3)
    mg = C.margins(per_seed)
    assert mg["psnr"] == pytest.approx(0.3)  # the floor, above the 0.1 dB minimum
    assert C.aa_floor(per_seed, "ssim") == pytest.approx(0.0003)
    assert mg["ssim"] == pytest.approx(C.SSIM_MARGIN)  # the minimum, above the floor
    assert mg["spectrum"] == pytest.approx(0.03)
