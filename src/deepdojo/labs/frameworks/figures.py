"""The frameworks lab's figure: the measured latency table, and the batch-1 ratios per repeat."""

from __future__ import annotations

from typing import Any

from deepdojo.labs.framework import LabContext, plt

ARM_COLORS = {"eager": "tab:grey", "compile": "tab:orange", "onnxruntime": "tab:blue"}


def plot_latency(ctx: LabContext, rows: list[dict[str, Any]], times: dict[tuple[str, int], Any],
                 cfg: Any) -> None:
    """Left: median per-call latency per model, batch and arm (log scale). Right: the
    per-repeat ratio ONNX Runtime / eager at batch 1, one point per repeat."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=(3, 2))
    groups = sorted({(r["model"], r["batch"]) for r in rows}, key=lambda k: (k[1], k[0]))
    arms = [a for a in ARM_COLORS if any(r["arm"] == a for r in rows)]
    width = 0.8 / len(arms)
    for j, arm in enumerate(arms):
        ys = [next(r["median_us"] for r in rows if (r["model"], r["batch"]) == g
                   and r["arm"] == arm) for g in groups]
        xs = [i + (j - (len(arms) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, ys, width=width, color=ARM_COLORS[arm], label=arm)
    ax.set_xticks(range(len(groups)), [f"{m}\nB={b}" for m, b in groups], fontsize=7)
    ax.set_yscale("log")
    ax.set(ylabel="median time per call (us)", title="Latency per call, measured interleaved")
    ax.legend(fontsize=7)
    models = sorted({m for m, b in times if b == 1})
    for i, name in enumerate(models):
        arm = times[(name, 1)]
        ratios = [o / e for o, e in zip(arm["onnxruntime"].per_repeat_s,
                                        arm["eager"].per_repeat_s, strict=True)]
        ax2.scatter([i] * len(ratios), ratios, s=14, color="tab:blue", alpha=0.7)
    ax2.axhline(1.0, ls=":", color="grey")
    ax2.set_xticks(range(len(models)), models, fontsize=8)
    ax2.set(ylabel="ONNX Runtime / eager", title="Batch 1, per repeat")
    fig.tight_layout()
    ctx.figure("latency_table", fig, caption=f"{cfg.repeats} interleaved repeats of {cfg.calls} "
               "calls per arm; bars are medians. Below 1 on the right: ONNX Runtime is faster.")
