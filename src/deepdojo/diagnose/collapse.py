r"""Representation collapse: is a self-supervised encoder still telling inputs apart?

Two numbers on a batch of embeddings ``Z`` of shape ``(N, d)``:

- **normalised std** (Jing et al. 2022; the SimSiam paper's collapse monitor): the mean over
  the ``d`` dimensions of the standard deviation across the batch of the rows
  ``z_i / ||z_i||``.

  .. math:: s = \frac{1}{d} \sum_{j=1}^{d} \operatorname{std}_i \big( z_{ij} / \|z_i\|_2 \big)

  Unit vectors spread evenly over the sphere give :math:`s \approx 1/\sqrt{d}`; every input
  mapped to the same vector (complete collapse) gives :math:`s = 0`.
- **effective rank** (Roy & Vetterli 2007) of the centred batch: with singular values
  :math:`\sigma_k` and :math:`p_k = \sigma_k / \sum_l \sigma_l`,

  .. math:: \operatorname{erank}(Z) = \exp\Big(-\sum_k p_k \log p_k\Big)

  It lies in ``[1, min(N, d)]``: ``r`` equal singular values give exactly ``r``; an embedding
  that lives on a few directions (dimensional collapse) gives a value near that few.

:func:`check_collapse` turns them into a :class:`~deepdojo.diagnose.Finding` of kind
``collapse`` (or ``healthy``), the way :func:`~deepdojo.diagnose.check` flags gradients:
collapse when :math:`s \sqrt{d}` falls below ``std_ratio`` (default 0.1, i.e. the spread is a
tenth of the healthy value) or the effective rank below ``min_rank`` (default 1.5).
:class:`CollapseMonitor` applies it during training, once per epoch, as a Trainer callback.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from deepdojo.diagnose.rules import Finding
from deepdojo.train.callbacks import Callback

__all__ = [
    "COLLAPSE_REMEDIES",
    "CollapseMonitor",
    "check_collapse",
    "effective_rank",
    "embedding_std",
]

COLLAPSE_REMEDIES = [
    "stronger or more varied augmentations (the views must differ)",
    "a projection head between the representation and the loss",
    "a non-contrastive loss with a variance term (VICReg) or more negatives (larger batch)",
    "a lower learning rate or a higher temperature",
]


def _check(z: Tensor, name: str = "embeddings") -> Tensor:
    if not isinstance(z, Tensor):
        raise TypeError(f"{name} must be a tensor of shape (N, d), got {type(z).__name__}")
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, d) with N >= 2, got {tuple(z.shape)}")
    if not z.dtype.is_floating_point:
        raise TypeError(f"{name} must be floating point, got {z.dtype}")
    return z.detach().double()


def embedding_std(embeddings: Tensor) -> float:
    """Mean per-dimension std (population, ``1/N``) of the ℓ2-normalised rows; ``(N, d)`` in.

    Healthy: about ``1/sqrt(d)``; collapsed to one point: 0. Zero rows stay zero.
    """
    z = _check(embeddings)
    unit = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (N, d), unit rows
    return float(unit.std(dim=0, unbiased=False).mean())


def effective_rank(embeddings: Tensor, *, center: bool = True) -> float:
    """``exp`` of the entropy of the normalised singular values of ``(N, d)`` embeddings.

    ``center=True`` removes the column means first (a constant offset is not a direction of
    variation). All-equal rows (zero spectrum) give 0 by convention.
    """
    z = _check(embeddings)
    if center:
        z = z - z.mean(dim=0, keepdim=True)
    sigma = torch.linalg.svdvals(z)  # (min(N, d),)
    total = sigma.sum()
    if not total > 1e-12 * max(1.0, float(z.abs().max())):
        return 0.0
    p = sigma / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def check_collapse(
    embeddings: Tensor, *, std_ratio: float = 0.1, min_rank: float = 1.5, name: str = "encoder"
) -> Finding:
    """A ``collapse`` finding when the embeddings collapsed, else ``healthy``.

    Parameters
    ----------
    embeddings : Tensor, shape (N, d)
        Representations of ``N >= 2`` different inputs.
    std_ratio : float
        Flag when ``embedding_std * sqrt(d) < std_ratio`` (1 is the healthy value).
    min_rank : float
        Flag when the effective rank is below this.
    name : str
        The network named in the finding's ``layers``.
    """
    for arg, value in (("std_ratio", std_ratio), ("min_rank", min_rank)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{arg} must be a number > 0, got {value!r}")
    d = embeddings.shape[1] if isinstance(embeddings, Tensor) and embeddings.ndim == 2 else 1
    std = embedding_std(embeddings)
    rank = effective_rank(embeddings)
    ratio = std * math.sqrt(d)
    evidence = {"normalised_std": std, "std_times_sqrt_d": ratio, "effective_rank": rank,
                "dim": float(d)}  # fmt: skip
    if ratio < std_ratio or rank < min_rank:
        return Finding("collapse", [name], evidence, list(COLLAPSE_REMEDIES),
                       f"embeddings collapsed: std x sqrt(d) = {ratio:.3f} (healthy ~1), "
                       f"effective rank {rank:.2f} of {d}")
    return Finding("healthy", [], evidence, [], "no collapse: embeddings spread out")


class CollapseMonitor(Callback):
    """A Trainer callback: embed a fixed batch at the end of every ``every``-th epoch and
    apply :func:`check_collapse` (the collapse twin of :class:`~deepdojo.diagnose.Doctor`).

    Parameters
    ----------
    inputs : Tensor, shape (N, *)
        The probe batch, ``N >= 2`` different inputs (held-out rows, not augmented).
    every : int
        Check every this many epochs.
    std_ratio, min_rank : float
        As in :func:`check_collapse`.

    Attributes
    ----------
    history : list of dict
        Per check: ``epoch``, ``normalised_std``, ``std_times_sqrt_d``, ``effective_rank``.
    findings : list of Finding
        The first ``collapse`` finding (``step`` = the epoch), if any.

    The embedding is ``model.embed(inputs)`` when the trained model (a Task such as
    :class:`~deepdojo.train.ContrastiveTask`) has ``embed``, else ``model(inputs)``, in eval
    mode without gradients. The epoch's log record gets ``collapse`` (the finding as a dict).
    """

    def __init__(self, inputs: Tensor, *, every: int = 1, std_ratio: float = 0.1,
                 min_rank: float = 1.5) -> None:
        if not isinstance(inputs, Tensor) or inputs.ndim < 2 or inputs.shape[0] < 2:
            raise ValueError("inputs must be a tensor batch (N, *) with N >= 2")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.inputs, self.every = inputs, every
        self.std_ratio, self.min_rank = std_ratio, min_rank
        self.history: list[dict[str, float]] = []
        self.findings: list[Finding] = []

    @torch.no_grad()
    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        if (epoch + 1) % self.every:
            return
        model = trainer.model
        was = model.training
        model.eval()
        try:
            x = self.inputs.to(next(model.parameters()).device)
            z = model.embed(x) if hasattr(model, "embed") else model(x)  # (N, F)
        finally:
            model.train(was)
        finding = check_collapse(z.float(), std_ratio=self.std_ratio, min_rank=self.min_rank)
        self.history.append({"epoch": float(epoch), **{k: v for k, v in finding.evidence.items()
                                                        if k != "dim"}})  # fmt: skip
        logs["collapse"] = finding.to_dict()
        if finding.kind == "collapse" and not self.findings:
            finding.step = epoch
            self.findings.append(finding)
