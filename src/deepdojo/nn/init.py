r"""Weight initialization schemes, explicit about fans, gains and variances.

:func:`initialize` re-initializes every ``Linear``, ``Conv1d/2d/3d`` and recurrent layer
(``RNN``, ``GRU``, ``LSTM``, their ``*Cell`` versions and modules laid out like them, such as
:class:`deepdojo.nn.GRU`) inside a module, in place, with one
scheme; every bias of those layers is set to zero. Other modules (norms, embeddings, ...)
are left untouched.

Schemes and the variance of each weight :math:`w` (``fan_in`` inputs feed one unit,
``fan_out`` units read one input):

- ``zeros``: :math:`w = 0` (``torch.nn.init.zeros_``).
- ``normal``: :math:`\mathcal N(0, \sigma^2)`, :math:`\sigma` = ``std`` (``normal_(w, 0, std)``).
- ``uniform``: :math:`U(-b, b)`, :math:`b` = ``bound`` (``uniform_(w, -bound, bound)``).
- ``xavier_normal``: :math:`\mathcal N(0,\ g^2 \cdot 2/(n_{in}+n_{out}))`
  (``xavier_normal_(w, gain=g)``).
- ``xavier_uniform``: :math:`U(-b, b)`, :math:`b = g\sqrt{6/(n_{in}+n_{out})}`
  (``xavier_uniform_(w, gain=g)``).
- ``he_normal``: :math:`\mathcal N(0,\ g^2/n_{in})`
  (``kaiming_normal_(w, mode="fan_in", nonlinearity=...)``).
- ``he_uniform``: :math:`U(-b, b)`, :math:`b = g\sqrt{3/n_{in}}`
  (``kaiming_uniform_(w, mode="fan_in", nonlinearity=...)``).
- ``orthogonal``: :math:`W = g\,Q`, :math:`Q` a uniformly random (semi-)orthogonal matrix
  (Saxe et al., 2014; ``orthogonal_(w, gain=g)``), so :math:`W W^\top = g^2 I` when
  ``out <= in`` and :math:`W^\top W = g^2 I` otherwise. A conv weight is flattened to
  ``(out, in·k)`` first; a recurrent weight gets one orthogonal block per gate.

``zero_branch=True`` (with any scheme) then zeroes the last layer of every residual branch
(weight and bias): ``layer2`` of :class:`deepdojo.nn.ResidualBlock`, the attention output
projections and ``linear2`` of deepdojo's Transformer layers. Each block then starts as the
identity, :math:`y = x + F(x) = x` (Goyal et al., 2017, zero the last BN scale of each
ResNet block; Fixup, Zhang et al., 2019, the last layer). Gradients still reach the zeroed
layer (:math:`\partial L/\partial W_2 = \delta\, a^\top \neq 0`), so it leaves zero after
the first step; unlike an all-zero layer, the units of the other layers differ from the start.
:func:`zero_residual_branches` does the same step on its own.

PyTorch's own default for ``Linear`` and ``Conv`` is neither Xavier nor He:
``kaiming_uniform_(w, a=sqrt(5))`` gives gain :math:`\sqrt{2/(1+5)}`, so
:math:`b = 1/\sqrt{n_{in}}` and :math:`\mathrm{Var}(w) = 1/(3 n_{in})`, a third of
LeCun's :math:`1/n_{in}` and a sixth of He's :math:`2/n_{in}`.

Aliases: ``glorot_normal``/``glorot_uniform`` = Xavier, ``kaiming_normal``/``kaiming_uniform``
= He. A uniform :math:`U(-b, b)` has variance :math:`b^2/3`, so each uniform variant has the
same variance as its normal twin.

Why these variances. For :math:`y = W x` with independent zero-mean weights,
:math:`\mathrm{Var}(y) = n_{in}\,\mathrm{Var}(w)\,\mathbb E[x^2]` forward and
:math:`\mathrm{Var}(\partial x) = n_{out}\,\mathrm{Var}(w)\,\mathrm{Var}(\partial y)` backward.
Glorot & Bengio (2010) compromise between keeping both constant for a linear (or tanh near 0)
unit: :math:`\mathrm{Var}(w) = 2/(n_{in}+n_{out})`. ReLU zeroes half its inputs, so
:math:`\mathbb E[x^2] = \mathrm{Var}(y_{prev})/2`, and He et al. (2015) double the forward
variance: :math:`\mathrm{Var}(w) = 2/n_{in}`. In general He uses the *gain* :math:`g` of the
nonlinearity (:func:`torch.nn.init.calculate_gain`: relu :math:`\sqrt2`, tanh 5/3, linear and
sigmoid 1, selu 3/4): :math:`\mathrm{Var}(w) = g^2/n_{in}`.

Gains follow torch: He takes :math:`g` from ``nonlinearity`` (default ``"relu"``, so
:math:`\mathrm{Var}=2/n_{in}`); Xavier uses ``gain`` (default 1, Glorot & Bengio's
:math:`2/(n_{in}+n_{out})`) and ignores ``nonlinearity``. In deep tanh nets Xavier keeps
the activation scale with ``gain=5/3`` (torch's recommended tanh gain); with gain 1 the
variance shrinks roughly like :math:`1/(2\ell)` with depth :math:`\ell` (the
weight-initialization lab measures it).

Fans. A weight of shape ``(out, in, *kernel)`` has
:math:`n_{in} = \text{in}\cdot\prod\text{kernel}` and :math:`n_{out} =
\text{out}\cdot\prod\text{kernel}` (``in`` is already divided by ``groups``), as torch computes
them. Recurrent layers stack :math:`G` gate matrices along dim 0 (RNN 1, GRU 3 in order
r, z, n; LSTM 4 in order i, f, g, o): ``weight_ih`` is ``(G·H, I)`` and ``weight_hh`` is
``(G·H, H)``. Each gate is its own linear map from ``I`` (or ``H``) inputs to ``H`` units, so
each ``(H, ·)`` block is initialized separately with :math:`n_{out} = H`, not :math:`G\cdot H`;
this only changes Xavier (He depends on :math:`n_{in}` alone). The result equals the matching
``torch.nn.init`` function applied to each gate block in order with the same generator.

Example
-------
>>> import torch
>>> from torch import nn
>>> from deepdojo.nn.init import initialize
>>> net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
>>> g = torch.Generator().manual_seed(0)
>>> net = initialize(net, "he_normal", generator=g)
>>> float(net[2].bias.abs().sum())
0.0
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

__all__ = [
    "ALIASES",
    "SCHEMES",
    "compute_fans",
    "expected_std",
    "initialize",
    "zero_residual_branches",
]

SCHEMES = (
    "zeros",
    "normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
    "orthogonal",
)
ALIASES = {
    "glorot_normal": "xavier_normal",
    "glorot_uniform": "xavier_uniform",
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
}
NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu")  # fmt: skip
DEFAULT_STD = 0.01  # "small random" N(0, 0.01^2), the pre-2010 habit
DEFAULT_BOUND = 0.01  # U(-0.01, 0.01)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_RECURRENT = (nn.RNNBase, nn.RNNCellBase)


def _canonical(scheme: str) -> str:
    """Map a scheme name or alias to its canonical name; unknown names list the valid ones."""
    if not isinstance(scheme, str):
        raise TypeError(f"scheme must be a str, got {type(scheme).__name__}")
    name = ALIASES.get(scheme.lower(), scheme.lower())
    if name not in SCHEMES:
        valid = ", ".join(SCHEMES + tuple(ALIASES))
        raise ValueError(f"unknown init scheme {scheme!r}; valid schemes: {valid}")
    return name


def compute_fans(weight: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of one weight of shape ``(out, in, *kernel)``.

    ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)`` (torch's convention).
    For a recurrent weight pass one gate block, not the stacked matrix.
    """
    if weight.dim() < 2:
        raise ValueError(f"weight must have at least 2 dims (out, in, ...), got {weight.dim()}")
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _check_options(
    scheme: str, nonlinearity: str, gain: float | None, std: float | None, bound: float | None
) -> None:
    """Reject options that do not apply to ``scheme`` (a typo should not pass silently)."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(
            f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}"
        )
    for name, value, applies in (
        ("std", std, scheme == "normal"),
        ("bound", bound, scheme == "uniform"),
        ("gain", gain, scheme.startswith(("xavier", "he", "orthogonal"))),
    ):
        _positive(name, value)
        if value is not None and not applies:
            raise ValueError(f"{name}= does not apply to scheme {scheme!r}")


def expected_std(
    scheme: str,
    fan_in: int,
    fan_out: int,
    *,
    nonlinearity: str = "relu",
    gain: float | None = None,
    std: float | None = None,
    bound: float | None = None,
) -> float:
    r"""The standard deviation of one weight under ``scheme`` (see the module docstring).

    Uniform schemes: ``bound / sqrt(3)``. ``orthogonal``: the root mean square
    :math:`g/\sqrt{\max(n_{in}, n_{out})}` of a 2-D ``(n_out, n_in)`` weight (its rows, or
    columns, are orthonormal). Arguments as in :func:`initialize`.
    """
    scheme = _canonical(scheme)
    _check_options(scheme, nonlinearity, gain, std, bound)
    if scheme == "zeros":
        return 0.0
    if scheme == "normal":
        return DEFAULT_STD if std is None else float(std)
    if scheme == "uniform":
        return (DEFAULT_BOUND if bound is None else float(bound)) / math.sqrt(3.0)
    if scheme == "orthogonal":
        return (1.0 if gain is None else float(gain)) / math.sqrt(max(fan_in, fan_out))
    if scheme.startswith("xavier"):
        g = 1.0 if gain is None else float(gain)
        return g * math.sqrt(2.0 / float(fan_in + fan_out))  # same float ops as torch
    g = nn.init.calculate_gain(nonlinearity) if gain is None else float(gain)  # type: ignore[arg-type]
    return g / math.sqrt(fan_in)


def _orthogonal(block: torch.Tensor, gain: float, generator: torch.Generator | None) -> None:
    """``torch.nn.init.orthogonal_`` with the QR in float64, so :math:`W W^T = g^2 I` holds to
    float32 rounding (torch's float32 QR leaves ~1e-6 errors that grow with size).

    Draws the same float32 normals as torch, in the same order, from ``generator``.
    """
    rows = block.shape[0]
    cols = block.numel() // rows
    a = block.new_empty((rows, cols)).normal_(0, 1, generator=generator).double()  # (rows, cols)
    if rows < cols:
        a = a.T  # (cols, rows): QR needs a tall matrix
    q, r = torch.linalg.qr(a)  # q (tall, short) with orthonormal columns
    q = q * torch.diagonal(r).sign()  # sign fix: Q uniform on the orthogonal group (Mezzadri)
    if rows < cols:
        q = q.T  # (rows, cols) with orthonormal rows
    block.view_as(q).copy_(q.to(block.dtype)).mul_(gain)


def _fill(
    block: torch.Tensor, scheme: str, generator: torch.Generator | None, **options: object
) -> None:
    """Initialize one weight block in place (no autograd); ``options`` as in ``expected_std``."""
    if scheme == "orthogonal":
        gain = options.get("gain")
        g = 1.0 if gain is None else float(gain)  # type: ignore[arg-type]
        with torch.no_grad():
            _orthogonal(block, g, generator)
        return
    fan_in, fan_out = compute_fans(block)
    sd = expected_std(scheme, fan_in, fan_out, **options)  # type: ignore[arg-type]
    with torch.no_grad():
        if scheme == "zeros":
            block.zero_()
        elif scheme.endswith("uniform"):
            b = math.sqrt(3.0) * sd  # Var(U(-b, b)) = b^2 / 3
            if scheme == "uniform":  # exact user bound, no sqrt round trip
                b = float(options.get("bound") or DEFAULT_BOUND)  # type: ignore[arg-type]
            block.uniform_(-b, b, generator=generator)
        else:
            block.normal_(0.0, sd, generator=generator)


def _is_recurrent(module: nn.Module) -> bool:
    """torch's RNN/GRU/LSTM (and cells), or any module laid out like them (deepdojo.nn.GRU):
    a ``hidden_size`` attribute and its own ``weight_ih*``/``weight_hh*`` parameters."""
    if isinstance(module, _RECURRENT):
        return True
    own = (name for name, _ in module.named_parameters(recurse=False))
    return hasattr(module, "hidden_size") and any(n.startswith("weight_ih") for n in own)


def _weight_blocks(module: nn.Module) -> Iterator[tuple[str, list[torch.Tensor]]]:
    """``(name, blocks)`` for each weight of a supported layer; recurrent weights split per gate."""
    if isinstance(module, (nn.Linear, *_CONV)):
        yield "weight", [module.weight]
        return
    hidden = module.hidden_size
    for name, param in module.named_parameters(recurse=False):
        if name.startswith(("weight_ih", "weight_hh")):
            yield name, list(param.split(hidden, dim=0))  # (G*H, in) -> G x (H, in)
        elif name.startswith("weight_hr"):  # LSTM projection (proj, H): one block
            yield name, [param]


def _biases(module: nn.Module) -> Iterator[torch.Tensor]:
    for name, param in module.named_parameters(recurse=False):
        if name.startswith("bias") and param is not None:
            yield param


def initialize(
    module: nn.Module,
    scheme: str,
    *,
    nonlinearity: str = "relu",
    generator: torch.Generator | None = None,
    gain: float | None = None,
    std: float | None = None,
    bound: float | None = None,
    zero_branch: bool = False,
) -> nn.Module:
    """Re-initialize every Linear, Conv and recurrent layer of ``module`` in place.

    Parameters
    ----------
    module : nn.Module
        The model (or single layer). Layers are visited in ``module.modules()`` order and
        their weights in registration order, so a seeded ``generator`` fixes every number.
    scheme : str
        One of ``zeros, normal, uniform, xavier_normal, xavier_uniform, he_normal,
        he_uniform, orthogonal`` or an alias ``glorot_*``/``kaiming_*`` (case-insensitive).
    nonlinearity : str, default "relu"
        The activation after the layer; sets He's gain :math:`g` (relu √2, tanh 5/3, linear 1,
        ...). Ignored by the other schemes.
    generator : torch.Generator, optional
        Source of randomness; ``None`` uses torch's global generator.
    gain : float, optional
        Xavier, He and orthogonal only. Xavier: :math:`g` in :math:`g^2\\,2/(n_{in}+n_{out})`,
        default 1. He: overrides the gain of ``nonlinearity``. Orthogonal: :math:`W = g Q`,
        default 1 (torch's default; ``nonlinearity`` is ignored).
    std : float, optional
        ``normal`` only: the standard deviation, default 0.01.
    bound : float, optional
        ``uniform`` only: weights in ``[-bound, bound]``, default 0.01.
    zero_branch : bool, default False
        Afterwards zero the last layer of every residual branch (see
        :func:`zero_residual_branches`), so each residual block starts as the identity.

    Returns
    -------
    nn.Module
        ``module`` itself (initialized in place); every bias of the visited layers is 0.

    Raises
    ------
    ValueError
        Unknown scheme or nonlinearity, an option that does not apply to the scheme, a
        module with no Linear, Conv or recurrent layer, or ``zero_branch=True`` on a module
        without a residual branch.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if not isinstance(zero_branch, bool):
        raise TypeError(f"zero_branch must be a bool, got {zero_branch!r}")
    scheme = _canonical(scheme)
    options = {"nonlinearity": nonlinearity, "gain": gain, "std": std, "bound": bound}
    _check_options(scheme, nonlinearity, gain, std, bound)
    supported = (nn.Linear, *_CONV)
    layers = [m for m in module.modules() if isinstance(m, supported) or _is_recurrent(m)]
    if not layers:
        raise ValueError(
            f"module {type(module).__name__} has no Linear, Conv1d/2d/3d or recurrent layer "
            "to initialize"
        )
    for layer in layers:
        for _, blocks in _weight_blocks(layer):
            for block in blocks:
                _fill(block, scheme, generator, **options)
        for bias in _biases(layer):
            with torch.no_grad():
                bias.zero_()
    if zero_branch and zero_residual_branches(module) == 0:
        raise ValueError(
            f"zero_branch=True but module {type(module).__name__} has no residual branch "
            "(deepdojo.nn.ResidualBlock or a deepdojo Transformer layer)"
        )
    return module


def _branch_ends(module: nn.Module) -> list[nn.Module]:
    """The last layer of each residual branch of deepdojo's blocks, in ``modules()`` order."""
    from deepdojo.nn.residual import ResidualBlock  # late: deepdojo.nn imports this module
    from deepdojo.nn.transformer import TransformerDecoderLayer, TransformerEncoderLayer

    ends: list[nn.Module] = []
    for m in module.modules():
        if isinstance(m, ResidualBlock):
            ends.append(m.layer2)  # F(x) = W_2 act(...): W_2 ends the branch
        elif isinstance(m, TransformerEncoderLayer):
            ends += [m.self_attn.out_proj, m.linear2]
        elif isinstance(m, TransformerDecoderLayer):
            ends += [m.self_attn.out_proj, m.multihead_attn.out_proj, m.linear2]
    return ends


def zero_residual_branches(module: nn.Module) -> int:
    r"""Zero the weight and bias of the last layer of every residual branch in ``module``.

    A block :math:`y = x + F(x)` whose branch ends in a zero layer computes :math:`y = x`, so a
    deep residual net starts as a shallow one (Goyal et al., 2017; Fixup, Zhang et al., 2019).
    Branch ends: ``layer2`` of :class:`deepdojo.nn.ResidualBlock`; ``self_attn.out_proj``,
    ``multihead_attn.out_proj`` and ``linear2`` of deepdojo's Transformer layers. The shortcut,
    other layers and every module outside a residual block are left as they are.

    Returns
    -------
    int
        How many layers were zeroed (0 when ``module`` has no residual branch).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    ends = _branch_ends(module)
    with torch.no_grad():
        for layer in ends:
            for param in layer.parameters(recurse=False):
                param.zero_()
    return len(ends)
