"""The ``gan-translation`` lab's claims: rules and margins fixed here, before any run."""

from __future__ import annotations

import math
import statistics
from typing import Any

from deepdojo.labs.framework import AtLeast, AtMost, EverySeed, Greater, LabContext, Less

# Paired margins (version 4, see the lab's docstring): the larger of a fixed minimum and this
# run's A/A noise floor of the measure (mean over seeds of |twin - L1-only|, the L1-only arm
# trained again from seed + 500 on the same data, scored on the same test digits).
L1_MARGIN = 0.001  # mean absolute pixel error: minimum equivalence margin
SSIM_MARGIN = 0.002  # SSIM points: minimum margin
SPECTRUM_MARGIN = 0.005  # decades of gradient power per ring: "sharper" means by more than this
MIN_MARGIN = {"l1": L1_MARGIN, "ssim": SSIM_MARGIN, "spectrum": SPECTRUM_MARGIN}
DOMAIN_MARGIN = 0.25  # share of images: translated vs identity, called target-domain
CONTENT_FLOOR = 0.8  # digit-classifier agreement that counts as "content kept"
# claims judged at full scale only (version 3; see the lab's docstring for why)
FULL_ONLY: tuple[str, ...] = ("pix2pix-l1-not-lower", "pix2pix-ssim-not-higher",
                              "pix2pix-sharper", "cyclegan-above-chance",
                              "cyclegan-cycle-below-domain-gap")


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs)


def aa_floor(results: list, measure: str) -> float:
    """The A/A noise floor of ``measure``: the mean over seeds of ``|twin - L1-only|``; NaN
    when the run trained no twin (``aa_twin`` off: then the paired claims are held for full
    scale, and the NaN margin is never judged)."""
    if any(r.l1_aa is None for r in results):
        return math.nan
    return _mean([abs(getattr(r.l1_aa, measure) - getattr(r.l1_only, measure))
                  for r in results])


def margins(results: list) -> dict[str, float]:
    """``max(MIN_MARGIN[m], aa_floor(m))`` per measure ``m``: no margin inside the floor."""
    return {m: max(MIN_MARGIN[m], aa_floor(results, m)) for m in MIN_MARGIN}  # NaN: minimum


def state_claims(ctx: LabContext, cfg: Any, results: list) -> None:
    l1 = {arm: [getattr(r, arm).l1 for r in results] for arm in ("l1_only", "pix2pix")}
    ss = {arm: [getattr(r, arm).ssim for r in results] for arm in ("l1_only", "pix2pix")}
    sp = {arm: [getattr(r, arm).spectrum for r in results] for arm in ("l1_only", "pix2pix")}
    facts = {"epochs": cfg.epochs, "lam": cfg.lam,
             **{f"{arm}_{k}": _mean(v[arm]) for k, v in (("l1", l1), ("ssim", ss),
                                                          ("spectrum", sp))
                for arm in ("l1_only", "pix2pix")}}
    mg = margins(results)
    facts.update({f"floor_{m}": aa_floor(results, m) for m in MIN_MARGIN})
    ok = {"no paired run diverged": not any(r.l1_run.diverged or r.p2p_run.diverged
                                           or r.aa_diverged for r in results)}
    ctx.claim(
        "pix2pix-l1-not-lower",
        "pix2pix (U-Net + PatchGAN + 100 L1) does not reach a lower test L1 than the L1-only "
        "U-Net (non-inferiority: not lower by more than the margin, the A/A floor): the "
        "adversarial term buys no pixel accuracy (expected)",
        AtLeast(-mg["l1"]), a=l1["pix2pix"], b=l1["l1_only"],
        metric="paired difference pix2pix - L1-only of test L1 on edges -> digit",
        why={"does not hold": "pix2pix reaches L1 {pix2pix_l1:.4f} vs {l1_only_l1:.4f} (A/A "
                              "floor {floor_l1:.4f}): with lambda = {lam} the L1 term "
                              "dominates and the discriminator acts as a regulariser that also "
                              "lowered pixel error here.",
             "inconclusive": "(margin: the A/A floor {floor_l1:.4f} or 0.001, the larger)"},
        facts=facts, requires=ok)
    ctx.claim(
        "pix2pix-ssim-not-higher",
        "pix2pix does not reach a higher test SSIM than the L1-only U-Net (not higher by more "
        "than the margin, the A/A floor; expected)",
        AtMost(mg["ssim"]), a=ss["pix2pix"], b=ss["l1_only"],
        metric="paired difference pix2pix - L1-only of test SSIM on edges -> digit",
        why={"does not hold": "SSIM {pix2pix_ssim:.4f} (pix2pix) vs {l1_only_ssim:.4f} "
                              "(L1-only; A/A floor {floor_ssim:.4f}): the adversarial term "
                              "improved local structure too.",
             "inconclusive": "(margin: the A/A floor {floor_ssim:.4f} or 0.002, the larger)"},
        facts=facts, requires=ok)
    ctx.claim(
        "pix2pix-sharper",
        "pix2pix's outputs are sharper: their gradient-magnitude spectrum is closer to the "
        "targets' than the L1-only U-Net's",
        Less(margin=mg["spectrum"]), a=sp["pix2pix"], b=sp["l1_only"],
        metric="gradient spectrum distance to the target (decades), A = pix2pix, B = L1-only",
        why={"does not hold": "distance {pix2pix_spectrum:.4f} (pix2pix) vs "
                              "{l1_only_spectrum:.4f} (L1-only): on 16x16 digits whose edges "
                              "pin the strokes, the L1-only U-Net is not blurry enough for the "
                              "discriminator to add measurable high-frequency power in "
                              "{epochs} epochs (A/A floor {floor_spectrum:.4f}).",
             "inconclusive": "(margin: the A/A floor {floor_spectrum:.4f} or 0.005, the "
                             "larger)"},
        facts=facts, requires=ok)
    ctx.claim(
        "paired-arms-share-initial-weights",
        "Both paired arms start from the same U-Net weights (the control differs only by the "
        "adversarial term)",
        EverySeed(AtMost(0.0)), values=[r.same_init for r in results], kind="check",
        metric="max |initial weight difference|")
    cyc = [r.cycle for r in results]
    if any(c is None for c in cyc):
        return
    v = {k: [getattr(c, k) for c in cyc] for k in vars(cyc[0])}
    facts = {"cycle_epochs": cfg.cycle_epochs,
             **{f"{k}_mean": _mean(vals) for k, vals in v.items()}}
    ok = {"no CycleGAN run diverged": not any(r.cycle_run.diverged for r in results)}
    ctx.claim(
        "cyclegan-translates-domain",
        "CycleGAN's digit -> thick translations are called 'thick' by a domain classifier far "
        "more often than the untranslated digits (identity control)",
        Greater(margin=DOMAIN_MARGIN), a=v["rate_translated"], b=v["rate_identity"],
        metric="share called target-domain, A = G_AB(a), B = a",
        why={"does not hold": "only {rate_translated_mean:.2f} of the translations are called "
                              "thick (identity {rate_identity_mean:.2f}, true dilation "
                              "{rate_dilated_mean:.2f}) after {cycle_epochs} epochs."},
        facts=facts, requires=ok)
    ctx.claim(
        "cyclegan-above-chance",
        "More than half of CycleGAN's translations are called target-domain (chance: 0.5)",
        AtLeast(0.5), values=v["rate_translated"],
        metric="share of G_AB(a) called target-domain",
        why={"does not hold": "{rate_translated_mean:.2f} of translations are called thick: "
                              "the generator has not learned to add ink in {cycle_epochs} "
                              "epochs."},
        facts=facts, requires=ok)
    ctx.claim(
        "cyclegan-keeps-content",
        f"CycleGAN keeps the digit: a digit classifier agrees on at least {CONTENT_FLOOR} of "
        "translations (identity: 1 by construction; shuffled translations: the chance control)",
        AtLeast(CONTENT_FLOOR), values=v["content_translated"],
        metric="digit-classifier agreement between a and G_AB(a)",
        why={"does not hold": "agreement {content_translated_mean:.2f} (true dilation "
                              "{content_dilated_mean:.2f}, shuffled {content_shuffled_mean:.2f}):"
                              " nothing in CycleGAN's loss names the digit, and with cycle "
                              "error {cycle_mean:.3f} G_BA can undo a translation that moved "
                              "the digit (steganography, Chu et al. 2017)."},
        facts=facts, requires=ok)
    ctx.claim(
        "cyclegan-cycle-below-domain-gap",
        "CycleGAN's cycle a -> B -> A returns closer to a than the two domains are apart "
        "(cycle error below the mean |dilate(a) - a|)",
        Less(margin=0.0), a=v["cycle"], b=v["domain_gap"],
        metric="mean absolute error, A = |G_BA(G_AB(a)) - a|, B = |dilate(a) - a|",
        why={"does not hold": "cycle error {cycle_mean:.3f} against a domain gap of "
                              "{domain_gap_mean:.3f} after {cycle_epochs} epochs."},
        facts=facts, requires=ok)
    ctx.claim(
        "domain-classifier-separates-real-domains",
        "The domain classifier tells real digits from real thick digits on validation",
        EverySeed(AtLeast(0.95)), values=v["domain_val_acc"], kind="check",
        metric="domain classifier validation accuracy")
