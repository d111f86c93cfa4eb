"""Lab: L1, L2 and decoupled weight decay on a small, partly mislabelled digits set (Q03, Q04).

Setup. ``n_train`` digits images (default 200) drawn from the training split, of which a
fraction ``label_noise`` get a wrong label, train a wide MLP (64-256-256-10) far past the point
where it fits them. Unregularized, the network memorizes the wrong labels and the train/test
gap opens. We train the same network with no penalty, an explicit L1 penalty and an explicit
L2 penalty (:class:`deepdojo.nn.regularization.Regularizer`, SGD with momentum), and with
decoupled weight decay (AdamW; its baseline is Adam without decay). Each penalty's strength is
picked on the validation split (accuracy, ties broken by validation loss); the claims are judged
on the test split, which plays no part in the choice.

Measured per seed: train accuracy (on the noisy labels the model was given), validation and
test accuracy, the gap ``train_acc - test_acc``, and the fraction of weights with
``|w| < near_zero`` (weights of Linear layers; biases excluded, like the penalties).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepdojo.data import load_digits
from deepdojo.labs.framework import (
    AtLeast,
    EverySeed,
    Greater,
    LabContext,
    plt,
    ranged,
    register_lab,
    scaled,
)
from deepdojo.models import create
from deepdojo.nn.regularization import Regularizer, penalized_parameters
from deepdojo.train import Trainer, make_optimizer, schedules
from deepdojo.utils import seed_everything

METHODS = ("l1", "l2", "adamw")
LABELS = {"none": "none (SGD)", "l1": "L1 penalty", "l2": "L2 penalty",
          "adam": "none (Adam)", "adamw": "AdamW weight decay"}  # fmt: skip
COLORS = {"none": "black", "l1": "tab:red", "l2": "tab:blue", "adam": "grey",
          "adamw": "tab:green"}  # fmt: skip


_POSITIVE = {"low": 0.0, "low_open": True}  # rates, strengths (log axes), thresholds: > 0


@dataclass
class RegularizationLabConfig:
    # training images drawn from the digits training split
    n_train: int = ranged(200, low=1)
    # fraction of those given a wrong label (what the net memorizes)
    label_noise: float = ranged(0.2, low=0.0, high=1.0)
    # hidden units per layer of the MLP
    width: int = scaled(smoke=32, quick=256, full=256, low=1)
    # weight layers of the MLP (64 -> width -> ... -> 10)
    depth: int = ranged(3, low=2)
    # training epochs
    epochs: int = scaled(smoke=2, quick=40, full=80, low=1)
    # minibatch size
    batch_size: int = ranged(20, low=1)
    # SGD (momentum 0.9) peak lr for none / L1 / L2, cosine to 0
    sgd_lr: float = ranged(0.05, **_POSITIVE)
    # Adam / AdamW peak lr, cosine to 0 (high enough to memorize)
    adam_lr: float = ranged(3e-3, **_POSITIVE)
    # lambda_1 grid (sum |w| penalty)
    l1_strengths: tuple[float, ...] = ranged((1e-5, 1e-4, 1e-3), **_POSITIVE)
    # lambda_2 grid (sum w^2 penalty)
    l2_strengths: tuple[float, ...] = ranged((1e-4, 1e-3, 1e-2), **_POSITIVE)
    # AdamW decoupled decay grid
    weight_decays: tuple[float, ...] = ranged((0.1, 1.0, 10.0), **_POSITIVE)
    # a weight counts as near zero when |w| < this
    near_zero: float = ranged(1e-3, **_POSITIVE)
    # claim: L1's near-zero fraction >= this x L2's
    sparsity_ratio: float = ranged(5.0, **_POSITIVE)


@dataclass
class TrainedModel:
    """One trained model: a method at one strength on one seed (a row of the ``runs`` table)."""

    seed: int
    method: str  # none, l1, l2 (SGD + momentum), adam or adamw
    strength: float  # lambda_1, lambda_2 or AdamW weight_decay (0 for none / adam)
    train_acc: float  # on the noisy labels the model was given
    val_acc: float
    val_loss: float
    test_acc: float
    gap: float  # train_acc - test_acc
    near_zero: float  # fraction of Linear weights with |w| < near_zero
    weights: torch.Tensor = field(repr=False)  # every Linear weight, flattened (biases excluded)

    def row(self) -> dict[str, Any]:
        """The table row: every field but the weights."""
        return {k: v for k, v in asdict(self).items() if k != "weights"}


def _small_noisy_split(cfg: RegularizationLabConfig, seed: int) -> tuple[Any, Any]:
    """Digits splits for ``seed`` and the small, partly mislabelled training set ``(X, y)``."""
    data = load_digits(flat=True, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    X, y = data.train
    n = min(cfg.n_train, len(y))
    idx = torch.randperm(len(y), generator=gen)[:n]
    X_small, y_small = X[idx], y[idx].clone()  # (n, 64), (n,)
    n_wrong = round(cfg.label_noise * n)
    wrong = torch.randperm(n, generator=gen)[:n_wrong]
    shift = torch.randint(1, data.num_classes, (n_wrong,), generator=gen)
    y_small[wrong] = (y_small[wrong] + shift) % data.num_classes  # always a different class
    return data, (X_small, y_small)


def _train_one(cfg: RegularizationLabConfig, ctx: LabContext, data: Any, train: Any,
               method: str, strength: float, seed: int) -> TrainedModel:
    """Train one model with ``method`` in {none, l1, l2, adam, adamw} at ``strength``."""
    seed_everything(seed)
    model = create("plain_mlp", in_features=64, num_classes=data.num_classes, depth=cfg.depth,
                   width=cfg.width)  # fmt: skip
    regularizer = None
    if method in ("adam", "adamw"):
        opt = make_optimizer("adamw", model, cfg.adam_lr, weight_decay=strength)
    else:
        opt = make_optimizer("sgd", model, cfg.sgd_lr, momentum=0.9)
        if method == "l1":
            regularizer = Regularizer(l1=strength)
        elif method == "l2":
            regularizer = Regularizer(l2=strength)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, regularizer=regularizer,
                      scheduler=schedules.cosine(interval="batch"), device=ctx.device,
                      seed=seed, progress="off")  # fmt: skip
    trainer.fit(train, epochs=cfg.epochs, batch_size=cfg.batch_size)
    tr, va, te = (trainer.evaluate(d) for d in (train, data.val, data.test))
    weights = torch.cat([p.detach().flatten().cpu() for p in penalized_parameters(model)])
    return TrainedModel(
        seed=seed, method=method, strength=strength, train_acc=tr["acc"], val_acc=va["acc"],
        val_loss=va["loss"], test_acc=te["acc"], gap=tr["acc"] - te["acc"],
        near_zero=(weights.abs() < cfg.near_zero).double().mean().item(), weights=weights,
    )  # fmt: skip


def _grid(cfg: RegularizationLabConfig) -> list[tuple[str, float]]:
    return ([("none", 0.0), ("adam", 0.0)] + [("l1", s) for s in cfg.l1_strengths]
            + [("l2", s) for s in cfg.l2_strengths] + [("adamw", s) for s in cfg.weight_decays])


def _pick(runs: list[TrainedModel], method: str) -> TrainedModel:
    """The run of ``method`` with the best validation accuracy (ties: lower validation loss)."""
    cands = [r for r in runs if r.method == method]
    return max(cands, key=lambda r: (r.val_acc, -r.val_loss))


@register_lab("regularization", questions=("Q03", "Q04"), config=RegularizationLabConfig)
def run(cfg: RegularizationLabConfig, ctx: LabContext) -> None:
    """L1/L2 penalties and decoupled weight decay: train/test gap and sparsity on small data."""
    runs: dict[int, list[TrainedModel]] = {}
    jobs = [(s, m, st) for s in ctx.seeds for m, st in _grid(cfg)]
    splits = {s: _small_noisy_split(cfg, s) for s in ctx.seeds}
    for seed, method, strength in ctx.progress(jobs, "train", total=len(jobs)):
        data, train = splits[seed]
        runs.setdefault(seed, []).append(
            _train_one(cfg, ctx, data, train, method, strength, seed))
    picked = {s: {m: _pick(rs, m) for m in ("none", "adam", *METHODS)} for s, rs in runs.items()}
    ctx.table("runs", [r.row() for rs in runs.values() for r in rs])
    ctx.table("picked_on_validation", [
        {"seed": s, "method": m, "strength": r.strength, "val_acc": r.val_acc,
         "test_acc": r.test_acc, "gap": r.gap, "near_zero": r.near_zero}
        for s, ps in picked.items() for m, r in ps.items()])  # fmt: skip
    _gap_claims(ctx, picked)
    _sparsity_claim(cfg, ctx, picked)
    ctx.figure("gap_vs_strength", _plot_gap(runs, picked),
               caption="Train/test accuracy gap (left) and test accuracy (right) against "
               "penalty strength, mean over seeds; dashed: no penalty; ringed: the strength "
               "picked on validation (seed 0).")  # fmt: skip
    ctx.figure("near_zero_fraction", _plot_near_zero(cfg, runs),
               caption=f"Fraction of weights with |w| < {cfg.near_zero:g} against strength, "
               "mean over seeds.")  # fmt: skip
    ctx.figure("weight_histograms", _plot_histograms(cfg, picked[ctx.seeds[0]]),
               caption="Distribution of |w| (log scale) at the validation-picked strengths, "
               f"seed {ctx.seeds[0]}.")  # fmt: skip


Picked = dict[int, dict[str, TrainedModel]]  # seed -> method -> the validation-picked model


def _gap_claims(ctx: LabContext, picked: Picked) -> None:
    for method, base, cid in (("l2", "none", "l2-shrinks-gap"), ("l1", "none", "l1-shrinks-gap"),
                              ("adamw", "adam", "weight-decay-shrinks-gap")):  # fmt: skip
        before = [ps[base].gap for ps in picked.values()]
        after = [ps[method].gap for ps in picked.values()]
        ctx.metric(f"gap.{base}", sum(before) / len(picked))
        ctx.metric(f"gap.{method}", sum(after) / len(picked))
        ctx.claim(
            cid,
            f"{LABELS[method]} at a strength picked on validation shrinks the train/test "
            f"accuracy gap of the unregularized model ({LABELS[base]})",
            EverySeed(Greater()), a=before, b=after,
            metric=f"train - test accuracy gap, {base} - {method} at its val-picked strength,",
            why={"does not hold": "on {n_wider} of {n} seeds the gap with " + LABELS[method]
                 + " is not smaller: {b_mean:.3f} on average against {a_mean:.3f} for "
                 + LABELS[base] + " (picked strengths per seed: {strengths})"},
            facts={"n_wider": sum(x <= y for x, y in zip(before, after, strict=True)),
                   "strengths": [ps[method].strength for ps in picked.values()]},
        )  # fmt: skip


def _sparsity_claim(cfg: RegularizationLabConfig, ctx: LabContext, picked: Picked) -> None:
    ratios = []
    for ps in picked.values():
        n = ps["l2"].weights.numel()
        ratios.append(ps["l1"].near_zero / max(ps["l2"].near_zero, 1.0 / n))
    means = {}
    for m in ("none", "l1", "l2", "adamw"):
        means[m] = sum(ps[m].near_zero for ps in picked.values()) / len(picked)
        ctx.metric(f"near_zero.{m}", means[m])
    ctx.claim(
        "l1-sparser-than-l2",
        "L1 drives many more weights to (near) zero than L2, each at its validation-picked "
        "strength",
        EverySeed(AtLeast(cfg.sparsity_ratio)), values=ratios,
        metric=f"fraction(|w| < {cfg.near_zero:g}) under L1 / that under L2",
        why={"does not hold": "L1 leaves {l1:.2%} of the weights below {near_zero:g} and L2 "
             "{l2:.2%} (ratio {min:.3g} on the worst seed; picked L1 strengths per seed: "
             "{strengths})"},
        facts={"l1": means["l1"], "l2": means["l2"], "near_zero": cfg.near_zero,
               "strengths": [ps["l1"].strength for ps in picked.values()]},
    )  # fmt: skip


def _mean_by_strength(runs: dict[int, list[TrainedModel]], method: str, key: str
                      ) -> tuple[list[float], list[float]]:
    rows = [r for rs in runs.values() for r in rs if r.method == method]
    xs = sorted({r.strength for r in rows})
    ys = [sum(getattr(r, key) for r in rows if r.strength == x)
          / sum(1 for r in rows if r.strength == x) for x in xs]  # fmt: skip
    return xs, ys


def _plot_gap(runs: dict[int, list[TrainedModel]], picked: Picked) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    first = picked[min(picked)]
    for ax, key, title in ((axes[0], "gap", "train acc - test acc"),
                           (axes[1], "test_acc", "test accuracy")):  # fmt: skip
        for method in METHODS:
            xs, ys = _mean_by_strength(runs, method, key)
            ax.plot(xs, ys, "o-", color=COLORS[method], label=LABELS[method])
            pick = first[method]
            ax.plot([pick.strength], [getattr(pick, key)], "o", ms=12, mfc="none",
                    color=COLORS[method])  # fmt: skip
        for base in ("none", "adam"):
            _, ys = _mean_by_strength(runs, base, key)
            ax.axhline(ys[0], ls="--", color=COLORS[base], label=LABELS[base])
        ax.set_xscale("log")
        ax.set_xlabel("strength (lambda_1, lambda_2 or AdamW weight_decay)")
        ax.set_ylabel(title)
        ax.set_title(f"{title} vs penalty strength")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _plot_near_zero(cfg: RegularizationLabConfig, runs: dict[int, list[TrainedModel]]) -> Any:
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in METHODS:
        xs, ys = _mean_by_strength(runs, method, "near_zero")
        ax.plot(xs, ys, "o-", color=COLORS[method], label=LABELS[method])
    _, base = _mean_by_strength(runs, "none", "near_zero")
    ax.axhline(base[0], ls="--", color="black", label=LABELS["none"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("strength (lambda_1, lambda_2 or AdamW weight_decay)")
    ax.set_ylabel(f"fraction of weights with |w| < {cfg.near_zero:g}")
    ax.set_title("Near-zero weights vs penalty strength")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _plot_histograms(cfg: RegularizationLabConfig, picked: dict[str, TrainedModel]) -> Any:
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.logspace(-9, 0.5, 60)
    for method in ("none", "l1", "l2", "adamw"):
        r = picked[method]
        w = r.weights.abs().clamp_min(1e-9).numpy()
        ax.hist(w, bins=bins, histtype="step", lw=1.5, color=COLORS[method],
                label=f"{LABELS[method]} (strength {r.strength:g})")  # fmt: skip
    ax.axvline(cfg.near_zero, ls=":", color="grey", label=f"near-zero threshold {cfg.near_zero:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("|w| (values below 1e-9 shown at 1e-9)")
    ax.set_ylabel("number of weights")
    ax.set_title("Weight magnitudes at the validation-picked strengths")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
