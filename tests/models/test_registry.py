"""Every registered model: output shape, no NaN, every parameter gets a gradient."""

from __future__ import annotations

import pytest
import torch

from deepdojo.models import ModelExample, create, get_model_spec, list_models, register_model

BUILTIN = ("plain_mlp", "resnet_mlp", "plain_cnn", "resnet_cnn")


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, list | tuple):
        return [t for o in out for t in _tensors(o)]
    return []


def test_builtin_models_are_registered():
    assert set(BUILTIN) <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_registered_model_shape_finite_and_gradients(name):
    spec = get_model_spec(name)
    assert spec.example is not None, f"model {name!r} was registered without an example factory"
    torch.manual_seed(0)
    model = create(name, **spec.test_kwargs)
    example = spec.example(**spec.test_kwargs)
    assert isinstance(example, ModelExample)
    outputs = _tensors(model(*example.inputs))
    assert outputs, f"{name}: forward returned no tensor"
    if example.output_shape is not None:
        assert tuple(outputs[0].shape) == tuple(example.output_shape)
    for out in outputs:
        assert torch.isfinite(out).all() if out.is_floating_point() else True
    # A random projection of the outputs: a plain sum would give BatchNorm'ed layers zero grads.
    gen = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=gen)).sum() for o in outputs
               if o.is_floating_point())
    loss.backward()
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, f"{name}: parameter {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: parameter {pname} has a non-finite grad"
        assert p.grad.abs().sum() > 0, f"{name}: parameter {pname} got an all-zero gradient"


@pytest.mark.parametrize("name", ["plain_mlp", "resnet_mlp", "plain_cnn", "resnet_cnn"])
@pytest.mark.parametrize("depth", [4, 8])
def test_depth_counts_weight_layers(name, depth):
    kw = {"depth": depth, "width": 4}
    model = create(name, **kw)
    weights = [m for m in model.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d)]
    # projection shortcuts are absent here (width constant), so weight layers == depth
    assert len(weights) == depth


def test_batch_norm_switch_and_activation():
    with_bn = create("plain_mlp", depth=4, width=8, batch_norm=True, activation="tanh")
    without = create("plain_mlp", depth=4, width=8, batch_norm=False, activation="tanh")
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in with_bn.modules()) == 3
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in without.modules())
    assert sum(isinstance(m, torch.nn.Tanh) for m in without.modules()) == 3


def test_init_schemes_set_the_documented_variance():
    torch.manual_seed(0)
    he = create("plain_mlp", in_features=400, depth=3, width=400, init="he")
    std = he.fc2.weight.std().item()
    assert abs(std - (2 / 400) ** 0.5) < 0.05 * (2 / 400) ** 0.5
    assert he.fc2.bias.abs().max().item() == 0.0
    big = create("plain_mlp", in_features=400, depth=3, width=400, init="he", init_gain=3.0)
    assert abs(big.fc2.weight.std().item() / std - 3.0) < 0.1


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        create("nope")
    with pytest.raises(ValueError, match="depth of a residual MLP must be even"):
        create("resnet_mlp", depth=5)
    with pytest.raises(ValueError, match="activation must be one of"):
        create("plain_mlp", activation="swishy")
    with pytest.raises(ValueError, match="init must be one of"):
        create("plain_cnn", init="zeros")
    with pytest.raises(ValueError, match="depth must be >= 2"):
        create("plain_mlp", depth=1)


def test_register_model_rejects_a_second_builder_under_the_same_name():
    with pytest.raises(ValueError, match="already registered"):
        register_model("plain_mlp")(lambda **kw: torch.nn.Linear(1, 1))


@pytest.mark.parametrize("name", BUILTIN)
def test_builders_check_argument_types(name):
    with pytest.raises(TypeError, match=r"init_gain must be a number > 0, got '2' \(str\)"):
        create(name, depth=4, width=4, init_gain="2")
    with pytest.raises(TypeError, match="init_gain must be a number"):
        create(name, depth=4, width=4, init_gain=True)
    with pytest.raises(ValueError, match="init_gain must be a finite number > 0, got inf"):
        create(name, depth=4, width=4, init_gain=float("inf"))
    with pytest.raises(TypeError, match=r"activation must be a name \(str\).*got \['relu'\]"):
        create(name, depth=4, width=4, activation=["relu"])
    with pytest.raises(ValueError, match="activation must be one of"):
        create(name, depth=4, width=4, activation="swish")
    torch.manual_seed(0)
    one = create(name, depth=4, width=4, init="he", init_gain=2)  # an int gain is a number
    torch.manual_seed(0)
    ref = create(name, depth=4, width=4, init="he", init_gain=2.0)
    for a, b in zip(one.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b)
