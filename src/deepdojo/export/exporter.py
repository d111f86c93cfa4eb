"""``to_onnx``: one model to one ``.onnx`` file, with the exporter that can capture it."""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deepdojo.export.runtime import max_abs_diff, onnx_session, require_onnx

EXPORTERS = ("auto", "dynamo", "torchscript")


class ExportError(ValueError):
    """A model could not be exported to ONNX; the message names the operator (one line)."""


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`to_onnx` wrote.

    Attributes
    ----------
    path : Path
        The ``.onnx`` file (weights inside, one file).
    exporter : {"dynamo", "torchscript"}
        The exporter that wrote it.
    opset : int
        The ONNX default-domain opset of the file.
    input_names, output_names : tuple of str
        ``input_0, input_1, ...`` and ``output_0, ...`` in the order of the model's arguments
        and outputs (a tuple output is flattened).
    dynamic_batch : bool
        Whether axis 0 of every input and output is symbolic (``batch``).
    """

    path: Path
    exporter: str
    opset: int
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_batch: bool



def _as_inputs(example_input: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    inputs = (example_input,) if isinstance(example_input, Tensor) else tuple(example_input)
    if not inputs or not all(isinstance(t, Tensor) for t in inputs):
        raise TypeError("example_input must be a Tensor or a non-empty sequence of Tensors, "
                        f"got {type(example_input).__name__}")
    # a fresh copy of each: torch.export treats one tensor passed twice (or two views of one
    # storage) as an alias and wires both graph inputs to the first one
    return tuple(t.detach().clone() for t in inputs)


def _check_args(model: Any, inputs: tuple[Tensor, ...], path: Path, opset: int | None,
                exporter: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int)
                              or not 7 <= opset <= 30):
        raise ValueError(f"opset must be an int in [7, 30] or None, got {opset!r}")
    if path.suffix != ".onnx":
        raise ValueError(f"path must end in .onnx, got {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a folder; give a file name ending in .onnx")
    if any(t.dim() == 0 for t in inputs):
        raise ValueError("example_input tensors need a batch axis (0-d tensor given)")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress prints, warnings and registry logs."""
    names = ("torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export",
             "torch.fx.experimental.symbolic_shapes", "torch._dynamo")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    saved_fd = _silence_fd(2)  # the C++ side of the tracer warns on file descriptor 2
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        _restore_fd(2, saved_fd)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _silence_fd(fd: int) -> int | None:
    """Point ``fd`` at /dev/null; return a copy of the old one (None when not possible)."""
    try:
        saved = os.dup(fd)
    except OSError:
        return None
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), fd)
    return saved


def _restore_fd(fd: int, saved: int | None) -> None:
    if saved is not None:
        os.dup2(saved, fd)
        os.close(saved)


def _error_text(e: BaseException) -> str:
    parts, seen = [], set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    return "\n".join(parts)


def _operator(text: str) -> str | None:
    """The ATen operator an exporter error is about (``aten::histc``), if it names one."""
    m = re.search(r"target=torch\.ops\.aten\.([A-Za-z0-9_]+)", text)
    if m is None:
        m = re.search(r"[Uu]nsupported.*?aten::([A-Za-z0-9_]+)", text)
    if m is None:
        found = re.findall(r"torch\.ops\.aten\.([A-Za-z0-9_]+)", text)
        return f"aten::{found[-1]}" if found else None
    return f"aten::{m.group(1)}"


def _summary(e: BaseException, model: nn.Module, exporter: str) -> str:
    text = _error_text(e)
    op = _operator(text)
    if "data-dependent" in text or "GuardOnDataDependent" in text:
        cause = "value-dependent Python control flow"
    elif "ConversionError" in text or "translat" in text:
        cause = "no ONNX translation"
    else:
        root = e
        while root.__cause__ is not None:
            root = root.__cause__
        cause = next((ln.strip() for ln in str(root).splitlines() if ln.strip()),
                     type(root).__name__)
        cause = re.sub(r"\x1b\[[0-9;]*m", "", cause)[:160]
    where = f" at operator {op}" if op else ""
    return (f"cannot export {type(model).__name__} to ONNX with the {exporter} exporter{where}: "
            f"{cause}")


def _export_once(model: nn.Module, inputs: tuple[Tensor, ...], tmp: Path, opset: int | None,
                 dynamic_batch: bool, exporter: str, names: tuple[list[str], list[str]]) -> None:
    input_names, output_names = names
    kwargs: dict[str, Any] = {"input_names": input_names, "output_names": output_names,
                              "opset_version": opset, "verbose": False}
    if exporter == "dynamo":
        shapes: tuple[Any, ...] | None = None
        if dynamic_batch:
            batch = torch.export.Dim("batch", min=1, max=1 << 20)
            shapes = tuple({0: batch} for _ in inputs)
            params = list(inspect.signature(model.forward).parameters.values())
            if len(params) == 1 and params[0].kind is inspect.Parameter.VAR_POSITIONAL:
                shapes = (shapes,)  # forward(*inputs): one argument holding them all
        torch.onnx.export(model, inputs, tmp, dynamo=True, dynamic_shapes=shapes,
                          external_data=False, **kwargs)
    else:
        axes = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else None
        torch.onnx.export(model, inputs, tmp, dynamo=False, dynamic_axes=axes, **kwargs)


def _output_count(model: nn.Module, inputs: tuple[Tensor, ...]) -> int:
    with torch.no_grad():
        out = model(*inputs)
    flat, _ = torch.utils._pytree.tree_flatten(out)
    return sum(isinstance(t, Tensor) for t in flat)


def _batch_problem(model: nn.Module, inputs: tuple[Tensor, ...], path: Path) -> str | None:
    """Why the file at ``path`` does not run at another batch size, or None.

    Exporters may fix the batch axis without failing (torch.export falls back to a static
    shape when the model turns the batch size into a Python number; the tracer bakes such
    numbers in as constants). Two checks catch it: axis 0 of every graph input is symbolic,
    and the graph run on the first row alone matches the model within 1e-3.
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    for spec in graph.input:
        dims = spec.type.tensor_type.shape.dim
        if dims and not dims[0].dim_param:
            return (f"the batch axis of {spec.name} was fixed at {dims[0].dim_value} (the "
                    "model turns the batch size into a Python number, or the example's batch "
                    "equals another size of the model: try another example batch)")
    one = tuple(t[:1] for t in inputs)
    try:
        with _quiet():
            diff = max_abs_diff(model, onnx_session(path), *one)
    except Exception as e:  # noqa: BLE001  onnxruntime's shape errors have several types
        first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
        return f"the graph fails at batch 1 ({first.strip()[:120]})"
    if not diff <= 1e-3:
        return (f"the graph differs from the model by {diff:.2g} at batch 1 (a batch size "
                "was recorded as a constant)")
    return None


def to_onnx(model: nn.Module, example_input: Tensor | Sequence[Tensor],
            path: str | os.PathLike[str], dynamic_batch: bool = True, opset: int | None = None,
            *, exporter: str = "auto") -> OnnxExport:
    """Export ``model`` (in eval mode) to one ``.onnx`` file, written atomically.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(*example_input)``; exported in eval mode (dropout off, batch norm
        on running statistics) and put back in its former mode afterwards.
    example_input : Tensor or sequence of Tensor
        One example batch (B, ...) per argument. Use B >= 2: torch.export specialises a
        size-1 axis.
    path : str or PathLike
        Destination ending in ``.onnx``. The file is written under a temporary name beside it
        and renamed into place; nothing is left behind when the export fails.
    dynamic_batch : bool
        Keep axis 0 of every input and output symbolic, so the file runs at any batch size.
    opset : int, optional
        ONNX opset (default: the exporter's own, 20 for dynamo in torch 2.13).
    exporter : {"auto", "dynamo", "torchscript"}
        See the module docstring; ``auto`` falls back to the tracer only when torch.export
        fails.

    Returns
    -------
    OnnxExport
        Path, exporter used, opset and input/output names.

    Raises
    ------
    MissingExtraError
        onnx, onnxruntime or onnxscript is missing (one line naming the extra).
    ExportError
        The model cannot be exported; one line naming the operator where known.
    """
    require_onnx()
    import onnx

    inputs = _as_inputs(example_input)
    path = Path(path)
    _check_args(model, inputs, path, opset, exporter)
    was_training = model.training
    model.eval()
    names = ([f"input_{i}" for i in range(len(inputs))],
             [f"output_{i}" for i in range(_output_count(model, inputs))])
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.onnx")
    order = ("dynamo", "torchscript") if exporter == "auto" else (exporter,)
    first_error: str | None = None
    try:
        for name in order:
            try:
                with _quiet():
                    _export_once(model, inputs, tmp, opset, dynamic_batch, name, names)
            except Exception as e:  # noqa: BLE001  exporters raise many types; one line out
                first_error = first_error or _summary(e, model, name)
                tmp.unlink(missing_ok=True)
                if name == "dynamo" and "TorchExportError" not in _error_text(e):
                    break  # captured but not translatable: the tracer would fail the same way
                continue
            onnx.checker.check_model(str(tmp))
            problem = _batch_problem(model, inputs, tmp) if dynamic_batch else None
            if problem is not None:
                first_error = first_error or (f"cannot export {type(model).__name__} to ONNX "
                                              f"with the {name} exporter: {problem}")
                tmp.unlink(missing_ok=True)
                continue
            file_opset = next(o.version for o in onnx.load(str(tmp), load_external_data=False)
                              .opset_import if o.domain in ("", "ai.onnx"))
            os.replace(tmp, path)
            return OnnxExport(path, name, int(file_opset), tuple(names[0]), tuple(names[1]),
                              dynamic_batch)
        raise ExportError(first_error or f"cannot export {type(model).__name__} to ONNX")
    finally:
        tmp.unlink(missing_ok=True)
        model.train(was_training)
