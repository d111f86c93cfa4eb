"""Few-shot evaluation: accuracy over seeded episodes or fixed runs, with a 95% t-interval.

Re-exported by :mod:`deepdojo.models.fewshot`. Every item is embedded once (eval mode, no
gradients); each episode then classifies its queries from its support embeddings with one of
the classifiers of :mod:`deepdojo.models.fewshot` (prototypes, 1-NN, or a Siamese head).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.models.fewshot import (
    PrototypicalNet,
    SiameseNet,
    cosine_prototype_logits,
    euclidean_prototype_logits,
    nearest_neighbour_logits,
)

__all__ = ["EpisodeScore", "evaluate_episodes", "evaluate_runs"]


@dataclass(frozen=True)
class EpisodeScore:
    """Accuracy over episodes (or runs) with a 95% t-interval.

    Attributes
    ----------
    mean : float
        Mean accuracy over episodes, in [0, 1].
    ci_low, ci_high : float
        ``mean -/+ t_{0.975, E-1} * sd / sqrt(E)`` over the ``E`` per-episode accuracies.
    per_episode : np.ndarray, shape (E,)
        Accuracy of every episode.
    """

    mean: float
    ci_low: float
    ci_high: float
    per_episode: np.ndarray

    @classmethod
    def from_values(cls, values: Sequence[float] | np.ndarray) -> EpisodeScore:
        """The score of per-episode accuracies ``values`` (one value: a zero-width interval)."""
        from scipy import stats

        arr = np.asarray(values, dtype=float)
        mean = float(arr.mean())
        if len(arr) < 2:
            return cls(mean, mean, mean, arr)
        half = float(stats.t.ppf(0.975, len(arr) - 1)) * float(arr.std(ddof=1)) / math.sqrt(
            len(arr))  # fmt: skip
        return cls(mean, mean - half, mean + half, arr)


Embedder = Callable[[Tensor], Tensor] | nn.Module | None
_CLASSIFIERS = ("prototype", "cosine", "nn", "nn-cosine", "siamese")


@torch.no_grad()
def _embed_all(embed: Embedder, X: Tensor, batch_size: int = 512) -> Tensor:
    """Embeddings ``(n, D)`` of every row, in eval mode (restored after); ``None``: pixels."""
    if embed is None:
        return X.flatten(1).float()
    fn = embed.embed if isinstance(embed, PrototypicalNet | SiameseNet) else embed
    module = embed if isinstance(embed, nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        device = next(iter(module.parameters())).device if module is not None and any(
            True for _ in module.parameters()) else X.device  # fmt: skip
        parts = [fn(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)]
    finally:
        if module is not None:
            module.train(was_training)
    return torch.cat(parts).flatten(1).float()


def _episode_logits(classifier: str, embed: Embedder, support: Tensor, support_y: Tensor,
                    query: Tensor, n_way: int) -> Tensor:  # fmt: skip
    if classifier == "prototype":
        return euclidean_prototype_logits(support, support_y, query, n_way)
    if classifier == "cosine":
        return cosine_prototype_logits(support, support_y, query, n_way)
    if classifier in ("nn", "nn-cosine"):
        metric = "euclidean" if classifier == "nn" else "cosine"
        return nearest_neighbour_logits(support, support_y, query, n_way, metric)
    # siamese: the largest p(same) over each class's support items
    pairs = embed.pair_logits(query[:, None].expand(-1, len(support), -1),  # type: ignore[union-attr]
                              support[None].expand(len(query), -1, -1))  # (M, S)  # fmt: skip
    mask = F.one_hot(support_y, n_way).T.bool()  # (N, S)
    return pairs[:, None, :].masked_fill(~mask[None], float("-inf")).amax(-1)  # (M, N)


def _check_classifier(classifier: str, embed: Embedder) -> None:
    if classifier not in _CLASSIFIERS:
        raise ValueError(f"classifier must be one of {_CLASSIFIERS}, got {classifier!r}")
    if classifier == "siamese" and not isinstance(embed, SiameseNet):
        raise ValueError("classifier='siamese' needs embed to be a SiameseNet")


def evaluate_episodes(
    embed: Embedder,
    X: Tensor | np.ndarray,
    y: Tensor | np.ndarray | Sequence[int],
    *,
    n_way: int,
    k_shot: int,
    n_query: int = 1,
    episodes: int = 600,
    seed: int = 0,
    classifier: str = "prototype",
    classes: Sequence[int] | None = None,
    groups: Sequence[int] | np.ndarray | None = None,
) -> EpisodeScore:
    """Accuracy of a few-shot classifier over seeded N-way K-shot episodes.

    Every item is embedded once (``embed`` in eval mode, no gradients); each episode from
    :class:`deepdojo.data.EpisodeSampler` ``(y, n_way, k_shot, n_query, episodes, seed)``
    then classifies its ``N*Q`` queries from its ``N*K`` support embeddings.

    Parameters
    ----------
    embed : nn.Module, callable or None
        ``(B, *) -> (B, D)``; a :class:`PrototypicalNet` or :class:`SiameseNet` uses its
        ``embed``; ``None`` uses the flattened raw inputs (the pixel baseline).
    X : array or Tensor, shape (n, *)
        Items; ``y`` ``(n,)`` integer labels.
    n_way, k_shot, n_query, episodes, seed, classes, groups
        As in :class:`~deepdojo.data.EpisodeSampler` (``groups``: a group, e.g. the alphabet,
        per item; each episode's classes then come from one group).
    classifier : {"prototype", "cosine", "nn", "nn-cosine", "siamese"}
        Euclidean prototypes (Snell), cosine prototypes, 1-NN on Euclidean or cosine distance,
        or the Siamese head's largest ``p(same)`` per class (needs a :class:`SiameseNet`).

    Returns
    -------
    EpisodeScore
        Mean query accuracy, its 95% t-interval over episodes, and per-episode accuracies.
    """
    from deepdojo.data.episodes import EpisodeSampler

    _check_classifier(classifier, embed)
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, Tensor) else X)
    sampler = EpisodeSampler(y, n_way, k_shot, n_query, episodes, classes=classes, seed=seed,
                             groups=groups)  # fmt: skip
    features = _embed_all(embed, X)  # (n, D)
    support_y = torch.arange(n_way).repeat_interleave(k_shot)  # (N*K,)
    query_y = torch.arange(n_way).repeat_interleave(n_query)  # (N*Q,)
    accuracies = []
    with torch.no_grad():
        for episode in sampler:
            logits = _episode_logits(classifier, embed, features[episode.support], support_y,
                                     features[episode.query], n_way)  # fmt: skip
            accuracies.append(float((logits.argmax(1) == query_y).float().mean()))
    return EpisodeScore.from_values(accuracies)


def evaluate_runs(embed: Embedder, runs: Sequence[Any], *,
                  classifier: str = "prototype") -> EpisodeScore:  # fmt: skip
    """Accuracy over fixed one-shot runs (Omniglot's 20 within-alphabet 20-way runs).

    Each run has ``support`` ``(N, *)``, ``support_labels`` ``(N,)``, ``query`` ``(M, *)``
    and ``query_labels`` ``(M,)`` (as :func:`deepdojo.data.omniglot.load_runs` returns);
    the interval is over runs.
    """
    _check_classifier(classifier, embed)
    accuracies = []
    with torch.no_grad():
        for run in runs:
            n_way = int(run.support_labels.max()) + 1
            support = _embed_all(embed, torch.as_tensor(run.support))
            query = _embed_all(embed, torch.as_tensor(run.query))
            logits = _episode_logits(classifier, embed, support,
                                     torch.as_tensor(run.support_labels), query, n_way)  # fmt: skip
            hits = logits.argmax(1) == torch.as_tensor(run.query_labels)
            accuracies.append(float(hits.float().mean()))
    if not accuracies:
        raise ValueError("runs must hold at least one run")
    return EpisodeScore.from_values(accuracies)
