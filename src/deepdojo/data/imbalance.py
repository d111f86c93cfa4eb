"""Imbalanced data: make it, resample it (also under DDP) and weight it.

- :func:`make_imbalanced` subsamples classes to chosen ratios; :func:`imbalanced_splits` does
  that and a stratified train/val/test split, and refuses splits left without a class.
- :class:`BalancedSampler` is a ``torch.utils.data.Sampler`` that over- or under-samples by
  class weights; under DDP every rank reads a disjoint share of one common weighted draw.
- :class:`ResampledDataset` wraps imbalanced-learn's samplers (random over/under, SMOTE,
  BorderlineSMOTE, ADASYN, SMOTEENN, Tomek links); nothing here re-implements them.
- :func:`class_weights` gives per-class loss weights (inverse, sqrt-inverse or the effective
  number of Cui et al. 2019) for cross-entropy, binary cross-entropy and per-pixel targets.

Related techniques live in :mod:`deepdojo.data.imbalance_features` (generated features,
minority augmentation) and :mod:`deepdojo.data.imbalance_models` (balanced bagging, transfer,
anomaly-detection framing).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from deepdojo.data.datasets import DataSplits, Split, _as_tensor, train_val_test_split
from deepdojo.nn.losses import effective_number_weights

Tensor = torch.Tensor

__all__ = [
    "SAMPLERS",
    "BalancedSampler",
    "ResampledDataset",
    "check_splits",
    "class_counts",
    "class_weights",
    "imbalanced_splits",
    "make_imbalanced",
]


def class_counts(y: Any, num_classes: int | None = None, ignore_index: int | None = None) -> Tensor:
    """Samples per class of integer labels of any shape ``(N, *)``, as an int64 ``(C,)`` tensor.

    Dense targets (``(N, H, W)`` segmentation masks) count every pixel; ``ignore_index``
    (e.g. 255) is left out.
    """
    labels = _as_tensor(y, "y")
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"y must hold integer class labels, got dtype {labels.dtype}")
    flat = labels.reshape(-1).long()
    if ignore_index is not None:
        flat = flat[flat != ignore_index]
    if flat.numel() == 0:
        raise ValueError("y is empty (after removing ignore_index)")
    if int(flat.min()) < 0:
        raise ValueError(f"class labels in y must be >= 0, got {int(flat.min())}")
    high = int(flat.max())
    if num_classes is not None and high >= num_classes:
        raise ValueError(f"num_classes={num_classes} but y holds label {high}")
    return torch.bincount(flat, minlength=num_classes or high + 1)


def _require_two_classes(counts: Tensor, arg: str = "y") -> None:
    present = int((counts > 0).sum())
    if present < 2:
        only = int(torch.nonzero(counts)[0]) if present else None
        raise ValueError(f"{arg} has a single class ({only}); imbalance handling needs >= 2")


def class_weights(
    y: Any,
    method: str = "inverse",
    beta: float = 0.999,
    *,
    num_classes: int | None = None,
    ignore_index: int | None = None,
) -> Tensor:
    """Per-class loss weights, normalised so they sum to the number of classes ``C``.

    .. math::
        \\text{inverse: } w_c \\propto \\frac{1}{n_c} \\qquad
        \\text{sqrt\\_inverse: } w_c \\propto \\frac{1}{\\sqrt{n_c}} \\qquad
        \\text{effective\\_number: } w_c \\propto \\frac{1 - \\beta}{1 - \\beta^{n_c}}

    (the last from Cui et al., CVPR 2019; see
    :func:`deepdojo.nn.losses.effective_number_weights`).

    How to use them:

    - cross-entropy: ``nn.CrossEntropyLoss(weight=w)``; the same call handles dense targets,
      logits ``(N, C, H, W)`` against masks ``(N, H, W)`` (count the masks' pixels here);
    - binary cross-entropy: ``nn.BCEWithLogitsLoss(pos_weight=w[1] / w[0])`` equals the
      per-element weighting ``w[y]`` up to the constant factor ``w[0]``; for masks ``(N, H, W)``
      of 0/1 pixels the same ``pos_weight`` applies per pixel;
    - focal loss: ``FocalLoss(alpha=w, task="multiclass")``.

    Parameters
    ----------
    y : (N, *) integer labels
        Training labels; for dense targets every pixel counts.
    method : {"inverse", "sqrt_inverse", "effective_number"}
    beta : float
        For ``effective_number``, in [0, 1).
    num_classes : int, optional
        Needed when the highest class may be absent from ``y`` (it is then an error: a weight
        for a class with no samples is undefined).
    ignore_index : int, optional
        Label to leave out of the counts (e.g. 255 in segmentation masks).

    Returns
    -------
    Tensor, shape (C,), float32.
    """
    counts = class_counts(y, num_classes, ignore_index)
    _require_two_classes(counts)
    if bool((counts == 0).any()):
        empty = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"classes {empty} have no samples in y; their weights are undefined")
    n = counts.double()
    if method == "inverse":
        raw = 1.0 / n
    elif method == "sqrt_inverse":
        raw = n.rsqrt()
    elif method == "effective_number":
        return effective_number_weights(counts, beta).float()
    else:
        raise ValueError(
            f"method must be 'inverse', 'sqrt_inverse' or 'effective_number', got {method!r}"
        )
    return (raw * len(n) / raw.sum()).float()


def make_imbalanced(
    X: Any,
    y: Any,
    ratios: Mapping[int, float],
    seed: int = 0,
    *,
    return_indices: bool = False,
) -> Split | tuple[Split, Tensor]:
    """Subsample classes so that class ``c`` has ``ratios[c]`` times the largest class's count.

    ``make_imbalanced(X, y, {1: 0.01})`` keeps every other class whole and a random 1 % (of the
    largest class's count) of class 1: a 1:100 problem. Kept rows stay in their original order.

    Parameters
    ----------
    X : (N, *) features.
    y : (N,) integer labels.
    ratios : mapping class -> float in (0, 1]
        Target size of each listed class relative to the largest class's original count.
    seed : int
        Seed of the subsample.
    return_indices : bool
        Also return the kept row indices ``(M,)`` (e.g. to reuse the dropped rows elsewhere).

    Returns
    -------
    Split ``(X, y)``, and the kept indices when asked.
    """
    X_t, y_t = _as_tensor(X, "X"), _as_tensor(y, "y")
    if y_t.ndim != 1 or len(X_t) != len(y_t):
        raise ValueError(
            f"X (N, *) and y (N,) must match, got {tuple(X_t.shape)}, {tuple(y_t.shape)}"
        )
    counts = class_counts(y_t)
    _require_two_classes(counts)
    largest = int(counts.max())
    rng = np.random.default_rng(seed)
    keep = np.ones(len(y_t), dtype=bool)
    labels = y_t.cpu().numpy()
    for cls, ratio in ratios.items():
        if not 0.0 < float(ratio) <= 1.0:
            raise ValueError(f"ratios[{cls}] must be in (0, 1], got {ratio!r}")
        if not 0 <= int(cls) < len(counts) or counts[int(cls)] == 0:
            raise ValueError(f"ratios names class {cls!r}, which is not in y")
        rows = np.flatnonzero(labels == int(cls))
        target = round(largest * float(ratio))
        if target < 1:
            raise ValueError(
                f"ratios[{cls}]={ratio} leaves class {cls} empty (largest class has {largest})"
            )
        if target > len(rows):
            raise ValueError(
                f"ratios[{cls}]={ratio} asks for {target} rows of class {cls} but it has only "
                f"{len(rows)}: make_imbalanced only subsamples (use BalancedSampler or "
                "ResampledDataset to oversample)"
            )
        keep[rng.choice(rows, size=len(rows) - target, replace=False)] = False
    index = torch.as_tensor(np.flatnonzero(keep))
    split = Split(X_t[index], y_t[index].long())
    return (split, index) if return_indices else split


def check_splits(splits: DataSplits) -> DataSplits:
    """Raise a clear ``ValueError`` if any class is missing from the train, val or test split."""
    for part in ("train", "val", "test"):
        counts = class_counts(getattr(splits, part).y, splits.num_classes)
        empty = torch.nonzero(counts == 0).flatten().tolist()
        if empty:
            raise ValueError(
                f"class {empty[0]} has no samples in the {part} split of {splits.name!r} "
                f"(counts {counts.tolist()}); use a milder ratio, more data or a larger fraction"
            )
    return splits


def imbalanced_splits(
    X: Any,
    y: Any,
    ratios: Mapping[int, float],
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    name: str = "imbalanced",
) -> DataSplits:
    """:func:`make_imbalanced` then a stratified split; every split keeps every class.

    All three splits share the imbalance ratio, so validation-tuned thresholds transfer to test.
    An empty minority class in any split is a ``ValueError`` (see :func:`check_splits`).
    """
    X_i, y_i = make_imbalanced(X, y, ratios, seed)
    try:
        splits = train_val_test_split(
            X_i, y_i, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, name=name
        )
    except ValueError as err:
        counts = class_counts(y_i).tolist()
        raise ValueError(f"cannot split {name!r} with class counts {counts}: {err}") from err
    return check_splits(splits)


def _distributed_defaults(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    dist = torch.distributed
    initialized = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if initialized else 1
    if rank is None:
        rank = dist.get_rank() if initialized else 0
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(
            f"need num_replicas >= 1 and 0 <= rank < num_replicas, got {num_replicas}, {rank}"
        )
    return num_replicas, rank


class BalancedSampler(Sampler[int]):
    """Over- or under-sample by class weights; DDP-aware (a disjoint share per rank).

    Each epoch draws ``total`` indices with replacement, index ``i`` with probability

    .. math:: P(i) = \\frac{\\pi_{y_i}}{n_{y_i}}

    so class ``c`` makes up a fraction ``pi_c`` of the draw in expectation (``pi`` uniform by
    default: balanced batches). ``mode="over"`` draws ``C * max_c n_c`` indices per epoch (the
    minority repeats), ``mode="under"`` draws ``C * min_c n_c`` (most of the majority is
    skipped each epoch, but a different part every epoch).

    Under DDP all ranks draw the same ``total`` indices from the same seed and epoch, padded to
    a multiple of ``num_replicas``; rank ``r`` takes positions ``r, r + R, r + 2R, ...``, so
    the ranks' shares are disjoint and together form the whole weighted draw. Call
    :meth:`set_epoch` at the start of every epoch, as with ``DistributedSampler``.

    Parameters
    ----------
    labels : (N,) integer labels of the dataset, in dataset order.
    mode : {"over", "under"}
        Sets the default ``num_samples``.
    class_probs : sequence of float, shape (C,), optional
        Target class fractions ``pi`` (normalised); e.g. ``class_weights(y, "sqrt_inverse") *
        counts`` for a milder rebalancing. Default uniform.
    num_samples : int, optional
        Indices drawn per epoch over all ranks (before padding); overrides ``mode``.
    num_replicas, rank : int, optional
        Default to the world size and rank of an initialised ``torch.distributed`` group, else
        1 and 0.
    seed : int
        Base seed; epoch ``e`` uses ``seed + e``.
    """

    def __init__(
        self,
        labels: Any,
        *,
        mode: str = "over",
        class_probs: Sequence[float] | Tensor | None = None,
        num_samples: int | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int = 0,
    ) -> None:
        if mode not in ("over", "under"):
            raise ValueError(f"mode must be 'over' or 'under', got {mode!r}")
        labels_t = _as_tensor(labels, "labels")
        if labels_t.ndim != 1:
            raise ValueError(f"labels must be 1-D (N,), got shape {tuple(labels_t.shape)}")
        counts = class_counts(labels_t)
        _require_two_classes(counts, "labels")
        present = counts > 0
        probs = present.double() if class_probs is None else torch.as_tensor(class_probs).double()
        if probs.shape != counts.shape or bool((probs < 0).any()) or float(probs.sum()) <= 0:
            raise ValueError(
                f"class_probs must be {len(counts)} non-negative numbers, got {probs.tolist()}"
            )
        if bool(((probs > 0) & ~present).any()):
            absent = torch.nonzero((probs > 0) & ~present).flatten().tolist()
            raise ValueError(f"class_probs gives probability to classes {absent}, which have no "
                             "samples in labels (the draw could not honour it)")
        probs = probs / probs.sum()
        self.labels = labels_t.long()
        self.class_probs = probs
        per_class = torch.where(present, probs / counts.clamp(min=1).double(), 0.0)
        self.weights = per_class[self.labels]  # (N,)
        n_classes = int(present.sum())
        default = n_classes * (int(counts.max()) if mode == "over" else int(counts[present].min()))
        self.num_samples_total = int(num_samples) if num_samples is not None else default
        if self.num_samples_total < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.num_replicas, self.rank = _distributed_defaults(num_replicas, rank)
        self.per_rank = math.ceil(self.num_samples_total / self.num_replicas)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Use a new draw for ``epoch`` (the same on every rank)."""
        self.epoch = int(epoch)

    def draw(self) -> Tensor:
        """The whole weighted draw of this epoch, shared by all ranks: shape (R * per_rank,)."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        total = self.per_rank * self.num_replicas
        return torch.multinomial(self.weights, total, replacement=True, generator=generator)

    def __iter__(self) -> Iterator[int]:
        return iter(self.draw()[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.per_rank


def _sampler_classes() -> dict[str, Any]:
    from imblearn.combine import SMOTEENN
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler, TomekLinks

    return {
        "random_over": RandomOverSampler,
        "random_under": RandomUnderSampler,
        "smote": SMOTE,
        "borderline_smote": BorderlineSMOTE,
        "adasyn": ADASYN,
        "smoteenn": SMOTEENN,
        "tomek": TomekLinks,
    }


SAMPLERS = (
    "random_over",
    "random_under",
    "smote",
    "borderline_smote",
    "adasyn",
    "smoteenn",
    "tomek",
)
_SEEDLESS = ("tomek",)
_NEIGHBOUR_BASED = ("smote", "borderline_smote", "adasyn", "smoteenn")


class ResampledDataset(Dataset):
    """A dataset resampled once by an imbalanced-learn sampler, as tensors.

    ``X`` of any shape ``(N, *)`` is flattened to ``(N, D)`` for imbalanced-learn and the
    result reshaped back to ``(M, *)``; synthetic SMOTE rows are interpolations of real ones.

    Parameters
    ----------
    X : (N, *) features.
    y : (N,) integer labels.
    method : str or imblearn sampler
        One of :data:`SAMPLERS` ("random_over", "random_under", "smote", "borderline_smote",
        "adasyn", "smoteenn", "tomek") or any object with ``fit_resample``.
    seed : int
        ``random_state`` of the sampler.
    **kwargs
        Passed to the sampler (e.g. ``k_neighbors=3``, ``sampling_strategy=0.5``).

    Attributes
    ----------
    X, y : Tensor
        The resampled data; ``counts_before``, ``counts_after``: class counts (C,).
    """

    def __init__(
        self, X: Any, y: Any, method: str | Any = "smote", *, seed: int = 0, **kwargs: Any
    ):
        X_t, y_t = _as_tensor(X, "X"), _as_tensor(y, "y")
        if y_t.ndim != 1 or len(X_t) != len(y_t):
            raise ValueError(
                f"X (N, *) and y (N,) must match, got {tuple(X_t.shape)}, {tuple(y_t.shape)}"
            )
        self.counts_before = class_counts(y_t)
        _require_two_classes(self.counts_before)
        sampler = self._make_sampler(method, seed, kwargs)
        flat = X_t.reshape(len(X_t), -1).double().cpu().numpy()  # (N, D)
        X_new, y_new = sampler.fit_resample(flat, y_t.cpu().numpy())
        self.X = torch.as_tensor(np.asarray(X_new), dtype=X_t.dtype).reshape(-1, *X_t.shape[1:])
        self.y = torch.as_tensor(np.asarray(y_new)).long()
        self.counts_after = class_counts(self.y, len(self.counts_before))
        self.sampler = sampler

    def _make_sampler(self, method: str | Any, seed: int, kwargs: dict[str, Any]) -> Any:
        if not isinstance(method, str):
            if not hasattr(method, "fit_resample"):
                raise TypeError(f"method must be a name in {SAMPLERS} or an imblearn sampler")
            return method
        if method not in SAMPLERS:
            raise ValueError(f"method must be one of {SAMPLERS}, got {method!r}")
        if method in _NEIGHBOUR_BASED:
            k = kwargs.get("k_neighbors", kwargs.get("n_neighbors", 5))
            smallest = int(self.counts_before[self.counts_before > 0].min())
            if isinstance(k, int) and smallest <= k:
                raise ValueError(
                    f"{method} needs more than k_neighbors={k} samples in every class; the "
                    f"smallest class has {smallest} (pass k_neighbors={max(1, smallest - 1)})"
                )
        cls = _sampler_classes()[method]
        return cls(**kwargs) if method in _SEEDLESS else cls(random_state=seed, **kwargs)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.X[index], self.y[index]
