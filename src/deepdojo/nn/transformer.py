r"""A pre-norm Transformer built from deepdojo's :class:`MultiHeadAttention`.

Pre-norm residual blocks (Xiong et al., 2020), the variant of
``torch.nn.TransformerEncoderLayer(norm_first=True)``:

.. math::
    x &\leftarrow x + \mathrm{Dropout}(\mathrm{SelfAttn}(\mathrm{LN}_1(x))) \\
    x &\leftarrow x + \mathrm{Dropout}(\mathrm{CrossAttn}(\mathrm{LN}_2(x), m))
        \quad\text{(decoder only)} \\
    x &\leftarrow x + \mathrm{Dropout}(W_2\, \mathrm{Dropout}(\mathrm{act}(W_1 \mathrm{LN}(x))))

Layer submodules carry torch's names (``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``,
``norm1``...), so state dicts load both ways. Set ``record_attention = True`` on a
:class:`Transformer` to keep every head's attention matrix (``attention_maps()``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepdojo.nn.attention import MultiHeadAttention

__all__ = [
    "LearnedPositionalEncoding",
    "SinusoidalPositionalEncoding",
    "Transformer",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class SinusoidalPositionalEncoding(nn.Module):
    r"""Adds :math:`PE_{t,2i} = \sin(t / 10000^{2i/d})`, :math:`PE_{t,2i+1} = \cos(\cdot)`.

    Input and output (B, T, d_model), T <= max_len. No parameters.
    """

    def __init__(self, d_model: int, max_len: int = 512) -> None:
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)  # (max_len, 1)
        freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (d/2,)
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * freq)
        pe[:, 1::2] = torch.cos(position * freq[: d_model // 2])
        self.register_buffer("pe", pe, persistent=False)  # (max_len, d_model)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"sequence length {x.shape[1]} exceeds max_len={self.pe.shape[0]}")
        return x + self.pe[: x.shape[1]].to(x.dtype)


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned embedding of each position: input and output (B, T, d_model)."""

    def __init__(self, d_model: int, max_len: int = 512) -> None:
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] > self.embedding.num_embeddings:
            raise ValueError(f"sequence length {x.shape[1]} exceeds max_len="
                             f"{self.embedding.num_embeddings}")
        return x + self.embedding(torch.arange(x.shape[1], device=x.device))  # (B, T, d)


class _FeedForward(nn.Module):
    def __init__(self, d_model: int, dim_feedforward: int, dropout: float, activation: str,
                 bias: bool) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got "
                             f"{activation!r}")
        self.activation = _ACTIVATIONS[activation]
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)

    def _ff(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, T, d)


class TransformerEncoderLayer(_FeedForward):
    """Pre-norm encoder layer: self-attention then feed-forward, each as ``x + f(LN(x))``.

    Parameters follow ``torch.nn.TransformerEncoderLayer`` (always ``batch_first`` and
    ``norm_first``). Input and output (B, T, d_model).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", layer_norm_eps: float = 1e-5,
                 bias: bool = True) -> None:
        super().__init__(d_model, dim_feedforward, dropout, activation, bias)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        h = self.norm1(src)
        attn, _ = self.self_attn(h, h, h, key_padding_mask=src_key_padding_mask,
                                 attn_mask=src_mask, is_causal=is_causal, need_weights=False)
        x = src + self.dropout1(attn)  # (B, T, d)
        return x + self.dropout2(self._ff(self.norm2(x)))  # (B, T, d)


class TransformerDecoderLayer(_FeedForward):
    """Pre-norm decoder layer: causal self-attention, cross-attention to ``memory``, FFN.

    Parameters follow ``torch.nn.TransformerDecoderLayer``. ``tgt`` (B, Tt, d), ``memory``
    (B, Ts, d) -> (B, Tt, d).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", layer_norm_eps: float = 1e-5,
                 bias: bool = True) -> None:
        super().__init__(d_model, dim_feedforward, dropout, activation, bias)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias)
        for i in (1, 2, 3):
            setattr(self, f"norm{i}", nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
            setattr(self, f"dropout{i}", nn.Dropout(dropout))

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool = False) -> Tensor:
        h = self.norm1(tgt)
        attn, _ = self.self_attn(h, h, h, key_padding_mask=tgt_key_padding_mask,
                                 attn_mask=tgt_mask, is_causal=tgt_is_causal, need_weights=False)
        x = tgt + self.dropout1(attn)  # (B, Tt, d)
        h = self.norm2(x)
        cross, _ = self.multihead_attn(h, memory, memory, attn_mask=memory_mask,
                                       key_padding_mask=memory_key_padding_mask,
                                       need_weights=False)
        x = x + self.dropout2(cross)  # (B, Tt, d)
        return x + self.dropout3(self._ff(self.norm3(x)))  # (B, Tt, d)


class Transformer(nn.Module):
    """Token-to-token encoder-decoder Transformer (pre-norm) for seq2seq tasks.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        Vocabulary sizes of source and target tokens.
    d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, dropout
        As in ``torch.nn.Transformer``.
    max_len : int
        Longest sequence the positional encoding covers.
    positional : {"sinusoidal", "learned"}
    pad_idx : int
        Padding token (masked as a key in every attention).

    Inputs: ``src`` (B, Ts) and ``tgt_in`` (B, Tt) token ids (``tgt_in`` starts with BOS).
    Output: logits (B, Tt, tgt_vocab_size) for the next target token at each position.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 64,
                 nhead: int = 4, num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 128, dropout: float = 0.1, max_len: int = 256,
                 positional: str = "sinusoidal", pad_idx: int = 0) -> None:
        super().__init__()
        pos = {"sinusoidal": SinusoidalPositionalEncoding, "learned": LearnedPositionalEncoding}
        if positional not in pos:
            raise ValueError(f"positional must be 'sinusoidal' or 'learned', got {positional!r}")
        self.d_model, self.pad_idx = d_model, pad_idx
        self.src_embed = nn.Embedding(src_vocab_size, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, d_model)
        for emb in (self.src_embed, self.tgt_embed):  # after the sqrt(d) scale: unit variance,
            nn.init.normal_(emb.weight, std=d_model**-0.5)  # comparable to the positions
        self.src_pos = pos[positional](d_model, max_len)
        self.tgt_pos = pos[positional](d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        args = (d_model, nhead, dim_feedforward, dropout)
        self.encoder_layers = nn.ModuleList(
            TransformerEncoderLayer(*args) for _ in range(num_encoder_layers))
        self.decoder_layers = nn.ModuleList(
            TransformerDecoderLayer(*args) for _ in range(num_decoder_layers))
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder_norm = nn.LayerNorm(d_model)
        self.generator = nn.Linear(d_model, tgt_vocab_size)

    @property
    def record_attention(self) -> bool:
        """If True, every attention keeps its per-head weights (slower: no fused kernel)."""
        return any(m.keep_weights for m in self.modules() if isinstance(m, MultiHeadAttention))

    @record_attention.setter
    def record_attention(self, value: bool) -> None:
        for m in self.modules():
            if isinstance(m, MultiHeadAttention):
                m.keep_weights = bool(value)

    def attention_maps(self) -> dict[str, Tensor]:
        """Per-head weights of the last call, e.g. ``"decoder.1.cross"`` -> (B, H, Tq, Tk)."""
        maps = {}
        for i, layer in enumerate(self.encoder_layers):
            maps[f"encoder.{i}.self"] = layer.self_attn.last_weights
        for i, layer in enumerate(self.decoder_layers):
            maps[f"decoder.{i}.self"] = layer.self_attn.last_weights
            maps[f"decoder.{i}.cross"] = layer.multihead_attn.last_weights
        return {k: v for k, v in maps.items() if v is not None}

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """src (B, Ts) -> memory (B, Ts, d) and its padding mask (B, Ts)."""
        if src.dim() != 2:
            raise ValueError(f"src must be (B, Ts) token ids, got shape {tuple(src.shape)}")
        pad = src == self.pad_idx  # (B, Ts)
        x = self.dropout(self.src_pos(self.src_embed(src) * math.sqrt(self.d_model)))
        for layer in self.encoder_layers:
            x = layer(x, src_key_padding_mask=pad)
        return self.encoder_norm(x), pad

    def decode(self, tgt_in: Tensor, memory: Tensor, src_pad: Tensor) -> Tensor:
        """tgt_in (B, Tt) with memory (B, Ts, d) -> logits (B, Tt, V)."""
        if tgt_in.dim() != 2:
            raise ValueError(f"tgt_in must be (B, Tt) token ids, got shape {tuple(tgt_in.shape)}")
        x = self.dropout(self.tgt_pos(self.tgt_embed(tgt_in) * math.sqrt(self.d_model)))
        for layer in self.decoder_layers:
            x = layer(x, memory, memory_key_padding_mask=src_pad, tgt_is_causal=True)
        return self.generator(self.decoder_norm(x))  # (B, Tt, V)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        memory, pad = self.encode(src)
        return self.decode(tgt_in, memory, pad)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, max_len: int, bos_idx: int, eos_idx: int) -> Tensor:
        """Most likely token at each step until EOS or ``max_len``: (B, <= max_len) ids.

        Positions after a sequence's EOS are filled with ``pad_idx``.
        """
        memory, pad = self.encode(src)
        ys = torch.full((src.shape[0], 1), bos_idx, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            nxt = self.decode(ys, memory, pad)[:, -1].argmax(-1)  # (B,)
            nxt = nxt.masked_fill(done, self.pad_idx)
            ys = torch.cat([ys, nxt.unsqueeze(1)], dim=1)
            done |= nxt == eos_idx
            if done.all():
                break
        return ys[:, 1:]
