"""Claims of the imbalanced-data lab: each rule is declared once, as a rule object.

The two comparisons are paired over seeds: each seed's value is the mean over the settings of
that seed (same subsample, split and init for both arms), so the interval is over seeds, not
over (setting, seed) cells that share a seed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING

from deepdojo.labs.framework import LabContext, rules

from .measure import Measurements, per_seed
from .study import OVER, PLAIN, REPLICA, REWEIGHTED, WEIGHTS, StudyRun
from .study import per_seed as study_per_seed

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


def setting_gains(res: Measurements, best: str) -> list[dict[str, float | str]]:
    """Per setting: the mean (over seeds) test PR-AUC of ``best`` minus the plain network's,
    with its 95% t-interval over seeds -- which data set carries the overall gain."""
    rows: list[dict[str, float | str]] = []
    for name in dict.fromkeys(r.setting for r in res.runs):
        sel = [r for r in res.runs if r.setting == name]
        d = per_seed(sel, best, "pr_auc")
        d = [x - y for x, y in zip(d, per_seed(sel, "plain network", "pr_auc"), strict=True)]
        lo, hi = rules.t_interval(d) if len(d) > 1 else (float("nan"), float("nan"))
        rows.append({"setting": name, "gain": statistics.fmean(d), "lo": lo, "hi": hi,
                     "plain": statistics.fmean(per_seed(sel, "plain network", "pr_auc"))})
    return rows


def best_vs_plain(res: Measurements, best: str) -> list[float]:
    """Per seed: test PR-AUC of ``best`` minus the plain network's, mean over the settings."""
    a, b = per_seed(res.runs, best, "pr_auc"), per_seed(res.runs, "plain network", "pr_auc")
    return [x - y for x, y in zip(a, b, strict=True)]


def augmentation_rows(res: Measurements, gan: str) -> list[dict[str, float | str]]:
    """Per setting: test PR-AUC and tuned minority F1 of the plain network (no augmentation),
    SMOTE and ``gan`` (same splits and seeds), and the paired GAN - SMOTE and GAN - plain
    differences with their 95% t-intervals over seeds. Reported, not judged."""
    rows: list[dict[str, float | str]] = []
    for name in dict.fromkeys(r.setting for r in res.runs):
        sel = [r for r in res.runs if r.setting == name]
        row: dict[str, float | str] = {"setting": name}
        for metric in ("pr_auc", "f1_tuned"):
            vals = {e: per_seed(sel, e, metric) for e in ("plain network", "SMOTE", gan)}
            row[f"{metric}.plain"] = statistics.fmean(vals["plain network"])
            row[f"{metric}.smote"] = statistics.fmean(vals["SMOTE"])
            row[f"{metric}.gan"] = statistics.fmean(vals[gan])
            for other, key in (("SMOTE", "smote"), ("plain network", "plain")):
                d = [x - y for x, y in zip(vals[gan], vals[other], strict=True)]
                lo, hi = rules.t_interval(d) if len(d) > 1 else (float("nan"), float("nan"))
                row[f"{metric}.gan-{key}"] = statistics.fmean(d)
                row[f"{metric}.gan-{key}.lo"], row[f"{metric}.gan-{key}.hi"] = lo, hi
        rows.append(row)
    return rows


def best_beats_plain(ctx: LabContext, res: Measurements, best: str) -> None:
    """best-technique-beats-plain: test PR-AUC averaged over the settings, paired over seeds;
    the why names the setting that carries the gain."""
    gains = setting_gains(res, best)
    top = max(gains, key=lambda r: float(r["gain"]))
    others = "; ".join(f"{r['setting']} {float(r['gain']):+.3f} (plain at {float(r['plain']):.3f})"
                       for r in gains if r is not top) or "none"
    ctx.claim(
        "best-technique-beats-plain",
        "The best imbalance technique (chosen on validation PR-AUC) beats the plain network on "
        "test PR-AUC, averaged over the settings (the setting that carries the gain is named)",
        rules.Greater(margin=0.0),
        a=per_seed(res.runs, best, "pr_auc"), b=per_seed(res.runs, "plain network", "pr_auc"),
        metric=f"test PR-AUC, mean over settings (A = {best}, the technique with the highest "
        "mean validation PR-AUC; B = plain network)",
        kind="finding",
        why={"does not hold": (
            "{best} led on validation PR-AUC ({best_val:.3f} against the plain network's "
            "{plain_val:.3f}) but on test it averages {a_mean:.3f} against {b_mean:.3f}; the 95% "
            "interval of the difference [{lo:+.3f}, {hi:+.3f}] is not above 0"),
             "holds": (
            "{best} averages {a_mean:.3f} against {b_mean:.3f}; the gain is carried by "
            "{carrier} ({carrier_gain:+.3f}, plain at {carrier_plain:.3f}); elsewhere: {others}")},
        facts={"best": best,
               "best_val": statistics.fmean(per_seed(res.runs, best, "val_pr_auc")),
               "plain_val": statistics.fmean(per_seed(res.runs, "plain network", "val_pr_auc")),
               "carrier": top["setting"], "carrier_gain": top["gain"],
               "carrier_plain": top["plain"], "others": others},
    )  # fmt: skip


# ---------------------------------------------------------------- the threshold study (Q02)


def _min_over_reweighted(runs: list[StudyRun], value: Callable[[str], list[float]]) -> list[float]:
    """Per seed, the smaller of the two reweighted arms' values: a claim about "resampling
    and class weights" holds only if it holds for both."""
    per_arm = [value(arm) for arm in REWEIGHTED]
    return [min(vals) for vals in zip(*per_arm, strict=True)]


def aa_noise(runs: list[StudyRun], field: str) -> float:
    """The A/A noise floor of ``field``: mean over seeds of |plain - plain (second init)|."""
    a, b = study_per_seed(runs, PLAIN, field), study_per_seed(runs, REPLICA, field)
    return statistics.fmean(abs(x - y) for x, y in zip(a, b, strict=True))


def _study_metric(cfg: ImbalanceLabConfig) -> str:
    return (f"MNIST-1D class {'/'.join(map(str, cfg.study_classes))} vs the rest at "
            f"1:{cfg.study_ratio}, test split about {cfg.study_samples * 0.9 / 4:.0f} rows")


def threshold_tuning(cfg: ImbalanceLabConfig, ctx: LabContext, runs: list[StudyRun]) -> None:
    """threshold-tuning-raises-f1: the plain network's test F1, tuned vs 0.5, on the study."""
    ctx.claim(
        "threshold-tuning-raises-f1",
        "Tuning the decision threshold on validation (max F1) raises the plain network's test "
        "minority F1 over the default 0.5 (on the large threshold-study setting)",
        rules.Greater(margin=0.0),
        a=study_per_seed(runs, PLAIN, "f1_tuned"), b=study_per_seed(runs, PLAIN, "f1_default"),
        metric=f"plain network's test minority F1 ({_study_metric(cfg)}; A = threshold tuned "
        "on validation, B = 0.5)",
        kind="finding",
        why={"does not hold": (
            "the tuned thresholds (median {threshold:.2f}) give test F1 {a_mean:.3f} against "
            "{b_mean:.3f} at 0.5, 95% interval of the difference [{lo:+.3f}, {hi:+.3f}] (A/A "
            "noise of tuned F1 between two plain inits: {aa:.3f})"),
             "holds": (
            "the tuned thresholds (median {threshold:.2f}) give test F1 {a_mean:.3f} against "
            "{b_mean:.3f} at 0.5 (A/A noise of tuned F1 between two plain inits: {aa:.3f})")},
        facts={"threshold": statistics.median(r.scores.threshold for r in runs if r.arm == PLAIN),
               "aa": aa_noise(runs, "f1_tuned")},
    )  # fmt: skip


def reweighting_shifts_threshold(cfg: ImbalanceLabConfig, ctx: LabContext,
                                 runs: list[StudyRun]) -> None:
    """reweighting-shifts-threshold: both reweighted arms' F1-best threshold above plain's."""
    plain = study_per_seed(runs, PLAIN, "threshold")

    def shift(arm: str) -> list[float]:
        return [t - p for t, p in zip(study_per_seed(runs, arm, "threshold"), plain, strict=True)]

    ctx.claim(
        "reweighting-shifts-threshold",
        "Class weights and over-sampling shift the F1-best decision threshold: tuned on "
        "validation it lies higher than the plain network's (the scores are inflated toward "
        "the minority), so 0.5 is no longer the right cut either",
        rules.Greater(margin=0.0),
        values=_min_over_reweighted(runs, shift),
        metric=f"validation F1-best threshold minus the plain network's, the smaller of class "
        f"weights and over-sampling per seed ({_study_metric(cfg)})",
        kind="finding",
        why={"does not hold": (
            "the tuned thresholds average {plain_t:.2f} for the plain network, {w_t:.2f} with "
            "class weights and {o_t:.2f} with over-sampling; the smaller shift's interval "
            "[{lo:+.2f}, {hi:+.2f}] is not above 0 (A/A noise {aa:.2f})"),
             "holds": (
            "the tuned thresholds average {plain_t:.2f} for the plain network against {w_t:.2f} "
            "with class weights and {o_t:.2f} with over-sampling (A/A noise {aa:.2f})")},
        facts={"plain_t": statistics.fmean(plain),
               "w_t": statistics.fmean(study_per_seed(runs, WEIGHTS, "threshold")),
               "o_t": statistics.fmean(study_per_seed(runs, OVER, "threshold")),
               "aa": aa_noise(runs, "threshold")},
    )  # fmt: skip


def reweighting_worsens_calibration(cfg: ImbalanceLabConfig, ctx: LabContext,
                                    runs: list[StudyRun]) -> None:
    """reweighting-worsens-calibration: both reweighted arms' test ECE above plain's."""
    plain = study_per_seed(runs, PLAIN, "ece")

    def worse(arm: str) -> list[float]:
        return [e - p for e, p in zip(study_per_seed(runs, arm, "ece"), plain, strict=True)]

    ctx.claim(
        "reweighting-worsens-calibration",
        "Class weights and over-sampling worsen calibration: their test expected calibration "
        "error is higher than the plain network's (the control: same network, data and "
        "budget, no reweighting)",
        rules.Greater(margin=0.0),
        values=_min_over_reweighted(runs, worse),
        metric=f"test ECE (10 equal-width bins) minus the plain network's, the smaller of class "
        f"weights and over-sampling per seed ({_study_metric(cfg)})",
        kind="finding",
        why={"does not hold": (
            "test ECE averages {plain_e:.3f} for the plain network, {w_e:.3f} with class "
            "weights and {o_e:.3f} with over-sampling; the smaller increase's interval "
            "[{lo:+.3f}, {hi:+.3f}] is not above 0 (A/A noise between two plain inits "
            "{aa:.3f})"),
             "holds": (
            "test ECE averages {plain_e:.3f} for the plain network against {w_e:.3f} with "
            "class weights and {o_e:.3f} with over-sampling (A/A noise {aa:.3f})")},
        facts={"plain_e": statistics.fmean(plain),
               "w_e": statistics.fmean(study_per_seed(runs, WEIGHTS, "ece")),
               "o_e": statistics.fmean(study_per_seed(runs, OVER, "ece")),
               "aa": aa_noise(runs, "ece")},
    )  # fmt: skip


def tuning_shrinks_gain(cfg: ImbalanceLabConfig, ctx: LabContext, runs: list[StudyRun]) -> None:
    """tuning-shrinks-reweighting-gain: F1 gain over plain at 0.5 minus the gain when every
    arm uses its own validation-tuned threshold."""

    def gain(arm: str, field: str) -> list[float]:
        return [x - p for x, p in zip(study_per_seed(runs, arm, field),
                                      study_per_seed(runs, PLAIN, field), strict=True)]

    def shrink(arm: str) -> list[float]:
        return [d - t for d, t in zip(gain(arm, "f1_default"), gain(arm, "f1_tuned"),
                                      strict=True)]  # fmt: skip

    ctx.claim(
        "tuning-shrinks-reweighting-gain",
        "After threshold tuning, the F1 gain of class weights and over-sampling over plain "
        "training shrinks: much of their gain at the default 0.5 is a threshold shift",
        rules.Greater(margin=0.0),
        values=_min_over_reweighted(runs, shrink),
        metric="test minority F1 gain over the plain network at 0.5 minus the gain with each "
        "arm at its own validation-tuned threshold, the smaller of class weights and "
        f"over-sampling per seed ({_study_metric(cfg)})",
        kind="finding",
        why={"does not hold": (
            "at 0.5 class weights gain {w_d:+.3f} F1 and over-sampling {o_d:+.3f} over plain; "
            "with tuned thresholds {w_t:+.3f} and {o_t:+.3f}; the smaller shrink's interval "
            "[{lo:+.3f}, {hi:+.3f}] is not above 0"),
             "holds": (
            "at 0.5 class weights gain {w_d:+.3f} F1 and over-sampling {o_d:+.3f} over plain; "
            "with tuned thresholds only {w_t:+.3f} and {o_t:+.3f}")},
        facts={"w_d": statistics.fmean(gain(WEIGHTS, "f1_default")),
               "o_d": statistics.fmean(gain(OVER, "f1_default")),
               "w_t": statistics.fmean(gain(WEIGHTS, "f1_tuned")),
               "o_t": statistics.fmean(gain(OVER, "f1_tuned"))},
    )  # fmt: skip
