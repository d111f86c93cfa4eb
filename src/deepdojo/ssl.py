r"""Self-supervised learning: the tasks beyond SimCLR, and judging a representation.

Training (each a :class:`~deepdojo.train.Task` for the one Trainer):

- :class:`VICRegTask`: SimCLR's two views, the VICReg loss (:func:`deepdojo.nn.losses.vicreg_loss`)
  instead of NT-Xent; no negatives.
- :class:`PretextTask`: an encoder plus a linear head classifying labels made from the data
  (:func:`deepdojo.models.ssl.rotate_batch`, :func:`deepdojo.models.ssl.permute_segments`).
- Masked / denoising reconstruction: :class:`deepdojo.train.ReconstructionTask` on
  ``nn.Sequential(encoder, mlp_decoder(...))``.

Evaluation of a frozen encoder ``f`` on labelled data (features ``f(x)``, shape ``(N, F)``):

- :func:`label_subset`: a stratified, seeded share of the labels (1%, 10%, 100%);
- :func:`linear_probe`: multinomial logistic regression on standardised features, the L2
  weight decay chosen from a grid on a stratified validation split of the labelled part, then
  refit on all of it;
- :func:`knn_accuracy`: majority vote of the ``k`` nearest labelled items (cosine similarity);
- :func:`fine_tune`: the encoder plus a linear head trained end to end, the encoder's learning
  rate scaled by ``backbone_lr_scale`` (``1``: the same rate everywhere; ``0.1``: 10x smaller).
  With a fresh random encoder it is supervised training from scratch.

Collapse of a representation is checked with :func:`deepdojo.diagnose.check_collapse`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.data.augment import Augmentation
from deepdojo.nn.losses.vicreg import VICRegTerms, vicreg_terms
from deepdojo.train.task import Task
from deepdojo.train.tasks._common import build_optimizer, check_positive, inputs_of
from deepdojo.train.tasks.contrastive import ContrastiveTask

__all__ = [
    "FineTuneResult",
    "PretextTask",
    "ProbeResult",
    "VICRegTask",
    "encode",
    "fine_tune",
    "fine_tune_steps",
    "knn_accuracy",
    "label_subset",
    "linear_probe",
    "mlp_decoder",
    "split_labelled",
    "stratified_folds",
]


# ---------------------------------------------------------------- tasks
class VICRegTask(ContrastiveTask):
    """Two views per item and the VICReg loss ``25 s + 25 v + 1 c`` (Bardes et al. 2022).

    Same arguments as :class:`~deepdojo.train.ContrastiveTask` (``temperature`` is unused),
    plus the three weights. ``last_terms`` keeps the unweighted terms of the last batch.
    """

    def __init__(self, encoder: nn.Module, projection_head: nn.Module | None = None, *,
                 sim_coeff: float = 25.0, std_coeff: float = 25.0, cov_coeff: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(encoder, projection_head, **kwargs)
        self.coeffs = tuple(check_positive(c, n, allow_zero=True) for c, n in
                            ((sim_coeff, "sim_coeff"), (std_coeff, "std_coeff"),
                             (cov_coeff, "cov_coeff")))  # fmt: skip
        self.last_terms: VICRegTerms | None = None

    def loss(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        from deepdojo.data.augment import two_views

        z1, z2 = self.project(*two_views(inputs, self.augment, None))  # (B, D) each
        terms = vicreg_terms(z1, z2)
        self.last_terms = VICRegTerms(*(t.detach() for t in terms))
        alignment = F.cosine_similarity(z1.detach(), z2.detach(), dim=1).mean()
        loss = sum(w * t for w, t in zip(self.coeffs, terms, strict=True))
        return loss, alignment  # type: ignore[return-value]


class PretextTask(Task):
    """Classify labels made from the inputs: ``CE(head(encoder(x')), y')``, ``(x', y') =
    make_pretext(x)``.

    Parameters
    ----------
    encoder : nn.Module
        ``(B, *) -> (B, F)``.
    head : nn.Module
        ``(B, F) -> (B, K)`` logits over the ``K`` pretext classes.
    make_pretext : callable
        ``x -> (x', y')``, e.g. :func:`~deepdojo.models.ssl.rotate_batch` or
        ``lambda x: permute_segments(x, 3)`` (draws from torch's global RNG, which the Trainer
        seeds).
    lr, optimizer
        Named optimizer and its learning rate.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module,
                 make_pretext: Callable[[Tensor], tuple[Tensor, Tensor]], *,
                 optimizer: str = "adam", lr: float = 1e-3) -> None:
        if not isinstance(encoder, nn.Module) or not isinstance(head, nn.Module):
            raise TypeError("encoder and head must be torch.nn.Module instances")
        if not callable(make_pretext):
            raise TypeError(f"make_pretext must be callable, got {type(make_pretext).__name__}")
        super().__init__()
        self.encoder, self.head, self.make_pretext = encoder, head, make_pretext
        self.optimizer_spec, self.lr = optimizer, check_positive(lr, "lr")

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": build_optimizer(self.optimizer_spec, self, self.lr, None)}

    def loss(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        x, y = self.make_pretext(inputs)
        logits = self.head(self.encoder(x))  # (B', K)
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        loss, acc = self.loss(inputs_of(batch))
        if (yield "model", loss):
            self.log("pretext_accuracy", acc.detach())

    def validation_step(self, batch: Any) -> dict[str, float]:
        loss, acc = self.loss(inputs_of(batch))
        return {"loss": float(loss), "pretext_accuracy": float(acc)}

    def forward(self, inputs: Tensor) -> Tensor:
        return self.encoder(inputs)


def mlp_decoder(feature_size: int, output_shape: Sequence[int], hidden: int = 128) -> nn.Module:
    """``(B, F) -> (B, *output_shape)``: ``Linear -> ReLU -> Linear -> reshape``."""
    shape = tuple(output_shape)
    return nn.Sequential(nn.Linear(feature_size, hidden), nn.ReLU(),
                         nn.Linear(hidden, math.prod(shape)), nn.Unflatten(1, shape))


# ---------------------------------------------------------------- labels
def _labels(y: Any) -> np.ndarray:
    arr = y.detach().cpu().numpy() if isinstance(y, Tensor) else np.asarray(y)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"y must be a non-empty 1-D array of integer labels, got {arr.shape}")
    return arr


def label_subset(y: Any, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified, seeded share ``fraction`` of the labels.

    Each class ``c`` with ``n_c`` items keeps ``max(1, round(fraction * n_c))`` of them, drawn
    without replacement; ``fraction=1`` keeps everything.
    """
    labels = _labels(y)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not (
        0 < fraction <= 1
    ):
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n = max(1, int(round(fraction * idx.size)))
        keep.append(rng.choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(keep))


def split_labelled(y: Any, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(fit, val)`` positions into ``y``: per class ``floor(val_fraction * n_c)``,
    at least 1 when the class has 2 or more items, go to validation."""
    labels = _labels(y)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    rng = np.random.default_rng(seed)
    fit, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = max(1, int(val_fraction * idx.size)) if idx.size >= 2 else 0
        val.append(idx[:n_val])
        fit.append(idx[n_val:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(val))


def stratified_folds(y: Any, folds: int, seed: int) -> list[np.ndarray]:
    """``folds`` disjoint position arrays covering ``y``: each class's items are shuffled
    (seeded) and dealt round-robin, so every fold gets ``floor`` or ``ceil`` of
    ``n_c / folds`` of class ``c`` and every item lands in exactly one fold."""
    labels = _labels(y)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an int >= 2, got {folds!r}")
    rng = np.random.default_rng(seed)
    out: list[list[int]] = [[] for _ in range(folds)]
    start = 0
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        for j, i in enumerate(idx):
            out[(start + j) % folds].append(int(i))
        start += idx.size  # continue dealing where the last class stopped: balanced sizes
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in out]


# ---------------------------------------------------------------- frozen features
@torch.no_grad()
def encode(encoder: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """``encoder(x)`` in eval mode, batch by batch, ``(N, F)``; the mode is restored."""
    was = encoder.training
    encoder.eval()
    try:
        return torch.cat([encoder(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        encoder.train(was)


@dataclass
class ProbeResult:
    """Test ``accuracy`` of the refit probe, the chosen ``weight_decay`` and the validation
    accuracy of every grid value."""

    accuracy: float
    weight_decay: float
    val_accuracy: dict[float, float] = field(default_factory=dict)


def _logistic(x: np.ndarray, y: np.ndarray, weight_decay: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    # sklearn minimises C * sum_i CE_i + |W|^2 / 2; the mean CE + (wd / 2)|W|^2 has C = 1/(wd n)
    model = LogisticRegression(C=1.0 / (weight_decay * len(y)), max_iter=500)
    return model.fit(x, y)


def linear_probe(train_features: Tensor, train_y: Any, test_features: Tensor, test_y: Any, *,
                 weight_decays: Sequence[float] = (1e-3, 1e-2, 1e-1), val_fraction: float = 1 / 3,
                 seed: int = 0) -> ProbeResult:
    """Logistic regression on frozen features, weight decay chosen on validation, then refit.

    Features are standardised with the labelled part's mean and std. The loss is the mean
    cross entropy plus ``weight_decay / 2 * ||W||^2`` (lbfgs). The grid value with the best
    accuracy on a stratified validation split (:func:`split_labelled`; ties: the larger weight
    decay) is refit on all labelled rows and scored on the test rows.
    """
    xtr = _features(train_features, "train_features")
    xte = _features(test_features, "test_features")
    ytr, yte = _labels(train_y), _labels(test_y)
    if len(ytr) != len(xtr) or len(yte) != len(xte):
        raise ValueError("features and labels must have the same number of rows")
    if not weight_decays or any(not w > 0 for w in weight_decays):
        raise ValueError(f"weight_decays must be positive numbers, got {weight_decays!r}")
    mean, std = xtr.mean(0), xtr.std(0) + 1e-8
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    fit, val = split_labelled(ytr, val_fraction, seed)
    scores: dict[float, float] = {}
    for wd in weight_decays:
        if len(np.unique(ytr[fit])) < 2 or len(val) == 0:
            scores[float(wd)] = 0.0
            continue
        scores[float(wd)] = float((_logistic(xtr[fit], ytr[fit], wd).predict(xtr[val])
                                   == ytr[val]).mean())  # fmt: skip
    best = max(sorted(scores, reverse=True), key=lambda w: scores[w])
    acc = float((_logistic(xtr, ytr, best).predict(xte) == yte).mean())
    return ProbeResult(acc, best, scores)


def _features(x: Any, name: str) -> np.ndarray:
    arr = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, float)
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite (N, F) array, got shape {arr.shape}")
    return arr


def knn_accuracy(train_features: Tensor, train_y: Any, test_features: Tensor, test_y: Any,
                 k: int = 20) -> float:
    """Accuracy of a ``k``-nearest-neighbour vote under cosine similarity (ties: lowest label).

    ``k`` is capped at the number of labelled rows. With ``k`` near the labelled rows of a
    class or more, every query gets nearly the same votes: keep ``k`` below the smallest
    class's labelled count (with one label per class, ``k = 1``).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    xtr = F.normalize(torch.as_tensor(_features(train_features, "train_features")), dim=1)
    xte = F.normalize(torch.as_tensor(_features(test_features, "test_features")), dim=1)
    ytr, yte = torch.as_tensor(_labels(train_y)), torch.as_tensor(_labels(test_y))
    k = min(k, len(ytr))
    nearest = (xte @ xtr.T).topk(k, dim=1).indices  # (N_test, k)
    votes = F.one_hot(ytr[nearest], int(max(ytr.max(), yte.max())) + 1).sum(1)  # (N_test, K)
    return float((votes.argmax(1) == yte).double().mean())


# ---------------------------------------------------------------- fine-tuning
@dataclass
class FineTuneResult:
    """The trained ``model`` (encoder + head), validation accuracy every ``eval_every`` steps
    (``val_curve``, empty without validation data), the step of its best value, and the
    validation cross-entropy at the same steps (``val_loss_curve``)."""

    model: nn.Module
    val_curve: list[tuple[int, float]]
    best_step: int
    val_loss_curve: list[tuple[int, float]] = field(default_factory=list)


def fine_tune(encoder: nn.Module, x: Tensor, y: Tensor, *, num_classes: int, lr: float = 1e-3,
              steps: int = 300, batch_size: int = 64, backbone_lr_scale: float = 1.0,
              weight_decay: float = 0.0, augment: Augmentation | None = None, seed: int = 0,
              val: tuple[Tensor, Tensor] | None = None, eval_every: int = 25,
              patience: int | None = None) -> FineTuneResult:
    """Train a copy of ``encoder`` plus a linear head ``(B, F) -> (B, K)`` with Adam(W).

    The encoder's parameters use ``lr * backbone_lr_scale`` (0: frozen), the head ``lr``.
    Each step draws a batch (seeded), augments it, and takes one cross-entropy step. The
    returned model is the one at the end of training; ``best_step`` tells how many steps the
    validation set liked best (accuracy, ties: lower cross-entropy, then earlier), for a refit
    on all labels. With ``val`` and ``patience``, training stops early once ``patience``
    evaluations in a row have not beaten the best (early stopping); the curves end there.
    """
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)
                                 or patience < 1):
        raise ValueError(f"patience must be an int >= 1 or None, got {patience!r}")
    run = fine_tune_steps(encoder, x, y, num_classes=num_classes, lr=lr, steps=steps,
                          batch_size=batch_size, backbone_lr_scale=backbone_lr_scale,
                          weight_decay=weight_decay, augment=augment, seed=seed, val=val,
                          eval_every=eval_every)
    curve: list[tuple[int, float]] = []
    loss_curve: list[tuple[int, float]] = []
    best_key, since_best = (-1.0, -math.inf), 0
    try:
        while True:
            step, acc, ce = next(run)
            curve.append((step, acc))
            loss_curve.append((step, ce))
            best_key, since_best = ((acc, -ce), 0) if (acc, -ce) > best_key else (
                best_key, since_best + 1)
            if patience is not None and since_best >= patience:
                model = run.model  # type: ignore[attr-defined]
                break
    except StopIteration as done:
        model = done.value
    best = steps
    if curve:  # best accuracy; ties: lower cross-entropy, then the earlier step
        best = max(zip(curve, loss_curve, strict=True),
                   key=lambda p: (p[0][1], -p[1][1], -p[0][0]))[0][0]
    return FineTuneResult(model.eval(), curve, best, loss_curve)


class _Steps:
    """The generator of :func:`fine_tune_steps` with its ``model`` reachable mid-run."""

    def __init__(self, model: nn.Module, gen: Iterator[tuple[int, float, float]]) -> None:
        self.model, self._gen = model, gen

    def __iter__(self) -> _Steps:
        return self

    def __next__(self) -> tuple[int, float, float]:
        return next(self._gen)


def fine_tune_steps(encoder: nn.Module, x: Tensor, y: Tensor, *, num_classes: int,
                    lr: float = 1e-3, steps: int = 300, batch_size: int = 64,
                    backbone_lr_scale: float = 1.0, weight_decay: float = 0.0,
                    augment: Augmentation | None = None, seed: int = 0,
                    val: tuple[Tensor, Tensor] | None = None, eval_every: int = 25) -> _Steps:
    """:func:`fine_tune` one evaluation at a time: an iterator of ``(step, validation
    accuracy, validation cross-entropy)`` every ``eval_every`` steps (and at the last step);
    its ``model`` attribute is the model being trained (a caller stops whenever it likes, e.g.
    several cross-validation folds in lockstep); when exhausted, StopIteration's ``value`` is
    the trained model in eval mode. Without ``val`` nothing is yielded."""
    check_positive(lr, "lr")
    check_positive(backbone_lr_scale, "backbone_lr_scale", allow_zero=True)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    backbone = copy.deepcopy(encoder)
    with torch.no_grad():
        feat = backbone(x[:2]).shape[1]
    model = nn.Sequential(backbone, nn.Linear(feat, num_classes))
    groups = [{"params": model[1].parameters(), "lr": lr}]
    if backbone_lr_scale > 0:
        groups.append({"params": backbone.parameters(), "lr": lr * backbone_lr_scale})
    else:
        backbone.requires_grad_(False)
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, foreach=True)

    def loop() -> Iterator[tuple[int, float, float]]:
        model.train()
        for step in range(1, steps + 1):
            idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=gen)
            xb = x[idx] if augment is None else augment(x[idx], gen)  # augmented batch
            loss = F.cross_entropy(model(xb), y[idx])  # forward, loss
            loss.backward()  # backward
            optimizer.step()  # step
            optimizer.zero_grad(set_to_none=True)  # zero_grad
            if val is not None and (step % eval_every == 0 or step == steps):
                acc, ce = accuracy(model, *val), _cross_entropy(model, *val)
                model.train()
                yield step, acc, ce
        return model.eval()

    return _Steps(model, loop())


@torch.no_grad()
def _cross_entropy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Mean cross-entropy of ``model(x)`` against ``y`` in eval mode."""
    model.eval()
    return float(F.cross_entropy(encode(model, x), y))


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Share of ``argmax model(x) == y`` in eval mode."""
    model.eval()
    return float((encode(model, x).argmax(1) == y).float().mean())
