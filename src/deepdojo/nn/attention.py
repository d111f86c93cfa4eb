"""The attention family: additive, (scaled) dot-product, general and multi-head attention.

Every module returns ``(context, weights)``: ``weights`` is the attention matrix (rows sum to 1
over the keys) and ``context = weights @ value``. The elements of an attention mechanism are
kept on the module after each call for inspection (detached): ``last_scores`` (before the
softmax, masks applied) and ``last_weights``. With ``need_weights=False`` the dot-product
family runs the fused ``F.scaled_dot_product_attention`` and returns ``weights=None``.

Masks follow ``torch.nn.MultiheadAttention``: ``key_padding_mask`` (B, Tk) with True at padded
keys; ``attn_mask`` (Tq, Tk) (or (B, Tq, Tk); (B * heads, Tq, Tk) for multi-head) with True
where attention is not allowed, or a float mask added to the scores; ``is_causal=True`` hides
future keys (key j > query i).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "AdditiveAttention",
    "DotProductAttention",
    "GeneralAttention",
    "MultiHeadAttention",
    "attention_mask",
]


def attention_mask(
    Tq: int,
    Tk: int,
    *,
    key_padding_mask: Tensor | None = None,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor | None:
    """Merge the masks into one additive float mask (0 or -inf), or None when there is none.

    Returns a tensor broadcastable to the scores: (Tq, Tk), or (B, 1, Tk) / (B, Tq, Tk) when a
    per-batch mask is given (callers add a head axis themselves).
    """
    mask = None
    if is_causal:
        future = torch.ones(Tq, Tk, dtype=torch.bool, device=device).triu(1)  # (Tq, Tk)
        mask = torch.zeros(Tq, Tk, dtype=dtype, device=device).masked_fill(future, -math.inf)
    if attn_mask is not None:
        if attn_mask.shape[-2:] != (Tq, Tk):
            raise ValueError(f"attn_mask must end in ({Tq}, {Tk}), got {tuple(attn_mask.shape)}")
        m = _to_additive(attn_mask, dtype)
        mask = m if mask is None else mask + m
    if key_padding_mask is not None:
        if key_padding_mask.dim() != 2 or key_padding_mask.shape[1] != Tk:
            raise ValueError(
                f"key_padding_mask must have shape (B, {Tk}), got {tuple(key_padding_mask.shape)}"
            )
        m = _to_additive(key_padding_mask, dtype).unsqueeze(1)  # (B, 1, Tk)
        mask = m if mask is None else mask + m
    return mask


def _to_additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, -math.inf)
    if not mask.is_floating_point():
        raise TypeError(f"masks must be bool or float, got {mask.dtype}")
    return mask.to(dtype)


def _check_qkv(query: Tensor, key: Tensor, value: Tensor) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.dim() != 3:
            raise ValueError(f"{name} must be 3-D (B, T, features), got {tuple(t.shape)}")
    if not (query.shape[0] == key.shape[0] == value.shape[0]):
        raise ValueError("query, key and value must share the batch size B")
    if key.shape[1] != value.shape[1]:
        raise ValueError(f"key and value must have the same length, got {key.shape[1]} and "
                         f"{value.shape[1]}")


class _ScoredAttention(nn.Module):
    """Shared forward: scores -> mask -> softmax -> weighted sum of values."""

    def __init__(self) -> None:
        super().__init__()
        self.last_scores: Tensor | None = None
        self.last_weights: Tensor | None = None

    def score(self, query: Tensor, key: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fused(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None) -> Tensor:
        """Context without materialising weights; default falls back to the explicit path."""
        scores = self.score(query, key) + (0 if mask is None else mask)
        return torch.softmax(scores, dim=-1) @ value

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """query (B, Tq, Dq), key (B, Tk, Dk), value (B, Tk, Dv) (default: key).

        Returns context (B, Tq, Dv) and weights (B, Tq, Tk) (None if not ``need_weights``).
        """
        value = key if value is None else value
        _check_qkv(query, key, value)
        mask = attention_mask(query.shape[1], key.shape[1], key_padding_mask=key_padding_mask,
                              attn_mask=attn_mask, is_causal=is_causal, dtype=query.dtype,
                              device=query.device)
        if not need_weights:
            return self._fused(query, key, value, mask), None
        scores = self.score(query, key)  # (B, Tq, Tk)  e = score(s, h)
        if mask is not None:
            scores = scores + mask
        weights = torch.softmax(scores, dim=-1)  # (B, Tq, Tk)  alpha = softmax(e)
        context = weights @ value  # (B, Tq, Dv)  c = sum_j alpha_j v_j
        self.last_scores, self.last_weights = scores.detach(), weights.detach()
        return context, weights


class AdditiveAttention(_ScoredAttention):
    r"""Additive (Bahdanau) attention: :math:`e_{ij} = v^\top \tanh(W_q q_i + W_k k_j)`.

    Parameters
    ----------
    query_size, key_size : int
        Features of queries (Dq) and keys (Dk).
    hidden_size : int
        Width A of the scoring MLP.

    Attributes
    ----------
    query_proj : Linear (Dq -> A, no bias); key_proj : Linear (Dk -> A); v : Linear (A -> 1)

    Memory is O(B * Tq * Tk * A); there is no fused kernel (``need_weights=False`` still runs
    the explicit path and only drops the weights).
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_size, hidden_size, bias=False)
        self.key_proj = nn.Linear(key_size, hidden_size)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def score(self, query: Tensor, key: Tensor) -> Tensor:
        q = self.query_proj(query).unsqueeze(2)  # (B, Tq, 1, A)
        k = self.key_proj(key).unsqueeze(1)  # (B, 1, Tk, A)
        return self.v(torch.tanh(q + k)).squeeze(-1)  # (B, Tq, Tk)


class DotProductAttention(_ScoredAttention):
    r"""Dot-product attention: :math:`e_{ij} = q_i^\top k_j / \sqrt{d}` (``scaled``, Vaswani)
    or :math:`q_i^\top k_j` (Luong "dot"). Needs Dq == Dk = d. No parameters."""

    def __init__(self, scaled: bool = True) -> None:
        super().__init__()
        self.scaled = scaled

    def _scale(self, d: int) -> float:
        return 1.0 / math.sqrt(d) if self.scaled else 1.0

    def score(self, query: Tensor, key: Tensor) -> Tensor:
        if query.shape[-1] != key.shape[-1]:
            raise ValueError(f"query and key need the same features, got {query.shape[-1]} "
                             f"and {key.shape[-1]}")
        return query @ key.transpose(1, 2) * self._scale(query.shape[-1])  # (B, Tq, Tk)

    def _fused(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None) -> Tensor:
        if query.shape[-1] != key.shape[-1]:
            raise ValueError(f"query and key need the same features, got {query.shape[-1]} "
                             f"and {key.shape[-1]}")
        # SDPA on 3-D inputs takes the math kernel on CPU, which holds the (B, Tq, Tk) matrix;
        # a head axis of 1, (B, 1, T, d), lets it pick the blocked (flash) kernel instead.
        if mask is not None and mask.dim() == 3:  # (B, 1|Tq, Tk) -> (B, 1, 1|Tq, Tk)
            mask = mask.unsqueeze(1)
        out = F.scaled_dot_product_attention(query.unsqueeze(1), key.unsqueeze(1),
                                             value.unsqueeze(1), attn_mask=mask,
                                             scale=self._scale(query.shape[-1]))
        return out.squeeze(1)  # (B, Tq, Dv)


class GeneralAttention(DotProductAttention):
    r"""General (Luong "general", multiplicative) attention: :math:`e_{ij} = q_i^\top W k_j`.

    Attributes
    ----------
    weight : Linear (Dk -> Dq, no bias), so that ``W k`` lives in the query space.
    """

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__(scaled=False)
        self.weight = nn.Linear(key_size, query_size, bias=False)

    def score(self, query: Tensor, key: Tensor) -> Tensor:
        return super().score(query, self.weight(key))  # (B, Tq, Tk)

    def _fused(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None) -> Tensor:
        return super()._fused(query, self.weight(key), value, mask)


class MultiHeadAttention(nn.Module):
    r"""Multi-head scaled dot-product attention, weight-compatible with ``nn.MultiheadAttention``.

    .. math::
        \mathrm{head}_h = \mathrm{softmax}\!\left(\frac{Q W^Q_h (K W^K_h)^\top}{\sqrt{d_h}}
        + M\right) V W^V_h, \qquad
        \mathrm{MHA}(Q, K, V) = [\mathrm{head}_1, \dots, \mathrm{head}_H]\, W^O

    with ``d_h = embed_dim / num_heads`` and M the merged additive mask.

    Parameters
    ----------
    embed_dim, num_heads, dropout, bias, batch_first
        As in ``torch.nn.MultiheadAttention`` (``batch_first`` defaults to True here).

    Attributes
    ----------
    in_proj_weight : (3E, E), rows ``[W^Q; W^K; W^V]``; in_proj_bias : (3E,)
    out_proj : Linear (E -> E)
    keep_weights : bool
        If True, every call computes and keeps the per-head weights even when they are not
        returned (for attention maps inside a Transformer).
    last_scores, last_weights : Tensor or None
        Per-head scores and weights of the last explicit call, each (B, H, Tq, Tk), detached.
        Returned weights are taken before dropout.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout!r}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.keep_weights = False
        self.last_scores: Tensor | None = None
        self.last_weights: Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform input projection and zero biases, as torch does."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor, index: int) -> Tensor:
        """Project (B, T, E) with the ``index``-th block of in_proj and split heads."""
        E = self.embed_dim
        w = self.in_proj_weight[index * E : (index + 1) * E]  # (E, E)
        b = None if self.in_proj_bias is None else self.in_proj_bias[index * E : (index + 1) * E]
        B, T, _ = x.shape
        return F.linear(x, w, b).view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

    def _mask(self, B: int, Tq: int, Tk: int, key_padding_mask: Tensor | None,
              attn_mask: Tensor | None, is_causal: bool, like: Tensor) -> Tensor | None:
        if attn_mask is not None and attn_mask.dim() == 3:
            if attn_mask.shape[0] != B * self.num_heads:
                raise ValueError(f"3-D attn_mask must have shape ({B * self.num_heads}, {Tq}, "
                                 f"{Tk}), got {tuple(attn_mask.shape)}")
            attn_mask = attn_mask.view(B, self.num_heads, Tq, Tk)
        mask = attention_mask(Tq, Tk, attn_mask=attn_mask, is_causal=is_causal,
                              dtype=like.dtype, device=like.device)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (B, Tk):
                raise ValueError(f"key_padding_mask must have shape ({B}, {Tk}), got "
                                 f"{tuple(key_padding_mask.shape)}")
            pad = _to_additive(key_padding_mask, like.dtype)[:, None, None, :]  # (B, 1, 1, Tk)
            mask = pad if mask is None else mask + pad
        return mask

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """query (B, Tq, E), key/value (B, Tk, E) (sequence-first if not ``batch_first``).

        Returns the output (B, Tq, E) and the weights: (B, Tq, Tk) averaged over heads, or
        (B, H, Tq, Tk) with ``average_attn_weights=False``; None if not ``need_weights``.

        A query row whose keys are *all* masked has no defined softmax: the explicit path
        returns NaN for it (as ``torch.nn.MultiheadAttention`` does) while the fused SDPA path
        may return finite values. Make sure every query sees at least one key.
        """
        self_attention = query is key and key is value
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        _check_qkv(query, key, value)
        dims = (query.shape[-1], key.shape[-1], value.shape[-1])
        if any(d != self.embed_dim for d in dims):
            raise ValueError(f"query/key/value must have {self.embed_dim} features, got "
                             f"{', '.join(map(str, dims))}")
        B, Tq, E = query.shape
        Tk = key.shape[1]
        if self_attention:  # one (3E, E) projection instead of three (E, E) ones
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3E)
            q, k, v = (t.view(B, Tq, self.num_heads, self.head_dim).transpose(1, 2)
                       for t in qkv.chunk(3, dim=-1))  # 3 x (B, H, T, d)
        else:
            q, k, v = self._heads(query, 0), self._heads(key, 1), self._heads(value, 2)
        explicit = need_weights or self.keep_weights
        # A purely causal mask goes to the fused kernel as is_causal=True (same top-left
        # alignment as attention_mask), so it can take its fast causal path.
        causal_only = is_causal and attn_mask is None and key_padding_mask is None
        fused_causal = causal_only and not explicit
        mask = None if fused_causal else self._mask(
            B, Tq, Tk, key_padding_mask, attn_mask, is_causal, q
        )
        p = self.dropout if self.training else 0.0
        weights = None
        if explicit:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, Tq, Tk)
            if mask is not None:
                scores = scores + mask
            weights = torch.softmax(scores, dim=-1)  # (B, H, Tq, Tk)
            context = F.dropout(weights, p) @ v  # (B, H, Tq, d)
            self.last_scores, self.last_weights = scores.detach(), weights.detach()
        else:
            context = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=p, is_causal=fused_causal
            )  # (B, H, Tq, d)
        out = self.out_proj(context.transpose(1, 2).reshape(B, Tq, E))  # (B, Tq, E)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights or weights is None:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of ``module`` (which must have equal q/k/v dims and no bias_k/bias_v)."""
        if not module._qkv_same_embed_dim or module.bias_k is not None:
            raise ValueError("only MultiheadAttention with kdim == vdim == embed_dim and no "
                             "add_bias_kv can be copied")
        w = module.in_proj_weight
        m = cls(module.embed_dim, module.num_heads, module.dropout,
                module.in_proj_bias is not None, module.batch_first)
        m.to(device=w.device, dtype=w.dtype).load_state_dict(module.state_dict())
        return m

    def to_torch(self) -> nn.MultiheadAttention:
        """A ``torch.nn.MultiheadAttention`` with a copy of these weights."""
        w = self.in_proj_weight
        m = nn.MultiheadAttention(self.embed_dim, self.num_heads, self.dropout,
                                  bias=self.in_proj_bias is not None,
                                  batch_first=self.batch_first)
        m.to(device=w.device, dtype=w.dtype).load_state_dict(self.state_dict())
        return m
