"""Lab ``imbalanced-data`` (Q02): a leaderboard of imbalance techniques on several ratios.

Setup. Each *setting* is a binary "rare class vs the rest" problem cut to a fixed imbalance
ratio and split 70/15/15 with the same ratio in every split (stratified), features
standardised with training statistics (``cfg.settings``): digits one-vs-rest (digit
``cfg.digit``) at 1:20 (and 1:100 at full scale), breast cancer with the malignant class
subsampled to 1:10, and MNIST-1D with class ``cfg.mnist1d_class`` rare at 1:30. Every entry
trains on the training split only; validation is used for threshold tuning and for choosing
the "best technique"; test numbers are reported.

Entries (see ``entries``): the plain network (a 2-hidden-layer MLP with BCE), the
same network with class weights (effective number), focal loss, logit-adjusted loss,
over-sampling (``BalancedSampler``), SMOTE, GAN over-sampling (full scale only, below),
generated features (centroid distances + kNN
density), transfer (pretrain on a balanced related task, new head, fine-tune), balanced
bagging of networks, in-class mixup, anomaly framing (kNN distance to the majority), and the
classical baselines logistic regression (``class_weight="balanced"``) and imbalanced-learn's
``BalancedRandomForestClassifier``. Metrics (``deepdojo.metrics``): minority F1 at the
entry's default threshold and at the validation-tuned threshold, PR-AUC (average precision),
ROC-AUC, balanced accuracy and MCC, over ``ctx.seeds`` (new subsample, split and init per seed).
``best-technique-beats-plain`` is judged on the mean over the settings; the table
``best_vs_plain_by_setting`` and the claim's why name the setting that carries the gain.

GAN over-sampling (issue 21): :class:`deepdojo.oversample.GANOverSampler` (a conditional GAN
with a projection discriminator, ``gan_epochs`` epochs) balances the training split, then the
plain network trains on it, exactly as the SMOTE entry does, on the same splits and seeds. The
table ``gan_vs_smote`` gives, per setting, its test PR-AUC and tuned minority F1 beside SMOTE
and the plain network (no augmentation), with paired GAN - SMOTE and GAN - plain intervals
over seeds. It is reported, not judged: no rule was fixed before the first run, and the test
splits of the leaderboard hold 5-12 minority samples. The row is full scale only
(``gan_epochs`` 0 at quick): over the three quick settings the GAN takes about 9 s of CPU per
seed at 50 epochs and 18 s at full's 100 (measured on one thread), against about 36 s for the
whole quick lab. It takes part in the choice of the best technique at full scale. On the
quick settings with ``--set gan_epochs=100`` (base seed 0, 5 seeds), test PR-AUC GAN - SMOTE:
digits 1:20 -0.030 [-0.071, +0.011], breast cancer 1:10 +0.014 [-0.022, +0.049], MNIST-1D
1:30 -0.045 [-0.138, +0.047]; GAN - no augmentation: -0.053 [-0.079, -0.026], +0.023 [-0.028,
+0.073], +0.100 [+0.046, +0.153].

Changed after verify runs (version 4): ``best-technique-beats-plain`` is decided at full scale
(``judge_best``). At quick it held on seed bases 0, 7, 8 and 9 and was inconclusive on 12345
(interval [-0.007, 0.095], "about 6 seeds would decide it"): validation sets of 5-12 minority
samples picked transfer there instead of generated features, and the gain is carried by the
MNIST-1D setting alone. At full scale (10 seeds, base 0) it held: [0.032, 0.101]. Its per-seed
values are still recorded at quick (metric ``best_vs_plain_pr_auc``). No rule or margin moved.
Verify after that, over bases 12345-12347 and 40-42: 5 of 5 claims agree on each (about 32 s
of CPU per quick run).

The threshold and calibration claims (threshold tuning, and what class weights and
over-sampling do to the threshold, to calibration and to their F1 gain once every arm's
threshold is tuned) run on a separate large MNIST-1D study (``study``), since the leaderboard's
test splits hold only 5-12 minority samples. ``accuracy-misleads`` is a check (the constant
predictor's accuracy is the majority share by construction).

Files: ``entries`` (settings and the entries), ``measure`` (scores as dataclasses, the
leaderboard), ``study`` (the threshold / calibration study), ``claims`` (the rules),
``figures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdojo.labs.framework import LabContext, LabError, ranged, register_lab, scaled

from . import claims
from .entries import GAN_ENTRY, Hyper, active_entries
from .figures import (
    accuracy_figure,
    calibration_figure,
    confusion_figure,
    leaderboard_figure,
    pr_curve_figure,
    threshold_figure,
)
from .measure import Measurements, best_technique, leaderboard, measure, parse_setting
from .study import run_study, study_figure


@dataclass
class ImbalanceLabConfig:
    digit: int = ranged(8, low=0, high=9)  # the rare digit of the digits one-vs-rest settings
    mnist1d_class: int = ranged(0, low=0, high=9)  # the rare class of the MNIST-1D setting
    mnist1d_samples: int = scaled(smoke=1000, quick=2000, full=6000, low=1)  # MNIST-1D pool
    hidden: int = ranged(64, low=1)  # units in each of the MLP's two hidden layers
    epochs: int = scaled(smoke=2, quick=15, full=40, low=1)  # epochs per network fit
    batch_size: int = ranged(128, low=1)  # mini-batch size
    lr: float = ranged(5e-3, low=0.0, low_open=True)  # Adam learning rate
    bagging_members: int = scaled(smoke=2, quick=5, full=10, low=1)  # networks in bagging
    accuracy_floor: float = ranged(0.9, low=0.0, high=1.0)  # claim 1: constant acc >= this
    # the settings, "<kind> 1:<N>" (kind digits, breast_cancer or mnist1d; N majority per rare)
    settings: tuple[str, ...] = scaled(
        smoke=("digits 1:20",),
        quick=("digits 1:20", "breast_cancer 1:10", "mnist1d 1:30"),
        full=("digits 1:20", "digits 1:100", "breast_cancer 1:10", "mnist1d 1:30"),
    )
    forest_trees: int = ranged(100, low=1)  # trees of the balanced random forest baseline
    # epochs of the GAN over-sampler's conditional GAN (0: its row is left out; at quick it
    # would add 45-90 s of CPU to a lab that takes about 36 s)
    gan_epochs: int = scaled(smoke=2, quick=0, full=100, low=0)
    # judge best-technique-beats-plain (at 5 seeds it flipped between seed sets: the pick on
    # validation sets of 5-12 minority samples and the gain sit inside seed noise)
    judge_best: bool = scaled(smoke=True, quick=False, full=True)
    # the threshold study (Q02 threshold / calibration claims): MNIST-1D rare class(es) vs rest
    study_classes: tuple[int, ...] = ranged((3, 8), low=0, high=9)
    study_ratio: int = ranged(20, low=2)  # majority samples per minority sample
    study_samples: int = scaled(smoke=1000, quick=10000, full=20000, low=100)  # MNIST-1D pool
    # epochs per study fit; each arm keeps its epoch with the lowest validation loss
    study_epochs: int = scaled(smoke=2, quick=20, full=40, low=1)
    study_batch_size: int = ranged(512, low=1)
    study_lr: float = ranged(1e-2, low=0.0, low_open=True)  # Adam learning rate of the study


def _rare_class(kind: str, cfg: ImbalanceLabConfig) -> int:
    return {"digits": cfg.digit, "breast_cancer": 0, "mnist1d": cfg.mnist1d_class}[kind]


@register_lab("imbalanced-data", questions=("Q02",), config=ImbalanceLabConfig)
def run(cfg: ImbalanceLabConfig, ctx: LabContext) -> None:
    """A leaderboard of imbalance techniques (resampling, weights, losses, features, transfer,
    bagging, augmentation, anomaly framing, thresholds) on several datasets and ratios."""
    try:
        settings = [parse_setting(text) for text in cfg.settings]
    except ValueError as exc:
        raise LabError(str(exc)) from None
    if not settings:
        raise LabError("settings must name at least one setting")
    hp = Hyper(hidden=cfg.hidden, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
               members=cfg.bagging_members, device=ctx.device, trees=cfg.forest_trees,
               gan_epochs=cfg.gan_epochs)
    jobs = [(kind, _rare_class(kind, cfg), ratio, seed)
            for kind, ratio in settings for seed in ctx.seeds]  # fmt: skip
    # the runner limits torch/BLAS to one thread
    res = measure(ctx.progress(jobs, "settings x seeds"), hp, cfg.mnist1d_samples, ctx.seeds[0])
    best = best_technique(res.runs)
    ctx.metric("best_technique", best)
    per_setting, overall = leaderboard(res.runs, True), leaderboard(res.runs, False)
    ctx.table("leaderboard", overall)
    ctx.table("leaderboard_by_setting", per_setting)
    ctx.table("constant_predictor", [c.row() for c in res.constant])
    for r in overall:
        ctx.metric(f"pr_auc.{r['entry']}", r["pr_auc"])
        ctx.metric(f"minority_f1.{r['entry']}", r["f1"])
    ctx.metric("entry_seconds", {n: sum(r.seconds for r in res.runs if r.entry == n)
                                 for n in active_entries(hp)})  # fmt: skip
    claims.accuracy_misleads(cfg, ctx, res)
    ctx.table("best_vs_plain_by_setting", claims.setting_gains(res, best))
    ctx.metric("best_vs_plain_pr_auc", claims.best_vs_plain(res, best))
    if cfg.judge_best:
        claims.best_beats_plain(ctx, res, best)
    else:
        ctx.log("best-technique-beats-plain is judged at full scale (judge_best): at 5 seeds "
                "its verdict flipped between seed sets; its per-seed values are the metric "
                "best_vs_plain_pr_auc")
    if cfg.gan_epochs > 0:
        ctx.table("gan_vs_smote", claims.augmentation_rows(res, GAN_ENTRY))
    study_hp = Hyper(hidden=cfg.hidden, epochs=cfg.study_epochs,
                     batch_size=cfg.study_batch_size, lr=cfg.study_lr, members=1,
                     device=ctx.device)  # fmt: skip
    runs = run_study(cfg.study_classes, cfg.study_ratio, ctx.seeds, study_hp, cfg.study_samples)
    ctx.table("threshold_study", [r.row() for r in runs])
    for field in ("f1_default", "f1_tuned", "threshold", "ece", "pr_auc"):
        ctx.metric(f"study_aa_noise.{field}", claims.aa_noise(runs, field))
    claims.threshold_tuning(cfg, ctx, runs)
    claims.reweighting_shifts_threshold(cfg, ctx, runs)
    claims.reweighting_worsens_calibration(cfg, ctx, runs)
    claims.tuning_shrinks_gain(cfg, ctx, runs)
    _figures(cfg, ctx, res, overall, best)
    ctx.figure("threshold_study", study_figure(runs),
               caption="Threshold study (large MNIST-1D setting), one dot per seed: the "
               "validation-tuned threshold, test ECE, and test minority F1 at 0.5 and at the "
               "tuned threshold, for the plain network, its A/A replicate, class weights and "
               "over-sampling.")  # fmt: skip


def _figures(cfg: ImbalanceLabConfig, ctx: LabContext, res: Measurements,
             overall: list[dict[str, Any]], best: str) -> None:
    """The six figures, in the order of the run page."""
    ctx.figure("leaderboard", leaderboard_figure(overall, best),
               caption="Test PR-AUC and minority F1 per entry, mean over settings; bars show "
               "the spread (max - min) over seeds.")  # fmt: skip
    ctx.figure("pr_curves", pr_curve_figure(res, best),
               caption=f"Test precision-recall curves (seed {ctx.seeds[0]}); dotted: prevalence.")
    ctx.figure("confusion_matrices", confusion_figure(res, best),
               caption="Test confusion matrices on the first setting (seed "
               f"{ctx.seeds[0]}): the constant predictor, the plain network at 0.5 and at the "
               f"tuned threshold, and {best}.")  # fmt: skip
    ctx.figure("accuracy_vs_minority_f1", accuracy_figure(res, cfg.accuracy_floor),
               caption="Claim 1: accuracy of the constant majority predictor vs its minority F1.")
    ctx.figure("calibration", calibration_figure(res),
               caption="Reliability curves (10 equal-width bins) and expected calibration error "
               "of the plain network and of reweighting/resampling entries (first seed).")
    ctx.figure("threshold_tuning", threshold_figure(res.runs),
               caption="The plain network's test minority F1 at 0.5 and at the "
               "validation-tuned threshold, per leaderboard setting (mean, spread over seeds; "
               "these test splits hold 5-12 minority samples, so the claim is judged on the "
               "threshold study).")  # fmt: skip
