"""Episode scoring on fixed embeddings: every method is scored on the same episodes (paired).

An N-way K-shot episode (:class:`deepdojo.data.episodes.EpisodeSampler`) gives ``N*K`` support
and ``N*Q`` query indices, class-major. With embeddings ``Z`` (n, D) of the test pool, a
classifier turns each episode into per-query class scores and the episode's accuracy is the
share of its queries classified right. Stacking the episodes lets one ``einsum`` score them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepdojo.data.episodes import EpisodeSampler

CHUNK = 50  # episodes scored at once (bounds the (E, NQ, NK, D) weighted-L1 tensor)


@dataclass
class Episodes:
    """Fixed episodes of one (way, shot) setting: indices into a pool, class-major."""

    way: int
    shot: int
    query: int
    support_idx: np.ndarray  # (E, N*K)
    query_idx: np.ndarray  # (E, N*Q)

    @property
    def n(self) -> int:
        return len(self.support_idx)


def draw_episodes(labels: np.ndarray, way: int, shot: int, query: int, episodes: int,
                  seed: int) -> Episodes:
    """``episodes`` seeded episodes from the library's sampler over every class of ``labels``."""
    sampler = EpisodeSampler(labels, n_way=way, k_shot=shot, n_query=query, episodes=episodes,
                             seed=seed, rank=0, world_size=1)
    eps = [sampler.episode(j) for j in range(episodes)]
    return Episodes(way, shot, query, np.stack([e.support.numpy() for e in eps]),
                    np.stack([e.query.numpy() for e in eps]))  # fmt: skip


def episode_accuracy(Z: np.ndarray, eps: Episodes, head: str = "prototype",
                     weights: np.ndarray | None = None) -> np.ndarray:
    """Per-episode query accuracy ``(E,)`` of a classifier on embeddings ``Z`` (n, D).

    Heads (``d`` a distance, the predicted class the argmin over classes):

    - ``"prototype"``: ``d(q, c) = ||z_q - mean_k z_{c,k}||^2`` (Snell et al. 2017);
    - ``"cosine"``: the prototype head on L2-normalised embeddings (Tian et al. 2020);
    - ``"nn"``: ``d(q, c) = min_k ||z_q - z_{c,k}||^2`` (1-nearest neighbour);
    - ``"matching"``: ``d(q, c) = -sum_k exp(cos(z_q, z_{c,k}))``, the matching network's
      attention vote (Vinyals et al. 2016; its softmax normaliser is the same for every c);
    - ``"siamese"``: ``d(q, c) = mean_k w . |z_q - z_{c,k}|`` with the Siamese head's weights
      ``w`` (D,) (Koch et al. 2015: the larger ``w . |z1 - z2|``, the less alike).
    """
    Z = np.asarray(Z, dtype=np.float32)
    if head == "cosine":
        Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-8)
    N, K, Q = eps.way, eps.shot, eps.query
    truth = np.repeat(np.arange(N), Q)  # (N*Q,)
    out = np.empty(eps.n)
    for lo in range(0, eps.n, CHUNK):
        S = torch.from_numpy(Z[eps.support_idx[lo:lo + CHUNK]])  # (E, N*K, D)
        Qz = torch.from_numpy(Z[eps.query_idx[lo:lo + CHUNK]])  # (E, N*Q, D)
        E, D = S.shape[0], S.shape[2]
        if head in ("prototype", "cosine"):
            protos = S.reshape(E, N, K, D).mean(2)  # (E, N, D)
            d = torch.cdist(Qz, protos) ** 2  # (E, N*Q, N)
        elif head == "nn":
            d = (torch.cdist(Qz, S) ** 2).reshape(E, N * Q, N, K).amin(3)  # (E, N*Q, N)
        elif head == "matching":
            Sn, Qn = torch.nn.functional.normalize(S, dim=2), torch.nn.functional.normalize(
                Qz, dim=2)
            d = -(Qn @ Sn.transpose(1, 2)).exp().reshape(E, N * Q, N, K).sum(3)  # (E, N*Q, N)
        elif head == "siamese":
            if weights is None:
                raise ValueError("head='siamese' needs weights")
            w = torch.as_tensor(weights, dtype=torch.float32)
            diff = (Qz[:, :, None] - S[:, None]).abs()  # (E, N*Q, N*K, D)
            d = (diff @ w).reshape(E, N * Q, N, K).mean(3)  # (E, N*Q, N)
        else:
            raise ValueError("head must be prototype, cosine, nn, matching or siamese, got "
                             f"{head!r}")
        pred = d.argmin(2).numpy()  # (E, N*Q)
        out[lo:lo + E] = (pred == truth[None]).mean(1)
    return out
