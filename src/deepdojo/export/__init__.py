r"""Leave PyTorch through ONNX: export a model, run it in ONNX Runtime, compare the outputs.

ONNX is the exchange format that ONNX Runtime runs and that TensorRT, OpenVINO, TensorFlow
(onnx-tf), PaddlePaddle (X2Paddle) and MXNet import, so one exported file reaches most of
today's frameworks. This module needs the ``onnx`` extra (``pip install 'deepdojo[onnx]'``:
onnx, onnxruntime and onnxscript); without it every function raises
:class:`MissingExtraError`, one line naming the extra.

Exporters (torch 2.13). ``exporter="dynamo"`` is torch's current exporter
(``torch.onnx.export(..., dynamo=True)``): ``torch.export`` captures the whole graph with
symbolic shapes (the batch axis stays symbolic, ``dynamic_batch=True``), then onnxscript
translates each ATen operator. It refuses Python control flow that depends on tensor values
(for instance the length checks of a GRU fed padded batches). ``exporter="torchscript"`` is
the legacy tracer (deprecated in torch): it records the one path the example input takes, so a
data-dependent branch is frozen at its traced value. ``exporter="auto"`` (default) tries dynamo
and falls back to the tracer only when ``torch.export`` cannot capture the model; the
returned :class:`OnnxExport` says which one wrote the file. Parity with eager PyTorch is what
decides whether a file is right: :func:`max_abs_diff` measures it (``tests/export`` checks
every registered model at batch 1 and 7).

Round trip::

    >>> from deepdojo.models import create
    >>> from deepdojo.export import to_onnx, run_onnx
    >>> net = create("plain_mlp", in_features=64, num_classes=10).eval()
    >>> x = torch.randn(8, 64)
    >>> info = to_onnx(net, x, "mlp.onnx")                      # doctest: +SKIP
    >>> (logits,) = run_onnx("mlp.onnx", x)                      # doctest: +SKIP
    >>> abs(logits - net(x).detach().numpy()).max() < 1e-4      # doctest: +SKIP
"""

from deepdojo.export.exporter import EXPORTERS, ExportError, OnnxExport, to_onnx
from deepdojo.export.inputs import FixedInputs, batched_positions
from deepdojo.export.runtime import (
    MissingExtraError,
    max_abs_diff,
    onnx_session,
    require_onnx,
    run_onnx,
)

__all__ = [
    "EXPORTERS",
    "ExportError",
    "MissingExtraError",
    "FixedInputs",
    "OnnxExport",
    "batched_positions",
    "max_abs_diff",
    "onnx_session",
    "require_onnx",
    "run_onnx",
    "to_onnx",
]
