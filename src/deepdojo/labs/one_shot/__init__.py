r"""Lab: one-shot learning -- a learned similarity lets new classes need one example (Q12, Q13).

**Q12, characters.** Generated glyphs (:func:`deepdojo.data.glyphs.make_glyphs`, the offline
stand-in for Omniglot, difficulty fixed by its pixel-1-NN anchor) at 5- and 20-way, 1- and
5-shot, on classes never seen in training; each seed's accuracy averages ``episodes`` episodes
(600 at quick) and every method is scored on the same episodes, so the claims' intervals are a
two-level bootstrap (seeds, then episodes within a seed) of paired per-episode differences.
Methods, all with the library's Conv-4 embedding
(:class:`deepdojo.models.fewshot.ConvEmbedding`), one budget of training images and one lr grid
chosen per arm on validation classes (held out of the training classes, never the test classes)
by the mean validation accuracy over the first ``tune_seeds`` seeds (2 at quick, 3 at full);
the chosen lrs are the table ``chosen_lr`` (every grid point with its per-seed scores):

- ProtoNet (Snell et al. 2017), episodic training, nearest prototype (Euclidean);
- Siamese network with the contrastive loss (Hadsell et al. 2006; Koch et al. 2015's setting),
  nearest neighbour by its own distance;
- a supervised embedding ("a good embedding is all you need", Chen et al. 2019, Tian et al.
  2020): a plain classifier over the training classes, its features with a cosine
  nearest-centroid head;
- a matching network (Vinyals et al. 2016, cosine attention over the support set, no full
  context embeddings; :class:`deepdojo.models.fewshot.MatchingNet`'s loss on ProtoNet's
  episodes), at full scale and smoke (``matching``): measured and shown, no claim;
- nearest neighbour on pixels (no learning);
- controls: the untrained network (lower) and the same ProtoNet recipe trained on the test
  classes themselves, on drawings that no episode uses (upper bound).

**Q12, digits split by class** (:mod:`.digits`, a second task): scikit-learn's bundled 8x8
digits; per seed five digits are trained on and the five others are the test classes, scored
5-way 1- and 5-shot (``episodes`` episodes per setting, paired) for ProtoNet, the supervised
embedding, pixel 1-NN and the untrained encoder. With only ten classes none can be spared for
validation: each arm's lr is chosen on held-out drawings of the *training* digits (never a
test digit), averaged over the tune seeds. Claims (rules fixed in code before the first lab
run, the same 5-point margin): ProtoNet beats pixels on the held-out digits at 5-way 1-shot;
control: it beats the untrained encoder. Development note (2026-12-04, before the rule was
written in code): a first look with the characters' 4-block encoder (8x8 pooled to 1x1) had
ProtoNet below even the untrained encoder; the digits use 2 blocks (a 2x2 final map, as the
Conv-4 leaves on 28x28). That look also showed pixel 1-NN at about 0.73 5-way 1-shot: 8x8
digits are easy for pixels, and five training classes are few to learn a similarity from.

Verification (biometrics' question, "same person or not?") scores same/different pairs of
unseen classes by embedding distance: ROC, ROC-AUC and the equal error rate.

**Q13, applications** (:mod:`.applications`): new stroke gestures
(:mod:`deepdojo.data.gestures`) from one performance; new intents from one sentence with the
bundled sentence encoder (``text`` extra; without it that section is skipped and says so) vs
TF-IDF; a new item in a recommender from one interaction vs its popularity.
*Face recognition* and *medical imaging* use the same API with no data to ship here: put
images in class-per-subfolder form (``person_or_finding/<image>.png``, e.g. aligned face crops
or lesion patches) and run ``deepdojo oneshot train --data folder:PATH --method protonet``,
then ``deepdojo oneshot eval`` on a folder of new identities / findings; verification is the
Siamese distance with a threshold set at the wanted false-accept rate (read off the ROC).

Rules and margins (fixed before any run): "beats" needs 5 accuracy points (the A/A noise floor,
the same ProtoNet on a second set of episodes and its spread over seeds, is recorded as
metrics ``noise_floor.*``); "matches or beats" lets the supervised embedding trail ProtoNet by
at most 3 points; the held-out ProtoNet must close at least half the pixels-to-upper-bound gap;
verification AUC gain 0.05; cold start RMSE gain 0.01. Cold-start sizes (rank 5, ridge 5) are
fixed in the config, not tuned; the data's true rank is 3.

The intents were written so that phrasings of one intent share meaning rather than words
(the case few-shot intent detection is about: users word a new request their own way), so
TF-IDF, even with its analyzer tuned on validation intents, has little to match; the intent
claim measures what a pretrained encoder adds there, not that TF-IDF is useless on
templated text.

Development notes: the Siamese network first used Koch's weighted-L1 logistic head; at this
budget it scored below pixels (its weights take both signs, so it is no distance); it now uses
the contrastive loss the issue names (changed before any claim was judged). After the first
quick run (seed 0), where every arm chose the top of the lr grid (1e-3, 3e-3) and gestures
the bottom of theirs, both grids were widened (1e-2; 3e-4); rules and margins untouched.

Decided at full scale only (``full_only_claims``; measured and shown at quick):
supervised-embedding-matches-episodic. At quick its verdict changed between the seed sets 0, 7
and 12345 (supervised minus ProtoNet, 20-way 1-shot: +0.022 [-0.003, 0.048], +0.007
[-0.005, 0.020], -0.019 [-0.050, 0.002] against the bar -0.03; the supervised arm's lr,
chosen on the first seed's validation classes, was 1e-2, 1e-2 and 3e-3). The other eleven
claims had the same verdict in all three sets (none inconclusive; quick took 56 s of CPU
in the lab, one thread, on a machine at load 12).

Full scale, base seed 0 (10 seeds, 260 training classes, 20000 images per arm, 1000 episodes
per setting; 238 s CPU): 20-way 1-shot pixels 0.240, untrained 0.328, Siamese 0.514, ProtoNet
0.724, supervised 0.745, upper bound 0.723. supervised-embedding-matches-episodic holds
(+0.021 [0.014, 0.029]); upper-bound-above-unseen turns inconclusive (-0.001 [-0.011, 0.010]):
with many training classes the held-out embedding reaches what the same recipe learns from
the test classes' own (half) drawings, so unseen-closes-most-of-the-gap reads 1.00 [0.98,
1.03]. Every other claim holds as at quick.

Version note (2026-12-04, lr tuning made the same for every arm and seed-robust, before any
run of this version): the lr of each learned arm (ProtoNet, Siamese, supervised; the digits'
ProtoNet and supervised likewise) was chosen on the first seed alone; it is now chosen from
the same grid by the mean validation accuracy over ``tune_seeds`` seeds, the tune seeds keep
their models at the chosen lr, and the chosen values are recorded (``chosen_lr``,
``digits_lr``, metrics ``lr.*``). ``tune_every_seed`` still tunes each seed on its own.

Results of this version (2026-12-04). Quick, base 0: 54.5 s CPU in the lab (58 s for the
process; one thread, machine at load ~10; 68-73 s in the verify sets at load ~17); chosen lrs
ProtoNet 3e-3, Siamese 3e-3, supervised 1e-2 (digits: 3e-3, 1e-2); 9 findings hold,
digits-protonet-beats-pixels-unseen does not hold (-0.079: ProtoNet 0.656 vs pixels 0.735),
digits-training-beats-random-encoder is inconclusive (+0.074 [-0.015, 0.163] vs the 0.05
bar), 3 checks pass. Bases 40, 41, 42 (``deepdojo verify``): 14 of 14 claims agree, 1 of 11
findings inconclusive. Full, base 0 (10 seeds, 3 tune seeds; 459 s CPU, 47 min wall at load
~16): lrs ProtoNet 1e-3, Siamese 1e-3, supervised 3e-3, matching 1e-3 (the grid's low edge
for three arms); 20-way 1-shot pixels 0.240, untrained 0.328, matching 0.427, Siamese 0.525,
ProtoNet 0.724, supervised 0.745, upper bound 0.723; verdicts as in the previous full run
(supervised-embedding-matches-episodic holds, +0.021 [0.012, 0.030];
upper-bound-above-unseen inconclusive; unseen-closes-most-of-the-gap does not hold, its
requirement unmet); digits: ProtoNet 0.647 vs pixels 0.719 (does not hold), control
inconclusive (+0.070 [0.032, 0.109]). The 8x8 digits are easy for pixels (1-NN 0.72 at 5-way
1-shot) and five training classes are too few for a similarity that transfers: the honest
second task says "a learned similarity needs many training classes". The matching network
(no FCE, unscaled cosine attention) trails ProtoNet by 0.30 with its lr at the grid's edge;
no claim rests on it.

Version note (2026-12-04, after an outside review, rules and margins unchanged):
``five-shots-beat-one`` is a check (more shots help any embedding, pixels included; every
seed's 5-shot minus 1-shot must reach the gain margin); ``unseen-closes-most-of-the-gap``
requires the upper bound to score above ProtoNet (at full it did not, so the ratio had no
meaning there); the intent claim names its data (paraphrase-style intents written for this
lab). Quick, base 0: 9 findings hold, 2 checks pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from deepdojo.labs.framework import LabContext, ranged, register_lab, scaled

from . import applications as A
from . import characters as C
from . import digits as D
from .claims import FULL_ONLY, application_claims, character_claims, digit_claims, noise_floor
from .figures import (
    accuracy_figure,
    applications_figure,
    digits_figure,
    example_figure,
    roc_figure,
)


@dataclass
class OneShotConfig:
    size: int = ranged(20, low=8)  # glyph side in pixels
    n_train_classes: int = scaled(smoke=30, quick=100, full=300, low=12)  # incl. validation
    n_val_classes: int = scaled(smoke=10, quick=20, full=40, low=5)  # lr chosen on these
    n_test_classes: int = scaled(smoke=20, quick=40, full=100, low=20)  # never trained on
    drawings: int = ranged(20, low=12)  # per class (test: half upper-bound, half episodes)
    hidden: int = ranged(32, low=1)  # channels of the Conv-4 blocks
    blocks: int = ranged(4, low=1)  # conv blocks
    train_images: int = scaled(smoke=600, quick=6000, full=20000, low=1)  # per arm
    lrs: tuple[float, ...] = ranged((1e-3, 3e-3, 1e-2), low=0.0, low_open=True)  # Adam lr grid
    tune_every_seed: bool = ranged(False)  # tune each seed; else reuse the first seed's lrs
    train_way: int = ranged(10, low=2)  # ProtoNet training episodes: way
    train_shot: int = ranged(1, low=1)  # ... shots
    train_query: int = ranged(5, low=1)  # ... queries per class
    pairs: int = ranged(32, low=2)  # Siamese pairs per step (half same)
    batch: int = ranged(64, low=1)  # supervised minibatch
    ways: tuple[int, ...] = ranged((5, 20), low=2)  # evaluation ways
    shots: tuple[int, ...] = ranged((1, 5), low=1)  # evaluation shots
    n_query: int = ranged(5, low=1)  # queries per class per episode
    episodes: int = scaled(smoke=40, quick=600, full=1000, low=1)  # per setting and seed
    val_episodes: int = scaled(smoke=20, quick=200, full=300, low=1)  # lr choice
    pairs_eval: int = scaled(smoke=100, quick=1000, full=2000, low=10)  # verification pairs
    gesture_train_classes: int = scaled(smoke=20, quick=40, full=80, low=10)
    gesture_test_classes: int = scaled(smoke=10, quick=20, full=40, low=5)
    gesture_per_class: int = ranged(10, low=6)  # performances per gesture
    gesture_hidden: int = ranged(64, low=1)  # MLP width
    gesture_steps: int = scaled(smoke=20, quick=300, full=600, low=1)  # training episodes
    gesture_lrs: tuple[float, ...] = ranged((3e-4, 1e-3, 3e-3), low=0.0, low_open=True)
    intent_query: int = ranged(4, low=1)  # queries per intent (8 sentences: 3 shots + 4 + 1)
    intents: bool = ranged(True)  # run the intent section when the text extra is installed
    users: int = scaled(smoke=60, quick=300, full=500, low=10)  # cold start: users
    items: int = scaled(smoke=40, quick=200, full=400, low=10)  # ... items
    density: float = ranged(0.2, low=0.0, high=1.0, low_open=True)  # share of ratings seen
    new_item_share: float = ranged(0.2, low=0.0, high=1.0, low_open=True, high_open=True)
    rank: int = ranged(5, low=1)  # MF rank
    lam: float = ranged(5.0, low=0.0, low_open=True)  # ridge of ALS and of the new item
    lam_bias: float = ranged(5.0, low=0.0)  # bias shrinkage
    als_iters: int = scaled(smoke=3, quick=10, full=20, low=1)
    reveal: tuple[int, ...] = ranged((1, 5), low=1)  # ratings revealed per new item
    matching: bool = scaled(smoke=True, quick=False, full=True)  # matching-network arm
    digits: bool = ranged(True)  # run the digits section (train on 5 digits, test the others)
    digit_blocks: int = ranged(2, low=1)  # conv blocks on 8x8 digits (2x2 final map)
    digit_train_images: int = scaled(smoke=300, quick=3000, full=6000, low=1)  # per arm
    tune_seeds: int = scaled(smoke=1, quick=2, full=3, low=1)  # seeds the lr grid is judged on
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)  # state FULL_ONLY

    @property
    def settings(self) -> list[tuple[int, int]]:
        return [(w, k) for w in self.ways for k in self.shots]


@register_lab("one-shot", questions=("Q12", "Q13"), config=OneShotConfig)
def run(cfg: OneShotConfig, ctx: LabContext) -> None:
    """Siamese and prototypical networks on classes never seen in training, against pixels,
    a supervised embedding and controls; then gestures, intents and cold start."""
    t0, w0 = time.process_time(), time.perf_counter()
    n_tune = min(cfg.tune_seeds, len(ctx.seeds))
    if cfg.tune_every_seed:
        runs = [C.run_seed(cfg, s, None) for s in ctx.progress(ctx.seeds, "characters")]
        lrs = None
    else:
        tuned = [C.tune_seed(cfg, s) for s in ctx.progress(ctx.seeds[:n_tune], "lr grid")]
        lrs = C.choose_lrs([t[2] for t in tuned])
        runs = [C.run_seed(cfg, s, lrs, t) for s, t in zip(ctx.seeds, tuned, strict=False)]
        runs += [C.run_seed(cfg, s, lrs) for s in ctx.progress(ctx.seeds[n_tune:], "characters")]
    _lr_tables(ctx, cfg, runs, lrs)
    t = _lap(ctx, "characters", t0)
    gest = [A.gestures(cfg, s) for s in ctx.progress(ctx.seeds, "gestures")]
    t = _lap(ctx, "gestures", t)
    use_text = cfg.intents and A.sentence_encoder_available()
    intent = [A.intents(cfg, s, use_text) for s in ctx.seeds] if cfg.intents else None
    if not use_text:
        ctx.log("intents: the sentence encoder (pip install 'deepdojo[text]') is not "
                "installed; TF-IDF only, no claim")
        ctx.metric("intents.sentence_encoder", "not installed")
    t = _lap(ctx, "intents", t)
    cold = [A.cold_start(cfg, s) for s in ctx.seeds]
    t = _lap(ctx, "cold_start", t)
    digit_runs = (D.run_digits(cfg, ctx.seeds, min(cfg.tune_seeds, len(ctx.seeds)))
                  if cfg.digits else [])
    _lap(ctx, "digits", t)
    _record(ctx, cfg, runs, gest, intent, cold)
    facts = {"n_train": cfg.n_train_classes - cfg.n_val_classes,
             "train_images": cfg.train_images}
    character_claims(ctx, runs, facts)
    application_claims(ctx, gest, intent if use_text else None, cold)
    if digit_runs:
        _record_digits(ctx, cfg, digit_runs)
        digit_claims(ctx, digit_runs)
        digits_figure(ctx, digit_runs, cfg.shots)
    accuracy_figure(ctx, runs, cfg.settings)
    roc_figure(ctx, runs[0])
    example_figure(ctx, runs[0], cfg.settings[0][0], cfg.n_query)
    applications_figure(ctx, gest, intent, cold)
    if not cfg.full_only_claims:
        ctx.hold_for_full_scale(FULL_ONLY)
    ctx.metric("time.total_cpu_s", round(time.process_time() - t0, 2))
    ctx.metric("time.total_wall_s", round(time.perf_counter() - w0, 2))


def _lr_tables(ctx: LabContext, cfg: OneShotConfig, runs: list[C.CharRun],
               lrs: dict[str, float] | None) -> None:
    """Every validation score of the lr grid, and the lr each arm uses (with its mean
    validation accuracy over the tune seeds)."""
    ctx.table("lr_grid", [{"arm": arm, "seed": r.seed, "lr": lr, "val_5way1shot": v}
                          for r in runs for arm, d in r.val.items() for lr, v in d.items()])
    tuned = [r for r in runs if r.val]
    ctx.table("chosen_lr", [
        {"arm": arm, "lr": lr, "tuned_on_seeds": [r.seed for r in tuned],
         "val_5way1shot_mean": float(np.mean([r.val[arm][lr] for r in tuned])),
         "val_per_seed": [round(r.val[arm][lr], 4) for r in tuned],
         "chosen": (lr == lrs[arm]) if lrs else None}
        for arm in C.arms(cfg) for lr in cfg.lrs])
    for arm in C.arms(cfg):
        ctx.metric(f"lr.{arm}", lrs[arm] if lrs else [r.lrs[arm] for r in runs])


def _lap(ctx: LabContext, name: str, t: float) -> float:
    now = time.process_time()
    ctx.metric(f"time.{name}_cpu_s", round(now - t, 2))
    return now


def _mean_ci(values: list[float]) -> tuple[float, float | None, float | None]:
    from scipy import stats

    m = float(np.mean(values))
    if len(values) < 2:
        return m, None, None
    h = float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1)
              / np.sqrt(len(values)))  # fmt: skip
    return m, m - h, m + h


def _record(ctx: LabContext, cfg: OneShotConfig, runs, gest, intent, cold) -> None:
    rows = []
    for m in C.methods(cfg):
        for way, shot in cfg.settings:
            per = [float(r.acc[m][(way, shot)].mean()) for r in runs]
            mean, lo, hi = _mean_ci(per)
            ep = np.concatenate([r.acc[m][(way, shot)] for r in runs])
            rows.append({"method": m, "way": way, "shot": shot, "accuracy": round(mean, 4),
                         "ci_low": lo, "ci_high": hi, "seeds": len(runs),
                         "episodes_per_seed": cfg.episodes, "episode_sd": float(ep.std())})
            ctx.metric(f"acc.{m}.{way}way{shot}shot", mean)
    ctx.table("accuracy", rows)
    ctx.table("verification", [{"seed": r.seed, "method": m, "roc_auc": v.auc, "eer": v.eer}
                               for r in runs for m, v in r.verification.items()])
    for m in runs[0].verification:
        ctx.metric(f"verification.{m}.eer", float(np.mean([r.verification[m].eer
                                                           for r in runs])))
    for k, v in noise_floor(runs).items():
        ctx.metric(f"noise_floor.{k}", v)
    app = [{"section": "gestures", "method": m, "shots": k, "accuracy": float(np.mean(
        [g.acc[m][k].mean() for g in gest]))} for m in gest[0].acc for k in gest[0].acc[m]]
    if intent:
        app += [{"section": "intents", "method": m, "shots": k, "accuracy": float(np.mean(
            [d.acc[m][k].mean() for d in intent]))} for m in intent[0].acc
            for k in intent[0].acc[m]]
        ctx.table("intent_tfidf", [{"seed": s, "variant": v, "val_5way1shot": acc,
                                    "chosen": v == d.tfidf_variant}
                                   for s, d in zip(ctx.seeds, intent, strict=True)
                                   for v, acc in d.val.items()])
    ctx.table("applications", app)
    ctx.table("cold_start", [{"method": m, "revealed": k, "rmse": float(np.mean(
        [c.rmse[m][k] for c in cold]))} for m in cold[0].rmse for k in cold[0].rmse[m]])
    ctx.table("gesture_lr", [{"seed": s, "lr": lr, "val_5way1shot": v, "chosen": lr == g.lr}
                             for s, g in zip(ctx.seeds, gest, strict=True)
                             for lr, v in g.val.items()])


def _record_digits(ctx: LabContext, cfg: OneShotConfig, runs: list[D.DigitRun]) -> None:
    rows = []
    for m in D.DIGIT_METHODS:
        for shot in cfg.shots:
            mean, lo, hi = _mean_ci([float(r.acc[m][shot].mean()) for r in runs])
            rows.append({"method": m, "way": 5, "shot": shot, "accuracy": round(mean, 4),
                         "ci_low": lo, "ci_high": hi, "seeds": len(runs),
                         "episodes_per_seed": cfg.episodes})
            ctx.metric(f"digits.acc.{m}.5way{shot}shot", mean)
    ctx.table("digits_accuracy", rows)
    ctx.table("digits_lr", [{"arm": arm, "lr": lr, "seed": r.seed, "val_5way1shot": v,
                             "chosen": lr == runs[0].lrs[arm]}
                            for r in runs for arm, d in r.val.items() for lr, v in d.items()])
    ctx.table("digits_split", [{"seed": r.seed, "train_digits": r.train_digits,
                                "chosen_lr": r.lrs} for r in runs])
