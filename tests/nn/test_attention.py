"""Attention family: parity of MultiHeadAttention with torch, masks, and fused vs explicit paths."""

import math

import pytest
import torch
from torch import nn

from deepdojo.nn.attention import (
    AdditiveAttention,
    DotProductAttention,
    GeneralAttention,
    MultiHeadAttention,
)

D = torch.float64


def _qkv(B=2, Tq=3, Tk=5, E=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, Tq, E, generator=g, dtype=D)
    k = torch.randn(B, Tk, E, generator=g, dtype=D)
    return q, k, torch.randn(B, Tk, E, generator=g, dtype=D)


def _pair(bias=True, batch_first=True):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(8, 2, bias=bias, batch_first=batch_first).to(D)
    nn.init.normal_(ref.out_proj.bias) if bias else None
    return ref, MultiHeadAttention.from_torch(ref)


_G = torch.Generator().manual_seed(3)
MASKS = {
    "none": {},
    "padding": {"key_padding_mask": torch.tensor([[False] * 5, [False, False, False, True, True]])},
    "attn_bool": {"attn_mask": torch.tensor([[False, True, False, False, True]] * 3)},
    "attn_float": {"attn_mask": torch.linspace(-1, 1, 15, dtype=D).view(3, 5)},
    "per_head": {"attn_mask": torch.rand(4, 3, 5, generator=_G).gt(0.7)},
}


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_torch_outputs_weights_and_grads(mask, average, bias):
    ref, ours = _pair(bias=bias)
    kw = dict(MASKS[mask])
    if mask == "per_head":  # never a fully masked row
        kw["attn_mask"] = kw["attn_mask"].clone()
        kw["attn_mask"][..., 0] = False
    inputs = [[t.clone().requires_grad_(True) for t in _qkv()] for _ in range(2)]
    out_r, w_r = ref(*inputs[0], need_weights=True, average_attn_weights=average, **kw)
    out_o, w_o = ours(*inputs[1], need_weights=True, average_attn_weights=average, **kw)
    torch.testing.assert_close(out_o, out_r)
    torch.testing.assert_close(w_o, w_r)
    g = torch.randn_like(out_r)
    (out_r * g).sum().backward()
    (out_o * g).sum().backward()
    for a, b in zip(inputs[1], inputs[0], strict=True):
        torch.testing.assert_close(a.grad, b.grad)
    for (n, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=n)


def test_mha_causal_matches_torch_with_explicit_mask():
    ref, ours = _pair()
    q = _qkv(Tq=5)[0]
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    out_r, w_r = ref(q, q, q, attn_mask=causal)
    out_o, w_o = ours(q, q, q, is_causal=True)
    torch.testing.assert_close(out_o, out_r)
    torch.testing.assert_close(w_o, w_r)
    assert torch.all(w_o.triu(1) == 0)


def test_mha_sequence_first_matches_torch():
    ref, ours = _pair(batch_first=False)
    q, k, v = (t.transpose(0, 1) for t in _qkv())
    torch.testing.assert_close(ours(q, k, v)[0], ref(q, k, v)[0])


@pytest.mark.parametrize("mask", ["none", "padding", "attn_float"])
def test_mha_fused_path_equals_explicit(mask):
    _, ours = _pair()
    q, k, v = _qkv()
    out_e, w = ours(q, k, v, **MASKS[mask])
    out_f, none = ours(q, k, v, need_weights=False, **MASKS[mask])
    assert none is None and w is not None
    torch.testing.assert_close(out_f, out_e)


def test_mha_keeps_per_head_weights_when_asked():
    _, ours = _pair()
    q, k, v = _qkv()
    ours.keep_weights = True
    _, w = ours(q, k, v, need_weights=False)
    assert w is None
    assert ours.last_weights.shape == (2, 2, 3, 5)
    torch.testing.assert_close(ours.last_weights.sum(-1), torch.ones(2, 2, 3, dtype=D))
    assert isinstance(ours.to_torch(), nn.MultiheadAttention)


def test_mha_bad_arguments():
    with pytest.raises(ValueError, match="multiple of"):
        MultiHeadAttention(10, 3)
    _, ours = _pair()
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="features"):
        ours(q[..., :4], k, v)
    with pytest.raises(ValueError, match="features"):  # value's width too (was a matmul error)
        ours(q, k, v[..., :4])
    with pytest.raises(ValueError, match="key_padding_mask"):
        ours(q, k, v, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="3-D"):
        ours(q[0], k, v)


def _naive(scores, v, mask=None):
    if mask is not None:
        scores = scores.masked_fill(mask, -math.inf)
    w = torch.exp(scores - scores.amax(-1, keepdim=True))
    w = w / w.sum(-1, keepdim=True)
    return w @ v, w


def test_dot_product_scaled_and_unscaled_against_formula():
    q, k, v = _qkv()
    for scaled in (True, False):
        ctx, w = DotProductAttention(scaled=scaled)(q, k, v)
        s = q @ k.transpose(1, 2) / (math.sqrt(8) if scaled else 1.0)
        ctx_ref, w_ref = _naive(s, v)
        torch.testing.assert_close(ctx, ctx_ref)
        torch.testing.assert_close(w, w_ref)


def test_general_and_additive_against_formula():
    q, k, v = _qkv()
    torch.manual_seed(0)
    gen = GeneralAttention(8, 8).double()
    ctx, w = gen(q, k, v)
    torch.testing.assert_close(ctx, _naive(q @ gen.weight.weight @ k.transpose(1, 2), v)[0])
    add = AdditiveAttention(8, 8, 6).double()
    ctx, w = add(q, k, v)
    e = torch.einsum(
        "a,bija->bij", add.v.weight[0],
        torch.tanh(add.query_proj(q)[:, :, None] + add.key_proj(k)[:, None]),
    )
    torch.testing.assert_close(ctx, _naive(e, v)[0])
    torch.testing.assert_close(add.last_weights, w.detach())


@pytest.mark.parametrize("cls", ["dot", "general", "additive"])
def test_masks_zero_the_weights_and_fused_matches(cls):
    torch.manual_seed(0)
    att = {"dot": DotProductAttention(), "general": GeneralAttention(8, 8),
           "additive": AdditiveAttention(8, 8, 4)}[cls].double()
    q, k, v = _qkv(Tq=5, Tk=5)
    pad = MASKS["padding"]["key_padding_mask"]
    ctx, w = att(q, k, v, key_padding_mask=pad, is_causal=True)
    assert torch.all(w[1, :, 3:] == 0) and torch.all(w.triu(1) == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 5, dtype=D))
    fused, none = att(q, k, v, key_padding_mask=pad, is_causal=True, need_weights=False)
    assert none is None
    torch.testing.assert_close(fused, ctx)


def test_value_defaults_to_key_and_shape_errors():
    q, k, _ = _qkv()
    ctx, w = DotProductAttention()(q, k)
    assert ctx.shape == (2, 3, 8) and w.shape == (2, 3, 5)
    with pytest.raises(ValueError, match="same length"):
        DotProductAttention()(q, k, k[:, :2])
    with pytest.raises(ValueError, match="same features"):
        DotProductAttention()(q, k[..., :3])


@pytest.mark.parametrize("Tq", [5, 7])
def test_mha_fused_causal_only_matches_explicit(Tq):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).double()
    q = torch.randn(2, Tq, 16, dtype=torch.float64)
    kv = torch.randn(2, 7, 16, dtype=torch.float64)
    explicit, _ = mha(q, kv, kv, is_causal=True, need_weights=True)
    fused, none = mha(q, kv, kv, is_causal=True, need_weights=False)
    assert none is None
    torch.testing.assert_close(fused, explicit, atol=1e-10, rtol=0)


@pytest.mark.parametrize("mask", ["none", "padding", "full"])
@pytest.mark.parametrize("cls", ["dot", "general"])
def test_dot_fused_matches_explicit_outputs_and_grads(cls, mask):
    torch.manual_seed(1)
    att = {"dot": DotProductAttention(), "general": GeneralAttention(8, 8)}[cls].double()
    q, k, v = (t.clone().requires_grad_() for t in _qkv(Tq=4, Tk=6))
    kw = {"none": {}, "padding": {"key_padding_mask": torch.tensor([[0] * 6, [0] * 4 + [1] * 2],
                                                                   dtype=torch.bool)},
          "full": {"attn_mask": torch.randn(2, 4, 6, dtype=D)}}[mask]
    outs, grads = [], []
    for need in (True, False):
        out, _ = att(q, k, v, need_weights=need, **kw)
        g = torch.autograd.grad(out.pow(2).sum(), (q, k, v, *att.parameters()))
        outs.append(out)
        grads.append(g)
    assert outs[1].shape == outs[0].shape == (2, 4, 8)
    torch.testing.assert_close(outs[1], outs[0])
    for a, b in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(a, b)


def test_dot_fused_does_not_hold_the_score_matrix():
    """The fused path on (B, T, d) inputs must not allocate the (T, T) matrix (CPU flash kernel)."""
    import subprocess
    import sys

    probe = (
        "import torch\n"
        "from deepdojo.nn import DotProductAttention\n"
        "torch.set_num_threads(1)\n"
        "def hwm(k):\n"
        "    return next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith(k))\n"
        "x = torch.randn(1, 2048, 32)\n"
        "att = DotProductAttention()\n"
        "with torch.no_grad():\n"
        "    att(x[:, :8], x[:, :8], need_weights=False)\n"
        "    base = hwm('VmRSS:'); open('/proc/self/clear_refs', 'w').write('5')\n"
        "    out, _ = att(x, x, need_weights=False)\n"
        "    print(hwm('VmHWM:') - base)\n"
    )
    env = {"OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "65536", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    extra_kib = int(done.stdout.split()[-1])
    assert extra_kib < 2048 * 2048 * 4 // 1024 // 4, extra_kib  # well under a quarter of L*L fp32
