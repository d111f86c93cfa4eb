"""Few-shot learners: prototypical and Siamese networks, metric losses, episode evaluation.

Glossary (shapes batch-first): ``N`` ways (classes per episode), ``K`` shots (support items per
class), ``S = N*K`` support items, ``M`` queries, ``D`` embedding size, ``f`` the embedding
network ``(B, C, H, W) -> (B, D)``.

- :class:`ConvEmbedding`: the conv-4 encoder of Vinyals et al. (2016) and Snell et al. (2017):
  four blocks ``conv3x3(64) -> BatchNorm -> ReLU -> maxpool2``, then a global average pool.
- :class:`PrototypicalNet` (Snell et al. 2017): prototypes ``c_n = mean_k f(x_nk)`` and logits
  ``-||f(q) - c_n||^2`` (Euclidean) or ``s * cos(f(q), c_n)`` (cosine).
- :class:`MatchingNet` (Vinyals et al. 2016, without full context embeddings): a query's
  attention ``softmax_s cos(f(q), f(x_s))`` over the support set votes for their labels.
- :class:`SiameseNet` (Koch et al. 2015): ``p(same | a, b) = sigmoid(w . |f(a) - f(b)| + b)``,
  a weighted L1 distance, symmetric in ``a`` and ``b``.
- Metric losses: :func:`contrastive_loss` (Hadsell et al. 2006), :func:`triplet_loss`
  (Schroff et al. 2015) and :func:`batch_hard_triplet_loss` (Hermans et al. 2017, hard-negative
  mining within the batch).
- :func:`nearest_neighbour_logits`: the 1-NN baseline on any features (raw pixels or a
  supervised embedding, "a good embedding is all you need", Tian et al. 2020).
- :func:`evaluate_episodes` and :func:`evaluate_runs` (module ``fewshot_eval``): accuracy over
  seeded N-way K-shot episodes, or over the 20 fixed Omniglot runs, with a 95% t-interval.
- :func:`fit_protonet`, :func:`fit_siamese`, :func:`fit_supervised_embedding` (module
  ``fewshot_fit``, the one place where ``models`` imports ``train``): training on top of
  :class:`deepdojo.train.Trainer`.

All of them are importable from here.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.models.registry import ModelExample, register_model
from deepdojo.utils.checks import check_int as _check_int

__all__ = [
    "ConvEmbedding",
    "MatchingNet",
    "EpisodeScore",
    "PrototypicalNet",
    "SiameseNet",
    "batch_hard_triplet_loss",
    "contrastive_loss",
    "cosine_prototype_logits",
    "euclidean_prototype_logits",
    "evaluate_episodes",
    "evaluate_runs",
    "fit_protonet",
    "fit_siamese",
    "fit_supervised_embedding",
    "hardest_pairs",
    "matching_logits",
    "nearest_neighbour_logits",
    "triplet_loss",
]

_EPS = 1e-12  # under the square root of a squared distance: a finite gradient at d = 0


# ----------------------------------------------------------------------------- encoders
class ConvEmbedding(nn.Module):
    """The conv-4 embedding: ``blocks`` x (conv3x3 -> BatchNorm -> ReLU -> maxpool 2).

    Pooling rounds up (``ceil_mode``), so 28 x 28 inputs go 14, 7, 4, 2 and 8 x 8 inputs 4, 2,
    1, 1; a global average pool then gives one vector per image.

    Parameters
    ----------
    in_channels : int
        ``C`` of the inputs.
    hidden : int
        Channels of the inner blocks (64 in Snell et al.).
    dim : int
        Channels of the last block: the embedding size ``D``.
    blocks : int
        Number of conv blocks (>= 1).

    Inputs: ``x`` ``(B, C, H, W)``. Outputs: ``(B, D)``.
    """

    def __init__(self, in_channels: int = 1, hidden: int = 64, dim: int = 64,
                 blocks: int = 4) -> None:  # fmt: skip
        super().__init__()
        self.in_channels = _check_int(in_channels, "in_channels")
        self.hidden, self.dim = _check_int(hidden, "hidden"), _check_int(dim, "dim")
        self.blocks = _check_int(blocks, "blocks")
        sizes = [self.in_channels] + [self.hidden] * (self.blocks - 1) + [self.dim]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d(2, ceil_mode=True)]  # fmt: skip
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must be (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return self.features(x).mean(dim=(2, 3))  # (B, D)


# ----------------------------------------------------------------------------- classifiers
def _prototypes(support: Tensor, support_labels: Tensor, n_way: int) -> Tensor:
    """Class means ``(N, D)`` of ``(S, D)`` support embeddings."""
    one_hot = F.one_hot(support_labels, n_way).to(support.dtype)  # (S, N)
    return one_hot.T @ support / one_hot.sum(0).clamp_min(1).unsqueeze(1)  # (N, D)


def euclidean_prototype_logits(support: Tensor, support_labels: Tensor, query: Tensor,
                               n_way: int) -> Tensor:  # fmt: skip
    """``logits[m, n] = -||q_m - c_n||^2``, ``c_n`` the mean of class ``n``'s support; (M, N)."""
    prototypes = _prototypes(support, support_labels, n_way)  # (N, D)
    diff = query[:, None, :] - prototypes[None]  # (M, N, D)
    return -(diff**2).sum(-1)  # (M, N)


def cosine_prototype_logits(support: Tensor, support_labels: Tensor, query: Tensor,
                            n_way: int, scale: float = 10.0) -> Tensor:  # fmt: skip
    """``logits[m, n] = scale * cos(q_m, c_n)``; (M, N)."""
    prototypes = _prototypes(support, support_labels, n_way)  # (N, D)
    return scale * F.normalize(query, dim=1) @ F.normalize(prototypes, dim=1).T  # (M, N)


def nearest_neighbour_logits(support: Tensor, support_labels: Tensor, query: Tensor,
                             n_way: int, metric: str = "euclidean") -> Tensor:  # fmt: skip
    """1-NN scores: ``logits[m, n] = max_{s: y_s = n} sim(q_m, x_s)``; (M, N).

    ``sim`` is ``-||q - x||`` (``metric="euclidean"``) or ``cos(q, x)`` (``"cosine"``), so
    ``argmax`` over ``n`` is the label of the nearest support item. Inputs of any shape
    ``(S, *)`` / ``(M, *)`` are flattened (raw pixels work as they are).
    """
    support, query = support.flatten(1), query.flatten(1)  # (S, D), (M, D)
    if metric == "euclidean":
        sim = -torch.cdist(query, support)  # (M, S)
    elif metric == "cosine":
        sim = F.normalize(query, dim=1) @ F.normalize(support, dim=1).T  # (M, S)
    else:
        raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    mask = F.one_hot(support_labels, n_way).T.bool()  # (N, S)
    scores = sim[:, None, :].masked_fill(~mask[None], float("-inf"))  # (M, N, S)
    return scores.amax(dim=-1)  # (M, N)


def matching_logits(support: Tensor, support_labels: Tensor, query: Tensor,
                    n_way: int) -> Tensor:  # fmt: skip
    """Matching-network log-probabilities (Vinyals et al. 2016, no full context embedding).

    ``a(q, s) = softmax_s cos(q, s)`` over the support set, ``p(n | q) = sum_{s: y_s = n}
    a(q, s)``; returns ``log p`` ``(M, N)`` (cross-entropy on it is the paper's loss).
    """
    att = (F.normalize(query, dim=1) @ F.normalize(support, dim=1).T).softmax(1)  # (M, S)
    probs = att @ F.one_hot(support_labels, n_way).to(att.dtype)  # (M, N)
    return probs.clamp_min(1e-12).log()


class MatchingNet(nn.Module):
    """Matching network (Vinyals et al. 2016) around an embedding ``f``, without the full
    context embeddings: a query attends over the support set by cosine similarity and takes
    the attention-weighted vote of the support labels (:func:`matching_logits`).

    Inputs: ``support`` ``(S, *)``, ``support_labels`` ``(S,)`` in ``0..N-1``, ``query``
    ``(M, *)``, ``n_way`` ``N``. Outputs: log-probabilities ``(M, N)``.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        self.encoder = encoder

    def embed(self, x: Tensor) -> Tensor:
        """``f(x)``: ``(B, *) -> (B, D)``."""
        return self.encoder(x)

    def classifier(self, support: Tensor, support_labels: Tensor, query: Tensor,
                   n_way: int) -> Tensor:  # fmt: skip
        """Log-probabilities ``(M, N)`` from embeddings (for :class:`EpisodicTask`)."""
        return matching_logits(support, support_labels, query, n_way)

    def forward(self, support: Tensor, support_labels: Tensor, query: Tensor,
                n_way: int) -> Tensor:  # fmt: skip
        embeddings = self.encoder(torch.cat([support, query]))  # (S + M, D): one forward
        return self.classifier(embeddings[: len(support)], support_labels,
                               embeddings[len(support) :], n_way)  # fmt: skip


class PrototypicalNet(nn.Module):
    """Prototypical network (Snell et al. 2017) around an embedding ``f``.

    Parameters
    ----------
    encoder : nn.Module
        ``f: (B, *) -> (B, D)``.
    distance : {"euclidean", "cosine"}
        Logits ``-||f(q) - c_n||^2`` or ``scale * cos(f(q), c_n)`` with ``scale = 10``.

    Inputs: ``support`` ``(S, *)``, ``support_labels`` ``(S,)`` in ``0..N-1``, ``query``
    ``(M, *)``, ``n_way`` ``N``. Outputs: logits ``(M, N)``.
    """

    def __init__(self, encoder: nn.Module, distance: str = "euclidean") -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        if distance not in ("euclidean", "cosine"):
            raise ValueError(f"distance must be 'euclidean' or 'cosine', got {distance!r}")
        self.encoder, self.distance = encoder, distance

    def embed(self, x: Tensor) -> Tensor:
        """``f(x)``: ``(B, *) -> (B, D)``."""
        return self.encoder(x)

    def classifier(self, support: Tensor, support_labels: Tensor, query: Tensor,
                   n_way: int) -> Tensor:  # fmt: skip
        """Logits ``(M, N)`` from embeddings (the classifier :class:`EpisodicTask` takes)."""
        if self.distance == "euclidean":
            return euclidean_prototype_logits(support, support_labels, query, n_way)
        return cosine_prototype_logits(support, support_labels, query, n_way)

    def forward(self, support: Tensor, support_labels: Tensor, query: Tensor,
                n_way: int) -> Tensor:  # fmt: skip
        embeddings = self.encoder(torch.cat([support, query]))  # (S + M, D): one forward
        return self.classifier(embeddings[: len(support)], support_labels,
                               embeddings[len(support) :], n_way)  # fmt: skip


class SiameseNet(nn.Module):
    """Siamese network (Koch et al. 2015) with a weighted-L1 verification head.

    ``logit(a, b) = w . |f(a) - f(b)| + b0``, ``p(same) = sigmoid(logit)``; symmetric in
    ``a`` and ``b`` by construction.

    Parameters
    ----------
    encoder : nn.Module
        ``f: (B, *) -> (B, D)``; ``dim`` (``D``) is read from ``encoder.dim`` when not given.

    Inputs: ``x1``, ``x2`` ``(B, *)``. Outputs: logits ``(B,)``.
    """

    def __init__(self, encoder: nn.Module, dim: int | None = None) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        dim = getattr(encoder, "dim", None) if dim is None else dim
        self.encoder = encoder
        self.head = nn.Linear(_check_int(dim, "dim"), 1)

    def embed(self, x: Tensor) -> Tensor:
        """``f(x)``: ``(B, *) -> (B, D)``."""
        return self.encoder(x)

    def pair_logits(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Logits ``(B,)`` from embeddings ``(B, D)``."""
        return self.head((z1 - z2).abs()).squeeze(-1)  # (B,)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        z = self.encoder(torch.cat([x1, x2]))  # (2B, D): one forward, one batch-norm batch
        B = x1.shape[0]  # a symbolic size under torch.export (len() would fix it)
        return self.pair_logits(z[:B], z[B:])

    def similarity(self, x1: Tensor, x2: Tensor) -> Tensor:
        """``p(same)`` in ``(0, 1)``, shape ``(B,)``."""
        return torch.sigmoid(self(x1, x2))


# ----------------------------------------------------------------------------- losses
def _distance(z1: Tensor, z2: Tensor) -> Tensor:
    return ((z1 - z2) ** 2).sum(-1).clamp_min(_EPS).sqrt()  # (B,)


def contrastive_loss(z1: Tensor, z2: Tensor, same: Tensor, margin: float = 1.0) -> Tensor:
    """Contrastive loss (Hadsell et al. 2006), mean over pairs.

    ``L = mean[ y d^2 + (1 - y) max(0, margin - d)^2 ]``, ``d = ||z1 - z2||``, ``y`` = 1 for
    a same-class pair. ``z1``, ``z2`` ``(B, D)``; ``same`` ``(B,)`` bool or 0/1.
    """
    d = _distance(z1, z2)  # (B,)
    y = same.to(d.dtype)
    return (y * d**2 + (1 - y) * (margin - d).clamp_min(0) ** 2).mean()


def triplet_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                 margin: float = 0.2) -> Tensor:  # fmt: skip
    """Triplet loss: ``mean[ max(0, ||a - p|| - ||a - n|| + margin) ]``; inputs ``(B, D)``."""
    return (_distance(anchor, positive) - _distance(anchor, negative) + margin).clamp_min(0).mean()


def hardest_pairs(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Batch-hard mining: for each anchor its farthest positive and nearest negative.

    Returns ``(positive, negative, valid)``, each ``(B,)``: indices of the hardest positive
    (same label, not the anchor, largest distance) and hardest negative (other label, smallest
    distance); ``valid`` marks anchors that have both.
    """
    dist = torch.cdist(embeddings, embeddings)  # (B, B)
    same = labels[:, None] == labels[None]  # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positives, negatives = same & ~eye, ~same
    positive = dist.masked_fill(~positives, float("-inf")).argmax(dim=1)  # (B,)
    negative = dist.masked_fill(~negatives, float("inf")).argmin(dim=1)  # (B,)
    return positive, negative, positives.any(1) & negatives.any(1)


def batch_hard_triplet_loss(embeddings: Tensor, labels: Tensor, margin: float = 0.2) -> Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017), mean over anchors with a triplet.

    ``L = mean_a max(0, max_p ||a - p|| - min_n ||a - n|| + margin)`` over positives ``p``
    (same label) and negatives ``n`` (other labels) in the batch. ``embeddings`` ``(B, D)``,
    ``labels`` ``(B,)``. Raises ``ValueError`` when no anchor has both.
    """
    positive, negative, valid = hardest_pairs(embeddings.detach(), labels)
    if not valid.any():
        raise ValueError("labels must give some anchor both a positive and a negative")
    anchor = embeddings[valid]
    return triplet_loss(anchor, embeddings[positive[valid]], embeddings[negative[valid]], margin)


# ----------------------------------------------------------------------------- registry
def _image_pair_example(**kw: Any) -> ModelExample:
    gen = torch.Generator().manual_seed(0)
    return ModelExample((torch.randn(4, 1, 28, 28, generator=gen),
                         torch.randn(4, 1, 28, 28, generator=gen)), (4,))  # fmt: skip


def _episode_example(**kw: Any) -> ModelExample:
    gen = torch.Generator().manual_seed(0)
    support = torch.randn(6, 1, 28, 28, generator=gen)  # 3-way 2-shot
    query = torch.randn(4, 1, 28, 28, generator=gen)
    return ModelExample((support, torch.arange(3).repeat_interleave(2), query, 3), (4, 3))


@register_model("conv_embedding", test_kwargs={"hidden": 8, "dim": 8},
                example=lambda **kw: ModelExample((torch.randn(5, 1, 28, 28),),
                                                  (5, kw.get("dim", 64))))  # fmt: skip
def conv_embedding(in_channels: int = 1, hidden: int = 64, dim: int = 64,
                   blocks: int = 4) -> ConvEmbedding:  # fmt: skip
    """Conv-4 embedding (Vinyals et al.; Snell et al.): images -> (B, dim)."""
    return ConvEmbedding(in_channels, hidden, dim, blocks)


@register_model("protonet", test_kwargs={"hidden": 8, "dim": 8}, example=_episode_example)
def protonet(in_channels: int = 1, hidden: int = 64, dim: int = 64, blocks: int = 4,
             distance: str = "euclidean") -> PrototypicalNet:  # fmt: skip
    """Prototypical network on the conv-4 embedding: (support, labels, query, N) -> (M, N)."""
    return PrototypicalNet(ConvEmbedding(in_channels, hidden, dim, blocks), distance)


@register_model("matching_net", test_kwargs={"hidden": 8, "dim": 8},
                example=_episode_example)  # fmt: skip
def matching_net(in_channels: int = 1, hidden: int = 64, dim: int = 64,
                 blocks: int = 4) -> MatchingNet:  # fmt: skip
    """Matching network (no FCE) on the conv-4 embedding: (support, labels, query, N) ->
    log-probabilities (M, N)."""
    return MatchingNet(ConvEmbedding(in_channels, hidden, dim, blocks))


@register_model("siamese", test_kwargs={"hidden": 8, "dim": 8}, example=_image_pair_example)
def siamese(in_channels: int = 1, hidden: int = 64, dim: int = 64,
            blocks: int = 4) -> SiameseNet:  # fmt: skip
    """Siamese network, weighted-L1 verification head: (x1, x2) -> same/different logits (B,)."""
    return SiameseNet(ConvEmbedding(in_channels, hidden, dim, blocks))


# Evaluation and the training helpers (which need deepdojo.train) live in their own modules,
# re-exported here.
from deepdojo.models.fewshot_eval import (  # noqa: E402
    EpisodeScore,
    evaluate_episodes,
    evaluate_runs,
)
from deepdojo.models.fewshot_fit import (  # noqa: E402
    fit_protonet,
    fit_siamese,
    fit_supervised_embedding,
)
