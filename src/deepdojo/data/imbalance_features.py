"""Generated features and minority augmentation for imbalanced data.

- :class:`ClassDistanceFeatures` appends, for each class, the distance to its centroid and a
  kNN density (mean distance to the ``k`` nearest training samples of that class): features a
  small network finds hard to build on its own from few minority examples.
- :func:`augment_minority` adds new minority samples by in-class Gaussian noise or in-class
  mixup (both endpoints from the same class, so the label stays hard and correct).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepdojo.data.datasets import Split, _as_tensor
from deepdojo.data.imbalance import _require_two_classes, class_counts

__all__ = ["ClassDistanceFeatures", "augment_minority"]


def _check_xy(X: Any, y: Any) -> tuple[Tensor, Tensor]:
    X_t, y_t = _as_tensor(X, "X"), _as_tensor(y, "y")
    if y_t.ndim != 1 or len(X_t) != len(y_t):
        raise ValueError(
            f"X (N, *) and y (N,) must match, got {tuple(X_t.shape)}, {tuple(y_t.shape)}"
        )
    return X_t, y_t.long()


class ClassDistanceFeatures:
    """Append per-class centroid distances and kNN densities to the (flattened) inputs.

    For sample :math:`x` and class :math:`c` with training samples :math:`S_c`:

    .. math::
        d^{cent}_c(x) = \\lVert x - \\mu_c \\rVert_2, \\qquad
        d^{knn}_c(x) = \\frac1k \\sum_{j=1}^{k} \\lVert x - s_{c,(j)} \\rVert_2

    with :math:`s_{c,(j)}` the j-th nearest training sample of class c. ``fit_transform`` on
    the training data leaves each sample out of its own neighbours (a point at distance 0
    from itself would leak its label into the features) and out of its own class's centroid
    (with few minority samples, a centroid that contains the sample sits closer to it than to
    any test sample of that class).

    Parameters
    ----------
    k : int
        Neighbours for the density (capped at the class size).
    kinds : sequence of {"centroid", "knn"}
    keep_inputs : bool
        Return ``[x, features]`` (True) or just the features.

    Shapes: ``X`` ``(N, *)`` -> ``(N, D + len(kinds) * C)`` with ``D = prod(*)``.
    """

    def __init__(
        self, k: int = 5, kinds: Sequence[str] = ("centroid", "knn"), keep_inputs: bool = True
    ) -> None:
        self.k, self.kinds, self.keep_inputs = k, tuple(kinds), keep_inputs

    def fit(self, X: Any, y: Any) -> ClassDistanceFeatures:
        """Store each class's training samples and centroid."""
        bad = set(self.kinds) - {"centroid", "knn"}
        if bad or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of centroid, knn; got {self.kinds}")
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive int, got {self.k!r}")
        X_t, y_t = _check_xy(X, y)
        counts = class_counts(y_t)
        _require_two_classes(counts)
        flat = X_t.reshape(len(X_t), -1).double()  # (N, D)
        self.classes_ = torch.nonzero(counts).flatten()
        self.members_ = [flat[y_t == c] for c in self.classes_.tolist()]
        self.centroids_ = torch.stack([m.mean(0) for m in self.members_])  # (C, D)
        self._train = (flat, y_t)
        return self

    def transform(self, X: Any) -> Tensor:
        """Features of new samples (no leave-one-out); float32."""
        return self._features(_as_tensor(X, "X"), exclude_self=False)

    def fit_transform(self, X: Any, y: Any) -> Tensor:
        """Fit, then features of the training samples with each left out of its neighbours."""
        return self.fit(X, y)._features(_as_tensor(X, "X"), exclude_self=True)

    def _features(self, X: Tensor, exclude_self: bool) -> Tensor:
        if not hasattr(self, "centroids_"):
            raise RuntimeError("call fit(X, y) before transform")
        flat = X.reshape(len(X), -1).double()  # (N, D)
        if flat.shape[1] != self.centroids_.shape[1]:
            raise ValueError(f"X has {flat.shape[1]} features, fit saw {self.centroids_.shape[1]}")
        parts = [flat] if self.keep_inputs else []
        if "centroid" in self.kinds:
            parts.append(self._centroid(flat, exclude_self))  # (N, C)
        if "knn" in self.kinds:
            parts.append(self._knn(flat, exclude_self))  # (N, C)
        return torch.cat(parts, dim=1).float()

    def _centroid(self, flat: Tensor, exclude_self: bool) -> Tensor:
        """Distances (N, C) to the class centroids; leave-one-out for a training row's own class
        (``(n_c mu_c - x_i) / (n_c - 1)``; the full centroid when ``n_c = 1``)."""
        dist = torch.cdist(flat, self.centroids_)  # (N, C)
        if not exclude_self:
            return dist
        train_y = self._train[1]
        for j, (c, members) in enumerate(zip(self.classes_.tolist(), self.members_, strict=True)):
            n_c = members.shape[0]
            if n_c > 1:
                own = torch.nonzero(train_y == c).flatten()  # training rows of class c
                loo = (n_c * self.centroids_[j] - members) / (n_c - 1)  # (n_c, D)
                dist[own, j] = (members - loo).norm(dim=1)
        return dist

    def _knn(self, flat: Tensor, exclude_self: bool) -> Tensor:
        columns = []
        train_y = self._train[1]
        for c, members in zip(self.classes_.tolist(), self.members_, strict=True):
            dist = torch.cdist(flat, members)  # (N, n_c)
            if exclude_self:
                own = torch.nonzero(train_y == c).flatten()  # training rows of class c
                dist[own, torch.arange(len(own))] = float("inf")
            k = min(self.k, members.shape[0] - (1 if exclude_self else 0))
            columns.append(dist.topk(max(k, 1), largest=False).values.mean(1))
        return torch.stack(columns, dim=1)


def augment_minority(
    X: Any,
    y: Any,
    *,
    method: str = "mixup",
    classes: Sequence[int] | None = None,
    factor: float = 1.0,
    noise_std: float = 0.1,
    alpha: float = 0.4,
    seed: int = 0,
) -> Split:
    """Add ``round(factor * n_c)`` new samples to each listed class, from that class only.

    .. math::
        \\text{noise: } \\tilde x = x_i + \\sigma \\, s_c \\odot \\varepsilon, \\;
        \\varepsilon \\sim \\mathcal N(0, I) \\qquad
        \\text{mixup: } \\tilde x = \\lambda x_i + (1 - \\lambda) x_j, \\;
        \\lambda \\sim \\mathrm{Beta}(\\alpha, \\alpha)

    with :math:`x_i, x_j` drawn from class c and :math:`s_c` its per-feature std.

    Parameters
    ----------
    X : (N, *) float features; y : (N,) labels.
    method : {"mixup", "noise"}
    classes : sequence of int, optional
        Classes to augment; default every class except the largest.
    factor : float
        New samples per existing sample of the class (> 0).
    noise_std : float
        ``sigma``, in units of the class's per-feature std.
    alpha : float
        Beta parameter of mixup.
    seed : int

    Returns
    -------
    Split ``(X_aug, y_aug)``: the originals first, then the new samples.
    """
    if method not in ("mixup", "noise"):
        raise ValueError(f"method must be 'mixup' or 'noise', got {method!r}")
    if factor <= 0 or noise_std < 0 or alpha <= 0:
        raise ValueError(
            f"need factor > 0, noise_std >= 0, alpha > 0; got {factor}, {noise_std}, {alpha}"
        )
    X_t, y_t = _check_xy(X, y)
    counts = class_counts(y_t)
    _require_two_classes(counts)
    if classes is None:
        classes = [c for c in range(len(counts)) if counts[c] > 0 and c != int(counts.argmax())]
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    new_X, new_y = [X_t], [y_t]
    for c in classes:
        members = X_t[y_t == int(c)]  # (n_c, *)
        if len(members) == 0:
            raise ValueError(f"class {c} has no samples to augment")
        n_new = max(1, round(factor * len(members)))
        new_X.append(_in_class_samples(members, n_new, method, noise_std, alpha, g, rng))
        new_y.append(torch.full((n_new,), int(c), dtype=torch.long))
    return Split(torch.cat(new_X), torch.cat(new_y))


def _in_class_samples(
    members: Tensor,
    n_new: int,
    method: str,
    noise_std: float,
    alpha: float,
    g: torch.Generator,
    rng: np.random.Generator,
) -> Tensor:
    """``n_new`` noisy copies or within-class mixups of ``members`` (n_c, *)."""
    i = torch.randint(len(members), (n_new,), generator=g)
    if method == "noise":
        scale = members.std(0, unbiased=False) if len(members) > 1 else torch.ones_like(members[0])
        eps = torch.randn((n_new, *members.shape[1:]), generator=g, dtype=members.dtype)
        return members[i] + noise_std * scale * eps
    j = torch.randint(len(members), (n_new,), generator=g)
    lam = torch.as_tensor(rng.beta(alpha, alpha, size=n_new), dtype=members.dtype)
    lam = lam.view(-1, *[1] * (members.ndim - 1))  # (n_new, 1, ...)
    return lam * members[i] + (1 - lam) * members[j]
