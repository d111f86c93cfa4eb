"""The sequence models are registered and their registry example reaches every parameter."""

from __future__ import annotations

import pytest
import torch

from deepdojo.models import Seq2Seq, create, get_model_spec, list_models
from deepdojo.nn import Transformer


def test_seq2seq_and_transformer_are_registered():
    assert {"seq2seq", "transformer"} <= set(list_models())
    assert isinstance(create("seq2seq", **get_model_spec("seq2seq").test_kwargs), Seq2Seq)
    assert isinstance(create("transformer", **get_model_spec("transformer").test_kwargs),
                      Transformer)


@pytest.mark.parametrize("attention", ["none", "multiplicative"])
def test_seq2seq_registry_example_reaches_every_parameter_for_each_attention(attention):
    spec = get_model_spec("seq2seq")
    kw = {**spec.test_kwargs, "attention": attention}
    torch.manual_seed(0)
    model = create("seq2seq", **kw)
    example = spec.example(**kw)
    out = model(*example.inputs)
    assert out.shape == example.output_shape
    (out * torch.randn(out.shape)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_registry_example_pads_one_source():
    src, tgt_in = get_model_spec("transformer").example().inputs
    assert (src == 0).sum() == 2 and (tgt_in[:, 0] == 1).all() and (tgt_in[:, 1:] >= 4).all()
