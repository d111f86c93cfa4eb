r"""Lab: self-supervised learning -- does pretraining without labels make few labels go further?

Question Q16.

Setup. MNIST-1D (5,000 signals of length 40; 80% unlabelled training pool, 20% test) and, at
full scale, scikit-learn's digits (8x8). A small conv encoder (``SignalEncoder`` /
``ImageEncoder``, 64-d representation) is pretrained without labels, then frozen and judged by
a linear probe trained on 1% or 10% of the labels (stratified, seeded; full adds 100%).
Arms, each from the *same* seeded initialisation of the encoder:

- **SimCLR** (NT-Xent) and **VICReg** (sim/var/cov weights lambda/25/1), views = circular
  shift up to 12 of the 40 points, amplitude x U[0.8, 1.2], resized crop (70-100% of the
  length), a random linear trend (shear, rise up to +-2) and noise 0.1 -- MNIST-1D's own
  nuisances;
- **supervised from scratch**: the same encoder plus a linear head trained end to end on the
  same labelled rows, with the same augmentations, early-stopped on validation (below);
- **random frozen encoder** (the control): the initialisation itself, probed the same way;
  a second random initialisation gives the A/A noise floor of the probe;
- full scale adds order prediction (4 shuffled segments, 24 classes) and masked
  reconstruction on MNIST-1D, rotation prediction and SimCLR on digits (at 3% and 10% labels:
  1% of digits is one label per class, which leaves nothing to validate on), kNN on frozen
  features, and fine-tuning the SimCLR encoder with the same lr everywhere vs a 10x smaller
  backbone lr (Q15.7).

Equal tuning effort (version 4). Full: every arm gets a grid of 4, chosen on validation data,
never on test -- SimCLR (lr {1e-3, 3e-3} x tau {0.2, 0.5}), VICReg (lr {1e-3, 3e-3} x
invariance weight lambda {10, 25}), order / masked / rotation (lr {3e-4, 1e-3, 3e-3, 1e-2}),
each chosen once on the first seed by a linear probe fit on 80% of that dataset's unlabelled
pool and scored on the other 20% (their labels serve this choice only; the usual
linear-evaluation protocol), then used for every seed; the supervised and fine-tuning arms
(lr {1e-3, 3e-3, 1e-2, 3e-2}) per seed and label fraction on the labelled rows only. Quick:
every arm runs one fixed setting (SimCLR lr 3e-3, tau 0.2; VICReg lr 3e-3, lambda 25;
supervised lr 1e-2), so quick is untuned for every arm alike and judges only claims that do
not hinge on tuning. The end-to-end arms' step count is early stopping: evaluate every 25
steps, stop once 10 evaluations in a row have not beaten the best (accuracy, ties: lower
cross-entropy), then refit on all labelled rows for the best step count (cap 1,500 steps at
quick, 4,000 at full). With fewer than 100 labelled items the validation score is 3-fold
stratified cross-validation pooled over the folds, which train in lockstep and stop together;
otherwise a stratified validation third. The probe's weight decay (grid of 4) is chosen on the
labelled rows. Test rows are only ever scored.

Rules and margins were fixed before the first run: accuracy margins 0.02 (SSL vs supervised)
and 0.03 (pretraining vs the random encoder); the advantage over supervised must shrink by 0.02
from 1% to 10% labels, and more than a random encoder's does; no collapse means ``std *
sqrt(d) >= 0.3`` of the l2-normalised embeddings in every seed -- since version 4 of the
*centred* embeddings, with an effective rank above 1.5 (disclosed below). The A/A difference
of two random encoders is recorded as ``noise_floor.*``.

Reference points (MNIST-1D project): SimCLR linear probe ~82% with all labels; supervised CNN
~94%, GRU ~91%. Full scale records where this lab lands (``reference_points`` table).

Version 4 (2026-12-04, session 13; every change made before any run of this version was
judged; rules and margins unchanged except the restated collapse check):

- Supervised arm trained to convergence. Version 3 capped it at 400 steps at full (at 100%
  labels ~6 epochs: 0.690 against the ~0.94 reference) and 300 at quick (it picked the cap at
  both quick fractions), with a 2-lr grid against the SSL arms' 4-point grids. Now: early
  stopping as above and a 4-lr grid at full. A development pass on seed 999 (in no reported
  set; its *test* rows printed, so disclosed) with a 3,000-step cap and patience 10 reached
  0.644 / 0.818 / 0.925 at 1% / 10% / 100% labels (lr 1e-2, 1e-2, 3e-3; the 100% run stopped
  near step 1,575 of 3,000) -- the reason quick's single lr is 1e-2 and full's grid is
  {1e-3, 3e-3, 1e-2, 3e-2} (3e-2 diverged to chance in two of four quick-seed checks, so
  1e-2 is not the grid's edge). Patience 6 or 8 stopped the 1% folds too early on that pass
  (seed 2: step 225 instead of 675), so patience is 10 at both scales.
- No-collapse check restated (a check, not a finding). Quick runs of version 3 failed it for
  VICReg (std x sqrt(d) 0.14-0.27 < 0.3) and once for SimCLR. Measured on quick base 0
  (5-6 epochs): VICReg's test embeddings have a mean vector of norm ~10.6 against a mean row
  norm of ~10.8 -- every row carries the same large offset (the encoder ends in an affine
  layer and nothing in VICReg centres the representation; its variance term acts on the
  expander), so the l2-normalised rows all point nearly the same way and their spread is
  small although nothing collapsed: per-dimension std >= 0.05 in every one of the 64
  dimensions, effective rank 18-21 (SimCLR 24-29, random 47-52; collapse would be ~1), and
  the *centred* statistic is 0.95-0.98. The statistic was wrong by construction for an
  uncentred representation, not the threshold: the check now centres the test embeddings
  before normalising (threshold 0.3 unchanged), also requires the effective rank above 1.5
  (the Doctor's threshold), and the ``collapse`` table keeps the uncentred number and the
  smallest per-dimension std beside it. A rank-1 collapse would pass the centred std alone,
  hence the rank condition.
- SimCLR gap to the ~82% reference (0.741 at version 3). A development pass on seed 999's
  pool validation split (pretrain on 3,200 rows, probe on them, score the other 800; no test
  rows): 25 epochs 0.706, 50 epochs 0.796 (batch 128: 0.801), 100 epochs 0.855 -- version 3
  had simply stopped early (25 epochs of 16 steps = 400 updates). Full pretrains SimCLR and
  VICReg for 60 epochs (100 did not fit the queue, see below); order / masked / rotation and
  digits SimCLR 30 (they were 10; each gets its own 4-point lr grid now, instead of an
  untuned 3e-3).
- Quick fits the minute: 4 seeds (was 5), 6 pretraining epochs (was 10), one fixed setting
  per arm, and at quick only the supervised arm validates on a stratified third of the
  labelled rows at 1% too (``cv_below = 0``: one run per lr instead of three folds; full keeps
  the 3-fold CV). Measured before that last change (load 5-7, the machine shared): this
  version with 3-fold CV at quick took 64-74 CPU-s, no cheaper than version 3 run beside it
  (69 CPU-s), because early-stopped supervised training with three folds in lockstep was
  ~8 s of the ~15 s per seed. Quick's supervised numbers at 1% labels are therefore noisier
  than full's; no quick verdict uses them except ``ssl-advantage-largest-with-fewest-labels``,
  whose control condition does not depend on the supervised arm at all (the supervised
  accuracies cancel from the difference of the two narrowings).
- Full: 4 seeds (was 5), and, to fit the shared queue (one full run at a time; the machine's
  full runs took 2.3x their CPU time in wall time that morning), this version's full run
  leaves out the fine-tuning arms (``transfer``: ``finetuned-simclr-beats-supervised-few-labels``,
  ``small-backbone-lr-helps-transfer``) and the digits supervised arm (``digits_supervised``:
  ``simclr-beats-supervised-few-labels-digits``); with four lrs each they were ~480 of an
  estimated ~1,500 CPU-s. Those three claims are not judged in version 4 (their version-3
  verdicts, all inconclusive, came from the unconverged 400-step arms and are superseded,
  not carried over); ``--set transfer=true --set digits_supervised=true`` runs them.

Quick, version 4 (code of commit 77ea137, quick settings unchanged since; base seed 0, 4
seeds; 49 CPU-s, 88 s wall at load ~4): probe accuracy (mean [95% interval]) at 1% / 10%
labels: random encoder 0.199 [0.178, 0.219] / 0.309 [0.279, 0.340], SimCLR 0.300 [0.248,
0.351] / 0.469 [0.415, 0.523], VICReg 0.341 [0.327, 0.356] / 0.465 [0.433, 0.497]; supervised
from scratch (lr 1e-2, early-stopped at 175-875 steps) 0.474 [0.320, 0.627] / 0.791 [0.719,
0.863]. Verdicts: SimCLR and VICReg beat the random encoder (+0.160 [0.082, 0.237], +0.156
[0.117, 0.194]; holds); ``ssl-advantage-largest-with-fewest-labels`` does not hold (its
control fails: the random encoder's gap narrows by 0.207, SimCLR's by 0.148); both no-collapse
checks hold (centred std x sqrt(d) 0.945-0.976; uncentred VICReg 0.21-0.31, SimCLR 0.44-0.48;
effective rank VICReg 17-20, SimCLR 24-30, random 49-52). A/A floor (two random encoders, 1%
labels): mean |difference| 0.009. Verify (bases 40, 41, 42): 6 of 6 claims agree (100%), no
finding inconclusive; 138 CPU-s for the three sets (41-46 s each in the lab loop) at load
~4; the uncentred VICReg statistic was 0.165-0.252 in every set (the version-3 check would
have failed all three), SimCLR's 0.306-0.390. Before -> after at quick: vicreg-no-collapse
failed in every set -> holds (restated check, not retrained); simclr-no-collapse failed in
base 40 -> holds; the other verdicts are unchanged.

Full, version 4 (code of commit 2acd9df; base seed 0, 4 seeds, 60 epochs of SimCLR / VICReg,
transfer and digits-supervised arms off; 506 CPU-s): chosen SimCLR lr 1e-3, tau 0.5; VICReg lr
3e-3, lambda 10; order lr 3e-4 (the grid's low edge), masked 3e-3. MNIST-1D probe accuracy at
1% / 10% / 100% labels: random encoder 0.199 / 0.309 / 0.405; SimCLR 0.547 / 0.723 / 0.807;
VICReg 0.604 / 0.758 / 0.819; supervised from scratch (early-stopped) 0.571 / 0.774 / 0.912.
Verdicts: SimCLR / VICReg beat the random encoder (holds); SimCLR / VICReg vs supervised at 1%
inconclusive ([-0.128, 0.080], [0.000, 0.066]); ``ssl-advantage-largest-with-fewest-labels``
does not hold; ``simclr-probe-reaches-reference`` does not hold (0.807 [0.797, 0.817] against
0.82: 1.3 points short, 7.9 at version 3); order and masked vs random inconclusive; SimCLR kNN
beats random kNN (holds); rotation on digits does not beat random (-0.013 [-0.048, 0.022]);
all three checks hold.

Version 4.1 (2026-12-04; rules and margins unchanged). Made *after* seeing version 4's
1.3-point shortfall against the reference, and disclosed as such: the full run's budget
compromises are undone, as the machine was no longer shared by a queue of full runs. SimCLR
and VICReg on MNIST-1D pretrain for 100 epochs instead of 60 (100 was the development pass's
setting, above, chosen on seed 999's validation split before any test score; 60 had been a
queue compromise, named as such above before the version-4 run), and the fine-tuning and
digits-supervised arms run at full. Not changed: order / masked on MNIST-1D and SimCLR /
rotation on digits stay at 30 epochs (``pretext_epochs``, ``digits_epochs``), so their
verdicts below come from the same budget as at version 4 (order's lr is at its grid's low
edge, 3e-4: its inconclusive verdict may be a budget or tuning artefact); the supervised arm
was already early-stopped at convergence.

Full, version 4.1 (code of commit 87efc18; base seed 0, 4 seeds; 936 CPU-s of the process, user
+ sys, on one thread; another lab ran on the second core): chosen SimCLR lr 1e-3, tau 0.5;
VICReg lr 1e-3, lambda 10. MNIST-1D probe accuracy at 1% / 10% / 100% labels: random encoder
0.199 / 0.309 / 0.405; SimCLR 0.580 / 0.765 / 0.831 [0.811, 0.851]; VICReg 0.636 / 0.772 /
0.853; supervised from scratch 0.571 / 0.774 / 0.912; SimCLR fine-tuned at 1% 0.617 (same lr) vs
0.615 (backbone lr / 10). The SimCLR probe with all labels is 0.831 [0.811, 0.851]: consistent
with the MNIST-1D project's ~0.82 (mean 1.1 points above it; VICReg 0.853), and
``simclr-probe-reaches-reference`` is inconclusive because the interval straddles 0.82 (about 8
seeds would decide it). Verdicts: SimCLR / VICReg beat the random encoder (holds, +0.456 [0.426,
0.486], +0.463 [0.447, 0.478]); SimCLR / VICReg vs supervised at 1% inconclusive (+0.009
[-0.014, 0.031], +0.064 [0.001, 0.128]); the fine-tuned SimCLR encoder vs supervised at 1%
inconclusive (+0.044 [0.001, 0.086]); the 10x smaller backbone lr inconclusive (-0.003 [-0.041,
0.036]); SimCLR vs supervised on digits at 3% inconclusive (+0.001 [-0.056, 0.059]); kNN holds;
order, masked inconclusive and rotation on digits does not hold, as at version 4; all three
checks hold. Reading: at 1% labels SimCLR's probe is within [-0.014, +0.031] of training from
scratch; VICReg (+0.064 [0.001, 0.128]) and the fine-tuned SimCLR encoder (+0.044 [0.001,
0.086]) are above it but not clearly beyond the 0.02 margin; digits is undecided at four seeds
(an inconclusive verdict is not a demonstration of equality). Against the random frozen encoder
(the control, not a practitioner's baseline) the pretrained representations are far ahead, +0.46
at 1% labels.

Decided at full scale only (``full_only_claims``; not judged at quick): see :data:`FULL_ONLY`;
the SSL-vs-supervised numbers at quick are still measured and shown in the accuracy table.

Earlier versions (kept for the record).

Full scale, version 3 (2026-12-04, code of commit 002919f, base seed 0, 5 seeds; 406 CPU-s,
35 min wall at load ~16): tuned SimCLR lr 3e-3, tau 0.2 (validation probe 0.714; the other
three 0.679-0.710) and VICReg lr 1e-3, lambda 10 (0.713; 0.609-0.706). MNIST-1D probe
accuracy (mean [95% interval]) at 1% / 10% / 100% labels: random encoder 0.200 / 0.304 /
0.406, SimCLR 0.440 / 0.658 / 0.741 [0.718, 0.764], VICReg 0.486 / 0.631 / 0.738, supervised
from scratch 0.431 / 0.703 / 0.690 (400-step cap: not converged at 100%). SimCLR's probe with
all labels is 7.9 points short of the MNIST-1D project's ~0.82 (before version 3: 0.684, one
seed, 60 epochs, 13.6 points short); the supervised reference (~0.94) is out of reach of this
step cap. Full-only verdicts: SimCLR / VICReg vs supervised at 1% inconclusive (+0.008
[-0.114, 0.130], +0.055 [-0.019, 0.129]); reaches-reference does not hold; order prediction
below the random encoder (-0.033 [-0.053, -0.014], does not hold); masked reconstruction
inconclusive (+0.040 [0.014, 0.065] against the 0.03 margin); SimCLR kNN beats random kNN
(+0.253 [0.196, 0.311], holds); fine-tuned SimCLR vs supervised at 1% inconclusive (+0.029
[-0.109, 0.167]); the 10x smaller backbone lr inconclusive and leaning the other way (-0.056
[-0.129, 0.016]); rotation on digits below random (-0.036 [-0.051, -0.020], does not hold);
SimCLR vs supervised on digits at 1% inconclusive (+0.017 [-0.044, 0.077]).

Changed after the first development run (quick, seed 0; rules and margins untouched): the
SSL-vs-supervised claims became full-only (at 20 pretraining epochs both were inconclusive,
-0.009 [-0.086, 0.069] and 0.003 [-0.084, 0.089]: the supervised arm's seed spread at 1% labels
is +-7 points, more than five seeds can resolve); the supervised arm's step cap went from 200
to 300 (it picked the cap at 10% labels, i.e. it was still improving); the probe's weight-decay
grid gained 1.0 (it picked the top value 0.1 at 1% labels); quick pretrains for 15 epochs
instead of 20 to fit the minute; full uses 60 epochs and fine-tunes at the smallest label
fraction only, to fit 15 minutes. Tried and dropped: 12 epochs on 4,000 signals (58 s CPU
instead of 66-72 s on a 2-core machine at load 12-16) made simclr-beats-random-encoder
inconclusive for base seed 0 (one seed's SimCLR probe at 10% labels, 0.32, did not beat its
random encoder), so the lab kept 15 epochs on 5,000 signals, whose six verdicts were identical
for base seeds 0, 7 and 12345. Full's step cap of the end-to-end arms went from 300 to 1,500
before any full run: a one-seed check (seed 0) had supervised training with all labels stop at
the 300-step cap at 0.683 test accuracy, far from converged (about 5 epochs).

Version 3 (2026-12-04, session 12; rules and margins unchanged; every change below was made
before any full-scale run of this version):

- Views: the MNIST-1D views were a 4-point shift plus a 15% cutout. The MNIST-1D project's
  SimCLR example augments with the nuisances its generator applies (translation, dilation,
  scale, shear, noise); its translation reaches most of the signal, ours reached 4 of 40 points,
  and it has no cutout. A development pass on base seed 0 (15 epochs, SimCLR only, scored on
  *test*, 9 variants; disclosed because it looked at test) showed the cutout costing ~0.1 and
  a larger shift plus a shear gaining ~0.15 at 100% labels; the choice among the 4 finalists
  was then made on a *validation* split of seed 999 (a seed in no reported set: pretrain on
  3,000 pool rows, probe scored on the other 1,000): old 0.600, shift 12 + shear 0.75 0.596,
  shift 12 + shear 2 0.695 (kept), shift 16 + shear 2 0.583. The supervised and fine-tuning
  arms use the same views, so they gain from them too.
- Supervised selection at 1% labels used a stratified third of the 40 labelled items (10
  items, accuracy in steps of 0.1, ties to the earliest step); now 3-fold CV on the labelled
  items (above). Nothing from the unlabelled pool's labels enters this choice.
- Pretraining (lr, tau / lambda) grids at full (above); quick keeps the fixed settings.
- Quick: 10 pretraining epochs instead of 15 (the stronger views reach in 10 what the old ones
  did not in 15; quick's two control claims had margins of 0.25-0.31 over the random encoder
  at 15 epochs, base seed 0, against a 0.03 margin); dropping the cutout made pretraining ~30%
  cheaper; the CV adds ~4 s per seed. The first quick run of this version (15 epochs, base 0)
  found the VICReg no-collapse check failing (std x sqrt(d) 0.15-0.24 < 0.3, effective rank
  ~19 of 64, the Doctor's collapse check "healthy" for every seed): the threshold stays.
- Verify at quick (bases 40, 41, 42; 85-101 CPU-s each at load ~16, over the 60 s goal): the
  three findings agree (both controls hold, ssl-advantage does not hold); vicreg-no-collapse
  fails in all three sets and simclr-no-collapse in base 40 (one seed at 0.298): 5 of 6
  claims agree (83%), none inconclusive. At full (25 epochs, tuned lambda 10) both hold.
- Full scale was cut to fit 45 minutes on the shared 2-core machine (load 15-18): 5 seeds
  (``seeds``) instead of 10, 25 pretraining epochs instead of 60, 10 epochs for order / masked /
  rotation instead of 30, end-to-end step cap 400 instead of 1,500 (at 100% labels that is
  ~6 epochs: the supervised-with-all-labels reference is *not* converged and is shown only as
  a reference point, no claim uses it).

Version note (2026-12-04, after an outside review, rules and margins unchanged):
``ssl-advantage-largest-with-fewest-labels`` now requires its control, a random frozen
encoder's gap narrowing less than SimCLR's. Without it the claim held by construction: the
random encoder's gap narrows more (quick base 0: +0.23 vs SimCLR's +0.15; bases 7 and 12345
the same way), because a frozen linear probe gains less from more labels than end-to-end
training does. At quick (base 0) it now does not hold. ``*-no-collapse`` are checks: an
untrained encoder passes them too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from deepdojo.labs.framework import LabContext, ranged, register_lab, scaled

from . import claims as C
from . import figures as Fg
from . import measure as M

FULL_ONLY = C.FULL_ONLY  # claim ids judged at full scale only


@dataclass
class SelfSupervisedConfig:
    mnist1d_samples: int = scaled(smoke=500, quick=5000, full=5000, low=100)  # MNIST-1D size
    seeds: int = scaled(smoke=1, quick=4, full=4, low=1)  # seeds used (first ctx.seeds)
    epochs: int = scaled(smoke=1, quick=6, full=100, low=1)  # SimCLR / VICReg epochs
    pretext_epochs: int = scaled(smoke=1, quick=6, full=30, low=1)  # order/masked/rotation
    digits_epochs: int = scaled(smoke=1, quick=6, full=30, low=1)  # digits: SimCLR, rotation
    batch_size: int = ranged(256, low=2)  # pretraining batch (pairs of views)
    pretrain_lr: float = ranged(3e-3, low=0.0, low_open=True)  # Adam lr of every pretext task
    temperature: float = ranged(0.2, low=0.0, low_open=True)  # NT-Xent tau
    channels: int = ranged(32, low=1)  # conv width of the encoders
    feature_size: int = ranged(64, low=2)  # representation size d
    fractions: tuple[float, ...] = scaled(smoke=(0.1,), quick=(0.01, 0.1),
                                          full=(0.01, 0.1, 1.0), low=0.0, high=1.0,
                                          low_open=True)  # label fractions (MNIST-1D)
    digits_fractions: tuple[float, ...] = scaled(smoke=(0.1,), quick=(0.03, 0.1),
                                                 full=(0.03, 0.1), low=0.0, high=1.0,
                                                 low_open=True)  # digits: 3% = 4 per class
    probe_weight_decays: tuple[float, ...] = ranged((1e-3, 1e-2, 1e-1, 1.0), low=0.0,
                                                    low_open=True)  # probe grid
    finetune_lrs: tuple[float, ...] = scaled(smoke=(3e-3, 1e-2), quick=(1e-2,),
                                             full=(1e-3, 3e-3, 1e-2, 3e-2), low=0.0,
                                             low_open=True)  # e2e lrs (grid of 4 at full)
    finetune_steps: int = scaled(smoke=50, quick=1500, full=4000, low=1)  # e2e steps (cap)
    patience: int = scaled(smoke=2, quick=10, full=10, low=1)  # early stop: evals w/o a gain
    cv_folds: int = ranged(3, low=2)  # k-fold CV of the e2e arms' (lr, steps) ...
    cv_below: int = scaled(smoke=100, quick=0, full=100, low=0)  # ... when fewer labelled
    # items than this (quick: 0, a stratified validation third at every fraction, to fit)
    simclr_lrs: tuple[float, ...] = scaled(smoke=(3e-3,), quick=(3e-3,), full=(1e-3, 3e-3),
                                           low=0.0, low_open=True)  # SimCLR grid: lr
    temperatures: tuple[float, ...] = scaled(smoke=(0.2, 0.5), quick=(0.2,), full=(0.2, 0.5),
                                             low=0.0, low_open=True)  # x tau
    vicreg_lrs: tuple[float, ...] = scaled(smoke=(3e-3,), quick=(3e-3,), full=(1e-3, 3e-3),
                                           low=0.0, low_open=True)  # VICReg grid: lr
    vicreg_sim_coeffs: tuple[float, ...] = scaled(smoke=(25.0, 10.0), quick=(25.0,),
                                                  full=(10.0, 25.0),
                                                  low=0.0, low_open=True)  # x invariance
    pretext_lrs: tuple[float, ...] = scaled(smoke=(3e-3, 1e-3), quick=(3e-3,),
                                            full=(3e-4, 1e-3, 3e-3, 1e-2), low=0.0,
                                            low_open=True)  # order/masked/rotation lr grid
    ft_batch_size: int = ranged(64, low=1)  # end-to-end batch
    knn_k: int = ranged(20, low=1)  # neighbours of the kNN evaluation
    extended: bool = scaled(smoke=True, quick=False, full=True)  # the full-only arms
    transfer: bool = scaled(smoke=True, quick=False, full=True)  # fine-tuning arms (Q15.7)
    digits_supervised: bool = scaled(smoke=True, quick=False, full=True)  # digits e2e arm
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)  # judge FULL_ONLY


@register_lab("self-supervised", questions=("Q16",), config=SelfSupervisedConfig)
def run(cfg: SelfSupervisedConfig, ctx: LabContext) -> None:
    """SimCLR and VICReg vs supervised training and a random frozen encoder, with few labels."""
    seeds = ctx.seeds[: cfg.seeds]
    runs: dict[str, list[M.SeedRun]] = {}
    datasets = ("mnist1d", "digits") if cfg.extended else ("mnist1d",)
    settings = {name: _tune(cfg, ctx, name, seeds[0]) for name in datasets}
    for name in datasets:
        t = time.process_time()
        runs[name] = [_one(name, s, cfg, keep_embedding=(s == seeds[0]), settings=settings[name])
                      for s in ctx.progress(seeds, name)]
        ctx.metric(f"time.{name}_cpu_s", round(time.process_time() - t, 2))
    C.tables(ctx, cfg, runs)
    Fg.figures(ctx, cfg, runs)
    C.claims(ctx, cfg, runs)
    held = [c for c in FULL_ONLY if not cfg.full_only_claims]
    if held:
        ctx.claims[:] = [c for c in ctx.claims if c.id not in FULL_ONLY]
        ctx.metric("claims_decided_at_full_scale", held)
        ctx.log(f"decided at full scale, not judged here: {', '.join(held)}")


def _methods(name: str, extended: bool) -> tuple[str, ...]:
    if name == "digits":
        return ("simclr", "rotation")
    return ("simclr", "vicreg", "order", "masked") if extended else ("simclr", "vicreg")


def _tune(cfg: SelfSupervisedConfig, ctx: LabContext, name: str,
          seed: int) -> dict[str, dict[str, float]]:
    """Each pretext task's settings on the first seed's validation part of ``name``'s pool,
    from grids of equal size at full: SimCLR (lr, tau), VICReg (lr, invariance weight), order /
    masked / rotation (lr). Single-point grids are used as they are."""
    grids = {"simclr": [{"lr": lr, "temperature": t} for lr in cfg.simclr_lrs
                        for t in cfg.temperatures],
             "vicreg": [{"lr": lr, "sim_coeff": c} for lr in cfg.vicreg_lrs
                        for c in cfg.vicreg_sim_coeffs],
             **{m: [{"lr": lr} for lr in cfg.pretext_lrs]
                for m in ("order", "masked", "rotation")}}
    chosen, rows, data = {}, [], None
    for method in _methods(name, cfg.extended):
        grid = grids[method]
        if len(grid) == 1:
            chosen[method] = grid[0]
            continue
        t = time.process_time()
        data = data or M.load(name, seed, cfg.mnist1d_samples)
        epochs = M.epochs_of(method, name, cfg)
        chosen[method], r = M.tune_pretraining(
            method, data, seed, grid, epochs=epochs, batch_size=cfg.batch_size,
            channels=cfg.channels, feature_size=cfg.feature_size,
            weight_decays=cfg.probe_weight_decays)
        rows += [{"data": name, **row} for row in r]
        ctx.metric(f"time.tune_{name}_{method}_cpu_s", round(time.process_time() - t, 2))
    if rows:
        ctx.table(f"pretraining_tuning_{name}", rows)
    for method, setting in chosen.items():
        for key, value in setting.items():
            ctx.metric(f"chosen.{name}.{method}.{key}", value)
    return chosen


def _one(name: str, seed: int, cfg: SelfSupervisedConfig, *, keep_embedding: bool,
         settings: dict[str, dict[str, float]] | None = None) -> M.SeedRun:
    data = M.load(name, seed, cfg.mnist1d_samples)
    if name == "mnist1d":
        plan = M.Plan(_methods(name, cfg.extended), cfg.fractions, cfg.extended,
                      (1.0, 0.1) if cfg.transfer else (), cfg.fractions[:1])
    else:
        plan = M.Plan(_methods(name, True), cfg.digits_fractions, True, (), (),
                      supervised=cfg.digits_supervised)
    return M.run_seed(data, seed, plan, cfg, keep_embedding=keep_embedding, settings=settings)
