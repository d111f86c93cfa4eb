"""Residual (skip-connection) blocks for MLPs and convolutional nets.

The block is the *pre-activation* variant of He et al. (2016, "Identity Mappings in Deep
Residual Networks"): normalisation and activation come before each weight layer, and nothing
is applied after the addition, so the identity path carries the gradient unchanged:

    y = S(x) + F(x)
    F(x) = W_2 · act(BN_2(W_1 · act(BN_1(x))))
    dy/dx = dS/dx + dF/dx   (dS/dx = I for the identity shortcut)

``S`` is the identity when input and output shapes match, otherwise a projection (a linear map
or a 1×1 convolution with the block's stride).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``leaky_relu``, ``gelu``, ``elu``,
    ``sigmoid``, ``tanh`` or ``identity``)."""
    known = ", ".join(sorted(_ACTIVATIONS))
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name (str), one of {known}; "
                        f"got {name!r} ({type(name).__name__})")  # fmt: skip
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {known}; got {name!r}")
    return _ACTIVATIONS[name]()


class ResidualBlock(nn.Module):
    r"""Pre-activation residual block, MLP (``variant="mlp"``) or convolutional (``"conv"``).

    .. math::

        F(x) = W_2 \, \sigma(\mathrm{BN}_2(W_1 \, \sigma(\mathrm{BN}_1(x)))), \qquad
        y = S(x) + F(x)

    with :math:`S = I` (identity shortcut) or :math:`S(x) = W_s x` (projection shortcut).

    Parameters
    ----------
    in_size : int
        Input features (MLP) or channels (conv).
    out_size : int, optional
        Output features/channels; defaults to ``in_size``.
    variant : {"mlp", "conv"}
        Linear layers or ``conv_dims``-D convolutions (``kernel_size``, "same" padding).
    activation : str
        Activation name (see :func:`make_activation`).
    batch_norm : bool
        Put BatchNorm before each activation.
    shortcut : {"auto", "identity", "projection"}
        ``auto`` picks identity when shapes match and projection otherwise; ``identity`` with
        mismatching shapes is an error.
    stride : int
        Stride of the first convolution and of the projection (conv only).
    kernel_size : int
        Convolution kernel size (odd; conv only).
    conv_dims : {1, 2}
        1-D (sequences, ``(B, C, L)``) or 2-D (images, ``(B, C, H, W)``) convolutions.

    Inputs / Outputs
    ----------------
    x : ``(B, in_size)`` (mlp) or ``(B, in_size, *spatial)`` (conv)
    y : ``(B, out_size)`` or ``(B, out_size, *spatial / stride)``

    Examples
    --------
    >>> block = ResidualBlock(32, variant="mlp", activation="relu")
    >>> block(torch.randn(4, 32)).shape
    torch.Size([4, 32])
    """

    def __init__(
        self,
        in_size: int,
        out_size: int | None = None,
        *,
        variant: str = "mlp",
        activation: str = "relu",
        batch_norm: bool = True,
        shortcut: str = "auto",
        stride: int = 1,
        kernel_size: int = 3,
        conv_dims: int = 2,
    ) -> None:
        super().__init__()
        out_size = in_size if out_size is None else out_size
        _check_args(in_size, out_size, variant, shortcut, stride, kernel_size, conv_dims)
        if not isinstance(batch_norm, bool):
            raise TypeError(f"batch_norm must be a bool (True or False), got {batch_norm!r}")
        self.variant = variant
        needs_projection = in_size != out_size or stride != 1
        if shortcut == "identity" and needs_projection:
            raise ValueError(
                f"shortcut='identity' needs in_size == out_size and stride == 1; got "
                f"in_size={in_size}, out_size={out_size}, stride={stride}"
            )
        use_projection = shortcut == "projection" or (shortcut == "auto" and needs_projection)
        if variant == "mlp":
            layer1: nn.Module = nn.Linear(in_size, out_size)
            layer2: nn.Module = nn.Linear(out_size, out_size)
            norm: type[nn.Module] = nn.BatchNorm1d
            proj: nn.Module = nn.Linear(in_size, out_size, bias=False)
        else:
            conv = nn.Conv1d if conv_dims == 1 else nn.Conv2d
            norm = nn.BatchNorm1d if conv_dims == 1 else nn.BatchNorm2d
            pad = kernel_size // 2
            layer1 = conv(in_size, out_size, kernel_size, stride=stride, padding=pad)
            layer2 = conv(out_size, out_size, kernel_size, padding=pad)
            proj = conv(in_size, out_size, 1, stride=stride, bias=False)
        self.norm1 = norm(in_size) if batch_norm else nn.Identity()
        self.act1 = make_activation(activation)
        self.layer1 = layer1
        self.norm2 = norm(out_size) if batch_norm else nn.Identity()
        self.act2 = make_activation(activation)
        self.layer2 = layer2
        self.shortcut = proj if use_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block: ``(B, in_size, *S) -> (B, out_size, *S')``."""
        h = self.layer1(self.act1(self.norm1(x)))  # (B, out, *S')  first weight layer
        f = self.layer2(self.act2(self.norm2(h)))  # (B, out, *S')  residual branch F(x)
        return self.shortcut(x) + f  # y = S(x) + F(x)


def _check_args(
    in_size: int,
    out_size: int,
    variant: str,
    shortcut: str,
    stride: int,
    kernel_size: int,
    conv_dims: int,
) -> None:
    for name, value in (("in_size", in_size), ("out_size", out_size), ("stride", stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if variant not in ("mlp", "conv"):
        raise ValueError(f"variant must be 'mlp' or 'conv', got {variant!r}")
    if shortcut not in ("auto", "identity", "projection"):
        raise ValueError(f"shortcut must be 'auto', 'identity' or 'projection', got {shortcut!r}")
    if variant == "mlp" and stride != 1:
        raise ValueError(f"stride applies to variant='conv' only; got stride={stride}")
    # odd only: padding kernel_size // 2 keeps the size ("same") just for odd kernels
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, numbers.Integral):
        raise TypeError(f"kernel_size must be a positive odd int, got {kernel_size!r} "
                        f"({type(kernel_size).__name__})")  # fmt: skip
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
    if isinstance(conv_dims, bool) or conv_dims not in (1, 2):
        raise ValueError(f"conv_dims must be 1 or 2, got {conv_dims!r}")
