"""Lab ``vanishing-gradients`` (Q06, Q07): a deep sigmoid MLP loses its gradient on the way
back; each remedy is applied alone and measured.

Setup. scikit-learn's digits (64 pixels, 10 classes; seeded train/val/test split). The baseline
is a plain MLP with ``depth`` weight layers (>= 20) of ``width`` sigmoid units, torch's default
init, no batch norm, trained with SGD + momentum 0.9 and cross-entropy. Every remedy changes one
thing: Xavier init (Glorot-normal, torch's gain for sigmoid), He init (Kaiming-normal), ReLU
instead of sigmoid, batch norm before each sigmoid, skip connections (a pre-activation residual
MLP of the same depth), or gradient clipping at global norm ``clip_norm``. One extra setup pairs
ReLU with He init, the combination the init was derived for.

Measures, per setup and seed: the first-to-last layer gradient ratio
r = ‖∂L/∂W_1‖ / ‖∂L/∂W_depth‖ (median over the steps the Doctor recorded, before clipping;
reported as log10 r), the per-layer gradient norms (gradient-flow chart), test accuracy and
whether the Doctor flagged "vanishing".

Rules (fixed before running), on the per-seed log10 r with a 95% t-interval over seeds: the
baseline vanishes when mean log10 r <= ``vanishing_log_ratio`` (-3: a 1000x loss); a remedy
cures when mean log10 r >= ``cured_log_ratio`` (-1: the first layer gets at least a tenth of the
last layer's gradient); clipping "does not cure" when its mean log10 r stays at or below
``vanishing_log_ratio`` *and* it actually clipped: the weight-gradient norm exceeded
``clip_norm`` on at least ``clip_active_share`` of the recorded steps (a bound the gradients
never reach would test nothing). The Doctor does its job (the issue's rule) when, on every
seed, it flags vanishing on the baseline and finds nothing at all on a *cured* setup (one whose
cure claim holds; at least one must). A stricter claim asks for more: that on every seed the
Doctor flags vanishing exactly on the runs that failed to train (test accuracy <
``trained_acc``), whatever the setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deepdojo.data import load_digits
from deepdojo.diagnose import plot_gradient_heatmap
from deepdojo.labs.framework import LabContext, plt, ranged, register_lab, scaled
from deepdojo.labs.framework import rules as R
from deepdojo.labs.shared.grad import RunOutcome, comparison_figure, mean, row, train_run
from deepdojo.models import create
from deepdojo.train import ClipGrad


@dataclass
class VanishingConfig:
    depth: int = ranged(20, low=2)  # weight layers of the MLPs (even, >= 20 for the claim)
    width: int = ranged(64, low=1)  # units per hidden layer
    epochs: int = scaled(smoke=1, quick=12, full=30, low=1)  # epochs per setup and seed
    # training rows taken from the digits split (None: all of them)
    n_train: int | None = scaled(smoke=256, quick=None, full=None, low=1)
    batch_size: int = ranged(64, low=1)  # mini-batch size
    lr: float = ranged(0.1, low=0.0, low_open=True)  # SGD learning rate (momentum 0.9)
    # global gradient-norm bound of the clipping remedy
    clip_norm: float = ranged(0.1, low=0.0, low_open=True)
    # clipping must act on at least this share of the steps
    clip_active_share: float = ranged(0.5, low=0.0, high=1.0)
    doctor_every: int = ranged(5, low=1)  # steps between Doctor checks / gradient records
    vanishing_log_ratio: float = -3.0  # mean log10 r at or below this: vanishing
    cured_log_ratio: float = -1.0  # mean log10 r at or above this: cured
    # test accuracy at or above this: the run trained (chance 0.1)
    trained_acc: float = ranged(0.5, low=0.0, high=1.0)


@dataclass(frozen=True)
class Setup:
    """One arm: the registered model, its arguments beyond the baseline's, and clipping."""

    model: str
    extra: dict[str, Any] = field(default_factory=dict)
    clip: bool = False


SETUPS: dict[str, Setup] = {
    "baseline": Setup("plain_mlp"),
    "xavier_init": Setup("plain_mlp", {"init": "xavier"}),
    "he_init": Setup("plain_mlp", {"init": "he"}),
    "relu": Setup("plain_mlp", {"activation": "relu"}),
    "relu_he_init": Setup("plain_mlp", {"activation": "relu", "init": "he"}),
    "batch_norm": Setup("plain_mlp", {"batch_norm": True}),
    "skip_connections": Setup("resnet_mlp"),
    "clipping": Setup("plain_mlp", clip=True),
}
REMEDY_TEXT = {
    "xavier_init": "Xavier (Glorot-normal) init",
    "he_init": "He (Kaiming-normal) init",
    "relu": "ReLU instead of sigmoid",
    "relu_he_init": "ReLU with He init (the usual pairing)",
    "batch_norm": "batch norm before each sigmoid",
    "skip_connections": "skip (residual) connections",
}
LOG_RATIO = "log10(|G_first| / |G_last|)"


def _run_setups(cfg: VanishingConfig, ctx: LabContext) -> dict[str, list[RunOutcome]]:
    runs: dict[str, list[RunOutcome]] = {k: [] for k in SETUPS}
    jobs = [(k, s) for s in ctx.seeds for k in SETUPS]
    datasets = {s: load_digits(flat=True, seed=s).head(cfg.n_train) for s in ctx.seeds}
    for key, seed in ctx.progress(jobs, "setups x seeds", total=len(jobs)):
        setup = SETUPS[key]
        kw = {"in_features": 64, "num_classes": 10, "depth": cfg.depth, "width": cfg.width,
              "activation": "sigmoid", **setup.extra}  # fmt: skip
        runs[key].append(train_run(
            key, lambda name=setup.model, kw=kw: create(name, **kw), datasets[seed], seed=seed,
            epochs=cfg.epochs, lr=cfg.lr, device=ctx.device, batch_size=cfg.batch_size,
            doctor_every=cfg.doctor_every,
            clip=ClipGrad(max_norm=cfg.clip_norm) if setup.clip else None,
        ))  # fmt: skip
    return runs


def _doctor_figure(runs: dict[str, list[RunOutcome]], cfg: VanishingConfig) -> Any:
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = list(runs)
    for i, key in enumerate(labels):
        n = len(runs[key])
        for j, r in enumerate(runs[key]):
            flagged = "vanishing" in r.doctor_kinds
            ax.scatter(i + 0.08 * (j - (n - 1) / 2), r.test_acc, marker="x" if flagged else "o",
                       color="tab:red" if flagged else "tab:green", s=40)  # fmt: skip
    ax.axhline(cfg.trained_acc, color="gray", linestyle="--", label="trained threshold")
    ax.scatter([], [], marker="x", color="tab:red", label="doctor: vanishing")
    ax.scatter([], [], marker="o", color="tab:green", label="doctor: no vanishing")
    ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
    ax.set_ylabel("test accuracy (one mark per seed)")
    ax.set_ylim(0, 1.02)
    ax.set_title("Doctor's vanishing flag vs whether the setup trained")
    ax.legend(fontsize=7)
    return fig


@register_lab("vanishing-gradients", questions=("Q06", "Q07"), config=VanishingConfig)
def run(cfg: VanishingConfig, ctx: LabContext) -> None:
    """Deep sigmoid MLP: vanishing gradients measured, each remedy alone, the doctor's verdicts.

    Remedies: Xavier/He init, ReLU (alone and with He init), batch norm, skip connections,
    gradient clipping.
    """
    if cfg.depth % 2:
        raise ValueError(f"depth must be even (the residual setup stacks 2-layer blocks; the "
                         f"default, 20, is the depth the claims are about), got {cfg.depth!r}")
    runs = _run_setups(cfg, ctx)
    ctx.table("setups", [row(rs, setup=k) for k, rs in runs.items()])
    for key, rs in runs.items():
        ctx.metric(f"log10_first_to_last.{key}", mean([r.log_ratio for r in rs]))
        ctx.metric(f"test_acc.{key}", mean([r.test_acc for r in rs]))
        ctx.metric(f"doctor.{key}", [r.doctor for r in rs])  # per seed: kinds, counts, findings
    ctx.figure("gradient_flow_all", comparison_figure(runs, "all setups"),
               caption="Per-layer gradient norm (log scale) and validation accuracy of every "
                       "setup; layer 1 is the input side.")  # fmt: skip
    base = runs["baseline"]
    ctx.figure("baseline_heatmap", plot_gradient_heatmap(
        base[0].grad_matrix, base[0].layer_names, base[0].steps,
        title=f"Baseline sigmoid MLP, depth {cfg.depth}: gradient norm per layer and step"),
        caption="The input-side layers get orders of magnitude less gradient at every step.")
    ctx.claim(
        "deep-sigmoid-vanishes",
        f"In a {cfg.depth}-layer sigmoid MLP the first layer's gradient is over 1000x smaller "
        "than the last layer's",
        R.AtMost(cfg.vanishing_log_ratio), values=[r.log_ratio for r in base],
        metric=f"{LOG_RATIO} of the baseline", kind="finding",
        why={"does not hold": "the baseline's mean log10 r is {mean:.2f} (95% interval "
             "[{lo:.2f}, {hi:.2f}]): its first layer gets about 1/{loss:.3g} of the last "
             "layer's gradient, less than the 1000x loss the claim is about; test accuracy "
             "{acc:.2f}"},
        facts={"loss": 10 ** -mean([r.log_ratio for r in base]),
               "acc": mean([r.test_acc for r in base])},
    )  # fmt: skip
    cured = _remedy_claims(cfg, ctx, runs)
    _clipping_claim(cfg, ctx, runs)
    _doctor_claims(cfg, ctx, runs, cured)


def _remedy_claims(cfg: VanishingConfig, ctx: LabContext, runs: dict[str, list[RunOutcome]]
                   ) -> list[str]:  # fmt: skip
    """One cure claim per remedy; returns the setups whose cure claim holds."""
    base, cured = runs["baseline"], []
    for key, text in REMEDY_TEXT.items():
        rs = runs[key]
        ctx.figure(f"remedy_{key}", comparison_figure({"baseline": base, key: rs}, text),
                   caption=f"Baseline vs {text}: gradient flow and accuracy.")
        cure = ctx.claim(
            f"{key.replace('_', '-')}-cures-vanishing",
            f"{text} alone keeps the first layer's gradient within 10x of the last's",
            R.AtLeast(cfg.cured_log_ratio), values=[r.log_ratio for r in rs],
            metric=f"{LOG_RATIO} with {text}", kind="finding",
            why={"does not hold": "with " + text + " the mean log10 r is {mean:.2f} (95% "
                 "interval [{lo:.2f}, {hi:.2f}], baseline {base:.2f}): the first layer still "
                 "gets about 1/{loss:.3g} of the last layer's gradient; test accuracy {acc:.2f}"},
            facts={"base": mean([r.log_ratio for r in base]),
                   "loss": 10 ** -mean([r.log_ratio for r in rs]),
                   "acc": mean([r.test_acc for r in rs])},
        )  # fmt: skip
        if cure.holds:
            cured.append(key)
    return cured


def _clipping_claim(cfg: VanishingConfig, ctx: LabContext, runs: dict[str, list[RunOutcome]]
                    ) -> None:  # fmt: skip
    base, clip = runs["baseline"], runs["clipping"]
    # share of recorded steps whose weight-gradient norm alone exceeds the bound (clip active)
    active = mean([float((r.grad_matrix.square().sum(1).sqrt() > cfg.clip_norm).double().mean())
                   for r in clip])  # fmt: skip
    ctx.metric("clipping_active_fraction", active)
    ctx.figure("remedy_clipping", comparison_figure({"baseline": base, "clipping": clip},
               "gradient clipping"),
               caption=f"Clipping only ever shrinks gradients: no cure. It was active on "
                       f"{active:.0%} of the recorded steps (weight-gradient norm > "
                       f"{cfg.clip_norm:g}).")  # fmt: skip
    ctx.claim(
        "clipping-does-not-cure-vanishing",
        f"Gradient clipping (max norm {cfg.clip_norm}) acts on the gradients but does not cure "
        "vanishing",
        R.AtMost(cfg.vanishing_log_ratio), values=[r.log_ratio for r in clip],
        metric=f"{LOG_RATIO} with clipping", kind="finding",
        requires={f"clipping active on >= {cfg.clip_active_share:.0%} of the recorded steps "
                  f"(got {active:.0%})": active >= cfg.clip_active_share},
        why={"does not hold": "with clipping the mean log10 r is {mean:.2f} (95% interval "
             "[{lo:.2f}, {hi:.2f}], baseline {base:.2f}) and clipping acted on {active:.0%} "
             "of the recorded steps (needed {share:.0%})"},
        facts={"base": mean([r.log_ratio for r in base]), "active": active,
               "share": cfg.clip_active_share},
    )  # fmt: skip


def _doctor_claims(cfg: VanishingConfig, ctx: LabContext, runs: dict[str, list[RunOutcome]],
                   cured: list[str]) -> None:  # fmt: skip
    missed = [r.seed for r in runs["baseline"] if "vanishing" not in r.doctor_kinds]
    problems = {(k, r.seed): [kind for kind in r.doctor_kinds if kind != "healthy"]
                for k in cured for r in runs[k]}  # fmt: skip
    false_alarms = [f"{k}/seed{seed}: {', '.join(kinds)}"
                    for (k, seed), kinds in problems.items() if kinds]  # fmt: skip
    ctx.metric("doctor_cured_setups", cured)
    ctx.metric("doctor_false_alarms_on_cured", false_alarms)
    # per seed: a missed baseline flag + the cured runs with any finding
    errors = [(seed in missed) + sum(bool(problems[k, seed]) for k in cured)
              for seed in ctx.seeds]  # fmt: skip
    ctx.claim(
        "doctor-flags-baseline-not-cured",
        "The Doctor flags vanishing on the failing baseline and finds nothing wrong with the "
        "setups that cure it",
        R.EverySeed(R.AtMost(0)), values=errors,
        metric="missed baseline flags + findings on cured setups", kind="finding",
        requires={f"at least one setup's cure claim holds (cured: {', '.join(cured) or 'none'})":
                  bool(cured)},
        why={"does not hold": "the Doctor missed vanishing on {n_missed} of {n} baseline "
             "seeds and reported {n_alarms} finding(s) on the cured setups ({cured}): "
             "{alarms}"},
        facts={"n_missed": len(missed), "n_alarms": len(false_alarms),
               "cured": ", ".join(cured) or "none", "alarms": "; ".join(false_alarms) or "none"},
    )  # fmt: skip
    wrong = [(r.label, r.seed) for rs in runs.values() for r in rs
             if ("vanishing" in r.doctor_kinds) != (r.test_acc < cfg.trained_acc)]  # fmt: skip
    ctx.metric("doctor_disagreements", [f"{k}/seed{s}" for k, s in wrong])
    ctx.figure("doctor_verdicts", _doctor_figure(runs, cfg),
               caption="Each mark is one run; red crosses were flagged 'vanishing' by the Doctor.")
    ctx.claim(
        "doctor-flags-failing-not-fixed",
        "Stricter: the Doctor flags vanishing on every run that fails to train, whatever the "
        "setup, and on no run that trains",
        R.EverySeed(R.AtMost(0)), values=[sum(s == seed for _, s in wrong) for seed in ctx.seeds],
        metric=f"runs where (Doctor flags vanishing) != (test accuracy < {cfg.trained_acc:g})",
        kind="finding",
        why={"does not hold": "{n_wrong} of {n_runs} runs disagree: {wrong}"},
        facts={"n_wrong": len(wrong), "n_runs": sum(len(rs) for rs in runs.values()),
               "wrong": ", ".join(f"{k}/seed{s}" for k, s in wrong)},
    )  # fmt: skip
