"""Checkpoints without pickle: safetensors for tensors, JSON for everything else.

A checkpoint is a folder ``ckpt-<global step>-<b|e>`` (``b``: saved mid-epoch after a batch,
``e``: saved at the end of an epoch) holding

- ``model.safetensors`` — the model's ``state_dict``, readable by any safetensors tool;
- ``state.safetensors`` — every other tensor (optimizer moments, RNG states, ...);
- ``state.json`` — the structure of the state with tensors replaced by references, the
  SHA-256 of both tensor files, and the SHA-256 of its own content (``"sha256"``: over the
  canonical JSON of ``format``, ``files`` and ``state``), so an edited or damaged
  ``state.json`` is caught like a damaged tensor file.

The folder is written under a temporary name and renamed into place, so a crash leaves either
the old set of checkpoints or the new one, never a half-written checkpoint. ``state.json`` is
written last and its hashes are checked on load: a truncated or corrupted checkpoint, or a
``state.json`` of the wrong shape (``[]``, no ``"files"``, ...) raises :class:`CheckpointError`
naming the file, and :func:`latest_checkpoint` falls back to the previous good one. Loading
never unpickles; :func:`import_weights` reads a foreign ``.pt`` only when a user passes it
explicitly, and then with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from deepdojo.utils import atomic_write_bytes

FORMAT = 2  # 2: state.json carries its own SHA-256 (format 1, without it, still loads)
_FILES = ("model.safetensors", "state.safetensors")
_PREFIX = "ckpt-"


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupted or was written by something else."""


# ---------------------------------------------------------------------- JSON <-> values
def encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace tensors by ``{"__tensor__": key}`` (stored in ``tensors``); keep exact floats,
    tuples and non-string dict keys representable in JSON."""
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": path}
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return encode(obj.item(), path, tensors)
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode(v, f"{path}/{k}", tensors) for k, v in obj.items()}
        return {"__dict__": [[encode(k, f"{path}/k{i}", tensors), encode(v, f"{path}/{i}", tensors)]
                             for i, (k, v) in enumerate(obj.items())]}  # fmt: skip
    raise CheckpointError(f"cannot store a {type(obj).__name__} at {path!r} in a checkpoint")


def decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(obj, list):
        return [decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        key = obj["__tensor__"]
        if key not in tensors:
            raise CheckpointError(f"state.json refers to tensor {key!r} that is not stored")
        return tensors[key]
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    if "__tuple__" in obj:
        return tuple(decode(v, tensors) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {decode(k, tensors): decode(v, tensors) for k, v in obj["__dict__"]}
    return {k: decode(v, tensors) for k, v in obj.items()}


# ---------------------------------------------------------------------- folders
def checkpoint_name(global_step: int, end_of_epoch: bool) -> str:
    """``ckpt-000000123-e``: names sort in save order (``e`` after ``b`` at the same step)."""
    return f"{_PREFIX}{global_step:09d}-{'e' if end_of_epoch else 'b'}"


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint folders in ``directory``, oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_dir() and p.name.startswith(_PREFIX))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_checkpoint(
    directory: str | os.PathLike[str],
    name: str,
    model_state: dict[str, torch.Tensor],
    state: dict[str, Any],
    *,
    keep_last: int | None = 3,
) -> Path:
    """Write ``model_state`` and ``state`` as ``directory/name`` atomically; prune old ones.

    ``keep_last=None`` keeps every checkpoint.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in [*directory.glob(".tmp-ckpt-*"), *directory.glob(".old-ckpt-*")]:
        shutil.rmtree(leftover, ignore_errors=True)  # from a save killed halfway (one writer)
    tmp = directory / f".tmp-{name}-{os.getpid()}"
    tensors: dict[str, torch.Tensor] = {}
    skeleton = encode(state, "state", tensors)
    model_bytes = st_save({k: v.detach().to("cpu", copy=True).contiguous()
                           for k, v in model_state.items()})  # fmt: skip
    state_bytes = st_save(tensors)
    atomic_write_bytes(tmp / "model.safetensors", model_bytes)
    atomic_write_bytes(tmp / "state.safetensors", state_bytes)
    meta = {
        "format": FORMAT,
        "files": {"model.safetensors": _sha256(model_bytes),
                  "state.safetensors": _sha256(state_bytes)},
        "state": skeleton,
    }  # fmt: skip
    meta["sha256"] = _meta_digest(meta)
    atomic_write_bytes(tmp / "state.json", json.dumps(meta, allow_nan=False).encode())
    final = directory / name
    if final.exists():  # re-saving the same step: move the old one aside first
        old = directory / f".old-{name}-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    if keep_last is not None:
        for stale in list_checkpoints(directory)[:-keep_last]:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(model_state, state)`` from a checkpoint folder; :class:`CheckpointError` when it is
    missing, truncated or corrupted (the message names the file)."""
    path = Path(path)
    meta_path = path / "state.json"
    try:
        meta = json.loads(meta_path.read_bytes())
    except FileNotFoundError as e:
        raise CheckpointError(f"{meta_path}: missing (not a deepdojo checkpoint?)") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{meta_path}: not valid JSON (truncated or corrupted)") from e
    _check_meta(meta, meta_path)
    blobs: dict[str, dict[str, torch.Tensor]] = {}
    for fname in _FILES:
        digest = meta["files"][fname]
        fpath = path / fname
        try:
            data = fpath.read_bytes()
        except FileNotFoundError as e:
            raise CheckpointError(f"{fpath}: missing") from e
        if _sha256(data) != digest:
            raise CheckpointError(f"{fpath}: SHA-256 mismatch (truncated or corrupted)")
        try:
            blobs[fname] = st_load(data)
        except SafetensorError as e:
            raise CheckpointError(f"{fpath}: unreadable safetensors ({e})") from e
    try:
        state = decode(meta["state"], blobs["state.safetensors"])
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise CheckpointError(f"{meta_path}: malformed state ({e})") from e
    return blobs["model.safetensors"], state


def _meta_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``format``, ``files`` and ``state``."""
    body = {k: meta.get(k) for k in ("format", "files", "state")}
    return _sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode())


def _check_meta(meta: Any, meta_path: Path) -> None:
    """:class:`CheckpointError` unless ``meta`` has the shape (and hash) of a state.json."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{meta_path}: a JSON {type(meta).__name__}, not an object "
                              "(not a deepdojo checkpoint, or corrupted)")  # fmt: skip
    if meta.get("format") not in (1, FORMAT):
        raise CheckpointError(f"{meta_path}: unknown checkpoint format {meta.get('format')!r}")
    files = meta.get("files")
    if not isinstance(files, dict) or any(not isinstance(files.get(f), str) for f in _FILES):
        raise CheckpointError(f"{meta_path}: 'files' must map {', '.join(_FILES)} to their "
                              f"SHA-256, got {files!r:.80}")  # fmt: skip
    if "state" not in meta:
        raise CheckpointError(f"{meta_path}: no 'state'")
    if meta["format"] >= 2 and meta.get("sha256") != _meta_digest(meta):
        raise CheckpointError(f"{meta_path}: SHA-256 mismatch (edited or corrupted)")


def latest_checkpoint(
    directory: str | os.PathLike[str],
    validate: Callable[[dict[str, torch.Tensor], Any], Any] | None = None,
) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]] | None:
    """The newest checkpoint that loads cleanly, or ``None``; bad ones are skipped with a
    ``RuntimeWarning`` naming the problem. ``validate(model_state, state)`` may check the
    state's shape further (raising :class:`CheckpointError`) and return it, e.g. upgraded."""
    for path in reversed(list_checkpoints(directory)):
        try:
            model_state, state = load_checkpoint(path)
            if validate is not None:
                state = validate(model_state, state)
        except CheckpointError as e:
            warnings.warn(f"skipping bad checkpoint: {e}", RuntimeWarning, stacklevel=2)
            continue
        return path, model_state, state
    return None


def import_weights(
    model: torch.nn.Module, path: str | os.PathLike[str], *, strict: bool = True
) -> torch.nn.Module:
    """Load weights the user points to: ``.safetensors``, a deepdojo checkpoint folder, or a
    foreign ``.pt``/``.pth`` read with ``torch.load(weights_only=True)`` (no arbitrary
    unpickling). Returns ``model``."""
    path = Path(path)
    if path.is_dir():
        state, _ = load_checkpoint(path)
    elif path.suffix == ".safetensors":
        try:
            state = st_load(path.read_bytes())
        except SafetensorError as e:
            raise CheckpointError(f"{path}: unreadable safetensors ({e})") from e
    elif path.suffix in (".pt", ".pth", ".bin"):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several types for bad/unsafe files
            raise CheckpointError(f"{path}: cannot load with weights_only=True ({e})") from e
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
    else:
        raise CheckpointError(f"{path}: expected .safetensors, .pt/.pth or a checkpoint folder")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state_dict, got {type(state).__name__}")
    model.load_state_dict(state, strict=strict)
    return model
