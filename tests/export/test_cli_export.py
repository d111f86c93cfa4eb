"""``deepdojo export``: a registered model or a Trainer checkpoint to ONNX; bad input is one
``error:`` line and exit 2, with nothing written."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from deepdojo_testing import require
from typer.testing import CliRunner

from deepdojo.cli import app
from deepdojo.export import run_onnx
from deepdojo.models import create
from deepdojo.train import Trainer

for _module in ("onnx", "onnxruntime", "onnxscript"):
    require(_module, extra="onnx")

MLP = ["--set", "in_features=6", "--set", "num_classes=3", "--set", "depth=3",
       "--set", "width=8"]


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real Trainer checkpoint folder of a small plain_mlp, and the trained model."""
    root = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    net = create("plain_mlp", in_features=6, num_classes=3, depth=3, width=8)
    X, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    Trainer(net, torch.nn.functional.cross_entropy, progress="off", device="cpu").fit(
        (X, y), epochs=1, batch_size=8, checkpoint_dir=root)
    return root, net.eval()


def test_exports_a_registered_model(tmp_path):
    out = tmp_path / "vae.onnx"
    result = _invoke("export", "vae", "--onnx", str(out), "--set", "latent_size=3")
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert "wrote" in result.stdout and "(vae, dynamo exporter" in result.stdout
    assert "max |onnxruntime - torch| on the example" in result.stdout


def test_exports_a_trainer_checkpoint_with_its_weights(tmp_path, checkpoint):
    root, net = checkpoint
    out = tmp_path / "ckpt.onnx"
    result = _invoke("export", str(root), "--onnx", str(out), "--model", "plain_mlp", *MLP,
                     "--opset", "18")
    assert result.exit_code == 0, result.output
    assert "opset 18" in result.stdout
    x = torch.randn(5, 6)
    (got,) = run_onnx(out, x)
    np.testing.assert_allclose(got, net(x).detach().numpy(), atol=1e-5)  # trained weights


def _assert_refused(result, message: str, tmp_path) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*.onnx"))


def test_checkpoint_without_model_record_says_so(tmp_path, checkpoint):
    root, _ = checkpoint
    result = _invoke("export", str(root), "--onnx", str(tmp_path / "x.onnx"))
    _assert_refused(result, "does not record which model it holds; pass --model NAME",
                    tmp_path)


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "--onnx", "{tmp}/x.onnx"], "unknown model 'nope' and no checkpoint at that path"),
    (["plain_mlp", "--onnx", "{tmp}/x.txt"], "--onnx must name a file ending in .onnx"),
    (["plain_mlp", "--onnx", "{tmp}/no/x.onnx"], "does not exist"),
    (["plain_mlp", "--onnx", "{tmp}/x.onnx", "--opset", "99"], "--opset must be in [7, 30]"),
    (["plain_mlp", "--onnx", "{tmp}/x.onnx", "--exporter", "tf"], "--exporter must be one of"),
    (["plain_mlp", "--onnx", "{tmp}/x.onnx", "--set", "bogus=1"], "has no argument 'bogus'"),
    (["plain_mlp", "--onnx", "{tmp}/x.onnx", "--set", "oops"], "expected key=value"),
    (["plain_mlp", "--onnx", "{tmp}/x.onnx", "--model", "vae"], "already a model name"),
    (["{tmp}", "--onnx", "{tmp}/x.onnx", "--model", "plain_mlp"], "is not a checkpoint"),
    (["{tmp}/w.safetensors", "--onnx", "{tmp}/x.onnx", "--model", "plain_mlp"],
     "is not a readable safetensors file"),
    (["{tmp}/notes.txt", "--onnx", "{tmp}/x.onnx", "--model", "plain_mlp"],
     "expected a ckpt-* folder or a .safetensors file"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    (tmp_path / "w.safetensors").write_bytes(b"not safetensors")
    (tmp_path / "notes.txt").write_text("hi")
    result = _invoke("export", *[a.format(tmp=tmp_path) for a in args])
    _assert_refused(result, message.format(tmp=tmp_path), tmp_path)


def test_checkpoint_of_another_model_is_refused(tmp_path, checkpoint):
    root, _ = checkpoint
    result = _invoke("export", str(root), "--onnx", str(tmp_path / "x.onnx"), "--model", "vae")
    _assert_refused(result, "does not fit model 'vae'", tmp_path)


def test_damaged_checkpoint_is_refused(tmp_path, checkpoint):
    import shutil

    root, _ = checkpoint
    ckpt = sorted(root.glob("ckpt-*"))[-1]
    broken = tmp_path / ckpt.name
    shutil.copytree(ckpt, broken)
    data = bytearray((broken / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (broken / "model.safetensors").write_bytes(bytes(data))
    result = _invoke("export", str(broken), "--onnx", str(tmp_path / "x.onnx"), "--model",
                     "plain_mlp", *MLP)
    _assert_refused(result, f"checkpoint '{broken}'", tmp_path)


def test_missing_extra_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    result = _invoke("export", "plain_mlp", "--onnx", str(tmp_path / "x.onnx"))
    _assert_refused(result, "needs the 'onnx' extra (onnxscript missing): "
                            "pip install 'deepdojo[onnx]'", tmp_path)


def test_model_that_cannot_export_names_the_operator(tmp_path, monkeypatch):
    import deepdojo.export as ex

    def fail(*a, **k):
        raise ex.ExportError("cannot export PlainMLP to ONNX with the dynamo exporter at "
                             "operator aten::histc: no ONNX translation")

    monkeypatch.setattr(ex, "to_onnx", fail)
    result = _invoke("export", "plain_mlp", "--onnx", str(tmp_path / "x.onnx"))
    _assert_refused(result, "at operator aten::histc", tmp_path)
