"""Parity of deepdojo.nn.GRU / GRUCell with torch.nn.GRU / GRUCell: outputs and every gradient."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepdojo.nn.gru import GRU, GRUCell

TOL = {torch.float64: 1e-6, torch.float32: 1e-5}


def _pair(dtype, impl="explicit", **kw):
    torch.manual_seed(0)
    ref = nn.GRU(3, 5, **kw).to(dtype)
    return ref, GRU.from_torch(ref, impl=impl)


def _compare(ref, ours, x, h0, lengths, dtype):
    """Run both on the same input; compare outputs, h_n and all gradients."""
    tol = TOL[dtype]
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    hs = [None if h0 is None else h0.clone().requires_grad_(True) for _ in range(2)]
    bf = ref.batch_first
    if lengths is None:
        out_r, hn_r = ref(xs[0], hs[0])
        out_o, hn_o = ours(xs[1], hs[1])
    else:
        packed = pack_padded_sequence(xs[0], lengths, batch_first=bf, enforce_sorted=False)
        out_r, hn_r = ref(packed, hs[0])
        out_r, _ = pad_packed_sequence(out_r, batch_first=bf, total_length=x.shape[1 if bf else 0])
        out_o, hn_o = ours(xs[1], hs[1], lengths=lengths)
    torch.testing.assert_close(out_o, out_r, atol=tol, rtol=tol)
    torch.testing.assert_close(hn_o, hn_r, atol=tol, rtol=tol)
    g_out = torch.randn_like(out_r)
    g_h = torch.randn_like(hn_r)
    ((out_r * g_out).sum() + (hn_r * g_h).sum()).backward()
    ((out_o * g_out).sum() + (hn_o * g_h).sum()).backward()
    torch.testing.assert_close(xs[1].grad, xs[0].grad, atol=tol, rtol=tol)
    if h0 is not None:
        torch.testing.assert_close(hs[1].grad, hs[0].grad, atol=tol, rtol=tol)
    pr = dict(ref.named_parameters())
    po = dict(ours.named_parameters())
    assert pr.keys() == po.keys()
    for name in pr:
        torch.testing.assert_close(po[name].grad, pr[name].grad, atol=tol, rtol=tol, msg=name)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("variable", [False, True])
def test_explicit_matches_torch(dtype, num_layers, bidirectional, batch_first, with_h0, variable):
    ref, ours = _pair(dtype, num_layers=num_layers, bidirectional=bidirectional,
                      batch_first=batch_first)
    B, T = 4, 6
    g = torch.Generator().manual_seed(1)
    x = torch.randn((B, T, 3) if batch_first else (T, B, 3), generator=g, dtype=dtype)
    D = 2 if bidirectional else 1
    h0 = torch.randn(num_layers * D, B, 5, generator=g, dtype=dtype) if with_h0 else None
    lengths = torch.tensor([6, 2, 4, 1]) if variable else None
    _compare(ref, ours, x, h0, lengths, dtype)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("variable", [False, True])
def test_fused_matches_torch(bidirectional, variable):
    dtype = torch.float64
    ref, ours = _pair(dtype, impl="fused", num_layers=2, bidirectional=bidirectional,
                      batch_first=True)
    x = torch.randn(3, 5, 3, dtype=dtype)
    h0 = torch.randn(2 * (2 if bidirectional else 1), 3, 5, dtype=dtype)
    _compare(ref, ours, x, h0, torch.tensor([2, 5, 3]) if variable else None, dtype)


@pytest.mark.parametrize("impl", ["explicit", "fused"])
def test_packed_sequence_in_packed_out(impl):
    ref, ours = _pair(torch.float64, impl=impl, num_layers=2, bidirectional=True,
                      batch_first=True)
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([3, 5, 1, 3]), batch_first=True,
                                  enforce_sorted=False)
    out_r, hn_r = ref(packed)
    out_o, hn_o = ours(packed)
    assert isinstance(out_o, type(out_r))
    torch.testing.assert_close(out_o.data, out_r.data)
    assert torch.equal(out_o.batch_sizes, out_r.batch_sizes)
    torch.testing.assert_close(hn_o, hn_r)


def test_unbatched_input_matches_torch():
    ref, ours = _pair(torch.float64, num_layers=2)
    x = torch.randn(7, 3, dtype=torch.float64)
    out_r, hn_r = ref(x)
    out_o, hn_o = ours(x)
    torch.testing.assert_close(out_o, out_r)
    torch.testing.assert_close(hn_o, hn_r)


def test_round_trip_to_torch_keeps_weights():
    ours = GRU(3, 4, num_layers=2, bidirectional=True)
    back = GRU.from_torch(ours.to_torch())
    for (n1, p1), (n2, p2) in zip(ours.named_parameters(), back.named_parameters(), strict=True):
        assert n1 == n2 and torch.equal(p1, p2)
    assert back.batch_first is True


def test_record_gates_shapes_and_equations():
    torch.manual_seed(0)
    gru = GRU(3, 4, num_layers=2, bidirectional=True, record_gates=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, h_n = gru(x)
    g = gru.gates
    assert set(g) == {"z", "r", "h_tilde", "h"}
    assert all(v.shape == (4, 2, 5, 4) for v in g.values())
    assert ((g["z"] > 0) & (g["z"] < 1)).all() and ((g["r"] > 0) & (g["r"] < 1)).all()
    # forward direction of the top layer: recorded h is the output, and
    # h_t = (1 - z_t) h_tilde_t + z_t h_{t-1} holds with the recorded values
    torch.testing.assert_close(g["h"][2], out[..., :4])
    h_prev = torch.cat([torch.zeros(2, 1, 4, dtype=torch.float64), g["h"][2, :, :-1]], dim=1)
    torch.testing.assert_close(g["h"][2], (1 - g["z"][2]) * g["h_tilde"][2] + g["z"][2] * h_prev)
    torch.testing.assert_close(h_n[3], out[:, 0, 4:])


def test_record_gates_with_fused_is_an_error():
    with pytest.raises(ValueError, match="record_gates"):
        GRU(3, 4, impl="fused", record_gates=True)
    gru = GRU(3, 4, impl="fused")
    gru.record_gates = True
    with pytest.raises(ValueError, match="record_gates"):
        gru(torch.randn(1, 2, 3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": torch.randn(2, 3, 4, 3)}, "3-D"),
        ({"x": torch.randn(2, 3, 7)}, "input_size"),
        ({"x": torch.randn(2, 3, 3), "hx": torch.randn(2, 2, 4)}, "hx"),
        ({"x": torch.randn(2, 3, 3), "lengths": torch.tensor([4, 1])}, "lengths"),
        ({"x": torch.randn(2, 3, 3), "lengths": torch.tensor([3])}, "lengths"),
    ],
)
def test_bad_inputs_give_clear_errors(kwargs, match):
    gru = GRU(3, 4)
    with pytest.raises(ValueError, match=match):
        gru(kwargs["x"], kwargs.get("hx"), lengths=kwargs.get("lengths"))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden_size"):
        GRU(3, 0)
    with pytest.raises(ValueError, match="impl"):
        GRU(3, 4, impl="cudnn")
    with pytest.raises(ValueError, match="dropout"):
        GRU(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match="floating"):
        GRU(3, 4)(torch.ones(1, 2, 3, dtype=torch.long))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cell_matches_torch_cell(dtype):
    torch.manual_seed(0)
    ref = nn.GRUCell(3, 5).to(dtype)
    ours = GRUCell.from_torch(ref)
    x = torch.randn(4, 3, dtype=dtype, requires_grad=True)
    h = torch.randn(4, 5, dtype=dtype, requires_grad=True)
    out_r = ref(x, h)
    gx_r, gh_r = torch.autograd.grad(out_r.square().sum(), (x, h))
    out_o = ours(x, h)
    gx_o, gh_o = torch.autograd.grad(out_o.square().sum(), (x, h))
    tol = TOL[dtype]
    torch.testing.assert_close(out_o, out_r, atol=tol, rtol=tol)
    torch.testing.assert_close(gx_o, gx_r, atol=tol, rtol=tol)
    torch.testing.assert_close(gh_o, gh_r, atol=tol, rtol=tol)
    assert set(ours.last_gates) == {"z", "r", "h_tilde", "h"}
    assert isinstance(ours.to_torch(), nn.GRUCell)


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    gru = GRU(3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(2, 5, 3)
    gru.eval()
    a, _ = gru(x)
    b, _ = gru(x)
    assert torch.equal(a, b)
    gru.train()
    c, _ = gru(x)
    assert not torch.allclose(a, c)
