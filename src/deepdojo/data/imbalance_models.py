"""Model-side techniques for imbalanced data: balanced bagging, transfer and anomaly framing.

These need training but :mod:`deepdojo.data` sits below the trainer, so training is passed in
as ``fit_fn(model, X, y)``: any callable that trains ``model`` in place (e.g. a
``deepdojo.train.Trainer(model, loss).fit((X, y), epochs=...)`` wrapped in a lambda).

- :class:`BalancedBaggingEnsemble`: each member trains on its own class-balanced bootstrap;
  predictions average the members' probabilities.
- :func:`replace_head`: keep a body pretrained on a balanced related task, put a new output
  layer on it for the imbalanced task (optionally freezing the body), then fine-tune.
- :class:`KNNDistanceDetector` and :class:`AutoencoderDetector`: anomaly-detection framing;
  fit on the majority class only, score new samples by kNN distance or reconstruction error
  (higher = more unusual = more likely minority).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from deepdojo.data.datasets import _as_tensor
from deepdojo.data.imbalance import _require_two_classes, class_counts

__all__ = [
    "AutoencoderDetector",
    "BalancedBaggingEnsemble",
    "KNNDistanceDetector",
    "balanced_bootstrap",
    "replace_head",
]

FitFn = Callable[[nn.Module, Tensor, Tensor], Any]


def balanced_bootstrap(y: Any, *, mode: str = "under", seed: int = 0) -> Tensor:
    """Indices of a class-balanced bootstrap: each class drawn with replacement to the size of
    the smallest (``under``) or largest (``over``) class. Shape ``(C * n,)``, shuffled."""
    if mode not in ("under", "over"):
        raise ValueError(f"mode must be 'under' or 'over', got {mode!r}")
    y_t = _as_tensor(y, "y").long()
    counts = class_counts(y_t)
    _require_two_classes(counts)
    present = counts > 0
    size = int(counts[present].min() if mode == "under" else counts.max())
    g = torch.Generator().manual_seed(seed)
    parts = []
    for c in torch.nonzero(present).flatten().tolist():
        rows = torch.nonzero(y_t == c).flatten()
        parts.append(rows[torch.randint(len(rows), (size,), generator=g)])
    index = torch.cat(parts)
    return index[torch.randperm(len(index), generator=g)]


def _probabilities(outputs: Tensor) -> Tensor:
    """Sigmoid of binary logits ``(N,)``/``(N, 1)`` -> (N,); softmax of ``(N, C)`` -> (N, C)."""
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return outputs.softmax(dim=1)
    return torch.sigmoid(outputs.reshape(len(outputs)))


class BalancedBaggingEnsemble(nn.Module):
    """Bagging of networks, each trained on a class-balanced bootstrap; outputs averaged.

    .. math:: \\hat p(x) = \\frac1M \\sum_{m=1}^{M} \\sigma(f_m(x))

    (softmax instead of sigmoid for ``(N, C)`` outputs). Under-sampled members each see a
    bootstrap of the minority (drawn with replacement: about 63 % of its distinct rows) and a
    different random slice of the majority, so together they cover most of the data.

    Parameters
    ----------
    make_model : callable () -> nn.Module
        Builds one fresh member.
    fit_fn : callable (model, X, y) -> Any
        Trains a member in place on its bootstrap.
    n_estimators : int
    mode : {"under", "over"}
        Bootstrap size per class: the smallest or the largest class's count.
    seed : int
        Member ``m`` uses bootstrap seed ``seed + m`` and is built after ``torch.manual_seed``
        of the same value.
    """

    def __init__(
        self,
        make_model: Callable[[], nn.Module],
        fit_fn: FitFn,
        n_estimators: int = 5,
        *,
        mode: str = "under",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {n_estimators}")
        self.make_model, self.fit_fn = make_model, fit_fn
        self.n_estimators, self.mode, self.seed = n_estimators, mode, seed
        self.members = nn.ModuleList()

    def fit(self, X: Any, y: Any) -> BalancedBaggingEnsemble:
        """Train ``n_estimators`` members, each on its own balanced bootstrap of ``(X, y)``."""
        X_t, y_t = _as_tensor(X, "X"), _as_tensor(y, "y").long()
        if len(X_t) != len(y_t):
            raise ValueError(f"X has {len(X_t)} samples but y has {len(y_t)}")
        self.members = nn.ModuleList()
        for m in range(self.n_estimators):
            index = balanced_bootstrap(y_t, mode=self.mode, seed=self.seed + m)
            torch.manual_seed(self.seed + m)
            model = self.make_model()
            self.fit_fn(model, X_t[index], y_t[index])
            self.members.append(model)
        return self

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Mean member probability: (N,) for binary outputs, (N, C) for multi-class."""
        if len(self.members) == 0:
            raise RuntimeError("call fit(X, y) before predicting")
        probs = [_probabilities(member.eval()(x)) for member in self.members]
        return torch.stack(probs).mean(0)


def replace_head(model: nn.Module, out_features: int, *, freeze_body: bool = False) -> nn.Module:
    """Swap the last ``nn.Linear`` of ``model`` for a fresh one with ``out_features`` outputs.

    The transfer-learning step: pretrain ``model`` on a balanced related task (e.g. the other
    classes of the same domain), call this, then fine-tune on the imbalanced task. With
    ``freeze_body=True`` only the new head trains (``requires_grad`` is turned off elsewhere).
    Works in place and returns ``model``.
    """
    last_name, last = None, None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = name, module
    if last is None or last_name is None:
        raise ValueError("model has no nn.Linear layer to replace")
    if out_features < 1:
        raise ValueError(f"out_features must be >= 1, got {out_features}")
    head = nn.Linear(last.in_features, out_features, bias=last.bias is not None)
    head = head.to(device=last.weight.device, dtype=last.weight.dtype)
    parent = model.get_submodule(last_name.rpartition(".")[0]) if "." in last_name else model
    setattr(parent, last_name.rpartition(".")[2], head)
    if freeze_body:
        head_params = {id(p) for p in head.parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in head_params)
    return model


class KNNDistanceDetector:
    """Score = mean Euclidean distance to the ``k`` nearest *majority* training samples.

    Inputs are standardised with the majority's mean and std. Shapes: ``fit(X)`` with
    ``(N, *)`` majority samples; ``score(X)`` -> ``(M,)``.
    """

    def __init__(self, k: int = 5) -> None:
        self.k = k

    def fit(self, X_majority: Any) -> KNNDistanceDetector:
        flat = _as_tensor(X_majority, "X_majority").reshape(len(X_majority), -1).double()
        if not isinstance(self.k, int) or not 1 <= self.k < len(flat):
            raise ValueError(f"k must be an int in [1, {len(flat)}), got {self.k!r}")
        self.mean_, self.std_ = flat.mean(0), flat.std(0).clamp(min=1e-8)
        self.reference_ = (flat - self.mean_) / self.std_  # (N, D)
        return self

    def score(self, X: Any) -> Tensor:
        if not hasattr(self, "reference_"):
            raise RuntimeError("call fit(X_majority) before score")
        flat = _as_tensor(X, "X").reshape(len(X), -1).double()
        z = (flat - self.mean_) / self.std_  # (M, D)
        return torch.cdist(z, self.reference_).topk(self.k, largest=False).values.mean(1).float()


class AutoencoderDetector:
    """Score = per-sample reconstruction error of an autoencoder trained on the majority only.

    .. math:: s(x) = \\frac1D \\lVert x - g(f(x)) \\rVert_2^2

    Parameters
    ----------
    in_features : int
        ``D``, the flattened input size.
    hidden : tuple of int
        Encoder widths; the decoder mirrors them (last entry is the bottleneck).
    fit_fn : callable (model, X, X) -> Any, optional
        Trains the autoencoder to map ``X`` to ``X``; default: Adam, ``epochs`` full passes of
        minibatches of 64.
    epochs, lr, seed : training settings of the default loop.
    """

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, ...] = (32, 8),
        *,
        fit_fn: FitFn | None = None,
        epochs: int = 50,
        lr: float = 1e-2,
        seed: int = 0,
    ) -> None:
        self.in_features, self.hidden, self.fit_fn = in_features, hidden, fit_fn
        self.epochs, self.lr, self.seed = epochs, lr, seed

    def _build(self) -> nn.Module:
        widths = (self.in_features, *self.hidden)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        for a, b in zip(widths[::-1][:-1], widths[::-1][1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers[:-1])  # linear output

    def fit(self, X_majority: Any) -> AutoencoderDetector:
        flat = _as_tensor(X_majority, "X_majority").reshape(len(X_majority), -1).float()
        if flat.shape[1] != self.in_features:
            raise ValueError(
                f"X_majority has {flat.shape[1]} features, in_features={self.in_features}"
            )
        torch.manual_seed(self.seed)
        self.model_ = self._build()
        (self.fit_fn or self._default_fit)(self.model_, flat, flat)
        return self

    def _default_fit(self, model: nn.Module, X: Tensor, target: Tensor) -> None:
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            for batch in torch.randperm(len(X), generator=g).split(64):
                loss = ((model(X[batch]) - target[batch]) ** 2).mean()  # forward, loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

    @torch.no_grad()
    def score(self, X: Any) -> Tensor:
        if not hasattr(self, "model_"):
            raise RuntimeError("call fit(X_majority) before score")
        flat = _as_tensor(X, "X").reshape(len(X), -1).float()
        return ((self.model_.eval()(flat) - flat) ** 2).mean(1)  # (M,)
