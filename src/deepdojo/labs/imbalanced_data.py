"""Lab ``imbalanced-data`` (Q02): a leaderboard of imbalance techniques on several ratios.

Setup. Each *setting* is a binary "rare class vs the rest" problem cut to a fixed imbalance
ratio and split 70/15/15 with the same ratio in every split (stratified), features
standardised with training statistics: digits one-vs-rest (digit ``cfg.digit``) at 1:20 (and
1:100 at full scale), breast cancer with the malignant class subsampled to 1:10, and
MNIST-1D with class ``cfg.mnist1d_class`` rare at 1:30. Every entry trains on the training
split only; validation is used for threshold tuning and for choosing the "best technique";
test numbers are reported.

Entries (see ``_imbalance_entries``): the plain network (a 2-hidden-layer MLP with BCE), the
same network with class weights (effective number), focal loss, logit-adjusted loss,
over-sampling (``BalancedSampler``), SMOTE, generated features (centroid distances + kNN
density), transfer (pretrain on a balanced related task, new head, fine-tune), balanced
bagging of networks, in-class mixup, anomaly framing (kNN distance to the majority), and the
classical baselines logistic regression (``class_weight="balanced"``) and imbalanced-learn's
``BalancedRandomForestClassifier``. Metrics (``deepdojo.metrics``): minority F1 at the
entry's default threshold and at the validation-tuned threshold, PR-AUC (average precision),
ROC-AUC, balanced accuracy and MCC, over ``ctx.seeds`` (new subsample, split and init per seed).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepdojo.labs import LabContext, register_lab
from deepdojo.labs._imbalance_entries import ENTRIES, EntryOutput, Hyper, make_setting
from deepdojo.labs._imbalance_plots import (
    accuracy_figure,
    calibration_figure,
    confusion_figure,
    leaderboard_figure,
    pr_curve_figure,
    threshold_figure,
)
from deepdojo.metrics import apply_threshold, classification_report, tune_threshold


@dataclass
class ImbalanceLabConfig:
    digit: int = 8  # the rare digit of the digits one-vs-rest settings
    mnist1d_class: int = 0  # the rare class of the MNIST-1D setting
    mnist1d_samples: int | None = None  # MNIST-1D pool; None: by scale (1000/2000/6000)
    hidden: int = 64  # units in each of the MLP's two hidden layers
    epochs: int | None = None  # epochs per network fit; None: by scale (2/15/40)
    batch_size: int = 128  # mini-batch size
    lr: float = 5e-3  # Adam learning rate
    bagging_members: int | None = None  # networks in balanced bagging; None: 2/5/10 by scale
    accuracy_floor: float = 0.9  # claim 1: the constant predictor's accuracy is at least this


# (kind, ratio) of each setting by scale; kind "digits" uses cfg.digit, "mnist1d" its class
SETTINGS = {
    "smoke": (("digits", 1 / 20),),
    "quick": (("digits", 1 / 20), ("breast_cancer", 1 / 10), ("mnist1d", 1 / 30)),
    "full": (("digits", 1 / 20), ("digits", 1 / 100), ("breast_cancer", 1 / 10),
             ("mnist1d", 1 / 30)),
}  # fmt: skip


def _rare_class(kind: str, cfg: ImbalanceLabConfig) -> int:
    return {"digits": cfg.digit, "breast_cancer": 0, "mnist1d": cfg.mnist1d_class}[kind]


def _evaluate(out: EntryOutput, y_val: Any, y_test: Any) -> dict[str, float]:
    """Test metrics at the default threshold and at the threshold tuned on validation."""
    rep = classification_report(y_test, scores=out.test, threshold=out.threshold)
    tuned = tune_threshold(y_val, out.val, objective="f1")
    rep_tuned = classification_report(y_test, apply_threshold(out.test, tuned), num_classes=2)
    val_ap = classification_report(y_val, scores=out.val, threshold=out.threshold)["pr_auc"]
    return {
        "f1": rep["positive_f1"], "f1_tuned": rep_tuned["positive_f1"],
        "pr_auc": rep["pr_auc"], "roc_auc": rep["roc_auc"],
        "balanced_accuracy": rep["balanced_accuracy"], "mcc": rep["mcc"],
        "accuracy": rep["accuracy"], "val_pr_auc": val_ap, "tuned_threshold": tuned,
    }  # fmt: skip


def _run_all(cfg: ImbalanceLabConfig, ctx: LabContext, hp: Hyper) -> dict[str, Any]:
    """Every entry on every setting and seed: rows of metrics plus what the figures need."""
    rows: list[dict[str, Any]] = []
    keep: dict[str, Any] = {"outputs": {}, "settings": {}, "constant": []}
    samples = cfg.mnist1d_samples or ctx.pick(smoke=1000, quick=2000, full=6000)
    jobs = [(k, r, seed) for k, r in SETTINGS[ctx.scale] for seed in ctx.seeds]
    for kind, ratio, seed in ctx.progress(jobs, "settings x seeds"):
        s = make_setting(kind, _rare_class(kind, cfg), ratio, seed, samples)
        const = classification_report(s.y_test, np.zeros(len(s.y_test), int), num_classes=2)
        keep["constant"].append({"setting": s.name, "seed": seed, **const})
        for name, (fn, group) in ENTRIES.items():
            t0 = time.perf_counter()
            out = fn(s, hp, seed)
            metrics = _evaluate(out, s.y_val, s.y_test)
            rows.append({"setting": s.name, "seed": seed, "entry": name, "kind": group,
                         "seconds": time.perf_counter() - t0, **metrics})  # fmt: skip
            if seed == ctx.seeds[0]:
                keep["outputs"][(s.name, name)] = out
                keep["settings"][s.name] = s
    keep["rows"] = rows
    return keep


def _spread(values: list[float]) -> float:
    return max(values) - min(values) if values else 0.0


def _leaderboard(rows: list[dict[str, Any]], by_setting: bool) -> list[dict[str, Any]]:
    """Mean and spread (max - min over seeds) of each metric per entry (and setting)."""
    keys = sorted({(r["setting"] if by_setting else "all", r["entry"]) for r in rows},
                  key=lambda k: k[0])  # fmt: skip
    table = []
    for setting, entry in keys:
        sel = [r for r in rows
               if r["entry"] == entry and (not by_setting or r["setting"] == setting)]
        seeds = sorted({r["seed"] for r in sel})
        row: dict[str, Any] = {"setting": setting, "entry": entry, "kind": sel[0]["kind"]}
        for m in ("f1", "f1_tuned", "pr_auc", "balanced_accuracy", "mcc", "roc_auc"):
            per_seed = [statistics.fmean(r[m] for r in sel if r["seed"] == s) for s in seeds]
            row[m] = statistics.fmean(per_seed)
            row[f"{m}_spread"] = _spread(per_seed)
        table.append(row)
    return sorted(table, key=lambda r: (r["setting"], -r["pr_auc"]))


def _paired(rows: list[dict[str, Any]], a: str, b: str, metric_a: str, metric_b: str) -> list:
    """Per (setting, seed): ``metric_a`` of entry ``a`` minus ``metric_b`` of entry ``b``."""
    index = {(r["setting"], r["seed"], r["entry"]): r for r in rows}
    pairs = sorted({(r["setting"], r["seed"]) for r in rows})
    return [index[(*p, a)][metric_a] - index[(*p, b)][metric_b] for p in pairs]


def _best_technique(rows: list[dict[str, Any]]) -> str:
    """The technique with the highest mean *validation* PR-AUC (test data not looked at)."""
    names = [n for n, (_, group) in ENTRIES.items() if group == "technique"]
    return max(names, key=lambda n: statistics.fmean(r["val_pr_auc"] for r in rows
                                                     if r["entry"] == n))  # fmt: skip


def _claims(cfg: ImbalanceLabConfig, ctx: LabContext, res: dict[str, Any], best: str) -> None:
    const = res["constant"]
    accs = [c["accuracy"] for c in const]
    f1s = [c["positive_f1"] for c in const]
    ctx.claim(
        "accuracy-misleads",
        "Plain accuracy misleads: always predicting the majority class scores high test accuracy "
        "in every setting, yet its minority F1 is zero",
        rule=f"every (setting, seed): constant predictor accuracy >= {cfg.accuracy_floor} "
        "and minority F1 == 0; value = the lowest accuracy",
        holds=min(accs) >= cfg.accuracy_floor and max(f1s) == 0.0,
        value=min(accs), values=accs, seed_rule=lambda a: a >= cfg.accuracy_floor,
    )  # fmt: skip
    rows = res["rows"]
    gains = _paired(rows, best, "plain network", "pr_auc", "pr_auc")
    ctx.claim(
        "best-technique-beats-plain",
        "The best imbalance technique (chosen on validation PR-AUC) beats the plain network on "
        "test PR-AUC",
        rule="mean over (setting, seed) of test PR-AUC(best technique) - PR-AUC(plain) > 0, "
        "best = highest mean validation PR-AUC among the techniques",
        holds=statistics.fmean(gains) > 0, values=gains, seed_rule=lambda g: g > 0,
    )  # fmt: skip
    lifts = _paired(rows, "plain network", "plain network", "f1_tuned", "f1")
    ctx.claim(
        "threshold-tuning-raises-f1",
        "Tuning the decision threshold on validation (max F1) raises the plain network's test "
        "minority F1 over the default 0.5",
        rule="mean over (setting, seed) of test F1(tuned threshold) - F1(0.5) > 0",
        holds=statistics.fmean(lifts) > 0, values=lifts, seed_rule=lambda v: v > 0,
    )  # fmt: skip


@register_lab("imbalanced-data", questions=("Q02",), config=ImbalanceLabConfig)
def run(cfg: ImbalanceLabConfig, ctx: LabContext) -> None:
    """A leaderboard of imbalance techniques (resampling, weights, losses, features, transfer,
    bagging, augmentation, anomaly framing, thresholds) on several datasets and ratios."""
    hp = Hyper(
        hidden=cfg.hidden, epochs=cfg.epochs or ctx.pick(smoke=2, quick=15, full=40),
        batch_size=cfg.batch_size, lr=cfg.lr,
        members=cfg.bagging_members or ctx.pick(smoke=2, quick=5, full=10), device=ctx.device,
    )  # fmt: skip
    res = _run_all(cfg, ctx, hp)  # the runner limits torch/BLAS to one thread
    rows = res["rows"]
    best = _best_technique(rows)
    ctx.metric("best_technique", best)
    per_setting, overall = _leaderboard(rows, True), _leaderboard(rows, False)
    ctx.table("leaderboard", overall)
    ctx.table("leaderboard_by_setting", per_setting)
    ctx.table("constant_predictor", [{k: c[k] for k in ("setting", "seed", "accuracy",
              "positive_f1", "balanced_accuracy", "mcc")} for c in res["constant"]])  # fmt: skip
    for r in overall:
        ctx.metric(f"pr_auc.{r['entry']}", r["pr_auc"])
        ctx.metric(f"minority_f1.{r['entry']}", r["f1"])
    ctx.metric("entry_seconds", {n: sum(r["seconds"] for r in rows if r["entry"] == n)
                                 for n in ENTRIES})  # fmt: skip
    _claims(cfg, ctx, res, best)
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
    ctx.figure("threshold_tuning", threshold_figure(rows),
               caption="Claim 3: the plain network's test minority F1 at 0.5 and at the "
               "validation-tuned threshold, per setting (mean, spread over seeds).")  # fmt: skip
