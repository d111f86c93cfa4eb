"""Figures of the imbalanced-data lab (each function returns a matplotlib Figure)."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from deepdojo.labs.framework import plt
from deepdojo.metrics import (
    apply_threshold,
    calibration_curve,
    confusion_matrix,
    expected_calibration_error,
    precision_recall_curve,
    tune_threshold,
)

from .measure import EntryRun, Measurements

_COLORS = {"plain": "tab:gray", "technique": "tab:blue", "classical": "tab:orange"}


def leaderboard_figure(overall: list[dict[str, Any]], best: str) -> Any:
    rows = sorted(overall, key=lambda r: r["pr_auc"])
    names = [r["entry"] + (" *" if r["entry"] == best else "") for r in rows]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.38 * len(rows) + 1.5), sharey=True)
    for ax, metric, title in ((axes[0], "pr_auc", "test PR-AUC"),
                              (axes[1], "f1", "test minority F1 (default threshold)")):  # fmt: skip
        colors = [_COLORS[r["kind"]] for r in rows]
        ax.barh(y, [r[metric] for r in rows], xerr=[r[f"{metric}_spread"] / 2 for r in rows],
                color=colors, alpha=0.85)  # fmt: skip
        ax.set_xlabel(title)
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, names)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _COLORS.values()]
    axes[1].legend(handles, ["plain network", "technique", "classical baseline"], loc="lower right")
    fig.suptitle("Leaderboard (mean over settings; * = best technique on validation)")
    fig.tight_layout()
    return fig


def pr_curve_figure(res: Measurements, best: str) -> Any:
    settings = list(res.settings.values())
    fig, axes = plt.subplots(1, len(settings), figsize=(4.6 * len(settings), 4), squeeze=False)
    shown = ("plain network", best, "logistic regression (balanced)", "balanced random forest")
    for ax, s in zip(axes[0], settings, strict=True):
        for name in dict.fromkeys(shown):
            out = res.outputs[(s.name, name)]
            precision, recall, _ = precision_recall_curve(s.y_test, out.test)
            ax.step(recall, precision, where="post", label=name)
        ax.axhline(float(s.y_test.float().mean()), ls=":", color="k", label="prevalence")
        ax.set(title=s.name, xlabel="recall (minority)", ylabel="precision", ylim=(0, 1.05))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def confusion_figure(res: Measurements, best: str) -> Any:
    s = next(iter(res.settings.values()))
    plain = res.outputs[(s.name, "plain network")]
    tuned = tune_threshold(s.y_val, plain.val)
    top = res.outputs[(s.name, best)]
    panels = [
        ("constant 'majority'", np.zeros(len(s.y_test), dtype=int)),
        ("plain @ 0.5", apply_threshold(plain.test, 0.5)),
        (f"plain @ tuned {tuned:.2f}", apply_threshold(plain.test, tuned)),
        (f"{best} @ default", apply_threshold(top.test, top.threshold)),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
    for ax, (title, pred) in zip(axes, panels, strict=True):
        cm = confusion_matrix(s.y_test, pred, num_classes=2)
        ax.imshow(cm, cmap="Blues")
        for i in range(2):
            for j in range(2):
                dark = cm[i, j] > cm.max() / 2
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=12,
                        color="white" if dark else "black")  # fmt: skip
        ax.set(title=title, xticks=[0, 1], yticks=[0, 1], xlabel="predicted",
               ylabel="true (1 = minority)")  # fmt: skip
    fig.suptitle(f"Confusion matrices on the test split of {s.name}", y=1.02)
    fig.tight_layout()
    return fig


def accuracy_figure(res: Measurements, floor: float) -> Any:
    names = list(dict.fromkeys(c.setting for c in res.constant))
    acc = [statistics.fmean(c.accuracy for c in res.constant if c.setting == n) for n in names]
    f1 = [statistics.fmean(c.positive_f1 for c in res.constant if c.setting == n) for n in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.8 * len(names) + 3), 3.8))
    ax.bar(x - 0.2, acc, 0.4, label="accuracy", color="tab:green")
    ax.bar(x + 0.2, f1, 0.4, label="minority F1", color="tab:red")
    for xi, a, f in zip(x, acc, f1, strict=True):
        ax.text(xi - 0.2, a + 0.02, f"{a:.3f}", ha="center")
        ax.text(xi + 0.2, f + 0.02, f"{f:.3f}", ha="center", color="tab:red")
    ax.axhline(floor, ls="--", color="k", lw=1, label=f"claim floor {floor}")
    ax.set(xticks=x, ylim=(0, 1.3), ylabel="test score (mean over seeds)",
           title="A constant 'majority' predictor: high accuracy, zero minority F1")  # fmt: skip
    ax.set_xticks(x, names)
    ax.legend(loc="upper center", ncol=3)
    fig.tight_layout()
    return fig


def threshold_figure(runs: list[EntryRun]) -> Any:
    plain = [r for r in runs if r.entry == "plain network"]
    names = list(dict.fromkeys(r.setting for r in plain))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.8 * len(names) + 3), 3.8))
    x = np.arange(len(names))
    for offset, key, label in ((-0.2, "f1", "threshold 0.5"), (0.2, "f1_tuned", "tuned on val")):
        vals = [[r.metric(key) for r in plain if r.setting == n] for n in names]
        means = [statistics.fmean(v) for v in vals]
        spread = [(max(v) - min(v)) / 2 for v in vals]
        ax.bar(x + offset, means, 0.4, yerr=spread, label=label, alpha=0.85)
    ax.set_xticks(x, names)
    ax.set(ylim=(0, 1.15), ylabel="test minority F1",
           title="Plain network: default vs validation-tuned threshold")  # fmt: skip
    ax.legend(loc="upper right", ncol=2)
    fig.tight_layout()
    return fig


def calibration_figure(res: Measurements) -> Any:
    """Reliability curves on the last setting (largest test set at quick scale), first seed."""
    s = list(res.settings.values())[-1]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.plot([0, 1], [0, 1], ls=":", color="k", label="perfectly calibrated")
    for name in ("plain network", "class weights", "over-sampling", "SMOTE"):
        prob = np.clip(res.outputs[(s.name, name)].test, 0.0, 1.0)
        frac, mean_pred, _ = calibration_curve(s.y_test, prob, n_bins=10)
        ece = expected_calibration_error(s.y_test, prob, n_bins=10)
        ax.plot(mean_pred, frac, marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set(xlabel="mean predicted probability", ylabel="observed fraction of minority",
           title=f"Calibration on {s.name} (test)", xlim=(0, 1), ylim=(0, 1))  # fmt: skip
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
