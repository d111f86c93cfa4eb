"""The ``gan-superres`` lab's claims: rules and margins fixed here, before any run.

Margins (version 3, see the lab's docstring): every paired claim's margin is the larger of a
fixed minimum (below) and this run's A/A noise floor of its measure, so that no margin sits
inside the floor: ``margin = max(MIN_MARGIN, floor)``, where the floor is the mean over seeds
of ``|twin - pixel|``, the pixel arm trained twice (seed and seed + 500) on the same data and
scored on the same test patches.
"""

from __future__ import annotations

import statistics
from typing import Any

from deepdojo.labs.framework import AtMost, EverySeed, Greater, LabContext, Less

PSNR_MARGIN = 0.1  # dB: minimum margin of "beats bicubic" and of "SRGAN's PSNR is below"
SSIM_MARGIN = 0.002  # SSIM points: minimum margin
SPECTRUM_MARGIN = 0.01  # decades of gradient power per ring: minimum margin
MIN_MARGIN = {"psnr": PSNR_MARGIN, "ssim": SSIM_MARGIN, "spectrum": SPECTRUM_MARGIN}
# claims judged at full scale only (see the lab's docstring for why)
FULL_ONLY = ("srgan-sharper-photo-x4", "srgan-sharper-than-noise-photo-x4",
             "srgan-psnr-at-most-pixel-photo-x4",
             # version 3, after the stability run (seed bases 40, 41, 42): margins at the A/A
             # floor, effects within about one floor of it at quick
             "pixel-beats-bicubic-psnr-photo-x2", "srgan-sharper-than-noise-photo-x2",
             "srgan-sharper-photo-x2", "srgan-psnr-at-most-pixel-photo-x2",
             "pixel-beats-bicubic-psnr-photo-x4", "srgan-sharper-digits-x2",
             "srgan-psnr-at-most-pixel-digits-x2")

LABELS = {"photo_x2": "photo patches at 2x", "photo_x4": "photo patches at 4x",
          "digits_x2": "8x8 digits at 2x"}


def _vals(per_seed: list, arm: str, measure: str) -> list[float]:
    return [getattr(getattr(r, arm), measure) for r in per_seed]


def aa_floor(per_seed: list, measure: str) -> float:
    """The A/A noise floor of ``measure``: the mean over seeds of ``|twin - pixel|`` (the same
    arm, data and test patches, another training seed)."""
    return statistics.fmean(abs(a - b) for a, b in zip(_vals(per_seed, "pixel_aa", measure),
                                                        _vals(per_seed, "pixel", measure),
                                                        strict=True))


def margins(per_seed: list) -> dict[str, float]:
    """``max(MIN_MARGIN[m], aa_floor(m))`` per measure ``m``."""
    return {m: max(MIN_MARGIN[m], aa_floor(per_seed, m)) for m in MIN_MARGIN}


def state_claims(ctx: LabContext, cfg: Any, results: dict[str, list]) -> None:
    for name, per_seed in results.items():
        where = LABELS[name]
        tag = name.replace("_", "-")
        mg = margins(per_seed)
        m = {f"{arm}_{k}": statistics.fmean(_vals(per_seed, arm, k))
             for arm in ("bicubic", "pixel", "srgan", "noise") for k in ("psnr", "ssim",
                                                                          "spectrum")}
        floors = {f"floor_{k}": aa_floor(per_seed, k) for k in MIN_MARGIN}
        facts = {**m, **floors, "epochs": cfg.epochs, "adv_weight": cfg.adv_weight}
        ok = {"no run diverged": not any(r.pixel_run.diverged or r.srgan_run.diverged
                                         or r.aa_diverged for r in per_seed)}
        ctx.claim(
            f"pixel-beats-bicubic-psnr-{tag}",
            f"On {where}, the pixel-loss network beats bicubic interpolation on PSNR",
            Greater(margin=mg["psnr"]), a=_vals(per_seed, "pixel", "psnr"),
            b=_vals(per_seed, "bicubic", "psnr"), metric="test PSNR in dB, A = pixel, B = bicubic",
            why={"does not hold": "the network reaches {pixel_psnr:.2f} dB against bicubic's "
                                  "{bicubic_psnr:.2f} dB after {epochs} epochs: the correction "
                                  "it learned on the training photo does not carry over.",
                 "inconclusive": "(margin: the A/A floor {floor_psnr:.3f} dB or 0.1 dB, the "
                                 "larger)"},
            facts=facts, requires=ok)
        ctx.claim(
            f"pixel-beats-bicubic-ssim-{tag}",
            f"On {where}, the pixel-loss network beats bicubic interpolation on SSIM",
            Greater(margin=mg["ssim"]), a=_vals(per_seed, "pixel", "ssim"),
            b=_vals(per_seed, "bicubic", "ssim"), metric="test SSIM, A = pixel, B = bicubic",
            why={"does not hold": "SSIM {pixel_ssim:.4f} (network) vs {bicubic_ssim:.4f} "
                                  "(bicubic): the L1 loss improved pixels without improving "
                                  "local structure.",
                 "inconclusive": "(margin: the A/A floor {floor_ssim:.4f} or 0.002, the "
                                 "larger)"},
            facts=facts, requires=ok)
        ctx.claim(
            f"srgan-sharper-than-noise-{tag}",
            f"On {where}, SRGAN's gradient-magnitude spectrum is closer to the HR image's than "
            "that of the control: the pixel-loss network's output plus Gaussian noise with the "
            "high-frequency energy of SRGAN's residual over it",
            Less(margin=mg["spectrum"]), a=_vals(per_seed, "srgan", "spectrum"),
            b=_vals(per_seed, "noise", "spectrum"),
            metric="gradient spectrum distance to HR (decades), A = SRGAN, B = pixel + "
                   "energy-matched noise",
            why={"does not hold": "distance {srgan_spectrum:.3f} (SRGAN) vs {noise_spectrum:.3f}"
                                  " (pixel + matched noise; pixel alone {pixel_spectrum:.3f}): "
                                  "adding SRGAN's high-frequency energy as noise moves the "
                                  "spectrum at least as close, so the measure does not tell "
                                  "SRGAN's detail from noise here.",
                 "inconclusive": "(margin: the A/A floor {floor_spectrum:.4f} or 0.01, the "
                                 "larger)"},
            facts=facts, requires=ok)
        noise_ok = statistics.fmean(_vals(per_seed, "srgan", "spectrum")) < statistics.fmean(
            _vals(per_seed, "noise", "spectrum"))
        ctx.claim(
            f"srgan-sharper-{tag}",
            f"On {where}, SRGAN's gradient-magnitude spectrum is closer to the HR image's than "
            "the pixel-loss network's (sharper, measured), and closer than the energy-matched "
            "noise control's",
            Less(margin=mg["spectrum"]), a=_vals(per_seed, "srgan", "spectrum"),
            b=_vals(per_seed, "pixel", "spectrum"),
            metric="gradient spectrum distance to HR (decades), A = SRGAN, B = pixel",
            why={"does not hold": "distance {srgan_spectrum:.3f} (SRGAN) vs {pixel_spectrum:.3f} "
                                  "(pixel; bicubic {bicubic_spectrum:.3f}; pixel + matched noise "
                                  "{noise_spectrum:.3f}): either the adversarial term has not "
                                  "restored high-frequency gradient power beyond what the pixel "
                                  "loss does (adv_weight {adv_weight}, {epochs} epochs), or "
                                  "noise of the same energy moves the measure as far.",
                 "inconclusive": "(margin: the A/A floor {floor_spectrum:.4f} or 0.01, the "
                                 "larger)"},
            facts=facts, requires={**ok, "SRGAN closer to HR than the energy-matched noise "
                                         "control (mean over seeds)": noise_ok})
        ctx.claim(
            f"srgan-psnr-at-most-pixel-{tag}",
            f"On {where}, SRGAN's PSNR is below the pixel-loss network's (the "
            "perception-distortion trade-off, Blau & Michaeli 2018)",
            Less(margin=mg["psnr"]), a=_vals(per_seed, "srgan", "psnr"),
            b=_vals(per_seed, "pixel", "psnr"), metric="test PSNR in dB, A = SRGAN, B = pixel",
            why={"does not hold": "SRGAN {srgan_psnr:.2f} dB vs pixel {pixel_psnr:.2f} dB, with "
                                  "gradient spectrum distances {srgan_spectrum:.3f} vs "
                                  "{pixel_spectrum:.3f}: at adv_weight {adv_weight} the "
                                  "adversarial term did not cost distortion beyond the A/A "
                                  "floor ({floor_psnr:.3f} dB) here; both networks are still "
                                  "far from the perception-distortion bound, where the "
                                  "trade-off binds.",
                 "inconclusive": "(margin: the A/A floor {floor_psnr:.3f} dB or 0.1 dB, the "
                                 "larger)"},
            facts=facts, requires=ok)
    hr = [max(r.hr.spectrum for r in row) for row in zip(*results.values(), strict=True)]
    ctx.claim("spectrum-distance-hr-to-itself-zero",
              "The sharpness measure gives 0 for the HR patches against themselves",
              EverySeed(AtMost(1e-12)), values=hr, kind="check",
              metric="gradient spectrum distance of HR to HR (max over settings)")
