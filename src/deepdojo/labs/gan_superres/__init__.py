r"""Lab: super-resolution -- bicubic, a pixel-loss network and SRGAN, with quality measured (Q01).

Data: 32x32 high-resolution (HR) patches of scikit-learn's bundled sample photos, as luma in
[0, 1]. Training and validation patches come from one photo (``train_photo``, 80/20), test
patches from the other (``test_photo``); only textured patches (pixel std >= ``min_std``) are
drawn, because flat patches carry nothing to super-resolve (the flower photo is mostly an
out-of-focus background where every arm equals bicubic). The low-resolution input is the HR
patch downsampled by bicubic with antialiasing (``F.interpolate(..., antialias=True)``), at 2x
and 4x; sklearn's 8x8 digits are a third setting at 2x only (4x would leave 2x2 inputs).

Arms, per setting and seed:

- **bicubic**: ``F.interpolate(mode="bicubic")`` of the input (the baseline, no parameters);
- **pixel**: a small SRResNet (features at low resolution, 2 residual blocks, PixelShuffle
  up, added to the bicubic upsampling; the last layer starts at zero so it starts *as* bicubic)
  trained with the L1 pixel loss;
- **SRGAN**: the same generator, same initial weights and steps, with a PatchGAN
  discriminator's non-saturating adversarial loss added (``adv_weight`` times it) to the pixel
  loss (Ledig et al. 2017). The VGG perceptual loss of the paper needs pretrained ImageNet
  weights, which are not available offline: this SRGAN is pixel + adversarial only.

Equal tuning: each learned arm's Adam learning rate comes from ``lrs`` per setting on the first
seed's *validation* PSNR (never test; the same criterion for both arms, which favours neither
SRGAN's sharpness nor the trade-off claim). Chosen values: the ``chosen_settings`` table.

Scores on the test patches: PSNR and SSIM (``deepdojo.metrics.generative``, scikit-image's
formulas) and sharpness, measured as ``gradient_spectrum_distance`` to HR: the mean absolute
gap, in decades, between the radially averaged power spectra of the Sobel gradient magnitudes.
Claims (rules fixed in code before the first run; margins in ``claims.py``): the pixel-loss
network beats bicubic on PSNR and SSIM; SRGAN's gradient spectrum is closer to HR than the
pixel network's; SRGAN's PSNR is at most the pixel network's (the perception-distortion
trade-off, Blau & Michaeli 2018, a finding). The A/A noise floor of each measure (its spread
over seeds, same arm) is recorded as ``noise_floor.*``. Both networks' training curves and the
Doctor's findings per network (``doctor`` table) are shown. Expect a flagged check of
vanishing gradients per generator (one of 7 at quick; one to three at full for SRGAN's): at the
first step the zero-initialised last layer passes no gradient to the layers before it (by
design, so that training starts from bicubic).

Measured (full scale, 10 seeds, 385 s CPU): pixel - bicubic PSNR +0.61 dB [0.49, 0.73] at photo
2x, +0.40 [0.35, 0.45] at 4x, +5.27 [5.13, 5.41] on digits; SRGAN's spectrum distance is lower
than the pixel network's by 0.039 [0.032, 0.046] (2x), 0.278 [0.251, 0.306] (4x) and 0.018
[0.013, 0.023] (digits) decades; SRGAN - pixel PSNR -0.94 dB [-1.14, -0.74] (2x), -1.45
[-1.69, -1.21] (4x), +0.03 [-0.06, 0.11] on digits (inconclusive; at quick SRGAN was higher
there, "does not hold").

Version 2 (after the first stability runs): ``srgan-sharper-photo-x4`` is decided at full scale
only (``FULL_ONLY``). At quick its verdict changed across seed sets 0 / 7 / 12345 (does not hold,
inconclusive, inconclusive; mean gaps +0.009, +0.020, -0.005 decades against a 0.01 margin):
at 4x and five epochs the adversarial term has not yet separated the two generators. Its rule
and margin are unchanged.

Version 3 (2026-12-04, after an outside review; rules fixed before the first run of this
version unless said otherwise). (1) The margins sat at or inside a seed-spread floor that was
not a paired A/A (the spread of the pixel arm over seeds, whose test patches differ per seed;
now recorded as ``spread.*``). Each setting and seed now trains an A/A twin: the pixel arm
again from seed + 500 (init and batch order), on the same data, scored on the same test
patches; a measure's noise floor is the mean over seeds of ``|twin - pixel|`` (metrics
``noise_floor.<setting>.<measure>``), and every paired margin is the larger of the fixed
minimum (0.1 dB, 0.002 SSIM, 0.01 decades) and that floor (metrics ``margin.*``), so no
margin sits inside its floor. ``srgan-psnr-at-most-pixel`` keeps its reading "below" with the
PSNR floor as margin (it had margin 0). (2) "Sharper" had no control: an arm adds to the pixel
network's output white Gaussian noise with, per patch, the high-frequency energy (``x -
box3(x)``) of SRGAN's residual over the pixel output (``measure.energy_matched_noise``).
``srgan-sharper-*`` now requires SRGAN's mean spectrum distance to be below the noise
control's, and new findings ``srgan-sharper-than-noise-*`` judge SRGAN against the control
with the spectrum margin. (3) Quick scale: the twin costs a third more training, so quick draws
750 training + validation patches (was 1000; 74 s of CPU with 1000 on the first run of this
version; 600 since, see below). After that first quick run (seeds 0..4, 1000 patches), two
photo-4x findings joined ``FULL_ONLY``, with ``srgan-sharper-photo-x4`` and for its reason (at
4x and five epochs SRGAN has not separated from the pixel network):
``srgan-sharper-than-noise-photo-x4`` (does not hold there: the noise control came 0.069 decades
closer to HR than SRGAN) and ``srgan-psnr-at-most-pixel-photo-x4`` (-0.24 dB against the 0.11 dB
A/A floor: inconclusive, its margin now the floor). The first run's other verdicts: all six
"beats bicubic" hold (photo 2x +0.46 dB against a floor of 0.14); SRGAN sharper than pixel and
than the noise control at photo 2x (-0.039 and -0.036 decades, floor 0.012) and digits (-0.029,
-0.034); SRGAN's PSNR below pixel's holds at photo 2x (-0.37 dB) and does not hold on digits
(+0.11).

Stability run of version 3 (750 patches, seed bases 40, 41, 42; 75 to 85 s of CPU per set on a
machine at load 15, so over the quick budget there): 9 of 13 verdicts agreed, and the paired A/A
floors at quick came out large next to the effects (photo 2x spectrum floor 0.037 to 0.050
decades against SRGAN - pixel gaps of -0.024 to -0.039; photo PSNR floors 0.08 to 0.17 dB
against pixel - bicubic gains of 0.06 to 0.32 dB). As the review asked for claims whose margin
sits inside the floor, seven more findings are decided at full scale only (``FULL_ONLY``): the
photo PSNR claims (``pixel-beats-bicubic-psnr-photo-x2``: inconclusive, inconclusive, holds;
``-photo-x4``: inconclusive three times), the photo 2x sharpness claims (``srgan-sharper-`` and
``srgan-sharper-than-noise-photo-x2``: inconclusive three times), ``srgan-psnr-at-most-pixel-
photo-x2`` (inconclusive, holds, holds), ``srgan-sharper-digits-x2`` (inconclusive, holds, holds)
and ``srgan-psnr-at-most-pixel-digits-x2`` (inconclusive, does not hold, does not hold: SRGAN's
PSNR on digits was +0.12 and +0.09 dB above the pixel network's). No rule or margin changed;
the five findings judged at quick agreed in all three sets (all hold: SSIM at photo 2x +0.0046
to +0.0064, photo 4x +0.009 to +0.013, digits +0.18 to +0.19; digits PSNR +3.6 to +3.8 dB;
SRGAN closer to HR than the noise control on digits by 0.029 to 0.032 decades, floor below
the 0.01 minimum). Still over the quick budget (70 s of CPU with seed base 43 at load 5),
quick then drew 600 patches (was 750; only the photo settings train on them): seed bases 40,
41, 42 (``--set n_patches=600``, the committed value since) gave 61 s of CPU each (load 5,
4 min wall) and the same verdicts on all six stated claims (five findings hold, one check):
SSIM at photo 2x +0.0043 [0.0028, 0.0058], +0.0052 [0.0032, 0.0071], +0.0049 [0.0027, 0.0070]
(margin 0.002); photo 4x +0.0095 [0.0075, 0.0115], +0.0065 [0.0047, 0.0082], +0.0100 [0.0050,
0.0151] (margins 0.0028 to 0.0043, the floor); the digits numbers do not depend on it.

Full scale under version 3 (base seed 0, 10 seeds, 2000 patches, 12 epochs; code of commit
2db167e, the lab unchanged since; 524 s CPU on one thread: photo 2x 292 s, photo 4x 200 s,
digits 32 s). Chosen lrs: pixel 1e-3 and SRGAN 3e-4 on photos; 3e-3 for both on digits, the
top of the grid (disclosed; not widened after the run). 15 findings, 14 hold, one does not
(difference, 95% interval; margin = max(fixed, A/A floor)):

- pixel - bicubic PSNR: photo 2x [+0.49, +0.73] dB (margin 0.16), photo 4x [+0.35, +0.45]
  (0.1), digits [+5.13, +5.41] (0.26); SSIM: [+0.0077, +0.0109], [+0.0199, +0.0225],
  [+0.218, +0.223]: all six hold;
- SRGAN sharper than the pixel net (log gradient-spectrum distance to HR): photo 2x [-0.046,
  -0.032], photo 4x [-0.306, -0.251], digits [-0.0227, -0.0132]; and than the noise control:
  [-0.036, -0.022], [-0.050, -0.019], [-0.033, -0.025]: all six hold;
- SRGAN's PSNR at most the pixel net's (perception-distortion): photo 2x [-1.14, -0.74] dB and
  photo 4x [-1.69, -1.21] hold; digits does not hold, [-0.06, +0.11] dB against the 0.26 dB
  floor: on 8x8 digits at ``adv_weight`` 0.01 the adversarial term bought sharpness (0.139 vs
  0.157) without costing PSNR beyond the floor.

The seven findings held for full scale at quick are all decided: six hold, one does not.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from deepdojo.labs.framework import LabContext, LabError, ranged, register_lab, scaled

from . import measure as M
from .claims import FULL_ONLY, aa_floor, margins, state_claims
from .figures import plot_all

SETTINGS = ("photo_x2", "photo_x4", "digits_x2")


@dataclass
class GanSuperresConfig:
    epochs: int = scaled(smoke=1, quick=5, full=12, low=1)  # epochs over the training patches
    n_patches: int = scaled(smoke=160, quick=600, full=2000, low=10)  # train+val patches
    n_test: int = scaled(smoke=32, quick=256, full=1024, low=4)  # test patches (digits too)
    lrs: tuple[float, ...] = scaled(smoke=(1e-3,), quick=(3e-4, 1e-3),
                                    full=(3e-4, 1e-3, 3e-3), low=0.0, low_open=True)
    batch_size: int = ranged(32, low=1)  # patches per step
    patch: int = ranged(32, low=16)  # HR patch side
    min_std: float = ranged(0.05, low=0.0)  # textured patches only (pixel std)
    width: int = ranged(16, low=1)  # generator channels
    blocks: int = ranged(2, low=0)  # residual blocks
    d_base: int = ranged(16, low=1)  # PatchGAN width
    adv_weight: float = ranged(0.01, low=0.0, low_open=True)  # SRGAN: weight of the GAN loss
    doctor_every: int = ranged(20, low=1)  # steps between the Doctor's checks
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)  # judge FULL_ONLY
    train_photo: str = "china.jpg"  # sklearn sample photo for training and validation
    test_photo: str = "flower.jpg"  # the other one, for test


def _split(name: str, cfg: GanSuperresConfig, seed: int) -> M.Split:
    if name == "digits_x2":
        return M.digits_split(seed, cfg.n_test)
    return M.photo_split(cfg.train_photo, cfg.test_photo, int(name[-1]), seed, cfg.n_patches,
                         cfg.n_test, cfg.patch, cfg.min_std)


@register_lab("gan-superres", questions=("Q01",), config=GanSuperresConfig)
def run(cfg: GanSuperresConfig, ctx: LabContext) -> None:
    """Bicubic vs a pixel-loss SRResNet vs SRGAN at 2x and 4x on photos, 2x on digits."""
    photos = ("china.jpg", "flower.jpg")
    if cfg.train_photo not in photos or cfg.test_photo not in photos \
            or cfg.train_photo == cfg.test_photo:
        raise LabError(f"--set train_photo/test_photo: must be the two different photos {photos}")
    seeds, s0 = ctx.seeds, ctx.seeds[0]
    chosen: list[dict[str, object]] = []
    results: dict[str, list[M.Setting]] = {}
    t0 = time.process_time()
    for name in SETTINGS:
        split0 = _split(name, cfg, s0)
        lrs, first = {}, {}
        for arm, adversarial in (("pixel", False), ("srgan", True)):
            runs = {lr: M.train(split0, s0, lr, adversarial, cfg) for lr in cfg.lrs}
            scores = {lr: M.val_psnr(r, split0) for lr, r in runs.items()}
            lrs[arm] = max(scores, key=lambda lr: scores[lr])  # -inf (diverged) never chosen
            first[arm] = runs[lrs[arm]]
            chosen.extend({"setting": name, "arm": arm, "lr": lr, "val_psnr": v,
                           "chosen": lr == lrs[arm]} for lr, v in scores.items())
        results[name] = [M.evaluate(split0 if s == s0 else _split(name, cfg, s), s, lrs, cfg,
                                    keep=s == s0, runs=first if s == s0 else None)
                         for s in ctx.progress(seeds, name)]
        ctx.metric(f"time.{name}_cpu_s", round(time.process_time() - t0, 2))
        t0 = time.process_time()
    ctx.table("chosen_settings", chosen)
    _tables(ctx, seeds, results)
    plot_all(ctx, results)
    state_claims(ctx, cfg, results)
    if not cfg.full_only_claims:
        ctx.hold_for_full_scale(FULL_ONLY)


def _tables(ctx: LabContext, seeds: list[int], results: dict[str, list[M.Setting]]) -> None:
    rows, doctor = [], []
    for name, per_seed in results.items():
        for s, r in zip(seeds, per_seed, strict=True):
            for arm in ("bicubic", "pixel", "srgan", "noise", "pixel_aa"):
                sc = getattr(r, arm)
                rows.append({"setting": name, "seed": s, "arm": arm, "psnr": sc.psnr,
                             "ssim": sc.ssim, "gradient_spectrum_distance": sc.spectrum})
            for arm, run in (("pixel", r.pixel_run), ("srgan", r.srgan_run)):
                for net, rep in run.doctor.items():
                    doctor.append({"setting": name, "arm": arm, "seed": s, "network": net,
                                   "findings": ", ".join(rep["kinds"]),
                                   "flagged_checks": sum(rep["counts"].values()),
                                   "checks": rep["checks"]})
        for arm in ("bicubic", "pixel", "srgan", "noise", "pixel_aa"):
            for m in ("psnr", "ssim", "spectrum"):
                vals = [getattr(getattr(r, arm), m) for r in per_seed]
                ctx.metric(f"{name}.{m}.{arm}", statistics.fmean(vals))
                if arm == "pixel" and len(vals) > 1:
                    ctx.metric(f"spread.{name}.{m}", statistics.stdev(vals))
        for m, margin in margins(per_seed).items():
            ctx.metric(f"noise_floor.{name}.{m}", aa_floor(per_seed, m))  # paired A/A
            ctx.metric(f"margin.{name}.{m}", margin)
    ctx.table("scores", rows)
    ctx.table("doctor", doctor)
