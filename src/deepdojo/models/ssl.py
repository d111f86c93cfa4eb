r"""Self-supervised models: small encoders, a projection head, SimCLR, and pretext labels.

Glossary (batch first): ``B`` batch, ``C`` channels, ``L`` signal length (MNIST-1D: 40),
``H x W`` image size (digits: 8x8), ``F`` representation size, ``D`` projection size.

- :class:`SignalEncoder` ``(B, C, L) -> (B, F)``: three 1-D convolutions (the last two with
  stride 2), flattened, then a linear map to ``F``.
- :class:`ImageEncoder` ``(B, C, H, W) -> (B, F)``: two 3x3 convolutions (the second with
  stride 2), flattened, then a linear map to ``F``.
- :class:`ProjectionHead` ``(B, F) -> (B, D)``: ``Linear -> BatchNorm -> ReLU -> Linear``
  (SimCLR's MLP head; VICReg calls it the expander).
- :class:`SimCLR` wraps an encoder and a head: ``forward(x) = head(encoder(x))``;
  ``embed(x) = encoder(x)`` is the representation kept for downstream tasks.
- Pretext labels made from the data itself: :func:`rotate_batch` (four rotations of an image,
  label = number of quarter turns) and :func:`permute_segments` (a signal cut into ``S``
  segments and shuffled, label = index of the permutation in :func:`segment_permutations`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepdojo.models.registry import ModelExample, register_model

__all__ = [
    "ImageEncoder",
    "ProjectionHead",
    "SignalEncoder",
    "SimCLR",
    "permute_segments",
    "rotate_batch",
    "segment_permutations",
]


def _positive_ints(values: Sequence[int], name: str) -> tuple[int, ...]:
    values = tuple(values) if isinstance(values, Sequence) else (values,)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name} must be positive ints, got {values!r}")
    return values


class SignalEncoder(nn.Module):
    """1-D convolutional encoder for signals ``(B, C, L)`` (MNIST-1D: ``C = 1, L = 40``).

    ``Conv1d(k=5, pad 2) -> ReLU -> [Conv1d(k=5, stride 2, pad 2) -> ReLU] x 2 -> flatten ->
    Linear(F)``; the length after the strided layers is ``ceil(ceil(L / 2) / 2)``.

    Parameters
    ----------
    in_channels : int
        ``C``.
    length : int
        ``L``.
    channels : int
        Width of every convolution.
    feature_size : int
        ``F``, the representation size.
    """

    def __init__(self, in_channels: int = 1, length: int = 40, channels: int = 32,
                 feature_size: int = 64) -> None:
        super().__init__()
        _positive_ints((in_channels, length, channels, feature_size), "sizes")
        self.convs = nn.Sequential(
            nn.Conv1d(in_channels, channels, 5, padding=2), nn.ReLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
        )  # fmt: skip
        reduced = math.ceil(math.ceil(length / 2) / 2)  # two stride-2 convolutions
        self.fc = nn.Linear(channels * reduced, feature_size)
        self.feature_size = feature_size

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2:
            x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
        h = self.convs(x)  # (B, channels, L/4)
        return self.fc(h.flatten(1))  # (B, F)


class ImageEncoder(nn.Module):
    """Convolutional encoder for small images ``(B, C, H, W)`` (digits: ``1 x 8 x 8``).

    ``Conv2d(3x3, pad 1) -> ReLU -> Conv2d(3x3, stride 2, pad 1) -> ReLU -> flatten ->
    Linear(F)``.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 8, channels: int = 32,
                 feature_size: int = 64) -> None:
        super().__init__()
        _positive_ints((in_channels, image_size, channels, feature_size), "sizes")
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        )  # fmt: skip
        side = -(-image_size // 2)
        self.fc = nn.Linear(channels * side * side, feature_size)
        self.feature_size = feature_size

    def forward(self, x: Tensor) -> Tensor:
        h = self.convs(x)  # (B, channels, H/2, W/2)
        return self.fc(h.flatten(1))  # (B, F)


class ProjectionHead(nn.Module):
    """SimCLR's MLP head ``g(h) = W_2 ReLU(BN(W_1 h))``: ``(B, F) -> (B, D)``."""

    def __init__(self, in_features: int = 64, hidden: int = 64, out_features: int = 32) -> None:
        super().__init__()
        _positive_ints((in_features, hidden, out_features), "sizes")
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden),
                                 nn.ReLU(), nn.Linear(hidden, out_features))  # fmt: skip

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)  # (B, D)


class SimCLR(nn.Module):
    """Encoder ``f`` plus projection head ``g``: ``forward(x) = g(f(x))``, ``embed(x) = f(x)``.

    Train it with :class:`deepdojo.train.ContrastiveTask` (``encoder=model.encoder``,
    ``projection_head=model.head``) or :class:`deepdojo.ssl.VICRegTask`.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module) or not isinstance(head, nn.Module):
            raise TypeError("encoder and head must be torch.nn.Module instances")
        self.encoder, self.head = encoder, head

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)  # (B, F)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))  # (B, D)


# ---------------------------------------------------------------- pretext labels
def rotate_batch(images: Tensor) -> tuple[Tensor, Tensor]:
    """All four rotations of each image and their labels (Gidaris et al. 2018).

    ``images (B, C, H, W)`` with ``H == W`` -> ``(4B, C, H, W)`` ordered rotation-major
    (``k * B + i`` is image ``i`` turned ``k`` quarter turns counter-clockwise,
    ``torch.rot90(x, k, (2, 3))``) and labels ``(4B,)`` equal to ``k``.
    """
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[2] != images.shape[3]:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be square (B, C, H, W), got {shape}")
    batch = images.shape[0]
    rotated = torch.cat([torch.rot90(images, k, (2, 3)) for k in range(4)])  # (4B, C, H, W)
    labels = torch.arange(4, device=images.device).repeat_interleave(batch)  # (4B,)
    return rotated, labels


def segment_permutations(num_segments: int) -> list[tuple[int, ...]]:
    """All ``S!`` orders of ``S`` segments, lexicographic; index 0 is the identity."""
    if isinstance(num_segments, bool) or not isinstance(num_segments, int) or not (
        2 <= num_segments <= 6
    ):
        raise ValueError(f"num_segments must be an int in [2, 6], got {num_segments!r}")
    return list(itertools.permutations(range(num_segments)))


def permute_segments(signals: Tensor, num_segments: int = 3,
                     generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Cut each signal into ``S`` equal segments and reorder them by a random permutation.

    ``signals (B, C, L)`` or ``(B, L)`` with ``L`` divisible by ``S`` -> the same shape and
    labels ``(B,)``: the index ``p`` in :func:`segment_permutations` such that output segment
    ``j`` is input segment ``perms[p][j]``.
    """
    perms = segment_permutations(num_segments)
    if not isinstance(signals, Tensor) or signals.ndim not in (2, 3):
        raise ValueError("signals must be a tensor of shape (B, L) or (B, C, L)")
    length = signals.shape[-1]
    if length % num_segments:
        raise ValueError(f"signal length {length} is not divisible by num_segments={num_segments}")
    seg = length // num_segments
    labels = torch.randint(len(perms), (signals.shape[0],), generator=generator)  # (B,)
    order = torch.tensor(perms)[labels]  # (B, S): source segment of each output segment
    source = (order.unsqueeze(-1) * seg + torch.arange(seg)).flatten(1)  # (B, L) positions
    source = source.to(signals.device)
    if signals.ndim == 3:
        source = source.unsqueeze(1).expand(-1, signals.shape[1], -1)  # (B, C, L)
    return torch.gather(signals, -1, source), labels.to(signals.device)


# ---------------------------------------------------------------- registry
@register_model("ssl_signal_encoder",
                example=lambda **kw: ModelExample((torch.randn(3, 1, 40),), (3, 16)),
                test_kwargs={"channels": 4, "feature_size": 16})
def ssl_signal_encoder(in_channels: int = 1, length: int = 40, channels: int = 32,
                       feature_size: int = 64) -> nn.Module:
    """1-D conv encoder for MNIST-1D signals; see :class:`SignalEncoder`."""
    return SignalEncoder(in_channels, length, channels, feature_size)


@register_model("ssl_image_encoder",
                example=lambda **kw: ModelExample((torch.randn(3, 1, 8, 8),), (3, 16)),
                test_kwargs={"channels": 4, "feature_size": 16})
def ssl_image_encoder(in_channels: int = 1, image_size: int = 8, channels: int = 32,
                      feature_size: int = 64) -> nn.Module:
    """2-D conv encoder for 8x8 digits; see :class:`ImageEncoder`."""
    return ImageEncoder(in_channels, image_size, channels, feature_size)


@register_model("simclr_signal",
                example=lambda **kw: ModelExample((torch.randn(4, 1, 40),), (4, 8)),
                test_kwargs={"channels": 4, "feature_size": 16, "hidden": 16, "projection_size": 8})
def simclr_signal(length: int = 40, channels: int = 32, feature_size: int = 64,
                  hidden: int = 64, projection_size: int = 32) -> nn.Module:
    """SimCLR (encoder + projection head) for 1-D signals; see :class:`SimCLR`."""
    return SimCLR(SignalEncoder(1, length, channels, feature_size),
                  ProjectionHead(feature_size, hidden, projection_size))


@register_model("simclr_image",
                example=lambda **kw: ModelExample((torch.randn(4, 1, 8, 8),), (4, 8)),
                test_kwargs={"channels": 4, "feature_size": 16, "hidden": 16, "projection_size": 8})
def simclr_image(image_size: int = 8, channels: int = 32, feature_size: int = 64,
                 hidden: int = 64, projection_size: int = 32) -> nn.Module:
    """SimCLR (encoder + projection head) for small images; see :class:`SimCLR`."""
    return SimCLR(ImageEncoder(1, image_size, channels, feature_size),
                  ProjectionHead(feature_size, hidden, projection_size))
