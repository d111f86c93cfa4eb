"""Measurements of the ``self-supervised`` lab: pretrain, then judge the frozen features.

One call of :func:`run_seed` per (dataset, seed). Every arm starts from the same seeded
encoder initialisation; the random-encoder control *is* that initialisation, frozen. The
supervised arm and every fine-tuning arm choose (lr, steps) on validation rows drawn from the
labelled rows only -- ``cv_folds``-fold stratified cross-validation (every labelled item
validates once; pooled accuracy, ties to the lower pooled cross-entropy) when fewer than
``cv_below`` items are labelled, a stratified third otherwise -- and are refit on all of them;
the linear probe chooses its weight decay on the labelled rows as well. :func:`tune_pretraining`
chooses SimCLR's (lr, temperature) and VICReg's (lr, invariance weight) on a validation part of
the unlabelled pool (linear probe fit on the rest of the pool), never on test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from deepdojo.data import load_digits, load_mnist1d
from deepdojo.data.augment import Compose, Crop, GaussianNoise, Mask, Scale, Shear, Shift
from deepdojo.diagnose import check_collapse
from deepdojo.models.ssl import (
    ImageEncoder,
    ProjectionHead,
    SignalEncoder,
    permute_segments,
    rotate_batch,
)
from deepdojo.ssl import (
    PretextTask,
    VICRegTask,
    encode,
    fine_tune,
    fine_tune_steps,
    knn_accuracy,
    label_subset,
    linear_probe,
    mlp_decoder,
    split_labelled,
    stratified_folds,
)
from deepdojo.train import Trainer
from deepdojo.train.tasks import ContrastiveTask, ReconstructionTask

ORDER_SEGMENTS = 4  # MNIST-1D's 40 points -> 4 segments of 10, 24 orders


@dataclass
class Data:
    """Train rows (unlabelled pool; labels used only through :func:`label_subset`) and test."""

    name: str
    x: Tensor
    y: Tensor
    x_test: Tensor
    y_test: Tensor


@dataclass
class Arm:
    """One frozen encoder's scores per label fraction, and its collapse statistics."""

    probe: dict[float, float] = field(default_factory=dict)
    probe_wd: dict[float, float] = field(default_factory=dict)
    knn: dict[float, float] = field(default_factory=dict)
    std_sqrt_d: float = float("nan")  # of the centred embeddings (what the check judges)
    raw_std_sqrt_d: float = float("nan")  # of the embeddings as they are (offset included)
    min_dim_std: float = float("nan")  # the smallest per-dimension std (a dead dimension: 0)
    erank: float = float("nan")
    collapse: str = ""  # the collapse check's kind: "collapse" or "healthy"
    pretrain_s: float = 0.0


@dataclass
class Fit:
    """An end-to-end classifier's test accuracy and the chosen lr and steps."""

    accuracy: float
    lr: float
    steps: int


@dataclass
class SeedRun:
    """Everything one seed measured on one dataset."""

    dataset: str
    seed: int
    arms: dict[str, Arm]
    supervised: dict[float, Fit]
    finetune: dict[str, dict[float, Fit]] = field(default_factory=dict)  # scale -> fraction
    embedding: np.ndarray | None = None  # 2-D PCA of test embeddings (first seed)
    embedding_labels: np.ndarray | None = None


def load(name: str, seed: int, mnist1d_samples: int) -> Data:
    """MNIST-1D ``(N, 1, 40)`` or digits ``(N, 1, 8, 8)``; the validation split joins train
    (labelled validation comes from the labelled part itself)."""
    if name == "mnist1d":
        s = load_mnist1d(num_samples=mnist1d_samples, seed=seed, val_fraction=0.1,
                         test_fraction=0.2)
    elif name == "digits":
        s = load_digits(seed=seed, val_fraction=0.1, test_fraction=0.2)
    else:
        raise ValueError(f"dataset must be 'mnist1d' or 'digits', got {name!r}")
    return Data(name, torch.cat([s.train.X, s.val.X]), torch.cat([s.train.y, s.val.y]),
                s.test.X, s.test.y)


def views(name: str) -> Compose:
    """SimCLR/VICReg views, also used to augment the supervised and fine-tuning batches.

    MNIST-1D (standardised signals, std 1): circular shift up to 12 of 40 points, amplitude
    x U[0.8, 1.2], resized crop keeping 70-100% of the length, a linear trend (shear) of rise
    up to +-2, noise 0.1 -- the nuisances MNIST-1D's generator itself applies (translation,
    dilation, scale, shear, noise). Chosen 2026-12-04 over the earlier 4-point shift with a 15%
    cutout (see the lab docstring)."""
    if name == "mnist1d":
        return Compose([Shift(12, "roll"), Scale((0.8, 1.2)), Crop((0.7, 1.0)), Shear(2.0),
                        GaussianNoise(0.1)])  # fmt: skip
    return Compose([Shift(1, "zero"), Crop((0.6, 1.0)), GaussianNoise(0.05), Mask(0.15)])


def new_encoder(name: str, seed: int, channels: int, feature_size: int) -> nn.Module:
    torch.manual_seed(seed)
    if name == "mnist1d":
        return SignalEncoder(1, 40, channels, feature_size)
    return ImageEncoder(1, 8, channels, feature_size)


def pretrain(method: str, data: Data, encoder: nn.Module, *, seed: int, epochs: int,
             batch_size: int, lr: float, temperature: float, sim_coeff: float = 25.0
             ) -> nn.Module:
    """Train ``encoder`` in place with one pretext task (no labels) and return it."""
    feat = encoder.feature_size
    head = ProjectionHead(feat, 2 * feat, feat)
    if method == "simclr":
        task = ContrastiveTask(encoder, head, augment=views(data.name), temperature=temperature,
                               lr=lr)
    elif method == "vicreg":
        task = VICRegTask(encoder, head, augment=views(data.name), lr=lr, sim_coeff=sim_coeff)
    elif method == "rotation":
        task = PretextTask(encoder, nn.Linear(feat, 4), rotate_batch, lr=lr)
    elif method == "order":
        task = PretextTask(encoder, nn.Linear(feat, 24),
                           lambda x: permute_segments(x, ORDER_SEGMENTS), lr=lr)
    elif method == "masked":
        task = ReconstructionTask(nn.Sequential(encoder, mlp_decoder(feat, data.x.shape[1:])),
                                  mask_fraction=0.25, lr=lr)
    else:
        raise ValueError(f"unknown pretext method {method!r}")
    Trainer(task, seed=seed, progress="off", device="cpu").fit(data.x, epochs=epochs,
                                                               batch_size=batch_size)
    return encoder


def evaluate(encoder: nn.Module, data: Data, fractions: tuple[float, ...], seed: int, *,
             weight_decays: tuple[float, ...], knn_k: int, with_knn: bool) -> Arm:
    """Linear probe (and kNN) at each label fraction; collapse statistics on the test rows.

    The no-collapse statistic is std x sqrt(d) of the l2-normalised *centred* test embeddings:
    a constant offset shared by every row (the encoder's last layer is affine) carries no
    information, yet it points every normalised row the same way and shrinks the uncentred
    statistic (kept as ``raw_std_sqrt_d``); the effective rank is centred already."""
    feats, feats_test = encode(encoder, data.x), encode(encoder, data.x_test)  # (N, F)
    finding = check_collapse(feats_test)
    centred = check_collapse(feats_test - feats_test.mean(0))
    arm = Arm(std_sqrt_d=centred.evidence["std_times_sqrt_d"],
              raw_std_sqrt_d=finding.evidence["std_times_sqrt_d"],
              min_dim_std=float(feats_test.std(0).min()),
              erank=finding.evidence["effective_rank"], collapse=finding.kind)
    for frac in fractions:
        idx = label_subset(data.y, frac, seed)
        probe = linear_probe(feats[idx], data.y[idx], feats_test, data.y_test,
                             weight_decays=weight_decays, seed=seed)
        arm.probe[frac], arm.probe_wd[frac] = probe.accuracy, probe.weight_decay
        if with_knn:  # k at most the smallest class's labelled count: k >= N votes a constant
            k = min(knn_k, int(np.bincount(data.y[idx].numpy()).min()))
            arm.knn[frac] = knn_accuracy(feats[idx], data.y[idx], feats_test, data.y_test, k)
    return arm


def end_to_end(encoder: nn.Module, data: Data, frac: float, seed: int, *, lrs: tuple[float, ...],
               steps: int, batch_size: int, backbone_lr_scale: float = 1.0, cv_folds: int = 3,
               cv_below: int = 100, patience: int | None = None) -> Fit:
    """Encoder + linear head trained on the labelled rows, (lr, steps) chosen on validation
    rows from the labelled rows only, then refit on all labelled rows.

    Fewer than ``cv_below`` labelled items: ``cv_folds``-fold stratified cross-validation,
    each item validating once; a checkpoint's score is the pooled accuracy over all labelled
    items (ties: lower pooled cross-entropy, then the earlier step). Otherwise a stratified
    validation third. Without validation rows (one item per class) the first lr and all steps
    are used. With ``patience``, an lr's run stops early once ``patience`` evaluations in a
    row have not beaten its best pooled score (the folds train in lockstep, so every scored
    step has every fold's measurement)."""
    idx = label_subset(data.y, frac, seed)
    x, y = data.x[idx], data.y[idx]
    aug, k = views(data.name), int(data.y.max()) + 1
    if len(idx) < cv_below and int(np.bincount(y.numpy()).min()) >= cv_folds:
        parts = stratified_folds(y, cv_folds, seed)
        splits = [(np.setdiff1d(np.arange(len(idx)), p), p) for p in parts]
    else:
        fit, val = split_labelled(y, 1 / 3, seed)
        splits = [(fit, val)] if len(val) else []
    best = (lrs[0], steps, -1.0, 0.0)  # lr, step, pooled accuracy, -pooled cross-entropy
    total = sum(len(v) for _, v in splits)
    for lr in lrs if splits else ():
        runs = [fine_tune_steps(encoder, x[fit], y[fit], num_classes=k, lr=lr, steps=steps,
                                batch_size=batch_size, augment=aug, seed=seed,
                                backbone_lr_scale=backbone_lr_scale, val=(x[val], y[val]))
                for fit, val in splits]
        lr_best, since = (-1.0, 0.0), 0
        for points in zip(*runs, strict=True):  # the folds in lockstep, one evaluation each
            step = points[0][0]
            key = (sum(acc * len(v) for (_, acc, _), (_, v) in zip(points, splits, strict=True))
                   / total,
                   -sum(ce * len(v) for (_, _, ce), (_, v) in zip(points, splits, strict=True))
                   / total)
            if key > best[2:]:
                best = (lr, step, *key)
            lr_best, since = (key, 0) if key > lr_best else (lr_best, since + 1)
            if patience is not None and since >= patience:
                break  # early stopping on the pooled validation score
    final = fine_tune(encoder, x, y, num_classes=k, lr=best[0], steps=best[1],
                      batch_size=batch_size, augment=aug, seed=seed,
                      backbone_lr_scale=backbone_lr_scale)
    acc = float((encode(final.model, data.x_test).argmax(1) == data.y_test).float().mean())
    return Fit(acc, best[0], best[1])


def tune_pretraining(method: str, data: Data, seed: int, grid: list[dict[str, float]], *,
                     epochs: int, batch_size: int, channels: int, feature_size: int,
                     weight_decays: tuple[float, ...], val_fraction: float = 0.2
                     ) -> tuple[dict[str, float], list[dict]]:
    """Pick ``method``'s pretraining settings from ``grid`` on a validation part of the pool.

    The pool's rows are split (stratified, seeded) into a validation ``val_fraction`` and the
    rest; each setting pretrains from the seed's initialisation on the rest, and a linear probe
    fit on the rest's features (all their labels) is scored on the validation rows. Test rows
    are never touched. Returns the best setting (ties: the first in ``grid``) and one row per
    setting."""
    fit, val = split_labelled(data.y, val_fraction, seed)
    part = Data(data.name, data.x[fit], data.y[fit], data.x[val], data.y[val])
    rows, best = [], (grid[0], -1.0)
    for setting in grid:
        kw = {"lr": 3e-3, "temperature": 0.2, **setting}
        enc = pretrain(method, part, new_encoder(data.name, seed, channels, feature_size),
                       seed=seed, epochs=epochs, batch_size=batch_size, **kw)
        probe = linear_probe(encode(enc, part.x), part.y, encode(enc, part.x_test), part.y_test,
                             weight_decays=weight_decays, seed=seed)
        rows.append({"method": method, "seed": seed, **setting,
                     "val_probe_accuracy": probe.accuracy})
        if probe.accuracy > best[1]:
            best = (setting, probe.accuracy)
    return dict(best[0]), rows


def pca2(x: Tensor) -> np.ndarray:
    """The first two principal components of ``(N, F)`` rows, ``(N, 2)``."""
    z = x.double() - x.double().mean(0)
    _, _, v = torch.linalg.svd(z, full_matrices=False)
    return (z @ v[:2].T).numpy()


def epochs_of(method: str, dataset: str, cfg) -> int:
    """Pretraining epochs: ``digits_epochs`` on digits, ``epochs`` for SimCLR / VICReg on
    MNIST-1D, ``pretext_epochs`` for order / masked there."""
    if dataset == "digits":
        return cfg.digits_epochs
    return cfg.epochs if method in ("simclr", "vicreg") else cfg.pretext_epochs


@dataclass
class Plan:
    """What one seed runs: methods to pretrain, fractions, and the optional parts."""

    methods: tuple[str, ...]
    fractions: tuple[float, ...]
    knn: bool
    finetune_scales: tuple[float, ...]
    finetune_fractions: tuple[float, ...]
    supervised: bool = True  # train the supervised-from-scratch arm


def run_seed(data: Data, seed: int, plan: Plan, cfg, *, keep_embedding: bool,
             settings: dict[str, dict[str, float]] | None = None) -> SeedRun:
    """Pretrain each method from the seed's initialisation (with ``settings[method]``, e.g.
    the tuned lr and temperature, over the config's defaults), evaluate; supervised arms."""
    settings = settings or {}
    kw = dict(weight_decays=cfg.probe_weight_decays, knn_k=cfg.knn_k, with_knn=plan.knn)
    init = dict(channels=cfg.channels, feature_size=cfg.feature_size)
    arms = {"random": evaluate(new_encoder(data.name, seed, **init), data, plan.fractions,
                               seed, **kw),
            "random_b": evaluate(new_encoder(data.name, seed + 500, **init), data,
                                 plan.fractions, seed, **kw)}
    encoders: dict[str, nn.Module] = {}
    for method in plan.methods:
        t = time.process_time()
        enc = pretrain(method, data, new_encoder(data.name, seed, **init), seed=seed,
                       epochs=epochs_of(method, data.name, cfg),
                       batch_size=cfg.batch_size, **{"lr": cfg.pretrain_lr,
                                                     "temperature": cfg.temperature,
                                                     **settings.get(method, {})})
        spent = time.process_time() - t
        arms[method] = evaluate(enc, data, plan.fractions, seed, **kw)
        arms[method].pretrain_s = spent
        encoders[method] = enc
    sup_kw = dict(lrs=cfg.finetune_lrs, steps=cfg.finetune_steps, batch_size=cfg.ft_batch_size,
                  cv_folds=cfg.cv_folds, cv_below=cfg.cv_below, patience=cfg.patience)
    supervised = {f: end_to_end(new_encoder(data.name, seed, **init), data, f, seed, **sup_kw)
                  for f in plan.fractions} if plan.supervised else {}
    run = SeedRun(data.name, seed, arms, supervised)
    if plan.finetune_scales and "simclr" in encoders:
        run.finetune = {f"{s:g}": {f: end_to_end(encoders["simclr"], data, f, seed,
                                                 backbone_lr_scale=s, **sup_kw)
                                   for f in plan.finetune_fractions}
                        for s in plan.finetune_scales}
    if keep_embedding and "simclr" in encoders:
        run.embedding = pca2(encode(encoders["simclr"], data.x_test))
        run.embedding_labels = data.y_test.numpy()
    return run
