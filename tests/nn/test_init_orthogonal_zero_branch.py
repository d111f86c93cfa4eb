"""deepdojo.nn.init: the orthogonal scheme and zero-branch (identity-start) residual blocks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.models import create
from deepdojo.nn import ResidualBlock
from deepdojo.nn.init import expected_std, initialize, zero_residual_branches
from deepdojo.nn.transformer import TransformerDecoderLayer, TransformerEncoderLayer


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gram_error(w: torch.Tensor, gain: float) -> float:
    """max |W W^T - g^2 I| for a wide matrix, max |W^T W - g^2 I| for a tall one (float64)."""
    w = w.detach().double().reshape(w.shape[0], -1)  # (out, in*k)
    if w.shape[0] > w.shape[1]:
        w = w.T
    gram = w @ w.T  # (short, short)
    return (gram - gain**2 * torch.eye(gram.shape[0], dtype=torch.float64)).abs().max().item()


# ---------------------------------------------------------------- orthogonal


@pytest.mark.parametrize("gain", [None, 1.5, math.sqrt(2)])
@pytest.mark.parametrize("shape", [(200, 300), (300, 200), (256, 256)])
def test_orthogonal_linear_gram_is_gain_squared_identity(shape, gain):
    out_features, in_features = shape
    options = {} if gain is None else {"gain": gain}
    layer = initialize(nn.Linear(in_features, out_features), "orthogonal", generator=gen(1),
                       **options)  # fmt: skip
    assert gram_error(layer.weight, 1.0 if gain is None else gain) < 1e-6
    assert torch.count_nonzero(layer.bias) == 0


def test_orthogonal_conv_is_orthogonal_after_flattening():
    conv = initialize(nn.Conv2d(8, 16, kernel_size=3), "orthogonal", gain=2.0, generator=gen(2))
    assert conv.weight.shape == (16, 8, 3, 3)  # flattened (16, 72): wide, W W^T = 4 I
    assert gram_error(conv.weight, 2.0) < 1e-6


def test_orthogonal_matches_torch_with_the_same_generator():
    ours = initialize(nn.Linear(120, 80), "orthogonal", gain=0.5, generator=gen(3)).weight
    theirs = nn.init.orthogonal_(torch.empty(80, 120), gain=0.5, generator=gen(3))
    torch.testing.assert_close(ours.detach(), theirs, atol=1e-5, rtol=0)
    # torch's float32 QR is less orthogonal than our float64 one, never more
    assert gram_error(ours, 0.5) <= gram_error(theirs, 0.5) + 1e-9


def test_orthogonal_recurrent_weights_one_block_per_gate():
    gru = initialize(nn.GRU(12, 16), "orthogonal", generator=gen(4))
    for block in gru.weight_hh_l0.split(16, dim=0):  # r, z, n: each (16, 16)
        assert gram_error(block, 1.0) < 1e-6
    for block in gru.weight_ih_l0.split(16, dim=0):  # (16, 12): tall, W^T W = I
        assert gram_error(block, 1.0) < 1e-6
    stacked = gru.weight_hh_l0.detach().double()  # (48, 16): the 3 blocks are drawn apart
    assert gram_error(stacked, 1.0) > 0.1


def test_orthogonal_rms_matches_expected_std():
    for out_f, in_f in [(200, 300), (300, 200)]:
        w = initialize(nn.Linear(in_f, out_f), "orthogonal", gain=1.3, generator=gen(5)).weight
        rms = w.detach().double().pow(2).mean().sqrt().item()
        assert rms == pytest.approx(expected_std("orthogonal", in_f, out_f, gain=1.3), rel=1e-6)


def test_orthogonal_is_seeded_and_rejects_foreign_options():
    a = initialize(nn.Linear(30, 20), "orthogonal", generator=gen(6)).weight
    b = initialize(nn.Linear(30, 20), "orthogonal", generator=gen(6)).weight
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="std= does not apply to scheme 'orthogonal'"):
        initialize(nn.Linear(3, 2), "orthogonal", std=0.1)
    with pytest.raises(ValueError, match="gain must be a positive number"):
        initialize(nn.Linear(3, 2), "orthogonal", gain=0.0)


# ---------------------------------------------------------------- zero branch


def test_zero_branch_zeroes_only_the_last_layer_of_each_residual_branch():
    net = create("resnet_mlp", in_features=12, num_classes=5, depth=8, width=16)
    initialize(net, "he_normal", zero_branch=True, generator=gen(7))
    assert len(net.blocks) == 3
    for block in net.blocks:
        assert torch.count_nonzero(block.layer2.weight) == 0
        assert torch.count_nonzero(block.layer2.bias) == 0
        assert block.layer1.weight.std() > 0.1  # He: sqrt(2/16) = 0.35
    assert net.stem.weight.std() > 0.1 and net.out.weight.std() > 0.1


def test_zero_branch_blocks_start_as_identity_and_still_learn():
    net = create("resnet_mlp", in_features=12, num_classes=5, depth=8, width=16)
    initialize(net, "he_normal", zero_branch=True, generator=gen(8))
    h = torch.randn(4, 16, generator=gen(9))  # (B, width)
    torch.testing.assert_close(net.blocks(h), h, rtol=0, atol=0)  # y = x + 0
    x = torch.randn(4, 12, generator=gen(10))
    nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 3])).backward()
    for block in net.blocks:  # dL/dW_2 = delta a^T is not zero: the branch wakes up
        assert block.layer2.weight.grad.abs().sum() > 0


def test_zero_branch_without_it_blocks_are_not_identity():
    block = initialize(ResidualBlock(16, batch_norm=False), "he_normal", generator=gen(11))
    h = torch.randn(4, 16, generator=gen(12))
    assert (block(h) - h).abs().max() > 1e-2


def test_zero_branch_transformer_layers_are_identity():
    enc = TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0)
    dec = TransformerDecoderLayer(16, 2, dim_feedforward=32, dropout=0.0)
    assert zero_residual_branches(enc) == 2 and zero_residual_branches(dec) == 3
    x = torch.randn(2, 5, 16, generator=gen(13))  # (B, T, d_model)
    memory = torch.randn(2, 7, 16, generator=gen(14))  # (B, S, d_model)
    torch.testing.assert_close(enc(x), x, rtol=0, atol=0)
    torch.testing.assert_close(dec(x, memory), x, rtol=0, atol=0)


def test_zero_residual_branches_counts_and_leaves_plain_nets_alone():
    plain = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    before = [p.detach().clone() for p in plain.parameters()]
    assert zero_residual_branches(plain) == 0
    assert all(torch.equal(a, b) for a, b in zip(before, plain.parameters(), strict=True))
    with pytest.raises(ValueError, match="zero_branch=True but module Sequential has no "
                       "residual branch"):  # fmt: skip
        initialize(plain, "he_normal", zero_branch=True)
    with pytest.raises(TypeError, match="zero_branch must be a bool"):
        initialize(plain, "he_normal", zero_branch=1)
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        zero_residual_branches(torch.zeros(2))


# ---------------------------------------------------------------- torch's default


def test_torch_default_linear_init_is_neither_he_nor_xavier():
    """kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in), Var = 1/(3 fan_in) (Q09's claim)."""
    torch.manual_seed(0)
    fan_in, fan_out = 1000, 600
    w = nn.Linear(fan_in, fan_out).weight.detach().double()
    assert w.var().item() == pytest.approx(1 / (3 * fan_in), rel=0.02)
    assert w.abs().max().item() <= 1 / math.sqrt(fan_in)
    assert w.var().item() < 0.2 * 2 / fan_in  # He: 2/fan_in, six times more
    assert w.var().item() < 0.3 * 2 / (fan_in + fan_out)  # Xavier: 2/1600
