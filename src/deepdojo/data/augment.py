"""View augmentations for small images ``(B, C, H, W)`` (digits: 1x8x8) and 1-D signals.

Shapes (batch first): images ``(B, C, H, W)``; signals ``(B, L)`` or ``(B, C, L)``. Every
augmentation draws independent parameters per sample, applies them to all channels alike, and
takes an explicit ``torch.Generator`` so that a seeded run gives the same views:

- :class:`Shift`: translate by a random whole number of pixels/steps in ``[-s, s]`` per axis,
  filling with zeros (``mode="zero"``) or wrapping around (``mode="roll"``);
- :class:`Scale`: multiply the amplitude by ``a ~ U[low, high]``;
- :class:`GaussianNoise`: add ``N(0, std^2)`` noise;
- :class:`Mask`: zero one random contiguous patch (cutout) covering a fixed fraction;
- :class:`Shear`: add a random linear trend ``c (t/(L-1) - 1/2)``, ``c ~ U[-s, s]``, along the
  last axis (MNIST-1D's own shear nuisance);
- :class:`Crop`: random resized crop: take a window covering an area fraction
  ``s ~ U[low, high]`` at a random position and stretch it back to the full size (bilinear);
- :class:`Compose`, :class:`RandomApply` and :func:`two_views` (SimCLR's two views).

Random numbers are drawn on the generator's device (CPU by default) and moved to the input's
device, so a CPU generator also drives CUDA inputs and both give the same draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Augmentation",
    "Compose",
    "Crop",
    "GaussianNoise",
    "Mask",
    "RandomApply",
    "Scale",
    "Shear",
    "Shift",
    "two_views",
]

Augmentation = Callable[[Tensor, torch.Generator | None], Tensor]


def _spatial_dims(x: Tensor) -> int:
    """Number of trailing axes that are positions: 2 for images, 1 for signals."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be floating point, got {x.dtype}")
    if x.ndim == 4:
        return 2  # (B, C, H, W)
    if x.ndim in (2, 3):
        return 1  # (B, L) or (B, C, L)
    raise ValueError(
        f"x must be images (B, C, H, W) or signals (B, L) / (B, C, L), got {tuple(x.shape)}"
    )


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def _per_sample(values: Tensor, x: Tensor) -> Tensor:
    """Reshape ``(B,)`` to broadcast against ``x`` of shape ``(B, *)``."""
    return values.to(x.dtype).view(-1, *([1] * (x.ndim - 1)))


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def _range(value: Sequence[float], name: str, low: float, high: float) -> tuple[float, float]:
    if not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{name} must be a (low, high) pair, got {value!r}")
    a, b = (_number(v, name) for v in value)
    if not low <= a <= b <= high:
        raise ValueError(f"{name} must satisfy {low} <= low <= high <= {high}, got {value!r}")
    return a, b


class Shift:
    """Translate each sample by ``d ~ U{-max_shift, ..., max_shift}`` positions per axis.

    .. math:: y[..., i] = x[..., i - d] \\text{ (zero outside; modulo the length for roll)}

    Parameters
    ----------
    max_shift : int
        Largest shift in positions, ``>= 0``; the same bound on both image axes.
    mode : {"zero", "roll"}
        Fill the uncovered border with zeros, or wrap around (``torch.roll``).
    """

    def __init__(self, max_shift: int, mode: str = "zero") -> None:
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
        if mode not in ("zero", "roll"):
            raise ValueError(f"mode must be 'zero' or 'roll', got {mode!r}")
        self.max_shift, self.mode = max_shift, mode

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        dims = _spatial_dims(x)
        batch = x.shape[0]
        for axis in range(x.ndim - dims, x.ndim):
            draw = _rand((batch,), generator, x)
            shift = (draw * (2 * self.max_shift + 1)).long() - self.max_shift  # (B,) in [-s, s]
            x = self._shift_axis(x, shift, axis)
        return x

    def _shift_axis(self, x: Tensor, shift: Tensor, axis: int) -> Tensor:
        length = x.shape[axis]
        view = [1] * x.ndim
        view[axis] = length
        source = torch.arange(length, device=x.device).view(view) - shift.view(
            -1, *[1] * (x.ndim - 1)
        )
        if self.mode == "roll":
            return torch.gather(x, axis, (source % length).expand_as(x))
        inside = (source >= 0) & (source < length)  # (B, 1.., L, 1..)
        gathered = torch.gather(x, axis, source.clamp(0, length - 1).expand_as(x))
        return gathered * inside.to(x.dtype)


class Scale:
    """Multiply each sample's amplitude by ``a ~ U[low, high]``: ``y = a x``.

    Parameters
    ----------
    scale : (float, float)
        ``(low, high)`` with ``0 <= low <= high``.
    """

    def __init__(self, scale: Sequence[float] = (0.8, 1.2)) -> None:
        self.scale = _range(scale, "scale", 0.0, math.inf)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        _spatial_dims(x)
        low, high = self.scale
        factor = low + (high - low) * _rand((x.shape[0],), generator, x)  # (B,)
        return x * _per_sample(factor, x)


class Shear:
    """Add a random linear trend along the last axis (all channels alike).

    .. math:: y[..., t] = x[..., t] + c \\left(\\frac{t}{L - 1} - \\frac{1}{2}\\right),
              \\quad c \\sim U[-s, s]

    MNIST-1D builds its signals with such a shear, so a view that re-draws it asks the
    encoder to ignore a nuisance the labels do not depend on.

    Parameters
    ----------
    max_shear : float
        ``s >= 0``, the largest end-to-end rise of the trend, in the units of ``x``.
    """

    def __init__(self, max_shear: float) -> None:
        self.max_shear = _number(max_shear, "max_shear")
        if self.max_shear < 0:
            raise ValueError(f"max_shear must be >= 0, got {max_shear}")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        _spatial_dims(x)
        length = x.shape[-1]
        coeff = (2 * _rand((x.shape[0],), generator, x) - 1) * self.max_shear  # (B,)
        ramp = torch.linspace(-0.5, 0.5, length, device=x.device, dtype=x.dtype)  # (L,)
        return x + _per_sample(coeff, x) * ramp


class GaussianNoise:
    """Add i.i.d. noise: ``y = x + std * e``, ``e ~ N(0, 1)`` per element.

    Parameters
    ----------
    std : float
        Noise standard deviation, ``>= 0``, in the units of ``x``.
    """

    def __init__(self, std: float) -> None:
        self.std = _number(std, "std")
        if self.std < 0:
            raise ValueError(f"std must be >= 0, got {std}")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        _spatial_dims(x)
        device = generator.device if generator is not None else x.device
        noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
        return x + self.std * noise.to(x.device)


class Mask:
    """Cutout: zero one random contiguous patch per sample (all channels).

    A signal of length ``L`` loses a segment of ``round(fraction * L)`` steps; an ``H x W``
    image loses a ``round(sqrt(fraction) * H) x round(sqrt(fraction) * W)`` rectangle. The
    patch lies wholly inside the sample, so exactly that many positions are zeroed
    (``fraction=0.25`` on 8x8 zeroes 16 pixels).

    Parameters
    ----------
    fraction : float
        Share of the positions to mask, in ``[0, 1]``.
    """

    def __init__(self, fraction: float) -> None:
        self.fraction = _number(fraction, "fraction")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")

    def patch_size(self, sizes: Sequence[int]) -> tuple[int, ...]:
        """Side lengths of the masked patch for a sample with these spatial sizes."""
        side = self.fraction ** (1.0 / len(sizes))
        return tuple(int(round(side * n)) for n in sizes)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        dims = _spatial_dims(x)
        sizes = x.shape[x.ndim - dims :]
        keep = torch.ones((x.shape[0], *([1] * (x.ndim - 1 - dims)), *sizes), device=x.device)
        inside = torch.ones_like(keep, dtype=torch.bool)
        for offset, (size, patch) in enumerate(zip(sizes, self.patch_size(sizes), strict=True)):
            axis = x.ndim - dims + offset
            start = (_rand((x.shape[0],), generator, x) * (size - patch + 1)).long()  # (B,)
            view = [1] * x.ndim
            view[axis] = size
            pos = torch.arange(size, device=x.device).view(view)  # position along this axis
            lo = start.view(-1, *[1] * (x.ndim - 1))
            inside = inside & (pos >= lo) & (pos < lo + patch)
        keep = keep.masked_fill(inside, 0.0)
        return x * keep.to(x.dtype)


class Crop:
    """Random resized crop back to the same size (bilinear for images, linear for signals).

    Each sample keeps a window whose side is ``sqrt(s)`` (images) or ``s`` (signals) times the
    full side, ``s ~ U[low, high]`` the area (length) fraction, at a uniform random position
    inside the sample, and resamples it to the full size with ``grid_sample``
    (``align_corners=False``, border padding). ``scale=(1, 1)`` is the identity; outputs are
    convex combinations of input values, so they stay within the input's range.

    Parameters
    ----------
    scale : (float, float)
        ``(low, high)`` area fraction with ``0 < low <= high <= 1``.
    """

    def __init__(self, scale: Sequence[float] = (0.5, 1.0)) -> None:
        self.scale = _range(scale, "scale", 0.0, 1.0)
        if self.scale[0] <= 0:
            raise ValueError(f"scale must satisfy 0 < low, got {scale!r}")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        dims = _spatial_dims(x)
        shape = x.shape
        images = x if dims == 2 else x.reshape(shape[0], -1, 1, shape[-1])  # (B, C, 1, L)
        batch = images.shape[0]
        low, high = self.scale
        area = low + (high - low) * _rand((batch,), generator, x)  # (B,)
        side = area.sqrt() if dims == 2 else area  # window side / full side, in (0, 1]
        theta = torch.zeros(batch, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = side  # x-scale (width)
        theta[:, 0, 2] = (2 * _rand((batch,), generator, x) - 1) * (1 - side)  # x-offset
        if dims == 2:
            theta[:, 1, 1] = side
            theta[:, 1, 2] = (2 * _rand((batch,), generator, x) - 1) * (1 - side)
        else:
            theta[:, 1, 1] = 1.0  # a signal has one row: keep it
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2)
        out = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        return out.reshape(shape)


class Compose:
    """Apply augmentations in order: ``Compose([a, b])(x, g) == b(a(x, g), g)``."""

    def __init__(self, transforms: Sequence[Augmentation]) -> None:
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"transforms must be callables, got {type(t).__name__}")
        self.transforms = transforms

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for transform in self.transforms:
            x = transform(x, generator)
        return x


class RandomApply:
    """Apply ``transform`` to each sample with probability ``p`` (else leave it unchanged)."""

    def __init__(self, transform: Augmentation, p: float = 0.5) -> None:
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.p = _number(p, "p")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.transform = transform

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        _spatial_dims(x)
        apply = _rand((x.shape[0],), generator, x) < self.p  # (B,)
        return torch.where(_per_sample(apply, x).bool(), self.transform(x, generator), x)


def two_views(
    x: Tensor, augment: Augmentation, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Two independently augmented views of the same batch (SimCLR): ``(augment(x), augment(x))``.

    The second view is drawn after the first from the same generator, so the pair is
    reproducible from one seed and the two views differ.
    """
    if not callable(augment):
        raise TypeError(f"augment must be callable, got {type(augment).__name__}")
    return augment(x, generator), augment(x, generator)
