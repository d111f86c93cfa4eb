"""Plain and residual CNNs (1-D or 2-D) for small images and signals.

``depth`` counts weight layers (convolutions plus the linear head). Every convolution keeps the
spatial size ("same" padding, stride 1: inputs here are small, e.g. 8×8 digits or length-40
MNIST-1D); a global average pool feeds the head.

* plain:    ``Conv(in, w) -> [BN] -> act -> (depth-2) x (Conv(w, w) -> [BN] -> act)
  -> pool -> Linear(w, C)``
* residual: ``Conv(in, w) -> (depth-2)/2 pre-activation ResidualBlocks -> [BN] -> act
  -> pool -> Linear(w, C)``
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from deepdojo.models.mlp import _check_common, init_weights
from deepdojo.models.registry import ModelExample, register_model
from deepdojo.nn.residual import ResidualBlock, make_activation


def _conv_parts(conv_dims: int) -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    if conv_dims not in (1, 2):
        raise ValueError(f"conv_dims must be 1 or 2, got {conv_dims!r}")
    if conv_dims == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.AdaptiveAvgPool1d
    return nn.Conv2d, nn.BatchNorm2d, nn.AdaptiveAvgPool2d


class PlainCNN(nn.Sequential):
    """Plain CNN: ``(B, in_channels, *S) -> (B, num_classes)`` logits; S = (L,) or (H, W).

    Layers are named ``conv1, bn1, act1, ..., pool, flatten, out``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, depth: int = 6,
                 width: int = 16, activation: str = "relu", batch_norm: bool = False,
                 conv_dims: int = 2) -> None:
        _check_common(depth, width, batch_norm, in_channels=in_channels, num_classes=num_classes)
        conv, norm, pool = _conv_parts(conv_dims)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        sizes = [in_channels] + [width] * (depth - 1)
        for i in range(depth - 1):
            layers[f"conv{i + 1}"] = conv(sizes[i], sizes[i + 1], 3, padding=1)
            if batch_norm:
                layers[f"bn{i + 1}"] = norm(sizes[i + 1])
            layers[f"act{i + 1}"] = make_activation(activation)
        layers["pool"] = pool(1)  # (B, width, 1[, 1])
        layers["flatten"] = nn.Flatten()  # (B, width)
        layers["out"] = nn.Linear(width, num_classes)
        super().__init__(layers)


class ResNetCNN(nn.Module):
    """Pre-activation residual CNN: ``(B, in_channels, *S) -> (B, num_classes)`` logits.

    ``stem`` (conv) -> ``blocks`` ((depth-2)/2 conv :class:`~deepdojo.nn.ResidualBlock`) ->
    ``norm`` -> ``act`` -> global average pool -> ``out`` (Linear). ``depth``: even, >= 4.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, depth: int = 6,
                 width: int = 16, activation: str = "relu", batch_norm: bool = False,
                 conv_dims: int = 2) -> None:
        super().__init__()
        _check_common(depth, width, batch_norm, in_channels=in_channels, num_classes=num_classes)
        if depth < 4 or depth % 2:
            raise ValueError(f"depth of a residual CNN must be even and >= 4, got {depth}")
        conv, norm, _ = _conv_parts(conv_dims)
        self.stem = conv(in_channels, width, 3, padding=1)
        self.blocks = nn.Sequential(*[
            ResidualBlock(width, variant="conv", activation=activation, batch_norm=batch_norm,
                          conv_dims=conv_dims)
            for _ in range((depth - 2) // 2)
        ])
        self.norm = norm(width) if batch_norm else nn.Identity()
        self.act = make_activation(activation)
        self.out = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, *S) -> (B, num_classes)``."""
        h = self.act(self.norm(self.blocks(self.stem(x))))  # (B, width, *S)
        pooled = h.flatten(2).mean(dim=2)  # (B, width)  global average pool
        return self.out(pooled)  # (B, num_classes)


def _cnn_example(**kw: Any) -> ModelExample:
    batch = 3
    spatial = (12,) if kw.get("conv_dims", 2) == 1 else (8, 8)
    x = torch.randn(batch, kw.get("in_channels", 1), *spatial)  # (B, C, *S)
    return ModelExample((x,), (batch, kw.get("num_classes", 10)))


_TEST_KW = {"in_channels": 2, "num_classes": 5, "depth": 4, "width": 4}


@register_model("plain_cnn", example=_cnn_example, test_kwargs=_TEST_KW)
def plain_cnn(in_channels: int = 1, num_classes: int = 10, depth: int = 6, width: int = 16,
              activation: str = "relu", batch_norm: bool = False, conv_dims: int = 2,
              init: str = "default", init_gain: float = 1.0) -> nn.Module:
    """Plain CNN (no skips); see :class:`PlainCNN` and :func:`~deepdojo.models.mlp.init_weights`."""
    net = PlainCNN(in_channels, num_classes, depth, width, activation, batch_norm, conv_dims)
    return init_weights(net, init, activation=activation, gain=init_gain)


@register_model("resnet_cnn", example=_cnn_example,
                test_kwargs={**_TEST_KW, "batch_norm": True, "conv_dims": 1})
def resnet_cnn(in_channels: int = 1, num_classes: int = 10, depth: int = 6, width: int = 16,
               activation: str = "relu", batch_norm: bool = False, conv_dims: int = 2,
               init: str = "default", init_gain: float = 1.0) -> nn.Module:
    """Pre-activation residual CNN; see :class:`ResNetCNN`."""
    net = ResNetCNN(in_channels, num_classes, depth, width, activation, batch_norm, conv_dims)
    return init_weights(net, init, activation=activation, gain=init_gain)
