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

Rules (fixed before running): the baseline explodes when mean log10(max gradient norm) >=
``exploding_log_norm`` (3: the Doctor's 1000 threshold) and the Doctor flags it (exploding or
non-finite) in every seed; it fails to train when its mean test accuracy < ``trained_acc``. A
remedy tames the explosion when no seed has a non-finite step and the mean test accuracy >=
``trained_acc``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from deepdojo.data import load_digits
from deepdojo.diagnose import plot_gradient_heatmap
from deepdojo.labs import LabContext, register_lab
from deepdojo.labs._grad_labs import (
    RunOutcome,
    comparison_figure,
    mean,
    row,
    train_run,
)
from deepdojo.models import create
from deepdojo.nn import Regularizer
from deepdojo.train import ClipGrad, warmup_cosine


@dataclass
class ExplodingConfig:
    depth: int = 12  # weight layers of the MLP
    width: int = 64  # units per hidden layer
    init_gain: float = 2.0  # He-normal weights times this: ~gain growth per layer
    epochs: int | None = None  # None: by scale (smoke 1, quick 10, full 30)
    batch_size: int = 64  # mini-batch size
    lr: float = 0.05  # SGD learning rate (momentum 0.9)
    l2: float = 1e-3  # weight regularization: L2 penalty coefficient
    clip_norm: float = 1.0  # gradient clipping: max global norm
    warmup_steps: int = 100  # schedule: linear warmup steps before the cosine decay
    target_norm: float = 1.0  # gradient normalization: global norm of every step's gradient
    doctor_every: int = 5  # steps between Doctor checks / gradient records
    exploding_log_norm: float = 3.0  # mean log10(max grad norm) at or above this: exploding
    trained_acc: float = 0.5  # mean test accuracy at or above this: trained (chance 0.1)


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
    epochs = cfg.epochs or ctx.pick(smoke=1, quick=10, full=30)
    keys = ["baseline", *REMEDY_TEXT]
    runs: dict[str, list[RunOutcome]] = {k: [] for k in keys}
    datasets = {s: load_digits(flat=True, seed=s).head(ctx.pick(256, None, None))
                for s in ctx.seeds}  # fmt: skip
    base_kw = {"in_features": 64, "num_classes": 10, "depth": cfg.depth, "width": cfg.width,
               "activation": "relu", "init": "he", "init_gain": cfg.init_gain}  # fmt: skip
    jobs = [(k, s) for s in ctx.seeds for k in keys]
    for key, seed in ctx.progress(jobs, "setups x seeds", total=len(jobs)):
        kw = base_kw | ({"init_gain": 1.0} if key == "init_fix" else {})
        runs[key].append(train_run(
            key, lambda kw=kw: create("plain_mlp", **kw), datasets[seed], seed=seed,
            epochs=epochs,
            lr=cfg.lr, device=ctx.device, batch_size=cfg.batch_size,
            doctor_every=cfg.doctor_every, **_trainer_kw(key, cfg)))  # fmt: skip
    return runs


def _log_max(r: RunOutcome) -> float:
    return math.log10(r.max_grad) if r.max_grad > 0 else float("nan")


def _guard_figure(runs: dict[str, list[RunOutcome]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
        caption="Gradient norms per layer and step of the unremedied run (seed 0).")
    flagged = all({"exploding", "non_finite"} & set(r.doctor_kinds) for r in base)
    base_log = mean([_log_max(r) for r in base])
    ctx.claim("large-init-explodes",
              f"With He init times {cfg.init_gain:g}, a {cfg.depth}-layer ReLU MLP's gradients "
              "explode and the Doctor says so",
              rule=f"mean log10(max layer grad norm) >= {cfg.exploding_log_norm} and the Doctor "
                   "flags exploding or non_finite in every seed",
              values=[_log_max(r) for r in base],
              holds=base_log >= cfg.exploding_log_norm and flagged,
              seed_rule=lambda v: v >= cfg.exploding_log_norm)  # fmt: skip
    ctx.figure("guard_events", _guard_figure(runs),
               caption="The guard's skipped steps and rollbacks, and the test accuracy, by setup.")
    base_acc = mean([r.test_acc for r in base])
    ctx.claim("unremedied-fails-to-train", "Without a remedy the exploding net does not train",
              rule=f"mean test accuracy < {cfg.trained_acc}",
              values=[r.test_acc for r in base], holds=base_acc < cfg.trained_acc,
              seed_rule=lambda v: v < cfg.trained_acc)  # fmt: skip
    _remedy_claims(cfg, ctx, runs)


def _remedy_claims(cfg: ExplodingConfig, ctx: LabContext, runs: dict[str, list[RunOutcome]]
                   ) -> None:  # fmt: skip
    base = runs["baseline"]
    for key, text in REMEDY_TEXT.items():
        rs = runs[key]
        bad = sum(r.nonfinite_steps + r.diverged for r in rs)
        acc = mean([r.test_acc for r in rs])
        ctx.figure(f"remedy_{key}", comparison_figure({"baseline": base, key: rs}, text),
                   caption=f"Baseline vs {text}: gradient norms before clipping and accuracy.")
        ctx.claim(f"{key.replace('_', '-')}-tames-exploding",
                  f"{text[0].upper() + text[1:]} alone lets the exploding net train without a "
                  "non-finite step",
                  rule=f"0 non-finite steps in all seeds (got {bad}) and mean test accuracy >= "
                       f"{cfg.trained_acc}",
                  values=[r.test_acc for r in rs],
                  holds=bad == 0 and acc >= cfg.trained_acc,
                  seed_rule=lambda v: v >= cfg.trained_acc)  # fmt: skip
