"""An explicit, inspectable GRU that is weight-compatible with ``torch.nn.GRU``.

Glossary (one symbol per line of :func:`gru_step`, in the order Cho et al. write them):

- ``z``       update gate: how much of the previous state to keep,
- ``r``       reset gate: how much of the previous state feeds the candidate,
- ``h_tilde`` candidate state,
- ``h``       new state, an interpolation between ``h_prev`` and ``h_tilde``.

The explicit path projects the inputs of all time steps in one matrix product and loops only
over the hidden recurrence. ``impl="fused"`` runs torch's own kernel on the same Parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

__all__ = ["GRU", "GRUCell", "gru_step"]

_GATES = ("z", "r", "h_tilde", "h")


def gru_step(
    gi: Tensor, h_prev: Tensor, weight_hh: Tensor, bias_hh: Tensor | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""One GRU step given the input projection ``gi = W_i x + b_i`` (torch's gate order r, z, n).

    .. math::
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h_{prev} + b_{hz}) \\
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h_{prev} + b_{hr}) \\
        \tilde h &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h_{prev} + b_{hn})) \\
        h &= (1 - z) \odot \tilde h + z \odot h_{prev}

    This is torch's (and cuDNN's) variant: ``r`` multiplies ``W_hn h + b_hn``, not ``h``.

    Parameters
    ----------
    gi : Tensor, shape (B, 3H)
        Input projection, chunks ordered ``[r | z | n]`` as in ``torch.nn.GRU``.
    h_prev : Tensor, shape (B, H)
    weight_hh : Tensor, shape (3H, H)
    bias_hh : Tensor of shape (3H,) or None

    Returns
    -------
    z, r, h_tilde, h : Tensor, each of shape (B, H)
    """
    gh = nn.functional.linear(h_prev, weight_hh, bias_hh)  # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)  # 3 x (B, H)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)  # 3 x (B, H)
    z = torch.sigmoid(i_z + h_z)
    r = torch.sigmoid(i_r + h_r)
    h_tilde = torch.tanh(torch.addcmul(i_n, r, h_n))  # i_n + r * h_n, one fused kernel
    h = torch.lerp(h_tilde, h_prev, z)  # (1 - z) * h_tilde + z * h_prev, one fused kernel
    return z, r, h_tilde, h


class GRUCell(nn.Module):
    r"""A single GRU step, weight-compatible with ``torch.nn.GRUCell``.

    Computes ``z``, ``r``, ``h_tilde`` and ``h`` as in :func:`gru_step` (torch's variant).

    Parameters
    ----------
    input_size : int
        Features ``I`` of the input ``x``.
    hidden_size : int
        Features ``H`` of the state.
    bias : bool
        Whether to use ``bias_ih`` and ``bias_hh``.

    Attributes
    ----------
    weight_ih : (3H, I), weight_hh : (3H, H), bias_ih : (3H,), bias_hh : (3H,)
        Gate order ``[r | z | n]``; initialised U(-1/sqrt(H), 1/sqrt(H)) like torch.
    last_gates : dict[str, Tensor] or None
        ``z``, ``r``, ``h_tilde``, ``h`` of the last call (detached), each (B, H).

    Examples
    --------
    >>> cell = GRUCell(3, 5)
    >>> cell(torch.randn(2, 3)).shape
    torch.Size([2, 5])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        self.last_gates: dict[str, Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-k, k) with k = 1/sqrt(hidden_size), as torch does."""
        bound = self.hidden_size**-0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """``input`` (B, I) or (I,), ``hx`` (B, H) or (H,) -> new state of the same rank."""
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"input must have shape (B, {self.input_size}) or ({self.input_size},), "
                f"got {tuple(input.shape)}"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input  # (B, I)
        if hx is None:
            hx = x.new_zeros(x.shape[0], self.hidden_size)
        hx = hx.unsqueeze(0) if hx.dim() == 1 else hx  # (B, H)
        if hx.shape != (x.shape[0], self.hidden_size):
            raise ValueError(
                f"hx must have shape ({x.shape[0]}, {self.hidden_size}), got {tuple(hx.shape)}"
            )
        gi = nn.functional.linear(x, self.weight_ih, self.bias_ih)  # (B, 3H)
        z, r, h_tilde, h = gru_step(gi, hx, self.weight_hh, self.bias_hh)
        self.last_gates = {"z": z.detach(), "r": r.detach(), "h_tilde": h_tilde.detach()}
        self.last_gates["h"] = h.detach()
        return h.squeeze(0) if unbatched else h

    @classmethod
    def from_torch(cls, module: nn.GRUCell) -> GRUCell:
        """A copy of ``torch.nn.GRUCell`` ``module`` (same weights, dtype and device)."""
        w = module.weight_ih
        cell = cls(module.input_size, module.hidden_size, module.bias)
        cell.to(device=w.device, dtype=w.dtype).load_state_dict(module.state_dict())
        return cell

    def to_torch(self) -> nn.GRUCell:
        """A ``torch.nn.GRUCell`` with a copy of these weights."""
        w = self.weight_ih
        cell = nn.GRUCell(self.input_size, self.hidden_size, self.bias)
        cell.to(device=w.device, dtype=w.dtype).load_state_dict(self.state_dict())
        return cell


def _check_sizes(input_size: int, hidden_size: int) -> None:
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


class GRU(nn.Module):
    r"""Multi-layer GRU with explicit gates, weight-compatible with ``torch.nn.GRU``.

    For each layer and direction, and each step ``t`` (torch's variant, ``r`` after ``W_hn``):

    .. math::
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        \tilde h_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}

    Layer ``l > 0`` reads the (concatenated, for bidirectional) outputs of layer ``l-1``, with
    dropout ``p`` between layers in training mode.

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        As in ``torch.nn.GRU`` (but ``batch_first`` defaults to True here).
    impl : {"explicit", "fused"}
        ``explicit`` runs :func:`gru_step` in a Python loop; ``fused`` calls torch's kernel.
    record_gates : bool
        Keep ``z``, ``r``, ``h_tilde`` and ``h`` of every step in ``self.gates`` (explicit only).

    Inputs: ``input, hx=None, lengths=None``
        - input: (B, T, I) if ``batch_first`` else (T, B, I); (T, I) unbatched; or a
          PackedSequence.
        - hx: (L * D, B, H) initial states, zeros if absent (D = 2 if bidirectional else 1).
        - lengths: (B,) valid steps per sequence of a padded input (1 <= length <= T).

    Outputs: ``output, h_n``
        - output: (B, T, D * H) (or (T, B, D * H)); zeros after each sequence's length; a
          PackedSequence if the input was one.
        - h_n: (L * D, B, H), the state at each sequence's last valid step.

    Attributes
    ----------
    weight_ih_l{k}[_reverse] : (3H, I) for k = 0, else (3H, D * H); gate order [r | z | n]
    weight_hh_l{k}[_reverse] : (3H, H)
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] : (3H,)
    gates : dict[str, Tensor] or None
        With ``record_gates``: ``"z"``, ``"r"``, ``"h_tilde"``, ``"h"`` each (L * D, B, T, H),
        detached, rows ordered like ``h_n``.

    Examples
    --------
    >>> gru = GRU(4, 8, num_layers=2, record_gates=True)
    >>> out, h_n = gru(torch.randn(3, 5, 4))
    >>> out.shape, h_n.shape, gru.gates["z"].shape
    (torch.Size([3, 5, 8]), torch.Size([2, 3, 8]), torch.Size([2, 3, 5, 8]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        impl: str = "explicit",
        record_gates: bool = False,
    ) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout!r}")
        if impl not in ("explicit", "fused"):
            raise ValueError(f"impl must be 'explicit' or 'fused', got {impl!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.impl, self.record_gates = impl, record_gates
        self._check_impl()
        self.gates: dict[str, Tensor] | None = None
        H = hidden_size
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else H * self.num_directions
            for sfx in self._suffixes(layer):
                setattr(self, f"weight_ih{sfx}", nn.Parameter(torch.empty(3 * H, in_size)))
                setattr(self, f"weight_hh{sfx}", nn.Parameter(torch.empty(3 * H, H)))
                if bias:
                    setattr(self, f"bias_ih{sfx}", nn.Parameter(torch.empty(3 * H)))
                    setattr(self, f"bias_hh{sfx}", nn.Parameter(torch.empty(3 * H)))
        self.reset_parameters()

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.num_directions]

    def _check_impl(self) -> None:
        if self.impl == "fused" and self.record_gates:
            raise ValueError("record_gates=True needs impl='explicit' (fused kernels hide gates)")

    def reset_parameters(self) -> None:
        """U(-k, k) with k = 1/sqrt(hidden_size), as torch does."""
        bound = self.hidden_size**-0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _weights(self, layer: int, sfx: str) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        get = lambda name: getattr(self, f"{name}{sfx}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def flat_weights(self) -> list[Tensor]:
        """Parameters in ``torch.nn.GRU._flat_weights`` order (layer, direction, w/b)."""
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        return [
            getattr(self, f"{n}{sfx}")
            for layer in range(self.num_layers)
            for sfx in self._suffixes(layer)
            for n in names
        ]

    # ------------------------------------------------------------------ input handling

    def _prepare(
        self, input: Tensor | PackedSequence, hx: Tensor | None, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor | None, bool]:
        """Return x (B, T, I), h0 (L*D, B, H), lengths (B,) or None, unbatched flag."""
        unbatched = False
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("lengths must be None when input is a PackedSequence")
            x, lengths = pad_packed_sequence(input, batch_first=True)  # (B, T, I)
        elif not isinstance(input, Tensor):
            raise TypeError(f"input must be a Tensor or PackedSequence, got {type(input)}")
        elif input.dim() == 2:
            unbatched, x = True, input.unsqueeze(0)  # (1, T, I)
        elif input.dim() == 3:
            x = input if self.batch_first else input.transpose(0, 1)  # (B, T, I)
        else:
            raise ValueError(f"input must be 2-D or 3-D, got {input.dim()}-D {tuple(input.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"input's last dim must be input_size={self.input_size}, got "
                             f"{x.shape[-1]}")
        if not x.is_floating_point():
            raise TypeError(f"input must be a floating tensor, got {x.dtype}")
        B, T, _ = x.shape
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if hx is None:
            hx = x.new_zeros(shape)
        elif unbatched and hx.dim() == 2:
            hx = hx.unsqueeze(1)  # (L*D, 1, H)
        if tuple(hx.shape) != shape:
            raise ValueError(f"hx must have shape {shape}, got {tuple(hx.shape)}")
        if lengths is not None:
            lengths = torch.as_tensor(lengths).to(device="cpu", dtype=torch.long)
            if lengths.shape != (B,) or lengths.min() < 1 or lengths.max() > T:
                raise ValueError(f"lengths must be a ({B},) tensor with values in [1, {T}], "
                                 f"got {lengths.tolist()}")
        return x, hx, lengths, unbatched

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the GRU; see the class docstring for shapes."""
        self._check_impl()
        x, h0, lengths, unbatched = self._prepare(input, hx, lengths)
        if self.impl == "fused":
            out, h_n = self._forward_fused(x, h0, lengths)
        else:
            out, h_n = self._forward_explicit(x, h0, lengths)
        if isinstance(input, PackedSequence):
            return _repack(out, input), h_n
        if unbatched:
            return out.squeeze(0), h_n.squeeze(1)
        return (out if self.batch_first else out.transpose(0, 1)), h_n

    # ------------------------------------------------------------------ the two paths

    def _forward_explicit(
        self, x: Tensor, h0: Tensor, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        B, T, _ = x.shape
        mask = None
        if lengths is not None:  # (T, B, 1): True where step t is inside sequence b
            steps = torch.arange(T).unsqueeze(1)  # (T, 1)
            mask = (steps < lengths.unsqueeze(0)).unsqueeze(-1).to(x.device)
        h_n, records = [], []
        layer_in = x  # (B, T, I)
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                layer_in = nn.functional.dropout(layer_in, self.dropout, training=True)
            outs = []
            for d, sfx in enumerate(self._suffixes(layer)):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, sfx)
                # all input projections in one matmul; time-major so gi[t] is contiguous
                gi = nn.functional.linear(layer_in.transpose(0, 1), w_ih, b_ih)  # (T, B, 3H)
                idx = layer * self.num_directions + d
                out, h_last, rec = self._run_direction(gi, h0[idx], w_hh, b_hh, mask, d == 1)
                outs.append(out)
                h_n.append(h_last)
                records.append(rec)
            layer_in = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]  # (B, T, D*H)
        if self.record_gates:
            self.gates = {k: torch.stack([r[k] for r in records]) for k in _GATES}
        return layer_in, torch.stack(h_n)

    def _run_direction(
        self,
        gi: Tensor,
        h: Tensor,
        w_hh: Tensor,
        b_hh: Tensor | None,
        mask: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Loop over the steps of one direction; gi (T, B, 3H), h (B, H) -> (B, T, H), (B, H)."""
        T = gi.shape[0]
        gi_steps = gi.unbind(0)  # T x (B, 3H); one backward stack, not T full-size selects
        outputs: list[Tensor] = [h] * T
        rec: dict[str, list[Tensor]] = {k: [h] * T for k in _GATES}
        for t in range(T - 1, -1, -1) if reverse else range(T):
            z, r, h_tilde, h_new = gru_step(gi_steps[t], h, w_hh, b_hh)
            if mask is None:
                h, outputs[t] = h_new, h_new
            else:  # past a sequence's end: keep the state, emit zeros
                h = torch.where(mask[t], h_new, h)
                outputs[t] = h_new * mask[t]
            if self.record_gates:
                for k, v in zip(_GATES, (z, r, h_tilde, h_new), strict=True):
                    rec[k][t] = v.detach() if mask is None else (v * mask[t]).detach()
        gates = {k: torch.stack(v, dim=1) for k, v in rec.items()} if self.record_gates else {}
        return torch.stack(outputs, dim=1), h, gates  # (B, T, H), (B, H)

    def _forward_fused(
        self, x: Tensor, h0: Tensor, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        args = (self.flat_weights(), self.bias, self.num_layers, self.dropout, self.training,
                self.bidirectional)
        if lengths is None:
            out, h_n = torch._VF.gru(x, h0, *args, True)  # batch_first=True
            return out, h_n
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        h0_sorted = h0.index_select(1, packed.sorted_indices.to(h0.device))
        data, h_n = torch._VF.gru(packed.data, packed.batch_sizes, h0_sorted, *args)
        out_packed = PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                                    packed.unsorted_indices)
        out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=x.shape[1])
        return out, h_n.index_select(1, packed.unsorted_indices.to(h_n.device))

    # ------------------------------------------------------------------ torch interop

    @classmethod
    def from_torch(cls, module: nn.GRU, *, impl: str = "explicit") -> GRU:
        """A copy of ``torch.nn.GRU`` ``module``: same config, weights, dtype and device."""
        if not isinstance(module, nn.GRU):
            raise TypeError(f"module must be a torch.nn.GRU, got {type(module).__name__}")
        w = module.weight_ih_l0
        gru = cls(module.input_size, module.hidden_size, module.num_layers, module.bias,
                  module.batch_first, module.dropout, module.bidirectional, impl=impl)
        gru.to(device=w.device, dtype=w.dtype).load_state_dict(module.state_dict())
        return gru

    def to_torch(self) -> nn.GRU:
        """A ``torch.nn.GRU`` with the same config and a copy of these weights."""
        w = self.weight_ih_l0
        m = nn.GRU(self.input_size, self.hidden_size, self.num_layers, self.bias,
                   self.batch_first, self.dropout, self.bidirectional)
        m.to(device=w.device, dtype=w.dtype).load_state_dict(self.state_dict())
        return m

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, impl={self.impl!r}")


def _repack(out: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack padded ``out`` (B, T, F) with the batch sizes and order of ``like``."""
    order = like.sorted_indices
    if order is not None:
        out = out.index_select(0, order.to(out.device))  # (B, T, F) sorted by length
    steps = [out[: int(bs), t] for t, bs in enumerate(like.batch_sizes)]
    return PackedSequence(torch.cat(steps), like.batch_sizes, like.sorted_indices,
                          like.unsorted_indices)
