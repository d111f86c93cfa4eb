r"""Lab: image-to-image translation with GANs -- pix2pix (paired) and CycleGAN (unpaired) (Q01).

Data: scikit-learn's 8x8 digits in [0, 1], upsampled bilinearly to 16x16 (a seeded
train / validation / test split per seed).

**Paired, edges -> digit.** The input is a fixed function of the target: the binary Sobel edge
map ``1[|grad x| > edge_threshold]``. Two arms, same U-Net generator (``UNetGenerator``,
sigmoid output), *same initial weights* (a check), same Adam (betas 0.5, 0.999), same epochs:

- **L1-only**: ``lam * L1(G(e), x)``;
- **pix2pix** (Isola et al. 2017): the same plus a conditional PatchGAN on ``[e, image]``,
  non-saturating loss, ``lam = 100`` as in the paper.

Equal tuning: each arm's learning rate comes from ``lrs`` on the first seed's *validation* L1
(the same criterion for both; it favours the L1-only arm if anything); the ``chosen_lr`` table
shows it. Test scores: L1, SSIM (``deepdojo.metrics.generative.ssim``) and sharpness as
``gradient_spectrum_distance`` to the target (mean gap, in decades, between the radially
averaged power spectra of the Sobel gradient magnitudes). Expected, stated as findings with
rules fixed before the first run: pix2pix's L1 is not lower and its SSIM not higher than the
L1-only U-Net's (the perception-distortion trade-off), while its outputs are sharper.

**Unpaired, digit -> thick digit (CycleGAN, Zhu et al. 2017).** Domain A: half of the training
digits; domain B: the *other* half, thickened by a 3x3 grey dilation, so no pair is ever seen.
Two U-Nets ``G_AB``, ``G_BA``, two PatchGANs, least-squares GAN losses, cycle weight ``cyc``
(10, as in the paper) and the identity term ``idt * cyc * (|G_AB(b) - b| + |G_BA(a) - a|)``
with ``idt = 0.5``, the reference implementation's default; the learning rate ``cycle_lr``
is fixed, not tuned: CycleGAN is not compared with another learned arm but with fixed maps.
Measures on the test digits ``a``:

- cycle error ``|G_BA(G_AB(a)) - a|`` against the domain gap ``|dilate(a) - a|``;
- a domain classifier (logistic regression on pixels, real A vs real B, training split; its
  validation accuracy is a check) calling ``G_AB(a)`` thick: against the identity map ``a``
  (control) and chance 0.5, with the true dilation as the reference;
- content kept: a digit classifier's (logistic regression on real A and B) agreement between
  ``a`` and ``G_AB(a)``; the identity keeps 1 by construction, shuffled translations give the
  chance level, the true dilation the reference.

Versions. Version 1 (development, never a recorded run) had no identity term and held the four
CycleGAN claims for full scale only (``FULL_ONLY``): without it, on one development seed, the
translations were all called thick but the digit classifier agreed on 0.00 of them at 4 and
at 12 epochs (cycle error 0.035 at 12: ``G_BA`` undid a translation that had lost the digit,
the steganography of Chu et al. 2017). Version 2 adds the reference implementation's default
identity term (not tuned; its weight was not varied) and, since the first quick run then
decided all four, judged them at quick too. Version 3 (after the stability run with
``--seed 7``): five findings are decided at full scale only (``FULL_ONLY``), because their
quick verdicts changed between seed sets 0 and 7 or their setup is not yet at the point the
claim is about. The paired findings: at quick (4 epochs) both arms are still underfit (the
L1 curve falls by about a fifth in the last epoch) and the trade-off is a claim about trained
models; quick gave pix2pix - L1-only test L1 -0.0074 [-0.0115, -0.0033] with seeds 0 (pix2pix
*lower*: does not hold) but -0.0040 [-0.0082, 0.0001] with seeds 7 (inconclusive), SSIM
+0.0071 [0.0017, 0.0126] (does not hold) vs -0.0019 [-0.018, 0.014] (inconclusive),
sharpness -0.0098 [-0.0205, 0.0010] and -0.0043 [-0.020, 0.012] decades (both inconclusive).
CycleGAN at 4 epochs varies a lot per seed (share called thick 0.30 to 1.00, cycle error 0.07
to 0.20): ``cyclegan-above-chance`` went holds -> inconclusive, and
``cyclegan-cycle-below-domain-gap`` holds -> inconclusive. Judged at quick, the same in both
seed sets: ``cyclegan-translates-domain`` (holds: share called thick 0.74 vs identity 0.004
with seeds 0, 0.74 vs 0.005 with seeds 7) and ``cyclegan-keeps-content`` (holds: agreement
0.977 and 0.959; true dilation 0.959 and 0.964; shuffled 0.09). No rule or margin changed.
A third seed set (``--seed 12345``, version 3) agrees: both hold (translated vs identity
+0.656 [0.355, 0.957]; agreement 0.978 [0.962, 0.994]). Quick time: 53 to 56 s of CPU on one
thread (wall 2.5 to 4 min on a shared machine at load 8).

Measured at full scale (10 seeds, 12 epochs each part, lr grid of 4; 295 s CPU, one thread):
pix2pix and the L1-only U-Net are indistinguishable. pix2pix - L1-only test L1 -0.0002
[-0.0011, 0.0008] (``pix2pix-l1-not-lower`` inconclusive), SSIM +0.0002 [-0.0012, 0.0017]
(inconclusive), gradient spectrum distance -0.0001 [-0.0037, 0.0034] decades
(``pix2pix-sharper`` does not hold: the interval lies inside the 0.005 margin). At
``lam = 100`` on 16x16 digits whose edge map pins the strokes, the adversarial term changes
neither distortion nor sharpness measurably. Both arms chose the largest lr of the grid
(4e-3; validation L1 0.0429 and 0.0440), so a wider grid could still move both. CycleGAN at
full: called thick 0.848 above identity [0.812, 0.884], 0.852 above chance [0.815, 0.889],
digit agreement 0.972 [0.964, 0.980] (true dilation 0.965, shuffled 0.099), cycle error
0.028 vs a domain gap of 0.176 (difference -0.148 [-0.150, -0.146]): all four hold.

Version 4 (2026-12-04, after an outside review; rules fixed before any run of this version).
The two "not lower / not higher" findings used strict rules with margin 0 (``Greater(0)``,
``Less(0)``), which can only come out inconclusive when the effect is absent, and
``SPECTRUM_MARGIN`` (0.005) sat inside its seed spread. They are restated: a paired A/A twin
(the L1-only arm trained again from seed + 500 on the same data, scored on the same test
digits) gives each measure's noise floor, the mean over seeds of ``|twin - L1-only|``
(metrics ``noise_floor.paired.*``), and every paired margin is the larger of a fixed minimum
(L1 0.001, SSIM 0.002, spectrum 0.005) and that floor (metrics ``margin.paired.*``).
``pix2pix-l1-not-lower`` is a non-inferiority rule, ``AtLeast(-margin)`` on pix2pix - L1-only
(holds when the interval's low end is at or above -margin: pix2pix is not lower by more than
the noise floor); ``pix2pix-ssim-not-higher`` is ``AtMost(margin)``; ``pix2pix-sharper`` is
``Less(margin)``. The three stay decided at full scale, so quick trains no twin
(``aa_twin``, on at smoke and full) and stays within its budget; the seed-spread metrics of
version 3 are now ``spread.paired.*``.
Measured at full scale with version 4 (10 seeds; 462 s of CPU on a machine at load 15, 69 min
wall; the paired numbers are identical to version 3's, the same seeds and code path): A/A
floors L1 0.0020, SSIM 0.0027, spectrum 0.0058 decades, so the margins are the floors.
``pix2pix-l1-not-lower`` holds (pix2pix - L1-only -0.0002 [-0.0011, 0.0008], at or above
-0.0020), ``pix2pix-ssim-not-higher`` holds (+0.0002 [-0.0012, 0.0017], at or below 0.0027),
``pix2pix-sharper`` does not hold (-0.0001 [-0.0037, 0.0034] against -0.0058). The CycleGAN
verdicts are those of version 3 (all four hold). Quick (unchanged code path at quick, no twin):
seed bases 40, 41, 42 agree on all four stated claims (``deepdojo verify``: 100%, none
inconclusive; 66 to 76 s of CPU per set at load 15, 51 s at load 8).

Caveat on "called thick": the domain classifier is a linear model on pixels, so it reads
mostly ink mass; on the example figure the translations are only slightly thicker than the
input, with faint ink added around the strokes, and are still called thick. The share is a
measure of this classifier, not of a human's judgement.

Left out: the second unpaired pair (two rendering styles) and the Gatys-style (Gram-matrix)
non-GAN reference arm -- not built in this version, for lack of time.
Both networks' training curves and the Doctor's findings per network (``doctor`` table) are
shown.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from deepdojo.labs.framework import LabContext, LabError, ranged, register_lab, scaled

from . import measure as M
from .claims import FULL_ONLY, aa_floor, margins, state_claims
from .figures import plot_all


@dataclass
class GanTranslationConfig:
    epochs: int = scaled(smoke=1, quick=4, full=12, low=1)  # paired arms: epochs
    cycle_epochs: int = scaled(smoke=1, quick=4, full=12, low=0)  # CycleGAN (0: skip it)
    n_train: int | None = scaled(smoke=256, quick=None, full=None, low=8)  # None: the rest
    n_val: int = ranged(200, low=1)  # validation digits (lr choice, classifier checks)
    n_test: int = scaled(smoke=64, quick=300, full=300, low=4)  # test digits
    lrs: tuple[float, ...] = scaled(smoke=(2e-3,), quick=(5e-4, 2e-3),
                                    full=(5e-4, 1e-3, 2e-3, 4e-3), low=0.0, low_open=True)
    cycle_lr: float = ranged(2e-3, low=0.0, low_open=True)  # CycleGAN's Adam lr (fixed)
    batch_size: int = ranged(32, low=1)  # images per step
    g_base: int = ranged(8, low=1)  # U-Net width
    depth: int = ranged(2, low=1, high=4)  # U-Net levels (16 / 2^depth >= 1)
    d_base: int = ranged(8, low=1)  # PatchGAN width
    lam: float = ranged(100.0, low=0.0, low_open=True)  # weight of L1 (pix2pix: 100)
    cyc: float = ranged(10.0, low=0.0, low_open=True)  # weight of the cycle loss
    idt: float = ranged(0.5, low=0.0)  # identity loss, as a share of cyc (reference impl.: 0.5)
    edge_threshold: float = ranged(2.0, low=0.0)  # Sobel magnitude above which a pixel is edge
    doctor_every: int = ranged(50, low=1)  # steps between the Doctor's checks
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)  # judge FULL_ONLY
    # train the A/A twin (its floor sets the paired margins; the paired claims are judged at
    # full scale only, so quick skips it to stay within its budget)
    aa_twin: bool = scaled(smoke=True, quick=False, full=True)


def _same_init(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(float((p - q).abs().max()) for p, q in zip(a.state_dict().values(),
                                                          b.state_dict().values(), strict=True)
               if p.is_floating_point())


@register_lab("gan-translation", questions=("Q01",), config=GanTranslationConfig)
def run(cfg: GanTranslationConfig, ctx: LabContext) -> None:
    """pix2pix vs an L1-only U-Net on edges -> digit; CycleGAN digit <-> thick digit."""
    if cfg.full_only_claims and not cfg.aa_twin:
        raise LabError("--set aa_twin=true: the paired claims' margins need the A/A floor")
    seeds, s0 = ctx.seeds, ctx.seeds[0]
    t0 = time.process_time()
    data0 = M.split(s0, cfg.n_val, cfg.n_test, cfg.n_train)
    chosen, lrs, first = [], {}, {}
    for arm, adversarial in (("l1_only", False), ("pix2pix", True)):
        runs = {lr: M.train_pix2pix(data0, s0, lr, adversarial, cfg) for lr in cfg.lrs}
        scores = {lr: M.val_l1(r, data0, cfg) for lr, r in runs.items()}
        lrs[arm] = min(scores, key=lambda lr: scores[lr])  # inf (diverged) never chosen
        first[arm] = runs[lrs[arm]]
        chosen.extend({"arm": arm, "lr": lr, "val_l1": v, "chosen": lr == lrs[arm]}
                      for lr, v in scores.items())
    ctx.table("chosen_lr", chosen)
    results = []
    for s in ctx.progress(seeds, "seeds"):
        data = data0 if s == s0 else M.split(s, cfg.n_val, cfg.n_test, cfg.n_train)
        l1_run = first["l1_only"] if s == s0 else M.train_pix2pix(data, s, lrs["l1_only"],
                                                                   False, cfg)
        p2p_run = first["pix2pix"] if s == s0 else M.train_pix2pix(data, s, lrs["pix2pix"],
                                                                    True, cfg)
        twin = (M.train_pix2pix(data, s + M.AA_OFFSET, lrs["l1_only"], False, cfg)
                if cfg.aa_twin else None)  # A/A: the L1-only arm from another seed
        e = M.edges(data.test, cfg.edge_threshold)
        outs = {"L1-only": M.apply(l1_run.nets["generator"], e),
                "pix2pix": M.apply(p2p_run.nets["generator"], e)}
        r = M.SeedResult(M.score_paired(outs["L1-only"], data.test),
                         M.score_paired(outs["pix2pix"], data.test),
                         _same_init(M.unet(s, cfg), M.unet(s, cfg)), l1_run, p2p_run,
                         None if twin is None else M.score_paired(
                             M.apply(twin.nets["generator"], e), data.test),
                         twin is not None and twin.diverged)
        if s == s0:
            r.images = {"edges": e[:4, 0].numpy(), **{k: v[:4, 0].numpy()
                                                      for k, v in outs.items()},
                        "target": data.test[:4, 0].numpy()}
        results.append(r)
    ctx.metric("time.paired_cpu_s", round(time.process_time() - t0, 2))
    t0 = time.process_time()
    if cfg.cycle_epochs > 0:
        for s, r in zip(seeds, ctx.progress(results, "cyclegan"), strict=True):
            data = M.split(s, cfg.n_val, cfg.n_test, cfg.n_train)
            r.cycle_run = M.train_cyclegan(data, s, cfg)
            r.cycle, out = M.score_unpaired(r.cycle_run, data, s)
            if s == s0:
                back = M.apply(r.cycle_run.nets["g_ba"], out[:4])
                r.images.update({"digit": data.test[:4, 0].numpy(),
                                 "CycleGAN A->B": out[:4, 0].numpy(),
                                 "cycle A->B->A": back[:, 0].numpy(),
                                 "dilated (true B)": M.dilate(data.test[:4])[:, 0].numpy()})
    ctx.metric("time.unpaired_cpu_s", round(time.process_time() - t0, 2))
    _tables(ctx, seeds, results)
    plot_all(ctx, results)
    state_claims(ctx, cfg, results)
    if not cfg.full_only_claims:
        ctx.hold_for_full_scale(FULL_ONLY)


def _tables(ctx: LabContext, seeds: list[int], results: list[M.SeedResult]) -> None:
    rows, cyc_rows, doctor = [], [], []
    for s, r in zip(seeds, results, strict=True):
        for arm in ("l1_only", "pix2pix"):
            sc = getattr(r, arm)
            rows.append({"seed": s, "arm": arm, "l1": sc.l1, "ssim": sc.ssim,
                         "gradient_spectrum_distance": sc.spectrum})
        if r.cycle is not None:
            cyc_rows.append({"seed": s, **vars(r.cycle)})
        for arm, run_ in (("l1_only", r.l1_run), ("pix2pix", r.p2p_run),
                          ("cyclegan", r.cycle_run)):
            if run_ is None:
                continue
            for net, rep in run_.doctor.items():
                doctor.append({"arm": arm, "seed": s, "network": net,
                               "findings": ", ".join(rep["kinds"]),
                               "flagged_checks": sum(rep["counts"].values()),
                               "checks": rep["checks"]})
    for s, r in zip(seeds, results, strict=True):
        if r.l1_aa is not None:
            rows.append({"seed": s, "arm": "l1_only_aa", "l1": r.l1_aa.l1, "ssim": r.l1_aa.ssim,
                         "gradient_spectrum_distance": r.l1_aa.spectrum})
    has_aa = all(r.l1_aa is not None for r in results)
    for arm in ("l1_only", "pix2pix", "l1_aa")[:3 if has_aa else 2]:
        for m in ("l1", "ssim", "spectrum"):
            vals = [getattr(getattr(r, arm), m) for r in results]
            ctx.metric(f"paired.{m}.{arm}", statistics.fmean(vals))
            if len(vals) > 1 and arm != "l1_aa":
                ctx.metric(f"spread.paired.{m}.{arm}", statistics.stdev(vals))
    if has_aa:
        for m, margin in margins(results).items():
            ctx.metric(f"noise_floor.paired.{m}", aa_floor(results, m))  # paired A/A
            ctx.metric(f"margin.paired.{m}", margin)
    if cyc_rows:
        for k in cyc_rows[0]:
            if k != "seed":
                ctx.metric(f"unpaired.{k}", statistics.fmean(row[k] for row in cyc_rows))
        ctx.table("unpaired_scores", cyc_rows)
    ctx.table("paired_scores", rows)
    ctx.table("doctor", doctor)
