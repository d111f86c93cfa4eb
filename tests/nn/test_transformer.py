"""Transformer layers against torch's pre-norm layers; the seq2seq Transformer's contracts."""

import pytest
import torch
from torch import nn

from deepdojo.nn.transformer import (
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)

D = torch.float64


def _grads(module):
    return {n: p.grad for n, p in module.named_parameters()}


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_equals_torch_norm_first(activation):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=activation,
                                     batch_first=True, norm_first=True).to(D)
    ours = TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation=activation).to(D)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 6, 16, dtype=D)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] * 5 + [True]])
    xr, xo = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_r = ref(xr, src_key_padding_mask=pad)
    out_o = ours(xo, src_key_padding_mask=pad)
    keep = ~pad  # torch's fast path may zero padded rows; compare real positions
    torch.testing.assert_close(out_o[keep], out_r[keep])
    (out_r[keep].square().sum()).backward()
    (out_o[keep].square().sum()).backward()
    torch.testing.assert_close(xo.grad, xr.grad)
    gr, go = _grads(ref), _grads(ours)
    assert gr.keys() == go.keys()
    for n in gr:
        torch.testing.assert_close(go[n], gr[n], msg=n)


def test_decoder_layer_equals_torch_norm_first():
    torch.manual_seed(0)
    ref = nn.TransformerDecoderLayer(16, 2, 24, dropout=0.0, batch_first=True,
                                     norm_first=True).to(D)
    ours = TransformerDecoderLayer(16, 2, 24, dropout=0.0).to(D)
    ours.load_state_dict(ref.state_dict())
    tgt, mem = torch.randn(2, 5, 16, dtype=D), torch.randn(2, 7, 16, dtype=D)
    mem_pad = torch.zeros(2, 7, dtype=torch.bool)
    mem_pad[1, 5:] = True
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    out_r = ref(tgt, mem, tgt_mask=causal, memory_key_padding_mask=mem_pad, tgt_is_causal=True)
    out_o = ours(tgt, mem, memory_key_padding_mask=mem_pad, tgt_is_causal=True)
    torch.testing.assert_close(out_o, out_r)


def test_sinusoidal_encoding_values():
    pe = SinusoidalPositionalEncoding(6, max_len=10)
    out = pe(torch.zeros(1, 4, 6))
    t, i = 3, 1  # dims 2i, 2i+1
    angle = torch.tensor(t / 10000 ** (2 * i / 6))
    torch.testing.assert_close(out[0, t, 2 * i], torch.sin(angle))
    torch.testing.assert_close(out[0, t, 2 * i + 1], torch.cos(angle))
    with pytest.raises(ValueError, match="max_len"):
        pe(torch.zeros(1, 11, 6))


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_transformer_is_causal_and_ignores_padding(positional):
    torch.manual_seed(0)
    model = Transformer(10, 12, d_model=16, nhead=2, dim_feedforward=32, dropout=0.0,
                        positional=positional).eval()
    src = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 4]])
    tgt = torch.tensor([[1, 5, 6, 7], [1, 8, 9, 10]])
    logits = model(src, tgt)
    assert logits.shape == (2, 4, 12)
    tgt2 = tgt.clone()
    tgt2[:, 3] = 2  # changing the last target token must not change earlier predictions
    torch.testing.assert_close(model(src, tgt2)[:, :3], logits[:, :3])
    src2 = src.clone()
    src2[0, 3:] = 0
    torch.testing.assert_close(model(src2, tgt)[0], logits[0])
    src3 = torch.cat([src, torch.zeros(2, 2, dtype=torch.long)], dim=1)  # extra padding
    torch.testing.assert_close(model(src3, tgt)[0], logits[0], atol=1e-5, rtol=1e-5)


def test_record_attention_and_greedy_decode():
    torch.manual_seed(0)
    model = Transformer(10, 12, d_model=16, nhead=2, num_encoder_layers=1,
                        num_decoder_layers=1, dropout=0.0).eval()
    src = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]])
    plain = model(src, torch.tensor([[1, 2], [1, 3]]))
    model.record_attention = True
    recorded = model(src, torch.tensor([[1, 2], [1, 3]]))
    torch.testing.assert_close(recorded, plain, atol=1e-6, rtol=1e-6)
    maps = model.attention_maps()
    assert set(maps) == {"encoder.0.self", "decoder.0.self", "decoder.0.cross"}
    assert maps["decoder.0.cross"].shape == (2, 2, 2, 4)
    assert torch.all(maps["decoder.0.cross"][0, :, :, 3] == 0)  # padded key gets no weight
    out = model.greedy_decode(src, max_len=5, bos_idx=1, eos_idx=2)
    assert out.shape[0] == 2 and out.shape[1] <= 5


def test_transformer_learns_to_copy():
    torch.manual_seed(0)
    model = Transformer(8, 8, d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                        dim_feedforward=64, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        body = torch.randint(3, 8, (32, 5), generator=g)
        tgt = torch.cat([torch.ones(32, 1, dtype=torch.long), body,
                         torch.full((32, 1), 2)], dim=1)
        loss = nn.functional.cross_entropy(model(body, tgt[:, :-1]).flatten(0, 1),
                                           tgt[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    body = torch.randint(3, 8, (64, 5), generator=g)
    out = model.eval().greedy_decode(body, max_len=6, bos_idx=1, eos_idx=2)
    assert (out[:, :5] == body).all(1).float().mean() > 0.9
