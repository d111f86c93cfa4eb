"""ResidualBlock: the math by hand, shortcuts, shapes, gradients and argument checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepdojo.nn import ResidualBlock


def test_mlp_block_matches_the_formula_in_float64():
    torch.manual_seed(0)
    block = ResidualBlock(6, activation="tanh", batch_norm=False).double()
    x = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    y = block(x)
    h = F.linear(torch.tanh(x), block.layer1.weight, block.layer1.bias)
    expected = x + F.linear(torch.tanh(h), block.layer2.weight, block.layer2.bias)
    torch.testing.assert_close(y, expected)
    assert torch.autograd.gradcheck(block, (x,))


def test_identity_path_carries_the_gradient_when_the_branch_is_zero():
    block = ResidualBlock(4, activation="sigmoid", batch_norm=False)
    with torch.no_grad():
        block.layer2.weight.zero_()
        block.layer2.bias.zero_()
    x = torch.randn(3, 4, requires_grad=True)
    y = block(x)
    torch.testing.assert_close(y, x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))


def test_projection_shortcut_when_shapes_change():
    block = ResidualBlock(4, 7, activation="relu")
    assert isinstance(block.shortcut, torch.nn.Linear)
    assert block(torch.randn(3, 4)).shape == (3, 7)
    forced = ResidualBlock(4, shortcut="projection")
    assert isinstance(forced.shortcut, torch.nn.Linear)
    assert isinstance(ResidualBlock(4).shortcut, torch.nn.Identity)


@pytest.mark.parametrize("conv_dims,spatial", [(1, (10,)), (2, (6, 6))])
def test_conv_block_shapes_and_stride(conv_dims, spatial):
    same = ResidualBlock(3, variant="conv", conv_dims=conv_dims)
    x = torch.randn(2, 3, *spatial)
    assert same(x).shape == x.shape
    down = ResidualBlock(3, 5, variant="conv", conv_dims=conv_dims, stride=2)
    out = down(x)
    assert out.shape == (2, 5, *[(s + 1) // 2 for s in spatial])
    out.square().mean().backward()
    assert all(p.grad is not None for p in down.parameters())


def test_conv_block_matches_the_formula_without_batch_norm():
    torch.manual_seed(1)
    block = ResidualBlock(2, 3, variant="conv", batch_norm=False, conv_dims=2).double()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    h = F.conv2d(F.relu(x), block.layer1.weight, block.layer1.bias, padding=1)
    f = F.conv2d(F.relu(h), block.layer2.weight, block.layer2.bias, padding=1)
    expected = F.conv2d(x, block.shortcut.weight) + f
    torch.testing.assert_close(block(x), expected)


def test_bad_arguments():
    with pytest.raises(ValueError, match="shortcut='identity' needs"):
        ResidualBlock(4, 5, shortcut="identity")
    with pytest.raises(ValueError, match="variant must be"):
        ResidualBlock(4, variant="rnn")
    with pytest.raises(ValueError, match="stride applies to variant='conv'"):
        ResidualBlock(4, stride=2)
    with pytest.raises(ValueError, match="in_size must be a positive int"):
        ResidualBlock(0)
    with pytest.raises(ValueError, match="kernel_size must be a positive odd int"):
        ResidualBlock(4, variant="conv", kernel_size=2)


def test_argument_types_are_checked_not_coerced():
    with pytest.raises(TypeError, match=r"kernel_size must be a positive odd int, got '3' \(str\)"):
        ResidualBlock(4, variant="conv", kernel_size="3")
    with pytest.raises(TypeError, match=r"kernel_size must be a positive odd int, got 3.0"):
        ResidualBlock(4, variant="conv", kernel_size=3.0)
    with pytest.raises(TypeError, match="batch_norm must be a bool .*, got 'no'"):
        ResidualBlock(4, batch_norm="no")  # a non-empty string used to switch batch norm ON
    with pytest.raises(TypeError, match="batch_norm must be a bool"):
        ResidualBlock(4, batch_norm=0)
    with pytest.raises(ValueError, match="conv_dims must be 1 or 2, got True"):
        ResidualBlock(4, variant="conv", conv_dims=True)
    with pytest.raises(TypeError, match=r"activation must be a name \(str\), one of .*relu.*"
                                        r"got \['relu'\] \(list\)"):  # fmt: skip
        ResidualBlock(4, activation=["relu"])
    block = ResidualBlock(4, variant="conv", kernel_size=5, batch_norm=False, conv_dims=1)
    assert isinstance(block.norm1, nn.Identity) and block.layer1.kernel_size == (5,)
    assert block(torch.randn(2, 4, 7)).shape == (2, 4, 7)  # odd kernel: "same" padding
