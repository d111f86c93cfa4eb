r"""A GRU encoder-decoder with pluggable attention (none / additive / multiplicative).

Every element of an attention mechanism is an inspectable tensor in ``model.trace`` after each
call: encoder outputs (the keys and values), decoder states (the queries), scores, the
attention matrix and the context vectors.

Decoder step t (Bahdanau et al., 2015 order; ``s`` is the decoder state):

.. math::
    e_{t,j} &= \mathrm{score}(s_{t-1}, h_j)  \quad \text{(additive or multiplicative)} \\
    \alpha_{t} &= \mathrm{softmax}_j(e_{t,j})  \quad \text{(padded } j \text{ masked)} \\
    c_t &= \textstyle\sum_j \alpha_{t,j} h_j \\
    s_t &= \mathrm{GRUCell}([E y_{t-1}; c_t], s_{t-1}) \\
    p(y_t) &= \mathrm{softmax}(W_o [s_t; c_t] + b_o)

Without attention, ``c_t = h_T`` (the encoder's final state) at every step (Cho et al., 2014),
so the only difference between the variants is the attention itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from deepdojo.nn.attention import AdditiveAttention, GeneralAttention
from deepdojo.nn.gru import GRU, GRUCell

__all__ = ["Seq2Seq", "Seq2SeqTrace"]

ATTENTIONS = ("none", "additive", "multiplicative")


@dataclass
class Seq2SeqTrace:
    """The elements of attention from the last call (detached).

    Attributes
    ----------
    encoder_outputs : (B, Ts, H) the annotations h_j (keys and values)
    encoder_state : (B, H) the encoder's final state h_T (the decoder's s_0)
    decoder_states : (B, Tt, H) s_t after each step (s_{t-1} is the query of step t)
    scores : (B, Tt, Ts) or None, e_{t,j} before the softmax (padded j are -inf)
    attention : (B, Tt, Ts) or None, the attention matrix alpha
    context : (B, Tt, H) the context vectors c_t
    """

    encoder_outputs: Tensor
    encoder_state: Tensor
    decoder_states: Tensor
    scores: Tensor | None
    attention: Tensor | None
    context: Tensor


class Seq2Seq(nn.Module):
    """GRU encoder-decoder for token sequences with optional attention.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
    embed_dim : int
        Token embedding size E (source and target).
    hidden_size : int
        Encoder and decoder state size H.
    attention : {"none", "additive", "multiplicative"}
        ``additive`` is Bahdanau's ``v^T tanh(W s + U h)``; ``multiplicative`` is Luong's
        "general" ``s^T W h``.
    attention_size : int, optional
        Width of the additive scoring MLP (default H).
    num_layers : int
        Encoder GRU layers (the decoder is one GRUCell started from the top layer's state).
    pad_idx : int
        Padding id of the source (masked out of the attention) and target embeddings.
    gru_impl : {"fused", "explicit"}
        Implementation of the encoder :class:`~deepdojo.nn.GRU` (same weights either way).

    Inputs: ``src`` (B, Ts) ids (right-padded with ``pad_idx``), ``tgt_in`` (B, Tt) ids that
    start with BOS (teacher forcing), optional ``src_lengths`` (B,).
    Output: logits (B, Tt, tgt_vocab_size).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, *, embed_dim: int = 32,
                 hidden_size: int = 64, attention: str = "additive",
                 attention_size: int | None = None, num_layers: int = 1, pad_idx: int = 0,
                 gru_impl: str = "fused") -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        H = hidden_size
        self.attention_kind, self.pad_idx, self.hidden_size = attention, pad_idx, H
        self.src_embed = nn.Embedding(src_vocab_size, embed_dim, padding_idx=pad_idx)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, embed_dim, padding_idx=pad_idx)
        self.encoder = GRU(embed_dim, H, num_layers=num_layers, impl=gru_impl)
        self.attention: nn.Module | None = None
        if attention == "additive":
            self.attention = AdditiveAttention(H, H, attention_size or H)
        elif attention == "multiplicative":
            self.attention = GeneralAttention(H, H)
        self.decoder = GRUCell(embed_dim + H, H)
        self.out = nn.Linear(2 * H, tgt_vocab_size)
        self.trace: Seq2SeqTrace | None = None

    # ------------------------------------------------------------------ building blocks

    def encode(self, src: Tensor, src_lengths: Tensor | None = None
               ) -> tuple[Tensor, Tensor, Tensor]:
        """src (B, Ts) -> encoder outputs (B, Ts, H), final state (B, H), padding mask (B, Ts)."""
        if src.dim() != 2 or src.dtype != torch.long:
            raise ValueError(f"src must be (B, Ts) int64 ids, got {tuple(src.shape)} {src.dtype}")
        pad = src == self.pad_idx  # (B, Ts)
        if src_lengths is None:
            src_lengths = (~pad).sum(1).clamp(min=1)  # (B,)
        else:
            steps = torch.arange(src.shape[1], device=src.device)  # (Ts,)
            pad = steps >= src_lengths.to(src.device)[:, None]  # (B, Ts)
        outputs, h_n = self.encoder(self.src_embed(src), lengths=src_lengths)  # (B, Ts, H)
        return outputs, h_n[-1], pad

    def step(self, y_prev: Tensor, state: Tensor, enc_out: Tensor, pad: Tensor,
             enc_state: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
        """One decoder step: y_prev (B,), state (B, H) -> logits (B, V), new state (B, H),
        context (B, H), scores (B, Ts) and attention (B, Ts) (None without attention)."""
        scores = weights = None
        if self.attention is None:
            context = enc_state  # c_t = h_T: a fixed summary
        else:
            ctx, w = self.attention(state.unsqueeze(1), enc_out, enc_out,
                                    key_padding_mask=pad)  # (B, 1, H), (B, 1, Ts)
            context, weights = ctx.squeeze(1), w.squeeze(1)  # (B, H), (B, Ts)
            scores = self.attention.last_scores.squeeze(1)  # (B, Ts)
        state = self.decoder(torch.cat([self.tgt_embed(y_prev), context], dim=-1), state)
        logits = self.out(torch.cat([state, context], dim=-1))  # (B, V)
        return logits, state, context, scores, weights

    def _keep_trace(self, enc_out: Tensor, enc_state: Tensor, steps: list[tuple]) -> None:
        stack = lambda i: torch.stack([s[i] for s in steps], 1).detach()  # noqa: E731
        has_attention = self.attention is not None
        self.trace = Seq2SeqTrace(
            encoder_outputs=enc_out.detach(), encoder_state=enc_state.detach(),
            decoder_states=stack(1), scores=stack(3) if has_attention else None,
            attention=stack(4) if has_attention else None, context=stack(2))

    # ------------------------------------------------------------------ training and decoding

    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None) -> Tensor:
        """Teacher forcing: the decoder reads the true previous token ``tgt_in[:, t]``."""
        if tgt_in.dim() != 2 or tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"tgt_in must be (B={src.shape[0]}, Tt) ids, got "
                             f"{tuple(tgt_in.shape)}")
        enc_out, enc_state, pad = self.encode(src, src_lengths)
        state, steps = enc_state, []
        for t in range(tgt_in.shape[1]):
            logits, state, context, scores, weights = self.step(tgt_in[:, t], state, enc_out,
                                                                pad, enc_state)
            steps.append((logits, state, context, scores, weights))
        self._keep_trace(enc_out, enc_state, steps)
        return torch.stack([s[0] for s in steps], dim=1)  # (B, Tt, V)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, max_len: int, bos_idx: int, eos_idx: int,
                      src_lengths: Tensor | None = None) -> Tensor:
        """Feed back the most likely token until EOS or ``max_len``: ids (B, <= max_len).

        Tokens after a sequence's EOS are ``pad_idx``; ``trace`` holds the decoding run.
        """
        enc_out, enc_state, pad = self.encode(src, src_lengths)
        B = src.shape[0]
        y = torch.full((B,), bos_idx, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        state, steps, out = enc_state, [], []
        for _ in range(max_len):
            logits, state, context, scores, weights = self.step(y, state, enc_out, pad,
                                                                enc_state)
            steps.append((logits, state, context, scores, weights))
            y = logits.argmax(-1).masked_fill(done, self.pad_idx)  # (B,)
            out.append(y)
            done |= y == eos_idx
            if done.all():
                break
        self._keep_trace(enc_out, enc_state, steps)
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def beam_search(self, src: Tensor, max_len: int, bos_idx: int, eos_idx: int,
                    beam_size: int = 4, src_lengths: Tensor | None = None) -> list[list[int]]:
        """Keep the ``beam_size`` most likely prefixes (sum of log-probabilities) per source.

        Each step expands every live prefix and ranks the ``2 K`` best candidates; an EOS
        among the first ``K`` finishes a hypothesis (an EOS ranked lower is dropped, as in
        fairseq), the best ``K`` others stay live. The search stops when the best finished
        score is at least the best live one (log-probabilities only fall) or after
        ``max_len`` steps. ``beam_size=1`` is exactly greedy decoding.

        Returns, for each source, the most likely finished hypothesis (ending in EOS) or the
        best unfinished one after ``max_len`` steps, without BOS.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        lengths = None if src_lengths is None else src_lengths.tolist()
        return [self._beam_one(src[i : i + 1], max_len, bos_idx, eos_idx, beam_size,
                               None if lengths is None else torch.tensor([lengths[i]]))
                for i in range(src.shape[0])]

    def _beam_one(self, src: Tensor, max_len: int, bos_idx: int, eos_idx: int, K: int,
                  src_lengths: Tensor | None) -> list[int]:
        enc_out, enc_state, pad = self.encode(src, src_lengths)  # batch of one
        beams: list[tuple[float, list[int]]] = [(0.0, [])]
        states = enc_state  # (k, H)
        finished: list[tuple[float, list[int]]] = []
        for _ in range(max_len):
            k = len(beams)
            y = torch.tensor([b[1][-1] if b[1] else bos_idx for b in beams], device=src.device)
            logits, new_states, *_ = self.step(y, states, enc_out.expand(k, -1, -1),
                                               pad.expand(k, -1), enc_state.expand(k, -1))
            logp = torch.log_softmax(logits, dim=-1)  # (k, V)
            total = logp + torch.tensor([b[0] for b in beams], device=logp.device)[:, None]
            top = total.flatten().topk(min(2 * K, total.numel()))
            alive, keep = [], []
            for rank, (score, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist(),
                                                     strict=True)):
                row, tok = divmod(flat, logp.shape[1])
                hyp = (score, beams[row][1] + [tok])
                if tok == eos_idx:
                    if rank < K:  # only an EOS among the K best candidates ends a hypothesis
                        finished.append(hyp)
                elif len(alive) < K:
                    alive.append(hyp)
                    keep.append(row)
            # log-probs only fall as a prefix grows: once the best finished hypothesis scores
            # at least the best live prefix, no continuation can beat it
            best_done = max((h[0] for h in finished), default=-math.inf)
            if not alive or best_done >= alive[0][0]:
                break
            beams, states = alive, new_states[keep]
        best = max(finished or beams, key=lambda h: h[0])
        return best[1]

    def sequence_log_prob(self, src: Tensor, tgt: Tensor) -> Tensor:
        """log p(tgt[:, 1:] | src) under teacher forcing, summed over non-pad tokens: (B,)."""
        logp = torch.log_softmax(self(src, tgt[:, :-1]), dim=-1)  # (B, Tt-1, V)
        tok = logp.gather(-1, tgt[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, Tt-1)
        return (tok * (tgt[:, 1:] != self.pad_idx)).sum(1)
