"""deepdojo.export: round trip, atomic writes, one-line errors, the missing-extra message."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from deepdojo_testing import require
from torch import nn

from deepdojo.export import (
    ExportError,
    FixedInputs,
    MissingExtraError,
    batched_positions,
    max_abs_diff,
    onnx_session,
    require_onnx,
    run_onnx,
    to_onnx,
)
from deepdojo.models import create

onnx = require("onnx", extra="onnx")
require("onnxruntime", extra="onnx")
require("onnxscript", extra="onnx")


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return create("plain_mlp", in_features=6, num_classes=3, depth=3, width=8).eval()


class _Histc(nn.Module):
    def forward(self, x):
        return torch.histc(x, bins=4)  # no ONNX translation in torch 2.13


class _BakesBatch(nn.Module):
    def forward(self, x):
        n = int(x.shape[0])  # the batch size as a Python number
        return x * torch.arange(n, dtype=x.dtype)[:, None]


def test_round_trip_matches_pytorch_at_other_batch_sizes(tmp_path):
    net = _mlp()
    info = to_onnx(net, torch.randn(4, 6), tmp_path / "mlp.onnx")
    assert info.path == tmp_path / "mlp.onnx" and info.path.is_file()
    assert (info.exporter, info.input_names, info.output_names) == (
        "dynamo", ("input_0",), ("output_0",))
    assert info.dynamic_batch and info.opset >= 17
    graph = onnx.load(str(info.path)).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch axis
    for B in (1, 9):
        x = torch.randn(B, 6)
        (got,) = run_onnx(info.path, x)
        np.testing.assert_allclose(got, net(x).detach().numpy(), atol=1e-5)
        assert max_abs_diff(net, info.path, x) < 1e-5
    assert list(tmp_path.iterdir()) == [info.path]  # no temporary file left


def test_opset_and_fixed_batch_are_honoured(tmp_path):
    info = to_onnx(_mlp(), torch.randn(4, 6), tmp_path / "m.onnx", dynamic_batch=False,
                   opset=18)
    assert info.opset == 18 and not info.dynamic_batch
    dim = onnx.load(str(info.path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 4 and not dim.dim_param


def test_export_error_names_the_operator_and_leaves_old_file(tmp_path):
    path = tmp_path / "h.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ExportError) as err:
        to_onnx(_Histc(), torch.randn(3, 5), path)
    message = str(err.value)
    assert "aten::histc" in message and "\n" not in message
    assert message.startswith("cannot export _Histc to ONNX")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.onnx"]


def test_a_batch_size_baked_into_the_graph_is_refused(tmp_path):
    with pytest.raises(ExportError, match="batch"):
        to_onnx(_BakesBatch(), torch.randn(3, 2), tmp_path / "b.onnx")
    assert list(tmp_path.iterdir()) == []
    info = to_onnx(_BakesBatch(), torch.randn(3, 2), tmp_path / "b.onnx", dynamic_batch=False)
    assert max_abs_diff(_BakesBatch(), info.path, torch.randn(3, 2)) < 1e-6


def test_one_tensor_passed_twice_stays_two_inputs(tmp_path):
    class Two(nn.Module):
        def forward(self, a, b):
            return a - 2 * b

    x = torch.randn(3, 4)
    info = to_onnx(Two(), (x, x), tmp_path / "two.onnx")  # the same object twice
    a, b = torch.randn(2, 4), torch.randn(2, 4)
    (got,) = run_onnx(info.path, a, b)
    np.testing.assert_allclose(got, (a - 2 * b).numpy(), atol=1e-6)


def test_mode_is_restored_and_export_uses_eval(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4)).train()
    with torch.no_grad():
        net[2].running_mean.fill_(0.3)
    info = to_onnx(net, torch.randn(5, 4), tmp_path / "d.onnx")
    assert net.training
    x = torch.randn(6, 4)
    (got,) = run_onnx(onnx_session(info.path), x)
    np.testing.assert_allclose(got, net.eval()(x).detach().numpy(), atol=1e-5)


def test_fixed_inputs_keep_non_batch_arguments_in_the_graph(tmp_path):
    class Scale(nn.Module):
        def forward(self, x, table, k: int):
            return x @ table * k  # (B, 3) @ (3, 2)

    table = torch.randn(3, 2)
    args = (torch.randn(5, 3), table, 4)
    assert batched_positions(args, 5) == [0]
    wrapped = FixedInputs(Scale(), args, [0])
    info = to_onnx(wrapped, (args[0],), tmp_path / "f.onnx")
    x = torch.randn(2, 3)
    (got,) = run_onnx(info.path, x)
    np.testing.assert_allclose(got, (x @ table * 4).numpy(), atol=1e-5)
    with pytest.raises(TypeError, match="free argument 2"):
        FixedInputs(Scale(), args, [0, 2])


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"path": "m.txt"}, ValueError, "path must end in .onnx"),
    ({"opset": 99}, ValueError, "opset must be an int in [7, 30]"),
    ({"opset": True}, ValueError, "opset must be"),
    ({"exporter": "tf"}, ValueError, "exporter must be one of"),
    ({"model": "net"}, TypeError, "model must be a torch.nn.Module"),
    ({"example_input": [1, 2]}, TypeError, "example_input must be a Tensor"),
    ({"example_input": ()}, TypeError, "example_input must be a Tensor"),
    ({"example_input": torch.tensor(1.0)}, ValueError, "batch axis"),
])
def test_bad_arguments_one_line(tmp_path, kwargs, error, message):
    args = {"model": _mlp(), "example_input": torch.randn(2, 6), "path": "m.onnx", **kwargs}
    args["path"] = tmp_path / args["path"]
    with pytest.raises(error, match=None) as err:
        to_onnx(**args)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_extra_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(MissingExtraError) as err:
        require_onnx()
    assert str(err.value) == ("ONNX export needs the 'onnx' extra (onnxruntime missing): "
                              "pip install 'deepdojo[onnx]'")
    with pytest.raises(MissingExtraError):
        to_onnx(_mlp(), torch.randn(2, 6), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_run_onnx_checks_inputs(tmp_path):
    info = to_onnx(_mlp(), torch.randn(2, 6), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="takes 1 input"):
        run_onnx(info.path, torch.randn(2, 6), torch.randn(2, 6))
    with pytest.raises(FileNotFoundError, match="no ONNX file"):
        onnx_session(tmp_path / "none.onnx")
