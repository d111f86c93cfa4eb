"""The ``autoencoders`` lab's claims: rules fixed here, before any run (see the lab docstring)."""

from __future__ import annotations

import statistics
from typing import Any

from deepdojo.labs.framework import AtLeast, AtMost, Greater, LabContext

REL_MARGIN = 0.10  # an AE "beats PCA" when its test MSE is at least 10% lower
TRUST_MARGIN = 0.01  # trustworthiness points
ACC_MARGIN = 0.02  # probe accuracy
PSNR_MARGIN = 0.5  # dB
CONF_MARGIN = 0.05  # classifier confidence


def _m(xs: list[float]) -> float:
    return statistics.fmean(xs)


def state_claims(ctx: LabContext, cfg: Any, sheets: dict, dimred: list, probes: list,
                 den: dict, gens: list, aa: list[float]) -> None:
    rel = {k: [1 - a / p for a, p in v] for k, v in sheets.items()}
    facts = {"nl_ae": _m([a for a, _ in sheets["nonlinear"]]),
             "nl_pca": _m([p for _, p in sheets["nonlinear"]]),
             "lin_ae": _m([a for a, _ in sheets["linear"]]),
             "lin_pca": _m([p for _, p in sheets["linear"]])}
    ctx.claim(
        "ae-beats-pca-nonlinear",
        "On data lying on a curved 2-D sheet, a 2-D autoencoder reconstructs better than 2-D PCA",
        AtLeast(REL_MARGIN), values=rel["nonlinear"],
        metric="relative test-MSE reduction 1 - AE/PCA at d = 2 (curved sheet in 20-D)",
        why={"does not hold": "the AE's test MSE {nl_ae:.4f} vs PCA's {nl_pca:.4f}: the AE did "
                              "not find the sheet's coordinates in this training budget."},
        facts=facts,
    )
    ctx.claim(
        "ae-no-gain-on-linear-data",
        "Control: on a flat 2-D plane (linear structure) the autoencoder gains nothing over PCA",
        AtMost(REL_MARGIN), values=rel["linear"],
        metric="relative test-MSE reduction 1 - AE/PCA at d = 2 (flat plane in 20-D)",
        why={"does not hold": "the AE reaches {lin_ae:.4f} vs PCA's {lin_pca:.4f} on a plane, "
                              "where PCA is the optimal linear map: check the PCA path."},
        facts=facts,
    )
    d2 = [1 - r.ae_mse[2] / r.pca_mse[2] for r in dimred] if 2 in cfg.dims else []
    if d2:
        ctx.claim(
            "ae-beats-pca-digits-d2",
            "On digits, a 2-D autoencoder code reconstructs better than the top-2 PCA components",
            AtLeast(REL_MARGIN), values=d2,
            metric="relative test-MSE reduction 1 - AE/PCA at d = 2 (digits)",
            why={"does not hold": "AE {ae:.4f} vs PCA {pca:.4f} (per-pixel test MSE)."},
            facts={"ae": _m([r.ae_mse[2] for r in dimred]),
                   "pca": _m([r.pca_mse[2] for r in dimred])},
        )
        ctx.claim(
            "ae-codes-more-trustworthy-digits",
            "On digits, 2-D autoencoder codes keep neighbourhoods better than 2-D PCA",
            Greater(margin=TRUST_MARGIN), a=[r.ae_trust for r in dimred],
            b=[r.pca_trust for r in dimred],
            metric=f"trustworthiness (k = {cfg.neighbors}) of the test codes, A = AE, B = PCA",
            why={"does not hold": "AE {a_mean:.3f} vs PCA {b_mean:.3f}."},
        )
    dmax = max(cfg.dims)
    ctx.metric("digits.ae_over_pca_mse_largest_d", _m([r.ae_mse[dmax] / r.pca_mse[dmax]
                                                       for r in dimred]))

    for frac in cfg.label_fractions:
        pct = f"{frac:.0%}"
        ae = [p.acc["ae"][frac] for p in probes]
        for base in ("raw", "pca"):
            ctx.claim(
                f"ae-features-beat-{base}-{round(frac * 100)}pct",
                f"With {pct} of the labels, a linear probe on AE codes beats one on "
                f"{'raw pixels' if base == 'raw' else 'PCA codes of the same size'}",
                Greater(margin=ACC_MARGIN), a=ae, b=[p.acc[base][frac] for p in probes],
                metric=f"probe test accuracy with {pct} labels, A = AE codes, B = {base}",
                why={"does not hold": "AE codes {a_mean:.3f} vs {base} {b_mean:.3f}: the "
                                      "unsupervised code keeps no more class information "
                                      "than the baseline at this label budget.".replace(
                                          "{base}", base)},
            )

    for source, runs in den.items():
        best = [max(r.psnr["blur"], r.psnr["median"]) for r in runs]
        ctx.claim(
            f"dae-beats-filters-{source}",
            f"A denoising autoencoder restores noisy {source} better than the better of a "
            "Gaussian blur and a median filter (both tuned on validation)",
            Greater(margin=PSNR_MARGIN), a=[r.psnr["dae"] for r in runs], b=best,
            metric=f"test PSNR (dB) on noisy {source}, A = DAE, B = best filter",
            why={"does not hold": "DAE {a_mean:.2f} dB vs best filter {b_mean:.2f} dB "
                                  "(noisy input {noisy:.2f} dB)." + (
                                      " Trained on {n_patches} patches of one photo and tested on "
                                      "another, the learned prior does not beat a tuned blur; "
                                      "MLP denoisers needed millions of patches to beat "
                                      "classical filters (Burger et al., 2012)."
                                      if source == "photos" else "")},
            facts={"noisy": _m([r.psnr["noisy"] for r in runs]), "n_patches": cfg.n_patches},
        )
        ctx.claim(
            f"dae-improves-on-noisy-{source}",
            f"The DAE's output is closer to the clean {source} than its noisy input",
            Greater(margin=0.0), a=[r.psnr["dae"] for r in runs],
            b=[r.psnr["noisy"] for r in runs],
            metric="test PSNR (dB), A = DAE output, B = noisy input", kind="check",
        )
        ctx.metric(f"denoise.{source}.ssim_dae", _m([r.ssim["dae"] for r in runs]))
        ctx.metric(f"denoise.{source}.ssim_best_filter",
                   _m([max(r.ssim["blur"], r.ssim["median"]) for r in runs]))

    ctx.claim(
        "vae-samples-look-like-digits",
        "A classifier trained on real digits is more confident on VAE samples than on samples "
        "of a Gaussian fitted to the pixels",
        Greater(margin=CONF_MARGIN), a=[g.conf_vae for g in gens],
        b=[g.conf_gauss for g in gens],
        metric="mean top-class probability of a pixel classifier, A = VAE, B = Gaussian",
        why={"does not hold": "VAE {a_mean:.3f} vs Gaussian {b_mean:.3f} (real digits "
                              "{real:.3f})."},
        facts={"real": _m([g.conf_real for g in gens])},
    )
    ctx.claim(
        "vae-code-is-informative",
        "The trained VAE's codes carry information: KL(q(z|x) || N(0, I)) is above 1 nat",
        AtLeast(1.0), values=[g.kl for g in gens], kind="check",
        metric="mean KL per test digit (nats)",
    )
    if aa:
        ctx.metric("noise_floor.ae_mse_rel_mean", _m(aa))
