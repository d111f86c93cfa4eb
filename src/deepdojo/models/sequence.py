"""Registry entries for the sequence-to-sequence models (``seq2seq``, ``transformer``).

Both map ``(src (B, Ts), tgt_in (B, Tt))`` token ids to logits ``(B, Tt, tgt_vocab_size)``.
The example batch pads one source (id 0) so the padding masks are exercised, and the forward
pass reaches every parameter: the embeddings, encoder, attention, decoder and output layer.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepdojo.models.registry import ModelExample, register_model
from deepdojo.models.seq2seq import Seq2Seq
from deepdojo.nn.transformer import Transformer

__all__ = ["seq2seq", "transformer"]


def _token_example(**kw: Any) -> ModelExample:
    """Three sources of 6 ids (the last one padded after 4) and targets of 4 ids (BOS first)."""
    g = torch.Generator().manual_seed(0)
    V_src, V_tgt = kw.get("src_vocab_size", 12), kw.get("tgt_vocab_size", 9)
    src = torch.randint(4, V_src, (3, 6), generator=g)  # (B, Ts), ids >= 4: no specials
    src[2, 4:] = 0  # padding
    tgt_in = torch.randint(4, V_tgt, (3, 4), generator=g)  # (B, Tt)
    tgt_in[:, 0] = 1  # BOS
    return ModelExample((src, tgt_in), (3, 4, V_tgt))


@register_model("seq2seq", example=_token_example,
                test_kwargs={"src_vocab_size": 12, "tgt_vocab_size": 9, "embed_dim": 6,
                             "hidden_size": 8, "attention": "additive"})
def seq2seq(src_vocab_size: int = 64, tgt_vocab_size: int = 64, embed_dim: int = 32,
            hidden_size: int = 64, attention: str = "additive", num_layers: int = 1,
            pad_idx: int = 0) -> nn.Module:
    """GRU encoder-decoder with none / additive / multiplicative attention; see :class:`Seq2Seq`."""
    return Seq2Seq(src_vocab_size, tgt_vocab_size, embed_dim=embed_dim, hidden_size=hidden_size,
                   attention=attention, num_layers=num_layers, pad_idx=pad_idx)


@register_model("transformer", example=_token_example,
                test_kwargs={"src_vocab_size": 12, "tgt_vocab_size": 9, "d_model": 8,
                             "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
                             "dim_feedforward": 16, "max_len": 16, "positional": "learned"})
def transformer(src_vocab_size: int = 64, tgt_vocab_size: int = 64, d_model: int = 64,
                nhead: int = 4, num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                dim_feedforward: int = 128, dropout: float = 0.1, max_len: int = 256,
                positional: str = "sinusoidal", pad_idx: int = 0) -> nn.Module:
    """Pre-norm encoder-decoder Transformer; see :class:`deepdojo.nn.Transformer`."""
    return Transformer(src_vocab_size, tgt_vocab_size, d_model=d_model, nhead=nhead,
                       num_encoder_layers=num_encoder_layers,
                       num_decoder_layers=num_decoder_layers, dim_feedforward=dim_feedforward,
                       dropout=dropout, max_len=max_len, positional=positional, pad_idx=pad_idx)
