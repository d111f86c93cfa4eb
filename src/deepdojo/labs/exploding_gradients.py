"""Lab ``exploding-gradients`` (Q06, Q07): a deep ReLU MLP with too-large initial weights blows
up its gradients; each remedy is applied alone and measured, with the non-finite guard's events.

Setup. scikit-learn's digits (64 pixels, 10 classes). The baseline is a plain ReLU MLP with
``depth`` weight layers of ``width`` units, He-normal init multiplied by ``init_gain``: each
layer multiplies the signal, and so the gradient, by about ``init_gain``. It trains with SGD +
momentum 0.9 and cross-entropy, with the Trainer's non-finite guard on (a NaN/inf step is
skipped; after 3 in a row the model rolls back and the learning rate halves; after 2 rollbacks
training stops). Remedies, each alone: weight regularization (L2 penalty ``l2``·Σw² added to
the loss), gradient clipping (global norm <= ``clip_norm``), a learning-rate schedule (linear
warmup over ``warmup_steps`` then cosine decay) and gradient normalization (every step's
gradient rescaled to global norm ``target_norm``). A last setup treats the cause instead of
the symptom: He init at gain 1, the scale it was derived for.

Measures, per setup and seed: the largest layer gradient norm the Doctor saw (before clipping),
the first-to-last ratio, the guard's skipped steps and rollbacks, whether training diverged, the
test accuracy and the Doctor's findings.

Rules (fixed before running): the baseline explodes (a check: a gain of 2 per layer
multiplies the gradient by about 2 per layer) when on every seed log10(max gradient norm) >=
``exploding_log_norm`` (3: the Doctor's 1000 threshold; a non-finite norm counts as float32's
largest, 10^38.5) and the Doctor flags it (exploding or non-finite). With a 95% t-interval
over seeds: the baseline fails to train when its mean test accuracy <= ``trained_acc``; a
remedy tames the explosion when no seed has a non-finite step or gives up, and the mean test
accuracy >= ``trained_acc``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from deepdojo.data import load_digits
from deepdojo.diagnose import plot_gradient_heatmap
from deepdojo.labs.framework import LabContext, plt, ranged, register_lab, scaled
from deepdojo.labs.framework import rules as R
from deepdojo.labs.shared.grad import RunOutcome, comparison_figure, mean, row, train_run
from deepdojo.models import create
from deepdojo.nn import Regularizer
from deepdojo.train import ClipGrad, warmup_cosine

# log10 of float32's largest value: a non-finite gradient norm is at least this large
LOG_NONFINITE = math.log10(float(torch.finfo(torch.float32).max))


@dataclass
class ExplodingConfig:
    depth: int = ranged(12, low=2)  # weight layers of the MLP
    width: int = ranged(64, low=1)  # units per hidden layer
    # He-normal weights times this: ~gain growth per layer
    init_gain: float = ranged(2.0, low=0.0, low_open=True)
    epochs: int = scaled(smoke=1, quick=10, full=30, low=1)  # epochs per setup and seed
    # training rows taken from the digits split (None: all of them)
    n_train: int | None = scaled(smoke=256, quick=None, full=None, low=1)
    batch_size: int = ranged(64, low=1)  # mini-batch size
    lr: float = ranged(0.05, low=0.0, low_open=True)  # SGD learning rate (momentum 0.9)
    l2: float = ranged(1e-3, low=0.0)  # weight regularization: L2 penalty coefficient
    clip_norm: float = ranged(1.0, low=0.0, low_open=True)  # gradient clipping: max global norm
    # schedule: linear warmup steps before the cosine decay
    warmup_steps: int = ranged(100, low=0)
    # gradient normalization: global norm of every step's gradient
    target_norm: float = ranged(1.0, low=0.0, low_open=True)
    doctor_every: int = ranged(5, low=1)  # steps between Doctor checks / gradient records
    # log10(max grad norm) at or above this on every seed: exploding
    exploding_log_norm: float = 3.0
    # mean test accuracy at or above this: trained (chance 0.1)
    trained_acc: float = ranged(0.5, low=0.0, high=1.0)


REMEDY_TEXT = {
    "weight_regularization": "weight regularization (L2 penalty)",
    "clipping": "gradient clipping by global norm",
    "lr_schedule": "learning-rate warmup + cosine decay",
    "gradient_normalization": "gradient normalization",
    "init_fix": "He init at gain 1 (the cause fixed)",
}


def _trainer_kw(key: str, cfg: ExplodingConfig) -> dict[str, Any]:
    return {
        "baseline": {},
        "weight_regularization": {"regularizer": Regularizer(l2=cfg.l2)},
        "clipping": {"clip": ClipGrad(max_norm=cfg.clip_norm)},
        "lr_schedule": {"scheduler": warmup_cosine(cfg.warmup_steps)},
        "gradient_normalization": {"clip": ClipGrad(target_norm=cfg.target_norm)},
        "init_fix": {},
    }[key]


def _run_setups(cfg: ExplodingConfig, ctx: LabContext) -> dict[str, list[RunOutcome]]:
    keys = ["baseline", *REMEDY_TEXT]
    runs: dict[str, list[RunOutcome]] = {k: [] for k in keys}
    datasets = {s: load_digits(flat=True, seed=s).head(cfg.n_train) for s in ctx.seeds}
    base_kw = {"in_features": 64, "num_classes": 10, "depth": cfg.depth, "width": cfg.width,
               "activation": "relu", "init": "he", "init_gain": cfg.init_gain}  # fmt: skip
    jobs = [(k, s) for s in ctx.seeds for k in keys]
    for key, seed in ctx.progress(jobs, "setups x seeds", total=len(jobs)):
        kw = base_kw | ({"init_gain": 1.0} if key == "init_fix" else {})
        runs[key].append(train_run(
            key, lambda kw=kw: create("plain_mlp", **kw), datasets[seed], seed=seed,
            epochs=cfg.epochs, lr=cfg.lr, device=ctx.device, batch_size=cfg.batch_size,
            doctor_every=cfg.doctor_every, **_trainer_kw(key, cfg)))  # fmt: skip
    return runs


def _log_max(r: RunOutcome) -> float:
    """log10 of the largest layer gradient norm; a non-finite norm counts as float32's max."""
    if math.isnan(r.max_grad) or r.max_grad <= 0:
        return float("nan")
    return min(math.log10(r.max_grad), LOG_NONFINITE)


def _guard_figure(runs: dict[str, list[RunOutcome]]) -> Any:
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    keys = list(runs)
    x = range(len(keys))
    ax.bar([i - 0.2 for i in x], [sum(r.nonfinite_steps for r in runs[k]) for k in keys], 0.4,
           label="skipped non-finite steps")  # fmt: skip
    ax.bar([i + 0.2 for i in x], [sum(r.rollbacks + r.diverged for r in runs[k]) for k in keys],
           0.4, label="rollbacks + give-ups")  # fmt: skip
    ax.set_xticks(list(x), keys, rotation=25, fontsize=8)
    ax.set_ylabel("count (all seeds)")
    ax.set_title("Non-finite guard events per setup")
    ax.legend(fontsize=8)
    ax2.bar(list(x), [mean([r.test_acc for r in runs[k]]) for k in keys], color="tab:gray")
    ax2.set_xticks(list(x), keys, rotation=25, fontsize=8)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("test accuracy (mean over seeds)")
    ax2.set_title("Test accuracy per setup")
    fig.tight_layout()
    return fig


@register_lab("exploding-gradients", questions=("Q06", "Q07"), config=ExplodingConfig)
def run(cfg: ExplodingConfig, ctx: LabContext) -> None:
    """Deep ReLU MLP with large init: exploding gradients, each remedy alone, guard events.

    Remedies: L2 weight regularization, gradient clipping, warmup + cosine learning-rate
    schedule, gradient normalization; and the cause fixed (He init at gain 1).
    """
    runs = _run_setups(cfg, ctx)
    ctx.table("setups", [row(rs, setup=k) for k, rs in runs.items()])
    for key, rs in runs.items():
        ctx.metric(f"log10_max_grad_norm.{key}", mean([_log_max(r) for r in rs]))
        ctx.metric(f"test_acc.{key}", mean([r.test_acc for r in rs]))
        ctx.metric(f"doctor.{key}", [r.doctor for r in rs])  # per seed: kinds, counts, findings
        ctx.metric(f"guard_nonfinite_steps.{key}", sum(r.nonfinite_steps for r in rs))
    base = runs["baseline"]
    ctx.figure("gradient_flow_all", comparison_figure(runs, "all setups"),
               caption="Per-layer gradient norm before clipping (log scale) and validation "
                       "accuracy of every setup.")  # fmt: skip
    ctx.figure("baseline_heatmap", plot_gradient_heatmap(
        base[0].grad_matrix, base[0].layer_names, base[0].steps,
        title=f"Large-init ReLU MLP (gain {cfg.init_gain:g}): gradient norm per layer and step"),
        caption=f"Gradient norms per layer and step of the unremedied run (seed {base[0].seed}).")
    unflagged = [r.seed for r in base if not {"exploding", "non_finite"} & set(r.doctor_kinds)]
    ctx.claim(
        "large-init-explodes",
        f"With He init times {cfg.init_gain:g}, a {cfg.depth}-layer ReLU MLP's gradients "
        "explode and the Doctor says so",
        R.EverySeed(R.AtLeast(cfg.exploding_log_norm)), values=[_log_max(r) for r in base],
        metric="log10(largest layer gradient norm) of the baseline", kind="check",
        requires={"the Doctor flags exploding or non_finite on every seed (missed: "
                  f"{', '.join(map(str, unflagged)) or 'none'})": not unflagged},
        why={"does not hold": "the largest layer gradient norm of the baseline stays between "
             "10^{min:.2f} and 10^{max:.2f} over the seeds, below 10^{margin:g} on some"},
    )  # fmt: skip
    ctx.figure("guard_events", _guard_figure(runs),
               caption="The guard's skipped steps and rollbacks, and the test accuracy, by setup.")
    ctx.claim(
        "unremedied-fails-to-train", "Without a remedy the exploding net does not train",
        R.AtMost(cfg.trained_acc), values=[r.test_acc for r in base],
        metric="test accuracy of the baseline", kind="finding",
        why={"does not hold": "the unremedied net reaches {mean:.2f} test accuracy on average "
             "(95% interval [{lo:.2f}, {hi:.2f}]): the guard skipped {skipped} non-finite "
             "steps, rolled back {rollbacks} times and gave up on {gave_up} of {n} seeds, and "
             "training recovered"},
        facts={"skipped": sum(r.nonfinite_steps for r in base),
               "rollbacks": sum(r.rollbacks for r in base),
               "gave_up": sum(r.diverged for r in base)},
    )  # fmt: skip
    _remedy_claims(cfg, ctx, runs)


def _remedy_claims(cfg: ExplodingConfig, ctx: LabContext, runs: dict[str, list[RunOutcome]]
                   ) -> None:  # fmt: skip
    base = runs["baseline"]
    for key, text in REMEDY_TEXT.items():
        rs = runs[key]
        bad = sum(r.nonfinite_steps + r.diverged for r in rs)
        ctx.figure(f"remedy_{key}", comparison_figure({"baseline": base, key: rs}, text),
                   caption=f"Baseline vs {text}: gradient norms before clipping and accuracy.")
        ctx.claim(
            f"{key.replace('_', '-')}-tames-exploding",
            f"{text[0].upper() + text[1:]} alone lets the exploding net train without a "
            "non-finite step",
            R.AtLeast(cfg.trained_acc), values=[r.test_acc for r in rs],
            metric=f"test accuracy with {text}", kind="finding",
            requires={f"no non-finite step or give-up in any seed (got {bad})": bad == 0},
            why={"does not hold": "with " + text + " the mean test accuracy is {mean:.2f} "
                 "(baseline {base:.2f}) and the guard saw {bad} non-finite steps or give-ups "
                 "over {n} seeds; the largest layer gradient norm reached 10^{log_max:.1f}"},
            facts={"base": mean([r.test_acc for r in base]), "bad": bad,
                   "log_max": max((v for v in map(_log_max, rs) if not math.isnan(v)),
                                  default=math.nan)},
        )  # fmt: skip
