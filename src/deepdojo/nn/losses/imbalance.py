"""Losses for imbalanced classification: focal, class-balanced, logit-adjusted and LDAM.

Shapes (batch first). ``N`` batch size, ``C`` classes, ``*`` optional dense dimensions
(pixels, time steps):

- multi-class: logits ``(N, C, *)`` and integer targets ``(N, *)`` in ``[0, C)``;
- binary: logits ``(N, *)`` (or ``(N, 1)``) and float targets of the same shape in ``[0, 1]``.

Every loss checks that the targets match the outputs (a label ``>= C`` or a shape mismatch is
a ``ValueError`` naming ``target``) because a silent mismatch is the classic imbalance bug: a
model with one output per class trained against a recoded label set.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ClassBalancedLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "effective_number_weights",
]

_REDUCTIONS = ("mean", "sum", "none")


def effective_number_weights(samples_per_class: Sequence[int] | Tensor, beta: float) -> Tensor:
    """Class weights from the effective number of samples (Cui et al., CVPR 2019).

    .. math::
        E_c = \\frac{1 - \\beta^{n_c}}{1 - \\beta}, \\qquad
        w_c = \\frac{C \\, / E_c}{\\sum_k 1 / E_k}

    so the weights sum to the number of classes ``C``. ``beta -> 0`` gives equal weights,
    ``beta -> 1`` gives inverse-frequency weights.

    Parameters
    ----------
    samples_per_class : sequence of int or Tensor, shape (C,)
        Training samples ``n_c`` of each class; every count must be >= 1.
    beta : float
        Hyperparameter in ``[0, 1)``; the paper uses 0.9, 0.99, 0.999, 0.9999.

    Returns
    -------
    Tensor, shape (C,), float64.
    """
    counts = torch.as_tensor(samples_per_class, dtype=torch.float64)
    if counts.ndim != 1 or counts.numel() < 2:
        raise ValueError(
            f"samples_per_class must be 1-D with >= 2 classes, got {tuple(counts.shape)}"
        )
    if bool((counts < 1).any()):
        raise ValueError(
            f"samples_per_class must all be >= 1 (an empty class), got {counts.tolist()}"
        )
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    effective = (1.0 - beta**counts) / (1.0 - beta) if beta > 0 else torch.ones_like(counts)
    weights = 1.0 / effective
    return weights * counts.numel() / weights.sum()


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_multiclass(logits: Tensor, target: Tensor) -> int:
    """Validate ``(N, C, *)`` logits against ``(N, *)`` integer targets; return ``C``."""
    if logits.ndim < 2:
        raise ValueError(
            f"input must be (N, C, *) logits for multi-class, got {tuple(logits.shape)}"
        )
    if target.dtype.is_floating_point or target.dtype == torch.bool:
        raise TypeError(f"target must hold integer class labels, got dtype {target.dtype}")
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match input: expected {expected}"
        )
    num_classes = logits.shape[1]
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise ValueError(
            f"target labels must be in [0, {num_classes}) to match the {num_classes} outputs, "
            f"got range [{int(target.min())}, {int(target.max())}]"
        )
    return num_classes


def _check_binary(logits: Tensor, target: Tensor) -> None:
    if tuple(logits.shape) != tuple(target.shape):
        raise ValueError(
            f"binary target shape {tuple(target.shape)} must equal input shape "
            f"{tuple(logits.shape)}"
        )
    if target.numel() and (float(target.min()) < 0 or float(target.max()) > 1):
        raise ValueError("binary target values must be in [0, 1] (0/1 labels or soft labels)")


def _class_dim_view(vector: Tensor, logits: Tensor) -> Tensor:
    """Reshape a per-class ``(C,)`` vector to broadcast against ``(N, C, *)`` logits."""
    return vector.to(logits).view(1, -1, *([1] * (logits.ndim - 2)))


class FocalLoss(nn.Module):
    """Focal loss (Lin et al., RetinaNet, ICCV 2017), binary and multi-class.

    With :math:`p_t` the predicted probability of the true class,

    .. math::
        \\mathrm{FL}(p_t) = -\\alpha_t \\, (1 - p_t)^{\\gamma} \\log p_t

    The factor :math:`(1 - p_t)^\\gamma` shrinks the loss of well-classified (mostly majority)
    examples so the rare, hard ones dominate the gradient. ``gamma = 0`` and no ``alpha`` is
    plain cross-entropy.

    - **binary** (sigmoid, as RetinaNet and ``torchvision.ops.sigmoid_focal_loss``):
      :math:`p = \\sigma(z)`, :math:`p_t = p\\,y + (1-p)(1-y)`,
      :math:`\\alpha_t = \\alpha\\,y + (1-\\alpha)(1-y)`; defaults ``alpha=0.25, gamma=2``.
    - **multiclass** (softmax): :math:`p_t = \\mathrm{softmax}(z)_y`,
      :math:`\\alpha_t = \\alpha_y` for a per-class ``alpha`` (e.g. from
      :func:`deepdojo.data.imbalance.class_weights`), or 1 when ``alpha`` is None.

    Parameters
    ----------
    alpha : "auto", float, sequence of float, Tensor or None
        ``"auto"``: 0.25 for binary, None for multi-class. A float in [0, 1] is the weight of
        positives (binary only); a ``(C,)`` sequence weights classes (multi-class only).
    gamma : float
        Focusing parameter, >= 0.
    task : {"binary", "multiclass"}
    reduction : {"mean", "sum", "none"}
        ``mean`` averages over every element (RetinaNet normalises by the number of anchors
        instead; pass ``"sum"`` and divide yourself for that).

    Shape
    -----
    binary: input ``(N, *)``, target ``(N, *)`` float in [0, 1]; multiclass: input
    ``(N, C, *)``, target ``(N, *)`` int64. Output: scalar, or the input's per-element shape
    for ``reduction="none"``.

    Examples
    --------
    >>> loss = FocalLoss()                       # binary, alpha=0.25, gamma=2
    >>> loss(torch.randn(8), torch.randint(0, 2, (8,)).float()).shape
    torch.Size([])
    """

    def __init__(
        self,
        alpha: str | float | Sequence[float] | Tensor | None = "auto",
        gamma: float = 2.0,
        *,
        task: str = "binary",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if task not in ("binary", "multiclass"):
            raise ValueError(f"task must be 'binary' or 'multiclass', got {task!r}")
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.task, self.gamma, self.reduction = task, float(gamma), _check_reduction(reduction)
        if isinstance(alpha, str):
            if alpha != "auto":
                raise ValueError(
                    f"alpha must be 'auto', a number, a sequence or None, got {alpha!r}"
                )
            alpha = 0.25 if task == "binary" else None
        self.alpha: float | None = None
        self.register_buffer("class_alpha", None)
        if alpha is None:
            return
        if task == "binary":
            if not isinstance(alpha, int | float) or not 0.0 <= float(alpha) <= 1.0:
                raise ValueError(f"binary alpha must be a float in [0, 1] or None, got {alpha!r}")
            self.alpha = float(alpha)
        else:
            vec = torch.as_tensor(alpha, dtype=torch.float32)
            if vec.ndim != 1:
                raise ValueError(
                    "multiclass alpha must be a (C,) sequence of class weights or None"
                )
            self.class_alpha = vec

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if self.task == "binary":
            return self._binary(input, target)
        return self._multiclass(input, target)

    def _binary(self, logits: Tensor, target: Tensor) -> Tensor:
        target = target.to(logits.dtype)
        _check_binary(logits, target)
        p = torch.sigmoid(logits)
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # -log p_t
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * (1 - p_t) ** self.gamma
        if self.alpha is not None:
            alpha_t = self.alpha * target + (1 - self.alpha) * (1 - target)
            loss = alpha_t * loss
        return _reduce(loss, self.reduction)

    def _multiclass(self, logits: Tensor, target: Tensor) -> Tensor:
        num_classes = _check_multiclass(logits, target)
        log_p = F.log_softmax(logits, dim=1)  # (N, C, *)
        log_p_t = log_p.gather(1, target.unsqueeze(1)).squeeze(1)  # (N, *)
        p_t = log_p_t.exp()
        loss = -((1 - p_t) ** self.gamma) * log_p_t
        if self.class_alpha is not None:
            if self.class_alpha.numel() != num_classes:
                raise ValueError(
                    f"alpha has {self.class_alpha.numel()} class weights but input has "
                    f"{num_classes} classes"
                )
            loss = self.class_alpha.to(logits)[target] * loss
        return _reduce(loss, self.reduction)


class ClassBalancedLoss(nn.Module):
    """Class-balanced loss (Cui et al., CVPR 2019): a base loss re-weighted per class by the
    inverse effective number of samples.

    .. math::
        \\mathrm{CB}(z, y) = w_y \\, \\mathcal{L}(z, y), \\qquad
        w_c \\propto \\frac{1 - \\beta}{1 - \\beta^{n_c}}, \\quad \\sum_c w_c = C

    (see :func:`effective_number_weights`).

    Parameters
    ----------
    samples_per_class : sequence of int, shape (C,)
        Training counts ``n_c``. For binary losses give ``[n_negative, n_positive]``.
    beta : float
        In [0, 1).
    loss : {"ce", "focal", "bce"}
        ``ce``: softmax cross-entropy; ``focal``: softmax focal loss with ``gamma``; ``bce``:
        sigmoid binary cross-entropy with each element weighted by its class's ``w``.
    gamma : float
        Focusing parameter for ``loss="focal"``.
    reduction : {"mean", "sum", "none"}
        ``mean`` is the plain mean of the weighted per-element losses (as in the paper's code).

    Shape
    -----
    As :class:`FocalLoss`: ``(N, C, *)`` logits with ``(N, *)`` labels, or for ``bce``
    ``(N, *)`` logits with ``(N, *)`` 0/1 targets.
    """

    def __init__(
        self,
        samples_per_class: Sequence[int] | Tensor,
        beta: float = 0.999,
        *,
        loss: str = "ce",
        gamma: float = 2.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if loss not in ("ce", "focal", "bce"):
            raise ValueError(f"loss must be 'ce', 'focal' or 'bce', got {loss!r}")
        weights = effective_number_weights(samples_per_class, beta)
        if loss == "bce" and weights.numel() != 2:
            raise ValueError("loss='bce' needs samples_per_class=[n_negative, n_positive]")
        self.register_buffer("weights", weights.float())
        self.loss, self.gamma, self.reduction = loss, float(gamma), _check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if self.loss == "bce":
            target = target.to(input.dtype)
            _check_binary(input, target)
            per = F.binary_cross_entropy_with_logits(input, target, reduction="none")
            w = self.weights.to(input)
            per = (w[1] * target + w[0] * (1 - target)) * per
            return _reduce(per, self.reduction)
        num_classes = _check_multiclass(input, target)
        if num_classes != self.weights.numel():
            raise ValueError(
                f"samples_per_class has {self.weights.numel()} classes but input has {num_classes}"
            )
        gamma = self.gamma if self.loss == "focal" else 0.0
        focal = FocalLoss(alpha=self.weights, gamma=gamma, task="multiclass", reduction="none")
        return _reduce(focal(input, target), self.reduction)


def _log_priors(samples_per_class: Sequence[int] | Tensor) -> Tensor:
    counts = torch.as_tensor(samples_per_class, dtype=torch.float64)
    if counts.ndim != 1 or counts.numel() < 2 or bool((counts <= 0).any()):
        raise ValueError(f"samples_per_class must be >= 2 positive counts, got {counts.tolist()}")
    return torch.log(counts / counts.sum())


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted cross-entropy (Menon et al., ICLR 2021).

    .. math::
        \\ell(z, y) = -\\log \\frac{e^{z_y + \\tau \\log \\pi_y}}
                                   {\\sum_c e^{z_c + \\tau \\log \\pi_c}}

    with class priors :math:`\\pi_c = n_c / \\sum_k n_k`. Training with the prior added makes
    the *raw* logits ``z`` approximate the balanced (prior-free) posterior, so ``argmax z`` at
    test time targets balanced error. For binary logits ``(N, *)`` the adjustment is
    :math:`z + \\tau \\log(\\pi_1 / \\pi_0)` inside a sigmoid cross-entropy.

    Parameters
    ----------
    samples_per_class : sequence of int, shape (C,)
        Training counts; for binary give ``[n_negative, n_positive]``.
    tau : float
        Temperature of the adjustment; 1 is the Bayes-consistent choice.
    task : {"multiclass", "binary"}
    reduction : {"mean", "sum", "none"}
    """

    def __init__(
        self,
        samples_per_class: Sequence[int] | Tensor,
        tau: float = 1.0,
        *,
        task: str = "multiclass",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if task not in ("binary", "multiclass"):
            raise ValueError(f"task must be 'binary' or 'multiclass', got {task!r}")
        log_prior = _log_priors(samples_per_class)
        if task == "binary" and log_prior.numel() != 2:
            raise ValueError("task='binary' needs samples_per_class=[n_negative, n_positive]")
        self.register_buffer("log_prior", log_prior.float())
        self.tau, self.task, self.reduction = float(tau), task, _check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        log_prior = self.log_prior.to(input)
        if self.task == "binary":
            target = target.to(input.dtype)
            _check_binary(input, target)
            adjusted = input + self.tau * (log_prior[1] - log_prior[0])
            per = F.binary_cross_entropy_with_logits(adjusted, target, reduction="none")
            return _reduce(per, self.reduction)
        num_classes = _check_multiclass(input, target)
        if num_classes != log_prior.numel():
            raise ValueError(
                f"samples_per_class has {log_prior.numel()} classes, input {num_classes}"
            )
        adjusted = input + self.tau * _class_dim_view(log_prior, input)  # (N, C, *)
        return _reduce(F.cross_entropy(adjusted, target, reduction="none"), self.reduction)


class LDAMLoss(nn.Module):
    """Label-distribution-aware margin loss (Cao et al., NeurIPS 2019).

    .. math::
        \\Delta_c = \\frac{m}{\\max_k n_k^{-1/4}} \\, n_c^{-1/4}, \\qquad
        \\ell(z, y) = \\mathrm{CE}\\big(s \\cdot (z - \\Delta_y e_y),\\ y\\big)

    Rare classes get larger margins (largest = ``max_margin``). The paper applies it to
    cosine logits with scale ``s = 30``; with unnormalised logits use a small ``scale``.

    Parameters
    ----------
    samples_per_class : sequence of int, shape (C,)
    max_margin : float
        Margin of the rarest class, ``m``.
    scale : float
        Logit scale ``s``.
    weight : sequence of float or None
        Optional per-class weights passed to the cross-entropy (the paper's deferred
        re-weighting uses class-balanced weights here in a second stage).
    reduction : {"mean", "sum", "none"}
        ``mean`` follows ``F.cross_entropy`` (weighted mean when ``weight`` is given).
    """

    def __init__(
        self,
        samples_per_class: Sequence[int] | Tensor,
        max_margin: float = 0.5,
        scale: float = 30.0,
        *,
        weight: Sequence[float] | Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        counts = torch.as_tensor(samples_per_class, dtype=torch.float64)
        if counts.ndim != 1 or counts.numel() < 2 or bool((counts <= 0).any()):
            raise ValueError(
                f"samples_per_class must be >= 2 positive counts, got {counts.tolist()}"
            )
        if max_margin <= 0 or scale <= 0:
            raise ValueError(f"max_margin and scale must be > 0, got {max_margin}, {scale}")
        margins = counts**-0.25
        self.register_buffer("margins", (margins * (max_margin / margins.max())).float())
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight).float())
        self.scale, self.reduction = float(scale), _check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        num_classes = _check_multiclass(input, target)
        if num_classes != self.margins.numel():
            raise ValueError(
                f"samples_per_class has {self.margins.numel()} classes, input {num_classes}"
            )
        one_hot = F.one_hot(target, num_classes).movedim(-1, 1).to(input)  # (N, C, *)
        adjusted = input - one_hot * _class_dim_view(self.margins, input)
        weight = None if self.weight is None else self.weight.to(input)
        return F.cross_entropy(
            self.scale * adjusted, target, weight=weight, reduction=self.reduction
        )
