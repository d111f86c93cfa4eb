"""The three ways to learn an embedding for new classes, on one budget of training images.

- **ProtoNet** (Snell et al. 2017): episodes of the training classes; loss = cross-entropy of
  ``softmax(-||f(q) - p_c||^2)`` with ``p_c`` the mean support embedding of class ``c``.
- **Siamese** (Koch et al. 2015; contrastive loss of Hadsell et al. 2006): pairs of the
  training classes, half same-class; same pairs pulled together, different pairs pushed
  beyond a margin. (Koch's weighted-L1 logistic head was tried first and scored below the
  pixels at this budget: its weights take both signs, so it is not a distance; the issue asks
  for the contrastive loss, which gives one.)
- **Supervised** ("a good embedding is all you need", Chen et al. 2019, Tian et al. 2020):
  an ordinary classifier ``softmax(W f(x) + b)`` over all training classes; the head is thrown
  away and ``f`` is used with a nearest-centroid head on new classes.

All three share the encoder (:func:`conv_encoder`), Adam, the number of training images seen
(``images``) and an lr grid; the lr is picked on validation classes (held out of the training
classes, never the test classes) with each arm's own episode head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepdojo.models.fewshot import ConvEmbedding, contrastive_loss, matching_logits

from .episodes import draw_episodes, episode_accuracy


def conv_encoder(hidden: int, blocks: int, dim: int = 64) -> nn.Module:
    """The library's Conv-k embedding (:class:`deepdojo.models.fewshot.ConvEmbedding`):
    ``blocks`` x (3x3 conv, BatchNorm, ReLU, 2x2 max-pool), global average pool.

    Input ``(B, 1, H, W)``; output ``(B, dim)`` (the Conv-4 of Vinyals et al. and Snell et al.).
    """
    return ConvEmbedding(in_channels=1, hidden=hidden, dim=dim, blocks=blocks)


@dataclass
class Trained:
    """A trained embedding: the encoder, its lr, whether it is used L2-normalised."""

    encoder: nn.Module
    lr: float
    normalise: bool = False  # the Siamese net's embedding lives on the unit sphere

    def embed(self, X: np.ndarray, batch: int = 512) -> np.ndarray:
        """Embeddings ``(n, D)`` in eval mode (BatchNorm uses its running statistics)."""
        self.encoder.eval()
        with torch.no_grad():
            z = torch.cat([self.encoder(torch.from_numpy(X[i:i + batch]))
                           for i in range(0, len(X), batch)])  # fmt: skip
        return (F.normalize(z, dim=1) if self.normalise else z).numpy()


def _steps(images: int, per_step: int) -> int:
    return max(1, images // per_step)


def train_protonet(X: np.ndarray, y: np.ndarray, *, hidden: int, blocks: int, lr: float,
                   images: int, way: int, shot: int, query: int, seed: int) -> Trained:
    """Episodic training on ``(X, y)``; ``images // (way * (shot + query))`` episodes."""
    torch.manual_seed(seed)
    enc = conv_encoder(hidden, blocks)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    steps = _steps(images, way * (shot + query))
    eps = draw_episodes(y, way, shot, query, steps, seed)
    target = torch.arange(way).repeat_interleave(query)  # (way*query,)
    Xt = torch.from_numpy(X)
    enc.train()
    for j in range(steps):
        idx = np.concatenate([eps.support_idx[j], eps.query_idx[j]])
        z = enc(Xt[idx])  # (way*(shot+query), D)
        s, q = z[: way * shot], z[way * shot:]
        protos = s.reshape(way, shot, -1).mean(1)  # (way, D)
        loss = F.cross_entropy(-torch.cdist(q, protos) ** 2, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Trained(enc, lr)


def train_matching(X: np.ndarray, y: np.ndarray, *, hidden: int, blocks: int, lr: float,
                   images: int, way: int, shot: int, query: int, seed: int) -> Trained:
    """Matching network (Vinyals et al. 2016, no FCE): the ProtoNet's episodes, loss =
    cross-entropy of the cosine-attention vote (:func:`deepdojo.models.fewshot.matching_logits`)."""
    torch.manual_seed(seed)
    enc = conv_encoder(hidden, blocks)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    steps = _steps(images, way * (shot + query))
    eps = draw_episodes(y, way, shot, query, steps, seed)
    support_y = torch.arange(way).repeat_interleave(shot)  # (way*shot,)
    target = torch.arange(way).repeat_interleave(query)  # (way*query,)
    Xt = torch.from_numpy(X)
    enc.train()
    for j in range(steps):
        idx = np.concatenate([eps.support_idx[j], eps.query_idx[j]])
        z = enc(Xt[idx])  # (way*(shot+query), D)
        loss = F.nll_loss(matching_logits(z[: way * shot], support_y, z[way * shot:], way),
                          target)  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Trained(enc, lr)


def train_siamese(X: np.ndarray, y: np.ndarray, *, hidden: int, blocks: int, lr: float,
                  images: int, pairs: int, seed: int, margin: float = 1.0) -> Trained:
    """Same/different pairs (half each) from ``(X, y)``; ``images // (2 * pairs)`` steps.

    Contrastive loss (Hadsell et al. 2006) on L2-normalised embeddings ``u = f(x) / ||f(x)||``:
    ``L = s d^2 + (1 - s) max(0, m - d)^2`` with ``d = ||u1 - u2||`` and ``s`` = 1 for a
    same-class pair. The embedding is used with the distance it was trained on.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    enc = conv_encoder(hidden, blocks)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    by_class = {c: np.flatnonzero(y == c) for c in np.unique(y)}
    classes = np.array(list(by_class))
    same = torch.tensor([1.0] * (pairs // 2) + [0.0] * (pairs - pairs // 2))  # (pairs,)
    Xt = torch.from_numpy(X)
    enc.train()
    for _ in range(_steps(images, 2 * pairs)):
        a, b = _pairs(rng, classes, by_class, pairs // 2, pairs - pairs // 2)
        u = F.normalize(enc(Xt[np.concatenate([a, b])]), dim=1)  # (2*pairs, D)
        loss = contrastive_loss(u[:pairs], u[pairs:], same, margin=margin)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Trained(enc, lr, normalise=True)


def _pairs(rng: np.random.Generator, classes: np.ndarray, by_class: dict, n_same: int,
           n_diff: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs: ``n_same`` same-class (distinct items), then ``n_diff`` different-class."""
    a, b = [], []
    for c in rng.choice(classes, n_same):
        i, j = rng.choice(by_class[c], 2, replace=False)
        a.append(i)
        b.append(j)
    for _ in range(n_diff):
        c1, c2 = rng.choice(classes, 2, replace=False)
        a.append(rng.choice(by_class[c1]))
        b.append(rng.choice(by_class[c2]))
    return np.array(a), np.array(b)


def train_supervised(X: np.ndarray, y: np.ndarray, *, hidden: int, blocks: int, lr: float,
                     images: int, batch: int, seed: int) -> Trained:
    """A plain classifier over all classes of ``y``; ``images // batch`` minibatch steps."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    enc = conv_encoder(hidden, blocks)
    classes, target = np.unique(y, return_inverse=True)
    dim = enc(torch.from_numpy(X[:2])).shape[1]
    head = nn.Linear(dim, len(classes))
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(target.astype(np.int64))
    enc.train()
    for _ in range(_steps(images, batch)):
        idx = rng.choice(len(X), batch, replace=False)
        loss = F.cross_entropy(head(enc(Xt[idx])), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Trained(enc, lr)


def val_accuracy(model: Trained, X: np.ndarray, y: np.ndarray, *, head: str, episodes: int,
                 seed: int) -> float:
    """Mean 5-way 1-shot accuracy on validation classes with the arm's own head."""
    eps = draw_episodes(y, 5, 1, 5, episodes, seed)
    return float(episode_accuracy(model.embed(X), eps, head).mean())
