r"""Generators and discriminators: MLP, DCGAN-style conv, conditional, U-Net and PatchGAN.

Train the unconditional and conditional pairs with :class:`deepdojo.train.tasks.AdversarialTask`
(``conditional=True`` when the batches carry a condition ``(X_b, c_b)``).

Glossary: ``B`` batch, ``Z`` latent size, ``K`` classes, ``E`` condition-vector size (a text
embedding), ``F`` the discriminator's feature size, ``C, H, W`` channels and image size.

**Conditions.** A model built with ``n_classes=K`` takes integer labels ``y`` of shape ``(B,)``;
one built with ``cond_dim=E`` takes float vectors ``c`` of shape ``(B, E)`` (e.g. a sentence
embedding of a prompt). Both are mapped to a vector ``e(y)`` by an ``nn.Embedding(K, .)`` or an
``nn.Linear(E, ., bias=False)``:

* generator: ``x = G([z ; e(y)])``, the condition embedded and concatenated to ``z``
  (Mirza & Osindero, 2014);
* discriminator, ``projection=False``: ``D(x, y) = psi(phi([x ; e(y)]))``, the embedded condition
  concatenated to the flattened input (an MLP) or as constant extra channels (conv);
* discriminator, ``projection=True`` (Miyato & Koyama, 2018)::

      h      = phi(x)                      # (B, F)   features of the unconditional trunk
      D(x,y) = psi(h) + <e(y), h>          # (B,)     linear head + projection of the condition

**Spectral norm** (Miyato et al., 2018): ``spectral_norm=True`` wraps every linear and conv
weight (and the projection embedding) of a discriminator with
``torch.nn.utils.parametrizations.spectral_norm``, which divides ``W`` by its largest singular
value ``sigma(W)``, estimated with one power iteration per training-mode forward pass (a conv
weight is reshaped to ``(C_out, C_in k k)``).

**Outputs.** Generators end in ``output`` (``"tanh"`` for data in ``[-1, 1]``, ``"sigmoid"`` for
``[0, 1]``, ``"identity"`` for standardized data such as MNIST-1D). Discriminators return
unbounded scores ``(B,)``; :class:`PatchDiscriminator` returns a map ``(B, 1, H', W')`` of
logits, one per receptive-field patch (flatten it to ``(B H' W',)`` for
:func:`deepdojo.nn.losses.gan_loss`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from deepdojo.models.registry import ModelExample, register_model
from deepdojo.nn.residual import make_activation

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PatchDiscriminator",
    "UNetGenerator",
    "apply_spectral_norm",
]

DCGAN_SIZES = (8, 16, 28, 32)
_OUTPUTS = ("tanh", "sigmoid", "identity")


def _int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _shape(value: Any, name: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Sequence) or not value:
        raise TypeError(f"{name} must be an int or a non-empty sequence of ints, got {value!r}")
    return tuple(_int(v, f"{name}[{i}]") for i, v in enumerate(value))


def _output(name: str) -> nn.Module:
    if name not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {name!r}")
    return make_activation(name)


def _condition(n_classes: int | None, cond_dim: int | None, size: int) -> nn.Module | None:
    """``e``: embeds labels ``(B,) -> (B, size)`` or vectors ``(B, E) -> (B, size)``."""
    if n_classes is not None and cond_dim is not None:
        raise ValueError("give n_classes (labels) or cond_dim (condition vectors), not both")
    if n_classes is not None:
        return nn.Embedding(_int(n_classes, "n_classes", 2), size)
    if cond_dim is not None:
        return nn.Linear(_int(cond_dim, "cond_dim"), size, bias=False)
    return None


def _embed(module: nn.Module | None, y: Tensor | None, batch: int) -> Tensor | None:
    """``e(y)``; checks that a conditional model got a condition and an unconditional none."""
    if module is None:
        if y is not None:
            raise ValueError("this model is unconditional: call it without a condition")
        return None
    if y is None:
        raise ValueError("this model is conditional: pass the labels or condition vectors y")
    if isinstance(module, nn.Embedding):
        if y.dtype != torch.long or y.shape != (batch,):
            raise ValueError(f"y must be int64 labels of shape ({batch},), got {y.dtype} "
                             f"{tuple(y.shape)}")  # fmt: skip
    elif y.shape != (batch, module.in_features):
        raise ValueError(f"y must be condition vectors of shape ({batch}, {module.in_features}), "
                         f"got {tuple(y.shape)}")  # fmt: skip
    return module(y)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap the weight of every ``Linear``, ``Conv*`` and ``Embedding`` in ``module`` with
    spectral normalisation (in place); returns ``module``."""
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)
    for child in list(module.modules()):
        if isinstance(child, layers) and not hasattr(child, "parametrizations"):
            _spectral_norm(child)
    return module


class MLPGenerator(nn.Module):
    """``G(z[, y])``: ``Z (+ condition) -> hidden... -> prod(out_shape)``, reshaped.

    Hidden layers are ``Linear -> BatchNorm1d -> ReLU`` (``batch_norm=False`` drops the norm).

    Inputs: ``z`` ``(B, Z)``; ``y`` ``(B,)`` labels or ``(B, E)`` vectors when conditional.
    Output: ``(B, *out_shape)``.
    """

    def __init__(self, latent_dim: int, out_shape: int | Sequence[int],
                 hidden: Sequence[int] = (128, 128), n_classes: int | None = None,
                 cond_dim: int | None = None, embed_dim: int = 16,
                 output: str = "tanh", batch_norm: bool = True) -> None:
        super().__init__()
        self.latent_dim = _int(latent_dim, "latent_dim")
        self.out_shape = _shape(out_shape, "out_shape")
        sizes = _shape(tuple(hidden), "hidden")
        self.embed = _condition(n_classes, cond_dim, _int(embed_dim, "embed_dim"))
        width = self.latent_dim + (embed_dim if self.embed is not None else 0)
        layers: list[nn.Module] = []
        for h in sizes:
            norm = [nn.BatchNorm1d(h)] if batch_norm else []
            layers += [nn.Linear(width, h), *norm, nn.ReLU()]
            width = h
        layers += [nn.Linear(width, math.prod(self.out_shape)), _output(output)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        e = _embed(self.embed, y, z.shape[0])
        h = z if e is None else torch.cat([z, e], dim=1)  # (B, Z + embed_dim)
        return self.net(h).reshape(z.shape[0], *self.out_shape)  # (B, *out_shape)


class _Discriminator(nn.Module):
    """Shared head: ``psi(h) [+ <e(y), h>]`` on trunk features ``h`` ``(B, F)``."""

    embed: nn.Module | None
    proj: nn.Module | None

    def _head(self, features: int, n_classes: int | None, cond_dim: int | None,
              projection: bool, embed_dim: int) -> None:
        self.projection = bool(projection)
        self.psi = nn.Linear(features, 1)
        if projection:  # e(y) lives in the feature space of h
            self.proj, self.embed = _condition(n_classes, cond_dim, features), None
            if self.proj is None:
                raise ValueError("projection=True needs n_classes or cond_dim")
        else:  # e(y) is concatenated to the input
            self.proj, self.embed = None, _condition(n_classes, cond_dim, embed_dim)

    def _score(self, h: Tensor, y: Tensor | None) -> Tensor:
        out = self.psi(h)[:, 0]  # (B,)
        if self.proj is not None:
            e = _embed(self.proj, y, h.shape[0])  # (B, F)
            out = out + (e * h).sum(dim=1)  # <e(y), h>, (B,)
        return out


class MLPDiscriminator(_Discriminator):
    """``D(x[, y])``: flattened ``x`` (+ embedded condition) ``-> hidden... -> score``.

    Hidden layers are ``Linear -> LeakyReLU(0.2)`` (no batch norm, so a gradient penalty is
    exact). Inputs: ``x`` ``(B, *in_shape)``; ``y`` as for :class:`MLPGenerator`. Output: ``(B,)``.
    """

    def __init__(self, in_shape: int | Sequence[int], hidden: Sequence[int] = (128, 128),
                 n_classes: int | None = None, cond_dim: int | None = None,
                 spectral_norm: bool = False, projection: bool = False,
                 embed_dim: int = 16) -> None:
        super().__init__()
        self.in_shape = _shape(in_shape, "in_shape")
        sizes = _shape(tuple(hidden), "hidden")
        self._head(sizes[-1], n_classes, cond_dim, projection, _int(embed_dim, "embed_dim"))
        width = math.prod(self.in_shape) + (embed_dim if self.embed is not None else 0)
        layers: list[nn.Module] = []
        for h in sizes:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        self.phi = nn.Sequential(*layers)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        flat = x.reshape(x.shape[0], -1)  # (B, D)
        if self.embed is not None:
            flat = torch.cat([flat, _embed(self.embed, y, x.shape[0])], dim=1)  # (B, D + e)
        return self._score(self.phi(flat), y)  # (B,)


def _dcgan_plan(size: int) -> tuple[int, int]:
    """``(s0, n_up)``: the start size and the number of x2 steps that reach ``size``."""
    if size not in DCGAN_SIZES:
        raise ValueError(f"size must be one of {DCGAN_SIZES}, got {size!r}")
    s0 = 7 if size == 28 else 4
    return s0, int(round(math.log2(size // s0)))


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al., 2016) for ``size x size`` images.

    ``[z ; e(y)] -> Linear -> (base 2^(n-1), s0, s0) -> n x [ConvT(4, 2, 1) -> BN -> ReLU]
    -> Conv(3, 1, 1) -> output``, with ``s0 = 4`` (7 for 28) and ``n = log2(size / s0)``;
    the width halves at each up-sampling. Output: ``(B, channels, size, size)``.
    """

    def __init__(self, latent_dim: int, channels: int = 1, size: int = 8, base: int = 32,
                 n_classes: int | None = None, cond_dim: int | None = None, embed_dim: int = 16,
                 output: str = "tanh") -> None:
        super().__init__()
        self.latent_dim = _int(latent_dim, "latent_dim")
        self.channels, self.size = _int(channels, "channels"), size
        s0, n_up = _dcgan_plan(size)
        self.s0, width = s0, _int(base, "base") * 2 ** max(n_up - 1, 0)
        self.embed = _condition(n_classes, cond_dim, _int(embed_dim, "embed_dim"))
        z_in = self.latent_dim + (embed_dim if self.embed is not None else 0)
        flat = width * s0 * s0
        self.project = nn.Sequential(nn.Linear(z_in, flat), nn.BatchNorm1d(flat), nn.ReLU())
        ups: list[nn.Module] = []
        for _ in range(n_up):
            ups += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2),
                    nn.ReLU()]
            width //= 2
        self.up = nn.Sequential(*ups)
        self.to_image = nn.Sequential(nn.Conv2d(width, self.channels, 3, 1, 1), _output(output))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        B = z.shape[0]
        e = _embed(self.embed, y, B)
        h = self.project(z if e is None else torch.cat([z, e], dim=1))  # (B, W s0 s0)
        h = h.reshape(B, -1, self.s0, self.s0)  # (B, W, s0, s0)
        return self.to_image(self.up(h))  # (B, C, size, size)


class DCGANDiscriminator(_Discriminator):
    """DCGAN discriminator: ``n x [Conv(4, 2, 1) -> LeakyReLU(0.2)]`` down to ``s0 x s0``,
    flattened to ``h`` ``(B, F)``, then the score head (no batch norm, so a gradient penalty is
    exact and spectral norm alone controls the Lipschitz constant).

    Without projection a conditional model appends ``e(y)`` as ``embed_dim`` constant channels.
    Inputs: ``x`` ``(B, channels, size, size)``. Output: ``(B,)``.
    """

    def __init__(self, channels: int = 1, size: int = 8, base: int = 32,
                 n_classes: int | None = None, cond_dim: int | None = None,
                 spectral_norm: bool = False, projection: bool = False,
                 embed_dim: int = 16) -> None:
        super().__init__()
        self.channels, self.size = _int(channels, "channels"), size
        s0, n_up = _dcgan_plan(size)
        width = _int(base, "base")
        features = width * 2 ** max(n_up - 1, 0) * s0 * s0
        self._head(features, n_classes, cond_dim, projection, _int(embed_dim, "embed_dim"))
        c_in = self.channels + (embed_dim if self.embed is not None else 0)
        downs: list[nn.Module] = []
        for i in range(n_up):
            out = width * 2**i
            downs += [nn.Conv2d(c_in, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in = out
        self.phi = nn.Sequential(*downs, nn.Flatten())
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            e = _embed(self.embed, y, x.shape[0])  # (B, e)
            maps = e[:, :, None, None].expand(-1, -1, *x.shape[-2:])  # (B, e, H, W)
            x = torch.cat([x, maps], dim=1)  # (B, C + e, H, W)
        return self._score(self.phi(x), y)  # (B,)


class UNetGenerator(nn.Module):
    """U-Net generator (Ronneberger et al., 2015; pix2pix, Isola et al., 2017).

    Encoder level ``i`` (``i = 0..depth-1``) ``Conv(3,1,1) -> BN -> LeakyReLU`` at width
    ``base 2^i`` then ``Conv(4, 2, 1)`` halves the size; the bottleneck keeps the width; the
    decoder ``ConvT(4, 2, 1)`` doubles the size and concatenates the encoder map of the same
    size (the skip), then ``Conv(3,1,1) -> BN -> ReLU``. ``H`` and ``W`` must be multiples
    of ``2^depth``. Input ``(B, in_channels, H, W)``, output ``(B, out_channels, H, W)``.

    Attributes
    ----------
    skip_shapes : list[tuple[int, ...]]
        The shapes of the last forward's skip maps, outermost first (for inspection).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, base: int = 32,
                 depth: int = 2, output: str = "tanh") -> None:
        super().__init__()
        self.depth = _int(depth, "depth")
        c_in, base = _int(in_channels, "in_channels"), _int(base, "base")
        self.down_blocks, self.pools = nn.ModuleList(), nn.ModuleList()
        widths = []
        for i in range(self.depth):
            w = base * 2**i
            self.down_blocks.append(nn.Sequential(nn.Conv2d(c_in, w, 3, 1, 1), nn.BatchNorm2d(w),
                                                  nn.LeakyReLU(0.2)))
            self.pools.append(nn.Conv2d(w, w, 4, 2, 1))
            widths.append(w)
            c_in = w
        self.bottleneck = nn.Sequential(nn.Conv2d(c_in, c_in, 3, 1, 1), nn.ReLU())
        self.ups, self.up_blocks = nn.ModuleList(), nn.ModuleList()
        for w in reversed(widths):
            self.ups.append(nn.ConvTranspose2d(c_in, w, 4, 2, 1))
            self.up_blocks.append(nn.Sequential(nn.Conv2d(2 * w, w, 3, 1, 1), nn.BatchNorm2d(w),
                                                nn.ReLU()))
            c_in = w
        self.to_image = nn.Sequential(nn.Conv2d(c_in, _int(out_channels, "out_channels"), 1),
                                      _output(output))
        self.skip_shapes: list[tuple[int, ...]] = []

    def forward(self, x: Tensor) -> Tensor:
        step = 2**self.depth
        if x.ndim != 4 or x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"x must be (B, C, H, W) with H and W multiples of {step}, "
                             f"got {tuple(x.shape)}")  # fmt: skip
        skips = []
        for block, pool in zip(self.down_blocks, self.pools, strict=True):
            x = block(x)  # (B, w_i, H / 2^i, W / 2^i)
            skips.append(x)
            x = pool(x)  # (B, w_i, H / 2^(i+1), W / 2^(i+1))
        x = self.bottleneck(x)
        self.skip_shapes = [tuple(s.shape) for s in skips]
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips), strict=True):
            x = block(torch.cat([up(x), skip], dim=1))  # (B, w_i, H / 2^i, W / 2^i)
        return self.to_image(x)  # (B, out_channels, H, W)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator (pix2pix): ``n_layers x [Conv(4, 2, 1) -> LeakyReLU(0.2)]`` with
    widths ``base 2^i``, then ``Conv(3, 1, 1)`` to one channel: a logit per patch.

    For pix2pix feed ``cat([input, target], dim=1)`` (``in_channels`` = both). Input
    ``(B, in_channels, H, W)``, output ``(B, 1, H / 2^n, W / 2^n)``.
    """

    def __init__(self, in_channels: int = 2, base: int = 32, n_layers: int = 2,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        c_in, base = _int(in_channels, "in_channels"), _int(base, "base")
        layers: list[nn.Module] = []
        for i in range(_int(n_layers, "n_layers")):
            layers += [nn.Conv2d(c_in, base * 2**i, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in = base * 2**i
        layers.append(nn.Conv2d(c_in, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (B, 1, H / 2^n, W / 2^n)


# ---------------------------------------------------------------- registrations
def _z_example(**kw: Any) -> ModelExample:
    n = kw.get("n_classes")
    y = (torch.arange(4) % n,) if n else ()
    return ModelExample((torch.randn(4, kw.get("latent_dim", 8)), *y), None)


@register_model("mlp_generator", example=lambda **kw: ModelExample(
    _z_example(**kw).inputs, (4, *_shape(kw.get("out_shape", 64), "out_shape"))),
    test_kwargs={"latent_dim": 8, "out_shape": (1, 8, 8), "hidden": (16,), "n_classes": 3})
def mlp_generator(latent_dim: int = 16, out_shape: int | Sequence[int] = 64,
                  hidden: Sequence[int] = (128, 128), **kw: Any) -> nn.Module:
    """MLP generator, optionally conditional (label embedding)."""
    return MLPGenerator(latent_dim, out_shape, hidden, **kw)


@register_model("mlp_discriminator", example=lambda **kw: ModelExample(
    (torch.rand(4, *_shape(kw.get("in_shape", 64), "in_shape")),
     *((torch.arange(4) % kw["n_classes"],) if kw.get("n_classes") else ())), (4,)),
    test_kwargs={"in_shape": 40, "hidden": (16,), "n_classes": 3, "projection": True,
                 "spectral_norm": True})
def mlp_discriminator(in_shape: int | Sequence[int] = 64, hidden: Sequence[int] = (128, 128),
                      **kw: Any) -> nn.Module:
    """MLP discriminator: conditional by concatenation or projection, spectral norm optional."""
    return MLPDiscriminator(in_shape, hidden, **kw)


@register_model("dcgan_generator", example=lambda **kw: ModelExample(
    _z_example(**kw).inputs, (4, kw.get("channels", 1), kw.get("size", 8), kw.get("size", 8))),
    test_kwargs={"latent_dim": 8, "size": 16, "base": 8, "n_classes": 3})
def dcgan_generator(latent_dim: int = 16, **kw: Any) -> nn.Module:
    """DCGAN conv generator for 8/16/28/32-pixel images, optionally conditional."""
    return DCGANGenerator(latent_dim, **kw)


@register_model("dcgan_discriminator", example=lambda **kw: ModelExample(
    (torch.rand(4, kw.get("channels", 1), kw.get("size", 8), kw.get("size", 8)),
     *((torch.arange(4) % kw["n_classes"],) if kw.get("n_classes") else ())), (4,)),
    test_kwargs={"size": 16, "base": 8, "n_classes": 3, "projection": True,
                 "spectral_norm": True})
def dcgan_discriminator(**kw: Any) -> nn.Module:
    """DCGAN conv discriminator: projection or concatenation conditioning, spectral norm."""
    return DCGANDiscriminator(**kw)


@register_model("unet_generator", example=lambda **kw: ModelExample(
    (torch.rand(2, kw.get("in_channels", 1), 8, 8),), (2, kw.get("out_channels", 1), 8, 8)),
    test_kwargs={"base": 4, "depth": 2})
def unet_generator(**kw: Any) -> nn.Module:
    """U-Net generator with skip connections (pix2pix)."""
    return UNetGenerator(**kw)


@register_model("patch_discriminator", example=lambda **kw: ModelExample(
    (torch.rand(2, kw.get("in_channels", 2), 8, 8),),
    (2, 1, 8 // 2 ** kw.get("n_layers", 2), 8 // 2 ** kw.get("n_layers", 2))),
    test_kwargs={"base": 4, "n_layers": 2})
def patch_discriminator(**kw: Any) -> nn.Module:
    """PatchGAN discriminator: a logit per image patch."""
    return PatchDiscriminator(**kw)
