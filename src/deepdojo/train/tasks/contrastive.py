"""The contrastive task: SimCLR's two augmented views and the NT-Xent loss.

Per batch ``X_b`` of shape ``(B, *)`` (labels, if any, are ignored)::

    V1, V2 = augment(X_b), augment(X_b)     # two independent views, global RNG
    H = encoder([V1; V2])                   # (2B, F): both views in one forward
    Z = head(H)                             # (2B, D): projection used only by the loss
    loss = NT-Xent(Z[:B], Z[B:], tau)       # deepdojo.nn.losses.nt_xent
    yield "model", loss

The representation for downstream use is ``encoder(x)`` (:meth:`ContrastiveTask.embed`),
not the projection (Chen et al. 2020, section 4.2). The task logs ``alignment``, the mean
cosine similarity between the two views' projections. Both views go through one forward
pass, so a batch-norm layer normalizes over all ``2B`` views, as SimCLR's global batch norm.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.data.augment import Augmentation, Compose, Crop, Mask, two_views
from deepdojo.nn.losses import nt_xent
from deepdojo.train.task import Task
from deepdojo.train.tasks._common import (
    OptimizerSpec,
    build_optimizer,
    check_optimizer_spec,
    check_positive,
    inputs_of,
)

__all__ = ["ContrastiveTask", "default_views"]


def default_views() -> Compose:
    """The default view augmentation: random resized crop (area 0.5-1), then a 25% cutout.

    Both are free of units, so they suit raw digits (0-16), scaled images and signals alike.
    """
    return Compose([Crop((0.5, 1.0)), Mask(0.25)])


class ContrastiveTask(Task):
    """Self-supervised training with two views per item and NT-Xent (SimCLR).

    Parameters
    ----------
    encoder : nn.Module
        ``(B, *) -> (B, F)``: the network whose representation is learned.
    projection_head : nn.Module, optional
        ``(B, F) -> (B, D)``; default identity (no head).
    augment : callable, optional
        ``(x, generator) -> x`` view augmentation from :mod:`deepdojo.data.augment`; default
        :func:`default_views`.
    temperature : float
        ``tau > 0`` of NT-Xent.
    optimizer, lr, optimizer_kwargs, scheduler
        As in :class:`~deepdojo.train.tasks.ReconstructionTask`; the optimizer covers the
        encoder and the head.
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_head: nn.Module | None = None,
        *,
        augment: Augmentation | None = None,
        temperature: float = 0.5,
        optimizer: OptimizerSpec = "adam",
        lr: float = 1e-3,
        optimizer_kwargs: Mapping[str, Any] | None = None,
        scheduler: Any = None,
    ) -> None:
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}")
        if projection_head is not None and not isinstance(projection_head, nn.Module):
            raise TypeError(
                f"projection_head must be a torch.nn.Module or None, got "
                f"{type(projection_head).__name__}"
            )
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be callable, got {type(augment).__name__}")
        super().__init__()
        self.encoder = encoder
        self.projection_head = nn.Identity() if projection_head is None else projection_head
        self.augment = default_views() if augment is None else augment
        self.temperature = check_positive(temperature, "temperature")
        self.optimizer_spec = check_optimizer_spec(optimizer)
        self.lr = check_positive(lr, "lr")
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.scheduler = scheduler

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": build_optimizer(self.optimizer_spec, self, self.lr,
                                         self.optimizer_kwargs)}  # fmt: skip

    def configure_schedulers(self) -> dict[str, Any]:
        return {} if self.scheduler is None else {"model": self.scheduler}

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"encoder": self.encoder}
        if any(True for _ in self.projection_head.parameters()):
            nets["projection_head"] = self.projection_head
        return nets

    def project(self, view1: Tensor, view2: Tensor) -> tuple[Tensor, Tensor]:
        """Projections ``(z1, z2)``, each ``(B, D)``, of two views in one forward pass."""
        batch = view1.shape[0]
        z = self.projection_head(self.encoder(torch.cat([view1, view2])))  # (2B, D)
        return z[:batch], z[batch:]

    def loss(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """NT-Xent of two fresh views of ``inputs``, and the views' mean cosine similarity."""
        z1, z2 = self.project(*two_views(inputs, self.augment, None))
        alignment = F.cosine_similarity(z1.detach(), z2.detach(), dim=1).mean()
        return nt_xent(z1, z2, self.temperature), alignment

    def training_step(self, batch: Any) -> Iterator[tuple[str, Tensor]]:
        loss, alignment = self.loss(inputs_of(batch))
        applied = yield "model", loss
        if applied:
            self.log("alignment", alignment)

    def validation_step(self, batch: Any) -> dict[str, float]:
        loss, alignment = self.loss(inputs_of(batch))
        return {"loss": float(loss), "alignment": float(alignment)}

    @torch.no_grad()
    def embed(self, inputs: Tensor) -> Tensor:
        """The learned representation ``encoder(inputs)``, ``(B, F)``, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return self.encoder(inputs)
        finally:
            self.train(was_training)

    def forward(self, inputs: Tensor) -> Tensor:
        return self.encoder(inputs)
