r"""Lab: GANs for images -- generation and text-to-image, with their quality measured (Q01).

1. **Generation.** A DCGAN on 8x8 digits (pixels in [0, 1], sigmoid output) and an MLP GAN on
   MNIST-1D (40-sample standardized signals), each against a VAE on the same split (the
   reference generator; Bernoulli likelihood on digits, Gaussian on MNIST-1D) and against
   *real vs real* (as many training images as test images) as the floor no generator can beat.
   Every sample set is scored against the test split (``n_samples`` generated or real
   training images against all test images, the same ``N`` for every arm):
   the Frechet distance on the penultimate features of a small MLP classifier (the judge,
   trained on the seed's training split; in-project features, NOT comparable with Inception
   FID), the modes covered (classes the judge finds with at least 10% of a uniform share, of
   10), and improved precision/recall (k-NN manifolds, k = 3; Kynkaanniemi et al., 2019).
2. **Text to image.** A conditional DCGAN whose condition is the prompt's embedding: the bundled
   all-MiniLM-L6-v2 sentence encoder with the ``text`` extra, else a bag of words over the
   prompt vocabulary (``encoder_used`` says which ran). Prompts name a digit, its thickness
   tertile within its class and its slant sign (``deepdojo.data.prompts``: the same fixed
   functions label the training images and score the samples). Measured on the test images'
   prompts: the judge's accuracy on the prompted digit (the judge's accuracy on real test images
   is the ceiling, 0.1 chance), and how often the sample's thickness and slant match the
   prompt, against the rate at which a *random real image of the prompted digit* matches it
   (what a generator that draws good digits but ignores the attribute would reach) and against
   the samples scored with another same-digit prompt (shuffled control).

Equal tuning: the GAN's and the VAE's Adam learning rates come from their own grids
(``gan_lrs``, ``vae_lrs``) on the first seed's *validation* Frechet distance; the
text-to-image GAN reuses the digit DCGAN's lr (same networks, same data). Chosen values are the
``chosen_settings`` table. Every GAN shows both networks' training curves and the Doctor's
findings per network (``doctor`` table). The noise floor of the Frechet distance (two sample
draws of the same generator, |log FD_1 - log FD_2|) is ``noise_floor.*``; the log-FD margin
(0.2) sits above it.

Rules and margins were fixed in code before the first run and not moved since.

Changed after the development runs (base seeds 0, 7, 12345 at quick): quick sizes were cut to
fit the minute (GAN 25 -> 20 epochs, VAE 30 -> 20, text-to-image 25 -> 20; the judge trains 25
epochs, cached per seed), and five claims are decided at full scale only (``full_only_claims``;
measured and shown at quick, not judged): gan-digits-fd-below-vae (inconclusive on all three
seed sets: log-FD difference -0.12 / -0.42 / -0.15, intervals straddling the 0.2 margin),
gan-mnist1d-fd-below-vae (inconclusive / inconclusive / holds), gan-mnist1d-covers-all-modes
(one seed of one set found 9 classes), gan-mnist1d-recall-above-vae (inconclusive on all three,
difference within +-0.03) and t2i-thickness-follows-prompt (its match gain over the real-data
rate grew with training: +0.07 after 25 epochs, 0.00 after 20). At quick (old sizes) the other
findings kept their verdicts on all three seed sets: the GAN stays above the real floor, covers
the 10 digits, has LOWER precision (-0.35 to -0.39) and HIGHER recall (+0.48 to +0.59) than the
VAE on digits, lower precision on MNIST-1D, and the text-conditioned DCGAN draws the prompted
digit (0.88-0.93) and follows the slant word (+0.20 over the real-data rate).
Full scale, base seed 0 (10 seeds, 750 s CPU on one thread; GAN lr 1e-3 digits / 2e-3 MNIST-1D,
VAE lr 1e-2 both): gan-digits-fd-below-vae inconclusive (FD 8.29 GAN vs 11.23 VAE, real floor
0.76; log difference -0.28 [-0.61, 0.06] against the 0.2 margin); gan-mnist1d-fd-below-vae holds
(3.84 vs 17.87, -1.58 [-1.80, -1.37]); gan-mnist1d-covers-all-modes holds (the VAE covers 7.4 of
10); gan-mnist1d-recall-above-vae holds (+0.48 [0.45, 0.52]); t2i-thickness-follows-prompt holds
(match 0.68 vs real-data rate 0.37 and shuffled prompts 0.36: +0.31 [0.27, 0.36]). The other
verdicts are as at quick (digits precision: GAN 0.67 vs VAE 0.93, does not hold; recall 0.72 vs
0.23, holds).
Final quick sizes: 53 s CPU on one thread (wall 2 min 40 s at load ~12); the 10 claims judged at
quick (8 findings, 2 checks) have identical verdicts on base seeds 0, 7 and 12345, none
inconclusive.
The Doctor flags saturation in the digit generator's sigmoid output on every seed: most pixels
of a digit are background 0, which a sigmoid reaches only saturated -- expected, not a fault.

Version note (2026-12-04, after an outside review): ``gan-*-above-real-floor`` is labelled a
check (any imperfect generator stays above the real-vs-real floor), so the findings counted
above are one fewer per data set; its rule and verdicts are unchanged.

Version 3 (2026-12-04, second outside review; rules changed after the results above, for the
reasons given, before the runs below):

- *Same selection for both arms.* Before, the GAN was kept at its last epoch and the VAE at
  its best validation-loss epoch. Now both are kept at the checkpoint, of ``checkpoints`` (4)
  evenly spaced epochs ending at the last, with the lowest *validation* Frechet distance
  (``n_samples`` samples against the validation split, the seed's judge); the lr grids are
  judged by that same number. Chosen epochs: the ``chosen_checkpoints`` table. The
  text-to-image GAN keeps its last epoch (it has no rival generator).
- *Training-seed A/A floor.* The old ``noise_floor.*.log_fd_resample`` (two sample draws of one
  trained GAN) measures resampling only. With ``aa_twin`` (smoke and full) each seed also
  trains an A/A twin of both arms (same data, split, lr and selection; init and batch order
  from ``seed + 500``), scored like the arm; ``noise_floor.<data>.<m>_aa_<arm>`` is the mean
  over seeds of ``|arm - twin|`` for m in log_fd, precision, recall. Every GAN-vs-VAE margin
  in use is ``max(fixed margin, both arms' A/A floors)`` (``margin.<data>.<m>``): no margin
  inside the floor. Quick has no twins (the minute does not fit ten more GANs), so its margins
  are the fixed ones; the FD claims that the review was about are judged at full scale, where
  the twins run.
- *Equal-size precision/recall.* Precision and recall are computed on the first
  ``N = min(n_samples, N_test)`` samples of each arm against the same first ``N`` test images
  (the k-NN radii depend on each set's size; before, 1000 samples met all test images). The
  Frechet distance and modes still use all ``n_samples`` samples and all test images.
- The GAN is trained by ``deepdojo.labs.shared.adversarial.fit_adversarial`` (same numbers).

Quick under version 3 (base seed 0; machine at load ~16 on 2 cores: 63 s CPU on one thread,
wall 8 min 40 s; the unchanged text-to-image section alone went from 19 to 23 s CPU with the
load): GAN lr 5e-4 on both data sets, VAE lr 1e-2; the chosen checkpoint is the last epoch for
every digits run and for 7 of 10 MNIST-1D runs. Verdicts as before: digits precision GAN 0.54
vs VAE 0.92 (-0.38 [-0.51, -0.24], does not hold), recall 0.68 vs 0.20 (+0.47 [+0.35,
+0.60], holds), all 10 digits covered; MNIST-1D precision 0.88 vs 0.95 (-0.07 [-0.12, -0.03],
does not hold); the prompted digit is recognised 0.91 [0.89, 0.94]; slant match +0.20 [+0.15,
+0.24] over the real-data rate. Held for full scale: log-FD GAN - VAE -0.43 [-0.85, -0.01]
(digits) and -0.32 [-0.46, -0.18] (MNIST-1D) against the 0.2 margin. ``deepdojo verify
gan-images --seed-sets 3 --seed 40``: 10 of 10 verdicts identical on bases 40/41/42, none
inconclusive (189 s CPU for the three).

Full scale under version 3 (base seed 0, 10 seeds, code of commit 80b41c4, the lab unchanged
since; 1115 s CPU on one thread: generation 434 s digits, 424 s MNIST-1D, text-to-image
257 s). Chosen lrs: GAN 1e-3 digits, 2e-3 MNIST-1D; VAE 1e-2 digits, 3e-2 MNIST-1D. The two
MNIST-1D choices sit at the top of their grids (disclosed; the grids were fixed before the
run and not widened after it). A/A floors set the margins: log-FD 0.224 (digits) and 0.310
(MNIST-1D), digits recall 0.096. Frechet distance (mean of seeds) GAN / VAE / real-vs-real:
digits 7.16 / 11.20 / 0.76, MNIST-1D 3.51 / 17.65 / 0.74. Verdicts, GAN - VAE, 95% interval:

- ``gan-digits-fd-below-vae``: inconclusive, log-FD [-0.683, -0.112] straddles -0.224 (the
  GAN's own A/A floor; about 23 seeds would decide it);
- ``gan-mnist1d-fd-below-vae``: holds, [-1.763, -1.499];
- ``gan-*-recall-above-vae``: holds, digits [+0.266, +0.519], MNIST-1D [+0.494, +0.553];
- ``gan-*-precision-above-vae``: does not hold, digits 0.66 vs 0.92 [-0.300, -0.210],
  MNIST-1D 0.85 vs 0.91 [-0.093, -0.032];
- all 10 classes covered by every GAN (both data sets, every seed): holds;
- text-to-image: the prompted digit is recognised 0.977 [0.968, 0.987] (holds, bar 0.7);
  thickness matched +0.31 [0.27, 0.36] and slant +0.20 [0.17, 0.22] over the real-data rate
  (both hold, margin 0.1).

Against quick, nothing changed direction; the digits FD claim, held for full scale at quick,
stays undecided at full because its A/A floor (0.224) is as large as the spread of the gap.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from deepdojo.labs.framework import LabContext, ranged, register_lab, scaled
from deepdojo.labs.shared.autoencoding import pick
from deepdojo.labs.shared.clock import SectionClock

from . import measure as M
from .claims import FULL_ONLY, aa_floor, margins, state_claims
from .figures import plot_all


@dataclass
class GanImagesConfig:
    gan_epochs: int = scaled(smoke=1, quick=20, full=150, low=1)  # GAN epochs (batch 64)
    vae_epochs: int = scaled(smoke=1, quick=20, full=100, low=1)  # VAE epochs (best-val kept)
    t2i_epochs: int = scaled(smoke=1, quick=20, full=150, low=1)  # text-to-image GAN epochs
    judge_epochs: int = scaled(smoke=2, quick=25, full=40, low=1)  # the judge classifier's epochs
    gan_lrs: tuple[float, ...] = scaled(smoke=(2e-3,), quick=(5e-4, 2e-3),
                                        full=(2e-4, 5e-4, 1e-3, 2e-3), low=0.0, low_open=True)
    vae_lrs: tuple[float, ...] = scaled(smoke=(1e-2,), quick=(3e-3, 1e-2),
                                        full=(1e-3, 3e-3, 1e-2, 3e-2), low=0.0, low_open=True)
    latent: int = ranged(16, low=1)  # GAN latent size
    base: int = ranged(32, low=1)  # DCGAN width (MLP GAN hidden width = 4 * base)
    vae_latent: int = ranged(8, low=1)  # VAE latent size
    vae_hidden: int = ranged(128, low=1)  # VAE hidden width
    mnist1d_samples: int = scaled(smoke=200, quick=2000, full=4000, low=100)  # MNIST-1D set size
    n_samples: int = scaled(smoke=100, quick=1000, full=1000, low=10)  # generated set size
    k: int = ranged(3, low=1)  # precision/recall neighbourhood
    doctor_every: int = ranged(20, low=1)  # steps between the Doctor's checks
    checkpoints: int = ranged(4, low=1)  # evenly spaced checkpoints (GAN and VAE alike)
    aa_twin: bool = scaled(smoke=True, quick=False, full=True)  # train the A/A twins
    text_encoder: str = "auto"  # auto (MiniLM when the text extra is installed), minilm, bow
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)  # state FULL_ONLY


@register_lab("gan-images", questions=("Q01",), config=GanImagesConfig)
def run(cfg: GanImagesConfig, ctx: LabContext) -> None:
    """A DCGAN and an MLP GAN vs a VAE and the real-vs-real floor; a text-conditioned DCGAN
    scored on the prompted digit and attributes."""
    if cfg.text_encoder not in ("auto", "minilm", "bow"):
        from deepdojo.labs.framework import LabError

        raise LabError(f"--set text_encoder={cfg.text_encoder}: must be auto, minilm or bow")
    M.clear_caches()
    seeds, s0 = ctx.seeds, ctx.seeds[0]
    chosen: list[dict[str, object]] = []
    clock = SectionClock(ctx)
    gens: dict[str, list[M.Generation]] = {}
    floors: dict[str, float] = {}
    lrs: dict[str, float] = {}
    for name in ("digits", "mnist1d"):
        d0 = M.load(name, s0, cfg.mnist1d_samples)
        val0 = M.validation(d0, s0, cfg)
        gan_lr = _tune(chosen, f"gan {name}", cfg.gan_lrs,
                       lambda lr, d0=d0, v=val0: M.fit_gan(d0, s0, lr, cfg, v)[1].val_fd)
        vae_lr = _tune(chosen, f"vae {name}", cfg.vae_lrs,
                       lambda lr, d0=d0, v=val0: M.fit_vae(d0, s0, lr, cfg, v)[1].val_fd)
        lrs[name] = gan_lr
        gens[name] = [M.generation(M.load(name, s, cfg.mnist1d_samples), s, gan_lr, vae_lr, cfg,
                                   keep_samples=s == s0)
                      for s in ctx.progress(seeds, f"{name}: GAN vs VAE")]
        floors[name] = _noise_floor(M.load(name, s0, cfg.mnist1d_samples), s0, gens[name][0],
                                    cfg)
        ctx.metric(f"noise_floor.{name}.log_fd_resample", floors[name])
        for m, margin in margins(gens[name]).items():
            if cfg.aa_twin:  # the training-seed A/A floor of each arm
                for arm in ("gan", "vae"):
                    ctx.metric(f"noise_floor.{name}.{m}_aa_{arm}", aa_floor(gens[name], arm, m))
            ctx.metric(f"margin.{name}.{m}", margin)
        clock.lap(f"generation_{name}")
    data = [M.load("digits", s, cfg.mnist1d_samples) for s in seeds]
    t2i = [M.text_to_image(d, s, lrs["digits"], cfg, keep=s == s0)
           for d, s in ctx.progress(list(zip(data, seeds, strict=True)), "text to image")]
    chosen.append({"arm": "text-to-image gan", "setting": "lr", "value": lrs["digits"],
                   "val_score": None, "chosen": True})
    ctx.metric("encoder_used", t2i[0].backend)
    clock.lap("text_to_image")
    M.clear_caches()
    ctx.table("chosen_settings", chosen)
    _tables(ctx, seeds, gens, t2i)
    plot_all(ctx, gens, t2i)
    state_claims(ctx, cfg, gens, t2i, floors)
    if not cfg.full_only_claims:
        ctx.hold_for_full_scale(FULL_ONLY)


def _tune(chosen: list[dict[str, object]], arm: str, grid: tuple[float, ...], score) -> float:
    lr, scores = pick(grid, score)
    chosen.extend({"arm": arm, "setting": "lr", "value": v, "val_score": s, "chosen": v == lr}
                  for v, s in scores.items())
    return lr


def _noise_floor(data: M.Data, seed: int, gen: M.Generation, cfg: GanImagesConfig) -> float:
    """|log FD| between two sample draws of the same trained GAN (first seed): the A/A spread
    of the metric itself."""
    judge = M.train_judge(data, seed, cfg.judge_epochs)
    n = min(cfg.n_samples, len(data.X))
    fds = [M.score(judge, M.gan_samples(gen.gan_run, n, cfg.latent, seed + 100 * i),
                   data.X_test, cfg.k).fd for i in (1, 2)]
    if not all(math.isfinite(f) and f > 0 for f in fds):
        return math.nan
    return abs(math.log(fds[0]) - math.log(fds[1]))



def _tables(ctx: LabContext, seeds: list[int], gens: dict[str, list[M.Generation]],
            t2i: list[M.TextToImage]) -> None:
    rows = []
    for name, runs in gens.items():
        for s, g in zip(seeds, runs, strict=True):
            for arm in ("gan", "vae", "real", "gan_aa", "vae_aa"):
                sc = getattr(g, arm)
                if sc is None:
                    continue
                rows.append({"data": name, "seed": s, "arm": arm, "frechet": sc.fd,
                             "modes": sc.modes, "precision": sc.precision, "recall": sc.recall})
    ctx.table("generation", rows)
    ctx.table("chosen_checkpoints", [
        {"data": name, "seed": s, "arm": arm, "epoch": c.epoch, "val_fd": c.val_fd,
         **{f"val_fd_epoch_{e}": v for e, v in sorted(c.scores.items())}}
        for name, runs in gens.items() for s, g in zip(seeds, runs, strict=True)
        for arm, c in (("gan", g.gan_chosen), ("vae", g.vae_chosen))])
    ctx.table("text_to_image", [
        {"seed": s, "digit_acc": t.digit_acc, "digit_acc_real": t.digit_acc_real,
         "thick_match": t.thick_match, "thick_real_rate": t.thick_real,
         "thick_shuffled": t.thick_shuffled, "slant_match": t.slant_match,
         "slant_real_rate": t.slant_real, "slant_shuffled": t.slant_shuffled}
        for s, t in zip(seeds, t2i, strict=True)])
    doctor = []
    sections = [(f"gan {n}", [g.gan_run for g in runs]) for n, runs in gens.items()]
    sections.append(("text-to-image gan", [t.gan_run for t in t2i]))
    for section, runs in sections:
        for s, r in zip(seeds, runs, strict=True):
            for net, rep in r.doctor.items():
                doctor.append({"gan": section, "seed": s, "network": net,
                               "findings": ", ".join(rep["kinds"]),
                               "flagged_checks": sum(rep["counts"].values()),
                               "checks": rep["checks"]})
    ctx.table("doctor", doctor)
    for name, runs in gens.items():
        for arm in ("gan", "vae", "real"):
            ctx.metric(f"{name}.frechet.{arm}", statistics.fmean(getattr(g, arm).fd for g in runs))
    ctx.metric("t2i.digit_acc", statistics.fmean(t.digit_acc for t in t2i))
