"""``deepdojo export``: write a registered model or a Trainer checkpoint as an ONNX file.

``MODEL_OR_CHECKPOINT`` is a registered model name (built with its default configuration, or
with ``--set key=value`` constructor arguments), or a checkpoint written by the Trainer: a
``ckpt-*`` folder, a folder of them (the newest good one is used) or a ``model.safetensors``
file. A Trainer checkpoint holds weights and training state but not which model they belong
to, so ``--model NAME`` (and the ``--set`` values it was built with) says it; a checkpoint
whose ``state.json`` records ``{"model": {"name": ..., "kwargs": {...}}}`` needs neither.
After writing, the file runs once in ONNX Runtime on the registry's example input and the
largest difference from PyTorch is printed.
"""

from __future__ import annotations

import ast
import inspect
import warnings
from pathlib import Path
from typing import Any

import torch
import typer
from rich.markup import escape
from torch import nn

from deepdojo.cli.app import UsageError, app, handles_errors, out
from deepdojo.export import FixedInputs, batched_positions

EXPORTER_HELP = "auto (dynamo, falling back to the TorchScript tracer) | dynamo | torchscript"


def _parse_sets(sets: list[str]) -> dict[str, Any]:
    """``["depth=4", "hidden=(8,)"]`` -> ``{"depth": 4, "hidden": (8,)}`` (Python literals;
    anything else stays a string)."""
    kwargs: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected key=value")
        try:
            kwargs[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            kwargs[key.strip()] = raw
    return kwargs


def _defaults(builder: Any) -> dict[str, Any]:
    return {k: p.default for k, p in inspect.signature(builder).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _build(name: str, kwargs: dict[str, Any]) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """The registered model ``name`` with ``kwargs`` and its example input."""
    from deepdojo.models import get_model_spec

    spec = get_model_spec(name)
    full = _defaults(spec.builder)
    unknown = sorted(set(kwargs) - set(full))
    if unknown:
        raise UsageError(f"--set {unknown[0]}: model {name!r} has no argument {unknown[0]!r}; "
                         f"it takes {', '.join(full)}")
    full.update(kwargs)
    model = spec.builder(**full)
    if spec.example is None:
        raise UsageError(f"model {name!r} is registered without an example input to export "
                         "from")
    torch.manual_seed(0)
    example = spec.example(**full)
    args = tuple(example.inputs)
    first = next((a for a in args if isinstance(a, torch.Tensor)), None)
    if first is None:
        raise UsageError(f"model {name!r}: its example input holds no tensor to export from")
    batch = example.output_shape[0] if example.output_shape else first.shape[0]
    free = batched_positions(args, batch)
    if len(free) == len(args):
        return model, args
    # arguments that do not carry the batch (a support set, n_way) stay inside the graph
    return FixedInputs(model, args, free), tuple(args[i] for i in free)


def _checkpoint_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """Weights and (when there is one) the Trainer state of a checkpoint at ``path``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from deepdojo.train.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint

    if path.is_file():
        if path.suffix != ".safetensors":
            raise UsageError(f"checkpoint {str(path)!r}: expected a ckpt-* folder or a "
                             ".safetensors file")
        try:
            return load_file(str(path)), None
        except (SafetensorError, OSError) as e:
            raise UsageError(f"checkpoint {str(path)!r} is not a readable safetensors file: "
                             f"{str(e).splitlines()[0]}") from None
    if not (path / "state.json").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damaged ones are skipped: the newest good one
            found = latest_checkpoint(path)
        if found is None:
            raise UsageError(f"{str(path)!r} is not a checkpoint: no state.json and no good "
                             "ckpt-* folder in it")
        return found[1], found[2]
    try:
        return load_checkpoint(path)
    except CheckpointError as e:
        raise UsageError(f"checkpoint {str(path)!r}: {e}") from None


def _from_checkpoint(path: Path, model_name: str | None, kwargs: dict[str, Any]
                     ) -> tuple[nn.Module, tuple[torch.Tensor, ...], str]:
    weights, state = _checkpoint_weights(path)
    recorded = (state or {}).get("model") if isinstance(state, dict) else None
    if model_name is None and isinstance(recorded, dict) and "name" in recorded:
        model_name = str(recorded["name"])
        kwargs = {**dict(recorded.get("kwargs") or {}), **kwargs}
    if model_name is None:
        raise UsageError(f"checkpoint {str(path)!r} does not record which model it holds; "
                         "pass --model NAME (and the --set values it was built with)")
    model, example = _build(model_name, kwargs)
    target = model.model if isinstance(model, FixedInputs) else model
    result = target.load_state_dict(weights, strict=False)
    if result.missing_keys or result.unexpected_keys:
        first = (result.missing_keys or result.unexpected_keys)[0]
        raise UsageError(f"checkpoint {str(path)!r} does not fit model {model_name!r} "
                         f"({len(result.missing_keys)} missing, {len(result.unexpected_keys)} "
                         f"unexpected weights, e.g. {first!r}); check --model and --set")
    return model, example, model_name


def _check_target(onnx_path: Path) -> None:
    if onnx_path.suffix != ".onnx":
        raise UsageError(f"--onnx must name a file ending in .onnx, got {str(onnx_path)!r}")
    if onnx_path.is_dir():
        raise UsageError(f"--onnx {str(onnx_path)!r} is a folder")
    if not onnx_path.parent.is_dir():
        raise UsageError(f"--onnx {str(onnx_path)!r}: folder {str(onnx_path.parent)!r} does "
                         "not exist")


@app.command("export")
@handles_errors
def export_cmd(
    source: str = typer.Argument(..., metavar="MODEL_OR_CHECKPOINT",
                                 help="A registered model name or a Trainer checkpoint."),
    onnx_path: Path = typer.Option(..., "--onnx", metavar="FILE", help="Output .onnx file."),
    opset: int | None = typer.Option(None, "--opset", metavar="N",
                                     help="ONNX opset (default: the exporter's)."),
    model_name: str | None = typer.Option(
        None, "--model", metavar="NAME",
        help="The registered model a checkpoint holds (when it does not record it)."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Model constructor argument (repeatable)."),
    exporter: str = typer.Option("auto", "--exporter", metavar="EXPORTER", help=EXPORTER_HELP),
) -> None:
    """Export a registered model or a Trainer checkpoint to ONNX and check it in ONNX Runtime."""
    from deepdojo.export import EXPORTERS, MissingExtraError, max_abs_diff, require_onnx, to_onnx
    from deepdojo.models import list_models

    try:
        require_onnx()
    except MissingExtraError as e:
        raise UsageError(escape(str(e))) from None  # the error line is rich markup
    if exporter not in EXPORTERS:
        raise UsageError(f"--exporter must be one of {', '.join(EXPORTERS)}, got {exporter!r}")
    if opset is not None and not 7 <= opset <= 30:
        raise UsageError(f"--opset must be in [7, 30], got {opset}")
    _check_target(onnx_path)
    kwargs = _parse_sets(sets)
    path = Path(source)
    if path.exists():
        model, example, name = _from_checkpoint(path, model_name, kwargs)
    elif source in list_models():
        if model_name is not None:
            raise UsageError("--model names the model of a checkpoint; "
                             f"{source!r} is already a model name")
        model, example = _build(source, kwargs)
        name = source
    else:
        raise UsageError(f"unknown model {source!r} and no checkpoint at that path; registered "
                         f"models: {', '.join(list_models())}")
    model.eval()
    info = to_onnx(model, example, onnx_path, opset=opset, exporter=exporter)
    diff = max_abs_diff(model, info.path, *example)
    shapes = ", ".join(f"{n} {tuple(x.shape)}" for n, x in zip(info.input_names, example,
                                                               strict=True))
    out.print(f"wrote {info.path} ({name}, {info.exporter} exporter, opset {info.opset}, "
              f"batch axis {'dynamic' if info.dynamic_batch else 'fixed'})", highlight=False,
              soft_wrap=True)
    out.print(f"inputs: {shapes}; max |onnxruntime - torch| on the example: {diff:.2g}",
              highlight=False, soft_wrap=True)
