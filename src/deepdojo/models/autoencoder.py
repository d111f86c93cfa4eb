r"""The autoencoder family: plain (MLP and conv), denoising, variational, masked, AutoRec, SMILES.

Every model maps an input to a code and back, with ``encode`` and ``decode``::

    z     = encode(x)          # (B, D) -> (B, Z)       the code (a VAE returns (mu, logvar))
    x_hat = decode(z)          # (B, Z) -> (B, D)
    x_hat = forward(x)         # decode(encode(x)); a VAE returns (x_hat, mu, logvar)

Train them with :class:`deepdojo.train.tasks.ReconstructionTask` (``vae=True`` for the VAE,
which adds ``beta * KL`` and logs ``kl`` apart from ``reconstruction``).

Glossary: ``B`` batch, ``D`` input features, ``Z`` code size, ``C, H, W`` image channels and
size, ``U`` users (AutoRec's input length), ``T`` tokens, ``V`` vocabulary size.

* :class:`MLPAutoEncoder` -- ``D -> hidden... -> Z -> ...hidden -> D``; with ``hidden=()`` and
  ``activation="identity"`` it is the *linear* autoencoder, whose optimum with squared error
  spans the top-``Z`` principal subspace (Baldi & Hornik, 1989).
* :class:`ConvAutoEncoder` -- strided convolutions down to a code, transposed ones back.
* :class:`DenoisingAutoEncoder` -- an MLP autoencoder that corrupts its own input with
  ``N(0, noise_std^2)`` in training mode (Vincent et al., 2008); evaluation is clean.
* :class:`VAE` -- Gaussian encoder ``q(z|x) = N(mu, diag(exp(logvar)))``, reparameterised
  sample ``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` (Kingma & Welling, 2014).
* :class:`MaskedAutoEncoder` -- tabular rows with missing entries: the input is the row with
  missing cells set to 0 beside its 0/1 observed mask; in training it hides a further
  ``mask_fraction`` of the observed cells so it learns to fill cells from the others.
* :class:`AutoRec` -- item-based AutoRec (Sedhain et al., 2015): one item's ratings by all
  ``U`` users -> sigmoid code -> all ``U`` ratings; the loss counts observed ratings only.
* :class:`SmilesAutoEncoder` with :class:`SmilesVocabulary` -- a GRU encoder and decoder
  over SMILES characters (Gomez-Bombarelli et al., 2018, without the variational part).
  :func:`load_nci_smiles` and :func:`is_valid_smiles` need RDKit (the ``chem`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from deepdojo.models.registry import ModelExample, register_model

# the SMILES autoencoder lives in its own module; imported here so that
# ``from deepdojo.models.autoencoder import SmilesAutoEncoder`` keeps working
from deepdojo.models.smiles_autoencoder import (  # noqa: F401
    CHEM_EXTRA,
    SmilesAutoEncoder,
    SmilesVocabulary,
    is_valid_smiles,
    load_nci_smiles,
)
from deepdojo.nn.losses import VAELoss, vae_loss
from deepdojo.nn.residual import make_activation
from deepdojo.utils.checks import check_int as _positive_int

__all__ = [
    "AutoEncoder",
    "AutoRec",
    "ConvAutoEncoder",
    "DenoisingAutoEncoder",
    "MLPAutoEncoder",
    "MaskedAutoEncoder",
    "SmilesAutoEncoder",
    "SmilesVocabulary",
    "VAE",
    "autorec_loss",
    "is_valid_smiles",
    "load_nci_smiles",
    "masked_mse",
]


def _sizes(hidden: Sequence[int], name: str = "hidden") -> tuple[int, ...]:
    if isinstance(hidden, int) or not isinstance(hidden, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {hidden!r}")
    return tuple(_positive_int(h, f"{name}[{i}]") for i, h in enumerate(hidden))


def _fraction(value: Any, name: str, *, high_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not (0.0 <= value < 1.0 or (not high_open and value == 1.0)):
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def _mlp(sizes: Sequence[int], activation: str, last_activation: bool) -> nn.Sequential:
    """``Linear(sizes[0], sizes[1]) -> act -> ... -> Linear(sizes[-2], sizes[-1]) [-> act]``."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    """``decode(encode(x))`` with any encoder and decoder modules.

    Inputs: ``x`` of shape ``(B, *)``. Outputs: ``x_hat`` of the same shape.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x: Tensor) -> Tensor:
        """The code ``z = f(x)``."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """The reconstruction ``x_hat = g(z)``."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


class MLPAutoEncoder(AutoEncoder):
    """Fully connected autoencoder ``D -> hidden -> Z -> reversed(hidden) -> D``.

    Parameters
    ----------
    in_features : int
        ``D``.
    code_size : int
        ``Z``, the bottleneck.
    hidden : sequence of int
        Encoder widths; the decoder mirrors them. ``()`` with ``activation="identity"`` is the
        linear autoencoder.
    activation : str
        Between layers (``relu``, ``tanh``, ``gelu``, ``identity``, ...); the code and the
        output are linear.
    output : {"linear", "sigmoid"}
        ``sigmoid`` for data in ``[0, 1]`` trained with ``bce``.

    Examples
    --------
    >>> ae = MLPAutoEncoder(64, code_size=2, hidden=(32,))
    >>> ae.encode(torch.randn(5, 64)).shape
    torch.Size([5, 2])
    """

    def __init__(self, in_features: int, code_size: int = 8, hidden: Sequence[int] = (64,),
                 activation: str = "relu", output: str = "linear") -> None:
        in_features = _positive_int(in_features, "in_features")
        code_size = _positive_int(code_size, "code_size")
        hidden = _sizes(hidden)
        if output not in ("linear", "sigmoid"):
            raise ValueError(f"output must be 'linear' or 'sigmoid', got {output!r}")
        make_activation(activation)  # validates the name
        encoder = _mlp((in_features, *hidden, code_size), activation, last_activation=False)
        decoder = _mlp((code_size, *reversed(hidden), in_features), activation,
                       last_activation=False)  # fmt: skip
        if output == "sigmoid":
            decoder.append(nn.Sigmoid())
        super().__init__(encoder, decoder)
        self.in_features, self.code_size, self.hidden = in_features, code_size, hidden


class DenoisingAutoEncoder(MLPAutoEncoder):
    """An :class:`MLPAutoEncoder` that adds ``N(0, noise_std^2)`` to its input in training mode.

    ``forward(x) = decode(encode(x + noise_std * eps))`` while ``self.training``, and
    ``decode(encode(x))`` in eval mode; the loss target stays the clean ``x``. (Equivalently,
    train a plain autoencoder with ``ReconstructionTask(noise_std=...)``.) Noise comes from
    torch's global RNG.
    """

    def __init__(self, in_features: int, code_size: int = 8, hidden: Sequence[int] = (64,),
                 activation: str = "relu", output: str = "linear",
                 noise_std: float = 0.2) -> None:
        super().__init__(in_features, code_size, hidden, activation, output)
        if isinstance(noise_std, bool) or not isinstance(noise_std, int | float) \
                or not 0 <= noise_std < float("inf"):
            raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std!r}")
        self.noise_std = float(noise_std)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.noise_std > 0:
            x = x + self.noise_std * torch.randn_like(x)  # (B, D) corrupted input
        return self.decode(self.encode(x))


class ConvAutoEncoder(AutoEncoder):
    """Convolutional autoencoder for ``(B, C, H, W)`` images with ``H = W = image_size``.

    Encoder: ``len(channels)`` blocks ``Conv2d(k=3, stride=2, pad=1) -> act`` (each halves
    ``H`` and ``W``, so ``image_size`` must be divisible by ``2 ** len(channels)``), then a
    linear map to ``Z``. Decoder: linear back, then ``ConvTranspose2d(k=4, stride=2, pad=1)``
    blocks doubling the size, the last one to ``C`` channels (linear or sigmoid output).
    """

    def __init__(self, in_channels: int = 1, image_size: int = 8, code_size: int = 8,
                 channels: Sequence[int] = (16, 32), activation: str = "relu",
                 output: str = "linear") -> None:
        in_channels = _positive_int(in_channels, "in_channels")
        image_size = _positive_int(image_size, "image_size")
        code_size = _positive_int(code_size, "code_size")
        channels = _sizes(channels, "channels")
        if not channels:
            raise ValueError("channels must name at least one conv layer")
        if image_size % (2 ** len(channels)):
            raise ValueError(f"image_size must be divisible by 2**len(channels) = "
                             f"{2 ** len(channels)}, got {image_size}")  # fmt: skip
        if output not in ("linear", "sigmoid"):
            raise ValueError(f"output must be 'linear' or 'sigmoid', got {output!r}")
        small = image_size // 2 ** len(channels)
        flat = channels[-1] * small * small
        down: list[nn.Module] = []
        for a, b in zip((in_channels, *channels[:-1]), channels, strict=True):
            down += [nn.Conv2d(a, b, 3, stride=2, padding=1), make_activation(activation)]
        encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, code_size))
        up: list[nn.Module] = [nn.Linear(code_size, flat), make_activation(activation),
                               nn.Unflatten(1, (channels[-1], small, small))]
        outs = (*reversed(channels[:-1]), in_channels)
        for i, (a, b) in enumerate(zip(reversed(channels), outs, strict=True)):
            up.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
            if i < len(channels) - 1:
                up.append(make_activation(activation))
        if output == "sigmoid":
            up.append(nn.Sigmoid())
        super().__init__(encoder, nn.Sequential(*up))
        self.code_size = code_size


class VAE(nn.Module):
    r"""Variational autoencoder with a Gaussian encoder and the reparameterisation trick.

    .. math::
        h = f(x), \quad \mu = W_\mu h, \quad \log\sigma^2 = W_\sigma h, \quad
        z = \mu + \sigma \odot \epsilon,\ \epsilon \sim N(0, I), \quad \hat x = g(z)

    In eval mode ``forward`` decodes ``z = mu`` (no noise). Train with
    ``ReconstructionTask(model, vae=True, beta=beta)``, or call :meth:`loss`; both report the
    reconstruction and KL terms apart.

    Inputs: ``x (B, D)``. Outputs of ``forward``: ``(x_hat (B, D), mu (B, Z), logvar (B, Z))``.
    """

    def __init__(self, in_features: int, latent_size: int = 2, hidden: Sequence[int] = (64,),
                 activation: str = "relu", output: str = "linear") -> None:
        super().__init__()
        in_features = _positive_int(in_features, "in_features")
        latent_size = _positive_int(latent_size, "latent_size")
        hidden = _sizes(hidden)
        if not hidden:
            raise ValueError("hidden must name at least one layer for a VAE")
        if output not in ("linear", "sigmoid"):
            raise ValueError(f"output must be 'linear' or 'sigmoid', got {output!r}")
        self.body = _mlp((in_features, *hidden), activation, last_activation=True)
        self.mu = nn.Linear(hidden[-1], latent_size)
        self.logvar = nn.Linear(hidden[-1], latent_size)
        self.decoder = _mlp((latent_size, *reversed(hidden), in_features), activation,
                            last_activation=False)  # fmt: skip
        if output == "sigmoid":
            self.decoder.append(nn.Sigmoid())
        self.in_features, self.latent_size = in_features, latent_size

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of ``q(z | x)``, each ``(B, Z)``."""
        h = self.body(x)  # (B, hidden[-1])
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """``z = mu + exp(logvar / 2) * eps`` in training mode, ``mu`` in eval mode."""
        if not self.training:
            return mu
        eps = torch.randn_like(mu)  # (B, Z)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: Tensor) -> Tensor:
        """``x_hat = g(z)``: ``(B, Z) -> (B, D)``."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def loss(self, x: Tensor, beta: float = 1.0, reconstruction: str = "mse") -> VAELoss:
        """``R + beta * KL`` on batch ``x``, terms apart (:func:`deepdojo.nn.losses.vae_loss`)."""
        recon, mu, logvar = self(x)
        return vae_loss(recon, x, mu, logvar, beta=beta, reconstruction=reconstruction)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new samples ``g(z)``, ``z ~ N(0, I)``: ``(n, D)``."""
        device = self.mu.weight.device
        z = torch.randn(_positive_int(n, "n"), self.latent_size, generator=generator,
                        device=device)  # fmt: skip
        return self.decode(z)


def masked_mse(x_hat: Tensor, x: Tensor, mask: Tensor) -> Tensor:
    r"""Mean squared error over the cells where ``mask`` is true:
    :math:`\sum_{m_{ij}=1} (\hat x_{ij} - x_{ij})^2 / \sum m_{ij}` (0 when nothing is observed).

    NaNs in ``x`` outside the mask are ignored.
    """
    if x_hat.shape != x.shape or mask.shape != x.shape:
        raise ValueError(f"x_hat, x and mask must share a shape, got {tuple(x_hat.shape)}, "
                         f"{tuple(x.shape)}, {tuple(mask.shape)}")  # fmt: skip
    m = mask.to(x_hat.dtype)
    diff = torch.where(mask, x_hat - x, torch.zeros_like(x_hat))
    return diff.pow(2).sum() / m.sum().clamp_min(1.0)


class MaskedAutoEncoder(AutoEncoder):
    """Autoencoder for tabular rows with missing cells (NaN).

    ``forward(x, observed=None)``: ``observed`` defaults to ``isfinite(x)``; the network reads
    ``[x with unobserved cells set to 0, observed]`` (``(B, 2D)``) and returns ``(B, D)``. In
    training mode a further ``mask_fraction`` of the observed cells is hidden at random (drawn
    from torch's global RNG) before encoding, so the model learns to predict cells from the
    others; fit it with :func:`masked_mse` on the observed cells. Standardize columns first.
    """

    def __init__(self, in_features: int, code_size: int = 16, hidden: Sequence[int] = (64,),
                 activation: str = "relu", mask_fraction: float = 0.25) -> None:
        in_features = _positive_int(in_features, "in_features")
        code_size = _positive_int(code_size, "code_size")
        hidden = _sizes(hidden)
        make_activation(activation)
        encoder = _mlp((2 * in_features, *hidden, code_size), activation, last_activation=False)
        decoder = _mlp((code_size, *reversed(hidden), in_features), activation,
                       last_activation=False)  # fmt: skip
        super().__init__(encoder, decoder)
        self.in_features = in_features
        self.mask_fraction = _fraction(mask_fraction, "mask_fraction")

    def encode(self, x: Tensor, observed: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """Code of ``x`` (``(B, D)``, NaN = missing) given its ``observed`` mask."""
        if observed is None:
            observed = torch.isfinite(x)
        filled = torch.where(observed, x, torch.zeros_like(x))  # (B, D)
        return self.encoder(torch.cat([filled, observed.to(x.dtype)], dim=1))  # (B, 2D) -> (B, Z)

    def forward(self, x: Tensor, observed: Tensor | None = None) -> Tensor:  # type: ignore[override]
        if observed is None:
            observed = torch.isfinite(x)
        if self.training and self.mask_fraction > 0:
            keep = torch.rand(x.shape, device=x.device) >= self.mask_fraction  # (B, D)
            observed = observed & keep
        return self.decode(self.encode(x, observed))


def autorec_loss(pred: Tensor, ratings: Tensor, observed: Tensor) -> Tensor:
    """AutoRec's loss: squared error summed over observed ratings, averaged over rows."""
    diff = torch.where(observed, pred - ratings, torch.zeros_like(pred))
    return diff.pow(2).sum() / max(pred.shape[0], 1)


class AutoRec(nn.Module):
    r"""Item-based AutoRec (I-AutoRec; Sedhain, Menon, Sanner & Xie, 2015).

    .. math:: h = \sigma(V r + \mu), \qquad \hat r = W h + b

    where ``r (U,)`` is one item's ratings by all ``U`` users (unobserved entries 0). The loss
    (:func:`autorec_loss`) counts observed ratings only; weight decay is the paper's
    ``lambda / 2 ||W||^2 + ||V||^2`` regulariser. The prediction for user ``u`` and item ``i``
    is ``forward(R[:, i])[u]``.

    Inputs: ``r (B, U)``. Outputs: ``r_hat (B, U)``.
    """

    def __init__(self, num_users: int, hidden_size: int = 100) -> None:
        super().__init__()
        self.num_users = _positive_int(num_users, "num_users")
        self.encoder = nn.Linear(num_users, _positive_int(hidden_size, "hidden_size"))
        self.decoder = nn.Linear(hidden_size, num_users)

    def encode(self, r: Tensor) -> Tensor:
        return torch.sigmoid(self.encoder(r))  # (B, hidden_size)

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h)  # (B, U)

    def forward(self, r: Tensor) -> Tensor:
        return self.decode(self.encode(r))


# ---------------------------------------------------------------- registry
def _flat_example(**kw: Any) -> ModelExample:
    d = kw.get("in_features", 12)
    return ModelExample((torch.randn(3, d),), (3, d))


@register_model("mlp_autoencoder", example=_flat_example,
                test_kwargs={"in_features": 12, "code_size": 3, "hidden": (8,)})
def mlp_autoencoder(in_features: int = 64, code_size: int = 8, hidden: Sequence[int] = (64,),
                    activation: str = "relu", output: str = "linear") -> nn.Module:
    """MLP autoencoder; see :class:`MLPAutoEncoder`."""
    return MLPAutoEncoder(in_features, code_size, hidden, activation, output)


@register_model("denoising_autoencoder", example=_flat_example,
                test_kwargs={"in_features": 12, "code_size": 3, "hidden": (8,)})
def denoising_autoencoder(in_features: int = 64, code_size: int = 8,
                          hidden: Sequence[int] = (64,), activation: str = "relu",
                          output: str = "linear", noise_std: float = 0.2) -> nn.Module:
    """Denoising MLP autoencoder; see :class:`DenoisingAutoEncoder`."""
    return DenoisingAutoEncoder(in_features, code_size, hidden, activation, output, noise_std)


@register_model("conv_autoencoder",
                example=lambda **kw: ModelExample((torch.randn(2, 1, 8, 8),), (2, 1, 8, 8)),
                test_kwargs={"code_size": 4, "channels": (4, 8)})
def conv_autoencoder(in_channels: int = 1, image_size: int = 8, code_size: int = 8,
                     channels: Sequence[int] = (16, 32), activation: str = "relu",
                     output: str = "linear") -> nn.Module:
    """Convolutional autoencoder; see :class:`ConvAutoEncoder`."""
    return ConvAutoEncoder(in_channels, image_size, code_size, channels, activation, output)


@register_model("vae", example=_flat_example,
                test_kwargs={"in_features": 12, "latent_size": 2, "hidden": (8,)})
def vae(in_features: int = 64, latent_size: int = 2, hidden: Sequence[int] = (64,),
        activation: str = "relu", output: str = "linear") -> nn.Module:
    """Variational autoencoder; see :class:`VAE`."""
    return VAE(in_features, latent_size, hidden, activation, output)


@register_model("masked_autoencoder", example=_flat_example,
                test_kwargs={"in_features": 12, "code_size": 3, "hidden": (8,)})
def masked_autoencoder(in_features: int = 30, code_size: int = 16, hidden: Sequence[int] = (64,),
                       activation: str = "relu", mask_fraction: float = 0.25) -> nn.Module:
    """Masked autoencoder for tabular data; see :class:`MaskedAutoEncoder`."""
    return MaskedAutoEncoder(in_features, code_size, hidden, activation, mask_fraction)


@register_model("autorec",
                example=lambda **kw: ModelExample((torch.randn(4, kw.get("num_users", 10)),),
                                                  (4, kw.get("num_users", 10))),
                test_kwargs={"num_users": 10, "hidden_size": 5})
def autorec(num_users: int = 100, hidden_size: int = 100) -> nn.Module:
    """Item-based AutoRec; see :class:`AutoRec`."""
    return AutoRec(num_users, hidden_size)
