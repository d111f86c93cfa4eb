"""Training helpers of the few-shot learners, on top of :class:`deepdojo.train.Trainer`.

Re-exported by :mod:`deepdojo.models.fewshot`. The one place where ``models`` reaches into
``train``: the helpers only assemble a Task and a Trainer, the learners themselves stay free of
the engine.

- :func:`fit_protonet`: episodic training (:class:`~deepdojo.train.tasks.EpisodicTask`) with
  the network's prototype classifier; Adam, cosine learning-rate decay over all episodes.
- :func:`fit_siamese`: same/different pairs drawn as 2-shot episodes of ``pairs`` classes:
  pair ``(x_c1, x_c2)`` is a positive, ``(x_c1, x_{c+1,2})`` a negative, so every batch is
  balanced; binary cross-entropy on the verification head (:class:`SiameseTask`).
- :func:`fit_supervised_embedding`: a linear classifier over all training classes on top of
  the encoder, cross-entropy; the encoder is the embedding ("a good embedding is all you need").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.data.episodes import episode_loader
from deepdojo.models.fewshot import ConvEmbedding, PrototypicalNet, SiameseNet
from deepdojo.train import Task, Trainer
from deepdojo.train.schedules import cosine
from deepdojo.train.tasks import EpisodicTask
from deepdojo.train.tasks._common import build_optimizer

__all__ = ["SiameseTask", "fit_protonet", "fit_siamese", "fit_supervised_embedding"]


def _tensors(X: Any, y: Any) -> tuple[Tensor, Tensor]:
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, Tensor) else X).float()
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y).long()
    if X.dim() != 4 or len(X) != len(y):
        raise ValueError(f"X must be (n, C, H, W) images with one label each, got X "
                         f"{tuple(X.shape)} and y {tuple(y.shape)}")  # fmt: skip
    return X, y


class SiameseTask(Task):
    """Binary same/different training of a :class:`SiameseNet` on 2-shot episodes.

    Batches are flat episodes of ``P`` classes with 2 items each and no queries (rows
    ``[x_01, x_02, x_11, x_12, ...]``). Per batch::

        Z = f(X_b)                          # (2P, D): one forward
        a, b = Z[0::2], Z[1::2]             # (P, D): first and second drawing of each class
        pos = head(|a - b|)                 # (P,) same-class pairs
        neg = head(|a - roll(b, 1)|)        # (P,) pairs of neighbouring classes
        loss = BCE([pos; neg], [1; 0])
    """

    def __init__(self, model: SiameseNet, *, lr: float = 1e-3, scheduler: Any = None) -> None:
        super().__init__()
        self.model, self.lr, self.scheduler = model, lr, scheduler

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": build_optimizer("adam", self, self.lr, None)}

    def configure_schedulers(self) -> dict[str, Any]:
        return {} if self.scheduler is None else {"model": self.scheduler}

    def logits(self, batch: Any) -> tuple[Tensor, Tensor]:
        inputs, _ = batch
        z = self.model.embed(inputs)  # (2P, D)
        a, b = z[0::2], z[1::2]  # (P, D) each
        pos = self.model.pair_logits(a, b)  # (P,)
        neg = self.model.pair_logits(a, b.roll(1, dims=0))  # (P,)
        targets = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])  # (2P,)
        return torch.cat([pos, neg]), targets

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        logits, targets = self.logits(batch)
        applied = yield "model", F.binary_cross_entropy_with_logits(logits, targets)
        if applied:
            self.log("accuracy", ((logits.detach() > 0).float() == targets).float().mean())

    def forward(self, inputs: Tensor) -> Tensor:
        return self.model.embed(inputs)


def fit_protonet(
    X: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    *,
    encoder: nn.Module | None = None,
    distance: str = "euclidean",
    n_way: int = 20,
    k_shot: int = 1,
    n_query: int = 5,
    episodes: int = 100,
    epochs: int = 10,
    lr: float = 1e-3,
    classes: Sequence[int] | None = None,
    seed: int = 0,
    device: str = "cpu",
    progress: str = "auto",
    groups: Sequence[int] | np.ndarray | None = None,
) -> PrototypicalNet:
    """Train a prototypical network on ``epochs x episodes`` N-way K-shot episodes.

    Parameters
    ----------
    X, y : images ``(n, C, H, W)`` and integer labels ``(n,)``
        The training classes (``classes`` restricts them further).
    encoder : nn.Module, optional
        Default ``ConvEmbedding(in_channels=C)``.
    distance : {"euclidean", "cosine"}
        The prototype distance.
    n_way, k_shot, n_query : int
        Training episodes (Snell et al. train with more ways than they test: 60-way 1-shot,
        5 queries, for Omniglot).
    episodes, epochs : int
        Episodes per epoch (fresh ones each epoch) and epochs.
    lr : float
        Adam's learning rate, decayed to ``lr / 20`` by a cosine over all episodes.
    seed, device, progress
        As in :class:`~deepdojo.train.Trainer`; the episodes are seeded with ``seed`` too.
    groups : sequence of int, shape (n,), optional
        A group (alphabet) per item: each episode's classes come from one group
        (:class:`~deepdojo.data.EpisodeSampler`).

    Returns
    -------
    PrototypicalNet
        The trained network (in eval mode).
    """
    X, y = _tensors(X, y)
    torch.manual_seed(seed)
    net = PrototypicalNet(encoder or ConvEmbedding(in_channels=X.shape[1]), distance)
    task = EpisodicTask(net.encoder, n_way, k_shot, classifier=net.classifier, lr=lr,
                        scheduler=cosine(lr / 20, interval="batch"))  # fmt: skip
    loader = episode_loader(X, y, n_way, k_shot, n_query, episodes, classes=classes, seed=seed,
                            groups=groups)  # fmt: skip
    Trainer(task, device=device, seed=seed, progress=progress).fit(loader, epochs=epochs)
    return net.cpu().eval()


def fit_siamese(
    X: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    *,
    encoder: nn.Module | None = None,
    pairs: int = 32,
    episodes: int = 100,
    epochs: int = 10,
    lr: float = 1e-3,
    classes: Sequence[int] | None = None,
    seed: int = 0,
    device: str = "cpu",
    progress: str = "auto",
) -> SiameseNet:
    """Train a Siamese network on balanced same/different pairs (:class:`SiameseTask`).

    Each step draws ``pairs`` classes and two drawings of each: ``pairs`` positive and
    ``pairs`` negative pairs. Adam with ``lr`` decayed to ``lr / 20`` by a cosine over all
    ``epochs x episodes`` steps. Other arguments as in :func:`fit_protonet`.
    """
    X, y = _tensors(X, y)
    torch.manual_seed(seed)
    net = SiameseNet(encoder or ConvEmbedding(in_channels=X.shape[1]))
    task = SiameseTask(net, lr=lr, scheduler=cosine(lr / 20, interval="batch"))
    loader = episode_loader(X, y, pairs, 2, 0, episodes, classes=classes, seed=seed)
    Trainer(task, device=device, seed=seed, progress=progress).fit(loader, epochs=epochs)
    return net.cpu().eval()


def fit_supervised_embedding(
    X: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    *,
    encoder: nn.Module | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
    progress: str = "auto",
) -> nn.Module:
    """Pre-train ``encoder`` as a classifier of all training classes; return the encoder.

    The model is ``Linear(D, C) o encoder`` with cross-entropy over the ``C`` distinct labels
    of ``y`` (re-indexed), Adam, in-memory batches. The returned encoder (eval mode) is the
    embedding for nearest-neighbour or prototype classification of new classes.
    """
    X, y = _tensors(X, y)
    torch.manual_seed(seed)
    encoder = encoder or ConvEmbedding(in_channels=X.shape[1])
    labels, targets = torch.unique(y, return_inverse=True)
    dim = getattr(encoder, "dim", None) or encoder(X[:2]).shape[1]
    model = nn.Sequential(encoder, nn.Linear(dim, len(labels)))
    Trainer(model, F.cross_entropy, "adam", lr=lr, device=device, seed=seed,
            progress=progress).fit((X, targets), epochs=epochs, batch_size=batch_size)  # fmt: skip
    return encoder.cpu().eval()
