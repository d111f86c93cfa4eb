"""The ``gan-superres`` lab's claims: rules and margins fixed here, before any run."""

from __future__ import annotations

import statistics
from typing import Any

from deepdojo.labs.framework import AtMost, EverySeed, Greater, LabContext, Less

PSNR_MARGIN = 0.1  # dB: "beats bicubic" means by more than a tenth of a decibel
SSIM_MARGIN = 0.002  # SSIM points
SPECTRUM_MARGIN = 0.01  # decades of gradient power per ring
FULL_ONLY = ("srgan-sharper-photo-x4",)  # its quick verdict changed across seed sets

LABELS = {"photo_x2": "photo patches at 2x", "photo_x4": "photo patches at 4x",
          "digits_x2": "8x8 digits at 2x"}


def _vals(per_seed: list, arm: str, measure: str) -> list[float]:
    return [getattr(getattr(r, arm), measure) for r in per_seed]


def state_claims(ctx: LabContext, cfg: Any, results: dict[str, list]) -> None:
    for name, per_seed in results.items():
        where = LABELS[name]
        tag = name.replace("_", "-")
        m = {f"{arm}_{k}": statistics.fmean(_vals(per_seed, arm, k))
             for arm in ("bicubic", "pixel", "srgan") for k in ("psnr", "ssim", "spectrum")}
        facts = {**m, "epochs": cfg.epochs, "adv_weight": cfg.adv_weight}
        ok = {"no run diverged": not any(r.pixel_run.diverged or r.srgan_run.diverged
                                         for r in per_seed)}
        ctx.claim(
            f"pixel-beats-bicubic-psnr-{tag}",
            f"On {where}, the pixel-loss network beats bicubic interpolation on PSNR",
            Greater(margin=PSNR_MARGIN), a=_vals(per_seed, "pixel", "psnr"),
            b=_vals(per_seed, "bicubic", "psnr"), metric="test PSNR in dB, A = pixel, B = bicubic",
            why={"does not hold": "the network reaches {pixel_psnr:.2f} dB against bicubic's "
                                  "{bicubic_psnr:.2f} dB after {epochs} epochs: the correction "
                                  "it learned on the training photo does not carry over."},
            facts=facts, requires=ok)
        ctx.claim(
            f"pixel-beats-bicubic-ssim-{tag}",
            f"On {where}, the pixel-loss network beats bicubic interpolation on SSIM",
            Greater(margin=SSIM_MARGIN), a=_vals(per_seed, "pixel", "ssim"),
            b=_vals(per_seed, "bicubic", "ssim"), metric="test SSIM, A = pixel, B = bicubic",
            why={"does not hold": "SSIM {pixel_ssim:.4f} (network) vs {bicubic_ssim:.4f} "
                                  "(bicubic): the L1 loss improved pixels without improving "
                                  "local structure."},
            facts=facts, requires=ok)
        ctx.claim(
            f"srgan-sharper-{tag}",
            f"On {where}, SRGAN's gradient-magnitude spectrum is closer to the HR image's than "
            "the pixel-loss network's (sharper, measured)",
            Less(margin=SPECTRUM_MARGIN), a=_vals(per_seed, "srgan", "spectrum"),
            b=_vals(per_seed, "pixel", "spectrum"),
            metric="gradient spectrum distance to HR (decades), A = SRGAN, B = pixel",
            why={"does not hold": "distance {srgan_spectrum:.3f} (SRGAN) vs {pixel_spectrum:.3f} "
                                  "(pixel; bicubic {bicubic_spectrum:.3f}): at adv_weight "
                                  "{adv_weight} and {epochs} epochs the adversarial term has not "
                                  "restored high-frequency gradient power beyond what the pixel "
                                  "loss does."},
            facts=facts, requires=ok)
        ctx.claim(
            f"srgan-psnr-at-most-pixel-{tag}",
            f"On {where}, SRGAN's PSNR is below the pixel-loss network's (the "
            "perception-distortion trade-off, Blau & Michaeli 2018)",
            Less(margin=0.0), a=_vals(per_seed, "srgan", "psnr"),
            b=_vals(per_seed, "pixel", "psnr"), metric="test PSNR in dB, A = SRGAN, B = pixel",
            why={"does not hold": "SRGAN {srgan_psnr:.2f} dB vs pixel {pixel_psnr:.2f} dB, with "
                                  "gradient spectrum distances {srgan_spectrum:.3f} vs "
                                  "{pixel_spectrum:.3f}: at adv_weight {adv_weight} the "
                                  "adversarial term did not cost distortion here; both networks "
                                  "are still far from the perception-distortion bound, where "
                                  "the trade-off binds."},
            facts=facts, requires=ok)
    hr = [max(r.hr.spectrum for r in row) for row in zip(*results.values(), strict=True)]
    ctx.claim("spectrum-distance-hr-to-itself-zero",
              "The sharpness measure gives 0 for the HR patches against themselves",
              EverySeed(AtMost(1e-12)), values=hr, kind="check",
              metric="gradient spectrum distance of HR to HR (max over settings)")
