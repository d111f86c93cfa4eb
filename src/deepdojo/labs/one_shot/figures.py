"""The one-shot lab's figures: accuracy by way/shot, ROC, a task example, the applications."""

from __future__ import annotations

import numpy as np

from deepdojo.labs.framework import LabContext, plt

from .characters import CharRun

LABELS = {"pixels": "pixel 1-NN", "random": "untrained encoder (lower control)",
          "siamese": "Siamese", "protonet": "ProtoNet", "supervised": "supervised embedding",
          "upper_bound": "trained on test classes (upper bound)",
          "matching": "matching network"}


def _t95(values: list[float]) -> float:
    from scipy import stats

    if len(values) < 2:
        return 0.0
    return float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1)
                 / np.sqrt(len(values)))  # fmt: skip


def accuracy_figure(ctx: LabContext, runs: list[CharRun], settings: list) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(settings))
    methods = list(runs[0].acc)
    for i, m in enumerate(methods):
        per = np.array([[r.acc[m][s].mean() for s in settings] for r in runs])  # (seeds, S)
        off = (i - len(methods) / 2) * 0.08
        ax.errorbar(x + off, per.mean(0), yerr=[_t95(list(per[:, j])) for j in x], marker="o",
                    capsize=3, color=f"C{i}", label=LABELS[m],
                    ls="--" if m in ("random", "upper_bound") else "-")
        for j in x:
            ax.scatter([j + off] * len(per), per[:, j], s=6, color=f"C{i}", alpha=0.5)
    ax.set(xticks=x, xticklabels=[f"{w}-way {k}-shot" for w, k in settings],
           ylabel="accuracy on unseen classes", ylim=(0, 1),
           title="Glyph classes never seen in training")
    ax.legend(fontsize=7, loc="lower right")
    ctx.figure("accuracy_by_way_shot", fig, caption="Mean over seeds with 95% t-intervals "
               "(dots: seeds; each seed averages its episodes). Dashed: the controls.")


def digits_figure(ctx: LabContext, runs, shots) -> None:
    from .digits import DIGIT_METHODS

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    x = np.arange(len(shots))
    for i, m in enumerate(DIGIT_METHODS):
        per = np.array([[r.acc[m][k].mean() for k in shots] for r in runs])  # (seeds, shots)
        off = (i - len(DIGIT_METHODS) / 2) * 0.08
        ax.errorbar(x + off, per.mean(0), yerr=[_t95(list(c)) for c in per.T], marker="o",
                    capsize=3, color=f"C{i}", label=LABELS[m], ls="--" if m == "random" else "-")
        for j in x:
            ax.scatter([j + off] * len(per), per[:, j], s=6, color=f"C{i}", alpha=0.5)
    ax.set(xticks=x, xticklabels=[f"5-way {k}-shot" for k in shots], ylim=(0, 1),
           ylabel="accuracy on held-out digits",
           title="Trained on 5 digits, tested on the 5 others")
    ax.legend(fontsize=7, loc="lower right")
    ctx.figure("digits_accuracy", fig, caption="8x8 digits split by class: mean over seeds with "
               "95% t-intervals (dots: seeds). Dashed: the untrained encoder.")


def roc_figure(ctx: LabContext, run: CharRun) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for i, (m, v) in enumerate(run.verification.items()):
        name = "pixel distance" if m == "pixels" else LABELS[m]
        ax.plot(v.fpr, v.tpr, color=f"C{i}", label=f"{name}: AUC {v.auc:.3f}, "
                f"EER {v.eer:.3f}")
    ax.plot([0, 1], [1, 0], color="grey", lw=0.5, ls=":", label="EER line")
    ax.set(xlabel="false accept rate", ylabel="true accept rate",
           title="Verification of unseen classes (first seed)")
    ax.legend(fontsize=7, loc="lower right")
    ctx.figure("verification_roc", fig, caption="Same/different pairs of never-seen glyph "
               "classes scored by embedding distance; the equal error rate is where the ROC "
               "crosses the dotted line.")


def example_figure(ctx: LabContext, run: CharRun, way: int, query: int) -> None:
    if run.example is None:
        return
    support, queries = run.example
    fig, axes = plt.subplots(2, way, figsize=(1.3 * way, 2.8))
    for c in range(way):
        axes[0, c].imshow(support[c, 0], cmap="gray_r")
        axes[1, c].imshow(queries[c * query, 0], cmap="gray_r")
        axes[0, c].set_title(f"class {c + 1}", fontsize=8)
    for ax in axes.ravel():
        ax.set(xticks=[], yticks=[])
    axes[0, 0].set_ylabel("support\n(one example)", fontsize=8)
    axes[1, 0].set_ylabel("query", fontsize=8)
    ctx.figure("task_example", fig, caption=f"One {way}-way 1-shot episode of unseen classes: "
               "each query (bottom) must be matched to one of the single support examples "
               "(top; shown in the same order here).")


def applications_figure(ctx: LabContext, gest, intent, cold) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, title, data, xlab in (
        (axes[0], "new gestures, 5-way", [g.acc for g in gest], "shots"),
        (axes[1], "new intents, 5-way", [d.acc for d in intent or []], "shots"),
    ):
        if not data:
            ax.text(0.5, 0.5, "text extra not installed", ha="center")
            continue
        for i, m in enumerate(data[0]):
            shots = sorted(data[0][m])
            per = np.array([[d[m][k].mean() for k in shots] for d in data])  # (seeds, shots)
            ax.errorbar(shots, per.mean(0), yerr=[_t95(list(c)) for c in per.T], marker="o",
                        capsize=3, color=f"C{i}", label=m)
        ax.set(title=title, xlabel=xlab, ylabel="accuracy", ylim=(0, 1))
        ax.legend(fontsize=7)
    for i, m in enumerate(cold[0].rmse):
        ks = sorted(cold[0].rmse[m])
        per = np.array([[c.rmse[m][k] for k in ks] for c in cold])
        axes[2].errorbar(ks, per.mean(0), yerr=[_t95(list(c)) for c in per.T], marker="o",
                         capsize=3, color=f"C{i}", label=m)
    axes[2].set(title="cold-start items", xlabel="revealed ratings of the new item",
                ylabel="RMSE on its hidden ratings")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    ctx.figure("applications", fig, caption="Q13: the same one-shot idea in gestures, "
               "intents and cold-start recommendation (mean over seeds, 95% t-intervals).")
