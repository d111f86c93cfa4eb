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
    for tag in ("photo-x2", "photo-x4", "digits-x2"):
        assert {f"pixel-beats-bicubic-psnr-{tag}", f"pixel-beats-bicubic-ssim-{tag}",
                f"srgan-psnr-at-most-pixel-{tag}"} <= ids
    assert {"srgan-sharper-photo-x2", "srgan-sharper-digits-x2"} <= ids
    assert "srgan-sharper-photo-x4" not in ids  # decided at full scale
    assert result["metrics"]["claims_decided_at_full_scale"] == ["srgan-sharper-photo-x4"]
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
