"""The episodic task: N-way K-shot few-shot learning, prototypical networks by default.

Batches are flat episodes ``(X_b, y_b)`` from :func:`deepdojo.data.episode_loader` (any
labelled data set): the first ``N*K`` rows are the support set, class-major, the remaining
``N*Q`` rows the queries, and labels are re-indexed to ``0..N-1``. Per episode::

    E = model(X_b)                                  # (N*K + N*Q, D): one forward
    logits = classifier(E_s, y_s, E_q, N)           # (N*Q, N)
    loss = cross_entropy(logits, y_q)
    yield "model", loss                             # logs accuracy on the queries

The default classifier is the prototypical network's (Snell et al. 2017): class prototypes
``c_n = mean_k E_s[n, k]`` and logits ``-||E_q - c_n||^2``. Plug another few-shot learner by
passing ``classifier``: any callable with that signature, e.g. cosine-similarity logits for a
matching-style network; an ``nn.Module`` classifier (a relation module) is trained too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.train.task import Task
from deepdojo.train.tasks._common import (
    OptimizerSpec,
    build_optimizer,
    check_optimizer_spec,
    check_positive,
)

__all__ = ["EpisodicTask", "cosine_logits", "prototype_logits"]

Classifier = Callable[[Tensor, Tensor, Tensor, int], Tensor]


def _prototypes(support: Tensor, support_labels: Tensor, n_way: int) -> Tensor:
    """Mean embedding of each class: ``(N, D)`` from ``(S, D)`` support and ``(S,)`` labels."""
    one_hot = F.one_hot(support_labels, n_way).to(support.dtype)  # (S, N)
    counts = one_hot.sum(dim=0).clamp_min(1).unsqueeze(1)  # (N, 1)
    return one_hot.T @ support / counts  # (N, D)


def prototype_logits(support: Tensor, support_labels: Tensor, query: Tensor, n_way: int) -> Tensor:
    """Prototypical-network logits: ``-||q - c_n||^2`` with ``c_n`` the class means.

    Parameters
    ----------
    support : Tensor, shape (S, D)
        Support embeddings; ``support_labels`` ``(S,)`` in ``0..N-1``.
    query : Tensor, shape (M, D)
        Query embeddings.
    n_way : int
        ``N``.

    Returns
    -------
    Tensor, shape (M, N).
    """
    prototypes = _prototypes(support, support_labels, n_way)  # (N, D)
    return -torch.cdist(query, prototypes).pow(2)  # (M, N)


def cosine_logits(
    support: Tensor, support_labels: Tensor, query: Tensor, n_way: int, scale: float = 10.0
) -> Tensor:
    """``scale * cos(q, c_n)``: cosine similarity to the class means (a matching-style head)."""
    prototypes = _prototypes(support, support_labels, n_way)  # (N, D)
    return scale * F.normalize(query, dim=1) @ F.normalize(prototypes, dim=1).T  # (M, N)


class EpisodicTask(Task):
    """Few-shot training on N-way K-shot episodes.

    Parameters
    ----------
    model : nn.Module
        The embedding network ``(B, *) -> (B, D)``.
    n_way, k_shot : int
        ``N`` and ``K`` of the episodes the loader yields (checked on every batch).
    classifier : callable, optional
        ``classifier(support (N*K, D), support_labels (N*K,), query (M, D), n_way) -> (M, N)``
        logits; default :func:`prototype_logits`. An ``nn.Module`` becomes part of the task
        and is trained with the model.
    optimizer, lr, optimizer_kwargs, scheduler
        As in :class:`~deepdojo.train.tasks.ReconstructionTask`.
    """

    def __init__(
        self,
        model: nn.Module,
        n_way: int,
        k_shot: int,
        *,
        classifier: Classifier | None = None,
        optimizer: OptimizerSpec = "adam",
        lr: float = 1e-3,
        optimizer_kwargs: Mapping[str, Any] | None = None,
        scheduler: Any = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        for name, value in (("n_way", n_way), ("k_shot", k_shot)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if classifier is not None and not callable(classifier):
            raise TypeError(f"classifier must be callable, got {type(classifier).__name__}")
        super().__init__()
        self.model = model
        self.n_way, self.k_shot = n_way, k_shot
        if isinstance(classifier, nn.Module):
            self.classifier = classifier  # a sub-module: trained and checkpointed
        else:
            object.__setattr__(self, "classifier", classifier or prototype_logits)
        self.optimizer_spec = check_optimizer_spec(optimizer)
        self.lr = check_positive(lr, "lr")
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.scheduler = scheduler

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": build_optimizer(self.optimizer_spec, self, self.lr,
                                         self.optimizer_kwargs)}  # fmt: skip

    def configure_schedulers(self) -> dict[str, Any]:
        return {} if self.scheduler is None else {"model": self.scheduler}

    def split(self, batch: Any) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(support_x, support_y, query_x, query_y)`` of a flat episode batch."""
        if not isinstance(batch, tuple | list) or len(batch) != 2:
            raise TypeError("episodic batches must be (inputs, labels) pairs; use episode_loader")
        inputs, labels = batch
        n_support = self.n_way * self.k_shot
        expected = torch.arange(self.n_way, device=labels.device).repeat_interleave(self.k_shot)
        support_y, query_y = labels[:n_support], labels[n_support:]
        if not torch.equal(support_y, expected) or query_y.numel() == 0:
            raise ValueError(
                f"a batch is not a {self.n_way}-way {self.k_shot}-shot episode with queries: "
                "its labels must start with arange(n_way).repeat_interleave(k_shot) (build the "
                "loader with episode_loader and the task's n_way, k_shot)"
            )
        return inputs[:n_support], support_y, inputs[n_support:], query_y

    def logits(self, batch: Any) -> tuple[Tensor, Tensor]:
        """Query logits ``(N*Q, N)`` and query labels ``(N*Q,)`` of one episode."""
        support_x, support_y, query_x, query_y = self.split(batch)
        embeddings = self.model(torch.cat([support_x, query_x]))  # (N*K + N*Q, D)
        support, query = embeddings[: len(support_x)], embeddings[len(support_x) :]
        return self.classifier(support, support_y, query, self.n_way), query_y

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        logits, query_y = self.logits(batch)
        applied = yield "model", F.cross_entropy(logits, query_y)
        if applied:
            self.log("accuracy", (logits.detach().argmax(dim=1) == query_y).float().mean())

    def validation_step(self, batch: Any) -> dict[str, float]:
        logits, query_y = self.logits(batch)
        return {"loss": float(F.cross_entropy(logits, query_y)),
                "accuracy": float((logits.argmax(dim=1) == query_y).float().mean())}  # fmt: skip

    def forward(self, inputs: Tensor) -> Tensor:
        return self.model(inputs)
