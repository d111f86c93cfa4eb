"""Plain and residual MLPs with configurable depth, width, activation, batch norm and init.

``depth`` counts weight layers (linear maps) from input to logits in both families, so a
``plain_mlp`` and a ``resnet_mlp`` of the same depth have the same number of weight matrices:

* plain:    ``Linear(in, w) -> [BN] -> act -> (depth-2) x (Linear(w, w) -> [BN] -> act)
  -> Linear(w, C)``
* residual: ``Linear(in, w) -> (depth-2)/2 pre-activation ResidualBlocks -> [BN] -> act
  -> Linear(w, C)``
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from deepdojo.models.registry import ModelExample, register_model
from deepdojo.nn.residual import ResidualBlock, make_activation

INIT_SCHEMES = ("default", "xavier", "he")


def init_weights(model: nn.Module, scheme: str = "default", *, activation: str = "relu",
                 gain: float = 1.0) -> nn.Module:
    """Initialise every Linear/Conv weight of ``model`` in place and return it.

    ``default`` keeps torch's init (Kaiming-uniform with a = sqrt(5): Var(w) = 1/(3 fan_in));
    ``xavier`` is Glorot-normal, Var(w) = g² · 2/(fan_in + fan_out) with torch's recommended
    gain g for ``activation`` (1 for sigmoid, 5/3 for tanh, sqrt(2) for ReLU); ``he`` is
    Kaiming-normal, Var(w) = 2/fan_in. Both zero the biases. Weights are then multiplied by
    ``gain`` (``gain > 1`` gives the "large init" of the exploding-gradients lab).
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init must be one of {', '.join(INIT_SCHEMES)}; got {scheme!r}")
    if isinstance(gain, bool) or not isinstance(gain, numbers.Real):
        raise TypeError(f"init_gain must be a number > 0, got {gain!r} ({type(gain).__name__})")
    if not 0 < gain < math.inf:
        raise ValueError(f"init_gain must be a finite number > 0, got {gain!r}")
    known = ("linear", "conv1d", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
    act_gain = nn.init.calculate_gain(activation if activation in known else "linear")
    for m in model.modules():
        if not isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d):
            continue
        with torch.no_grad():
            if scheme == "xavier":
                nn.init.xavier_normal_(m.weight, gain=act_gain)
            elif scheme == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if scheme != "default" and m.bias is not None:
                m.bias.zero_()
            m.weight.mul_(gain)
    return model


def _check_common(depth: int, width: int, batch_norm: bool, **sizes: int) -> None:
    for name, value in {"depth": depth, "width": width, **sizes}.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if depth < 2:
        raise ValueError(f"depth must be >= 2 (input and output layers), got {depth}")
    if not isinstance(batch_norm, bool):
        raise TypeError(f"batch_norm must be a bool, got {type(batch_norm).__name__}")


class PlainMLP(nn.Sequential):
    """A plain (no skip) MLP: ``(B, in_features) -> (B, num_classes)`` logits.

    Layers are named ``fc1, bn1, act1, ..., out`` so monitors report readable names.
    """

    def __init__(self, in_features: int = 64, num_classes: int = 10, depth: int = 8,
                 width: int = 64, activation: str = "relu", batch_norm: bool = False) -> None:
        _check_common(depth, width, batch_norm, in_features=in_features, num_classes=num_classes)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        sizes = [in_features] + [width] * (depth - 1)
        for i in range(depth - 1):
            layers[f"fc{i + 1}"] = nn.Linear(sizes[i], sizes[i + 1])
            if batch_norm:
                layers[f"bn{i + 1}"] = nn.BatchNorm1d(sizes[i + 1])
            layers[f"act{i + 1}"] = make_activation(activation)
        layers["out"] = nn.Linear(width, num_classes)
        super().__init__(layers)


class ResNetMLP(nn.Module):
    """A pre-activation residual MLP: ``(B, in_features) -> (B, num_classes)`` logits.

    ``stem`` (Linear) -> ``blocks`` ((depth-2)/2 :class:`~deepdojo.nn.ResidualBlock`) ->
    ``norm`` -> ``act`` -> ``out`` (Linear). ``depth`` must be even and >= 4.
    """

    def __init__(self, in_features: int = 64, num_classes: int = 10, depth: int = 8,
                 width: int = 64, activation: str = "relu", batch_norm: bool = False) -> None:
        super().__init__()
        _check_common(depth, width, batch_norm, in_features=in_features, num_classes=num_classes)
        if depth < 4 or depth % 2:
            raise ValueError(f"depth of a residual MLP must be even and >= 4, got {depth}")
        self.stem = nn.Linear(in_features, width)
        self.blocks = nn.Sequential(*[
            ResidualBlock(width, activation=activation, batch_norm=batch_norm)
            for _ in range((depth - 2) // 2)
        ])
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.act = make_activation(activation)
        self.out = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_features) -> (B, num_classes)``."""
        h = self.blocks(self.stem(x))  # (B, width)
        return self.out(self.act(self.norm(h)))  # (B, num_classes)


def _mlp_example(**kw: Any) -> ModelExample:
    batch = 3
    x = torch.randn(batch, kw.get("in_features", 64))  # (B, in_features)
    return ModelExample((x,), (batch, kw.get("num_classes", 10)))


_TEST_KW = {"in_features": 12, "num_classes": 5, "depth": 4, "width": 8}


@register_model("plain_mlp", example=_mlp_example, test_kwargs=_TEST_KW)
def plain_mlp(in_features: int = 64, num_classes: int = 10, depth: int = 8, width: int = 64,
              activation: str = "relu", batch_norm: bool = False, init: str = "default",
              init_gain: float = 1.0) -> nn.Module:
    """Plain MLP (no skips); see :class:`PlainMLP` and :func:`init_weights`."""
    net = PlainMLP(in_features, num_classes, depth, width, activation, batch_norm)
    return init_weights(net, init, activation=activation, gain=init_gain)


@register_model("resnet_mlp", example=_mlp_example, test_kwargs={**_TEST_KW, "batch_norm": True})
def resnet_mlp(in_features: int = 64, num_classes: int = 10, depth: int = 8, width: int = 64,
               activation: str = "relu", batch_norm: bool = False, init: str = "default",
               init_gain: float = 1.0) -> nn.Module:
    """Pre-activation residual MLP; see :class:`ResNetMLP` and :func:`init_weights`."""
    net = ResNetMLP(in_features, num_classes, depth, width, activation, batch_norm)
    return init_weights(net, init, activation=activation, gain=init_gain)
