"""Claims of the imbalanced-data lab: each rule is declared once, as a rule object.

The two comparisons are paired over seeds: each seed's value is the mean over the settings of
that seed (same subsample, split and init for both arms), so the interval is over seeds, not
over (setting, seed) cells that share a seed.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from deepdojo.labs.framework import LabContext, rules

from .measure import Measurements, per_seed

if TYPE_CHECKING:
    from . import ImbalanceLabConfig


def accuracy_misleads(cfg: ImbalanceLabConfig, ctx: LabContext, res: Measurements) -> None:
    """accuracy-misleads: a check (the constant predictor's accuracy is the majority share)."""
    accs = [c.accuracy for c in res.constant]
    f1s = [c.positive_f1 for c in res.constant]
    ctx.claim(
        "accuracy-misleads",
        "Plain accuracy misleads: always predicting the majority class scores high test accuracy "
        "in every setting, yet its minority F1 is zero",
        rules.EverySeed(rules.AtLeast(cfg.accuracy_floor)),
        values=accs,
        metric="test accuracy of the constant 'majority' predictor, per (setting, seed)",
        kind="check",
        why={"does not hold": (
            "the constant predictor's accuracy drops to {min:.3f} on one (setting, seed), below "
            "the floor {floor:g}: that setting's test split has a minority share of "
            "{minority:.3f}, and its minority F1 is at most {max_f1:g}")},
        facts={"floor": cfg.accuracy_floor, "minority": 1 - min(accs), "max_f1": max(f1s)},
        requires={"minority F1 == 0 on every (setting, seed)": max(f1s) == 0.0},
    )  # fmt: skip


def best_beats_plain(ctx: LabContext, res: Measurements, best: str) -> None:
    """best-technique-beats-plain: test PR-AUC, paired over seeds."""
    ctx.claim(
        "best-technique-beats-plain",
        "The best imbalance technique (chosen on validation PR-AUC) beats the plain network on "
        "test PR-AUC",
        rules.Greater(margin=0.0),
        a=per_seed(res.runs, best, "pr_auc"), b=per_seed(res.runs, "plain network", "pr_auc"),
        metric=f"test PR-AUC, mean over settings (A = {best}, the technique with the highest "
        "mean validation PR-AUC; B = plain network)",
        kind="finding",
        why={"does not hold": (
            "{best} led on validation PR-AUC ({best_val:.3f} against the plain network's "
            "{plain_val:.3f}) but on test it averages {a_mean:.3f} against {b_mean:.3f}; the 95% "
            "interval of the difference [{lo:+.3f}, {hi:+.3f}] is not above 0")},
        facts={"best": best,
               "best_val": statistics.fmean(per_seed(res.runs, best, "val_pr_auc")),
               "plain_val": statistics.fmean(per_seed(res.runs, "plain network", "val_pr_auc"))},
    )  # fmt: skip


def threshold_tuning(ctx: LabContext, res: Measurements) -> None:
    """threshold-tuning-raises-f1: the plain network's test F1, tuned vs 0.5, paired."""
    plain = [r for r in res.runs if r.entry == "plain network"]
    ctx.claim(
        "threshold-tuning-raises-f1",
        "Tuning the decision threshold on validation (max F1) raises the plain network's test "
        "minority F1 over the default 0.5",
        rules.Greater(margin=0.0),
        a=per_seed(res.runs, "plain network", "f1_tuned"),
        b=per_seed(res.runs, "plain network", "f1"),
        metric="plain network's test minority F1, mean over settings (A = threshold tuned on "
        "validation, B = 0.5)",
        kind="finding",
        why={"does not hold": (
            "the tuned thresholds (median {threshold:.2f}) give test F1 {a_mean:.3f} against "
            "{b_mean:.3f} at 0.5, 95% interval of the difference [{lo:+.3f}, {hi:+.3f}]; each "
            "threshold is fitted on only about {val_pos:.0f} minority validation samples")},
        facts={"threshold": statistics.median(r.scores.tuned_threshold for r in plain),
               "val_pos": statistics.fmean(res.val_positives)},
    )  # fmt: skip
