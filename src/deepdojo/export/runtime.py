"""Run an exported ONNX file in ONNX Runtime and compare it with the PyTorch model."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

EXTRA_MODULES = ("onnx", "onnxruntime", "onnxscript")
_INSTALL = "pip install 'deepdojo[onnx]'"


class MissingExtraError(ImportError):
    """The ``onnx`` extra (onnx, onnxruntime, onnxscript) is not installed."""



def require_onnx() -> None:
    """Raise :class:`MissingExtraError` (one line naming the extra) unless onnx, onnxruntime
    and onnxscript can be imported."""
    missing = []
    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(f"ONNX export needs the 'onnx' extra ({', '.join(missing)} "
                                f"missing): {_INSTALL}")



def onnx_session(path: str | os.PathLike[str], *, threads: int = 1) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU execution provider with ``threads``
    intra-op threads (1 by default, like the labs' torch runs)."""
    require_onnx()
    import onnxruntime as ort  # type: ignore[import-untyped]

    if not Path(path).is_file():
        raise FileNotFoundError(f"no ONNX file at {str(path)!r}")
    if not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an int >= 0 (0: onnxruntime's default), got {threads!r}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(session_or_path: Any, *inputs: Tensor | np.ndarray) -> list[np.ndarray]:
    """Run an exported file (or a session from :func:`onnx_session`) on ``inputs``, passed
    positionally like ``model(*inputs)``; returns the outputs as NumPy arrays, in order."""
    session = (onnx_session(session_or_path) if isinstance(session_or_path, (str, os.PathLike))
               else session_or_path)
    expected = session.get_inputs()
    if len(inputs) != len(expected):
        raise ValueError(f"inputs: the ONNX graph takes {len(expected)} input(s), got "
                         f"{len(inputs)}")
    feed = {spec.name: (x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x))
            for spec, x in zip(expected, inputs, strict=True)}
    return list(session.run(None, feed))


def max_abs_diff(model: nn.Module, session_or_path: Any, *inputs: Tensor) -> float:
    """Largest ``|onnx - torch|`` over every output element of ``model(*inputs)`` (eval mode,
    no gradient) and the exported graph on the same inputs."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(*inputs)
    finally:
        model.train(was_training)
    flat, _ = torch.utils._pytree.tree_flatten(out)
    expected = [t for t in flat if isinstance(t, Tensor)]
    got = run_onnx(session_or_path, *inputs)
    if len(got) != len(expected):
        raise ValueError(f"the ONNX graph gives {len(got)} outputs, the model {len(expected)}")
    diffs = []
    for e, g in zip(expected, got, strict=True):
        if tuple(e.shape) != g.shape:
            raise ValueError(f"output shape differs: torch {tuple(e.shape)}, onnx {g.shape}")
        diffs.append(float(np.abs(e.detach().cpu().numpy().astype(np.float64) - g).max(initial=0)))
    return max(diffs)
